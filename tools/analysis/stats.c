/* tools/stats.c — per-function aggregates and log-linear quantile histograms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static inline unsigned hist_bucket(uint64_t v)
{
	if (v < GLASS_HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - GLASS_HIST_SUB_BITS)) & (GLASS_HIST_SUB - 1);
	return (e - GLASS_HIST_SUB_BITS + 1) * GLASS_HIST_SUB + sub;
}

unsigned glass_hist_bucket(uint64_t v)
{
	return hist_bucket(v);
}

uint64_t glass_hist_bucket_low(unsigned b)
{
	unsigned o = b / GLASS_HIST_SUB, sub = b % GLASS_HIST_SUB;
	if (o == 0)
		return sub;
	unsigned shift = o - 1;
	return (uint64_t)(GLASS_HIST_SUB + sub) << shift;
}

uint64_t glass_hist_bucket_mid(unsigned b)
{
	unsigned o = b / GLASS_HIST_SUB;
	if (o <= 1)
		return glass_hist_bucket_low(b); /* width 1: exact */
	return glass_hist_bucket_low(b) + (1ull << (o - 2));
}

/* Makes octave o addressable, growing [lo, hi]. */
static int hist_cover(struct glass_hist *h, unsigned o)
{
	if (h->counts && o >= h->lo && o <= h->hi)
		return 0;
	unsigned lo = h->counts ? (o < h->lo ? o : h->lo) : o;
	unsigned hi = h->counts ? (o > h->hi ? o : h->hi) : o;
	uint64_t *c = calloc((size_t)(hi - lo + 1) * GLASS_HIST_SUB, sizeof(uint64_t));
	if (!c)
		return -1;
	if (h->counts) {
		memcpy(c + (size_t)(h->lo - lo) * GLASS_HIST_SUB, h->counts,
		       (size_t)(h->hi - h->lo + 1) * GLASS_HIST_SUB * sizeof(uint64_t));
		free(h->counts);
	}
	h->counts = c;
	h->lo = (uint8_t)lo;
	h->hi = (uint8_t)hi;
	return 0;
}

static inline __attribute__((always_inline)) int hist_add(struct glass_hist *h, unsigned b,
							  uint64_t n)
{
	unsigned o = b / GLASS_HIST_SUB;
	if (__builtin_expect(!h->counts || o < h->lo || o > h->hi, 0))
		if (hist_cover(h, o) < 0)
			return -1;
	h->counts[(size_t)(o - h->lo) * GLASS_HIST_SUB + b % GLASS_HIST_SUB] += n;
	return 0;
}

int glass_fstats_add(struct glass_fstats *f, uint64_t dur, uint64_t self, int error)
{
	if (!f->calls || dur < f->min_ns)
		f->min_ns = dur;
	if (dur > f->max_ns)
		f->max_ns = dur;
	f->calls++;
	f->total_ns += dur;
	f->self_ns += self;
	f->errors += error != 0;
	return hist_add(&f->hist, hist_bucket(dur), 1);
}

uint64_t glass_fstats_quantile(const struct glass_fstats *f, double q)
{
	const struct glass_hist *h = &f->hist;
	if (!f->calls || !h->counts)
		return 0;
	uint64_t total = 0;
	size_t n = (size_t)(h->hi - h->lo + 1) * GLASS_HIST_SUB;
	for (size_t i = 0; i < n; i++)
		total += h->counts[i];
	if (q <= 0)
		return f->min_ns;
	if (q >= 1)
		return f->max_ns;
	uint64_t rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = glass_hist_bucket_mid((unsigned)(h->lo * GLASS_HIST_SUB + i));
			if (v < f->min_ns)
				v = f->min_ns;
			if (v > f->max_ns)
				v = f->max_ns;
			return v;
		}
	}
	return f->max_ns;
}

int glass_fstats_merge(struct glass_fstats *a, const struct glass_fstats *b)
{
	if (!b->calls)
		return 0;
	if (!a->calls || b->min_ns < a->min_ns)
		a->min_ns = b->min_ns;
	if (b->max_ns > a->max_ns)
		a->max_ns = b->max_ns;
	a->calls += b->calls;
	a->total_ns += b->total_ns;
	a->self_ns += b->self_ns;
	a->errors += b->errors;
	a->incomplete += b->incomplete;
	if (!b->hist.counts)
		return 0;
	size_t n = (size_t)(b->hist.hi - b->hist.lo + 1) * GLASS_HIST_SUB;
	for (size_t i = 0; i < n; i++)
		if (b->hist.counts[i] &&
		    hist_add(&a->hist, (unsigned)(b->hist.lo * GLASS_HIST_SUB + i),
			     b->hist.counts[i]) < 0)
			return -1;
	return 0;
}

