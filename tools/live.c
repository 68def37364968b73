/* tools/live.c — incremental reader of a session being recorded (see live.h).
 *
 * Positions: per thread, the chunk being read (seq), the byte offset of the next record in it
 * and the clock (ticks) there; per process, the offset of the next meta record. A poll reads
 * from those offsets to the first zero tag byte (the writer stores a record's tag last, so what
 * is past it is not written yet), and moves on to the next chunk once the current one is sealed
 * and read to its `used` end. The descriptor of a thread's open .raw chunk stays open, so when
 * glass-compress replaces it by the .zst the rest is still read from the same file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <zstd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_RDTSC 1
#endif

#include "live.h"
#include "recorder/format.h"
#include "recorder/reader.h"

#define BLOCK (256u << 10)	   /* bytes read at a time */
#define MAX_RECORD (8u << 20)	   /* a record longer than this is damage */
#define MAX_ZST_CHUNK (256u << 20) /* as the reader's limit */
#define SEQ_BITS 36
#define NWARN 32

struct lthread {
	uint32_t tidx;
	uint32_t seq; /* chunk being read, from 1 */
	int fd;	      /* its .raw file, -1 when not open */
	uint8_t *zbody; /* a .zst chunk decompressed whole (sealed: read once) */
	size_t zlen;
	uint64_t off; /* next record, from the start of the chunk file */
	uint64_t ticks;
	int have_header;
	int done; /* its last chunk was read */
	uint64_t emitted; /* spans completed */
	uint32_t misses; /* polls the next chunk was not there */
	struct glass_spans *b;
};

struct code_tab {
	struct glass_code_def *v; /* sorted by nothing: index by id through idx */
	size_t n, cap;
	uint32_t *idx; /* id -> position + 1 */
	size_t idx_len;
};

struct lproc {
	struct glass_live_proc pub;
	char dir[4200];
	uint32_t image;
	int meta_fd;
	uint64_t meta_off;
	struct glass_meta_header hdr;
	struct code_tab codes;
	char *strings; /* arena of code strings: one malloc per code keeps it simple */
	struct lthread *th;
	size_t nth;
	/* clock: unix_ns = base + (ticks - anchor) * ns_per_tick */
	uint64_t anchor, base_ns;
	double ns_per_tick;
	uint64_t hi_tsc, hi_mono; /* the latest chunk clock sample */
	char *command;
	char **argv;
	char *executable, *python;
	uint64_t stream_hash;
	int drained; /* ended and every thread read to its end */
};

struct glass_live {
	char dir[4096];
	glass_span_fn on_end;
	void *ctx;
	struct glass_live_cursor cur;
	struct lthread *cur_thread;
	struct lproc **p;
	size_t np;
	uint8_t *buf;
	size_t cap;
	ZSTD_DCtx *dctx;
	uint64_t first_ns, last_ns, bytes, session_id;
	int have_id;
	char *warn[NWARN];
	size_t nwarn, warn_head;
};

static void lwarn(struct glass_live *L, const char *fmt, ...)
{
	if (L->nwarn == NWARN)
		return;
	char *m = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (m)
		L->warn[(L->warn_head + L->nwarn++) % NWARN] = m;
}

