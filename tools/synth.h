/* tools/synth.h — writes synthetic glass sessions by format.h (unit tests and benchmarks only).
 *
 * Independent of the preload's writer on purpose: it encodes records with msgpack-c exactly as
 * recorder/format.h describes them, so the reader is tested against the format, not against
 * one implementation. Header-only (static inline) so each test program can include it.
 */
#ifndef GLASS_SYNTH_H
#define GLASS_SYNTH_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <zstd.h>

#include "recorder/format.h"

struct synth_chunk {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t last; /* ticks of the previous timed record */
	uint32_t tidx, seq;
};

static inline struct glass_chunk_header *synth_chunk_header(struct synth_chunk *c)
{
	return (struct glass_chunk_header *)c->sb.data;
}

static inline void synth_chunk_init(struct synth_chunk *c, uint32_t pid, uint32_t tid,
				    uint32_t tidx, uint32_t seq, uint64_t base_tsc,
				    uint64_t open_mono_ns)
{
	struct glass_chunk_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, GLASS_CHUNK_MAGIC, 4);
	h.major = GLASS_FORMAT_MAJOR;
	h.minor = GLASS_FORMAT_MINOR;
	h.pid = pid;
	h.tid = tid;
	h.tidx = tidx;
	h.seq = seq;
	h.base_tsc = base_tsc;
	h.open_mono_ns = open_mono_ns;
	msgpack_sbuffer_init(&c->sb);
	msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&c->sb, (const char *)&h, sizeof(h));
	c->last = base_tsc;
	c->tidx = tidx;
	c->seq = seq;
}

static inline void synth_chunk_free(struct synth_chunk *c)
{
	msgpack_sbuffer_destroy(&c->sb);
}

static inline size_t synth_chunk_len(const struct synth_chunk *c)
{
	return c->sb.size;
}

static inline void synth_raw(struct synth_chunk *c, const void *p, size_t n)
{
	msgpack_sbuffer_write(&c->sb, (const char *)p, n);
}

static inline void synth_tag(struct synth_chunk *c, uint8_t tag)
{
	msgpack_pack_uint8(&c->pk, tag); /* < 128: one positive fixint byte */
}

static inline void synth_u(struct synth_chunk *c, uint64_t v)
{
	msgpack_pack_uint64(&c->pk, v);
}

static inline void synth_dt(struct synth_chunk *c, uint64_t ts)
{
	msgpack_pack_uint64(&c->pk, ts - c->last);
	c->last = ts;
}

