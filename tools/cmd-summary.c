/* tools/cmd-summary.c — `glass-report summary`: the run at a glance and a per-function table. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "native.h"
#include "report.h"
#include "spans.h"
#include "stats.h"
#include "text.h"

enum sort_key { SORT_TOTAL, SORT_SELF, SORT_CALLS, SORT_P99 };

/* Name of a function row: its code definition, or pid and id when the id was never defined. */
struct fn_label {
	const struct glass_code_def *def;
	uint32_t pid, code_id;
};

struct thread_row {
	uint32_t pid, tid, tidx;
	char *name;
	uint64_t spans, busy_ns;
};

/* Extra facts of a row of the captured-operation tables. */
struct cap_extra {
	uint64_t status[6]; /* HTTP: responses by class 1xx..5xx (index 1..5), 0: none/aborted */
	uint64_t rows;	    /* DB: rows returned or affected, summed */
	uint32_t kind;
	char label[160];
};

struct cap_table {
	struct glass_ftable *ft;
	struct cap_extra *ex;
	size_t nex, cap;
};

struct summary {
	struct glass_ftable *ft;
	struct cap_table endpoints, statements, peers;
	struct fn_label *labels;
	size_t nlabels, cap_labels;
	/* per process: code definition index -> function row (-1 unknown yet) */
	const struct glass_code_def *codes;
	long *cache;
	struct glass_fstats **fcache;
	size_t ncodes;
	uint32_t pid;
	int oom;
};

static long fn_row(struct summary *S, const struct glass_span *sp)
{
	const struct glass_code_def *d = sp->code;
	size_t k = 0;
	if (d && d >= S->codes && d < S->codes + S->ncodes) {
		k = (size_t)(d - S->codes);
		if (S->cache[k] >= 0)
			return S->cache[k];
	}
	/* key: the function's identity, so the same function in several processes is one row */
	struct glass_buf key = {0};
	if (d) {
		glass_buf_puts(&key, d->module);
		glass_buf_put(&key, "", 1);
		glass_buf_puts(&key, d->qualname);
		glass_buf_put(&key, "", 1);
		glass_buf_puts(&key, d->filename);
		glass_buf_printf(&key, "%c%u", 0, d->line);
	} else {
		glass_buf_printf(&key, "%c<unknown>%c%u%c%u", 1, 0, sp->pid, 0, sp->code_id);
	}
	int added = 0;
	long fi = key.oom ? -1 : glass_ftable_intern(S->ft, key.p, key.len, &added);
	glass_buf_free(&key);
	if (fi < 0) {
		S->oom = 1;
		return -1;
	}
	if (added) {
		if (S->nlabels == S->cap_labels) {
			size_t cap = S->cap_labels ? S->cap_labels * 2 : 256;
			struct fn_label *l = realloc(S->labels, cap * sizeof(*l));
			if (!l) {
				S->oom = 1;
				return -1;
			}
			S->labels = l;
			S->cap_labels = cap;
		}
		S->labels[S->nlabels++] = (struct fn_label){d, sp->pid, sp->code_id};
	}
	if (d && S->cache)
		S->cache[k] = fi;
	return fi;
}

static struct cap_extra *cap_row(struct summary *S, struct cap_table *t, const char *key,
				 size_t klen, struct glass_fstats **f)
{
	if (!t->ft && !(t->ft = glass_ftable_new())) {
		S->oom = 1;
		return NULL;
	}
	int added = 0;
	long i = glass_ftable_intern(t->ft, key, klen, &added);
	if (i < 0) {
		S->oom = 1;
		return NULL;
	}
	if ((size_t)i >= t->nex) {
		if ((size_t)i >= t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct cap_extra *e = realloc(t->ex, cap * sizeof(*e));
			if (!e) {
				S->oom = 1;
				return NULL;
			}
			t->ex = e;
			t->cap = cap;
		}
		memset(&t->ex[i], 0, sizeof(t->ex[i]));
		t->nex = (size_t)i + 1;
	}
	*f = glass_ftable_stats(t->ft, (size_t)i);
	return &t->ex[i];
}

static int64_t attr_int(const struct glass_span *sp, const char *key, int64_t dflt)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	return a && a->type == GLASS_ATTR_INT ? a->i : dflt;
}

