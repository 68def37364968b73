/* tools/cmd-top.c — `glass-report top`: a live terminal view of a session being recorded.
 *
 * Every --interval it reads what the session's processes wrote since the last frame
 * (tools/live.c), adds the completed spans to bounded aggregates (log-linear histograms, and a
 * ring of one-second slots for the last 10 s) and redraws: HTTP endpoints, the slowest functions
 * and statements, and per process CPU, RSS (the session's resources file) and lost events.
 * Memory does not grow with the run: at most MAX_KEYS rows per table, the rest in "(other)".
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "report.h"
#include "resources.h"
#include "stats.h"
#include "text.h"

#define WIN	 10 /* seconds of the "last" columns */
#define MAX_KEYS 2000
#define OTHER	 "(other)"

struct slots {
	uint64_t sec[WIN];
	struct glass_fstats f[WIN];
};

struct table {
	struct glass_ftable *ft;
	struct slots **win; /* per row, endpoints only */
	size_t nwin;
	int windowed;
};

enum sort { SORT_REQ, SORT_P99, SORT_ERR, SORT_TOTAL };

struct res_last {
	uint32_t pid, image;
	struct glass_res_sample a, b; /* the last two samples */
	int n;
};

struct top {
	struct glass_live *L;
	struct table ep, fn, db;
	int oom;
	enum sort sort;
	uint64_t resources_off;
	struct res_last *res;
	size_t nres;
	uint64_t spans;
};

static int table_init(struct table *t, int windowed)
{
	t->windowed = windowed;
	return (t->ft = glass_ftable_new()) ? 0 : -1;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nwin; i++) {
		if (!t->win[i])
			continue;
		for (int k = 0; k < WIN; k++)
			glass_fstats_free(&t->win[i]->f[k]);
		free(t->win[i]);
	}
	free(t->win);
	glass_ftable_free(t->ft);
}

static void table_add(struct top *T, struct table *t, const char *key, size_t klen,
		      const struct glass_span *sp, int err)
{
	long i = glass_ftable_find(t->ft, key, klen);
	if (i < 0) {
		int added;
		if (glass_ftable_size(t->ft) >= MAX_KEYS) {
			key = OTHER;
			klen = strlen(OTHER);
		}
		i = glass_ftable_intern(t->ft, key, klen, &added);
		if (i < 0) {
			T->oom = 1;
			return;
		}
	}
	if (glass_fstats_add(glass_ftable_stats(t->ft, (size_t)i), sp->dur_ns, sp->self_ns, err) <
	    0)
		T->oom = 1;
	if (!t->windowed)
		return;
	if ((size_t)i >= t->nwin) {
		size_t n = t->nwin ? t->nwin * 2 : 16;
		while (n <= (size_t)i)
			n *= 2;
		struct slots **w = realloc(t->win, n * sizeof(*w));
		if (!w) {
			T->oom = 1;
			return;
		}
		memset(w + t->nwin, 0, (n - t->nwin) * sizeof(*w));
		t->win = w;
		t->nwin = n;
	}
	if (!t->win[i] && !(t->win[i] = calloc(1, sizeof(struct slots)))) {
		T->oom = 1;
		return;
	}
	struct slots *s = t->win[i];
	uint64_t sec = (sp->start_ns + sp->dur_ns) / 1000000000ull;
	int k = (int)(sec % WIN);
	if (s->sec[k] != sec) {
		if (s->sec[k] > sec)
			return; /* older than the window */
		glass_fstats_free(&s->f[k]);
		memset(&s->f[k], 0, sizeof(s->f[k]));
		s->sec[k] = sec;
	}
	if (glass_fstats_add(&s->f[k], sp->dur_ns, sp->self_ns, err) < 0)
		T->oom = 1;
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct top *T = ctx;
	char key[GLASS_SPAN_KEY_MAX];
	int err = sp->status == GLASS_SPAN_ERROR;
	T->spans++;
	switch (sp->kind) {
	case GLASS_KIND_HTTP_SERVER:
		table_add(T, &T->ep, key, glass_span_endpoint_key(sp, key, sizeof(key)), sp, err);
		break;
	case GLASS_KIND_DB:
		table_add(T, &T->db, key, glass_span_statement_key(sp, key, sizeof(key)), sp, err);
		break;
	case GLASS_KIND_PYTHON:
		if (sp->status == GLASS_SPAN_UNFINISHED)
			break;
		glass_span_label(sp, key, sizeof(key));
		table_add(T, &T->fn, key, strlen(key), sp, err);
		break;
	default:
		break;
	}
}