const char *glass_live_warning(struct glass_live *L)
{
	static char *last;
	free(last);
	last = NULL;
	if (!L->nwarn)
		return NULL;
	last = L->warn[L->warn_head];
	L->warn_head = (L->warn_head + 1) % NWARN;
	L->nwarn--;
	return last;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int ensure(struct glass_live *L, size_t want)
{
	if (L->cap >= want)
		return 0;
	size_t n = L->cap ? L->cap : BLOCK;
	while (n < want)
		n *= 2;
	uint8_t *b = realloc(L->buf, n + 1);
	if (!b)
		return -1;
	L->buf = b;
	L->cap = n;
	return 0;
}

/* ---- clock ---------------------------------------------------------------------------------- */

static void clock_update(struct lproc *P)
{
	const struct glass_meta_header *h = &P->hdr;
	if (h->clock == GLASS_CLOCK_MONO) {
		P->anchor = h->start_mono_ns;
		P->base_ns = h->start_realtime_ns;
		P->ns_per_tick = 1.0;
		return;
	}
	uint64_t t2 = 0, m2 = 0;
	if ((h->cal_seq & 1) == 0 && h->cal_tsc > h->start_tsc) {
		t2 = h->cal_tsc;
		m2 = h->cal_mono_ns;
	}
	if (h->end_tsc > t2 && h->end_mono_ns) {
		t2 = h->end_tsc;
		m2 = h->end_mono_ns;
	}
	if (P->hi_tsc > t2 && P->hi_mono) {
		t2 = P->hi_tsc;
		m2 = P->hi_mono;
	}
#ifdef HAVE_RDTSC
	/* we run on the same machine: a sample of our own now is the widest base there is (the
	 * writer's samples may be microseconds apart at first, a poor slope) */
	if (h->state == GLASS_PROC_RUNNING) {
		struct timespec ts;
		uint64_t tsc = __rdtsc();
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t mono = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (tsc > t2 && mono > m2) {
			t2 = tsc;
			m2 = mono;
		}
	}
#endif
	double r = 1.0;
	if (t2 > h->start_tsc && m2 > h->start_mono_ns)
		r = (double)(m2 - h->start_mono_ns) / (double)(t2 - h->start_tsc);
	if (!(r > 1e-3 && r < 1e3))
		r = 1.0;
	P->anchor = h->start_tsc;
	P->base_ns = h->start_realtime_ns;
	P->ns_per_tick = r;
}

static inline uint64_t to_unix(const struct lproc *P, uint64_t ticks)
{
	double d = ((double)(int64_t)(ticks - P->anchor)) * P->ns_per_tick;
	return P->base_ns + (uint64_t)(int64_t)d;
}

/* ---- code table ----------------------------------------------------------------------------- */

static const struct glass_code_def *code_lookup(void *ctx, uint32_t id)
{
	struct lproc *P = ctx;
	if (id < P->codes.idx_len && P->codes.idx[id])
		return &P->codes.v[P->codes.idx[id] - 1];
	return NULL;
}

static char *dup_str(const struct glass_str *s)
{
	char *c = malloc(s->p ? s->len + 1 : 1);
	if (!c)
		return NULL;
	if (s->p)
		memcpy(c, s->p, s->len);
	c[s->p ? s->len : 0] = 0;
	return c;
}

static void code_add(struct lproc *P, const struct glass_record *rec)
{
	struct code_tab *t = &P->codes;
	if (rec->u[0] >= (1u << 26))
		return; /* ids are dense and small; a huge one is damage */
	uint32_t id = (uint32_t)rec->u[0];
	if (id < t->idx_len && t->idx[id])
		return; /* first definition wins */
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct glass_code_def *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return;
		t->v = v;
		t->cap = cap;
	}
	if (id >= t->idx_len) {
		size_t n = t->idx_len ? t->idx_len : 1024;
		while (n <= id)
			n *= 2;
		uint32_t *x = realloc(t->idx, n * sizeof(*x));
		if (!x)
			return;
		memset(x + t->idx_len, 0, (n - t->idx_len) * sizeof(*x));
		t->idx = x;
		t->idx_len = n;
	}
	struct glass_code_def *c = &t->v[t->n];
	c->id = id;
	c->qualname = dup_str(&rec->s[1]);
	c->module = dup_str(&rec->s[2]);
	c->filename = dup_str(&rec->s[3]);
	c->line = (uint32_t)rec->u[4];
	c->flags = (uint32_t)rec->u[5];
	if (!c->qualname || !c->module || !c->filename) {
		free((char *)c->qualname);
		free((char *)c->module);
		free((char *)c->filename);
		return;
	}
	t->idx[id] = (uint32_t)++t->n;
}

/* ---- processes ------------------------------------------------------------------------------ */

