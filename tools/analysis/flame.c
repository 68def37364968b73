/* tools/flame.c — flame graphs: a trie of frames fed by the span builder; folded and SVG output. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "readahead.h"
#include "progress.h"
#include "spans.h"
#include "text.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Frame kinds beyond enum glass_span_kind. */
#define KIND_ROOT   200
#define KIND_THREAD 201
#define KIND_NATIVE 202 /* a C function of a CPU sample's native stack */

#define MAX_LABEL 400 /* bytes of a frame name kept (statements can be long) */
#define NONE	  UINT32_MAX

struct frame {
	uint32_t label, len;   /* in F->str */
	uint32_t detail, dlen; /* "file:line" of a Python function (dlen 0: none) */
	uint32_t rgb;
	uint8_t kind;
	uint8_t gen; /* a generator or coroutine: "runs" rather than "calls" */
};

/* A stack: the path from the root to here. Children are found through the hash table. */
struct node {
	uint32_t parent, frame;
	uint32_t last; /* the child found last (0: none): loops call the same function again */
	uint32_t errors;
	uint64_t self_ns;
	uint64_t calls;
};

/* A slot of the (parent, frame) -> node table; the key is kept here so that a probe reads one
 * cache line. node 0 (the root, never a child) marks an empty slot. */
struct slot {
	uint64_t key;
	uint32_t node;
};

struct flame {
	struct node *nodes;
	size_t nnodes, cap;
	struct slot *tab;
	size_t tmask;
	struct frame *frames;
	size_t nframes, fcap;
	uint32_t *ftab; /* (kind, label) -> frame + 1 */
	size_t fmask;
	char *str;
	size_t slen, scap;
	size_t max_nodes;
	uint64_t truncated;
	int oom;
	int per_thread;
	enum flame_value value;
};

/* ---- the trie ---------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ull;
	}
	return mix64(h);
}

static inline uint64_t node_key(uint32_t parent, uint32_t frame)
{
	return (uint64_t)parent << 32 | frame;
}

static inline size_t key_slot(const struct flame *F, uint64_t key)
{
	return (size_t)mix64(key) & F->tmask;
}

static int tab_grow(struct flame *F)
{
	size_t size = F->tab ? (F->tmask + 1) * 2 : 4096;
	struct slot *t = calloc(size, sizeof(*t));
	if (!t)
		return -1;
	free(F->tab);
	F->tab = t;
	F->tmask = size - 1;
	for (size_t i = 1; i < F->nnodes; i++) {
		uint64_t key = node_key(F->nodes[i].parent, F->nodes[i].frame);
		size_t j = key_slot(F, key);
		while (t[j].node)
			j = (j + 1) & F->tmask;
		t[j].key = key;
		t[j].node = (uint32_t)i;
	}
	return 0;
}

/* The child of `parent` for `frame`, added when new. When max_nodes is reached (or memory runs
 * out) the stack stops growing there: the time counts in `parent`. */
static __attribute__((noinline)) uint32_t flame_child_slow(struct flame *F, uint32_t parent,
							   uint32_t frame)
{
	if (unlikely(frame == NONE)) {
		F->truncated++;
		return parent;
	}
	uint64_t key = node_key(parent, frame);
	size_t i = key_slot(F, key);
	for (; F->tab[i].node; i = (i + 1) & F->tmask)
		if (F->tab[i].key == key) {
			F->nodes[parent].last = F->tab[i].node;
			return F->tab[i].node;
		}
	if (F->nnodes >= F->max_nodes) {
		F->truncated++;
		return parent;
	}
	if (F->nnodes == F->cap) {
		size_t cap = F->cap * 2;
		struct node *n = realloc(F->nodes, cap * sizeof(*n));
		if (!n) {
			F->oom = 1;
			F->truncated++;
			return parent;
		}
		F->nodes = n;
		F->cap = cap;
	}
	if (F->nnodes * 2 > F->tmask + 1) { /* entries after this one: nnodes (root aside) */
		if (tab_grow(F) < 0) {
			F->oom = 1;
			F->truncated++;
			return parent;
		}
		i = key_slot(F, key);
		while (F->tab[i].node)
			i = (i + 1) & F->tmask;
	}
	uint32_t id = (uint32_t)F->nnodes++;
	F->nodes[id] = (struct node){.parent = parent, .frame = frame};
	F->tab[i].key = key;
	F->tab[i].node = id;
	F->nodes[parent].last = id;
	return id;
}

static inline uint32_t flame_child(struct flame *F, uint32_t parent, uint32_t frame)
{
	uint32_t l = F->nodes[parent].last;
	if (likely(l && F->nodes[l].frame == frame))
		return l;
	return flame_child_slow(F, parent, frame);
}

/* ---- frames ------------------------------------------------------------------------------ */

static uint32_t str_add(struct flame *F, const char *s, size_t n)
{
	if (F->slen + n + 1 > F->scap) {
		size_t cap = F->scap ? F->scap * 2 : 1 << 16;
		while (cap < F->slen + n + 1)
			cap *= 2;
		char *p = realloc(F->str, cap);
		if (!p) {
			F->oom = 1;
			return NONE;
		}
		F->str = p;
		F->scap = cap;
	}
	uint32_t off = (uint32_t)F->slen;
	memcpy(F->str + off, s, n);
	F->str[off + n] = 0;
	F->slen += n + 1;
	return off;
}

static const char *frame_label(const struct flame *F, uint32_t f)
{
	return F->str + F->frames[f].label;
}

static uint32_t hsl(double h, double s, double l)
{
	double c = (1 - fabs(2 * l - 1)) * s, hp = fmod(h, 360) / 60;
	double x = c * (1 - fabs(fmod(hp, 2) - 1)), m = l - c / 2;
	double r = 0, g = 0, b = 0;
	if (hp < 1)
		r = c, g = x;
	else if (hp < 2)
		r = x, g = c;
	else if (hp < 3)
		g = c, b = x;
	else if (hp < 4)
		g = x, b = c;
	else if (hp < 5)
		r = x, b = c;
	else
		r = c, b = x;
	return (uint32_t)lround((r + m) * 255) << 16 | (uint32_t)lround((g + m) * 255) << 8 |
	       (uint32_t)lround((b + m) * 255);
}

/* Colours by kind: Python warm, one hue per module (its functions vary in lightness); DB blue,
 * HTTP served green, HTTP made cyan, network grey-blue; threads and the root grey. */
static uint32_t frame_color(int kind, const char *module, const char *label, size_t len)
{
	uint64_t h = hash_bytes(label, len, 7);
	double v = (double)(h & 0xffff) / 65535.0;
	switch (kind) {
	case GLASS_KIND_PYTHON: {
		uint64_t m = hash_bytes(module ? module : "", module ? strlen(module) : 0, 3);
		return hsl((double)(m % 51), 0.80, 0.52 + 0.12 * v);
	}
	case GLASS_KIND_DB:
		return hsl(215 + 25 * v, 0.60, 0.62);
	case GLASS_KIND_HTTP_SERVER:
		return hsl(115 + 20 * v, 0.45, 0.55);
	case GLASS_KIND_HTTP_CLIENT:
		return hsl(175 + 12 * v, 0.55, 0.52);
	case GLASS_KIND_NET:
		return hsl(205, 0.18, 0.60 + 0.08 * v);
	case KIND_THREAD:
		return 0xc8c8c8;
	case KIND_NATIVE:
		return hsl(20 + 20 * v, 0.75, 0.62);
	default:
		return 0xb4b4b4;
	}
}

/* Frame names: valid UTF-8 (bad bytes become U+FFFD), control characters and runs of white
 * space become one space, at most MAX_LABEL bytes (cut marked "…"). */
static size_t clean_label(char *out, const char *s, size_t len)
{
	size_t o = 0;
	int space = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : glass_utf8_seq(s + i, len - i);
		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = o > 0;
			i++;
			continue;
		}
		size_t need = (n ? n : 3) + (space ? 1 : 0);
		if (o + need > MAX_LABEL - 3) {
			memcpy(out + o, "\xe2\x80\xa6", 3);
			return o + 3;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	return o;
}

