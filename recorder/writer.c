/* recorder/writer.c — chunk files, meta file and the slow paths of the per-thread writer. */
#include "writer.h"

#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

/* Where cur/end point when the stream has no chunk: any reservation fails the bounds check. */
static uint8_t no_chunk[1];

/* After a failed chunk open, this many records are dropped (and counted) before trying again,
 * so a full disk costs no syscall per event. */
#define GLASS_RETRY_AFTER_DROPS 65536

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Would a file reaching `end` bytes pass RLIMIT_FSIZE? The kernel would answer with SIGXFSZ,
 * which kills a host that left it at its default action: never try (callers count the
 * failure as for a full disk). */
static int fsize_allows(uint64_t end)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    end <= (uint64_t)rl.rlim_cur)
		return 1;
	errno = EFBIG;
	return 0;
}

int glass_membuf_write(void *data, const char *buf, size_t len)
{
	struct glass_membuf *b = data;
	if (b->len + len > b->cap) {
		b->overflow = 1;
		return -1;
	}
	memcpy(b->data + b->len, buf, len);
	b->len += len;
	return 0;
}

void glass_pack_str(msgpack_packer *pk, const char *s, size_t len, size_t max)
{
	if (!s) {
		msgpack_pack_nil(pk);
		return;
	}
	if (len > max) {
		/* cut on a UTF-8 boundary and mark it */
		size_t cut = max - 3;
		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		msgpack_pack_str(pk, cut + 3);
		msgpack_pack_str_body(pk, s, cut);
		msgpack_pack_str_body(pk, "...", 3);
		return;
	}
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/* The same for the cursor instance (stream records with strings). */
void glass_cursor_str(struct glass_cursor *c, const char *s, size_t len, size_t max)
{
	if (!s) {
		glass_mp_pack_nil(c);
		return;
	}
	if (len > max) {
		size_t cut = max - 3;
		while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
			cut--;
		glass_mp_pack_str(c, cut + 3);
		glass_mp_pack_str_body(c, s, cut);
		glass_mp_pack_str_body(c, "...", 3);
		return;
	}
	glass_mp_pack_str(c, len);
	glass_mp_pack_str_body(c, s, len);
}

void glass_pack_cstr(msgpack_packer *pk, const char *s)
{
	glass_pack_str(pk, s, s ? strlen(s) : 0, GLASS_MAX_NAME * 8);
}

/* ---- process ----------------------------------------------------------------------------- */

int glass_proc_writer_open(struct glass_proc_writer *w, const char *session_dir, uint32_t pid,
			   uint32_t chunk_size, uint32_t clock, uint64_t start_ticks,
			   uint64_t start_mono_ns, uint64_t start_realtime_ns)
{
	int n, fd = -1;
	memset(w, 0, sizeof(*w));
	for (n = 0; n < 1000; n++) {
		snprintf(w->key, sizeof(w->key), "p%u.%d", pid, n);
		if ((size_t)snprintf(w->dir, sizeof(w->dir), "%s/%s", session_dir, w->key) >=
		    sizeof(w->dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir(w->dir, 0700) == 0)
			break;
		if (errno != EEXIST)
			return -1;
	}
	if (n == 1000) {
		errno = EEXIST;
		return -1;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/meta", w->dir);
	if (!fsize_allows(GLASS_META_HEADER_SIZE))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int err = posix_fallocate(fd, 0, GLASS_META_HEADER_SIZE);
	if (err) {
		close(fd);
		errno = err;
		return -1;
	}
	void *p = mmap(NULL, GLASS_META_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	struct glass_meta_header *h = p;
	memcpy(h->magic, GLASS_META_MAGIC, 8);
	h->major = GLASS_FORMAT_MAJOR;
	h->minor = GLASS_FORMAT_MINOR;
	h->header_size = GLASS_META_HEADER_SIZE;
	h->pid = pid;
	h->ppid = (uint32_t)getppid();
	h->clock = clock;
	h->state = GLASS_PROC_RUNNING;
	h->start_tsc = start_ticks;
	h->start_mono_ns = start_mono_ns;
	h->start_realtime_ns = start_realtime_ns;
	close(fd);
	w->hdr = h;
	snprintf(w->meta_path, sizeof(w->meta_path), "%s", path);
	w->meta_ready = 1;
	w->pid = pid;
	w->chunk_size = chunk_size;
	return 0;
}

int glass_proc_writer_append(struct glass_proc_writer *w, const void *rec, size_t len)
{
	if (!w->meta_ready)
		return -1;
	int fd = open(w->meta_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* O_APPEND makes each record one atomic append, whichever thread or process writes it. */
	/* the file's size matters only under a RLIMIT_FSIZE: no fstat otherwise */
	struct rlimit rl;
	struct stat st;
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (fstat(fd, &st) != 0 || !fsize_allows((uint64_t)st.st_size + len))) {
		close(fd);
		return -1;
	}
	ssize_t r;
	do
		r = write(fd, rec, len);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r == (ssize_t)len ? 0 : -1;
}

void glass_proc_writer_calibrate(struct glass_proc_writer *w, uint64_t ticks, uint64_t mono)
{
	struct glass_meta_header *h = w->hdr;
	if (!h)
		return;
	__atomic_store_n(&h->cal_seq, h->cal_seq + 1, __ATOMIC_RELEASE);
	h->cal_tsc = ticks;
	h->cal_mono_ns = mono;
	__atomic_store_n(&h->cal_seq, h->cal_seq + 1, __ATOMIC_RELEASE);
}

void glass_proc_writer_end(struct glass_proc_writer *w, uint32_t state, int32_t status,
			   uint64_t ticks, uint64_t mono)
{
	struct glass_meta_header *h = w->hdr;
	if (!h)
		return;
	h->end_tsc = ticks;
	h->end_mono_ns = mono;
	h->exit_status = status;
	__atomic_store_n(&h->state, state, __ATOMIC_RELEASE);
}

void glass_proc_writer_forget(struct glass_proc_writer *w)
{
	if (w->hdr)
		munmap(w->hdr, GLASS_META_HEADER_SIZE);
	w->hdr = NULL;
	w->meta_ready = 0;
}

uint64_t glass_proc_writer_meta_size(struct glass_proc_writer *w)
{
	struct stat st;
	if (!w->meta_ready || stat(w->meta_path, &st) != 0)
		return 0;
	return (uint64_t)st.st_size;
}

int glass_chunk_compress(const char *dir, const char *name, int whole)
{
	char raw[4400], tmp[4400], zst[4400];
	snprintf(raw, sizeof(raw), "%s/%s", dir, name);
	size_t nl = strlen(raw);
	if (nl < 4)
		return 0;
	snprintf(zst, sizeof(zst), "%.*s.zst", (int)(nl - 4), raw);
	snprintf(tmp, sizeof(tmp), "%.*s.tmp", (int)(nl - 4), raw);

	int fd = open(raw, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct glass_chunk_header h;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h.magic, "GLCK", 4)) {
		close(fd);
		return 0;
	}
	if (!(h.flags & GLASS_CHUNK_SEALED)) {
		struct stat st;
		/* a chunk its writer will never seal (crash, kill, a thread still running at exit):
		 * all of it, the zero tail compresses to nothing and ends the reader's decoding */
		if (!whole || fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(h) ||
		    st.st_size > (off_t)h.capacity) {
			close(fd);
			return 0;
		}
		h.used = (uint32_t)st.st_size;
	}
	if (h.used < sizeof(h) || h.used > h.capacity) {
		close(fd);
		return 0;
	}
	void *src = mmap(NULL, h.used, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (src == MAP_FAILED)
		return 0;
	size_t bound = ZSTD_compressBound(h.used);
	void *dst = malloc(bound);
	int ok = 0;
	if (dst) {
		/* level 1: within a few percent of level 3's size on these records, at half the CPU */
		size_t zn = ZSTD_compress(dst, bound, src, h.used, 1);
		if (!ZSTD_isError(zn) && fsize_allows(zn)) {
			int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (out >= 0) {
				size_t off = 0;
				while (off < zn) {
					ssize_t r = write(out, (char *)dst + off, zn - off);
					if (r < 0 && errno == EINTR)
						continue;
					if (r <= 0)
						break;
					off += (size_t)r;
				}
				close(out);
				/* rename is atomic: a reader sees the whole .zst or none */
				if (off == zn && rename(tmp, zst) == 0) {
					unlink(raw);
					ok = 1;
				} else {
					unlink(tmp);
				}
			}
		}
		free(dst);
	}
	munmap(src, h.used);
	return ok;
}

size_t glass_proc_writer_compress(struct glass_proc_writer *w, uint64_t budget_ns)
{
	uint64_t start = mono_ns();
	size_t done = 0;
	DIR *d = opendir(w->dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != 't' || l < 5 || strcmp(e->d_name + l - 4, ".raw"))
			continue;
		if (mono_ns() - start > budget_ns)
			break;
		done += (size_t)glass_chunk_compress(w->dir, e->d_name, 0);
	}
	closedir(d);
	return done;
}

/* ---- thread streams ---------------------------------------------------------------------- */

static void stream_detach(struct glass_stream_writer *s)
{
	s->base = NULL;
	s->cur = no_chunk;
	s->end = no_chunk;
}

static void put_chunk_start(struct glass_stream_writer *s)
{
	GLASS_BUSY_ENTER(s);
	uint8_t *at = s->cur;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_uint64(&c, 0);
	glass_mp_pack_uint64(&c, s->depth);
	glass_publish(s, at, GLASS_REC_CHUNK_START, c.p);
}

static void note_first_drop(struct glass_proc_writer *w, int err)
{
	int expected = 0;
	if (w->on_first_drop &&
	    __atomic_compare_exchange_n(&w->drop_noted, &expected, 1, 0, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED))
		w->on_first_drop(w, err);
}

static int chunk_open(struct glass_stream_writer *s, uint64_t now)
{
	struct glass_proc_writer *w = s->proc;
	if (!w || w->failed)
		return -1;
	if (w->max_bytes &&
	    __atomic_add_fetch(&w->chunk_bytes, w->chunk_size, __ATOMIC_RELAXED) > w->max_bytes) {
		__atomic_sub_fetch(&w->chunk_bytes, w->chunk_size, __ATOMIC_RELAXED);
		note_first_drop(w, 0);
		return -1; /* over the cap: the records are dropped and counted by the caller */
	}
	char path[4200];
	uint32_t seq = s->seq + 1;
	snprintf(path, sizeof(path), "%s/t%u.%u.raw", w->dir, s->tidx, seq);
	if (!fsize_allows(w->chunk_size))
		goto fail;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	/* Reserve the blocks now: a store into a sparse mapping on a full disk is SIGBUS. */
	int err = posix_fallocate(fd, 0, w->chunk_size);
	if (err) {
		close(fd);
		unlink(path);
		errno = err;
		goto fail;
	}
	void *p = mmap(NULL, w->chunk_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		unlink(path);
		goto fail;
	}
	struct glass_chunk_header *h = p;
	memcpy(h->magic, GLASS_CHUNK_MAGIC, 4);
	h->major = GLASS_FORMAT_MAJOR;
	h->minor = GLASS_FORMAT_MINOR;
	h->pid = w->pid;
	h->tid = s->tid;
	h->tidx = s->tidx;
	h->seq = seq;
	h->capacity = w->chunk_size;
	h->base_tsc = now;
	h->open_mono_ns = mono_ns();
	s->seq = seq;
	s->base = p;
	s->cur = (uint8_t *)p + GLASS_CHUNK_HEADER_SIZE;
	s->end = (uint8_t *)p + w->chunk_size;
	s->capacity = w->chunk_size;
	s->prev = now;
	put_chunk_start(s);
	return 0;
fail:
	__atomic_add_fetch(&w->hdr->lost_chunks, 1, __ATOMIC_RELAXED);
	note_first_drop(w, errno ? errno : ENOSPC);
	return -1;
}

void glass_stream_seal(struct glass_stream_writer *s, uint32_t extra_flags)
{
	if (!s->base)
		return;
	uint8_t was_busy = s->busy;
	GLASS_BUSY_ENTER(s);
	struct glass_chunk_header *h = (struct glass_chunk_header *)s->base;
	h->used = (uint32_t)(s->cur - s->base);
	__atomic_store_n(&h->flags, h->flags | GLASS_CHUNK_SEALED | extra_flags, __ATOMIC_RELEASE);
	munmap(s->base, s->capacity);
	stream_detach(s);
	if (!was_busy)
		GLASS_BUSY_LEAVE(s);
}

void glass_stream_forget(struct glass_stream_writer *s)
{
	GLASS_BUSY_ENTER(s);
	uint8_t *base = s->base;
	stream_detach(s);
	if (base)
		munmap(base, s->capacity);
	GLASS_BUSY_LEAVE(s);
}

static void put_lost(struct glass_stream_writer *s, uint64_t now)
{
	GLASS_BUSY_ENTER(s);
	uint8_t *at = s->cur;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_uint64(&c, glass_dt(s, now));
	glass_mp_pack_uint64(&c, s->lost);
	glass_mp_pack_uint64(&c, s->lost_depth_min);
	glass_mp_pack_uint64(&c, s->depth);
	glass_publish(s, at, GLASS_REC_LOST, c.p);
	s->lost = 0;
}

uint8_t *glass_stream_reserve_slow(struct glass_stream_writer *s, size_t n, uint64_t now)
{
	int saved = errno;
	uint8_t *r = NULL;
	if (s->base)
		glass_stream_seal(s, 0);
	if (s->lost && s->drops_until_retry) {
		s->drops_until_retry--;
		goto drop;
	}
	if (n + 64 + GLASS_CHUNK_HEADER_SIZE <= (s->proc ? s->proc->chunk_size : 0) &&
	    chunk_open(s, now) == 0) {
		if (s->lost)
			put_lost(s, now);
		r = s->cur;
		goto out;
	}
	s->drops_until_retry = GLASS_RETRY_AFTER_DROPS;
drop:
	if (!s->lost)
		s->lost_depth_min = s->depth;
	s->lost++;
	if (s->proc && s->proc->hdr)
		__atomic_add_fetch(&s->proc->hdr->lost_events, 1, __ATOMIC_RELAXED);
out:
	errno = saved;
	/* the records written above (CHUNK_START, LOST) left the busy window: the caller's is open */
	if (r)
		GLASS_BUSY_ENTER(s);
	else
		GLASS_BUSY_LEAVE(s);
	return r;
}

int glass_stream_start(struct glass_stream_writer *s, struct glass_proc_writer *w, uint32_t tid,
		       uint64_t now, uint32_t depth)
{
	memset(s, 0, sizeof(*s));
	stream_detach(s);
	s->depth = depth;
	s->proc = w;
	s->tid = tid;
	s->tidx = __atomic_add_fetch(&w->hdr->threads, 1, __ATOMIC_RELAXED);
	s->prev = now;
	/* when no chunk can be had, the stream starts out dropping, and counting */
	glass_emit3(s, GLASS_REC_THREAD_START, now, 3, tid, s->tidx, 0);
	return 0;
}

static void emit_strings(struct glass_stream_writer *s, uint64_t now, uint8_t tag, int with_num,
			 uint64_t num, const char *a, size_t alen, const char *b, size_t blen,
			 int nstr)
{
	size_t need = 1 + 9 + 2 * (5 + GLASS_MAX_MESSAGE + 8);
	uint8_t *at = glass_reserve(s, need, now);
	if (!at)
		return;
	struct glass_cursor c = {at + 1};
	if (with_num)
		glass_mp_pack_uint64(&c, num);
	glass_cursor_str(&c, a, alen, GLASS_MAX_NAME);
	if (nstr > 1)
		glass_cursor_str(&c, b, blen, GLASS_MAX_MESSAGE);
	glass_publish(s, at, tag, c.p);
}

void glass_emit_exc(struct glass_stream_writer *s, uint64_t now, uint64_t exc, const char *type,
		    size_t type_len, const char *msg, size_t msg_len)
{
	emit_strings(s, now, GLASS_REC_EXC, 1, exc, type, type_len, msg, msg_len, 2);
}

/* OP_BEGIN (kind) and OP_END (status) share their layout: [dt, op, kind|status, name, attrs].
 * Keys are cut at GLASS_MAX_NAME, strings at GLASS_MAX_ATTR_STR; attributes that would take
 * the record past GLASS_OP_END_MAX are left out. */
static void emit_op(struct glass_stream_writer *s, uint8_t tag, uint64_t now, uint64_t op,
		    unsigned what, const char *name, size_t name_len,
		    const struct glass_op_attr *attrs, size_t nattrs)
{
	size_t need = 1 + 5 + 3 * 9 + 5 + GLASS_MAX_NAME + 5, n = 0;
	size_t klen[GLASS_MAX_ATTRS];
	if (nattrs > GLASS_MAX_ATTRS)
		nattrs = GLASS_MAX_ATTRS;
	for (; n < nattrs; n++) {
		const struct glass_op_attr *a = &attrs[n];
		klen[n] = a->key ? strlen(a->key) : 0;
		size_t sz = 5 + (klen[n] > GLASS_MAX_NAME ? GLASS_MAX_NAME : klen[n]);
		sz += a->type != GLASS_OP_ATTR_STR
			  ? 9
			  : 5 + (a->len > GLASS_MAX_ATTR_STR ? GLASS_MAX_ATTR_STR : a->len);
		if (need + sz > GLASS_OP_END_MAX)
			break;
		need += sz;
	}
	uint8_t *at = glass_reserve(s, need, now);
	if (!at)
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 5); /* added after 1.0: wrapped; the clock is not moved */
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, op);
	glass_mp_pack_uint64(&c, what);
	glass_cursor_str(&c, name, name_len, GLASS_MAX_NAME);
	glass_mp_pack_map(&c, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct glass_op_attr *a = &attrs[i];
		glass_cursor_str(&c, a->key ? a->key : "", klen[i], GLASS_MAX_NAME);
		if (a->type == GLASS_OP_ATTR_STR)
			glass_cursor_str(&c, a->s, a->len, GLASS_MAX_ATTR_STR);
		else if (a->type == GLASS_OP_ATTR_BOOL)
			a->i ? glass_mp_pack_true(&c) : glass_mp_pack_false(&c);
		else
			glass_mp_pack_int64(&c, a->i);
	}
	glass_publish(s, at, tag, c.p);
}

void glass_emit_op_begin(struct glass_stream_writer *s, uint64_t now, uint64_t op, unsigned kind,
			 const char *name, size_t name_len, const struct glass_op_attr *attrs,
			 size_t nattrs)
{
	emit_op(s, GLASS_REC_OP_BEGIN, now, op, kind, name, name_len, attrs, nattrs);
}

void glass_emit_op_end(struct glass_stream_writer *s, uint64_t now, uint64_t op, unsigned status,
		       const char *name, size_t name_len, const struct glass_op_attr *attrs,
		       size_t nattrs)
{
	emit_op(s, GLASS_REC_OP_END, now, op, status, name, name_len, attrs, nattrs);
}

void glass_emit_thread_cpu(struct glass_stream_writer *s, uint64_t now)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return;
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (!at)
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 2); /* added after 1.0: wrapped; the clock is not moved */
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	glass_publish(s, at, GLASS_REC_THREAD_CPU, c.p);
}