static inline void synth_pack_str(msgpack_packer *pk, const char *s)
{
	if (!s) {
		msgpack_pack_nil(pk);
		return;
	}
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static inline void synth_s(struct synth_chunk *c, const char *s)
{
	synth_pack_str(&c->pk, s);
}

static inline void synth_call(struct synth_chunk *c, uint64_t ts, uint32_t code)
{
	synth_tag(c, GLASS_REC_CALL);
	synth_dt(c, ts);
	synth_u(c, code);
}

static inline void synth_return(struct synth_chunk *c, uint64_t ts)
{
	synth_tag(c, GLASS_REC_RETURN);
	synth_dt(c, ts);
}

static inline void synth_raise(struct synth_chunk *c, uint64_t ts, uint64_t exc)
{
	synth_tag(c, GLASS_REC_RAISE);
	synth_dt(c, ts);
	synth_u(c, exc);
}

static inline void synth_gen(struct synth_chunk *c, uint8_t tag, uint64_t ts, uint32_t code,
			     uint64_t gen)
{
	synth_tag(c, tag);
	synth_dt(c, ts);
	synth_u(c, code);
	synth_u(c, gen);
}

/* Records added after 1.0 wrap their fields in one array (format.h). */
static inline void synth_gen_close(struct synth_chunk *c, uint64_t ts, uint64_t gen)
{
	synth_tag(c, GLASS_REC_GEN_CLOSE);
	msgpack_pack_array(&c->pk, 2);
	uint64_t keep = c->last; /* a wrapped record's dt does not move the clock */
	synth_dt(c, ts);
	c->last = keep;
	synth_u(c, gen);
}

static inline void synth_dt_only(struct synth_chunk *c, uint8_t tag, uint64_t ts)
{
	synth_tag(c, tag);
	synth_dt(c, ts);
}

static inline void synth_exc(struct synth_chunk *c, uint64_t exc, const char *type, const char *msg)
{
	synth_tag(c, GLASS_REC_EXC);
	synth_u(c, exc);
	synth_s(c, type);
	synth_s(c, msg);
}

static inline void synth_lost(struct synth_chunk *c, uint64_t ts, uint64_t count,
			      uint64_t depth_min, uint64_t depth)
{
	synth_tag(c, GLASS_REC_LOST);
	synth_dt(c, ts);
	synth_u(c, count);
	synth_u(c, depth_min);
	synth_u(c, depth);
}

static inline void synth_thread_start(struct synth_chunk *c, uint64_t ts, uint32_t tid,
				      uint32_t tidx)
{
	synth_tag(c, GLASS_REC_THREAD_START);
	synth_dt(c, ts);
	synth_u(c, tid);
	synth_u(c, tidx);
}

static inline void synth_thread_name(struct synth_chunk *c, const char *name)
{
	synth_tag(c, GLASS_REC_THREAD_NAME);
	synth_s(c, name);
}

static inline void synth_chunk_start(struct synth_chunk *c, uint64_t ts, uint64_t depth)
{
	synth_tag(c, GLASS_REC_CHUNK_START);
	synth_dt(c, ts);
	synth_u(c, depth);
}

static inline int synth_write_file(const char *path, const void *p, size_t n, size_t zero_tail)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	const char *b = (const char *)p;
	size_t off = 0;
	while (off < n) {
		ssize_t r = write(fd, b + off, n - off);
		if (r <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	if (zero_tail && ftruncate(fd, (off_t)(n + zero_tail)) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * Writes the chunk into procdir as t<tidx>.<seq>.raw (zero tail up to `capacity` bytes) or .zst
 * (one zstd frame of bytes [0, used)). sealed sets `used` and GLASS_CHUNK_SEALED; extra_flags
 * are or-ed in (GLASS_CHUNK_LAST).
 */
static inline int synth_chunk_write(struct synth_chunk *c, const char *procdir, int zst, int sealed,
				    uint32_t extra_flags, size_t capacity)
{
	struct glass_chunk_header *h = synth_chunk_header(c);
	size_t len = c->sb.size;
	if (capacity < len)
		capacity = len;
	h->capacity = (uint32_t)capacity;
	h->used = sealed ? (uint32_t)len : 0;
	h->flags = (sealed ? GLASS_CHUNK_SEALED : 0) | extra_flags;
	char path[8400];
	snprintf(path, sizeof(path), "%s/t%u.%u.%s", procdir, c->tidx, c->seq, zst ? "zst" : "raw");
	if (!zst)
		return synth_write_file(path, c->sb.data, len, capacity - len);
	size_t bound = ZSTD_compressBound(len);
	void *dst = malloc(bound);
	if (!dst)
		return -1;
	size_t zn = ZSTD_compress(dst, bound, c->sb.data, len, 1);
	int r = ZSTD_isError(zn) ? -1 : synth_write_file(path, dst, zn, 0);
	free(dst);
	return r;
}

struct synth_meta {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static inline struct glass_meta_header *synth_meta_header(struct synth_meta *m)
{
	return (struct glass_meta_header *)m->sb.data;
}

static inline void synth_meta_init(struct synth_meta *m, uint32_t pid, uint32_t ppid,
				   uint32_t clock, uint64_t start_tsc, uint64_t start_mono_ns,
				   uint64_t start_realtime_ns)
{
	struct glass_meta_header *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	memcpy(h->magic, GLASS_META_MAGIC, 8);
	h->major = GLASS_FORMAT_MAJOR;
	h->minor = GLASS_FORMAT_MINOR;
	h->header_size = GLASS_META_HEADER_SIZE;
	h->pid = pid;
	h->ppid = ppid;
	h->clock = clock;
	h->state = GLASS_PROC_RUNNING;
	h->start_tsc = start_tsc;
	h->start_mono_ns = start_mono_ns;
	h->start_realtime_ns = start_realtime_ns;
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&m->sb, (const char *)h, sizeof(*h));
	free(h);
}

static inline void synth_meta_process(struct synth_meta *m, uint32_t pid, uint32_t ppid,
				      uint64_t rt, const char *python, const char *exe,
				      const char *cwd, const char *origin, const char *const *argv,
				      uint32_t argc, const char *parent)
{
	msgpack_pack_uint8(&m->pk, GLASS_REC_PROCESS);
	msgpack_pack_uint64(&m->pk, pid);
	msgpack_pack_uint64(&m->pk, ppid);
	msgpack_pack_uint64(&m->pk, rt);
	synth_pack_str(&m->pk, python);
	synth_pack_str(&m->pk, exe);
	synth_pack_str(&m->pk, cwd);
	synth_pack_str(&m->pk, origin);
	msgpack_pack_array(&m->pk, argc);
	for (uint32_t i = 0; i < argc; i++)
		synth_pack_str(&m->pk, argv[i]);
	synth_pack_str(&m->pk, parent);
}

static inline void synth_meta_code(struct synth_meta *m, uint32_t id, const char *qualname,
				   const char *module, const char *filename, uint32_t line,
				   uint32_t flags)
{
	msgpack_pack_uint8(&m->pk, GLASS_REC_CODE);
	msgpack_pack_uint64(&m->pk, id);
	synth_pack_str(&m->pk, qualname);
	synth_pack_str(&m->pk, module);
	synth_pack_str(&m->pk, filename);
	msgpack_pack_uint64(&m->pk, line);
	msgpack_pack_uint64(&m->pk, flags);
}

/* Creates procdir (mode 0700) and writes its meta file. */
static inline int synth_meta_write(struct synth_meta *m, const char *procdir)
{
	if (mkdir(procdir, 0700) < 0 && errno != EEXIST)
		return -1;
	char path[8400];
	snprintf(path, sizeof(path), "%s/meta", procdir);
	return synth_write_file(path, m->sb.data, m->sb.size, 0);
}

static inline void synth_meta_free(struct synth_meta *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

/* Creates a session directory with its SESSION file. */
static inline int synth_session_create(const char *dir, unsigned major, unsigned minor)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	char path[8400], text[64];
	snprintf(path, sizeof(path), "%s/%s", dir, GLASS_SESSION_FILE);
	int n = snprintf(text, sizeof(text), "glass-session %u.%u\n", major, minor);
	return synth_write_file(path, text, (size_t)n, 0);
}

#endif