static void on_resource(void *ctx, const struct glass_res_sample *s)
{
	struct top *T = ctx;
	for (size_t i = 0; i < T->nres; i++) {
		struct res_last *r = &T->res[i];
		if (r->pid == s->pid && r->image == s->image) {
			r->a = r->b;
			r->b = *s;
			r->n++;
			return;
		}
	}
	struct res_last *v = realloc(T->res, (T->nres + 1) * sizeof(*v));
	if (!v)
		return;
	T->res = v;
	struct res_last *r = &T->res[T->nres++];
	memset(r, 0, sizeof(*r));
	r->pid = s->pid;
	r->image = s->image;
	r->b = *s;
	r->n = 1;
}

/* ---- a frame -------------------------------------------------------------------------------- */

struct row {
	size_t i;
	double key;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return x->key < y->key ? 1 : x->key > y->key ? -1 : (x->i > y->i) - (x->i < y->i);
}

/* The last-WIN-seconds aggregate of row i (caller frees). */
static void window_of(const struct table *t, size_t i, uint64_t now_sec, struct glass_fstats *out)
{
	memset(out, 0, sizeof(*out));
	if (i >= t->nwin || !t->win[i])
		return;
	const struct slots *s = t->win[i];
	for (int k = 0; k < WIN; k++)
		if (s->sec[k] + WIN > now_sec && s->sec[k] <= now_sec && s->f[k].calls)
			glass_fstats_merge(out, &s->f[k]);
}

static void put_text(struct glass_buf *b, const void *key, size_t len, size_t cols)
{
	char cell[512];
	glass_term_text(cell, sizeof(cell), key, len, cols, 0);
	size_t w = glass_text_width(cell);
	glass_buf_puts(b, cell);
	for (; w < cols; w++)
		glass_buf_put(b, " ", 1);
}