static size_t frame_slot(const struct flame *F, int kind, const char *s, size_t n)
{
	return (size_t)hash_bytes(s, n, (uint64_t)kind) & F->fmask;
}

static int ftab_grow(struct flame *F)
{
	size_t size = F->ftab ? (F->fmask + 1) * 2 : 1024;
	uint32_t *t = calloc(size, sizeof(*t));
	if (!t)
		return -1;
	free(F->ftab);
	F->ftab = t;
	F->fmask = size - 1;
	for (size_t i = 0; i < F->nframes; i++) {
		const struct frame *f = &F->frames[i];
		size_t j = frame_slot(F, f->kind, F->str + f->label, f->len);
		while (t[j])
			j = (j + 1) & F->fmask;
		t[j] = (uint32_t)i + 1;
	}
	return 0;
}

/* The frame named `raw` (cleaned first) of a kind; NONE when out of memory. */
static uint32_t frame_intern(struct flame *F, int kind, const char *raw, size_t rawlen,
			     const char *module, const char *detail, int gen)
{
	char name[MAX_LABEL + 8];
	size_t n = clean_label(name, raw, rawlen);
	size_t i = frame_slot(F, kind, name, n);
	for (uint32_t v; (v = F->ftab[i]); i = (i + 1) & F->fmask) {
		const struct frame *f = &F->frames[v - 1];
		if (f->kind == kind && f->len == n && !memcmp(F->str + f->label, name, n))
			return v - 1;
	}
	if (F->nframes == F->fcap) {
		size_t cap = F->fcap * 2;
		struct frame *fr = realloc(F->frames, cap * sizeof(*fr));
		if (!fr) {
			F->oom = 1;
			return NONE;
		}
		F->frames = fr;
		F->fcap = cap;
	}
	if ((F->nframes + 1) * 2 > F->fmask + 1) {
		if (ftab_grow(F) < 0) {
			F->oom = 1;
			return NONE;
		}
		i = frame_slot(F, kind, name, n);
		while (F->ftab[i])
			i = (i + 1) & F->fmask;
	}
	uint32_t off = str_add(F, name, n), doff = 0, dlen = 0;
	if (off == NONE)
		return NONE;
	if (detail && *detail) {
		char d[MAX_LABEL + 8];
		dlen = (uint32_t)clean_label(d, detail, strlen(detail));
		doff = str_add(F, d, dlen);
		if (doff == NONE)
			dlen = doff = 0;
	}
	uint32_t id = (uint32_t)F->nframes++;
	F->frames[id] = (struct frame){.label = off,
				       .len = (uint32_t)n,
				       .detail = doff,
				       .dlen = dlen,
				       .rgb = frame_color(kind, module, name, n),
				       .kind = (uint8_t)kind,
				       .gen = (uint8_t)gen};
	F->ftab[i] = id + 1;
	return id;
}

static struct flame *flame_alloc(size_t max_nodes)
{
	struct flame *F = calloc(1, sizeof(*F));
	if (!F)
		return NULL;
	F->max_nodes = max_nodes ? max_nodes : FLAME_DEFAULT_MAX_NODES;
	if (F->max_nodes > UINT32_MAX - 1)
		F->max_nodes = UINT32_MAX - 1;
	F->cap = 1024;
	F->fcap = 256;
	F->nodes = malloc(F->cap * sizeof(*F->nodes));
	F->frames = malloc(F->fcap * sizeof(*F->frames));
	F->nnodes = 1;
	F->nframes = 0;
	if (!F->nodes || !F->frames || tab_grow(F) < 0 || ftab_grow(F) < 0) {
		flame_free(F);
		return NULL;
	}
	F->nodes[0] = (struct node){0};
	if (frame_intern(F, KIND_ROOT, "all", 3, NULL, NULL, 0) != 0) {
		flame_free(F);
		return NULL;
	}
	return F;
}

void flame_free(struct flame *F)
{
	if (!F)
		return;
	free(F->nodes);
	free(F->tab);
	free(F->frames);
	free(F->ftab);
	free(F->str);
	free(F);
}

uint64_t flame_total(const struct flame *F)
{
	uint64_t t = 0;
	for (size_t i = 0; i < F->nnodes; i++)
		t += F->nodes[i].self_ns;
	return t;
}

size_t flame_nodes(const struct flame *F)
{
	return F->nnodes - 1;
}

uint64_t flame_truncated(const struct flame *F)
{
	return F->truncated;
}

int flame_oom(const struct flame *F)
{
	return F->oom;
}

/* ---- reading spans ----------------------------------------------------------------------- */

/*
 * Three stages, in three threads when a second CPU is idle (glass_report_threads(); else
 * everything runs in turn in the calling thread):
 *
 *   decoder:  readahead.h: each thread's chunks decompressed and decoded ahead into batches
 *             of compact records, strings copied along;
 *   builder:  (the calling thread) feeds them to a span builder per thread; its callbacks
 *             append small events to batches, resolving what is valid during a callback only
 *             (names of captured operations, thread names);
 *   trie:     takes the event batches in order and builds the trie.
 *
 * Batches go through bounded queues (MAX_BATCHES here, RA_BATCHES there), so memory stays
 * small whatever the recording's size, and the stages overlap: the wall time is about that
 * of the slowest.
 */

enum ev_type { EV_PROC, EV_THREAD, EV_OPEN, EV_CLOSE };

#define REF_STR	  0x80000000u /* a frame ref: offset of "label\0detail\0" in the batch's text */
#define EVF_GEN	  1	      /* OPEN: a generator or coroutine run */
#define EVF_ERROR 2	      /* CLOSE: the span ended in error */
#define EVF_SKIP  4	      /* CLOSE: its thread is not selected (--thread) */

struct ev {
	uint64_t id;
	uint64_t x;	/* OPEN: parent id; CLOSE: self ns; THREAD: pid << 32 | tid; PROC: codes */
	uint64_t start; /* OPEN, CLOSE; PROC: number of codes */
	uint64_t dur;	/* CLOSE */
	uint32_t ref;	/* OPEN: code index or REF_STR | text; THREAD: name offset or NONE */
	uint8_t type, kind, flags;
};

#define BATCH_EVENTS 65536
#define MAX_BATCHES  4

struct batch {
	struct ev *ev;
	size_t n;
	struct glass_buf text;
	struct batch *next;
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *head, *tail; /* full, in order */
	struct batch *spare;	   /* empty */
	size_t nbatches;
	int done;
};

/* A span or generator run open on the thread, with its stack node. `cut`: the stack could not
 * grow past `node` (max_nodes); spans opened above it count there too, never on a shorter,
 * wrong stack. */
struct open {
	uint64_t id;
	uint64_t parent;  /* the parent span's id (0: none) */
	uint64_t kids_in; /* with a window: the time of its closed children inside it */
	uint32_t node;
	uint32_t cut;
};

/* The trie side. */
struct consumer {
	struct flame *F;
	const struct flame_opts *o;
	struct queue *q;
	/* the process: code definition index -> frame + 1 (0 unknown yet) */
	const struct glass_code_def *codes;
	size_t ncodes;
	uint32_t *code_frame;
	/* the thread */
	struct open *st;
	size_t n, cap;
	uint32_t base; /* node under which its root spans go: the root, or its thread frame */
	int window;
};

/* The reading side. */
struct producer {
	struct queue *q;
	struct consumer *inline_c; /* no second thread: consume each batch when full */
	struct batch *b;
	const struct flame_opts *o;
	const struct glass_code_def *codes;
	size_t ncodes;
	uint32_t *id2idx; /* the process's code id -> definition index (NONE: none) */
	size_t nids;
	long want_tid; /* --thread: a tid, or -1 for a name */
	int thread_seen;
	int oom;
};

/* ---- batches and queues ------------------------------------------------------------------ */

static struct batch *batch_new(void)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b && !(b->ev = malloc(BATCH_EVENTS * sizeof(*b->ev)))) {
		free(b);
		b = NULL;
	}
	return b;
}