static int alive(uint32_t pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void proc_free(struct lproc *P)
{
	if (!P)
		return;
	if (P->meta_fd >= 0)
		close(P->meta_fd);
	for (size_t i = 0; i < P->nth; i++) {
		if (P->th[i].fd >= 0)
			close(P->th[i].fd);
		free(P->th[i].zbody);
		glass_spans_free(P->th[i].b);
	}
	free(P->th);
	for (size_t i = 0; i < P->codes.n; i++) {
		free((char *)P->codes.v[i].qualname);
		free((char *)P->codes.v[i].module);
		free((char *)P->codes.v[i].filename);
	}
	free(P->codes.v);
	free(P->codes.idx);
	free(P->command);
	for (uint32_t i = 0; P->argv && i < P->pub.argc; i++)
		free(P->argv[i]);
	free(P->argv);
	free(P->executable);
	free(P->python);
	free(P);
}

/* Reads new meta records (CODE, PROCESS). */
static void read_meta(struct glass_live *L, struct lproc *P)
{
	for (;;) {
		if (ensure(L, BLOCK))
			return;
		ssize_t got = pread(P->meta_fd, L->buf, BLOCK, (off_t)P->meta_off);
		if (got <= 0)
			return;
		size_t pos = 0, last = 0;
		struct glass_record rec;
		int r;
		while ((r = glass_decode_record(L->buf, (size_t)got, &pos, NULL, &rec)) == 1) {
			last = pos;
			if (rec.tag == GLASS_REC_CODE)
				code_add(P, &rec);
			else if (rec.tag == GLASS_REC_PROCESS && !P->command) {
				size_t len = 0;
				for (uint32_t i = 0; i < rec.u[7] && i < 64; i++) {
					struct glass_str s;
					if (glass_record_array_item(&rec, 7, i, &s) == 0 && s.p)
						len += s.len + 1;
				}
				char *c = malloc(len + 1), *q = c;
				if (c) {
					for (uint32_t i = 0; i < rec.u[7] && i < 64; i++) {
						struct glass_str s;
						if (glass_record_array_item(&rec, 7, i, &s) == 0 &&
						    s.p) {
							if (q != c)
								*q++ = ' ';
							memcpy(q, s.p, s.len);
							q += s.len;
						}
					}
					*q = 0;
					P->command = c;
					P->pub.command = c;
				}
				uint32_t argc = rec.u[7] < 4096 ? (uint32_t)rec.u[7] : 4096;
				P->argv = calloc(argc + 1, sizeof(char *));
				for (uint32_t i = 0; P->argv && i < argc; i++) {
					struct glass_str s = {0};
					glass_record_array_item(&rec, 7, i, &s);
					P->argv[i] = dup_str(&s);
					if (!P->argv[i])
						break;
					P->pub.argc = i + 1;
				}
				P->pub.argv = (const char *const *)P->argv;
				P->pub.ppid = (uint32_t)rec.u[1];
				P->python = dup_str(&rec.s[3]);
				P->executable = dup_str(&rec.s[4]);
				P->pub.python = P->python ? P->python : "";
				P->pub.executable = P->executable ? P->executable : "";
			}
		}
		P->meta_off += last;
		if (r == 0 || (size_t)got < BLOCK || !last)
			return; /* the end of what is written (or damage: tried again next poll) */
	}
}

static struct lproc *proc_open(struct glass_live *L, const char *name)
{
	uint32_t pid, image;
	if (sscanf(name, "p%u.%u", &pid, &image) != 2)
		return NULL;
	struct lproc *P = calloc(1, sizeof(*P));
	if (!P)
		return NULL;
	P->meta_fd = -1;
	snprintf(P->dir, sizeof(P->dir), "%s/%s", L->dir, name);
	snprintf(P->pub.key, sizeof(P->pub.key), "p%u.%u", pid, image);
	P->pub.pid = pid;
	P->pub.command = "";
	P->pub.python = P->pub.executable = "";
	P->image = image;
	char path[4300];
	snprintf(path, sizeof(path), "%s/meta", P->dir);
	P->meta_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (P->meta_fd < 0 || pread(P->meta_fd, &P->hdr, sizeof(P->hdr), 0) != sizeof(P->hdr) ||
	    memcmp(P->hdr.magic, GLASS_META_MAGIC, 8) || P->hdr.header_size < 128) {
		proc_free(P); /* not (yet) a whole meta file: tried again next poll */
		return NULL;
	}
	P->meta_off = P->hdr.header_size;
	P->stream_hash = fnv1a(0xcbf29ce484222325ull, P->pub.key, strlen(P->pub.key));
	clock_update(P);
	return P;
}

static int proc_order(const void *a, const void *b)
{
	const struct lproc *x = *(struct lproc *const *)a, *y = *(struct lproc *const *)b;
	if (x->hdr.start_realtime_ns != y->hdr.start_realtime_ns)
		return x->hdr.start_realtime_ns < y->hdr.start_realtime_ns ? -1 : 1;
	if (x->pub.pid != y->pub.pid)
		return x->pub.pid < y->pub.pid ? -1 : 1;
	return x->image < y->image ? -1 : x->image > y->image;
}

/* New process directories. */
static void scan_procs(struct glass_live *L)
{
	DIR *d = opendir(L->dir);
	if (!d)
		return;
	struct dirent *e;
	int added = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] != 'p')
			continue;
		char key[32];
		uint32_t pid, image;
		if (sscanf(e->d_name, "p%u.%u", &pid, &image) != 2)
			continue;
		snprintf(key, sizeof(key), "p%u.%u", pid, image);
		if (strcmp(key, e->d_name))
			continue;
		int known = 0;
		for (size_t i = 0; i < L->np && !known; i++)
			known = !strcmp(L->p[i]->pub.key, key);
		if (known)
			continue;
		struct lproc *P = proc_open(L, e->d_name);
		if (!P)
			continue;
		struct lproc **v = realloc(L->p, (L->np + 1) * sizeof(*v));
		if (!v) {
			proc_free(P);
			break;
		}
		L->p = v;
		L->p[L->np++] = P;
		added = 1;
	}
	closedir(d);
	if (added) {
		qsort(L->p, L->np, sizeof(*L->p), proc_order);
		if (!L->have_id && L->np) {
			const struct glass_meta_header *m = &L->p[0]->hdr;
			uint64_t h = 0xcbf29ce484222325ull;
			h = fnv1a(h, &m->pid, sizeof(m->pid));
			h = fnv1a(h, &m->start_realtime_ns, sizeof(m->start_realtime_ns));
			h = fnv1a(h, &m->start_tsc, sizeof(m->start_tsc));
			L->session_id = h;
			L->have_id = 1;
		}
	}
}

