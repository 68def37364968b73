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

#include "analysis/live.h"
#include "report.h"
#include "analysis/resources.h"
#include "analysis/stats.h"
#include "analysis/text.h"

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

/* The clock of a frame: now (the newest event, or the wall clock while recording goes on), the
 * seconds since the first event and those the "last" columns cover. */
struct when {
	uint64_t now, now_sec;
	double since, win_s;
};

static struct when frame_when(struct top *T, int finished)
{
	struct when wh;
	uint64_t first = glass_live_first_ns(T->L);
	wh.now = glass_live_last_ns(T->L);
	if (!finished) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t wall = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (wall > wh.now)
			wh.now = wall;
	}
	wh.now_sec = wh.now / 1000000000ull;
	wh.since = wh.now > first && first ? (double)(wh.now - first) / 1e9 : 0;
	wh.win_s = wh.since < WIN ? (wh.since > 1 ? wh.since : 1) : WIN;
	return wh;
}

static void print_header(struct top *T, struct glass_buf *b, const struct when *wh, int finished)
{
	uint64_t first = glass_live_first_ns(T->L);
	char t1[64], t2[64];
	glass_fmt_dur(t1, sizeof(t1), wh->now > first && first ? wh->now - first : 0);
	glass_fmt_count(t2, sizeof(t2), T->spans);
	const char *sort_names[] = {"requests", "p99", "errors", "total"};
	glass_buf_printf(b, "glass top  %s  %s  running %s  spans %s  sort: %s\n",
			 glass_live_dir(T->L), finished ? "(every process has ended)" : "", t1, t2,
			 sort_names[T->sort]);
}

/* The sort key of an endpoint: f since the start, w its last WIN seconds. */
static double endpoint_key(enum sort sort, const struct glass_fstats *f,
			   const struct glass_fstats *w)
{
	return sort == SORT_P99	    ? (double)glass_fstats_quantile(f, 0.99)
	       : sort == SORT_ERR   ? (double)f->errors
	       : sort == SORT_TOTAL ? (double)f->total_ns
				    : (double)w->calls * 1e9 + (double)f->calls;
}

static void print_endpoint(struct glass_buf *b, const void *key, size_t kl,
			   const struct glass_fstats *f, const struct glass_fstats *w,
			   const struct when *wh)
{
	char c[8][32];
	glass_fmt_dur(c[0], 32, glass_fstats_quantile(w, 0.5));
	glass_fmt_dur(c[1], 32, glass_fstats_quantile(w, 0.99));
	glass_fmt_count_short(c[2], 32, f->calls);
	glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.5));
	glass_fmt_dur(c[4], 32, glass_fstats_quantile(f, 0.99));
	glass_fmt_count_short(c[5], 32, w->errors);
	glass_fmt_count_short(c[6], 32, f->errors);
	put_text(b, key, kl, 40);
	glass_buf_printf(b, " %7.1f %6s %6s %5s | %8s %7.1f %7s %7s %6s\n",
			 (double)w->calls / wh->win_s, w->calls ? c[0] : "-", w->calls ? c[1] : "-",
			 c[5], c[2], wh->since > 0 ? (double)f->calls / wh->since : 0.0, c[3], c[4],
			 c[6]);
}