static void batch_free(struct batch *b)
{
	if (b) {
		free(b->ev);
		glass_buf_free(&b->text);
		free(b);
	}
}

/* An empty batch: a spare one, a new one while fewer than MAX_BATCHES exist, else the next
 * one given back. */
static struct batch *q_spare(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	struct batch *b = NULL;
	for (;;) {
		if (q->spare) {
			b = q->spare;
			q->spare = b->next;
			break;
		}
		if (q->nbatches < MAX_BATCHES && (b = batch_new())) {
			q->nbatches++;
			break;
		}
		if (!q->nbatches) /* none at all and none can be made */
			break;
		pthread_cond_wait(&q->cv, &q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	if (b) {
		b->n = 0;
		b->text.len = 0;
		b->next = NULL;
	}
	return b;
}

static void q_push(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->mu);
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* The next full batch, NULL once the queue is closed and empty. */
static struct batch *q_pop(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->done)
		pthread_cond_wait(&q->cv, &q->mu);
	struct batch *b = q->head;
	if (b) {
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
	}
	pthread_mutex_unlock(&q->mu);
	return b;
}

static void q_recycle(struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&q->mu);
	b->next = q->spare;
	q->spare = b;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void q_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void q_free(struct queue *q)
{
	for (struct batch *b = q->spare, *n; b; b = n) {
		n = b->next;
		batch_free(b);
	}
	for (struct batch *b = q->head, *n; b; b = n) {
		n = b->next;
		batch_free(b);
	}
	q->spare = q->head = q->tail = NULL;
}

static void consume(struct consumer *C, const struct batch *b);

/* Hands the current event batch over and takes an empty one. */
static void produce_flush(struct producer *P)
{
	struct batch *b = P->b;
	if (!b || !b->n)
		return;
	if (P->inline_c) {
		consume(P->inline_c, b);
		b->n = 0;
		b->text.len = 0;
		return;
	}
	q_push(P->q, b);
	/* never NULL: with a batch in the queue, q_spare waits for it to come back */
	P->b = q_spare(P->q);
}

static inline struct ev *produce_ev(struct producer *P)
{
	if (unlikely(P->b->n == BATCH_EVENTS))
		produce_flush(P);
	return &P->b->ev[P->b->n++];
}

/* Text for the event about to be made: flushes first if the batch is full, since text
 * offsets are the batch's. Returns the offset, or NONE. */
static uint32_t produce_text(struct producer *P, const char *a, size_t alen, const char *b,
			     size_t blen)
{
	if (P->b->n == BATCH_EVENTS)
		produce_flush(P);
	struct glass_buf *t = &P->b->text;
	size_t off = t->len;
	glass_buf_put(t, a, alen);
	glass_buf_put(t, "", 1);
	glass_buf_put(t, b, blen);
	glass_buf_put(t, "", 1);
	if (t->oom || off >= REF_STR) {
		P->oom = 1;
		t->len = off;
		return NONE;
	}
	return (uint32_t)off;
}

/* ---- the reading side: span callbacks ---------------------------------------------------- */

static const struct glass_str *str_attr(const struct glass_span *sp, const char *key)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	return a && a->type == GLASS_ATTR_STR && a->s.p && a->s.len ? &a->s : NULL;
}

/* Systems whose statements are SQL (OpenTelemetry db.system values). */
static int is_sql(const struct glass_str *sys)
{
	static const char *const nosql[] = {"mongodb",	     "redis",	"memcached", "cassandra",
					    "elasticsearch", "couchdb", "dynamodb",  "neo4j"};
	if (!sys)
		return 1;
	for (size_t i = 0; i < sizeof(nosql) / sizeof(nosql[0]); i++)
		if (sys->len == strlen(nosql[i]) && !memcmp(sys->p, nosql[i], sys->len))
			return 0;
	return 1;
}

/* Captured operations (from their beginning: name and first attributes): a DB span is "SQL
 * <name>" ("SQL SELECT users"; "<system> <name>" for MongoDB, Redis...) with its statement as
 * the detail, an HTTP request made "HTTP <name>", the others their name. Names, not statements,
 * keep the number of frames small. */
static uint32_t op_text(struct producer *P, const struct glass_span *sp)
{
	char label[MAX_LABEL + 64];
	struct glass_str name = sp->name;
	if (!name.p || !name.len) {
		name.p = glass_span_kind_name(sp->kind);
		name.len = (uint32_t)strlen(name.p);
	}
	unsigned wl = name.len > MAX_LABEL ? MAX_LABEL : name.len;
	const struct glass_str *d = NULL;
	int n;
	if (sp->kind == GLASS_KIND_DB) {
		const struct glass_str *sys = str_attr(sp, "db.system");
		d = str_attr(sp, "db.statement");
		if (is_sql(sys))
			n = snprintf(label, sizeof(label), "SQL %.*s", (int)wl, name.p);
		else
			n = snprintf(label, sizeof(label), "%.*s %.*s",
				     (int)(sys->len > 40 ? 40 : sys->len), sys->p, (int)wl, name.p);
	} else {
		if (sp->kind == GLASS_KIND_HTTP_CLIENT)
			d = str_attr(sp, "url.full");
		n = snprintf(label, sizeof(label), "%s%.*s",
			     sp->kind == GLASS_KIND_HTTP_CLIENT ? "HTTP " : "", (int)wl, name.p);
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(label))
		n = sizeof(label) - 1;
	size_t dl = d ? (d->len > MAX_LABEL ? MAX_LABEL : d->len) : 0;
	return produce_text(P, label, (size_t)n, d ? d->p : "", dl);
}

static int thread_ok(const struct producer *P, const struct glass_span *sp)
{
	if (likely(!P->o->thread))
		return 1;
	if (P->want_tid >= 0)
		return sp->tid == (uint64_t)P->want_tid;
	return sp->thread && !strcmp(sp->thread, P->o->thread);
}

static void produce_open(struct producer *P, const struct glass_span *sp)
{
	if (unlikely(!P->thread_seen)) {
		/* the thread's frame: named as the thread is at its first span */
		P->thread_seen = 1;
		const char *name = sp->thread;
		uint32_t off = name ? produce_text(P, name, strlen(name), "", 0) : NONE;
		struct ev *e = produce_ev(P);
		e->type = EV_THREAD;
		e->x = (uint64_t)sp->pid << 32 | sp->tid;
		e->ref = off;
	}
	uint32_t ref;
	if (likely(sp->kind == GLASS_KIND_PYTHON && sp->code_id < P->nids &&
		   P->id2idx[sp->code_id] != NONE)) {
		ref = P->id2idx[sp->code_id];
	} else if (sp->kind == GLASS_KIND_PYTHON) {
		char label[64]; /* "<code N>": no definition recorded */
		struct glass_span g = *sp;
		g.code = NULL;
		glass_span_label(&g, label, sizeof(label));
		ref = produce_text(P, label, strlen(label), "", 0);
		ref = ref == NONE ? NONE : REF_STR | ref;
	} else {
		ref = op_text(P, sp);
		ref = ref == NONE ? NONE : REF_STR | ref;
	}
	struct ev *e = produce_ev(P);
	e->type = EV_OPEN;
	e->id = sp->span_id;
	e->x = sp->parent_id;
	e->start = sp->start_ns;
	e->ref = ref;
	e->kind = (uint8_t)sp->kind;
	e->flags = sp->gen != GLASS_GEN_NONE ? EVF_GEN : 0;
}

static void produce_close(struct producer *P, const struct glass_span *sp)
{
	struct ev *e = produce_ev(P);
	e->type = EV_CLOSE;
	e->id = sp->span_id;
	e->x = sp->self_ns;
	e->start = sp->start_ns;
	e->dur = sp->dur_ns;
	e->flags =
	    (sp->status == GLASS_SPAN_ERROR ? EVF_ERROR : 0) | (thread_ok(P, sp) ? 0 : EVF_SKIP);
}

/* The builder's code lookup, left undone: spans are resolved here from their code id, once per
 * definition rather than at every start and end. */