void glass_fstats_free(struct glass_fstats *f)
{
	free(f->hist.counts);
	f->hist.counts = NULL;
}

/* ---- interning table ---------------------------------------------------------------------- */

struct fentry {
	char *key;
	size_t len;
	uint64_t hash;
	const void *user;
	struct glass_fstats st;
};

struct glass_ftable {
	struct fentry **e; /* entries never move: callers may keep glass_fstats pointers */
	size_t n, cap;
	uint32_t *tab; /* index + 1, 0 = empty */
	size_t mask;
};

static uint64_t hash_bytes(const void *p, size_t len)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 31);
}

struct glass_ftable *glass_ftable_new(void)
{
	return calloc(1, sizeof(struct glass_ftable));
}

void glass_ftable_free(struct glass_ftable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i]->key);
		glass_fstats_free(&t->e[i]->st);
		free(t->e[i]);
	}
	free(t->e);
	free(t->tab);
	free(t);
}

static int ftable_rehash(struct glass_ftable *t)
{
	size_t size = t->tab ? (t->mask + 1) * 2 : 1024;
	uint32_t *tab = calloc(size, sizeof(*tab));
	if (!tab)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->e[i]->hash & (size - 1);
		while (tab[j])
			j = (j + 1) & (size - 1);
		tab[j] = (uint32_t)i + 1;
	}
	free(t->tab);
	t->tab = tab;
	t->mask = size - 1;
	return 0;
}

long glass_ftable_intern(struct glass_ftable *t, const void *key, size_t len, int *added)
{
	uint64_t h = hash_bytes(key, len);
	if (added)
		*added = 0;
	if (t->tab) {
		for (size_t j = h & t->mask; t->tab[j]; j = (j + 1) & t->mask) {
			struct fentry *e = t->e[t->tab[j] - 1];
			if (e->hash == h && e->len == len && !memcmp(e->key, key, len))
				return (long)(t->tab[j] - 1);
		}
	}
	if (t->n >= UINT32_MAX - 1)
		return -1;
	if (!t->tab || (t->n + 1) * 2 > t->mask + 1)
		if (ftable_rehash(t) < 0)
			return -1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct fentry **e = realloc(t->e, cap * sizeof(*e));
		if (!e)
			return -1;
		t->e = e;
		t->cap = cap;
	}
	struct fentry *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	e->key = malloc(len ? len : 1);
	if (!e->key) {
		free(e);
		return -1;
	}
	t->e[t->n] = e;
	memcpy(e->key, key, len);
	e->len = len;
	e->hash = h;
	size_t j = h & t->mask;
	while (t->tab[j])
		j = (j + 1) & t->mask;
	t->tab[j] = (uint32_t)t->n + 1;
	if (added)
		*added = 1;
	return (long)t->n++;
}

long glass_ftable_find(const struct glass_ftable *t, const void *key, size_t len)
{
	if (!t->tab)
		return -1;
	uint64_t h = hash_bytes(key, len);
	for (size_t j = h & t->mask; t->tab[j]; j = (j + 1) & t->mask) {
		const struct fentry *e = t->e[t->tab[j] - 1];
		if (e->hash == h && e->len == len && !memcmp(e->key, key, len))
			return (long)(t->tab[j] - 1);
	}
	return -1;
}

const void *glass_ftable_key(const struct glass_ftable *t, size_t i, size_t *len)
{
	*len = t->e[i]->len;
	return t->e[i]->key;
}

size_t glass_ftable_size(const struct glass_ftable *t)
{
	return t->n;
}

struct glass_fstats *glass_ftable_stats(struct glass_ftable *t, size_t i)
{
	return i < t->n ? &t->e[i]->st : NULL;
}

void glass_ftable_set_user(struct glass_ftable *t, size_t i, const void *user)
{
	if (i < t->n)
		t->e[i]->user = user;
}

const void *glass_ftable_user(const struct glass_ftable *t, size_t i)
{
	return i < t->n ? t->e[i]->user : NULL;
}
