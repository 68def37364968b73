/* recorder/writer.h — per-thread, file-backed chunk writer (preload side).
 *
 * A process image owns one directory p<pid>.<n> with a meta file; each thread writes records
 * into its own mmap'd chunk files, so the hot path is a bounds check, a few stores and no
 * syscall. Records are msgpack, packed with msgpack-c into the mapping (see format.h).
 */
#ifndef GLASS_WRITER_H
#define GLASS_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "format.h"
#include "mp-cursor.h"

#define GLASS_LIKELY(x) __builtin_expect(!!(x), 1)
#define GLASS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A process image's recording: its directory, meta file and shared counters. */
struct glass_proc_writer {
	char dir[4096];
	char key[32]; /* "p<pid>.<n>" */
	char meta_path[4200];
	int meta_ready; /* the meta file exists; it is opened per append, never held open (a
			 * descriptor of ours would show in the host's /proc/self/fd) */
	struct glass_meta_header *hdr; /* mapped shared: counters survive SIGKILL */
	uint32_t chunk_size;
	uint32_t pid;
	uint64_t max_bytes; /* cap on this process's chunk files (0: none); beyond it records are
			     * dropped and counted, as on a full disk */
	uint64_t chunk_bytes; /* chunk bytes handed out so far, atomic */
	int drop_noted; /* on_first_drop was called */
	/* called once, on the first record dropped in this process (err: errno, or 0 for the cap) */
	void (*on_first_drop)(struct glass_proc_writer *w, int err);
	int failed; /* persistent I/O failure: tracing was switched off once */
};

/* One thread's stream. Lives in initial-exec TLS; only its own thread touches it. */
struct glass_stream_writer {
	uint8_t *cur; /* next record goes here */
	uint8_t *end; /* end of the mapping */
	uint8_t *base; /* the mapping (chunk header first), NULL when none */
	uint64_t prev; /* ticks of the previous timed record */
	uint64_t lost; /* records dropped since the last LOST record */
	uint64_t drops_until_retry;
	uint32_t lost_depth_min;
	uint32_t depth; /* traced activations open on this thread (kept by the preload) */
	uint32_t tidx;
	uint32_t tid;
	uint32_t seq;
	uint32_t capacity;
	struct glass_proc_writer *proc;
	/* 1 while this thread is inside the writer (a record half written, a chunk being swapped):
	 * a signal handler that writes into the same stream (CPU samples) drops its record then */
	volatile uint8_t busy;
};

#define GLASS_BUSY_ENTER(s)                                  \
	do {                                                 \
		(s)->busy = 1;                               \
		__atomic_signal_fence(__ATOMIC_SEQ_CST);     \
	} while (0)
#define GLASS_BUSY_LEAVE(s)                                  \
	do {                                                 \
		__atomic_signal_fence(__ATOMIC_SEQ_CST);     \
		(s)->busy = 0;                               \
	} while (0)

/* Creates p<pid>.<n> under session_dir with its meta header and returns 0, or -1 with errno. */
int glass_proc_writer_open(struct glass_proc_writer *w, const char *session_dir, uint32_t pid,
			   uint32_t chunk_size, uint32_t clock, uint64_t start_ticks,
			   uint64_t start_mono_ns, uint64_t start_realtime_ns);
/* Appends one meta record (already msgpack-encoded, tag first) with a single write(2) on a
 * descriptor opened for it. */
int glass_proc_writer_append(struct glass_proc_writer *w, const void *rec, size_t len);
/* Records a later clock sample for the tick rate (single writer: the caller serialises). */
void glass_proc_writer_calibrate(struct glass_proc_writer *w, uint64_t ticks, uint64_t mono_ns);
/* Marks the end of the process image in the header (state GLASS_PROC_*). */
void glass_proc_writer_end(struct glass_proc_writer *w, uint32_t state, int32_t status,
			   uint64_t ticks, uint64_t mono_ns);
/* Compresses sealed raw chunks of this process to .zst until budget_ns has passed. */
size_t glass_proc_writer_compress(struct glass_proc_writer *w, uint64_t budget_ns);
/* Compresses dir/name (a t*.raw chunk) into t*.zst and removes the raw file: sealed chunks, and
 * with whole=1 also unsealed ones whose writer is gone. Returns 1 when done. */
int glass_chunk_compress(const char *dir, const char *name, int whole);
/* The meta file's size (the parent's at fork), or 0. */
uint64_t glass_proc_writer_meta_size(struct glass_proc_writer *w);
/* Unmaps without writing (a forked child must not touch its parent's files). */
void glass_proc_writer_forget(struct glass_proc_writer *w);

