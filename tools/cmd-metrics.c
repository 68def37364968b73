/* tools/cmd-metrics.c — `glass-report metrics`: counters, timers and gauges derived from a
 * recording. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/progress.h"
#include "report.h"
#include "res-report.h"
#include "analysis/spans.h"
#include "analysis/stats.h"
#include "analysis/text.h"

/*
 * The meters are those of spectator-py: counters, timers, percentile timers and gauges. In
 * Prometheus text format a counter is a `_total` counter, a timer a summary (quantiles from the
 * log-linear histogram of stats.h, within 3.1 %, with exact _sum and _count), a percentile timer
 * a histogram with fixed `le` buckets (exact counts), a gauge a gauge. In spectatord's line
 * protocol counters and gauges are written once with their totals, and timers one line per
 * observation (a second pass over the recording), as a live program would have sent them.
 *
 * Label values that are not bounded by nature (functions, routes, servers, database operations,
 * exception types) are capped: the top --top values (functions by total time, the others by
 * count) keep their name, the rest become "_OTHER" (OpenTelemetry's word for the same thing).
 * At most MAX_DISTINCT values of one label are told apart while reading, so memory stays bounded.
 */

#define DEFAULT_TOP  100
#define MAX_DISTINCT 10000
#define OTHER	     "_OTHER"
#define NONE	     "none"
#define MAX_LABELS   3

/* Percentile timer buckets (seconds), as upper bounds in ns and as `le` text. */
static const uint64_t bucket_ns[] = {
    500000ull,	   1000000ull,	  2500000ull,	 5000000ull,	 10000000ull,
    25000000ull,   50000000ull,	  100000000ull,	 250000000ull,	 500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull, 30000000000ull,
};
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
					"0.025",  "0.05",  "0.1",    "0.25",  "0.5",
					"1",	  "2.5",   "5",	     "10",    "30"};
#define NBUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))
static const double summary_q[] = {0.5, 0.9, 0.99};
static const char *const summary_qs[] = {"0.5", "0.9", "0.99"};

/* Values of one unbounded label, counted for ranking; after rank_dim, keep[i] tells. */
struct dim {
	struct glass_ftable *ft;
	int by_time;
	uint8_t *keep;
};

enum { D_FN, D_ERR, D_ROUTE, D_SERVER, D_DBOP, D_NETOP, D_COUNT };

/* A table of label tuples (values joined by NUL) and their statistics. */
struct table {
	const char *const labels[MAX_LABELS]; /* sorted by name (spectatord's tag order) */
	size_t nlabels;
	int capped;  /* index of the label whose values a dim caps */
	int dim;     /* D_* */
	int buckets; /* keeps percentile-timer bucket counts (user pointer of a row) */
	struct glass_ftable *rows, *out;
	size_t *order; /* out rows sorted by key */
};

enum { T_FN, T_ERR, T_HS_COUNT, T_HS_TIME, T_HC_COUNT, T_HC_TIME, T_DB, T_NET, T_COUNT };

static struct table tables[T_COUNT] = {
    [T_FN] = {{"function"}, 1, 0, D_FN, 0, NULL, NULL, NULL},
    [T_ERR] = {{"kind", "type"}, 2, 1, D_ERR, 0, NULL, NULL, NULL},
    [T_HS_COUNT] = {{"method", "route", "status"}, 3, 1, D_ROUTE, 0, NULL, NULL, NULL},
    [T_HS_TIME] = {{"method", "route"}, 2, 1, D_ROUTE, 1, NULL, NULL, NULL},
    [T_HC_COUNT] = {{"method", "server", "status"}, 3, 1, D_SERVER, 0, NULL, NULL, NULL},
    [T_HC_TIME] = {{"method", "server"}, 2, 1, D_SERVER, 0, NULL, NULL, NULL},
    [T_DB] = {{"operation", "system"}, 2, 0, D_DBOP, 1, NULL, NULL, NULL},
    [T_NET] = {{"operation"}, 1, 0, D_NETOP, 0, NULL, NULL, NULL},
};

enum meter { M_COUNTER, M_TIMER, M_PCT_TIMER };

/* What is written: a table seen as one meter. */
struct family {
	int table;
	enum meter meter;
	const char *prom; /* Prometheus name (counters end in _total, timers in _seconds) */
	const char *spec; /* spectatord name */
	const char *help;
};

enum {
	F_FN_CALLS,
	F_FN_TIME,
	F_ERRORS,
	F_HS_COUNT,
	F_HS_TIME,
	F_HC_COUNT,
	F_HC_TIME,
	F_DB_COUNT,
	F_DB_TIME,
	F_NET_COUNT,
	F_NET_TIME,
};