static const struct glass_code_def *no_lookup(void *ctx, uint32_t id)
{
	return NULL;
}

/* A new process: its code definitions, announced to the trie side. */
static void produce_proc(struct producer *P, struct glass_proc *p)
{
	P->codes = glass_proc_codes(p, &P->ncodes);
	uint32_t max = 0;
	for (size_t i = 0; i < P->ncodes; i++)
		if (P->codes[i].id > max)
			max = P->codes[i].id;
	free(P->id2idx);
	P->nids = 0;
	P->id2idx = malloc(((size_t)max + 1) * sizeof(*P->id2idx));
	if (P->id2idx) {
		P->nids = (size_t)max + 1;
		memset(P->id2idx, 0xff, P->nids * sizeof(*P->id2idx));
		for (size_t i = 0; i < P->ncodes; i++) /* the first definition of an id wins */
			if (P->id2idx[P->codes[i].id] == NONE)
				P->id2idx[P->codes[i].id] = (uint32_t)i;
	} else {
		P->oom = 1;
	}
	struct ev *e = produce_ev(P);
	e->type = EV_PROC;
	e->x = (uint64_t)(uintptr_t)P->codes;
	e->start = P->ncodes;
}

static int is_gen_span(const struct glass_span *sp)
{
	return sp->kind == GLASS_KIND_PYTHON && sp->gen != GLASS_GEN_NONE;
}

/* Functions and captured operations open and close as spans; generators as runs. */
static void on_start(void *ctx, const struct glass_span *sp)
{
	if (likely(!is_gen_span(sp)))
		produce_open(ctx, sp);
}

static void on_end(void *ctx, const struct glass_span *sp)
{
	if (likely(!is_gen_span(sp)))
		produce_close(ctx, sp);
}

static void on_run_start(void *ctx, const struct glass_span *sp)
{
	produce_open(ctx, sp);
}

static void on_run_end(void *ctx, const struct glass_span *sp)
{
	produce_close(ctx, sp);
}

/* Reads one thread of p through a span builder whose callbacks produce events. */
static void run_thread(struct producer *P, struct glass_proc *p, uint32_t tidx,
		       struct glass_span_ids ids, struct glass_progress *pg)
{
	uint64_t chunks = pg ? glass_proc_thread_chunks(p, tidx, NULL) : 0, seen = 0;
	struct glass_readahead *st = glass_readahead_open(p, tidx);
	struct glass_spans *b = st ? glass_spans_new(p, tidx, ids, on_start, on_end, P) : NULL;
	if (b) {
		glass_spans_set_runs(b, on_run_start, on_run_end);
		glass_spans_set_lookup(b, no_lookup, NULL);
		struct glass_record rec;
		P->thread_seen = 0;
		while (glass_readahead_next(st, &rec)) {
			/* every chunk starts with one; unreadable chunks are made up for at the end
			 */
			if (unlikely(pg) && rec.tag == GLASS_REC_CHUNK_START && seen < chunks) {
				seen++;
				glass_progress_add(pg, 1);
			}
			glass_spans_feed(b, &rec);
		}
		glass_spans_finish(b);
		glass_spans_free(b);
	}
	glass_readahead_close(st);
	glass_progress_add(pg, chunks - seen);
}

/* ---- stacks made by the caller (CPU samples) ------------------------------------------------ */

struct flame *flame_new(size_t max_nodes)
{
	return flame_alloc(max_nodes);
}

int flame_add_stack(struct flame *F, const struct flame_frame *fr, size_t n, uint64_t value)
{
	uint32_t node = 0;
	for (size_t i = 0; i < n; i++) {
		const char *l = fr[i].label ? fr[i].label : "?";
		uint32_t f = frame_intern(F, fr[i].python ? GLASS_KIND_PYTHON : KIND_NATIVE, l,
					  strlen(l), fr[i].module, fr[i].detail, 0);
		if (f == NONE)
			return -1;
		uint32_t c = flame_child(F, node, f);
		if (c == node) /* out of nodes: counted in the caller */
			break;
		node = c;
	}
	F->nodes[node].self_ns += value;
	F->nodes[node].calls++;
	return 0;
}

/* ---- the trie side ----------------------------------------------------------------------- */

static uint32_t code_frame(struct consumer *C, size_t k)
{
	uint32_t *fc = &C->code_frame[k];
	if (likely(*fc))
		return *fc - 1;
	const struct glass_code_def *d = &C->codes[k];
	struct glass_span sp;
	char label[MAX_LABEL + 8], detail[4200];
	memset(&sp, 0, sizeof(sp));
	sp.kind = GLASS_KIND_PYTHON;
	sp.code = d;
	sp.code_id = d->id;
	glass_span_label(&sp, label, sizeof(label));
	detail[0] = 0;
	if (d->filename && *d->filename)
		snprintf(detail, sizeof(detail), "%s:%u", d->filename, d->line);
	uint32_t f = frame_intern(C->F, GLASS_KIND_PYTHON, label, strlen(label), d->module, detail,
				  glass_gen_kind_of(d->flags) != GLASS_GEN_NONE);
	if (f != NONE)
		*fc = f + 1;
	return f;
}

static uint32_t frame_of(struct consumer *C, const struct batch *b, const struct ev *e)
{
	if (likely(!(e->ref & REF_STR)))
		return e->ref < C->ncodes ? code_frame(C, e->ref) : NONE;
	if (e->ref == NONE)
		return NONE;
	const char *label = b->text.p + (e->ref & ~REF_STR);
	const char *detail = label + strlen(label) + 1;
	return frame_intern(C->F, e->kind, label, strlen(label), NULL, detail,
			    e->kind == GLASS_KIND_PYTHON && (e->flags & EVF_GEN));
}

static void make_base(struct consumer *C, const struct batch *b, const struct ev *e)
{
	C->n = 0;
	C->base = 0;
	if (!C->o->per_thread)
		return;
	char label[600];
	const char *name = e->ref != NONE ? b->text.p + e->ref : NULL;
	int n = snprintf(label, sizeof(label), "%u/%u%s%.500s", (unsigned)(e->x >> 32),
			 (unsigned)(e->x & 0xffffffffu), name ? " " : "", name ? name : "");
	uint32_t f = frame_intern(C->F, KIND_THREAD, label, (size_t)n, NULL, NULL, 0);
	C->base = flame_child(C->F, 0, f);
}

static void open_push(struct consumer *C, uint64_t id, uint64_t parent, uint32_t node, uint32_t cut)
{
	if (unlikely(C->n == C->cap)) {
		size_t cap = C->cap ? C->cap * 2 : 256;
		struct open *s = realloc(C->st, cap * sizeof(*s));
		if (!s) {
			C->F->oom = 1;
			return;
		}
		C->st = s;
		C->cap = cap;
	}
	C->st[C->n++] = (struct open){id, parent, 0, node, cut};
}

/* The open entry of a span (NULL when it is not open, e.g. none: a root). */
static struct open *open_find(const struct consumer *C, uint64_t id)
{
	if (likely(C->n && C->st[C->n - 1].id == id))
		return &C->st[C->n - 1];
	if (id)
		for (size_t i = C->n; i-- > 0;)
			if (C->st[i].id == id)
				return &C->st[i];
	return NULL;
}

/* Removes an open span (normally the top; captured operations can end out of order) into *o.
 * 0 when it is not open. */
static int open_pop(struct consumer *C, uint64_t id, struct open *o)
{
	if (likely(C->n && C->st[C->n - 1].id == id)) {
		*o = C->st[--C->n];
		return 1;
	}
	for (size_t i = C->n; i-- > 0;)
		if (C->st[i].id == id) {
			*o = C->st[i];
			memmove(&C->st[i], &C->st[i + 1], (C->n - i - 1) * sizeof(*C->st));
			C->n--;
			return 1;
		}
	return 0;
}

