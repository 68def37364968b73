/* tools/follow-metrics.c — metrics while the session is recorded:
 *
 *   glass-report metrics --serve HOST:PORT [SESSION]
 *       serves the Prometheus text format at http://HOST:PORT/metrics, recomputed from what
 *       the live reader (live.c) has read at each scrape, until every process has ended
 *       (then --linger seconds more, for a last scrape);
 *   glass-report metrics --format spectatord --follow --endpoint udp://HOST:PORT [SESSION]
 *       sends spectatord lines as spans complete (counters as increments, timers one line per
 *       observation, gauges every second), batched into datagrams.
 *
 * The meters and their names are those of `glass-report metrics` (cmd-metrics.c): function
 * calls and durations, HTTP server/client requests and durations, database statements and
 * durations, and the process gauges. Label values are capped per label (MAX_VALUES, the rest
 * "_OTHER") so memory stays bounded on a service that runs for months.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "analysis/live.h"
#include "report.h"
#include "analysis/resources.h"
#include "analysis/stats.h"
#include "analysis/text.h"

#define MAX_VALUES 500
#define OTHER	   "_OTHER"
#define POLL_MS	   100
#define DGRAM_MAX  1400 /* one Ethernet frame: spectatord reads datagrams of any size */

static const uint64_t bucket_ns[] = {
    500000ull,	   1000000ull,	  2500000ull,	 5000000ull,	 10000000ull,
    25000000ull,   50000000ull,	  100000000ull,	 250000000ull,	 500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull, 30000000000ull,
};
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
					"0.025",  "0.05",  "0.1",    "0.25",  "0.5",
					"1",	  "2.5",   "5",	     "10",    "30"};
#define NBUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

/* A family of label tuples (values joined by NUL) with counts, sums and buckets. */
struct row {
	uint64_t count, sum_ns;
	uint64_t buckets[NBUCKETS];
};
struct fam {
	const char *prom, *spec, *help;
	const char *labels[3];
	size_t nlabels;
	int hist; /* Prometheus histogram (percentile timer), else counter + summary-free timer */
	struct glass_ftable *rows;	/* user: struct row */
	struct glass_ftable *values[3]; /* distinct values seen per label (for the cap) */
};

enum { F_FN, F_HS, F_HC, F_DB, F_COUNT };
static struct fam fams[F_COUNT] = {
    [F_FN] = {"glass_function",
	      "glass.function",
	      "Python function calls",
	      {"function"},
	      1,
	      0,
	      NULL,
	      {NULL}},
    [F_HS] = {"glass_http_server",
	      "glass.http.server",
	      "HTTP requests served",
	      {"method", "route", "status"},
	      3,
	      1,
	      NULL,
	      {NULL}},
    [F_HC] = {"glass_http_client",
	      "glass.http.client",
	      "HTTP requests made",
	      {"method", "server", "status"},
	      3,
	      0,
	      NULL,
	      {NULL}},
    [F_DB] = {"glass_db",
	      "glass.db",
	      "Database statements and commands",
	      {"operation", "system"},
	      2,
	      1,
	      NULL,
	      {NULL}},
};

struct mf {
	struct glass_live *L;
	int spectatord;
	int udp;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct glass_buf dgram, line, key;
	uint64_t sent_lines, sent_dgrams, spans;
	uint64_t resources_off;
	struct res_proc_last {
		uint32_t pid, image;
		struct glass_res_sample s;
	} * res;
	size_t nres;
	int oom;
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	stop_flag = sig;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000;
}

/* The value of label li of family f, capped: past MAX_VALUES distinct ones, "_OTHER". */
static struct glass_str capped(struct mf *M, struct fam *f, size_t li, struct glass_str v)
{
	if (!v.p || !v.len)
		return (struct glass_str){"none", 4};
	if (!f->values[li] && !(f->values[li] = glass_ftable_new())) {
		M->oom = 1;
		return (struct glass_str){OTHER, sizeof(OTHER) - 1};
	}
	if (glass_ftable_find(f->values[li], v.p, v.len) >= 0)
		return v;
	if (glass_ftable_size(f->values[li]) >= MAX_VALUES)
		return (struct glass_str){OTHER, sizeof(OTHER) - 1};
	int added;
	if (glass_ftable_intern(f->values[li], v.p, v.len, &added) < 0)
		M->oom = 1;
	return v;
}