static void frame(struct top *T, struct glass_buf *b, int rows_avail, int finished)
{
	uint64_t now = glass_live_last_ns(T->L), first = glass_live_first_ns(T->L);
	if (!finished) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t wall = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (wall > now)
			now = wall;
	}
	uint64_t now_sec = now / 1000000000ull;
	double since = now > first && first ? (double)(now - first) / 1e9 : 0;
	double win_s = since < WIN ? (since > 1 ? since : 1) : WIN;
	char t1[64], t2[64];
	glass_fmt_dur(t1, sizeof(t1), now > first && first ? now - first : 0);
	glass_fmt_count(t2, sizeof(t2), T->spans);
	const char *sort_names[] = {"requests", "p99", "errors", "total"};
	glass_buf_printf(b, "glass top  %s  %s  running %s  spans %s  sort: %s\n",
			 glass_live_dir(T->L), finished ? "(every process has ended)" : "", t1,
			 t2, sort_names[T->sort]);
	int lines = 1;

	/* endpoints */
	size_t n = glass_ftable_size(T->ep.ft);
	if (n) {
		glass_buf_printf(b, "\n%-40s %25s | %32s\n", "",
				 "--------- last 10 s ------", "--------- since start ----------");
		glass_buf_printf(b, "%-40s %7s %6s %6s %5s | %8s %7s %7s %7s %6s\n", "HTTP endpoint",
				 "req/s", "p50", "p99", "err", "requests", "req/s", "p50", "p99",
				 "err");
		lines += 3;
		struct row *r = calloc(n, sizeof(*r));
		struct glass_fstats *w = calloc(n, sizeof(*w));
		if (r && w) {
			for (size_t i = 0; i < n; i++) {
				const struct glass_fstats *f = glass_ftable_stats(T->ep.ft, i);
				window_of(&T->ep, i, now_sec, &w[i]);
				r[i].i = i;
				r[i].key = T->sort == SORT_P99	   ? (double)glass_fstats_quantile(f, 0.99)
					   : T->sort == SORT_ERR   ? (double)f->errors
					   : T->sort == SORT_TOTAL ? (double)f->total_ns
								   : (double)w[i].calls * 1e9 + (double)f->calls;
			}
			qsort(r, n, sizeof(*r), row_cmp);
			size_t shown = 0;
			for (size_t k = 0; k < n && (shown < 12 || rows_avail <= 0); k++, shown++) {
				size_t i = r[k].i, kl;
				const void *key = glass_ftable_key(T->ep.ft, i, &kl);
				const struct glass_fstats *f = glass_ftable_stats(T->ep.ft, i);
				char c[8][32];
				glass_fmt_dur(c[0], 32, glass_fstats_quantile(&w[i], 0.5));
				glass_fmt_dur(c[1], 32, glass_fstats_quantile(&w[i], 0.99));
				glass_fmt_count_short(c[2], 32, f->calls);
				glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.5));
				glass_fmt_dur(c[4], 32, glass_fstats_quantile(f, 0.99));
				glass_fmt_count_short(c[5], 32, w[i].errors);
				glass_fmt_count_short(c[6], 32, f->errors);
				put_text(b, key, kl, 40);
				glass_buf_printf(b, " %7.1f %6s %6s %5s | %8s %7.1f %7s %7s %6s\n",
						 (double)w[i].calls / win_s, w[i].calls ? c[0] : "-",
						 w[i].calls ? c[1] : "-", c[5], c[2],
						 since > 0 ? (double)f->calls / since : 0.0, c[3],
						 c[4], c[6]);
				lines++;
			}
			if (shown < n)
				glass_buf_printf(b, "... %zu more endpoints\n", n - shown), lines++;
		} else {
			T->oom = 1;
		}
		for (size_t i = 0; w && i < n; i++)
			glass_fstats_free(&w[i]);
		free(w);
		free(r);
	}

	/* slowest functions and statements: by total time since start */
	struct {
		const char *title;
		struct table *t;
		size_t max;
	} parts[] = {{"function", &T->fn, 10}, {"statement", &T->db, 8}};
	for (int pi = 0; pi < 2; pi++) {
		struct table *t = parts[pi].t;
		size_t m = glass_ftable_size(t->ft);
		if (!m)
			continue;
		glass_buf_printf(b, "\n%-56s %8s %8s %7s %7s %7s %6s\n", parts[pi].title, "calls",
				 "total", "mean", "p50", "p99", "err");
		lines += 2;
		struct row *r = calloc(m, sizeof(*r));
		if (!r) {
			T->oom = 1;
			continue;
		}
		for (size_t i = 0; i < m; i++) {
			const struct glass_fstats *f = glass_ftable_stats(t->ft, i);
			r[i].i = i;
			r[i].key = T->sort == SORT_P99	 ? (double)glass_fstats_quantile(f, 0.99)
				   : T->sort == SORT_ERR ? (double)f->errors
							 : (double)f->total_ns;
		}
		qsort(r, m, sizeof(*r), row_cmp);
		size_t max = parts[pi].max;
		if (rows_avail > 0 && lines + (int)max + 8 > rows_avail)
			max = rows_avail - lines > 10 ? (size_t)(rows_avail - lines - 8) / 2 : 2;
		for (size_t k = 0; k < m && k < max; k++) {
			size_t i = r[k].i, kl;
			const void *key = glass_ftable_key(t->ft, i, &kl);
			const struct glass_fstats *f = glass_ftable_stats(t->ft, i);
			char c[6][32];
			glass_fmt_count_short(c[0], 32, f->calls);
			glass_fmt_dur(c[1], 32, f->total_ns);
			glass_fmt_dur(c[2], 32, f->calls ? f->total_ns / f->calls : 0);
			glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.5));
			glass_fmt_dur(c[4], 32, glass_fstats_quantile(f, 0.99));
			glass_fmt_count_short(c[5], 32, f->errors);
			/* statements keep their system before a TAB: show "system: text" */
			const char *tab = memchr(key, '\t', kl);
			char buf[GLASS_SPAN_KEY_MAX + 4];
			if (tab) {
				size_t sl = (size_t)(tab - (const char *)key);
				int bl = snprintf(buf, sizeof(buf), "%.*s: %.*s", (int)sl,
						  (const char *)key, (int)(kl - sl - 1), tab + 1);
				key = buf;
				kl = bl > 0 && (size_t)bl < sizeof(buf) ? (size_t)bl : strlen(buf);
			}
			put_text(b, key, kl, 56);
			glass_buf_printf(b, " %8s %8s %7s %7s %7s %6s\n", c[0], c[1], c[2], c[3],
					 c[4], c[5]);
			lines++;
		}
		free(r);
	}

	/* processes */
	glass_buf_printf(b, "\n%-12s %-8s %7s %10s %7s %5s %12s  %s\n", "process", "state", "cpu",
			 "rss", "threads", "fds", "lost events", "command");
	size_t np = glass_live_nprocs(T->L);
	for (size_t i = 0; i < np; i++) {
		const struct glass_live_proc *p = glass_live_proc(T->L, i);
		const struct res_last *r = NULL;
		uint32_t image = 0;
		const char *dot = strchr(p->key, '.');
		if (dot)
			image = (uint32_t)strtoul(dot + 1, NULL, 10);
		for (size_t k = 0; k < T->nres; k++)
			if (T->res[k].pid == p->pid && T->res[k].image == image)
				r = &T->res[k];
		char cpu[16] = "-", rss[16] = "-", th[16] = "-", fds[16] = "-", lost[32];
		if (r && !p->ended) {
			if (r->n >= 2 && r->b.unix_ns > r->a.unix_ns)
				snprintf(cpu, sizeof(cpu), "%.1f%%",
					 100.0 *
					     (double)(r->b.user_ns + r->b.sys_ns - r->a.user_ns -
						      r->a.sys_ns) /
					     (double)(r->b.unix_ns - r->a.unix_ns));
			snprintf(rss, sizeof(rss), "%.1f MiB", (double)r->b.rss / (1 << 20));
			snprintf(th, sizeof(th), "%llu", (unsigned long long)r->b.threads);
			snprintf(fds, sizeof(fds), "%llu", (unsigned long long)r->b.fds);
		}
		glass_fmt_count(lost, sizeof(lost), p->lost_events);
		char cmd[200];
		glass_term_text(cmd, sizeof(cmd), p->command, strlen(p->command), 40, 0);
		glass_buf_printf(b, "%-12s %-8s %7s %10s %7s %5s %12s  %s\n", p->key,
				 p->ended ? "ended" : "running", cpu, rss, th, fds, lost, cmd);
	}
	if (!np)
		glass_buf_puts(b, "(no process yet)\n");
	if (finished)
		glass_buf_puts(b, "\nEvery process of the session has ended.\n");
}