/* Starts a thread's stream: assigns tidx, opens its first chunk, writes THREAD_START (when no
 * chunk can be had the stream starts dropping and counting; it never refuses). depth is
 * the number of traced frames already open (a fork child returns into its parent's frames). */
int glass_stream_start(struct glass_stream_writer *s, struct glass_proc_writer *w, uint32_t tid,
		       uint64_t now, uint32_t depth);
/* Seals the current chunk (flags |= extra_flags); the stream then has no chunk. */
void glass_stream_seal(struct glass_stream_writer *s, uint32_t extra_flags);
/* Drops the mapping without touching it (forked child). */
void glass_stream_forget(struct glass_stream_writer *s);
/* Slow path of glass_reserve: seals the full chunk and opens the next one, or counts a drop.
 * Returns where to write n bytes (the stream still busy), or NULL when the record must be
 * dropped (already counted; the stream no longer busy). */
uint8_t *glass_stream_reserve_slow(struct glass_stream_writer *s, size_t n, uint64_t now);

/* ---- hot path: inline encoders ------------------------------------------------------- */

/* Room for any hot record: tag + three uint64. */
#define GLASS_HOT_MAX 32

static inline __attribute__((always_inline)) uint8_t *glass_reserve(struct glass_stream_writer *s, size_t n, uint64_t now)
{
	GLASS_BUSY_ENTER(s); /* until glass_publish (or a NULL return) */
	if (GLASS_LIKELY(s->cur + n <= s->end))
		return s->cur;
	return glass_stream_reserve_slow(s, n, now);
}

/* Publishes a record whose fields were packed after the tag slot: the tag byte goes last, so a
 * reader (or a crash) never sees a half-written record. */
static inline __attribute__((always_inline)) void glass_publish(struct glass_stream_writer *s, uint8_t *at, uint8_t tag,
				 uint8_t *end)
{
	__atomic_store_n(at, tag, __ATOMIC_RELEASE);
	s->cur = end;
	GLASS_BUSY_LEAVE(s);
}

static inline __attribute__((always_inline)) uint64_t glass_dt(struct glass_stream_writer *s, uint64_t now)
{
	uint64_t dt = now >= s->prev ? now - s->prev : 0;
	s->prev = now >= s->prev ? now : s->prev;
	return dt;
}

/* Writes a hot record of one to three unsigned fields, dt first, and moves the traced depth by
 * delta. A dropped record still moves the depth, and the lowest depth seen while dropping is
 * kept for the LOST record that tells the reader how to resynchronise. */
static inline __attribute__((always_inline)) void glass_emit3(struct glass_stream_writer *s, uint8_t tag, uint64_t now, int nf,
			       uint64_t a, uint64_t b, int delta)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (GLASS_UNLIKELY(!at)) {
		s->depth += (uint32_t)delta;
		if (s->depth < s->lost_depth_min)
			s->lost_depth_min = s->depth;
		return;
	}
	struct glass_cursor c = {at + 1};
	glass_mp_pack_uint64(&c, glass_dt(s, now));
	if (nf > 1)
		glass_mp_pack_uint64(&c, a);
	if (nf > 2)
		glass_mp_pack_uint64(&c, b);
	glass_publish(s, at, tag, c.p);
	s->depth += (uint32_t)delta;
}

static inline __attribute__((always_inline)) void glass_emit_call(struct glass_stream_writer *s, uint64_t now, uint32_t code)
{
	glass_emit3(s, GLASS_REC_CALL, now, 2, code, 0, +1);
}

static inline __attribute__((always_inline)) void glass_emit_return(struct glass_stream_writer *s, uint64_t now)
{
	glass_emit3(s, GLASS_REC_RETURN, now, 1, 0, 0, -1);
}

static inline __attribute__((always_inline)) void glass_emit_raise(struct glass_stream_writer *s, uint64_t now, uint64_t exc)
{
	glass_emit3(s, GLASS_REC_RAISE, now, 2, exc, 0, -1);
}

static inline __attribute__((always_inline)) void glass_emit_gen_create(struct glass_stream_writer *s, uint64_t now,
					 uint32_t code, uint64_t gen)
{
	glass_emit3(s, GLASS_REC_GEN_CREATE, now, 3, code, gen, 0);
}

static inline __attribute__((always_inline)) void glass_emit_gen_resume(struct glass_stream_writer *s, uint64_t now,
					 uint32_t code, uint64_t gen)
{
	glass_emit3(s, GLASS_REC_GEN_RESUME, now, 3, code, gen, +1);
}

static inline __attribute__((always_inline)) void glass_emit_gen_yield(struct glass_stream_writer *s, uint64_t now)
{
	glass_emit3(s, GLASS_REC_GEN_YIELD, now, 1, 0, 0, -1);
}