static void open_span(struct consumer *C, const struct batch *b, const struct ev *e)
{
	const struct open *p = open_find(C, e->x);
	uint32_t parent = p ? p->node : C->base;
	if (unlikely(p && p->cut)) {
		open_push(C, e->id, e->x, parent, 1);
		return;
	}
	/* spans that start after the window never count: no node for them */
	if (unlikely(C->window && e->start >= C->o->until_ns)) {
		open_push(C, e->id, e->x, parent, 0);
		return;
	}
	uint32_t node = flame_child(C->F, parent, frame_of(C, b, e));
	open_push(C, e->id, e->x, node, node == parent);
}

/*
 * With --since/--until: adds a closing span's time inside the window to its open parent's
 * children (skipped spans too: it is not the parent's own time), then sets what the span itself
 * counts. A span across a limit counts its time inside less its children's time inside. Returns
 * 0 when it counts nothing.
 */
static int window_clip(struct consumer *C, const struct ev *e, const struct open *o, uint64_t *self,
		       int *call)
{
	uint64_t s = e->start, end = s + e->dur;
	uint64_t lo = s > C->o->since_ns ? s : C->o->since_ns;
	uint64_t hi = end < C->o->until_ns ? end : C->o->until_ns;
	uint64_t in = hi > lo ? hi - lo : 0;
	struct open *up = in ? open_find(C, o->parent) : NULL;
	if (up)
		up->kids_in += in;
	*call = s >= C->o->since_ns && s < C->o->until_ns;
	if (!e->dur)
		return *call;
	if (!in)
		return 0;
	if (lo > s || hi < end) {
		*self = in > o->kids_in ? in - o->kids_in : 0;
		if (*self > e->x)
			*self = e->x;
	}
	return 1;
}

static void close_span(struct consumer *C, const struct ev *e)
{
	struct open o;
	if (!open_pop(C, e->id, &o))
		return;
	uint64_t self = e->x;
	int call = 1;
	if (C->window && !window_clip(C, e, &o, &self, &call))
		return;
	if ((e->flags & EVF_SKIP) || o.node == NONE)
		return;
	struct node *n = &C->F->nodes[o.node];
	n->self_ns += self;
	n->calls += (uint64_t)call;
	if ((e->flags & EVF_ERROR) && call && n->errors < UINT32_MAX)
		n->errors++;
}

static void consume(struct consumer *C, const struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct ev *e = &b->ev[i];
		switch (e->type) {
		case EV_OPEN:
			open_span(C, b, e);
			break;
		case EV_CLOSE:
			close_span(C, e);
			break;
		case EV_THREAD:
			make_base(C, b, e);
			break;
		case EV_PROC:
			C->codes = (const struct glass_code_def *)(uintptr_t)e->x;
			C->ncodes = (size_t)e->start;
			free(C->code_frame);
			C->code_frame = calloc(C->ncodes ? C->ncodes : 1, sizeof(*C->code_frame));
			if (!C->code_frame) {
				C->F->oom = 1;
				C->ncodes = 0;
			}
			break;
		}
	}
}

/* Self-time view: every stack reversed (the function that spent the time first, then its
 * callers), so the bottom row is each function's self time. Per-thread graphs keep the thread
 * frame at the bottom. */
static struct flame *flame_invert(struct flame *F)
{
	struct flame *R = flame_alloc(F->max_nodes);
	if (!R)
		return NULL;
	/* F's lookup table is not needed any more: only its nodes are read */
	free(F->tab);
	F->tab = NULL;
	F->tmask = 0;
	/* the frames move over as they are */
	free(R->frames);
	free(R->ftab);
	free(R->str);
	R->frames = F->frames;
	R->nframes = F->nframes;
	R->fcap = F->fcap;
	R->ftab = F->ftab;
	R->fmask = F->fmask;
	R->str = F->str;
	R->slen = F->slen;
	R->scap = F->scap;
	F->frames = NULL;
	F->ftab = NULL;
	F->str = NULL;
	R->truncated = F->truncated;
	R->oom = F->oom;
	R->per_thread = F->per_thread;
	R->value = FLAME_SELF;
	R->nodes[0].self_ns = F->nodes[0].self_ns;
	for (size_t i = 1; i < F->nnodes; i++) {
		const struct node *x = &F->nodes[i];
		if (!x->self_ns && !x->calls)
			continue;
		uint32_t cur = 0, stop = 0;
		if (F->per_thread) {
			uint32_t t = (uint32_t)i;
			while (F->nodes[t].parent)
				t = F->nodes[t].parent;
			if (t == i)
				continue; /* the thread frame itself */
			cur = flame_child(R, 0, F->nodes[t].frame);
			stop = t;
		}
		for (uint32_t m = (uint32_t)i; m && m != stop; m = F->nodes[m].parent) {
			cur = flame_child(R, cur, F->nodes[m].frame);
			R->nodes[cur].calls += x->calls;
			R->nodes[cur].errors += x->errors;
		}
		R->nodes[cur].self_ns += x->self_ns;
	}
	return R;
}

static void *consume_thread(void *arg)
{
	struct consumer *C = arg;
	for (struct batch *b; (b = q_pop(C->q));) {
		consume(C, b);
		q_recycle(C->q, b);
	}
	return NULL;
}

struct flame *flame_collect(struct glass_session *s, const struct flame_opts *opts,
			    struct glass_progress *pg)
{
	struct flame_opts oo = *opts;
	const struct flame_opts *o = &oo;
	if (!oo.until_ns) /* a zeroed struct means no window */
		oo.until_ns = UINT64_MAX;
	struct flame *F = flame_alloc(o->max_nodes);
	if (!F)
		return NULL;
	F->per_thread = o->per_thread;
	struct queue q = {
	    .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct consumer C = {.F = F, .o = o, .q = &q};
	C.window = o->since_ns > 0 || o->until_ns < UINT64_MAX;
	struct producer P = {.q = &q, .o = o, .want_tid = -1};
	if (o->thread) {
		char *end;
		long v = strtol(o->thread, &end, 10);
		if (*o->thread && !*end && v >= 0)
			P.want_tid = v;
	}
	P.b = q_spare(&q);
	if (!P.b) {
		flame_free(F);
		return NULL;
	}
	/* with a second CPU idle, the trie is built in a thread of its own (and each stream is
	 * decoded ahead in another: readahead.h) */
	pthread_t trie_th;
	int trie_on = glass_report_threads() &&
		      pthread_create(&trie_th, NULL, consume_thread, &C) == 0;
	if (!trie_on)
		P.inline_c = &C;
	for (size_t pi = 0; pi < glass_session_nprocs(s); pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const uint32_t *tidx;
		size_t nt = glass_proc_threads(p, &tidx);
		if (o->has_pid && glass_proc_info(p)->pid != o->pid) {
			for (size_t ti = 0; ti < nt && pg; ti++)
				glass_progress_add(pg, glass_proc_thread_chunks(p, tidx[ti], NULL));
			continue;
		}
		produce_proc(&P, p);
		for (size_t ti = 0; ti < nt; ti++)
			run_thread(&P, p, tidx[ti], glass_span_ids_for(s, pi, ti), pg);
	}
	produce_flush(&P);
	if (trie_on) {
		q_close(&q);
		pthread_join(trie_th, NULL);
	}
	if (P.b)
		batch_free(P.b);
	q_free(&q);
	free(P.id2idx);
	if (P.oom)
		F->oom = 1;
	free(C.code_frame);
	free(C.st);
	if (o->value == FLAME_SELF) {
		struct flame *R = flame_invert(F);
		if (!R)
			F->oom = 1;
		else {
			flame_free(F);
			F = R;
		}
	}
	return F;
}

/* ---- layout: children in name order, inclusive values ------------------------------------ */

struct layout {
	uint32_t *off; /* children of node i: kid[off[i] .. off[i + 1]) */
	uint32_t *kid;
	uint64_t *incl; /* self plus all descendants */
};

static int frame_by_label(const void *a, const void *b, void *ctx)
{
	const struct flame *F = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(frame_label(F, x), frame_label(F, y));
	return c ? c : (x > y) - (x < y);
}

/* Children by their frame's rank in name order (siblings never share a frame). */
static int by_rank(const void *a, const void *b, void *ctx)
{
	const uint32_t *rank = ctx;
	uint32_t x = rank[*(const uint32_t *)a], y = rank[*(const uint32_t *)b];
	return (x > y) - (x < y);
}

static void layout_free(struct layout *L)
{
	free(L->off);
	free(L->kid);
	free(L->incl);
}

static int layout_build(const struct flame *F, struct layout *L)
{
	size_t n = F->nnodes;
	L->off = calloc(n + 2, sizeof(*L->off));
	L->kid = malloc((n ? n : 1) * sizeof(*L->kid));
	L->incl = malloc(n * sizeof(*L->incl));
	if (!L->off || !L->kid || !L->incl) {
		layout_free(L);
		return -1;
	}
	for (size_t i = 1; i < n; i++)
		L->off[F->nodes[i].parent + 2]++;
	for (size_t i = 2; i < n + 2; i++)
		L->off[i] += L->off[i - 1];
	for (size_t i = 1; i < n; i++)
		L->kid[L->off[F->nodes[i].parent + 1]++] = (uint32_t)i;
	/* rank of each node's frame in name order: sorting children compares integers */
	uint32_t *order = malloc((F->nframes ? F->nframes : 1) * sizeof(*order));
	uint32_t *frank = malloc((F->nframes ? F->nframes : 1) * sizeof(*frank));
	uint32_t *rank = malloc(n * sizeof(*rank));
	if (!order || !frank || !rank) {
		free(order);
		free(frank);
		free(rank);
		layout_free(L);
		return -1;
	}
	for (size_t i = 0; i < F->nframes; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, F->nframes, sizeof(*order), frame_by_label, (void *)F);
	for (size_t i = 0; i < F->nframes; i++)
		frank[order[i]] = (uint32_t)i;
	for (size_t i = 0; i < n; i++)
		rank[i] = frank[F->nodes[i].frame];
	/* off[i + 1] is now the end of node i's children, off[i] their start */
	for (size_t i = 0; i < n; i++) {
		size_t k = L->off[i + 1] - L->off[i];
		if (k > 1)
			qsort_r(L->kid + L->off[i], k, sizeof(*L->kid), by_rank, rank);
		L->incl[i] = F->nodes[i].self_ns;
	}
	free(order);
	free(frank);
	free(rank);
	/* a child is always created after its parent */
	for (size_t i = n; i-- > 1;)
		L->incl[F->nodes[i].parent] += L->incl[i];
	return 0;
}

/* ---- folded ------------------------------------------------------------------------------ */

struct walk {
	uint32_t node, next;
	size_t plen;
	double x; /* SVG: where the next child starts (pixels) */
};

static int walk_push(struct walk **w, size_t *n, size_t *cap, struct walk e)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct walk *p = realloc(*w, c * sizeof(*p));
		if (!p)
			return -1;
		*w = p;
		*cap = c;
	}
	(*w)[(*n)++] = e;
	return 0;
}