static void send_dgram(struct mf *M)
{
	if (!M->dgram.len)
		return;
	if (sendto(M->udp, M->dgram.p, M->dgram.len, 0, (struct sockaddr *)&M->to, M->tolen) >= 0)
		M->sent_dgrams++;
	M->dgram.len = 0;
}

/* Queues one spectatord line ("type:name,k=v,...:value"); datagrams hold whole lines. */
static void spec_line(struct mf *M)
{
	if (M->dgram.len && M->dgram.len + M->line.len + 1 > DGRAM_MAX)
		send_dgram(M);
	if (M->dgram.len)
		glass_buf_put(&M->dgram, "\n", 1);
	glass_buf_put(&M->dgram, M->line.p, M->line.len);
	M->line.len = 0;
	M->sent_lines++;
}

static void spec_id(struct mf *M, char type, const char *name, const struct fam *f,
		    const struct glass_str *v)
{
	glass_buf_printf(&M->line, "%c:%s", type, name);
	for (size_t i = 0; i < f->nlabels; i++) {
		glass_buf_printf(&M->line, ",%s=", f->labels[i]);
		glass_spec_value(&M->line, v[i].p, v[i].len);
	}
	glass_buf_put(&M->line, ":", 1);
}

static void observe(struct mf *M, int fi, struct glass_str *v, uint64_t dur_ns)
{
	struct fam *f = &fams[fi];
	for (size_t i = 0; i < f->nlabels; i++)
		v[i] = capped(M, f, i, v[i]);
	if (M->spectatord) {
		/* spectator-py's meters: a counter increment and a timer observation */
		char name[128];
		snprintf(name, sizeof(name), "%s.%s", f->spec,
			 fi == F_FN   ? "calls"
			 : fi == F_DB ? "queries"
				      : "requests");
		spec_id(M, 'c', name, f, v);
		glass_buf_puts(&M->line, "1");
		spec_line(M);
		snprintf(name, sizeof(name), "%s.%s", f->spec,
			 fi == F_FN   ? "duration"
			 : fi == F_DB ? "queryDuration"
				      : "requestDuration");
		/* timers carry no status tag */
		size_t keep = f->nlabels;
		struct fam g = *f;
		if (fi == F_HS || fi == F_HC)
			g.nlabels = 2;
		spec_id(M, f->hist ? 'T' : 't', name, &g, v);
		glass_buf_printf(&M->line, "%.9f", (double)dur_ns / 1e9);
		spec_line(M);
		(void)keep;
		return;
	}
	struct glass_buf *k = &M->key;
	k->len = 0;
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			glass_buf_put(k, "", 1);
		glass_buf_put(k, v[i].p, v[i].len);
	}
	if (k->oom || (!f->rows && !(f->rows = glass_ftable_new()))) {
		M->oom = 1;
		return;
	}
	int added;
	long i = glass_ftable_intern(f->rows, k->p ? k->p : "", k->len, &added);
	if (i < 0) {
		M->oom = 1;
		return;
	}
	struct row *r = (struct row *)glass_ftable_user(f->rows, (size_t)i);
	if (!r) {
		if (!(r = calloc(1, sizeof(*r)))) {
			M->oom = 1;
			return;
		}
		glass_ftable_set_user(f->rows, (size_t)i, r);
	}
	r->count++;
	r->sum_ns += dur_ns;
	for (size_t b = 0; b < NBUCKETS; b++)
		if (dur_ns <= bucket_ns[b])
			r->buckets[b]++;
}

static struct glass_str sstr(const char *p, size_t n)
{
	return (struct glass_str){p, (uint32_t)n};
}