/* ---- terminal ------------------------------------------------------------------------------- */

static struct termios saved_tio;
static int raw_on;

static void restore_terminal(void)
{
	if (raw_on) {
		tcsetattr(0, TCSAFLUSH, &saved_tio);
		fputs("\033[?25h", stdout); /* cursor back */
		fflush(stdout);
		raw_on = 0;
	}
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	stop_flag = sig;
}

static int set_raw(void)
{
	if (tcgetattr(0, &saved_tio) < 0)
		return -1;
	struct termios t = saved_tio;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(0, TCSAFLUSH, &t) < 0)
		return -1;
	raw_on = 1;
	atexit(restore_terminal);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: glass-report top [SESSION] [--interval SECONDS] [--once] [--sort KEY]\n"
		"\n"
		"A live view of a session while it is being recorded (the newest by default): per\n"
		"HTTP endpoint over the last 10 s and since the start, requests/s, p50/p99 and\n"
		"errors; the slowest functions and statements; per process CPU, RSS, threads, open\n"
		"files and lost events. Each frame reads only what was written since the last.\n"
		"It exits when every process of the session has ended.\n"
		"\n"
		"  -i, --interval S  seconds between frames (default 1; decimals allowed)\n"
		"      --once        print one frame of what is there now and exit (no terminal)\n"
		"  -s, --sort KEY    requests (default), p99, errors or total\n"
		"  -h, --help        this text\n"
		"\n"
		"Keys: r requests, p p99, e errors, t total time, q quit.\n"
		"\n%s",
		report_exit_help);
}

/* The session directory to follow: as report_open, without reading it. */
static int session_path(const char *arg, char *out, size_t cap)
{
	struct glass_session *s = report_open(arg);
	if (!s)
		return -1;
	snprintf(out, cap, "%s", glass_session_dir(s));
	glass_session_close(s);
	return 0;
}