/* A captured operation: an endpoint, a statement, and (client side) a peer row. */
static void on_capture(struct summary *S, const struct glass_span *sp)
{
	struct glass_fstats *f;
	struct cap_extra *e;
	char key[GLASS_SPAN_KEY_MAX];
	const char *a;
	size_t al;
	int err = sp->status == GLASS_SPAN_ERROR;
	int n;
	switch (sp->kind) {
	case GLASS_KIND_HTTP_SERVER: {
		e = cap_row(S, &S->endpoints, key, glass_span_endpoint_key(sp, key, sizeof(key)), &f);
		if (!e)
			return;
		int64_t code = attr_int(sp, "http.response.status_code", 0);
		e->status[code >= 100 && code < 600 ? code / 100 : 0]++;
		break;
	}
	case GLASS_KIND_DB: {
		e = cap_row(S, &S->statements, key, glass_span_statement_key(sp, key, sizeof(key)),
			    &f);
		if (!e)
			return;
		int64_t r = attr_int(sp, "db.response.returned_rows", -1);
		if (r < 0)
			r = attr_int(sp, "db.response.affected_rows", 0);
		e->rows += r > 0 ? (uint64_t)r : 0;
		break;
	}
	default:
		e = NULL;
		f = NULL;
		break;
	}
	if (e) {
		e->kind = sp->kind;
		if (glass_fstats_add(f, sp->dur_ns, sp->self_ns, err) < 0)
			S->oom = 1;
	}
	/* outbound peers: where this process waited on someone else */
	if (sp->kind == GLASS_KIND_HTTP_SERVER)
		return;
	a = glass_span_str(sp, "server.address", &al);
	int64_t port = attr_int(sp, "server.port", 0);
	if (!al && sp->kind == GLASS_KIND_DB) {
		a = glass_span_str(sp, "db.name", &al); /* sqlite: the file */
	}
	if (!al)
		return;
	size_t sl;
	const char *sys = glass_span_str(sp, "db.system", &sl);
	if (sp->kind == GLASS_KIND_HTTP_CLIENT)
		sys = "http", sl = 4;
	else if (sp->kind == GLASS_KIND_NET)
		sys = "tcp", sl = 3;
	n = port ? snprintf(key, sizeof(key), "%.*s %.*s:%lld", (int)sl, sys, (int)al, a, (long long)port)
		 : snprintf(key, sizeof(key), "%.*s %.*s", (int)sl, sys, (int)al, a);
	e = cap_row(S, &S->peers, key, (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1, &f);
	if (e && glass_fstats_add(f, sp->dur_ns, sp->self_ns, err) < 0)
		S->oom = 1;
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct summary *S = ctx;
	struct glass_fstats *f;
	if (sp->kind != GLASS_KIND_PYTHON) {
		on_capture(S, sp);
		return;
	}
	const struct glass_code_def *d = sp->code;
	if (d && d >= S->codes && d < S->codes + S->ncodes && S->fcache[d - S->codes]) {
		f = S->fcache[d - S->codes];
	} else {
		long fi = fn_row(S, sp);
		if (fi < 0)
			return;
		f = glass_ftable_stats(S->ft, (size_t)fi);
		if (d && d >= S->codes && d < S->codes + S->ncodes)
			S->fcache[d - S->codes] = f;
	}
	if (glass_fstats_add(f, sp->dur_ns, sp->self_ns, sp->status == GLASS_SPAN_ERROR) < 0)
		S->oom = 1;
	f->incomplete += sp->status == GLASS_SPAN_LOST || sp->status == GLASS_SPAN_UNFINISHED;
}

struct row {
	size_t i;
	uint64_t key;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

#define NAME_COLS 35

static void print_function_table(struct summary *S, enum sort_key sort, size_t limit)
{
	size_t n = glass_ftable_size(S->ft);
	struct row *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows) {
		S->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct glass_fstats *f = glass_ftable_stats(S->ft, i);
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
	qsort(rows, n, sizeof(*rows), row_cmp);
	static const char *const heads[] = {"calls", "total", "self", "mean",  "p50",
					    "p90",   "p99",   "max",  "errors"};
	static const size_t widths[] = {7, 6, 6, 6, 6, 6, 6, 6, 6};
	printf("\n");
	glass_put_padded(stdout, "function", NAME_COLS, 0);
	for (size_t c = 0; c < 9; c++) {
		putchar(' ');
		glass_put_padded(stdout, heads[c], widths[c], 1);
	}
	putchar('\n');
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		const struct glass_fstats *f = glass_ftable_stats(S->ft, rows[r].i);
		const struct fn_label *l = &S->labels[rows[r].i];
		char name[1024], text[NAME_COLS * 4 + 8];
		if (l->def)
			snprintf(name, sizeof(name), "%s%s%s", l->def->module,
				 *l->def->module ? ":" : "",
				 *l->def->qualname ? l->def->qualname : "<unnamed>");
		else
			snprintf(name, sizeof(name), "<code %u of pid %u>", l->code_id, l->pid);
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
		for (size_t c = 0; c < 9; c++) {
			putchar(' ');
			glass_put_padded(stdout, cell[c], widths[c], 1);
		}
		putchar('\n');
	}
	if (shown < n)
		printf("... %zu more functions (--limit 0 shows all)\n", n - shown);
	if (!n)
		printf("(no traced calls)\n");
	free(rows);
}

/* Prints n cells (strings of stride `stride` bytes from cells), each after a space, padded to
 * its width, right-aligned. */
static void put_cells(const char *cells, size_t stride, const size_t *w, size_t n)
{
	for (size_t c = 0; c < n; c++) {
		putchar(' ');
		glass_put_padded(stdout, cells + c * stride, w[c], 1);
	}
}

static size_t sorted_rows(struct glass_ftable *ft, struct row **out)
{
	size_t n = ft ? glass_ftable_size(ft) : 0;
	struct row *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows) {
		*out = NULL;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].i = i;
		rows[i].key = glass_ftable_stats(ft, i)->total_ns;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	*out = rows;
	return n;
}

