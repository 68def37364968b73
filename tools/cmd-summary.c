/* tools/cmd-summary.c — `glass-report summary`: the run at a glance and a per-function table. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "native.h"
#include "report.h"
#include "aggregate.h"
#include "res-report.h"
#include "spans.h"
#include "stats.h"
#include "text.h"

enum sort_key { SORT_TOTAL, SORT_SELF, SORT_CALLS, SORT_P99 };

struct thread_row {
	uint32_t pid, tid, tidx;
	char *name;
	uint64_t spans, busy_ns;
};

/* What one pass over the session gathers. */
struct summary {
	struct glass_agg agg;
	struct thread_row *threads;
	size_t nthreads;
	uint64_t *lost; /* per process */
	uint64_t events, first, last;
};

static void on_span(void *ctx, const struct glass_span *sp)
{
	glass_agg_span(ctx, sp);
}

#define NAME_COLS 35

/* The rows of a cell table, each cell after a space, padded to its width, right-aligned. */
static void put_cells(const char *cells, size_t stride, const size_t *w, size_t n)
{
	for (size_t c = 0; c < n; c++) {
		putchar(' ');
		glass_put_padded(stdout, cells + c * stride, w[c], 1);
	}
}

/* A table's heading: the name column, then the cells' heads right-aligned (or left: mask 0). */
static void put_heads(const char *name, size_t cols, const char *const *heads, const size_t *w,
		      size_t n, unsigned long right)
{
	printf("\n");
	glass_put_padded(stdout, name, cols, 0);
	for (size_t c = 0; c < n; c++) {
		putchar(' ');
		glass_put_padded(stdout, heads[c], w[c], (right >> c) & 1);
	}
	putchar('\n');
}

static void print_name_cell(const void *key, size_t klen, size_t cols, int from_left)
{
	char text[200 * 4 + 8];
	glass_term_text(text, sizeof(text), key, klen, cols, from_left);
	glass_put_padded(stdout, text, cols, 0);
}

/* The function rows in the order --sort asks for. */
static struct glass_agg_rank *function_order(struct glass_agg *A, enum sort_key sort, size_t n)
{
	struct glass_agg_rank *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct glass_fstats *f = glass_ftable_stats(A->functions, i);
		rows[i].i = i;
		switch (sort) {
		case SORT_SELF:
			rows[i].key = f->self_ns;
			break;
		case SORT_CALLS:
			rows[i].key = f->calls;
			break;
		case SORT_P99:
			rows[i].key = glass_fstats_quantile(f, 0.99);
			break;
		default:
			rows[i].key = f->total_ns;
		}
	}
	glass_agg_rank_sort(rows, n);
	return rows;
}

static void print_function_row(struct glass_agg *A, size_t i)
{
	static const size_t widths[] = {7, 6, 6, 6, 6, 6, 6, 6, 6};
	const struct glass_fstats *f = glass_ftable_stats(A->functions, i);
	char name[1024], text[NAME_COLS * 4 + 8];
	glass_agg_fn_name(A, i, name, sizeof(name));
	/* cut from the left: the end of a qualified name says the most */
	glass_term_text(text, sizeof(text), name, strlen(name), NAME_COLS, 1);
	glass_put_padded(stdout, text, NAME_COLS, 0);
	char cell[9][32];
	glass_fmt_count_short(cell[0], sizeof(cell[0]), f->calls);
	glass_fmt_dur(cell[1], sizeof(cell[1]), f->total_ns);
	glass_fmt_dur(cell[2], sizeof(cell[2]), f->self_ns);
	glass_fmt_dur(cell[3], sizeof(cell[3]), f->calls ? f->total_ns / f->calls : 0);
	glass_fmt_dur(cell[4], sizeof(cell[4]), glass_fstats_quantile(f, 0.50));
	glass_fmt_dur(cell[5], sizeof(cell[5]), glass_fstats_quantile(f, 0.90));
	glass_fmt_dur(cell[6], sizeof(cell[6]), glass_fstats_quantile(f, 0.99));
	glass_fmt_dur(cell[7], sizeof(cell[7]), f->max_ns);
	if (f->errors)
		glass_fmt_count_short(cell[8], sizeof(cell[8]), f->errors);
	else
		snprintf(cell[8], sizeof(cell[8]), "-");
	put_cells(cell[0], sizeof(cell[0]), widths, 9);
	putchar('\n');
}