/* Buffered output of the folded writer: lines are assembled in memory and written 1 MB at a
 * time (a big graph has a million lines of hundreds of bytes). */
struct out {
	FILE *f;
	char *p;
	size_t len, cap;
	int err;
};

static void out_flush(struct out *o)
{
	if (o->len && fwrite(o->p, 1, o->len, o->f) != o->len)
		o->err = 1;
	o->len = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		out_flush(o);
		if (n > o->cap) {
			if (fwrite(s, 1, n, o->f) != n)
				o->err = 1;
			return;
		}
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

/* " <value>\n" */
static void out_value(struct out *o, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	d[--i] = '\n';
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	d[--i] = ' ';
	out_put(o, d + i, sizeof(d) - i);
}

int flame_write_folded(FILE *f, const struct flame *F)
{
	struct layout L = {0};
	if (layout_build(F, &L) < 0)
		return -1;
	struct out o = {.f = f, .cap = 1 << 20};
	o.p = malloc(o.cap);
	/* names as folded text wants them: ';' separates frames */
	char **folded = calloc(F->nframes ? F->nframes : 1, sizeof(*folded));
	char *path = NULL;
	size_t plen = 0, pcap = 0;
	struct walk *w = NULL;
	size_t n = 0, cap = 0;
	int rc = o.p && folded ? 0 : -1;
	for (size_t i = 0; !rc && i < F->nframes; i++) {
		const struct frame *fr = &F->frames[i];
		if (!memchr(F->str + fr->label, ';', fr->len))
			continue;
		if (!(folded[i] = strdup(F->str + fr->label)))
			rc = -1;
		else
			for (char *c = folded[i]; (c = strchr(c, ';'));)
				*c = ',';
	}
	/* time of stacks that could not get a node even at the top (--max-stacks) */
	if (!rc && F->nodes[0].self_ns) {
		static const char over[] = "[stacks over the limit]";
		out_put(&o, over, sizeof(over) - 1);
		out_value(&o, F->nodes[0].self_ns);
	}
	if (!rc)
		rc = walk_push(&w, &n, &cap, (struct walk){0, L.off[0], 0, 0});
	while (!rc && n) {
		struct walk *t = &w[n - 1];
		if (t->next == L.off[t->node + 1]) {
			plen = t->plen;
			n--;
			continue;
		}
		uint32_t c = L.kid[t->next++];
		uint32_t fi = F->nodes[c].frame;
		const struct frame *fr = &F->frames[fi];
		const char *name = folded[fi] ? folded[fi] : F->str + fr->label;
		size_t before = plen;
		if (plen + fr->len + 2 > pcap) {
			size_t nc = pcap ? pcap * 2 : 4096;
			while (nc < plen + fr->len + 2)
				nc *= 2;
			char *np = realloc(path, nc);
			if (!np) {
				rc = -1;
				break;
			}
			path = np;
			pcap = nc;
		}
		if (plen)
			path[plen++] = ';';
		memcpy(path + plen, name, fr->len);
		plen += fr->len;
		if (F->nodes[c].self_ns) {
			out_put(&o, path, plen);
			out_value(&o, F->nodes[c].self_ns);
		}
		rc = walk_push(&w, &n, &cap, (struct walk){c, L.off[c], before, 0});
	}
	if (o.p)
		out_flush(&o);
	for (size_t i = 0; folded && i < F->nframes; i++)
		free(folded[i]);
	free(folded);
	free(o.p);
	free(path);
	free(w);
	layout_free(&L);
	return rc < 0 || o.err || ferror(f) ? -1 : 0;
}

/* ---- SVG --------------------------------------------------------------------------------- */

#define SVG_FRAME_H 16
#define SVG_XPAD    10
#define SVG_TOP	    64
#define SVG_BOTTOM  34
#define SVG_CHAR_W  7.08 /* average glyph width of 12px Verdana */

/* XML text: &, <, >, quotes escaped; characters XML does not allow (controls, U+FFFE/F) and
 * bad UTF-8 become U+FFFD (labels are clean already; titles and subtitles may not be). */
static void xml_put(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			switch (c) {
			case '&':
				fputs("&amp;", f);
				break;
			case '<':
				fputs("&lt;", f);
				break;
			case '>':
				fputs("&gt;", f);
				break;
			case '"':
				fputs("&quot;", f);
				break;
			case '\'':
				fputs("&#39;", f);
				break;
			default:
				if (c < 0x20 && c != '\t')
					fputs("\xef\xbf\xbd", f);
				else
					fputc(c, f);
			}
			i++;
			continue;
		}
		size_t n = glass_utf8_seq(s + i, len - i);
		if (!n || (n == 3 && c == 0xef && (unsigned char)s[i + 1] == 0xbf &&
			   (unsigned char)s[i + 2] >= 0xbe)) {
			fputs("\xef\xbf\xbd", f);
			i += n ? n : 1;
			continue;
		}
		fwrite(s + i, 1, n, f);
		i += n;
	}
}

static void xml_puts(FILE *f, const char *s)
{
	xml_put(f, s, strlen(s));
}