static struct glass_str attr_str(const struct glass_span *sp, const char *key)
{
	size_t n;
	const char *p = glass_span_str(sp, key, &n);
	return sstr(p, n);
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct mf *M = ctx;
	struct glass_str v[3];
	char label[1100], status[16];
	M->spans++;
	switch (sp->kind) {
	case GLASS_KIND_PYTHON:
		if (sp->status == GLASS_SPAN_UNFINISHED)
			return;
		glass_span_label(sp, label, sizeof(label));
		v[0] = sstr(label, strlen(label));
		observe(M, F_FN, v, sp->dur_ns);
		break;
	case GLASS_KIND_HTTP_SERVER:
	case GLASS_KIND_HTTP_CLIENT: {
		const struct glass_attr *a = glass_span_attr(sp, "http.response.status_code");
		snprintf(status, sizeof(status), "%lld",
			 a && a->type == GLASS_ATTR_INT ? (long long)a->i : 0LL);
		v[0] = attr_str(sp, "http.request.method");
		if (sp->kind == GLASS_KIND_HTTP_SERVER) {
			v[1] = attr_str(sp, "http.route");
			if (!v[1].len)
				v[1] = attr_str(sp, "url.path");
		} else {
			v[1] = attr_str(sp, "server.address");
		}
		v[2] = sstr(status, strlen(status));
		observe(M, sp->kind == GLASS_KIND_HTTP_SERVER ? F_HS : F_HC, v, sp->dur_ns);
		break;
	}
	case GLASS_KIND_DB:
		v[0] = attr_str(sp, "db.operation");
		if (!v[0].len)
			v[0] = attr_str(sp, "db.operation.name");
		if (!v[0].len && sp->name.p) { /* the statement's first word */
			uint32_t n = 0;
			while (n < sp->name.len && sp->name.p[n] != ' ')
				n++;
			v[0] = sstr(sp->name.p, n);
		}
		v[1] = attr_str(sp, "db.system");
		if (!v[1].len)
			v[1] = attr_str(sp, "db.system.name");
		observe(M, F_DB, v, sp->dur_ns);
		break;
	default:
		break;
	}
}

static void on_resource(void *ctx, const struct glass_res_sample *s)
{
	struct mf *M = ctx;
	for (size_t i = 0; i < M->nres; i++)
		if (M->res[i].pid == s->pid && M->res[i].image == s->image) {
			M->res[i].s = *s;
			return;
		}
	void *v = realloc(M->res, (M->nres + 1) * sizeof(*M->res));
	if (!v)
		return;
	M->res = v;
	M->res[M->nres].pid = s->pid;
	M->res[M->nres].image = s->image;
	M->res[M->nres++].s = *s;
}

/* ---- Prometheus ----------------------------------------------------------------------------- */

static void prom_escape(struct glass_buf *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '"')
			glass_buf_put(b, "\\", 1);
		if (p[i] == '\n') {
			glass_buf_puts(b, "\\n");
			continue;
		}
		glass_buf_put(b, p + i, 1);
	}
}

static void prom_labels(struct glass_buf *b, const struct fam *f, const char *key, size_t klen,
			size_t nl, const char *extra_k, const char *extra_v)
{
	glass_buf_put(b, "{", 1);
	const char *p = key, *end = key + klen;
	for (size_t i = 0; i < nl; i++) {
		const char *z = memchr(p, 0, (size_t)(end - p));
		size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
		glass_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
		prom_escape(b, p, n);
		glass_buf_put(b, "\"", 1);
		p += n + (z ? 1 : 0);
	}
	if (extra_k)
		glass_buf_printf(b, "%s%s=\"%s\"", nl ? "," : "", extra_k, extra_v);
	glass_buf_put(b, "}", 1);
}

/* Drops the trailing label (status) of a key: "GET\0/r\0200" -> "GET\0/r". */
static size_t key_without_last(const char *k, size_t len)
{
	for (size_t i = len; i > 0; i--)
		if (k[i - 1] == 0)
			return i - 1;
	return 0;
}