static void print_function_table(struct glass_agg *A, enum sort_key sort, size_t limit)
{
	size_t n = glass_ftable_size(A->functions);
	struct glass_agg_rank *rows = function_order(A, sort, n);
	if (!rows) {
		A->oom = 1;
		return;
	}
	static const char *const heads[] = {"calls", "total", "self", "mean",  "p50",
					    "p90",   "p99",   "max",  "errors"};
	static const size_t widths[] = {7, 6, 6, 6, 6, 6, 6, 6, 6};
	put_heads("function", NAME_COLS, heads, widths, 9, ~0ul);
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++)
		print_function_row(A, rows[r].i);
	if (shown < n)
		printf("... %zu more functions (--limit 0 shows all)\n", n - shown);
	if (!n)
		printf("(no traced calls)\n");
	free(rows);
}

/* HTTP endpoints: requests, rate over the run, percentiles, error rate by status class. */
static void print_endpoints(struct glass_agg *A, uint64_t wall_ns, size_t limit)
{
	struct glass_agg_table *t = &A->endpoints;
	struct glass_agg_rank *rows;
	size_t n = glass_agg_by_total(t->ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	static const char *const heads[] = {"requests", "rps", "p50", "p90", "p99",   "max",
					    "2xx",	"3xx", "4xx", "5xx", "errors"};
	static const size_t w[] = {8, 7, 6, 6, 6, 6, 6, 5, 5, 5, 6};
	put_heads("HTTP endpoint", 34, heads, w, 11, ~0ul);
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const void *k = glass_ftable_key(t->ft, rows[r].i, &kl);
		const struct glass_fstats *f = glass_ftable_stats(t->ft, rows[r].i);
		const struct glass_agg_op *e = &t->op[rows[r].i];
		print_name_cell(k, kl, 34, 0);
		char c[11][32];
		glass_fmt_count_short(c[0], 32, f->calls);
		snprintf(c[1], 32, "%.1f",
			 wall_ns ? (double)f->calls * 1e9 / (double)wall_ns : 0.0);
		glass_fmt_dur(c[2], 32, glass_fstats_quantile(f, 0.50));
		glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.90));
		glass_fmt_dur(c[4], 32, glass_fstats_quantile(f, 0.99));
		glass_fmt_dur(c[5], 32, f->max_ns);
		for (int k2 = 2; k2 <= 5; k2++)
			glass_fmt_count_short(c[4 + k2], 32, e->status[k2]);
		snprintf(c[10], 32, "%.1f%%",
			 f->calls ? 100.0 * (double)f->errors / (double)f->calls : 0.0);
		put_cells(c[0], sizeof(c[0]), w, 11);
		putchar('\n');
	}
	if (shown < n)
		printf("... %zu more endpoints\n", n - shown);
	free(rows);
}

/* Slowest statements (SQL, MongoDB, Redis) by total time, normalised text. */
static void print_statements(struct glass_agg *A, size_t limit)
{
	struct glass_agg_table *t = &A->statements;
	struct glass_agg_rank *rows;
	size_t n = glass_agg_by_total(t->ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	static const char *const heads[] = {"system", "count", "total", "p99", "rows", "errors"};
	static const size_t w[] = {10, 7, 6, 6, 7, 6};
	put_heads("statement", 54, heads, w, 6, ~1ul);
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const char *k = glass_ftable_key(t->ft, rows[r].i, &kl);
		const char *tab = memchr(k, '\t', kl);
		size_t sysl = tab ? (size_t)(tab - k) : 0;
		const char *stmt = tab ? tab + 1 : k;
		size_t stl = kl - (size_t)(stmt - k);
		const struct glass_fstats *f = glass_ftable_stats(t->ft, rows[r].i);
		print_name_cell(stmt, stl, 54, 0);
		putchar(' ');
		print_name_cell(k, sysl, 10, 0);
		char c[5][32];
		glass_fmt_count_short(c[0], 32, f->calls);
		glass_fmt_dur(c[1], 32, f->total_ns);
		glass_fmt_dur(c[2], 32, glass_fstats_quantile(f, 0.99));
		glass_fmt_count_short(c[3], 32, t->op[rows[r].i].rows);
		if (f->errors)
			glass_fmt_count_short(c[4], 32, f->errors);
		else
			snprintf(c[4], 32, "-");
		put_cells(c[0], sizeof(c[0]), w + 1, 5);
		putchar('\n');
	}
	if (shown < n)
		printf("... %zu more statements\n", n - shown);
	free(rows);
}