/* The part of a label that fits `px` pixels ("..": cut), or nothing under 3 characters. */
static size_t fit_label(const char *s, size_t len, double px, int *cut)
{
	size_t room = px > 6 ? (size_t)((px - 6) / SVG_CHAR_W) : 0;
	*cut = 0;
	if (room < 3)
		return 0;
	size_t chars = 0, i = 0, keep = 0;
	while (i < len) {
		size_t n = glass_utf8_seq(s + i, len - i);
		i += n ? n : 1;
		chars++;
		if (chars == room - 2)
			keep = i;
	}
	if (chars <= room)
		return len;
	*cut = 1;
	return keep;
}

static const char svg_script[] =
    "\"use strict\";\n"
    "var svg, frames, details, unzoombtn, searchbtn, matchedtxt, W, XPAD = 10, CW = 7.08;\n"
    "var editing = false, query = '';\n"
    "function init(root) {\n"
    "  svg = root;\n"
    "  W = parseFloat(svg.getAttribute('width'));\n"
    "  frames = svg.querySelector('#frames');\n"
    "  details = svg.querySelector('#details').firstChild;\n"
    "  unzoombtn = svg.querySelector('#unzoom');\n"
    "  searchbtn = svg.querySelector('#search');\n"
    "  matchedtxt = svg.querySelector('#matched').firstChild;\n"
    "  frames.addEventListener('mouseover', function (e) {\n"
    "    var g = frameof(e.target); if (g) details.nodeValue = info(g); });\n"
    "  frames.addEventListener('mouseout', function (e) {\n"
    "    if (frameof(e.target)) details.nodeValue = ' '; });\n"
    "  frames.addEventListener('click', function (e) {\n"
    "    var g = frameof(e.target); if (g) zoom(g); });\n"
    "  unzoombtn.addEventListener('click', unzoom);\n"
    "  searchbtn.addEventListener('click', function () {\n"
    "    if (editing || query) resetsearch(); else startsearch(); });\n"
    "  window.addEventListener('keydown', key);\n"
    "}\n"
    "/* the search box: Ctrl-F (or Search) then type; matches light up as you type */\n"
    "function key(e) {\n"
    "  if ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F' || e.keyCode === 70)) {\n"
    "    e.preventDefault(); startsearch(); return;\n"
    "  }\n"
    "  if (!editing) {\n"
    "    if (e.key === 'Escape') { unzoom(); resetsearch(); }\n"
    "    return;\n"
    "  }\n"
    "  if (e.ctrlKey || e.metaKey || e.altKey) return;\n"
    "  if (e.key === 'Escape') { resetsearch(); }\n"
    "  else if (e.key === 'Enter') { editing = false; showquery(); }\n"
    "  else if (e.key === 'Backspace') { query = query.slice(0, -1); search(); }\n"
    "  else if (e.key && e.key.length === 1) { query += e.key; search(); }\n"
    "  else return;\n"
    "  e.preventDefault();\n"
    "}\n"
    "function startsearch() { editing = true; showquery(); }\n"
    "function showquery() {\n"
    "  searchbtn.firstChild.nodeValue = editing ? 'Search: ' + query + '\\u2588'\n"
    "    : (query ? 'Reset Search (' + query + ')' : 'Search');\n"
    "}\n"
    "function frameof(t) {\n"
    "  while (t && t.parentNode !== frames) t = t.parentNode;\n"
    "  return t && t.parentNode === frames ? t : null;\n"
    "}\n"
    "function parts(g) { return g.firstElementChild.textContent.split('\\n'); }\n"
    "function nameof(g) { return g._name || (g._name = parts(g)[0]); }\n"
    "function info(g) { return parts(g).join('  \\u00b7  '); }\n"
    "function rect(g) {\n"
    "  var r = g.getElementsByTagName('rect')[0];\n"
    "  if (r._x === undefined) {\n"
    "    r._x = parseFloat(r.getAttribute('x')); r._w = parseFloat(r.getAttribute('width'));\n"
    "    r._y = parseFloat(r.getAttribute('y'));\n"
    "  }\n"
    "  return r;\n"
    "}\n"
    "function place(g, x, w) {\n"
    "  var r = rect(g), t = g.getElementsByTagName('text')[0];\n"
    "  r.setAttribute('x', x.toFixed(3)); r.setAttribute('width', w.toFixed(3));\n"
    "  t.setAttribute('x', (x + 3).toFixed(3));\n"
    "  var name = nameof(g), room = Math.floor((w - 6) / CW);\n"
    "  if (room < 3) t.textContent = '';\n"
    "  else if (name.length <= room) t.textContent = name;\n"
    "  else t.textContent = name.substring(0, room - 2) + '..';\n"
    "}\n"
    "function zoom(g) {\n"
    "  var z = rect(g), x0 = z._x, w0 = z._w, y0 = z._y, k = (W - 2 * XPAD) / w0, e = 0.002;\n"
    "  var gs = frames.children;\n"
    "  unzoombtn.classList.remove('hide');\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var f = gs[i], r = rect(f);\n"
    "    f.classList.remove('parent'); f.classList.remove('hide');\n"
    "    if (r._y > y0) {\n"
    "      if (r._x <= x0 + e && r._x + r._w >= x0 + w0 - e) {\n"
    "        f.classList.add('parent'); place(f, XPAD, W - 2 * XPAD);\n"
    "      } else f.classList.add('hide');\n"
    "    } else if (r._x >= x0 - e && r._x + r._w <= x0 + w0 + e) {\n"
    "      place(f, XPAD + (r._x - x0) * k, r._w * k);\n"
    "    } else f.classList.add('hide');\n"
    "  }\n"
    "}\n"
    "function unzoom() {\n"
    "  var gs = frames.children;\n"
    "  unzoombtn.classList.add('hide');\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var f = gs[i], r = rect(f);\n"
    "    f.classList.remove('parent'); f.classList.remove('hide');\n"
    "    place(f, r._x, r._w);\n"
    "  }\n"
    "}\n"
    "function clearmarks() {\n"
    "  var gs = frames.children;\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var r = rect(gs[i]);\n"
    "    if (r._fill !== undefined) { r.setAttribute('fill', r._fill); delete r._fill; }\n"
    "  }\n"
    "  matchedtxt.nodeValue = ' ';\n"
    "}\n"
    "function resetsearch() { editing = false; query = ''; clearmarks(); showquery(); }\n"
    "/* a regular expression; as plain text while it is not a valid one */\n"
    "function search(term) {\n"
    "  if (term !== undefined) query = term;\n"
    "  clearmarks(); showquery();\n"
    "  if (!query) return;\n"
    "  var re;\n"
    "  try { re = new RegExp(query); }\n"
    "  catch (err) { re = new RegExp(query.replace(/[.*+?^${}()|[\\]\\\\]/g, '\\\\$&')); }\n"
    "  var gs = frames.children, hits = [];\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var r = rect(gs[i]);\n"
    "    if (re.test(nameof(gs[i]))) {\n"
    "      r._fill = r.getAttribute('fill'); r.setAttribute('fill', 'rgb(230,0,230)');\n"
    "      hits.push([r._x, r._x + r._w]);\n"
    "    }\n"
    "  }\n"
    "  hits.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
    "  var cover = 0, end = -1;\n"
    "  for (var j = 0; j < hits.length; j++) {\n"
    "    var a = Math.max(hits[j][0], end), b = hits[j][1];\n"
    "    if (b > a) { cover += b - a; end = b; }\n"
    "  }\n"
    "  matchedtxt.nodeValue = 'Matched: ' + (100 * cover / (W - 2 * XPAD)).toFixed(1) + '% (' +\n"
    "    hits.length + ' frames)';\n"
    "}\n";

static const char svg_style[] =
    "text { font-family: Verdana, sans-serif; font-size: 12px; fill: rgb(0,0,0); }\n"
    "#title { text-anchor: middle; font-size: 17px; }\n"
    "#subtitle { text-anchor: middle; fill: rgb(90,90,90); }\n"
    "#frames > g { cursor: pointer; }\n"
    "#frames > g:hover > rect { stroke: rgb(0,0,0); stroke-width: 0.5; }\n"
    "#frames text { pointer-events: none; }\n"
    "#unzoom, #search { cursor: pointer; }\n"
    "#search, #matched { text-anchor: end; }\n"
    ".legend { fill: rgb(90,90,90); }\n"
    ".hide { display: none; }\n"
    ".parent { opacity: 0.5; }\n";