/* ---- threads -------------------------------------------------------------------------------- */

static void chunk_path(const struct lproc *P, uint32_t tidx, uint32_t seq, const char *ext,
		       char *buf, size_t len)
{
	snprintf(buf, len, "%s/t%u.%u.%s", P->dir, tidx, seq, ext);
}

static void thread_next_chunk(struct lthread *T)
{
	if (T->fd >= 0)
		close(T->fd);
	T->fd = -1;
	free(T->zbody);
	T->zbody = NULL;
	T->zlen = 0;
	T->seq++;
	T->off = 0;
	T->have_header = 0;
	T->misses = 0;
}

/* Decompresses a whole .zst chunk (it is sealed: read once). 0 or -1. */
static int load_zst(struct glass_live *L, struct lthread *T, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || sb.st_size <= 0 || (uint64_t)sb.st_size > MAX_ZST_CHUNK) {
		close(fd);
		return -1;
	}
	uint8_t *z = malloc((size_t)sb.st_size);
	ssize_t got = z ? pread(fd, z, (size_t)sb.st_size, 0) : -1;
	close(fd);
	if (got != sb.st_size) {
		free(z);
		return -1;
	}
	unsigned long long size = ZSTD_getFrameContentSize(z, (size_t)got);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR ||
	    size > MAX_ZST_CHUNK) {
		free(z);
		return -1;
	}
	if (!L->dctx)
		L->dctx = ZSTD_createDCtx();
	uint8_t *body = malloc((size_t)size + 1);
	size_t r = body && L->dctx
		       ? ZSTD_decompressDCtx(L->dctx, body, (size_t)size, z, (size_t)got)
		       : (size_t)-1;
	free(z);
	if (!body || ZSTD_isError(r)) {
		free(body);
		return -1;
	}
	T->zbody = body;
	T->zlen = r;
	return 0;
}