/* Outbound peers: databases, HTTP services and TCP peers this process waited on. */
static void print_peers(struct glass_agg *A, size_t limit)
{
	struct glass_agg_table *t = &A->peers;
	struct glass_agg_rank *rows;
	size_t n = glass_agg_by_total(t->ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	static const char *const heads[] = {"calls", "total", "p50", "p99", "errors"};
	static const size_t w[] = {7, 6, 6, 6, 6};
	put_heads("outbound peer", 44, heads, w, 5, ~0ul);
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const char *k = glass_ftable_key(t->ft, rows[r].i, &kl);
		const struct glass_fstats *f = glass_ftable_stats(t->ft, rows[r].i);
		print_name_cell(k, kl, 44, 0);
		char c[5][32];
		glass_fmt_count_short(c[0], 32, f->calls);
		glass_fmt_dur(c[1], 32, f->total_ns);
		glass_fmt_dur(c[2], 32, glass_fstats_quantile(f, 0.50));
		glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.99));
		if (f->errors)
			glass_fmt_count_short(c[4], 32, f->errors);
		else
			snprintf(c[4], 32, "-");
		put_cells(c[0], sizeof(c[0]), w, 5);
		putchar('\n');
	}
	if (shown < n)
		printf("... %zu more peers\n", n - shown);
	free(rows);
}

static void print_command_line(const struct glass_proc_info *in)
{
	struct glass_buf b = {0};
	for (uint32_t i = 0; i < in->argc; i++) {
		if (i)
			glass_buf_put(&b, " ", 1);
		glass_buf_puts(&b, in->argv[i]);
	}
	if (!in->argc)
		glass_buf_puts(&b, *in->executable ? in->executable : "(unknown)");
	char text[90 * 4 + 8];
	glass_term_text(text, sizeof(text), b.p ? b.p : "", b.len, 84, 0);
	printf("command      %s\n", text);
	glass_buf_free(&b);
}

/* Lost events in all, and per process: at most 6 named (those that lost some, if many). */
static void print_lost(struct summary *S, struct glass_session *s)
{
	char buf[128];
	size_t nprocs = glass_session_nprocs(s);
	uint64_t lost_total = 0;
	for (size_t i = 0; i < nprocs; i++)
		lost_total += S->lost[i];
	glass_fmt_count(buf, sizeof(buf), lost_total);
	printf("lost events  %s", buf);
	if (nprocs > 1 || lost_total) {
		printf(" (");
		size_t shown = 0;
		for (size_t i = 0; i < nprocs && shown < 6; i++) {
			if (nprocs > 6 && !S->lost[i])
				continue;
			glass_fmt_count(buf, sizeof(buf), S->lost[i]);
			printf("%s%s: %s", shown ? ", " : "",
			       glass_proc_info(glass_session_proc(s, i))->key, buf);
			shown++;
		}
		if (nprocs > shown)
			printf("%s%zu more", shown ? ", " : "", nprocs - shown);
		printf(")");
	}
	printf("\n");
}