static void put_rgb(FILE *f, uint32_t rgb)
{
	fprintf(f, "rgb(%u,%u,%u)", rgb >> 16 & 255, rgb >> 8 & 255, rgb & 255);
}

static void svg_frame(FILE *f, const struct flame *F, const struct layout *L, uint32_t node,
		      double x, double w, double y, uint64_t total)
{
	const struct node *nd = &F->nodes[node];
	const struct frame *fr = &F->frames[nd->frame];
	char dur[32];
	glass_fmt_dur(dur, sizeof(dur), L->incl[node]);
	fputs("<g><title>", f);
	xml_put(f, F->str + fr->label, fr->len);
	fprintf(f, "&#10;%s (%.2f%%)", dur,
		total ? 100.0 * (double)L->incl[node] / (double)total : 0.0);
	if (fr->kind != KIND_ROOT && fr->kind != KIND_THREAD) {
		char cnt[32];
		glass_fmt_count(cnt, sizeof(cnt), nd->calls);
		fprintf(f, ", %s %s%s", cnt, fr->gen ? "run" : "call", nd->calls == 1 ? "" : "s");
		if (nd->errors) {
			glass_fmt_count(cnt, sizeof(cnt), nd->errors);
			fprintf(f, ", %s error%s", cnt, nd->errors == 1 ? "" : "s");
		}
	}
	if (F->value == FLAME_WALL && fr->kind != KIND_ROOT && L->incl[node] != nd->self_ns) {
		glass_fmt_dur(dur, sizeof(dur), nd->self_ns);
		fprintf(f, ", self %s", dur);
	}
	if (fr->dlen) {
		fputs("&#10;", f);
		xml_put(f, F->str + fr->detail, fr->dlen);
	}
	fprintf(f, "</title><rect x=\"%.3f\" y=\"%.0f\" width=\"%.3f\" height=\"%d\" fill=\"", x, y,
		w, SVG_FRAME_H - 1);
	put_rgb(f, fr->rgb);
	fprintf(f, "\" rx=\"2\" ry=\"2\"/><text x=\"%.3f\" y=\"%.1f\">", x + 3, y + 11.5);
	int cut;
	size_t k = fit_label(F->str + fr->label, fr->len, w, &cut);
	xml_put(f, F->str + fr->label, k);
	if (cut)
		fputs("..", f);
	fputs("</text></g>\n", f);
}

/* Walks frames at least min_px wide: depth-first, children left to right in name order.
 * With f NULL only measures the deepest level drawn. */
static int svg_walk(FILE *f, const struct flame *F, const struct layout *L, double scale,
		    double min_px, double height, uint64_t total, unsigned *maxdepth)
{
	struct walk *w = NULL;
	size_t n = 0, cap = 0;
	double full = (double)L->incl[0] * scale;
	if (full < min_px)
		return 0;
	if (f)
		svg_frame(f, F, L, 0, SVG_XPAD, full, height - SVG_BOTTOM - SVG_FRAME_H, total);
	int rc = walk_push(&w, &n, &cap, (struct walk){0, L->off[0], 0, SVG_XPAD});
	while (!rc && n) {
		struct walk *t = &w[n - 1];
		if (t->next == L->off[t->node + 1]) {
			n--;
			continue;
		}
		uint32_t c = L->kid[t->next++];
		double x = t->x, cw = (double)L->incl[c] * scale;
		t->x += cw;
		if (cw < min_px)
			continue;
		if (n > *maxdepth && !f)
			*maxdepth = (unsigned)n;
		if (f)
			svg_frame(f, F, L, c, x, cw,
				  height - SVG_BOTTOM - (double)(n + 1) * SVG_FRAME_H, total);
		rc = walk_push(&w, &n, &cap, (struct walk){c, L->off[c], 0, x});
	}
	free(w);
	return rc;
}

static void svg_legend(FILE *f, const struct flame *F, unsigned width)
{
	static const struct {
		int kind;
		const char *name;
	} kinds[] = {{GLASS_KIND_PYTHON, "Python (hue by module)"},
		     {GLASS_KIND_DB, "database"},
		     {GLASS_KIND_HTTP_SERVER, "HTTP served"},
		     {GLASS_KIND_HTTP_CLIENT, "HTTP request"},
		     {GLASS_KIND_NET, "network"}};
	int present[5] = {0};
	for (size_t i = 0; i < F->nframes; i++)
		for (size_t k = 0; k < 5; k++)
			if (F->frames[i].kind == kinds[k].kind)
				present[k] = 1;
	double x = SVG_XPAD;
	for (size_t k = 0; k < 5; k++) {
		if (!present[k])
			continue;
		uint32_t rgb = frame_color(kinds[k].kind, "", "", 0);
		fprintf(f, "<rect x=\"%.0f\" y=\"%d\" width=\"10\" height=\"10\" fill=\"", x,
			SVG_TOP - 16);
		put_rgb(f, rgb);
		fprintf(f, "\"/><text class=\"legend\" x=\"%.0f\" y=\"%d\">%s</text>\n", x + 14,
			SVG_TOP - 7, kinds[k].name);
		x += 14 + SVG_CHAR_W * (double)strlen(kinds[k].name) + 16;
		(void)width;
	}
}

int flame_write_svg(FILE *f, const struct flame *F, const struct flame_svg_opts *o)
{
	struct layout L = {0};
	if (layout_build(F, &L) < 0)
		return -1;
	unsigned width = o && o->width ? o->width : 1200;
	double min_px = o && o->min_px > 0 ? o->min_px : 0.1;
	uint64_t total = L.incl[0];
	double scale = total ? (double)(width - 2 * SVG_XPAD) / (double)total : 0;
	unsigned maxdepth = 0;
	int rc = svg_walk(NULL, F, &L, scale, min_px, 0, total, &maxdepth);
	double height = SVG_TOP + (double)(maxdepth + 1) * SVG_FRAME_H + SVG_BOTTOM;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%u\" height=\"%.0f\" viewBox=\"0 0 %u %.0f\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<!-- glass-report flamegraph: click a frame to zoom, Ctrl-F to search -->\n"
		"<style type=\"text/css\">\n%s</style>\n",
		width, height, width, height, svg_style);
	fprintf(f,
		"<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%.0f\" fill=\"rgb(250,250,250)\"/>\n",
		width, height);
	fprintf(f, "<text id=\"title\" x=\"%.1f\" y=\"24\">", width / 2.0);
	xml_puts(f, o && o->title ? o->title : "Flame graph");
	fputs("</text>\n", f);
	if (o && o->subtitle) {
		fprintf(f, "<text id=\"subtitle\" x=\"%.1f\" y=\"42\">", width / 2.0);
		xml_puts(f, o->subtitle);
		fputs("</text>\n", f);
	}
	svg_legend(f, F, width);
	fprintf(f,
		"<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" x=\"%u\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%.0f\"> </text>\n"
		"<text id=\"matched\" x=\"%u\" y=\"%.0f\"> </text>\n",
		SVG_XPAD, width - SVG_XPAD, SVG_XPAD, height - 12, width - SVG_XPAD, height - 12);
	fputs("<g id=\"frames\">\n", f);
	if (!rc)
		rc = svg_walk(f, F, &L, scale, min_px, height, total, &maxdepth);
	/* the script last: it runs once the frames exist, in an SVG document or inline in HTML */
	fprintf(
	    f,
	    "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n%s"
	    "(function () {\n"
	    "  var me = document.currentScript;\n"
	    "  init(me && me.ownerSVGElement ? me.ownerSVGElement : document.documentElement);\n"
	    "})();\n"
	    "]]></script>\n</svg>\n",
	    svg_script);
	layout_free(&L);
	return rc < 0 || ferror(f) ? -1 : 0;
}