static inline __attribute__((always_inline)) void glass_emit_gen_return(struct glass_stream_writer *s, uint64_t now)
{
	glass_emit3(s, GLASS_REC_GEN_RETURN, now, 1, 0, 0, -1);
}

static inline void glass_emit_gen_close(struct glass_stream_writer *s, uint64_t now, uint64_t gen)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 2); /* a record added after 1.0: fields wrapped (format.h) */
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0); /* clock not moved */
	glass_mp_pack_uint64(&c, gen);
	glass_publish(s, at, GLASS_REC_GEN_CLOSE, c.p);
}

/* THREAD_END: the thread's Python work is over (its stream is sealed later, at its exit). */
static inline void glass_emit_thread_end(struct glass_stream_writer *s, uint64_t now)
{
	glass_emit3(s, GLASS_REC_THREAD_END, now, 1, 0, 0, 0);
}

/* THREAD_CPU: the calling thread's CPU time (one clock_gettime; at the thread's end only). */
void glass_emit_thread_cpu(struct glass_stream_writer *s, uint64_t now);

/* Encodes a record with string fields into a stream (slow path: exceptions, thread names).
 * types/values follow format.h; strings longer than max_str are cut. */
void glass_emit_exc(struct glass_stream_writer *s, uint64_t now, uint64_t exc, const char *type,
		    size_t type_len, const char *msg, size_t msg_len);
void glass_emit_thread_name(struct glass_stream_writer *s, uint64_t now, const char *name,
			    size_t len);

/* ---- links between spans across threads, tasks and processes (slow path) ---------------- */

/* LINK_OUT, LINK_IN, LINK_END (format.h); wrapped, the clock is not moved. */
void glass_emit_link_out(struct glass_stream_writer *s, uint64_t now, uint64_t link,
			 uint64_t child_pid);
void glass_emit_link_in(struct glass_stream_writer *s, uint64_t now, uint64_t link, unsigned kind,
			uint32_t src_tidx, const char *src_proc, size_t src_len);
void glass_emit_link_end(struct glass_stream_writer *s, uint64_t now);

/* EXC_RAISED and LOG (span events; wrapped, the clock is not moved). */
void glass_emit_exc_raised(struct glass_stream_writer *s, uint64_t now, uint64_t exc);
void glass_emit_log(struct glass_stream_writer *s, uint64_t now, uint64_t level,
		    const char *logger, size_t logger_len, const char *msg, size_t msg_len);

/* ARGS or RESULT (tag): one text field; wrapped, the clock is not moved. */
void glass_emit_text(struct glass_stream_writer *s, uint64_t now, uint8_t tag, const char *text,
		     size_t len);

/* ---- captured operations (OP_BEGIN / OP_END; slow path) --------------------------------- */

/* One attribute of OP_END: key is an OpenTelemetry semantic-convention name. */
enum glass_op_attr_type { GLASS_OP_ATTR_STR, GLASS_OP_ATTR_INT, GLASS_OP_ATTR_BOOL };
struct glass_op_attr {
	const char *key;
	enum glass_op_attr_type type;
	const char *s; /* STR: len bytes, NULL records nil */
	size_t len;
	int64_t i; /* INT, BOOL */
};
/* Longest attribute string recorded (bytes; longer ones are cut with "..."). */
#define GLASS_MAX_ATTR_STR 8192
/* The most bytes an OP_END may take (attributes beyond this are left out). */
#define GLASS_OP_END_MAX (GLASS_MAX_ATTR_STR + 4096)

/* `op` numbers the thread's operations (1, 2, ...); attributes known at the start (an HTTP
 * request's method, target, traceparent) go with the begin, the rest with the end. */
void glass_emit_op_begin(struct glass_stream_writer *s, uint64_t now, uint64_t op, unsigned kind,
			 const char *name, size_t name_len, const struct glass_op_attr *attrs,
			 size_t nattrs);
void glass_emit_op_end(struct glass_stream_writer *s, uint64_t now, uint64_t op, unsigned status,
		       const char *name, size_t name_len, const struct glass_op_attr *attrs,
		       size_t nattrs);

/* Helpers to pack meta records into a msgpack_sbuffer-like flat buffer. */
struct glass_membuf {
	char *data;
	size_t len;
	size_t cap;
	int overflow;
};
int glass_membuf_write(void *data, const char *buf, size_t len);
void glass_pack_str(msgpack_packer *pk, const char *s, size_t len, size_t max);
void glass_pack_cstr(msgpack_packer *pk, const char *s);
void glass_cursor_str(struct glass_cursor *c, const char *s, size_t len, size_t max);

#endif