void glass_emit_thread_name(struct glass_stream_writer *s, uint64_t now, const char *name,
			    size_t len)
{
	emit_strings(s, now, GLASS_REC_THREAD_NAME, 0, 0, name, len, NULL, 0, 1);
}

void glass_emit_link_out(struct glass_stream_writer *s, uint64_t now, uint64_t link,
			 uint64_t child_pid)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 3);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, link);
	glass_mp_pack_uint64(&c, child_pid);
	glass_publish(s, at, GLASS_REC_LINK_OUT, c.p);
}

void glass_emit_link_in(struct glass_stream_writer *s, uint64_t now, uint64_t link, unsigned kind,
			uint32_t src_tidx, const char *src_proc, size_t src_len)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX + 8 + 64, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 5);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, link);
	glass_mp_pack_uint64(&c, kind);
	glass_mp_pack_uint64(&c, src_tidx);
	glass_cursor_str(&c, src_proc, src_proc ? src_len : 0, 64);
	glass_publish(s, at, GLASS_REC_LINK_IN, c.p);
}

void glass_emit_link_end(struct glass_stream_writer *s, uint64_t now)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 1);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_publish(s, at, GLASS_REC_LINK_END, c.p);
}

void glass_emit_exc_raised(struct glass_stream_writer *s, uint64_t now, uint64_t exc)
{
	uint8_t *at = glass_reserve(s, GLASS_HOT_MAX, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 2);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, exc);
	glass_publish(s, at, GLASS_REC_EXC_RAISED, c.p);
}

void glass_emit_log(struct glass_stream_writer *s, uint64_t now, uint64_t level,
		    const char *logger, size_t logger_len, const char *msg, size_t msg_len)
{
	size_t need = 1 + 1 + 2 * 9 + 2 * (5 + 8) + GLASS_MAX_NAME + GLASS_MAX_MESSAGE;
	uint8_t *at = glass_reserve(s, need, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 4);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_uint64(&c, level);
	glass_cursor_str(&c, logger, logger_len, GLASS_MAX_NAME);
	glass_cursor_str(&c, msg, msg_len, GLASS_MAX_MESSAGE);
	glass_publish(s, at, GLASS_REC_LOG, c.p);
}

void glass_emit_text(struct glass_stream_writer *s, uint64_t now, uint8_t tag, const char *text,
		     size_t len)
{
	uint8_t *at = glass_reserve(s, 1 + 1 + 9 + 5 + len, now);
	if (GLASS_UNLIKELY(!at))
		return;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, 2);
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	glass_mp_pack_str(&c, (uint32_t)len);
	glass_mp_pack_str_body(&c, text, len);
	glass_publish(s, at, tag, c.p);
}