static void feed(struct glass_live *L, struct lproc *P, struct lthread *T,
		 struct glass_record *rec)
{
	rec->ts_ns = 0;
	if (rec->ticks) { /* a timed record */
		rec->ts_ns = to_unix(P, rec->ticks);
		if (rec->ts_ns > L->last_ns)
			L->last_ns = rec->ts_ns;
		if (!L->first_ns || rec->ts_ns < L->first_ns)
			L->first_ns = rec->ts_ns;
	}
	L->cur.key = P->pub.key;
	L->cur.tidx = T->tidx;
	L->cur_thread = T;
	glass_spans_feed(T->b, rec);
}

/* Every completed span passes here: its ordinal in its thread, then the caller's callback. */
static void on_end_counted(void *ctx, const struct glass_span *sp)
{
	struct glass_live *L = ctx;
	L->cur.nth = ++L->cur_thread->emitted;
	L->on_end(L->ctx, sp);
}

const struct glass_live_cursor *glass_live_cursor(const struct glass_live *L)
{
	return &L->cur;
}

/* Reads what is new in thread T; returns the number of records. */
static long read_thread(struct glass_live *L, struct lproc *P, struct lthread *T, int proc_ended)
{
	long n = 0;
	char path[4400];
	while (!T->done) {
		struct glass_chunk_header h;
		if (!T->zbody && T->fd < 0) {
			chunk_path(P, T->tidx, T->seq, "raw", path, sizeof(path));
			T->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (T->fd < 0) {
				chunk_path(P, T->tidx, T->seq, "zst", path, sizeof(path));
				if (load_zst(L, T, path) < 0) {
					/* not written yet; or lost (a gap): look one further */
					char next[4400];
					struct stat sb;
					int later = 0;
					for (int k = 1; k <= 4 && !later; k++) {
						chunk_path(P, T->tidx, T->seq + k, "raw", next,
							   sizeof(next));
						later = stat(next, &sb) == 0;
						chunk_path(P, T->tidx, T->seq + k, "zst", next,
							   sizeof(next));
						later = later || stat(next, &sb) == 0;
						if (later) {
							lwarn(L, "%s t%u.%u: chunk missing; skipped",
							      P->pub.key, T->tidx, T->seq);
							thread_next_chunk(T);
						}
					}
					if (!later) {
						if (proc_ended && ++T->misses > 2)
							T->done = 1; /* it will never come */
						return n;
					}
					continue;
				}
			}
		}
		/* the header: `used` and flags change while the chunk is open */
		if (T->zbody) {
			if (T->zlen < sizeof(h)) {
				thread_next_chunk(T);
				continue;
			}
			memcpy(&h, T->zbody, sizeof(h));
		} else if (pread(T->fd, &h, sizeof(h), 0) != sizeof(h)) {
			return n; /* being created */
		}
		if (memcmp(h.magic, GLASS_CHUNK_MAGIC, 4) || h.tidx != T->tidx || h.seq != T->seq) {
			lwarn(L, "%s t%u.%u: not a chunk of this thread; skipped", P->pub.key,
			      T->tidx, T->seq);
			thread_next_chunk(T);
			continue;
		}
		if (!T->have_header) {
			T->have_header = 1;
			T->off = sizeof(h);
			T->ticks = h.base_tsc;
			if (h.open_mono_ns && h.base_tsc > P->hi_tsc) {
				P->hi_tsc = h.base_tsc;
				P->hi_mono = h.open_mono_ns;
				clock_update(P);
			}
			if (h.tid)
				glass_spans_set_thread(T->b, P->pub.pid, h.tid);
		}
		int sealed = (h.flags & GLASS_CHUNK_SEALED) || T->zbody;
		uint64_t end = sealed && h.used ? h.used : UINT64_MAX;
		int stop = 0; /* zero tag or damage: the end of what is there now */
		while (!stop && T->off < end) {
			const uint8_t *data;
			size_t got;
			if (T->zbody) {
				data = T->zbody + T->off;
				got = (size_t)((end < T->zlen ? end : T->zlen) - T->off);
				if (T->off >= T->zlen)
					break;
			} else {
				size_t want = BLOCK;
				if (end != UINT64_MAX && end - T->off < want)
					want = (size_t)(end - T->off);
				if (ensure(L, want))
					return n;
				ssize_t g = pread(T->fd, L->buf, want, (off_t)T->off);
				if (g <= 0)
					break;
				data = L->buf;
				got = (size_t)g;
			}
			size_t pos = 0, last = 0;
			struct glass_record rec;
			int r;
			uint64_t ticks = T->ticks;
			while ((r = glass_decode_record(data, got, &pos, &ticks, &rec)) == 1) {
				last = pos;
				T->ticks = ticks;
				feed(L, P, T, &rec);
				n++;
			}
			T->off += last;
			L->bytes += last;
			if (r == 0 && pos < got) {
				stop = 1; /* a zero tag: nothing more written */
			} else if (r < 0) {
				int cut = !T->zbody && got == BLOCK; /* by our block: read on */
				if (!cut || !last) {
					if (!sealed)
						stop = 1; /* retried next poll */
					else {
						lwarn(L,
						      "%s t%u.%u: undecodable bytes at %llu; rest "
						      "of the chunk skipped",
						      P->pub.key, T->tidx, T->seq,
						      (unsigned long long)T->off);
						T->off = end;
					}
				}
			} else if (got < BLOCK && !T->zbody) {
				stop = !sealed || T->off >= end;
				if (!sealed)
					stop = 1;
			}
			if (T->zbody && r == 0 && pos >= got)
				break;
		}
		if (sealed && (T->off >= end || stop || T->zbody)) {
			if (h.flags & GLASS_CHUNK_LAST) {
				T->done = 1;
				break;
			}
			thread_next_chunk(T);
			continue;
		}
		/* an open chunk (or its writer died: once the process has ended, what is there
		 * is all there will be) */
		if (proc_ended && !sealed) {
			char next[4400];
			struct stat sb;
			chunk_path(P, T->tidx, T->seq + 1, "raw", next, sizeof(next));
			int later = stat(next, &sb) == 0;
			chunk_path(P, T->tidx, T->seq + 1, "zst", next, sizeof(next));
			later = later || stat(next, &sb) == 0;
			if (later) {
				thread_next_chunk(T);
				continue;
			}
			if (++T->misses > 2)
				T->done = 1;
		}
		break;
	}
	if (T->done && T->b) {
		L->cur.key = P->pub.key;
		L->cur.tidx = T->tidx;
		L->cur_thread = T;
		glass_spans_finish(T->b);
		glass_spans_free(T->b);
		T->b = NULL;
		if (T->fd >= 0)
			close(T->fd);
		T->fd = -1;
		free(T->zbody);
		T->zbody = NULL;
	}
	return n;
}