static void prom_text(struct mf *M, struct glass_buf *b)
{
	uint64_t lost = 0, threads = 0;
	size_t np = glass_live_nprocs(M->L), live = 0;
	for (size_t i = 0; i < np; i++) {
		const struct glass_live_proc *p = glass_live_proc(M->L, i);
		lost += p->lost_events;
		threads += p->threads;
		live += !p->ended;
	}
	glass_buf_printf(
	    b,
	    "# HELP glass_processes Processes in the recording.\n"
	    "# TYPE glass_processes gauge\nglass_processes %zu\n"
	    "# HELP glass_processes_running Processes of the session still running.\n"
	    "# TYPE glass_processes_running gauge\nglass_processes_running %zu\n"
	    "# HELP glass_threads Threads in the recording.\n"
	    "# TYPE glass_threads gauge\nglass_threads %llu\n"
	    "# HELP glass_lost_events Records the recorder dropped (buffers full), all "
	    "processes.\n# TYPE glass_lost_events gauge\nglass_lost_events %llu\n",
	    np, live, (unsigned long long)threads, (unsigned long long)lost);
	for (int fi = 0; fi < F_COUNT; fi++) {
		struct fam *f = &fams[fi];
		size_t n = f->rows ? glass_ftable_size(f->rows) : 0;
		const char *what = fi == F_FN ? "calls" : fi == F_DB ? "queries" : "requests";
		glass_buf_printf(b, "# HELP %s_%s_total %s.\n# TYPE %s_%s_total counter\n", f->prom,
				 what, f->help, f->prom, what);
		for (size_t i = 0; i < n; i++) {
			size_t kl;
			const char *k = glass_ftable_key(f->rows, i, &kl);
			const struct row *r = glass_ftable_user(f->rows, i);
			glass_buf_printf(b, "%s_%s_total", f->prom, what);
			prom_labels(b, f, k, kl, f->nlabels, NULL, NULL);
			glass_buf_printf(b, " %llu\n", (unsigned long long)r->count);
		}
		/* durations: per key without the status label (merged) */
		const char *dname = fi == F_FN	 ? "duration_seconds"
				    : fi == F_DB ? "query_duration_seconds"
						 : "request_duration_seconds";
		int has_status = fi == F_HS || fi == F_HC;
		size_t nl = has_status ? f->nlabels - 1 : f->nlabels;
		glass_buf_printf(b, "# HELP %s_%s Duration of %s.\n# TYPE %s_%s %s\n", f->prom,
				 dname, f->help, f->prom, dname, f->hist ? "histogram" : "summary");
		struct glass_ftable *merged = glass_ftable_new();
		struct row *acc = NULL;
		size_t nacc = 0;
		for (size_t i = 0; merged && i < n; i++) {
			size_t kl;
			const char *k = glass_ftable_key(f->rows, i, &kl);
			const struct row *r = glass_ftable_user(f->rows, i);
			size_t ml = has_status ? key_without_last(k, kl) : kl;
			int added;
			long j = glass_ftable_intern(merged, k, ml, &added);
			if (j < 0)
				break;
			if ((size_t)j >= nacc) {
				struct row *v = realloc(acc, ((size_t)j + 1) * sizeof(*v));
				if (!v)
					break;
				acc = v;
				memset(acc + nacc, 0, ((size_t)j + 1 - nacc) * sizeof(*v));
				nacc = (size_t)j + 1;
			}
			acc[j].count += r->count;
			acc[j].sum_ns += r->sum_ns;
			for (size_t q = 0; q < NBUCKETS; q++)
				acc[j].buckets[q] += r->buckets[q];
		}
		for (size_t j = 0; merged && j < glass_ftable_size(merged) && j < nacc; j++) {
			size_t kl;
			const char *k = glass_ftable_key(merged, j, &kl);
			if (f->hist) {
				for (size_t q = 0; q < NBUCKETS; q++) {
					glass_buf_printf(b, "%s_%s_bucket", f->prom, dname);
					prom_labels(b, f, k, kl, nl, "le", bucket_le[q]);
					glass_buf_printf(b, " %llu\n",
							 (unsigned long long)acc[j].buckets[q]);
				}
				glass_buf_printf(b, "%s_%s_bucket", f->prom, dname);
				prom_labels(b, f, k, kl, nl, "le", "+Inf");
				glass_buf_printf(b, " %llu\n", (unsigned long long)acc[j].count);
			}
			glass_buf_printf(b, "%s_%s_sum", f->prom, dname);
			prom_labels(b, f, k, kl, nl, NULL, NULL);
			glass_buf_printf(b, " %.9f\n", (double)acc[j].sum_ns / 1e9);
			glass_buf_printf(b, "%s_%s_count", f->prom, dname);
			prom_labels(b, f, k, kl, nl, NULL, NULL);
			glass_buf_printf(b, " %llu\n", (unsigned long long)acc[j].count);
		}
		free(acc);
		glass_ftable_free(merged);
	}
	/* process gauges from the resources file */
	static const char *const g[][2] = {
	    {"glass_process_cpu_seconds", "CPU time (user + system) of the process at its last "
					  "sample."},
	    {"glass_process_resident_memory_bytes", "Resident memory at the last sample."},
	    {"glass_process_threads", "OS threads at the last sample."},
	    {"glass_process_open_fds", "Open file descriptors at the last sample."},
	};
	for (size_t gi = 0; gi < 4 && M->nres; gi++) {
		glass_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", g[gi][0], g[gi][1],
				 g[gi][0]);
		for (size_t i = 0; i < M->nres; i++) {
			const struct glass_res_sample *s = &M->res[i].s;
			double v = gi == 0   ? (double)(s->user_ns + s->sys_ns) / 1e9
				   : gi == 1 ? (double)s->rss
				   : gi == 2 ? (double)s->threads
					     : (double)s->fds;
			glass_buf_printf(b, "%s{pid=\"%u\",process=\"p%u.%u\"} %.9g\n", g[gi][0],
					 s->pid, s->pid, s->image, v);
		}
	}
}