static void print_name_cell(const void *key, size_t klen, size_t cols, int from_left)
{
	char text[200 * 4 + 8];
	glass_term_text(text, sizeof(text), key, klen, cols, from_left);
	glass_put_padded(stdout, text, cols, 0);
}

/* HTTP endpoints: requests, rate over the run, percentiles, error rate by status class. */
static void print_endpoints(struct summary *S, uint64_t wall_ns, size_t limit)
{
	struct row *rows;
	size_t n = sorted_rows(S->endpoints.ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	printf("\n");
	glass_put_padded(stdout, "HTTP endpoint", 34, 0);
	static const char *const heads[] = {"requests", "rps", "p50", "p90", "p99", "max",
					    "2xx", "3xx", "4xx", "5xx", "errors"};
	static const size_t w[] = {8, 7, 6, 6, 6, 6, 6, 5, 5, 5, 6};
	for (size_t c = 0; c < 11; c++) {
		putchar(' ');
		glass_put_padded(stdout, heads[c], w[c], 1);
	}
	putchar('\n');
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const void *k = glass_ftable_key(S->endpoints.ft, rows[r].i, &kl);
		const struct glass_fstats *f = glass_ftable_stats(S->endpoints.ft, rows[r].i);
		const struct cap_extra *e = &S->endpoints.ex[rows[r].i];
		print_name_cell(k, kl, 34, 0);
		char c[11][32];
		glass_fmt_count_short(c[0], 32, f->calls);
		snprintf(c[1], 32, "%.1f", wall_ns ? (double)f->calls * 1e9 / (double)wall_ns : 0.0);
		glass_fmt_dur(c[2], 32, glass_fstats_quantile(f, 0.50));
		glass_fmt_dur(c[3], 32, glass_fstats_quantile(f, 0.90));
		glass_fmt_dur(c[4], 32, glass_fstats_quantile(f, 0.99));
		glass_fmt_dur(c[5], 32, f->max_ns);
		for (int k2 = 2; k2 <= 5; k2++)
			glass_fmt_count_short(c[4 + k2], 32, e->status[k2]);
		snprintf(c[10], 32, "%.1f%%", f->calls ? 100.0 * (double)f->errors / (double)f->calls : 0.0);
		put_cells(c[0], sizeof(c[0]), w, 11);
		putchar('\n');
	}
	if (shown < n)
		printf("... %zu more endpoints\n", n - shown);
	free(rows);
}