static int add_thread(struct glass_live *L, struct lproc *P, uint32_t tidx)
{
	struct lthread *v = realloc(P->th, (P->nth + 1) * sizeof(*v));
	if (!v)
		return -1;
	P->th = v;
	struct lthread *T = &P->th[P->nth];
	memset(T, 0, sizeof(*T));
	T->tidx = tidx;
	T->seq = 1;
	T->fd = -1;
	struct glass_span_ids ids = {
	    .stream = ((P->stream_hash ^ (tidx * 0x9e3779b97f4a7c15ull)) & ((1ull << 27) - 1)) | 1,
	    .seq_bits = SEQ_BITS,
	    .trace_hi = L->session_id,
	};
	T->b = glass_spans_new(NULL, tidx, ids, NULL, on_end_counted, L);
	if (!T->b)
		return -1;
	glass_spans_set_lookup(T->b, code_lookup, P);
	glass_spans_set_thread(T->b, P->pub.pid, 0);
	P->nth++;
	return 0;
}

/* ---- public --------------------------------------------------------------------------------- */

struct glass_live *glass_live_open(const char *dir, glass_span_fn on_end, void *ctx)
{
	struct stat sb;
	char sf[4200];
	snprintf(sf, sizeof(sf), "%s/%s", dir, GLASS_SESSION_FILE);
	if (stat(sf, &sb) < 0) {
		fprintf(stderr, "glass-report: %s is not a glass session (no %s file)\n", dir,
			GLASS_SESSION_FILE);
		return NULL;
	}
	struct glass_live *L = calloc(1, sizeof(*L));
	if (!L)
		return NULL;
	snprintf(L->dir, sizeof(L->dir), "%s", dir);
	L->on_end = on_end;
	L->ctx = ctx;
	return L;
}

