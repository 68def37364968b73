/* tools/resources.c — reads the session's resources file (format.h SAMPLER/RESOURCE). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder/format.h"
#include "recorder/reader.h"
#include "resources.h"

#define READ_BLOCK (1u << 20)

long glass_resources_read(const char *session_dir, uint64_t *off, uint64_t *interval_ns,
			  glass_res_fn fn, void *ctx, int *torn)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", session_dir, GLASS_RESOURCES_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (*off == 0) {
		char magic[8];
		ssize_t r = pread(fd, magic, 8, 0);
		if (r < 8) { /* being created */
			close(fd);
			return 0;
		}
		if (memcmp(magic, GLASS_RESOURCES_MAGIC, 8)) {
			close(fd);
			return -1;
		}
		*off = 8;
	}
	uint8_t *buf = malloc(READ_BLOCK);
	if (!buf) {
		close(fd);
		return -1;
	}
	long count = 0;
	if (torn)
		*torn = 0;
	for (;;) {
		ssize_t got = pread(fd, buf, READ_BLOCK, (off_t)*off);
		if (got <= 0)
			break;
		size_t pos = 0, last = 0;
		struct glass_record rec;
		int r;
		while ((r = glass_decode_record(buf, (size_t)got, &pos, NULL, &rec)) == 1) {
			last = pos;
			if (rec.tag == GLASS_REC_SAMPLER) {
				if (interval_ns)
					*interval_ns = rec.u[1];
			} else if (rec.tag == GLASS_REC_RESOURCE) {
				struct glass_res_sample s = {
				    .unix_ns = rec.u[0],
				    .pid = (uint32_t)rec.u[1],
				    .image = (uint32_t)rec.u[2],
				    .user_ns = rec.u[3],
				    .sys_ns = rec.u[4],
				    .rss = rec.u[5],
				    .threads = rec.u[6],
				    .fds = rec.u[7],
				};
				fn(ctx, &s);
				count++;
			}
		}
		*off += last;
		if (r == -1 && (size_t)got < READ_BLOCK) {
			/* the last record is cut short: being written now, or torn by a crash */
			if (torn)
				*torn = 1;
			break;
		}
		if (r == 0 && pos < (size_t)got) /* a zero byte: nothing more was written */
			break;
		if ((size_t)got < READ_BLOCK || !last)
			break;
	}
	free(buf);
	close(fd);
	return count;
}

struct loader {
	struct glass_resources *r;
	size_t cap;
	int oom;
};

static void add_sample(void *ctx, const struct glass_res_sample *s)
{
	struct loader *L = ctx;
	if (L->oom)
		return;
	if (L->r->n == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 1024;
		struct glass_res_sample *v = realloc(L->r->s, cap * sizeof(*v));
		if (!v) {
			L->oom = 1;
			return;
		}
		L->r->s = v;
		L->cap = cap;
	}
	L->r->s[L->r->n++] = *s;
}

static int sample_cmp(const void *a, const void *b)
{
	const struct glass_res_sample *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->image != y->image)
		return x->image < y->image ? -1 : 1;
	if (x->unix_ns != y->unix_ns)
		return x->unix_ns < y->unix_ns ? -1 : 1;
	return 0;
}

double glass_resources_cpu(const struct glass_resources *r, const struct glass_res_proc *p,
			   size_t i)
{
	if (i == 0 || i >= p->n)
		return 0;
	const struct glass_res_sample *a = &r->s[p->first + i - 1], *b = &r->s[p->first + i];
	uint64_t ca = a->user_ns + a->sys_ns, cb = b->user_ns + b->sys_ns;
	if (b->unix_ns <= a->unix_ns || cb < ca)
		return 0;
	return (double)(cb - ca) / (double)(b->unix_ns - a->unix_ns);
}

int glass_resources_load(const char *session_dir, struct glass_resources *r)
{
	memset(r, 0, sizeof(*r));
	struct loader L = {r, 0, 0};
	uint64_t off = 0;
	long n = glass_resources_read(session_dir, &off, &r->interval_ns, add_sample, &L, &r->torn);
	if (n < 0 || L.oom) {
		glass_resources_free(r);
		return -1;
	}
	qsort(r->s, r->n, sizeof(*r->s), sample_cmp);
	for (size_t i = 0; i < r->n;) {
		size_t j = i;
		while (j < r->n && r->s[j].pid == r->s[i].pid && r->s[j].image == r->s[i].image)
			j++;
		struct glass_res_proc *np = realloc(r->proc, (r->nproc + 1) * sizeof(*np));
		if (!np) {
			glass_resources_free(r);
			return -1;
		}
		r->proc = np;
		struct glass_res_proc *p = &r->proc[r->nproc++];
		memset(p, 0, sizeof(*p));
		p->pid = r->s[i].pid;
		p->image = r->s[i].image;
		snprintf(p->key, sizeof(p->key), "p%u.%u", p->pid, p->image);
		p->first = i;
		p->n = j - i;
		p->first_ns = r->s[i].unix_ns;
		p->last_ns = r->s[j - 1].unix_ns;
		double rss_sum = 0, thr_sum = 0, fd_sum = 0;
		for (size_t k = i; k < j; k++) {
			const struct glass_res_sample *s = &r->s[k];
			rss_sum += (double)s->rss;
			thr_sum += (double)s->threads;
			fd_sum += (double)s->fds;
			if (s->rss > p->peak_rss)
				p->peak_rss = s->rss;
			if (s->threads > p->peak_threads)
				p->peak_threads = s->threads;
			if (s->fds > p->peak_fds)
				p->peak_fds = s->fds;
			double c = glass_resources_cpu(r, p, k - i);
			if (c > p->peak_cpu)
				p->peak_cpu = c;
		}
		p->mean_rss = (uint64_t)(rss_sum / (double)p->n);
		p->mean_threads = thr_sum / (double)p->n;
		p->mean_fds = fd_sum / (double)p->n;
		const struct glass_res_sample *a = &r->s[i], *b = &r->s[j - 1];
		p->cpu_ns = b->user_ns + b->sys_ns;
		if (b->unix_ns > a->unix_ns && p->cpu_ns >= a->user_ns + a->sys_ns)
			p->mean_cpu = (double)(p->cpu_ns - a->user_ns - a->sys_ns) /
				      (double)(b->unix_ns - a->unix_ns);
		i = j;
	}
	return 0;
}

void glass_resources_free(struct glass_resources *r)
{
	free(r->s);
	free(r->proc);
	memset(r, 0, sizeof(*r));
}

const struct glass_res_proc *glass_resources_proc(const struct glass_resources *r, uint32_t pid,
						  uint32_t image)
{
	for (size_t i = 0; i < r->nproc; i++)
		if (r->proc[i].pid == pid && r->proc[i].image == image)
			return &r->proc[i];
	return NULL;
}