static const struct family families[] = {
    {T_FN, M_COUNTER, "glass_function_calls_total", "glass.function.calls",
     "Calls of Python functions (generators and coroutines: one per object). The top functions "
     "by total time keep their name, the others are function=\"_OTHER\"."},
    {T_FN, M_TIMER, "glass_function_duration_seconds", "glass.function.duration",
     "Duration of Python function calls (generators and coroutines: first start to end)."},
    {T_ERR, M_COUNTER, "glass_errors_total", "glass.errors",
     "Exceptions by type: Python exceptions where they were raised (not again in each frame "
     "they crossed), failed captured operations."},
    {T_HS_COUNT, M_COUNTER, "glass_http_server_requests_total", "glass.http.server.requests",
     "HTTP requests served, by method, route (http.route, else url.path) and status code."},
    {T_HS_TIME, M_PCT_TIMER, "glass_http_server_request_duration_seconds",
     "glass.http.server.requestDuration", "Duration of HTTP requests served."},
    {T_HC_COUNT, M_COUNTER, "glass_http_client_requests_total", "glass.http.client.requests",
     "HTTP requests made, by method, server address and status code."},
    {T_HC_TIME, M_TIMER, "glass_http_client_request_duration_seconds",
     "glass.http.client.requestDuration", "Duration of HTTP requests made."},
    {T_DB, M_COUNTER, "glass_db_queries_total", "glass.db.queries",
     "Database statements and commands, by system and operation."},
    {T_DB, M_PCT_TIMER, "glass_db_query_duration_seconds", "glass.db.queryDuration",
     "Duration of database statements and commands."},
    {T_NET, M_COUNTER, "glass_net_operations_total", "glass.net.operations",
     "Network operations (connect, DNS, waits on a socket), by operation."},
    {T_NET, M_TIMER, "glass_net_duration_seconds", "glass.net.duration",
     "Duration of network operations."},
};
#define NFAMILIES (sizeof(families) / sizeof(families[0]))
_Static_assert(NFAMILIES == F_NET_TIME + 1, "families[] follows the F_* order");

/* The timer family of a table (F_*), -1 if it has none. */
static int time_family(int t)
{
	for (size_t i = 0; i < NFAMILIES; i++)
		if (families[i].table == t && families[i].meter != M_COUNTER)
			return (int)i;
	return -1;
}

static int families_meter_is_summary(int t)
{
	int f = time_family(t);
	return f >= 0 && families[f].meter == M_TIMER;
}

enum format { FMT_PROMETHEUS, FMT_SPECTATORD };

/* A child span's exception, waiting for its parent to end (same type there: propagation). */
struct err_note {
	uint64_t parent, type_hash;
};
#define ERR_NOTES 256

struct metrics {
	enum format format;
	FILE *out;
	size_t top;
	int pass; /* 1: count; 2: spectatord timer lines */
	struct dim dims[D_COUNT];
	/* per process: code definition index -> function row (-1 unknown yet) */
	const struct glass_code_def *codes;
	size_t ncodes;
	long *fn_row;
	char **fn_tag; /* pass 2: the spectatord tag value */
	struct err_note notes[ERR_NOTES];
	size_t nnotes;
	uint64_t procs, threads, lost;
	struct glass_buf key, line;
	struct glass_buf scratch[MAX_LABELS + 1]; /* cleaned label values of the current span */
	char label[1100];
	char num[MAX_LABELS][32]; /* integer attributes as text, for op_labels */
	int oom, failed;
};

/* ---- label values ---------------------------------------------------------------------------- */

static struct glass_str str_of(const char *s)
{
	struct glass_str r = {s, (uint32_t)strlen(s)};
	return r;
}

/* An attribute as text (ints in decimal, into buf); p NULL when absent. */
static struct glass_str attr_text(const struct glass_span *sp, const char *key, char *buf,
				  size_t cap)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	struct glass_str r = {NULL, 0};
	if (!a)
		return r;
	switch (a->type) {
	case GLASS_ATTR_STR:
		return a->s;
	case GLASS_ATTR_INT:
		r.len = (uint32_t)snprintf(buf, cap, "%lld", (long long)a->i);
		break;
	case GLASS_ATTR_BOOL:
		r.len = (uint32_t)snprintf(buf, cap, "%s", a->i ? "true" : "false");
		break;
	}
	r.p = buf;
	return r;
}

static struct glass_str or_none(struct glass_str s)
{
	return s.p && s.len ? s : str_of(NONE);
}

/* First word of a span name ("SELECT users" -> "SELECT"). */
static struct glass_str first_word(struct glass_str s)
{
	uint32_t n = 0;
	while (s.p && n < s.len && s.p[n] != ' ')
		n++;
	s.len = n;
	return or_none(s);
}