/* Slowest statements (SQL, MongoDB, Redis) by total time, normalised text. */
static void print_statements(struct summary *S, size_t limit)
{
	struct row *rows;
	size_t n = sorted_rows(S->statements.ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	printf("\n");
	glass_put_padded(stdout, "statement", 54, 0);
	static const char *const heads[] = {"system", "count", "total", "p99", "rows", "errors"};
	static const size_t w[] = {10, 7, 6, 6, 7, 6};
	for (size_t c = 0; c < 6; c++) {
		putchar(' ');
		glass_put_padded(stdout, heads[c], w[c], c > 0);
	}
	putchar('\n');
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const char *k = glass_ftable_key(S->statements.ft, rows[r].i, &kl);
		const char *tab = memchr(k, '\t', kl);
		size_t sysl = tab ? (size_t)(tab - k) : 0;
		const char *stmt = tab ? tab + 1 : k;
		size_t stl = kl - (size_t)(stmt - k);
		const struct glass_fstats *f = glass_ftable_stats(S->statements.ft, rows[r].i);
		const struct cap_extra *e = &S->statements.ex[rows[r].i];
		print_name_cell(stmt, stl, 54, 0);
		putchar(' ');
		print_name_cell(k, sysl, 10, 0);
		char c[5][32];
		glass_fmt_count_short(c[0], 32, f->calls);
		glass_fmt_dur(c[1], 32, f->total_ns);
		glass_fmt_dur(c[2], 32, glass_fstats_quantile(f, 0.99));
		glass_fmt_count_short(c[3], 32, e->rows);
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
static void print_peers(struct summary *S, size_t limit)
{
	struct row *rows;
	size_t n = sorted_rows(S->peers.ft, &rows);
	if (!n) {
		free(rows);
		return;
	}
	printf("\n");
	glass_put_padded(stdout, "outbound peer", 44, 0);
	static const char *const heads[] = {"calls", "total", "p50", "p99", "errors"};
	static const size_t w[] = {7, 6, 6, 6, 6};
	for (size_t c = 0; c < 5; c++) {
		putchar(' ');
		glass_put_padded(stdout, heads[c], w[c], 1);
	}
	putchar('\n');
	size_t shown = limit && limit < n ? limit : n;
	for (size_t r = 0; r < shown; r++) {
		size_t kl;
		const char *k = glass_ftable_key(S->peers.ft, rows[r].i, &kl);
		const struct glass_fstats *f = glass_ftable_stats(S->peers.ft, rows[r].i);
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

static void cap_table_free(struct cap_table *t)
{
	if (t->ft)
		glass_ftable_free(t->ft);
	free(t->ex);
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

int command_summary(int argc, char **argv)
{
	static const struct option opts[] = {{"limit", required_argument, NULL, 'n'},
					     {"sort", required_argument, NULL, 's'},
					     {"strict", no_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	size_t limit = 30;
	enum sort_key sort = SORT_TOTAL;
	int strict = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0) {
				report_error("--limit wants a number >= 0, not '%s'", optarg);
				return GLASS_EXIT_USAGE;
			}
			limit = (size_t)v;
			break;
		}
		case 's':
			if (!strcmp(optarg, "total"))
				sort = SORT_TOTAL;
			else if (!strcmp(optarg, "self"))
				sort = SORT_SELF;
			else if (!strcmp(optarg, "calls"))
				sort = SORT_CALLS;
			else if (!strcmp(optarg, "p99"))
				sort = SORT_P99;
			else {
				report_error("--sort wants total, self, calls or p99, not '%s'",
					     optarg);
				return GLASS_EXIT_USAGE;
			}
			break;
		case 'S':
			strict = 1;
			break;
		case 'h':
			usage(stdout);
			return GLASS_EXIT_OK;
		default:
			usage(stderr);
			return GLASS_EXIT_USAGE;
		}
	}
	int status;
	struct glass_session *s = report_open_args("summary", argc, argv, optind, &status);
	if (!s)
		return status;

	struct summary S = {0};
	S.ft = glass_ftable_new();
	size_t nprocs = glass_session_nprocs(s), nthreads_total = 0;
	for (size_t i = 0; i < nprocs; i++)
		nthreads_total += glass_proc_info(glass_session_proc(s, i))->nthreads;
	struct thread_row *threads = calloc(nthreads_total ? nthreads_total : 1, sizeof(*threads));
	uint64_t *lost = calloc(nprocs ? nprocs : 1, sizeof(*lost));
	uint64_t events = 0, first = UINT64_MAX, last = 0;
	size_t nt = 0;
	if (!S.ft || !threads || !lost) {
		report_error("out of memory");
		glass_session_close(s);
		return GLASS_EXIT_SESSION;
	}

	/* one pass: each thread's stream once, in session order */
	struct glass_progress *pg = report_progress(s, "summary");
	for (size_t pi = 0; pi < nprocs; pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const struct glass_proc_info *in = glass_proc_info(p);
		S.codes = glass_proc_codes(p, &S.ncodes);
		free(S.cache);
		free(S.fcache);
		S.cache = malloc((S.ncodes ? S.ncodes : 1) * sizeof(long));
		S.fcache = calloc(S.ncodes ? S.ncodes : 1, sizeof(*S.fcache));
		if (!S.cache || !S.fcache) {
			S.oom = 1;
			break;
		}
		for (size_t k = 0; k < S.ncodes; k++)
			S.cache[k] = -1;
		S.pid = in->pid;
		if (in->start_unix_ns && in->start_unix_ns < first)
			first = in->start_unix_ns;
		if (in->end_unix_ns > last)
			last = in->end_unix_ns;
		uint64_t lost_records = 0;
		const uint32_t *tidx;
		size_t n = glass_proc_threads(p, &tidx);
		for (size_t ti = 0; ti < n; ti++) {
			struct glass_spans *b = NULL;
			struct glass_span_ids ids = glass_span_ids_for(s, pi, ti);
			if (report_run_thread(p, tidx[ti], ids, NULL, on_span, &S, &b, pg) < 0)
				continue;
			const struct glass_span_counts *cnt = glass_spans_counts(b);
			struct thread_row *t = &threads[nt++];
			t->pid = in->pid;
			t->tid = glass_spans_tid(b);
			t->tidx = tidx[ti];
			t->name =
			    glass_spans_thread_name(b) ? strdup(glass_spans_thread_name(b)) : NULL;
			t->spans = cnt->spans;
			t->busy_ns = cnt->busy_ns;
			events += cnt->records;
			lost_records += cnt->lost_records;
			if (cnt->first_ns && cnt->first_ns < first)
				first = cnt->first_ns;
			if (cnt->last_ns > last)
				last = cnt->last_ns;
			glass_spans_free(b);
		}
		/* the header counts every dropped record; LOST records only those followed by a
		 * chunk again: the larger is the loss */
		lost[pi] = in->lost_events > lost_records ? in->lost_events : lost_records;
	}

	glass_progress_end(pg);

	/* header block */
	char buf[128], buf2[128];
	printf("session      %s\n", glass_session_dir(s));
	if (nprocs)
		print_command_line(glass_proc_info(glass_session_proc(s, 0)));
	if (first != UINT64_MAX && last >= first) {
		glass_fmt_dur(buf, sizeof(buf), last - first);
		glass_fmt_time(buf2, sizeof(buf2), first, 0, 1);
		printf("wall time    %s (from %s)\n", buf, buf2);
	} else {
		printf("wall time    - (no events)\n");
	}
	glass_fmt_count(buf, sizeof(buf), events);
	printf("processes    %zu    threads %zu    events %s\n", nprocs, nt, buf);
	uint64_t lost_total = 0;
	for (size_t i = 0; i < nprocs; i++)
		lost_total += lost[i];
	glass_fmt_count(buf, sizeof(buf), lost_total);
	printf("lost events  %s", buf);
	if (nprocs > 1 || lost_total) {
		printf(" (");
		size_t shown = 0;
		for (size_t i = 0; i < nprocs && shown < 6; i++) {
			if (nprocs > 6 && !lost[i])
				continue;
			glass_fmt_count(buf, sizeof(buf), lost[i]);
			printf("%s%s: %s", shown ? ", " : "",
			       glass_proc_info(glass_session_proc(s, i))->key, buf);
			shown++;
		}
		if (nprocs > shown)
			printf("%s%zu more", shown ? ", " : "", nprocs - shown);
		printf(")");
	}
	printf("\n");
	printf("warnings     %zu%s\n", glass_session_nwarnings(s),
	       glass_session_nwarnings(s) ? " (on stderr; glass-report info lists all)" : "");

	print_endpoints(&S, first != UINT64_MAX && last > first ? last - first : 0, limit);
	print_statements(&S, limit);
	print_peers(&S, limit);
	print_function_table(&S, sort, limit);

	/* per process, per thread */
	printf("\n");
	glass_put_padded(stdout, "pid", 8, 0);
	glass_put_padded(stdout, "tid", 9, 0);
	glass_put_padded(stdout, "thread", 40, 0);
	glass_put_padded(stdout, "spans", 12, 1);
	glass_put_padded(stdout, "busy", 10, 1);
	printf("\n");
	for (size_t i = 0; i < nt; i++) {
		struct thread_row *t = &threads[i];
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
		free(t->name);
	}
	if (!nt)
		printf("(no threads recorded)\n");
	native_summary(stdout, s, limit);

	int rc = report_check_output(stdout, "standard output");
	if (S.oom)
		report_error("warning: out of memory; some functions are missing from the table");
	int wrc = report_warnings(s, 20, strict);
	free(threads);
	free(lost);
	free(S.cache);
	free(S.fcache);
	free(S.labels);
	glass_ftable_free(S.ft);
	cap_table_free(&S.endpoints);
	cap_table_free(&S.statements);
	cap_table_free(&S.peers);
	glass_session_close(s);
	return rc ? rc : wrc;
}