/* The HTTP endpoints table (at most 12 rows on a terminal); returns the lines it took. */
static int print_endpoints(struct top *T, struct glass_buf *b, const struct when *wh,
			   int rows_avail)
{
	size_t n = glass_ftable_size(T->ep.ft);
	if (!n)
		return 0;
	glass_buf_printf(b, "\n%-40s %25s | %32s\n", "", "--------- last 10 s ------",
			 "--------- since start ----------");
	glass_buf_printf(b, "%-40s %7s %6s %6s %5s | %8s %7s %7s %7s %6s\n", "HTTP endpoint",
			 "req/s", "p50", "p99", "err", "requests", "req/s", "p50", "p99", "err");
	int lines = 3;
	struct row *r = calloc(n, sizeof(*r));
	struct glass_fstats *w = calloc(n, sizeof(*w));
	if (r && w) {
		for (size_t i = 0; i < n; i++) {
			window_of(&T->ep, i, wh->now_sec, &w[i]);
			r[i].i = i;
			r[i].key = endpoint_key(T->sort, glass_ftable_stats(T->ep.ft, i), &w[i]);
		}
		qsort(r, n, sizeof(*r), row_cmp);
		size_t shown = 0;
		for (size_t k = 0; k < n && (shown < 12 || rows_avail <= 0); k++, shown++) {
			size_t i = r[k].i, kl;
			const void *key = glass_ftable_key(T->ep.ft, i, &kl);
			print_endpoint(b, key, kl, glass_ftable_stats(T->ep.ft, i), &w[i], wh);
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
	return lines;
}

/* One row of the functions or statements table. */
static void print_slow_row(struct glass_buf *b, const void *key, size_t kl,
			   const struct glass_fstats *f)
{
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
		int bl = snprintf(buf, sizeof(buf), "%.*s: %.*s", (int)sl, (const char *)key,
				  (int)(kl - sl - 1), tab + 1);
		key = buf;
		kl = bl > 0 && (size_t)bl < sizeof(buf) ? (size_t)bl : strlen(buf);
	}
	put_text(b, key, kl, 56);
	glass_buf_printf(b, " %8s %8s %7s %7s %7s %6s\n", c[0], c[1], c[2], c[3], c[4], c[5]);
}

/* The slowest functions or statements by total time since start (or the sort key): at most
 * `max` rows, fewer when the terminal is short; *lines counts the lines printed so far. */
static void print_slowest(struct top *T, struct glass_buf *b, const char *title, struct table *t,
			  size_t max, int rows_avail, int *lines)
{
	size_t m = glass_ftable_size(t->ft);
	if (!m)
		return;
	glass_buf_printf(b, "\n%-56s %8s %8s %7s %7s %7s %6s\n", title, "calls", "total", "mean",
			 "p50", "p99", "err");
	*lines += 2;
	struct row *r = calloc(m, sizeof(*r));
	if (!r) {
		T->oom = 1;
		return;
	}
	for (size_t i = 0; i < m; i++) {
		const struct glass_fstats *f = glass_ftable_stats(t->ft, i);
		r[i].i = i;
		r[i].key = T->sort == SORT_P99	 ? (double)glass_fstats_quantile(f, 0.99)
			   : T->sort == SORT_ERR ? (double)f->errors
						 : (double)f->total_ns;
	}
	qsort(r, m, sizeof(*r), row_cmp);
	if (rows_avail > 0 && *lines + (int)max + 8 > rows_avail)
		max = rows_avail - *lines > 10 ? (size_t)(rows_avail - *lines - 8) / 2 : 2;
	for (size_t k = 0; k < m && k < max; k++) {
		size_t i = r[k].i, kl;
		const void *key = glass_ftable_key(t->ft, i, &kl);
		print_slow_row(b, key, kl, glass_ftable_stats(t->ft, i));
		(*lines)++;
	}
	free(r);
}

/* The last resource samples of a process (its key "PID.IMAGE"), NULL when none yet. */
static const struct res_last *process_res(const struct top *T, const struct glass_live_proc *p)
{
	const struct res_last *r = NULL;
	uint32_t image = 0;
	const char *dot = strchr(p->key, '.');
	if (dot)
		image = (uint32_t)strtoul(dot + 1, NULL, 10);
	for (size_t k = 0; k < T->nres; k++)
		if (T->res[k].pid == p->pid && T->res[k].image == image)
			r = &T->res[k];
	return r;
}

static void print_process(const struct top *T, struct glass_buf *b,
			  const struct glass_live_proc *p)
{
	const struct res_last *r = process_res(T, p);
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

static void print_processes(const struct top *T, struct glass_buf *b)
{
	glass_buf_printf(b, "\n%-12s %-8s %7s %10s %7s %5s %12s  %s\n", "process", "state", "cpu",
			 "rss", "threads", "fds", "lost events", "command");
	size_t np = glass_live_nprocs(T->L);
	for (size_t i = 0; i < np; i++)
		print_process(T, b, glass_live_proc(T->L, i));
	if (!np)
		glass_buf_puts(b, "(no process yet)\n");
}

static void frame(struct top *T, struct glass_buf *b, int rows_avail, int finished)
{
	struct when wh = frame_when(T, finished);
	print_header(T, b, &wh, finished);
	int lines = 1;
	lines += print_endpoints(T, b, &wh, rows_avail);
	print_slowest(T, b, "function", &T->fn, 10, rows_avail, &lines);
	print_slowest(T, b, "statement", &T->db, 8, rows_avail, &lines);
	print_processes(T, b);
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

/* ---- command line --------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
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

enum { OPT_ONCE = 0x7101 };

struct top_opts {
	double interval;
	int once;
	enum sort sort;
};

static int top_option(void *ctx, int c, const char *arg)
{
	struct top_opts *o = ctx;
	char *end;
	switch (c) {
	case 'i':
		o->interval = strtod(arg, &end);
		if (*end || !(o->interval >= 0.05 && o->interval <= 3600)) {
			report_error("--interval wants seconds from 0.05 to 3600, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	case OPT_ONCE:
		o->once = 1;
		break;
	case 's':
		if (!strcmp(arg, "requests"))
			o->sort = SORT_REQ;
		else if (!strcmp(arg, "p99"))
			o->sort = SORT_P99;
		else if (!strcmp(arg, "errors"))
			o->sort = SORT_ERR;
		else if (!strcmp(arg, "total"))
			o->sort = SORT_TOTAL;
		else {
			report_error("--sort wants requests, p99, errors or total, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	}
	return 0;
}

/* Reads argv into *o and the session directory to follow into dir: -1 to go on, else the exit
 * status to return. */
static int top_parse(int argc, char **argv, struct top_opts *o, char *dir, size_t cap)
{
	static const struct option opts[] = {{"interval", required_argument, NULL, 'i'},
					     {"once", no_argument, NULL, OPT_ONCE},
					     {"sort", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	const struct report_cli cli = {.name = "top",
				       .usage = usage,
				       .no_strict = 1,
				       .shortopts = "i:s:",
				       .longopts = opts,
				       .option = top_option,
				       .ctx = o};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	if (a.argc - a.first > 1) {
		report_error("top takes one SESSION, not %d operands", a.argc - a.first);
		return GLASS_EXIT_USAGE;
	}
	if (session_path(a.first < a.argc ? a.argv[a.first] : NULL, dir, cap) < 0)
		return GLASS_EXIT_SESSION;
	return -1;
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* Reads what the session wrote since the last frame and draws the next into b (after a clear
 * screen on a terminal). Returns whether every process of the session has ended. */
static int top_draw(struct top *T, struct glass_buf *b, const char *dir, int once, int tty)
{
	glass_live_poll(T->L);
	glass_resources_read(dir, &T->resources_off, NULL, on_resource, T, NULL);
	int finished = glass_live_finished(T->L);
	/* one frame of a session whose processes all ended: wait out the grace second
	 * (a last child may still appear) rather than call it running */
	for (int k = 0; once && !finished && glass_live_ended(T->L) && k < 12; k++) {
		struct timespec ts = {0, 100000000L};
		nanosleep(&ts, NULL);
		glass_live_poll(T->L);
		finished = glass_live_finished(T->L);
	}
	int rows = 0;
	if (tty) {
		struct winsize ws;
		if (ioctl(1, TIOCGWINSZ, &ws) == 0)
			rows = ws.ws_row;
		glass_buf_puts(b, "\033[H\033[2J");
	}
	frame(T, b, rows, finished);
	return finished;
}

/* Writes the frame in b to standard output and empties b; 0, or -1 when it cannot be written. */
static int top_show(struct glass_buf *b, int tty)
{
	if (tty) {
		/* raw mode: lines need a carriage return */
		for (size_t i = 0; i < b->len; i++) {
			if (b->p[i] == '\n')
				fputc('\r', stdout);
			fputc(b->p[i], stdout);
		}
	} else if (b->len) {
		fwrite(b->p, 1, b->len, stdout);
	}
	b->len = 0;
	return fflush(stdout) != 0 ? -1 : 0;
}

/* A key pressed: -1 to quit, 1 to redraw (a new sort), 0 to ignore it. */
static int top_key(struct top *T, char k)
{
	switch (k) {
	case 'q':
	case 'Q':
		return -1;
	case 'r':
		T->sort = SORT_REQ;
		return 1;
	case 'p':
		T->sort = SORT_P99;
		return 1;
	case 'e':
		T->sort = SORT_ERR;
		return 1;
	case 't':
		T->sort = SORT_TOTAL;
		return 1;
	default:
		return 0;
	}
}

/* Waits out the interval, or less for a key that changes the frame. Returns 1 to quit. */
static int top_wait(struct top *T, double interval)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double left = interval - ((double)(t1.tv_sec - t0.tv_sec) +
					  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		if (left <= 0 || stop_flag)
			return 0;
		struct pollfd pf = {0, POLLIN, 0};
		int pr = poll(&pf, 1, (int)(left * 1000) + 1);
		if (pr <= 0)
			continue;
		char k;
		if (read(0, &k, 1) != 1)
			return 0;
		int act = top_key(T, k);
		if (act)
			return act < 0;
	}
}

/* Draws a frame every interval until the session ends, a key or a signal says to stop (or
 * once). Returns the exit status. */
static int top_run(struct top *T, const char *dir, const struct top_opts *o, int tty)
{
	struct glass_buf b = {0};
	int rc = GLASS_EXIT_OK;
	if (tty)
		fputs("\033[?25l", stdout); /* no cursor while drawing */
	for (;;) {
		int finished = top_draw(T, &b, dir, o->once, tty);
		if (top_show(&b, tty) < 0) {
			rc = GLASS_EXIT_OUTPUT;
			break;
		}
		if (o->once || finished || stop_flag)
			break;
		if (top_wait(T, o->interval) || stop_flag)
			break;
	}
	glass_buf_free(&b);
	return rc;
}

static void top_free(struct top *T)
{
	table_free(&T->ep);
	table_free(&T->fn);
	table_free(&T->db);
}

int command_top(int argc, char **argv)
{
	struct top_opts o = {.interval = 1.0, .sort = SORT_REQ};
	struct top T = {0};
	char dir[4096];
	int rc = top_parse(argc, argv, &o, dir, sizeof(dir));
	if (rc >= 0)
		return rc;
	T.sort = o.sort;
	if (table_init(&T.ep, 1) < 0 || table_init(&T.fn, 0) < 0 || table_init(&T.db, 0) < 0 ||
	    !(T.L = glass_live_open(dir, on_span, &T))) {
		top_free(&T);
		return GLASS_EXIT_SESSION;
	}
	int tty = !o.once && isatty(0) && isatty(1);
	if (!o.once && !tty) {
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
	rc = top_run(&T, dir, &o, tty);
	restore_terminal();
	const char *w;
	while ((w = glass_live_warning(T.L)))
		fprintf(stderr, "glass-report: warning: %s\n", w);
	if (T.oom)
		report_error("warning: out of memory; some rows are missing");
	glass_live_close(T.L);
	top_free(&T);
	free(T.res);
	return rc;
}
