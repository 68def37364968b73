/* tools/readahead.c — a thread's records, decoded ahead in a second thread (readahead.h). */
#include "readahead.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * A batch holds records one after another: a header, the header's nfields words, then for
 * each string field (by the record type's table) a length (NIL_LEN: nil) and the bytes. A
 * batch is handed over when it holds RA_BYTES or more, so a record never spans two.
 */
#define RA_BATCHES 4
#define RA_BYTES   (1u << 20)
#define NIL_LEN	   UINT32_MAX
#define SLACK	   (4 * sizeof(uint64_t))
/* a stream shorter than this many chunks is read directly: a thread costs more than it saves */
#define RA_MIN_CHUNKS 2

struct rec_head {
	uint8_t tag, nfields;
	uint16_t strs; /* bit i: field i is a string */
	uint32_t pad;
	uint64_t ts_ns;
};

/* Each batch on a cache line of its own: the helper fills one while the reader reads
 * another, and neither should stall the other's loads. */
struct ra_batch {
	char *p;
	size_t len, cap;
} __attribute__((aligned(64)));

struct glass_readahead {
	struct glass_stream *st;
	int threaded;
	uint16_t strmask[GLASS_REC_MAX_TAG + 1]; /* read by the helper only */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ra_batch b[RA_BATCHES];
	uint64_t head, tail; /* full batches are b[head % N] .. b[(tail - 1) % N] */
	int done;	     /* the helper has published its last batch */
	int stop;	     /* the reader closes: the helper stops at its next batch */
	int oom;	     /* the helper could not grow a batch: the rest is read here */
	int pending;	     /* ... starting with this record, which the helper read */
	struct glass_record rec;
	/* the reader's side, on a line of its own */
	struct ra_batch *cur __attribute__((aligned(64)));
	size_t pos, end; /* end: cur->len, read once */
};

/*
 * Threads runnable on the machine now, this one included: the 4th field of /proc/loadavg
 * ("running/total"), the least of three reads 1 ms apart (a passing spike is not a busy
 * machine). The load average itself lags by a minute: right after a busy spell (recording
 * the session, say) it would keep the helper off on an idle machine. 1 when unreadable.
 */
static long runnable_now(void)
{
	long least = LONG_MAX;
	for (int i = 0; i < 3; i++) {
		if (i)
			usleep(1000);
		FILE *f = fopen("/proc/loadavg", "re");
		long running;
		int ok = f && fscanf(f, "%*f %*f %*f %ld/", &running) == 1;
		if (f)
			fclose(f);
		if (ok && running < least)
			least = running;
	}
	return least == LONG_MAX ? 1 : least;
}

/* GLASS_REPORT_THREADS: 0 (=1: never), 1 (2 or more: always), -1 (unset or "auto"). */
static int env_threads(void)
{
	const char *env = getenv("GLASS_REPORT_THREADS");
	if (!env || !*env || !strcmp(env, "auto"))
		return -1;
	return atoi(env) >= 2;
}

int glass_report_threads(void)
{
	static int decided = -1;
	int d = __atomic_load_n(&decided, __ATOMIC_RELAXED);
	if (d >= 0)
		return d;
	d = env_threads();
	if (d < 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		d = cpus >= 2 && runnable_now() < cpus;
	}
	__atomic_store_n(&decided, d, __ATOMIC_RELAXED);
	return d;
}

static int room(struct ra_batch *b, size_t len, size_t need)
{
	if (likely(len + need <= b->cap))
		return 0;
	size_t cap = b->cap ? b->cap : RA_BYTES + 4096;
	while (cap < len + need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Appends rec to b at *len (b->len is set when the batch is published); -1 when out of
 * memory. */
static int put(struct glass_readahead *ra, struct ra_batch *b, size_t *len,
	       const struct glass_record *r)
{
	unsigned nf = r->nfields < GLASS_REC_MAX_FIELDS ? r->nfields : GLASS_REC_MAX_FIELDS;
	uint16_t strs = ra->strmask[r->tag & GLASS_REC_MAX_TAG];
	size_t need = sizeof(struct rec_head) + nf * sizeof(uint64_t);
	for (unsigned i = 0; strs && i < nf; i++)
		if (strs >> i & 1)
			need += sizeof(uint32_t) + (r->s[i].p ? r->s[i].len : 0);
	/* SLACK: the fixed-size copies below may write (and take may read) four words
	 * past a record's own */
	if (unlikely(room(b, *len, need + SLACK) < 0))
		return -1;
	char *p = b->p + *len;
	struct rec_head h = {
	    .tag = r->tag, .nfields = (uint8_t)nf, .strs = strs, .ts_ns = r->ts_ns};
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	/* calls, returns and generators have at most four fields: a fixed-size copy is a few
	 * moves, where a variable one is a slow `rep movs` */
	if (likely(nf <= 4))
		memcpy(p, r->u, 4 * sizeof(uint64_t));
	else
		memcpy(p, r->u, nf * sizeof(uint64_t));
	p += nf * sizeof(uint64_t);
	for (unsigned i = 0; strs && i < nf; i++) {
		if (!(strs >> i & 1))
			continue;
		uint32_t len = r->s[i].p ? (uint32_t)r->s[i].len : NIL_LEN;
		memcpy(p, &len, sizeof(len));
		p += sizeof(len);
		if (r->s[i].p && r->s[i].len) {
			memcpy(p, r->s[i].p, r->s[i].len);
			p += r->s[i].len;
		}
	}
	*len = (size_t)(p - b->p);
	return 0;
}

static void *helper(void *arg)
{
	struct glass_readahead *ra = arg;
	struct glass_record rec;
	int more = 1;
	while (more) {
		pthread_mutex_lock(&ra->mu);
		while (ra->tail - ra->head == RA_BATCHES && !ra->stop)
			pthread_cond_wait(&ra->cv, &ra->mu);
		int stop = ra->stop;
		pthread_mutex_unlock(&ra->mu);
		if (stop)
			break;
		/* b is ours until published: the reader only looks at [head, tail) */
		struct ra_batch *b = &ra->b[ra->tail % RA_BATCHES];
		size_t len = 0;
		while (len < RA_BYTES && (more = glass_stream_next(ra->st, &rec))) {
			if (put(ra, b, &len, &rec) < 0) {
				/* out of memory: publish what there is; the reader takes the rest from
				 * the stream itself, starting with this record (its strings stay valid:
				 * the stream does not move until the reader calls it) */
				pthread_mutex_lock(&ra->mu);
				ra->oom = 1;
				ra->pending = 1;
				ra->rec = rec;
				b->len = len;
				if (len)
					ra->tail++;
				ra->done = 1;
				pthread_cond_broadcast(&ra->cv);
				pthread_mutex_unlock(&ra->mu);
				return NULL;
			}
		}
		pthread_mutex_lock(&ra->mu);
		b->len = len;
		if (len)
			ra->tail++;
		if (!more)
			ra->done = 1;
		pthread_cond_broadcast(&ra->cv);
		pthread_mutex_unlock(&ra->mu);
	}
	pthread_mutex_lock(&ra->mu);
	ra->done = 1;
	pthread_cond_broadcast(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
	return NULL;
}

struct glass_readahead *glass_readahead_open(struct glass_proc *p, uint32_t tidx)
{
	size_t size = (sizeof(struct glass_readahead) + 63) & ~(size_t)63;
	struct glass_readahead *ra = aligned_alloc(64, size);
	if (!ra)
		return NULL;
	memset(ra, 0, size);
	ra->st = glass_stream_open(p, tidx);
	if (!ra->st) {
		free(ra);
		return NULL;
	}
	if (!glass_report_threads() ||
	    (glass_proc_thread_chunks(p, tidx, NULL) < RA_MIN_CHUNKS && env_threads() != 1))
		return ra;
	for (unsigned t = 0; t <= GLASS_REC_MAX_TAG; t++) {
		const struct glass_record_desc *d = glass_record_desc((uint8_t)t);
		for (unsigned i = 0; d && d->types && d->types[i] && i < GLASS_REC_MAX_FIELDS; i++)
			if (strchr("samb", d->types[i]))
				ra->strmask[t] |= (uint16_t)(1u << i);
	}
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->cv, NULL);
	if (pthread_create(&ra->th, NULL, helper, ra) == 0) {
		ra->threaded = 1;
	} else {
		pthread_mutex_destroy(&ra->mu);
		pthread_cond_destroy(&ra->cv);
	}
	return ra;
}

/* Decodes the record at the reader's position in its batch. */
static void take(struct glass_readahead *ra, struct glass_record *r)
{
	const char *p = ra->cur->p + ra->pos;
	struct rec_head h;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	r->tag = h.tag;
	r->nfields = h.nfields;
	r->ticks = 0; /* not carried: no report reads it */
	r->ts_ns = h.ts_ns;
	if (likely(h.nfields <= 4))
		memcpy(r->u, p, 4 * sizeof(uint64_t));
	else
		memcpy(r->u, p, h.nfields * sizeof(uint64_t));
	p += h.nfields * sizeof(uint64_t);
	for (unsigned i = 0; h.strs && i < h.nfields; i++) {
		if (!(h.strs >> i & 1))
			continue;
		uint32_t len;
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		r->s[i].p = len == NIL_LEN ? NULL : p;
		r->s[i].len = len == NIL_LEN ? 0 : len;
		if (len != NIL_LEN)
			p += len;
	}
	ra->pos = (size_t)(p - ra->cur->p);
}

int glass_readahead_next(struct glass_readahead *ra, struct glass_record *rec)
{
	if (!ra->threaded)
		return glass_stream_next(ra->st, rec);
	if (likely(ra->pos < ra->end)) {
		take(ra, rec);
		return 1;
	}
	pthread_mutex_lock(&ra->mu);
	if (ra->cur) { /* give the batch back */
		ra->cur = NULL;
		ra->pos = ra->end = 0;
		ra->head++;
		pthread_cond_broadcast(&ra->cv);
	}
	while (ra->head == ra->tail && !ra->done)
		pthread_cond_wait(&ra->cv, &ra->mu);
	int empty = ra->head == ra->tail, oom = ra->oom;
	if (!empty) {
		ra->cur = &ra->b[ra->head % RA_BATCHES];
		ra->pos = 0;
		ra->end = ra->cur->len;
	}
	pthread_mutex_unlock(&ra->mu);
	if (!empty) {
		take(ra, rec);
		return 1;
	}
	/* the helper is done; after an out-of-memory stop, the stream goes on here */
	if (oom) {
		pthread_join(ra->th, NULL);
		ra->threaded = 0;
		pthread_mutex_destroy(&ra->mu);
		pthread_cond_destroy(&ra->cv);
		if (ra->pending) {
			ra->pending = 0;
			*rec = ra->rec;
			return 1;
		}
		return glass_stream_next(ra->st, rec);
	}
	return 0;
}

struct glass_stream *glass_readahead_stream(struct glass_readahead *ra)
{
	return ra->st; /* the helper's writes are seen: "done" was read under the lock */
}

void glass_readahead_close(struct glass_readahead *ra)
{
	if (!ra)
		return;
	if (ra->threaded) {
		pthread_mutex_lock(&ra->mu);
		ra->stop = 1;
		pthread_cond_broadcast(&ra->cv);
		pthread_mutex_unlock(&ra->mu);
		pthread_join(ra->th, NULL);
		pthread_mutex_destroy(&ra->mu);
		pthread_cond_destroy(&ra->cv);
	}
	for (unsigned i = 0; i < RA_BATCHES; i++)
		free(ra->b[i].p);
	glass_stream_close(ra->st);
	free(ra);
}
