/* recorder/sampler.c — resource samples of a session's processes, read from /proc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "sampler.h"

static void put_u(struct glass_sampler *sm, uint64_t v)
{
	uint8_t *p = sm->buf + sm->len;
	if (v < 128) {
		p[0] = (uint8_t)v;
		sm->len += 1;
	} else if (v <= 0xff) {
		p[0] = 0xcc;
		p[1] = (uint8_t)v;
		sm->len += 2;
	} else if (v <= 0xffff) {
		p[0] = 0xcd;
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)v;
		sm->len += 3;
	} else if (v <= 0xffffffffu) {
		p[0] = 0xce;
		for (int i = 0; i < 4; i++)
			p[1 + i] = (uint8_t)(v >> (24 - 8 * i));
		sm->len += 5;
	} else {
		p[0] = 0xcf;
		for (int i = 0; i < 8; i++)
			p[1 + i] = (uint8_t)(v >> (56 - 8 * i));
		sm->len += 9;
	}
}

/* A wrapped record: tag, fixarray of n unsigned fields (at most 9 bytes each). */
static void put_record(struct glass_sampler *sm, uint8_t tag, const uint64_t *f, unsigned n)
{
	if (sm->len + 2 + 9 * n > sizeof(sm->buf))
		glass_sampler_end(sm); /* a very large session: more than one write this time */
	sm->buf[sm->len++] = tag;
	sm->buf[sm->len++] = (uint8_t)(0x90 | n);
	for (unsigned i = 0; i < n; i++)
		put_u(sm, f[i]);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int glass_sampler_open(struct glass_sampler *sm, const char *session)
{
	memset(sm, 0, offsetof(struct glass_sampler, buf));
	sm->len = 0;
	sm->clk_tck = sysconf(_SC_CLK_TCK);
	sm->page_size = sysconf(_SC_PAGESIZE);
	if (sm->clk_tck <= 0)
		sm->clk_tck = 100;
	if (sm->page_size <= 0)
		sm->page_size = 4096;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", session, GLASS_RESOURCES_FILE);
	sm->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (sm->fd < 0)
		return -1;
	struct stat sb;
	if (fstat(sm->fd, &sb) == 0 && sb.st_size == 0 &&
	    write_all(sm->fd, GLASS_RESOURCES_MAGIC, 8) < 0) {
		glass_sampler_close(sm);
		return -1;
	}
	uint64_t f[3] = {realtime_ns(), GLASS_SAMPLER_INTERVAL_NS, (uint64_t)getpid()};
	put_record(sm, GLASS_REC_SAMPLER, f, 3);
	glass_sampler_end(sm);
	return sm->fd >= 0 ? 0 : -1;
}

void glass_sampler_begin(struct glass_sampler *sm)
{
	sm->now_ns = realtime_ns();
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

void glass_sampler_add(struct glass_sampler *sm, uint32_t pid, uint32_t image)
{
	if (sm->fd < 0)
		return;
	char path[64], stat[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (read_small(path, stat, sizeof(stat)) < 0)
		return;
	/* the command name may hold spaces and parentheses: fields start after the last ')' */
	char *p = strrchr(stat, ')');
	if (!p)
		return;
	p++;
	unsigned long long v[23] = {0}; /* fields 3..25 of proc(5) */
	for (int i = 0; i < 23; i++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return;
		if (i == 0) { /* state: a letter */
			if (*p == 'Z' || *p == 'X')
				return; /* ended, not yet reaped */
			p++;
			continue;
		}
		v[i] = strtoull(p, &p, 10);
	}
	uint64_t utime = v[14 - 3], stime = v[15 - 3], threads = v[20 - 3], rss = v[24 - 3];
	uint64_t fds = 0;
	snprintf(path, sizeof(path), "/proc/%u/fd", pid);
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			fds += e->d_name[0] != '.';
		closedir(d);
	}
	uint64_t tick_ns = 1000000000ull / (uint64_t)sm->clk_tck;
	uint64_t f[8] = {sm->now_ns,	  pid,	   image, utime * tick_ns, stime * tick_ns,
			 rss * (uint64_t)sm->page_size, threads, fds};
	put_record(sm, GLASS_REC_RESOURCE, f, 8);
}

void glass_sampler_end(struct glass_sampler *sm)
{
	if (sm->fd >= 0 && sm->len && write_all(sm->fd, sm->buf, sm->len) < 0)
		glass_sampler_close(sm); /* disk full or the session deleted: stop sampling */
	sm->len = 0;
}

void glass_sampler_close(struct glass_sampler *sm)
{
	if (sm->fd >= 0)
		close(sm->fd);
	sm->fd = -1;
}