static void spec_gauges(struct mf *M)
{
	uint64_t lost = 0, threads = 0;
	size_t np = glass_live_nprocs(M->L);
	for (size_t i = 0; i < np; i++) {
		lost += glass_live_proc(M->L, i)->lost_events;
		threads += glass_live_proc(M->L, i)->threads;
	}
	glass_buf_printf(&M->line, "g:glass.processes:%zu", np);
	spec_line(M);
	glass_buf_printf(&M->line, "g:glass.threads:%llu", (unsigned long long)threads);
	spec_line(M);
	glass_buf_printf(&M->line, "g:glass.lostEvents:%llu", (unsigned long long)lost);
	spec_line(M);
	for (size_t i = 0; i < M->nres; i++) {
		const struct glass_res_sample *s = &M->res[i].s;
		glass_buf_printf(&M->line, "g:glass.process.rss,pid=%u,process=p%u.%u:%llu", s->pid,
				 s->pid, s->image, (unsigned long long)s->rss);
		spec_line(M);
		glass_buf_printf(&M->line, "g:glass.process.cpuTime,pid=%u,process=p%u.%u:%.6f",
				 s->pid, s->pid, s->image, (double)(s->user_ns + s->sys_ns) / 1e9);
		spec_line(M);
	}
}

/* ---- HTTP ----------------------------------------------------------------------------------- */