/* Request methods outside the standard ones are "_OTHER" (OpenTelemetry does the same). */
static struct glass_str method_of(const struct glass_span *sp, char *buf, size_t cap)
{
	static const char *const known[] = {"GET",     "HEAD",	  "POST",  "PUT",  "DELETE",
					    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
	struct glass_str m = attr_text(sp, "http.request.method", buf, cap);
	if (!m.p)
		return str_of(NONE);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (m.len == strlen(known[i]) && !memcmp(m.p, known[i], m.len))
			return m;
	return str_of(OTHER);
}

/*
 * Label values are made valid for every output first: control bytes other than newline become
 * '?' and bytes that are not UTF-8 U+FFFD. Doing it before rows are keyed means two values that
 * print the same are one row (Prometheus refuses duplicate series).
 */
static struct glass_str clean(struct metrics *M, int slot, struct glass_str v)
{
	uint32_t i = 0;
	while (i < v.len) {
		unsigned char c = (unsigned char)v.p[i];
		size_t n = c < 0x80 ? 1 : glass_utf8_seq(v.p + i, v.len - i);
		if (!n || (c < 0x20 && c != '\n') || c == 0x7f)
			break;
		i += (uint32_t)n;
	}
	if (i == v.len)
		return v;
	struct glass_buf *b = &M->scratch[slot];
	b->len = 0;
	glass_buf_put(b, v.p, i);
	while (i < v.len) {
		unsigned char c = (unsigned char)v.p[i];
		size_t n = glass_utf8_seq(v.p + i, v.len - i);
		if (!n) {
			glass_buf_puts(b, "\xef\xbf\xbd");
			n = 1;
		} else if ((c < 0x20 && c != '\n') || c == 0x7f) {
			glass_buf_put(b, "?", 1);
		} else {
			glass_buf_put(b, v.p + i, n);
		}
		i += (uint32_t)n;
	}
	if (b->oom) {
		M->oom = 1;
		return str_of(NONE);
	}
	struct glass_str r = {b->p, (uint32_t)b->len};
	return r;
}

/*
 * Row labels of a captured operation, cleaned, in its tables' order (the count table's; the time
 * table takes the first ones): http_server method, route, status; http_client method, server,
 * status; db operation, system; net operation. Returns the table of the time meter, -1 for none.
 */
static int op_labels(struct metrics *M, const struct glass_span *sp, struct glass_str *v)
{
	char *b1 = M->num[0], *b2 = M->num[1], *b3 = M->num[2];
	switch (sp->kind) {
	case GLASS_KIND_HTTP_SERVER: {
		struct glass_str route = attr_text(sp, "http.route", b2, 32);
		if (!route.p)
			route = attr_text(sp, "url.path", b2, 32);
		v[0] = method_of(sp, b1, 32);
		v[1] = clean(M, 1, or_none(route));
		v[2] = clean(M, 2, or_none(attr_text(sp, "http.response.status_code", b3, 32)));
		return T_HS_TIME;
	}
	case GLASS_KIND_HTTP_CLIENT:
		v[0] = method_of(sp, b1, 32);
		v[1] = clean(M, 1, or_none(attr_text(sp, "server.address", b2, 32)));
		v[2] = clean(M, 2, or_none(attr_text(sp, "http.response.status_code", b3, 32)));
		return T_HC_TIME;
	case GLASS_KIND_DB: {
		struct glass_str op = attr_text(sp, "db.operation", b1, 32);
		if (!op.p)
			op = attr_text(sp, "db.operation.name", b1, 32);
		if (!op.p)
			op = first_word(sp->name);
		struct glass_str sys = attr_text(sp, "db.system", b2, 32);
		if (!sys.p)
			sys = attr_text(sp, "db.system.name", b2, 32);
		v[0] = clean(M, 0, or_none(op));
		v[1] = clean(M, 1, or_none(sys));
		return T_DB;
	}
	case GLASS_KIND_NET:
		v[0] = clean(M, 0, first_word(sp->name));
		return T_NET;
	default:
		return -1;
	}
}

/* ---- tables ---------------------------------------------------------------------------------- */

/* The value to record for a capped label: itself, or _OTHER once MAX_DISTINCT are known.
 * Counts the value for ranking (dims whose ranking is not a table's own rows). */
static struct glass_str dim_value(struct metrics *M, int d, struct glass_str v, uint64_t dur)
{
	struct dim *D = &M->dims[d];
	long i = glass_ftable_find(D->ft, v.p, v.len);
	if (i < 0) {
		if (glass_ftable_size(D->ft) >= MAX_DISTINCT)
			v = str_of(OTHER);
		i = glass_ftable_intern(D->ft, v.p, v.len, NULL);
		if (i < 0) {
			M->oom = 1;
			return v;
		}
	}
	if (d != D_FN) {
		struct glass_fstats *f = glass_ftable_stats(D->ft, (size_t)i);
		f->calls++;
		f->total_ns += dur;
	}
	return v;
}

static void join_key(struct glass_buf *k, const struct glass_str *vals, size_t n)
{
	k->len = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			glass_buf_put(k, "", 1);
		glass_buf_put(k, vals[i].p, vals[i].len);
	}
}

static void add_bucket(uint64_t *b, uint64_t dur)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		if (dur <= bucket_ns[i]) {
			b[i]++;
			return;
		}
	/* beyond the last bound: only +Inf (the count) has it */
}