static void print_header(struct summary *S, struct glass_session *s)
{
	char buf[128], buf2[128];
	size_t nprocs = glass_session_nprocs(s);
	printf("session      %s\n", glass_session_dir(s));
	if (nprocs)
		print_command_line(glass_proc_info(glass_session_proc(s, 0)));
	if (S->first != UINT64_MAX && S->last >= S->first) {
		glass_fmt_dur(buf, sizeof(buf), S->last - S->first);
		glass_fmt_time(buf2, sizeof(buf2), S->first, 0, 1);
		printf("wall time    %s (from %s)\n", buf, buf2);
	} else {
		printf("wall time    - (no events)\n");
	}
	glass_fmt_count(buf, sizeof(buf), S->events);
	printf("processes    %zu    threads %zu    events %s\n", nprocs, S->nthreads, buf);
	print_lost(S, s);
	printf("warnings     %zu%s\n", glass_session_nwarnings(s),
	       glass_session_nwarnings(s) ? " (on stderr; glass-report info lists all)" : "");
}

/* Per process, per thread: spans and busy time. */
static void print_threads(struct summary *S)
{
	char buf[128];
	printf("\n");
	glass_put_padded(stdout, "pid", 8, 0);
	glass_put_padded(stdout, "tid", 9, 0);
	glass_put_padded(stdout, "thread", 40, 0);
	glass_put_padded(stdout, "spans", 12, 1);
	glass_put_padded(stdout, "busy", 10, 1);
	printf("\n");
	for (size_t i = 0; i < S->nthreads; i++) {
		struct thread_row *t = &S->threads[i];
		char name[40 * 4 + 8];
		if (t->name)
			glass_term_text(name, sizeof(name), t->name, strlen(t->name), 38, 0);
		else
			snprintf(name, sizeof(name), "t%u", t->tidx);
		printf("%-7u %-8u ", t->pid, t->tid);
		glass_put_padded(stdout, name, 40, 0);
		glass_fmt_count(buf, sizeof(buf), t->spans);
		glass_put_padded(stdout, buf, 12, 1);
		glass_fmt_dur(buf, sizeof(buf), t->busy_ns);
		glass_put_padded(stdout, buf, 10, 1);
		printf("\n");
	}
	if (!S->nthreads)
		printf("(no threads recorded)\n");
}

/* One thread's spans into the aggregation, and its row. Returns its LOST records. */
static uint64_t gather_thread(struct summary *S, struct glass_session *s, size_t pi, size_t ti,
			      struct glass_progress *pg)
{
	struct glass_proc *p = glass_session_proc(s, pi);
	const uint32_t *tidx;
	glass_proc_threads(p, &tidx);
	struct glass_spans *b = NULL;
	if (report_run_thread(p, tidx[ti], glass_span_ids_for(s, pi, ti), NULL, on_span, &S->agg,
			      &b, pg) < 0)
		return 0;
	const struct glass_span_counts *cnt = glass_spans_counts(b);
	struct thread_row *t = &S->threads[S->nthreads++];
	const char *name = glass_spans_thread_name(b);
	*t = (struct thread_row){.pid = glass_proc_info(p)->pid,
				 .tid = glass_spans_tid(b),
				 .tidx = tidx[ti],
				 .name = name ? strdup(name) : NULL,
				 .spans = cnt->spans,
				 .busy_ns = cnt->busy_ns};
	S->events += cnt->records;
	if (cnt->first_ns && cnt->first_ns < S->first)
		S->first = cnt->first_ns;
	if (cnt->last_ns > S->last)
		S->last = cnt->last_ns;
	uint64_t lost = cnt->lost_records;
	glass_spans_free(b);
	return lost;
}

/* One pass: each thread's stream once, in session order. */
static void gather(struct summary *S, struct glass_session *s)
{
	struct glass_progress *pg = report_progress(s, "summary");
	for (size_t pi = 0; pi < glass_session_nprocs(s); pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const struct glass_proc_info *in = glass_proc_info(p);
		if (glass_agg_process(&S->agg, p) < 0)
			break;
		if (in->start_unix_ns && in->start_unix_ns < S->first)
			S->first = in->start_unix_ns;
		if (in->end_unix_ns > S->last)
			S->last = in->end_unix_ns;
		uint64_t lost_records = 0;
		const uint32_t *tidx;
		size_t n = glass_proc_threads(p, &tidx);
		for (size_t ti = 0; ti < n; ti++)
			lost_records += gather_thread(S, s, pi, ti, pg);
		/* the header counts every dropped record; LOST records only those followed by a
		 * chunk again: the larger is the loss */
		S->lost[pi] = in->lost_events > lost_records ? in->lost_events : lost_records;
	}
	glass_progress_end(pg);
}