int command_top(int argc, char **argv)
{
	static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
					     {"once", no_argument, NULL, 'o'},
					     {"sort", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	double interval = 1.0;
	int once = 0, c;
	struct top T = {0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': {
			char *end;
			interval = strtod(optarg, &end);
			if (*end || !(interval >= 0.05 && interval <= 3600)) {
				report_error("--interval wants seconds from 0.05 to 3600, not '%s'",
					     optarg);
				return GLASS_EXIT_USAGE;
			}
			break;
		}
		case 'o':
			once = 1;
			break;
		case 's':
			if (!strcmp(optarg, "requests"))
				T.sort = SORT_REQ;
			else if (!strcmp(optarg, "p99"))
				T.sort = SORT_P99;
			else if (!strcmp(optarg, "errors"))
				T.sort = SORT_ERR;
			else if (!strcmp(optarg, "total"))
				T.sort = SORT_TOTAL;
			else {
				report_error("--sort wants requests, p99, errors or total, not '%s'",
					     optarg);
				return GLASS_EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return GLASS_EXIT_OK;
		default:
			usage(stderr);
			return GLASS_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		report_error("top takes one SESSION, not %d operands", argc - optind);
		return GLASS_EXIT_USAGE;
	}
	char dir[4096];
	if (session_path(optind < argc ? argv[optind] : NULL, dir, sizeof(dir)) < 0)
		return GLASS_EXIT_SESSION;
	if (table_init(&T.ep, 1) < 0 || table_init(&T.fn, 0) < 0 || table_init(&T.db, 0) < 0 ||
	    !(T.L = glass_live_open(dir, on_span, &T))) {
		table_free(&T.ep);
		table_free(&T.fn);
		table_free(&T.db);
		return GLASS_EXIT_SESSION;
	}
	int tty = !once && isatty(0) && isatty(1);
	if (!once && !tty) {
		report_error("top needs a terminal (or --once for one frame)");
		glass_live_close(T.L);
		return GLASS_EXIT_USAGE;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty && set_raw() < 0)
		tty = 0;
	struct glass_buf b = {0};
	int rc = GLASS_EXIT_OK;
	if (tty)
		fputs("\033[?25l", stdout); /* no cursor while drawing */
	for (;;) {
		glass_live_poll(T.L);
		glass_resources_read(dir, &T.resources_off, NULL, on_resource, &T, NULL);
		int finished = glass_live_finished(T.L);
		int rows = 0;
		if (tty) {
			struct winsize ws;
			if (ioctl(1, TIOCGWINSZ, &ws) == 0)
				rows = ws.ws_row;
			glass_buf_puts(&b, "\033[H\033[2J");
		}
		frame(&T, &b, rows, finished);
		if (tty) {
			/* raw mode: lines need a carriage return */
			for (size_t i = 0; i < b.len; i++) {
				if (b.p[i] == '\n')
					fputc('\r', stdout);
				fputc(b.p[i], stdout);
			}
		} else if (b.len) {
			fwrite(b.p, 1, b.len, stdout);
		}
		b.len = 0;
		if (fflush(stdout) != 0) {
			rc = GLASS_EXIT_OUTPUT;
			break;
		}
		if (once || finished || stop_flag)
			break;
		/* wait for the interval or a key */
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int quit = 0;
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			double left = interval - ((double)(t1.tv_sec - t0.tv_sec) +
						  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
			if (left <= 0 || stop_flag)
				break;
			struct pollfd pf = {0, POLLIN, 0};
			int pr = poll(&pf, 1, (int)(left * 1000) + 1);
			if (pr <= 0)
				continue;
			char k;
			if (read(0, &k, 1) != 1)
				break;
			int redraw = 1;
			switch (k) {
			case 'q':
			case 'Q':
				quit = 1;
				break;
			case 'r':
				T.sort = SORT_REQ;
				break;
			case 'p':
				T.sort = SORT_P99;
				break;
			case 'e':
				T.sort = SORT_ERR;
				break;
			case 't':
				T.sort = SORT_TOTAL;
				break;
			default:
				redraw = 0;
			}
			if (quit || redraw)
				break;
		}
		if (quit || stop_flag)
			break;
	}
	restore_terminal();
	const char *w;
	while ((w = glass_live_warning(T.L)))
		fprintf(stderr, "glass-report: warning: %s\n", w);
	if (T.oom)
		report_error("warning: out of memory; some rows are missing");
	glass_buf_free(&b);
	glass_live_close(T.L);
	table_free(&T.ep);
	table_free(&T.fn);
	table_free(&T.db);
	free(T.res);
	return rc;
}