static int listen_on(const char *hostport)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = 0;
	struct addrinfo hints = {0}, *ai;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		errno = e;
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* One request on a fresh connection (Connection: close), at most 2 s to send its head. */
static void serve_one(struct mf *M, int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	char req[4096];
	size_t got = 0;
	uint64_t t0 = mono_ms();
	while (got < sizeof(req) - 1 && mono_ms() - t0 < 2000) {
		struct pollfd pf = {c, POLLIN, 0};
		if (poll(&pf, 1, 200) <= 0)
			continue;
		ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = 0;
	struct glass_buf body = {0}, head = {0};
	int ok = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13);
	int head_only = !strncmp(req, "HEAD /metrics", 13);
	if (ok || head_only) {
		prom_text(M, &body);
		glass_buf_printf(
		    &head,
		    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
		    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		    body.len);
	} else {
		glass_buf_puts(&body,
			       "glass-report metrics --serve: the metrics are at /metrics\n");
		glass_buf_printf(&head,
				 "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 body.len);
	}
	if (!head.oom && !body.oom) {
		write_all(c, head.p, head.len);
		if (!head_only)
			write_all(c, body.p, body.len);
	}
	glass_buf_free(&head);
	glass_buf_free(&body);
	close(c);
}

static int udp_target(struct mf *M, const char *endpoint)
{
	if (strncmp(endpoint, "udp://", 6))
		return -1;
	char host[256];
	const char *hp = endpoint + 6, *colon = strrchr(hp, ':');
	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		return -1;
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = 0;
	struct addrinfo hints = {0}, *ai;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	memcpy(&M->to, ai->ai_addr, ai->ai_addrlen);
	M->tolen = ai->ai_addrlen;
	M->udp = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	freeaddrinfo(ai);
	return M->udp < 0 ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report metrics --serve HOST:PORT [SESSION] [--linger SECONDS]\n"
	    "       glass-report metrics --format spectatord --follow [SESSION]\n"
	    "                            [--endpoint udp://HOST:PORT]\n"
	    "\n"
	    "Metrics of a session while it is recorded (the newest by default), until every\n"
	    "process has ended: served in the Prometheus text format at\n"
	    "http://HOST:PORT/metrics for Prometheus to scrape, or sent to spectatord as its\n"
	    "lines over UDP as spans complete (counters as increments, timers one line per\n"
	    "observation, gauges every second). Names as `glass-report metrics` writes them.\n"
	    "\n"
	    "  --serve HOST:PORT    serve /metrics there (e.g. 127.0.0.1:9464)\n"
	    "  --linger SECONDS     keep serving this long after every process ended (default 0)\n"
	    "  --follow             send spectatord lines (with --format spectatord)\n"
	    "  -f, --format FMT     spectatord with --follow\n"
	    "  -e, --endpoint URL   spectatord's address (default udp://127.0.0.1:1234,\n"
	    "                       spectator-py's default)\n"
	    "  -h, --help           this text\n"
	    "\n%s",
	    report_exit_help);
}

/* What the command line of metrics --serve/--follow asks for, besides the shared options. */
struct mf_cmd {
	const char *serve, *endpoint, *format;
	int follow;
	double linger;
};