static int summary_init(struct summary *S, struct glass_session *s)
{
	size_t nprocs = glass_session_nprocs(s), nthreads = 0;
	for (size_t i = 0; i < nprocs; i++)
		nthreads += glass_proc_info(glass_session_proc(s, i))->nthreads;
	*S = (struct summary){.first = UINT64_MAX};
	S->threads = calloc(nthreads ? nthreads : 1, sizeof(*S->threads));
	S->lost = calloc(nprocs ? nprocs : 1, sizeof(*S->lost));
	return glass_agg_init(&S->agg) < 0 || !S->threads || !S->lost ? -1 : 0;
}

static void summary_free(struct summary *S)
{
	for (size_t i = 0; i < S->nthreads; i++)
		free(S->threads[i].name);
	free(S->threads);
	free(S->lost);
	glass_agg_free(&S->agg);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report [summary] [SESSION] [--limit N] [--sort total|self|calls|p99]\n"
	    "                    [--strict]\n"
	    "\n"
	    "The run at a glance: wall time, processes, threads, events and losses; when the\n"
	    "recording has them, HTTP endpoints (requests, requests/s over the run, p50/p90/p99,\n"
	    "responses by status class, error rate), the statements (SQL, MongoDB, Redis; in\n"
	    "normalised text) by total time and the outbound peers; then a table of traced\n"
	    "functions (calls, total and self time, mean, p50/p90/p99, max, errors) and the busy\n"
	    "time of each thread. Tables list --limit rows each.\n"
	    "\n"
	    "  -n, --limit N   functions to list (default 30; 0 lists all)\n"
	    "  -s, --sort KEY  order of the table: total (default), self, calls or p99\n"
	    "      --strict    exit with status 3 when the session was read with warnings\n"
	    "  -h, --help      this text\n"
	    "\n"
	    "Percentiles come from log-linear histograms: within 3.1%% of the exact value.\n"
	    "\n%s",
	    report_exit_help);
}

struct summary_opts {
	size_t limit;
	enum sort_key sort;
};

static int summary_option(void *ctx, int c, const char *arg)
{
	struct summary_opts *o = ctx;
	static const char *const sorts[] = {"total", "self", "calls", "p99"};
	if (c == 'n') {
		char *end;
		long v = strtol(arg, &end, 10);
		if (*end || v < 0) {
			report_error("--limit wants a number >= 0, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		o->limit = (size_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
		if (!strcmp(arg, sorts[i])) {
			o->sort = (enum sort_key)i;
			return 0;
		}
	report_error("--sort wants total, self, calls or p99, not '%s'", arg);
	return GLASS_EXIT_USAGE;
}

int command_summary(int argc, char **argv)
{
	static const struct option opts[] = {{"limit", required_argument, NULL, 'n'},
					     {"sort", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	struct summary_opts o = {.limit = 30, .sort = SORT_TOTAL};
	const struct report_cli cli = {.name = "summary",
				       .usage = usage,
				       .shortopts = "n:s:",
				       .longopts = opts,
				       .option = summary_option,
				       .ctx = &o};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	struct summary S;
	if (summary_init(&S, s) < 0) {
		report_error("out of memory");
		summary_free(&S);
		glass_session_close(s);
		return GLASS_EXIT_SESSION;
	}
	gather(&S, s);
	print_header(&S, s);
	print_endpoints(&S.agg, S.first != UINT64_MAX && S.last > S.first ? S.last - S.first : 0,
			o.limit);
	print_statements(&S.agg, o.limit);
	print_peers(&S.agg, o.limit);
	print_function_table(&S.agg, o.sort, o.limit);
	print_threads(&S);
	native_summary(stdout, s, o.limit);
	res_print_summary(stdout, glass_session_dir(s));
	int rc = report_check_output(stdout, "standard output");
	if (S.agg.oom)
		report_error("warning: out of memory; some functions are missing from the table");
	summary_free(&S);
	return report_finish(&a, s, rc);
}