/* Adds one observation to a table row. timer: keep the duration distribution. */
static long table_add(struct metrics *M, int t, const struct glass_str *vals, uint64_t dur,
		      uint64_t self, int error, int timer)
{
	struct table *T = &tables[t];
	join_key(&M->key, vals, T->nlabels);
	if (M->key.oom) {
		M->oom = 1;
		return -1;
	}
	int added;
	long i = glass_ftable_intern(T->rows, M->key.p, M->key.len, &added);
	if (i < 0) {
		M->oom = 1;
		return -1;
	}
	struct glass_fstats *f = glass_ftable_stats(T->rows, (size_t)i);
	if (timer) {
		if (glass_fstats_add(f, dur, self, error) < 0)
			M->oom = 1;
	} else {
		f->calls++;
		f->total_ns += dur;
		f->errors += error != 0;
	}
	if (T->buckets) {
		uint64_t *b = (uint64_t *)glass_ftable_user(T->rows, (size_t)i);
		if (!b) {
			b = calloc(NBUCKETS, sizeof(*b));
			if (!b) {
				M->oom = 1;
				return i;
			}
			glass_ftable_set_user(T->rows, (size_t)i, b);
		}
		add_bucket(b, dur);
	}
	return i;
}

static uint64_t hash_str(struct glass_str s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint32_t i = 0; s.p && i < s.len; i++) {
		h ^= (uint8_t)s.p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/*
 * Errors are counted where they start: an error span whose direct child ended with an error of
 * the same type is that exception passing through (spans end children first, so the child's
 * note is there when the parent ends).
 */
static int error_is_new(struct metrics *M, const struct glass_span *sp, struct glass_str type)
{
	uint64_t h = hash_str(type), child = 0;
	int found = 0;
	for (size_t i = M->nnotes; i-- > 0;)
		if (M->notes[i].parent == sp->span_id) {
			child = M->notes[i].type_hash;
			found = 1;
			M->notes[i] = M->notes[--M->nnotes];
			break;
		}
	if (sp->status != GLASS_SPAN_ERROR)
		return 0;
	if (sp->parent_id) {
		size_t i;
		for (i = 0; i < M->nnotes && M->notes[i].parent != sp->parent_id; i++)
			;
		if (i == M->nnotes) {
			if (M->nnotes == ERR_NOTES) /* oldest out */
				memmove(M->notes, M->notes + 1, --M->nnotes * sizeof(M->notes[0]));
			i = M->nnotes++;
		}
		M->notes[i] = (struct err_note){sp->parent_id, h};
	}
	return !(found && child == h);
}

static struct glass_str error_type(const struct glass_span *sp)
{
	if (sp->err_type.p && sp->err_type.len)
		return sp->err_type;
	const struct glass_attr *a = glass_span_attr(sp, "error.type");
	if (a && a->type == GLASS_ATTR_STR && a->s.len)
		return a->s;
	return str_of("unknown");
}

/* ---- pass 1: count --------------------------------------------------------------------------- */

static long fn_row(struct metrics *M, const struct glass_span *sp)
{
	const struct glass_code_def *d = sp->code;
	size_t k = 0;
	int cached = d && M->fn_row && d >= M->codes && d < M->codes + M->ncodes;
	if (cached) {
		k = (size_t)(d - M->codes);
		if (M->fn_row[k] >= 0)
			return M->fn_row[k];
	}
	glass_span_label(sp, M->label, sizeof(M->label));
	struct glass_str v = dim_value(M, D_FN, clean(M, 0, str_of(M->label)), 0);
	join_key(&M->key, &v, 1);
	long i = glass_ftable_intern(tables[T_FN].rows, M->key.p, M->key.len, NULL);
	if (i < 0)
		M->oom = 1;
	else if (cached)
		M->fn_row[k] = i;
	return i;
}

/* The table counting a time table's operations (same labels plus status), or -1. */
static int count_table(int time_table)
{
	switch (time_table) {
	case T_HS_TIME:
		return T_HS_COUNT;
	case T_HC_TIME:
		return T_HC_COUNT;
	default:
		return -1; /* db and net count in their time table */
	}
}

static void count_span(struct metrics *M, const struct glass_span *sp)
{
	int err = sp->status == GLASS_SPAN_ERROR;
	struct glass_str v[MAX_LABELS];
	uint64_t dur = sp->dur_ns;
	if (sp->kind == GLASS_KIND_PYTHON) {
		long i = fn_row(M, sp);
		if (i >= 0 && glass_fstats_add(glass_ftable_stats(tables[T_FN].rows, (size_t)i),
					       dur, sp->self_ns, err) < 0)
			M->oom = 1;
	} else {
		int t = op_labels(M, sp, v);
		if (t >= 0) {
			const struct table *T = &tables[t];
			v[T->capped] = dim_value(M, T->dim, v[T->capped], dur);
			/* summaries need the distribution, histograms only their buckets */
			table_add(M, t, v, dur, sp->self_ns, err, families_meter_is_summary(t));
			int c = count_table(t);
			if (c >= 0)
				table_add(M, c, v, dur, sp->self_ns, err, 0);
		}
	}
	struct glass_str type = err ? clean(M, MAX_LABELS, error_type(sp)) : str_of("");
	if ((err || M->nnotes) && error_is_new(M, sp, type)) {
		v[0] = str_of(glass_span_kind_name(sp->kind));
		v[1] = dim_value(M, D_ERR, type, 0);
		table_add(M, T_ERR, v, 0, 0, 1, 0);
	}
}

/* ---- ranking and merging --------------------------------------------------------------------- */

struct rank {
	size_t i;
	uint64_t key, calls;
};

static int rank_cmp(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Keeps the top M->top values of a dim (all when top is 0); _OTHER is never "kept". */
static int rank_dim(struct metrics *M, struct dim *D, struct glass_ftable *stats_of)
{
	size_t n = glass_ftable_size(D->ft);
	D->keep = calloc(n ? n : 1, 1);
	struct rank *r = malloc((n ? n : 1) * sizeof(*r));
	if (!D->keep || !r) {
		free(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *k = glass_ftable_key(D->ft, i, &len);
		const struct glass_fstats *f = NULL;
		if (stats_of) {
			long j = glass_ftable_find(stats_of, k, len);
			f = j >= 0 ? glass_ftable_stats(stats_of, (size_t)j) : NULL;
		} else {
			f = glass_ftable_stats(D->ft, i);
		}
		r[i].i = i;
		r[i].calls = f ? f->calls : 0;
		r[i].key = f ? (D->by_time ? f->total_ns : f->calls) : 0;
	}
	qsort(r, n, sizeof(*r), rank_cmp);
	size_t kept = 0;
	for (size_t j = 0; j < n; j++) {
		size_t len;
		const char *k = glass_ftable_key(D->ft, r[j].i, &len);
		if (len == strlen(OTHER) && !memcmp(k, OTHER, len))
			continue;
		if (M->top && kept == M->top)
			break;
		D->keep[r[j].i] = 1;
		kept++;
	}
	free(r);
	return 0;
}

/* The value written for a capped label: itself when kept, else _OTHER. */
static struct glass_str capped(struct metrics *M, int d, struct glass_str v)
{
	struct dim *D = &M->dims[d];
	long i = glass_ftable_find(D->ft, v.p, v.len);
	return i >= 0 && D->keep && D->keep[i] ? v : str_of(OTHER);
}

static int split_key(const char *k, size_t len, struct glass_str *vals, size_t n)
{
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = memchr(k + at, 0, len - at);
		size_t l = e ? (size_t)(e - (k + at)) : len - at;
		vals[i].p = k + at;
		vals[i].len = (uint32_t)l;
		at += l + 1;
		if (at > len + 1)
			return -1;
	}
	return 0;
}

static const struct glass_ftable *sort_ft; /* qsort has no context argument */

static int key_cmp(const void *a, const void *b)
{
	size_t la, lb;
	const char *ka = glass_ftable_key(sort_ft, *(const size_t *)a, &la);
	const char *kb = glass_ftable_key(sort_ft, *(const size_t *)b, &lb);
	int c = memcmp(ka, kb, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

/* Folds a table's rows into its written rows: capped values merged into _OTHER, sorted. */
static int merge_table(struct metrics *M, struct table *T)
{
	T->out = glass_ftable_new();
	if (!T->out)
		return -1;
	size_t n = glass_ftable_size(T->rows);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *k = glass_ftable_key(T->rows, i, &len);
		struct glass_str v[MAX_LABELS];
		if (split_key(k, len, v, T->nlabels) < 0)
			continue;
		v[T->capped] = capped(M, T->dim, v[T->capped]);
		join_key(&M->key, v, T->nlabels);
		int added;
		long o =
		    M->key.oom ? -1 : glass_ftable_intern(T->out, M->key.p, M->key.len, &added);
		if (o < 0)
			return -1;
		if (glass_fstats_merge(glass_ftable_stats(T->out, (size_t)o),
				       glass_ftable_stats(T->rows, i)) < 0)
			M->oom = 1;
		const uint64_t *src = glass_ftable_user(T->rows, i);
		if (src) {
			uint64_t *dst = (uint64_t *)glass_ftable_user(T->out, (size_t)o);
			if (!dst) {
				if (!(dst = calloc(NBUCKETS, sizeof(*dst))))
					return -1;
				glass_ftable_set_user(T->out, (size_t)o, dst);
			}
			for (size_t b = 0; b < NBUCKETS; b++)
				dst[b] += src[b];
		}
	}
	size_t m = glass_ftable_size(T->out);
	T->order = malloc((m ? m : 1) * sizeof(*T->order));
	if (!T->order)
		return -1;
	for (size_t i = 0; i < m; i++)
		T->order[i] = i;
	sort_ft = T->out;
	qsort(T->order, m, sizeof(*T->order), key_cmp);
	sort_ft = NULL;
	return 0;
}

/* ---- writing --------------------------------------------------------------------------------- */

/* ns as exact decimal seconds: "0.020192232", "3", "0". */
static void put_seconds(struct glass_buf *b, uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000ull));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = 0;
	glass_buf_printf(b, "%llu%s%s", (unsigned long long)(ns / 1000000000ull), n ? "." : "",
			 frac);
}

/* A Prometheus label value: \ " and newline escaped, other control bytes '?', bad UTF-8
 * U+FFFD (the format is UTF-8). */
static void prom_value(struct glass_buf *b, struct glass_str s)
{
	for (uint32_t i = 0; i < s.len;) {
		unsigned char c = (unsigned char)s.p[i];
		size_t n = glass_utf8_seq(s.p + i, s.len - i);
		if (!n) {
			glass_buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		if (c == '\\')
			glass_buf_puts(b, "\\\\");
		else if (c == '"')
			glass_buf_puts(b, "\\\"");
		else if (c == '\n')
			glass_buf_puts(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			glass_buf_put(b, "?", 1);
		else
			glass_buf_put(b, s.p + i, n);
		i += (uint32_t)n;
	}
}

/* `{a="x",b="y"` plus an extra label (NULL: none) and `}`; nothing for no labels at all. */
static void prom_labels(struct glass_buf *b, const struct table *T, const struct glass_str *v,
			const char *xkey, const char *xval)
{
	if (!T->nlabels && !xkey)
		return;
	glass_buf_put(b, "{", 1);
	for (size_t i = 0; i < T->nlabels; i++) {
		glass_buf_printf(b, "%s%s=\"", i ? "," : "", T->labels[i]);
		prom_value(b, v[i]);
		glass_buf_put(b, "\"", 1);
	}
	if (xkey)
		glass_buf_printf(b, "%s%s=\"%s\"", T->nlabels ? "," : "", xkey, xval);
	glass_buf_put(b, "}", 1);
}

static void flush_line(struct metrics *M)
{
	struct glass_buf *b = &M->line;
	if (b->oom || (b->len && fwrite(b->p, 1, b->len, M->out) != b->len))
		M->failed = 1;
	b->len = 0;
}

static void prom_gauge(struct metrics *M, const char *name, const char *help, uint64_t v)
{
	glass_buf_printf(&M->line, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name,
			 name, (unsigned long long)v);
	flush_line(M);
}

static void prom_family(struct metrics *M, const struct family *F)
{
	struct table *T = &tables[F->table];
	size_t n = glass_ftable_size(T->out);
	struct glass_buf *b = &M->line;
	if (!n)
		return;
	static const char *const type[] = {"counter", "summary", "histogram"};
	glass_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", F->prom, F->help, F->prom,
			 type[F->meter]);
	for (size_t r = 0; r < n; r++) {
		size_t i = T->order[r], len;
		const char *k = glass_ftable_key(T->out, i, &len);
		const struct glass_fstats *f = glass_ftable_stats(T->out, i);
		struct glass_str v[MAX_LABELS];
		split_key(k, len, v, T->nlabels);
		switch (F->meter) {
		case M_COUNTER:
			glass_buf_puts(b, F->prom);
			prom_labels(b, T, v, NULL, NULL);
			glass_buf_printf(b, " %llu\n", (unsigned long long)f->calls);
			break;
		case M_TIMER:
			for (size_t q = 0; q < sizeof(summary_q) / sizeof(summary_q[0]); q++) {
				glass_buf_puts(b, F->prom);
				prom_labels(b, T, v, "quantile", summary_qs[q]);
				glass_buf_put(b, " ", 1);
				put_seconds(b, glass_fstats_quantile(f, summary_q[q]));
				glass_buf_put(b, "\n", 1);
			}
			break;
		case M_PCT_TIMER: {
			const uint64_t *bk = glass_ftable_user(T->out, i);
			uint64_t cum = 0;
			for (size_t j = 0; j < NBUCKETS; j++) {
				cum += bk ? bk[j] : 0;
				glass_buf_printf(b, "%s_bucket", F->prom);
				prom_labels(b, T, v, "le", bucket_le[j]);
				glass_buf_printf(b, " %llu\n", (unsigned long long)cum);
			}
			glass_buf_printf(b, "%s_bucket", F->prom);
			prom_labels(b, T, v, "le", "+Inf");
			glass_buf_printf(b, " %llu\n", (unsigned long long)f->calls);
			break;
		}
		}
		if (F->meter != M_COUNTER) {
			glass_buf_printf(b, "%s_sum", F->prom);
			prom_labels(b, T, v, NULL, NULL);
			glass_buf_put(b, " ", 1);
			put_seconds(b, f->total_ns);
			glass_buf_printf(b, "\n%s_count", F->prom);
			prom_labels(b, T, v, NULL, NULL);
			glass_buf_printf(b, " %llu\n", (unsigned long long)f->calls);
		}
		flush_line(M);
	}
}


/* "<type>:<name>,k=v,...:" (tags sorted by key: the tables keep their labels sorted). */
static void spec_id(struct glass_buf *b, char type, const struct family *F,
		    const struct glass_str *v)
{
	const struct table *T = &tables[F->table];
	glass_buf_printf(b, "%c:%s", type, F->spec);
	for (size_t i = 0; i < T->nlabels; i++) {
		glass_buf_printf(b, ",%s=", T->labels[i]);
		glass_spec_value(b, v[i].p, v[i].len);
	}
	glass_buf_put(b, ":", 1);
}

static void spec_counters(struct metrics *M)
{
	struct glass_buf *b = &M->line;
	glass_buf_printf(b,
			 "g:glass.processes:%llu\ng:glass.threads:%llu\ng:glass.lostEvents:%llu\n",
			 (unsigned long long)M->procs, (unsigned long long)M->threads,
			 (unsigned long long)M->lost);
	flush_line(M);
	for (size_t fi = 0; fi < NFAMILIES; fi++) {
		const struct family *F = &families[fi];
		struct table *T = &tables[F->table];
		if (F->meter != M_COUNTER)
			continue;
		for (size_t r = 0; r < glass_ftable_size(T->out); r++) {
			size_t i = T->order[r], len;
			const char *k = glass_ftable_key(T->out, i, &len);
			struct glass_str v[MAX_LABELS];
			split_key(k, len, v, T->nlabels);
			spec_id(b, 'c', F, v);
			glass_buf_printf(b, "%llu\n",
					 (unsigned long long)glass_ftable_stats(T->out, i)->calls);
			flush_line(M);
		}
	}
}

/* ---- pass 2 (spectatord): one timer line per observation --------------------------------------
 */

static void spec_timer(struct metrics *M, size_t fam, const struct glass_str *v, uint64_t ns)
{
	const struct family *F = &families[fam];
	spec_id(&M->line, F->meter == M_PCT_TIMER ? 'T' : 't', F, v);
	put_seconds(&M->line, ns);
	glass_buf_put(&M->line, "\n", 1);
}

static void timer_span(struct metrics *M, const struct glass_span *sp)
{
	struct glass_str v[MAX_LABELS];
	if (sp->kind == GLASS_KIND_PYTHON) {
		const struct glass_code_def *d = sp->code;
		int cached = d && M->fn_tag && d >= M->codes && d < M->codes + M->ncodes;
		char **slot = cached ? &M->fn_tag[d - M->codes] : NULL;
		if (slot && *slot) {
			glass_buf_puts(&M->line, *slot);
		} else {
			glass_span_label(sp, M->label, sizeof(M->label));
			struct glass_str c = capped(M, D_FN, clean(M, 0, str_of(M->label)));
			size_t at = M->line.len;
			spec_id(&M->line, 't', &families[F_FN_TIME], &c);
			if (slot && !M->line.oom)
				*slot = strndup(M->line.p + at, M->line.len - at);
		}
		put_seconds(&M->line, sp->dur_ns);
		glass_buf_put(&M->line, "\n", 1);
		flush_line(M);
		return;
	}
	int t = op_labels(M, sp, v);
	if (t < 0)
		return;
	const struct table *T = &tables[t];
	v[T->capped] = capped(M, T->dim, v[T->capped]);
	spec_timer(M, time_family(t), v, sp->dur_ns);
	flush_line(M);
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct metrics *M = ctx;
	if (M->failed)
		return;
	if (M->pass == 1)
		count_span(M, sp);
	else
		timer_span(M, sp);
}

/* ---- command --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report metrics [SESSION] [--format prometheus|spectatord] [-o FILE]\n"
	    "                            [--top N] [--strict]\n"
	    "\n"
	    "Metrics derived from the recording, shaped like spectator-py's meters: counters\n"
	    "(function calls, errors by exception type, HTTP requests by method/route/status,\n"
	    "database queries by system/operation, network operations), timers and percentile\n"
	    "timers (their durations) and gauges (processes, threads, lost events).\n"
	    "\n"
	    "  -f, --format FORMAT  prometheus (default): text exposition format; timers are\n"
	    "                       summaries (quantiles 0.5/0.9/0.99 within 3.1%%, exact _sum "
	    "and\n"
	    "                       _count), percentile timers histograms (exact buckets)\n"
	    "                       spectatord: its line protocol (c:, g:, t:, T:); counters and\n"
	    "                       gauges one line each, timers one line per observation\n"
	    "  -o, --output FILE    write to FILE instead of standard output\n"
	    "  -n, --top N          label values kept per unbounded label: functions by total\n"
	    "                       time, routes, servers, operations and exception types by\n"
	    "                       count; the rest are \"_OTHER\" (default %d, 0: all)\n"
	    "      --strict         exit with status 3 when the session was read with warnings\n"
	    "  -h, --help           this text\n"
	    "\n%s",
	    DEFAULT_TOP, report_exit_help);
}

/* Runs every thread of the session through on_span; pass 1 also counts threads and losses. */
static void run_pass(struct metrics *M, struct glass_session *s, struct glass_progress *pg)
{
	for (size_t pi = 0; pi < glass_session_nprocs(s) && !M->failed; pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const uint32_t *tidx;
		size_t n = glass_proc_threads(p, &tidx);
		uint64_t lost_records = 0;
		M->codes = glass_proc_codes(p, &M->ncodes);
		free(M->fn_row);
		M->fn_row = malloc((M->ncodes ? M->ncodes : 1) * sizeof(*M->fn_row));
		for (size_t i = 0; M->fn_row && i < M->ncodes; i++)
			M->fn_row[i] = -1;
		if (M->fn_tag) {
			free(M->fn_tag);
			M->fn_tag = NULL;
		}
		if (M->pass == 2)
			M->fn_tag = calloc(M->ncodes ? M->ncodes : 1, sizeof(*M->fn_tag));
		for (size_t ti = 0; ti < n && !M->failed; ti++) {
			struct glass_spans *b = NULL;
			M->nnotes = 0;
			report_run_thread(p, tidx[ti], glass_span_ids_for(s, pi, ti), NULL, on_span,
					  M, &b, pg);
			if (b) {
				lost_records += glass_spans_counts(b)->lost_records;
				glass_spans_free(b);
			}
		}
		if (M->fn_tag) {
			for (size_t i = 0; i < M->ncodes; i++)
				free(M->fn_tag[i]);
		}
		if (M->pass == 1) {
			const struct glass_proc_info *in = glass_proc_info(p);
			M->procs++;
			M->threads += n;
			M->lost += in->lost_events > lost_records ? in->lost_events : lost_records;
		}
	}
	free(M->fn_row);
	M->fn_row = NULL;
	free(M->fn_tag);
	M->fn_tag = NULL;
}

static int metrics_option(void *ctx, int c, const char *arg)
{
	struct metrics *M = ctx;
	if (c == 'f') {
		if (!strcmp(arg, "prometheus"))
			M->format = FMT_PROMETHEUS;
		else if (!strcmp(arg, "spectatord"))
			M->format = FMT_SPECTATORD;
		else {
			report_error("--format wants prometheus or spectatord, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || v > 1000000) {
		report_error("--top wants a number from 0 to 1000000, not '%s'", arg);
		return GLASS_EXIT_USAGE;
	}
	M->top = v;
	return 0;
}

/* Counts the session (pass 1), ranks and merges the label values, and writes the metrics
 * (spectatord: its timer lines in a second pass). */
static void write_metrics(struct metrics *M, struct glass_session *s)
{
	for (int d = 0; d < D_COUNT; d++) {
		M->dims[d].by_time = d == D_FN;
		if (!(M->dims[d].ft = glass_ftable_new()))
			M->oom = 1;
	}
	for (int t = 0; t < T_COUNT; t++)
		if (!(tables[t].rows = glass_ftable_new()))
			M->oom = 1;
	int passes = M->format == FMT_SPECTATORD ? 2 : 1;
	struct glass_progress *pg =
	    glass_progress_start("metrics", passes * report_session_chunks(s));
	M->pass = 1;
	if (!M->oom)
		run_pass(M, s, pg);
	for (int d = 0; d < D_COUNT && !M->oom; d++)
		if (rank_dim(M, &M->dims[d], d == D_FN ? tables[T_FN].rows : NULL) < 0)
			M->oom = 1;
	for (int t = 0; t < T_COUNT && !M->oom; t++)
		if (merge_table(M, &tables[t]) < 0)
			M->oom = 1;
	if (!M->oom && M->format == FMT_PROMETHEUS) {
		prom_gauge(M, "glass_processes", "Processes in the recording.", M->procs);
		prom_gauge(M, "glass_threads", "Threads in the recording.", M->threads);
		prom_gauge(M, "glass_lost_events",
			   "Records the recorder dropped (buffers full), all processes.", M->lost);
		for (size_t fi = 0; fi < NFAMILIES && !M->failed; fi++)
			prom_family(M, &families[fi]);
		if (res_metrics(M->out, glass_session_dir(s), 0) < 0)
			M->failed = 1;
	} else if (!M->oom) {
		spec_counters(M);
		if (res_metrics(M->out, glass_session_dir(s), 1) < 0)
			M->failed = 1;
		M->pass = 2;
		run_pass(M, s, pg);
	}
	glass_progress_end(pg);
}

static void metrics_free(struct metrics *M)
{
	for (int t = 0; t < T_COUNT; t++) {
		struct table *T = &tables[t];
		struct glass_ftable *fts[2] = {T->rows, T->out};
		for (int k = 0; k < 2; k++) {
			for (size_t i = 0; fts[k] && i < glass_ftable_size(fts[k]); i++)
				free((void *)glass_ftable_user(fts[k], i));
			glass_ftable_free(fts[k]);
		}
		free(T->order);
		T->rows = T->out = NULL;
		T->order = NULL;
	}
	for (int d = 0; d < D_COUNT; d++) {
		glass_ftable_free(M->dims[d].ft);
		free(M->dims[d].keep);
	}
	glass_buf_free(&M->key);
	for (int i = 0; i <= MAX_LABELS; i++)
		glass_buf_free(&M->scratch[i]);
	glass_buf_free(&M->line);
}

int command_metrics(int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
					     {"top", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	struct metrics M = {.top = DEFAULT_TOP};
	const struct report_cli cli = {.name = "metrics",
				       .usage = usage,
				       .output = 1,
				       .shortopts = "f:n:",
				       .longopts = opts,
				       .option = metrics_option,
				       .ctx = &M};
	struct report_args a;
	int status;
	struct glass_session *s = report_begin(&cli, argc, argv, &a, &status);
	if (!s)
		return status;
	struct report_out out;
	if (report_out_open(&out, a.output))
		return report_quit(s, GLASS_EXIT_OUTPUT);
	M.out = out.f;
	write_metrics(&M, s);
	int rc = GLASS_EXIT_OK;
	if (M.oom) {
		report_error("out of memory");
		rc = GLASS_EXIT_OUTPUT;
	}
	int orc = report_out_close(&out, M.failed && !rc);
	metrics_free(&M);
	return report_finish(&a, s, rc ? rc : orc);
}