static int mf_option(void *ctx, int c, const char *arg)
{
	struct mf_cmd *C = ctx;
	char *end;
	switch (c) {
	case 'S':
		C->serve = arg;
		break;
	case 'F':
		C->follow = 1;
		break;
	case 'f':
		C->format = arg;
		break;
	case 'e':
		C->endpoint = arg;
		break;
	case 'l':
		C->linger = strtod(arg, &end);
		if (*end || !(C->linger >= 0 && C->linger <= 86400)) {
			report_error("--linger wants seconds from 0 to 86400, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	}
	return 0;
}

int command_metrics_follow(int argc, char **argv)
{
	static const struct option opts[] = {{"serve", required_argument, NULL, 'S'},
					     {"follow", no_argument, NULL, 'F'},
					     {"format", required_argument, NULL, 'f'},
					     {"endpoint", required_argument, NULL, 'e'},
					     {"linger", required_argument, NULL, 'l'},
					     {NULL, 0, NULL, 0}};
	struct mf_cmd C = {.endpoint = "udp://127.0.0.1:1234", .format = "prometheus"};
	const struct report_cli cli = {.name = "metrics",
				       .usage = usage,
				       .no_strict = 1,
				       .shortopts = "f:e:",
				       .longopts = opts,
				       .option = mf_option,
				       .ctx = &C};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	const char *serve = C.serve, *endpoint = C.endpoint, *format = C.format;
	int follow = C.follow, optind_ = a.first;
	double linger = C.linger;
	struct mf M = {0};
	M.udp = -1;
	if (serve && follow) {
		report_error(
		    "metrics: --serve (Prometheus scrapes) or --follow (spectatord), not both");
		return GLASS_EXIT_USAGE;
	}
	if (follow && strcmp(format, "spectatord")) {
		report_error("metrics --follow sends spectatord lines: add --format spectatord "
			     "(Prometheus scrapes: --serve HOST:PORT)");
		return GLASS_EXIT_USAGE;
	}
	if (serve && strcmp(format, "prometheus")) {
		report_error("metrics --serve serves the Prometheus format, not '%s'", format);
		return GLASS_EXIT_USAGE;
	}
	if (argc - optind_ > 1) {
		report_error("metrics takes one SESSION, not %d operands", argc - optind_);
		return GLASS_EXIT_USAGE;
	}
	char dir[4096];
	if (follow_session_path(optind_ < argc ? argv[optind_] : NULL, dir, sizeof(dir)) < 0)
		return GLASS_EXIT_SESSION;
	int lfd = -1;
	if (serve && (lfd = listen_on(serve)) < 0) {
		report_error("--serve %s: cannot listen there: %s (give HOST:PORT, e.g. "
			     "127.0.0.1:9464)",
			     serve, strerror(errno));
		return GLASS_EXIT_USAGE;
	}
	M.spectatord = follow;
	if (follow && udp_target(&M, endpoint) < 0) {
		report_error("--endpoint %s: want udp://HOST:PORT (spectatord's address)",
			     endpoint);
		return GLASS_EXIT_USAGE;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!(M.L = glass_live_open(dir, on_span, &M))) {
		if (lfd >= 0)
			close(lfd);
		return GLASS_EXIT_SESSION;
	}
	if (serve)
		fprintf(stderr, "glass-report: serving the metrics of %s at http://%s/metrics\n",
			dir, serve);
	uint64_t last_gauges = 0, ended_at = 0;
	int rc = GLASS_EXIT_OK;
	while (!stop_flag) {
		glass_live_poll(M.L);
		glass_resources_read(dir, &M.resources_off, NULL, on_resource, &M, NULL);
		const char *w;
		while ((w = glass_live_warning(M.L)))
			report_error("warning: %s", w);
		if (M.oom) {
			report_error("out of memory");
			rc = GLASS_EXIT_OUTPUT;
			break;
		}
		int finished = glass_live_finished(M.L);
		if (follow) {
			uint64_t now = mono_ms();
			if (now - last_gauges >= 1000 || finished) {
				spec_gauges(&M);
				last_gauges = now;
			}
			send_dgram(&M);
			if (finished)
				break;
		}
		if (finished && !ended_at)
			ended_at = mono_ms();
		if (serve && finished && mono_ms() - ended_at >= (uint64_t)(linger * 1000))
			break;
		/* wait: serve scrapes meanwhile */
		uint64_t t0 = mono_ms();
		while (!stop_flag && mono_ms() - t0 < POLL_MS) {
			if (lfd < 0) {
				struct timespec ts = {0, POLL_MS * 1000000L};
				nanosleep(&ts, NULL);
				break;
			}
			struct pollfd pf = {lfd, POLLIN, 0};
			if (poll(&pf, 1, POLL_MS) > 0)
				serve_one(&M, lfd);
		}
	}
	if (follow)
		fprintf(stderr,
			"glass-report: metrics --follow: %llu spectatord lines in %llu datagrams "
			"to %s\n",
			(unsigned long long)M.sent_lines, (unsigned long long)M.sent_dgrams,
			endpoint);
	if (lfd >= 0)
		close(lfd);
	if (M.udp >= 0)
		close(M.udp);
	glass_live_close(M.L);
	for (int fi = 0; fi < F_COUNT; fi++) {
		struct fam *f = &fams[fi];
		for (size_t i = 0; f->rows && i < glass_ftable_size(f->rows); i++)
			free((void *)glass_ftable_user(f->rows, i));
		glass_ftable_free(f->rows);
		for (int l = 0; l < 3; l++)
			glass_ftable_free(f->values[l]);
	}
	glass_buf_free(&M.dgram);
	glass_buf_free(&M.line);
	glass_buf_free(&M.key);
	free(M.res);
	return rc;
}
