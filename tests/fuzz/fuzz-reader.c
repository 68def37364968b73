/* tests/fuzz/fuzz-reader.c — libFuzzer target: the session reader on arbitrary meta and chunk files.
 *
 * The first input byte picks what the rest becomes: a raw chunk, a compressed chunk, or the
 * records of a meta file (after a valid header). The session is then opened and every thread
 * streamed to the end, as glass-report does.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "recorder/reader.h"

static char dir[128];

static void put(const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (len && write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void valid_meta(const uint8_t *extra, size_t extra_len)
{
	static uint8_t buf[GLASS_META_HEADER_SIZE + 65536];
	memset(buf, 0, GLASS_META_HEADER_SIZE);
	struct glass_meta_header *h = (struct glass_meta_header *)buf;
	memcpy(h->magic, GLASS_META_MAGIC, 8);
	h->major = GLASS_FORMAT_MAJOR;
	h->minor = GLASS_FORMAT_MINOR;
	h->header_size = GLASS_META_HEADER_SIZE;
	h->pid = 1;
	h->clock = GLASS_CLOCK_MONO;
	h->state = GLASS_PROC_EXITED;
	h->start_realtime_ns = 1700000000000000000ull;
	if (extra_len > 65536)
		extra_len = 65536;
	if (extra_len)
		memcpy(buf + GLASS_META_HEADER_SIZE, extra, extra_len);
	put("p1.0/meta", buf, GLASS_META_HEADER_SIZE + extra_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/glass-fuzz-reader-%d", (int)getpid());
		mkdir(dir, 0700);
		char p[256];
		snprintf(p, sizeof(p), "%s/p1.0", dir);
		mkdir(p, 0700);
		put("SESSION", "glass-session 1.0\n", 18);
	}
	if (size < 1)
		return 0;
	char p[256];
	snprintf(p, sizeof(p), "%s/p1.0/t1.1.raw", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/p1.0/t1.1.zst", dir);
	unlink(p);
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		valid_meta(NULL, 0);
		put("p1.0/t1.1.raw", data, size);
	} else if (mode == 1) {
		valid_meta(NULL, 0);
		size_t bound = ZSTD_compressBound(size);
		void *z = malloc(bound);
		size_t zn = ZSTD_compress(z, bound, data, size, 1);
		if (!ZSTD_isError(zn))
			put("p1.0/t1.1.zst", z, zn);
		free(z);
	} else {
		valid_meta(data, size);
	}
	char err[512];
	struct glass_session *s = glass_session_open(dir, err, sizeof(err));
	if (!s)
		return 0;
	for (size_t i = 0; i < glass_session_nprocs(s); i++) {
		struct glass_proc *pr = glass_session_proc(s, i);
		const struct glass_proc_info *info = glass_proc_info(pr);
		(void)info;
		size_t cur = 0;
		struct glass_record r;
		while (glass_proc_meta_next(pr, &cur, &r) == 1)
			;
		const uint32_t *tidx;
		size_t nt = glass_proc_threads(pr, &tidx);
		for (size_t t = 0; t < nt; t++) {
			struct glass_stream *st = glass_stream_open(pr, tidx[t]);
			if (!st)
				continue;
			while (glass_stream_next(st, &r) == 1) {
				if (r.tag == GLASS_REC_CALL)
					glass_proc_code(pr, (uint32_t)r.u[1]);
				glass_proc_ticks_to_unix_ns(pr, r.ticks);
			}
			glass_stream_close(st);
		}
	}
	glass_session_close(s);
	return 0;
}