long glass_live_poll(struct glass_live *L)
{
	scan_procs(L);
	long n = 0;
	for (size_t i = 0; i < L->np; i++) {
		struct lproc *P = L->p[i];
		if (P->drained)
			continue;
		struct glass_meta_header h;
		if (pread(P->meta_fd, &h, 128, 0) == 128)
			memcpy(&P->hdr, &h, 128);
		int ended = P->hdr.state != GLASS_PROC_RUNNING || !alive(P->hdr.pid);
		P->pub.lost_events = P->hdr.lost_events;
		P->pub.lost_chunks = P->hdr.lost_chunks;
		P->pub.threads = P->hdr.threads;
		clock_update(P);
		read_meta(L, P);
		for (uint32_t t = (uint32_t)P->nth + 1; t <= P->hdr.threads && t < 1000000; t++)
			if (add_thread(L, P, t) < 0)
				break;
		int all_done = 1;
		for (size_t k = 0; k < P->nth; k++) {
			n += read_thread(L, P, &P->th[k], ended);
			all_done &= P->th[k].done;
		}
		P->pub.ended = ended;
		if (ended && all_done) {
			read_meta(L, P);
			P->drained = 1;
		}
	}
	return n;
}

int glass_live_finished(const struct glass_live *L)
{
	if (!L->np)
		return 0;
	for (size_t i = 0; i < L->np; i++)
		if (!L->p[i]->drained)
			return 0;
	/* a process that was just forked may not have its directory yet: the parent's FORK is
	 * written before the child runs, so an ended parent means the children are listed */
	return 1;
}

size_t glass_live_nprocs(const struct glass_live *L)
{
	return L->np;
}

const struct glass_live_proc *glass_live_proc(const struct glass_live *L, size_t i)
{
	return &L->p[i]->pub;
}

uint64_t glass_live_first_ns(const struct glass_live *L)
{
	return L->first_ns;
}

uint64_t glass_live_last_ns(const struct glass_live *L)
{
	return L->last_ns;
}

uint64_t glass_live_bytes(const struct glass_live *L)
{
	return L->bytes;
}

uint64_t glass_live_session_id(const struct glass_live *L)
{
	return L->session_id;
}

const char *glass_live_dir(const struct glass_live *L)
{
	return L->dir;
}

void glass_live_close(struct glass_live *L)
{
	if (!L)
		return;
	for (size_t i = 0; i < L->np; i++)
		proc_free(L->p[i]);
	free(L->p);
	free(L->buf);
	ZSTD_freeDCtx(L->dctx);
	for (size_t i = 0; i < L->nwarn; i++)
		free(L->warn[(L->warn_head + i) % NWARN]);
	free(L);
}
