/* tools/cmd-sqlite.c — `glass-report sqlite`: the session as an SQLite database for ad-hoc SQL. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/progress.h"
#include "native.h"
#include "report.h"
#include "res-report.h"
#include "analysis/spans.h"
#include "analysis/stats.h"
#include "analysis/text.h"

/*
 * Layout. Spans go straight into the database as they complete: one prepared INSERT per span,
 * one transaction, no journal. To keep that fast (docs/report.md has the figures) a span row
 * is compact: span_data holds numbers and refers to its function (functions) and thread
 * (threads) by integer; what few spans have (an error, a captured operation's attributes)
 * goes to span_errors and span_ops; the `spans` view joins it all back into the wide row
 * people query.
 * Indexes are built once at the end, far cheaper than keeping them up to date row by row.
 * functions carries per-function statistics computed here with tools/stats.h histograms (the
 * numbers of `summary`); the other reports are views with exact percentiles.
 */
static const char schema_sql[] =
    "CREATE TABLE sessions (\n"
    "  session_id TEXT, dir TEXT, format TEXT, reader TEXT, command TEXT,\n"
    "  start_ns INTEGER, end_ns INTEGER, dur_ns INTEGER, processes INTEGER, threads INTEGER,\n"
    "  spans INTEGER, warnings INTEGER);\n"
    "CREATE TABLE processes (\n"
    "  key TEXT PRIMARY KEY, pid INTEGER, ppid INTEGER, origin TEXT, parent TEXT, state TEXT,\n"
    "  exit_status INTEGER, python TEXT, executable TEXT, cwd TEXT, argv TEXT, command TEXT,\n"
    "  start_ns INTEGER, end_ns INTEGER, lost_events INTEGER, lost_chunks INTEGER,\n"
    "  threads INTEGER, code_objects INTEGER);\n"
    "CREATE TABLE threads (\n"
    "  stream INTEGER PRIMARY KEY, pid INTEGER, tid INTEGER, tidx INTEGER, process TEXT,\n"
    "  name TEXT, spans INTEGER, records INTEGER, lost_records INTEGER, chunks INTEGER,\n"
    "  busy_ns INTEGER, first_ns INTEGER, last_ns INTEGER);\n"
    "CREATE TABLE code_objects (\n"
    "  pid INTEGER, process TEXT, code_id INTEGER, module TEXT, qualname TEXT, file TEXT,\n"
    "  line INTEGER, flags INTEGER, generator TEXT);\n"
    "CREATE TABLE functions (\n"
    "  id INTEGER PRIMARY KEY, function TEXT, kind TEXT, module TEXT, qualname TEXT,\n"
    "  file TEXT, line INTEGER, calls INTEGER, errors INTEGER, incomplete INTEGER,\n"
    "  total_ns INTEGER, self_ns INTEGER, min_ns INTEGER, p50_ns INTEGER, p90_ns INTEGER,\n"
    "  p99_ns INTEGER, max_ns INTEGER);\n"
    /* every span: numbers only (SQLite stores every column of a row, NULL or not, so what
     * only some spans have lives in the two tables after it) */
    "CREATE TABLE span_data (\n"
    "  span_id INTEGER PRIMARY KEY, parent_id INTEGER, trace_hi INTEGER, trace_lo INTEGER,\n"
    "  stream INTEGER, function_id INTEGER, start_ns INTEGER, dur_ns INTEGER,\n"
    "  self_ns INTEGER, depth INTEGER, status TEXT, generator TEXT, resumes INTEGER,\n"
    "  suspended_ns INTEGER);\n"
    "CREATE TABLE span_errors (\n"
    "  span_id INTEGER PRIMARY KEY, error_type TEXT, error_message TEXT);\n"
    "CREATE TABLE span_ops (\n"
    "  span_id INTEGER PRIMARY KEY, kind TEXT, name TEXT, remote_parent_id INTEGER,\n"
    "  db_system TEXT, db_statement TEXT, db_query TEXT, db_operation TEXT, db_rows INTEGER,\n"
    "  http_method TEXT, http_route TEXT, http_target TEXT, http_status INTEGER,\n"
    "  server_address TEXT, server_port INTEGER, attrs TEXT);\n"
    /* arguments and results (capture_args / capture_result), and span events: exceptions
     * raised in a span (handled: caught inside it) and logging records */
    "CREATE TABLE span_args (span_id INTEGER PRIMARY KEY, args TEXT, result TEXT);\n"
    "CREATE TABLE events (\n"
    "  span_id INTEGER, n INTEGER, name TEXT, time_ns INTEGER, handled INTEGER,\n"
    "  level TEXT, levelno INTEGER, type TEXT, logger TEXT, message TEXT);\n"
    "CREATE TABLE warnings (n INTEGER, kind TEXT, text TEXT);\n";

/* Built once all rows are in: a sort of every row, the biggest cost after the rows, but less
 * than keeping the index up to date row by row. */
static const char index_sql[] = "CREATE INDEX span_data_parent ON span_data(parent_id);\n"
				"CREATE INDEX events_span ON events(span_id);\n"
				"CREATE INDEX span_ops_kind ON span_ops(kind);\n"
				"CREATE INDEX functions_name ON functions(function);\n";

/* The spans view: head, the session id as an SQL integer (trace_hi NULL stands for it), tail. */
static const char spans_view_head[] = "CREATE VIEW spans AS\n"
				      "SELECT s.span_id, s.parent_id,\n"
				      "  printf('%016x%016x', coalesce(s.trace_hi, ";
static const char spans_view_tail[] =
    "), s.trace_lo) AS trace_id,\n"
    "  o.remote_parent_id, t.pid, t.tid, t.name AS thread, coalesce(o.kind, f.kind) AS kind,\n"
    "  coalesce(o.name, f.function) AS name, f.module, f.qualname, f.file, f.line,\n"
    "  s.start_ns, s.dur_ns, s.self_ns, s.depth, s.status, e.error_type, e.error_message,\n"
    "  s.generator, s.resumes, s.suspended_ns, o.db_system, o.db_statement, o.db_query,\n"
    "  o.db_operation, o.db_rows, o.http_method, o.http_route, o.http_target,\n"
    "  o.http_status, o.server_address, o.server_port, o.attrs, s.function_id, s.stream,\n"
    "  s.trace_lo, a.args, a.result\n"
    "FROM span_data s LEFT JOIN threads t ON t.stream = s.stream\n"
    "  LEFT JOIN span_args a ON a.span_id = s.span_id\n"
    "  LEFT JOIN functions f ON f.id = s.function_id\n"
    "  LEFT JOIN span_ops o ON o.span_id = s.span_id\n"
    "  LEFT JOIN span_errors e ON e.span_id = s.span_id;\n";

/* Percentiles in the views are exact (nearest rank): rn counts rows in duration order, the
 * p-th percentile is the first row whose rank reaches p * n. */
#define PCT(q, col) "round(min(CASE WHEN rn >= " q " * n THEN dur_ns END) / 1e6, 3) AS " col
static const char view_sql[] =
    "CREATE VIEW function_stats AS\n"
    "SELECT function, kind, calls, errors, round(total_ns / 1e6, 3) AS total_ms,\n"
    "  round(self_ns / 1e6, 3) AS self_ms, round(total_ns / 1e6 / calls, 3) AS mean_ms,\n"
    "  round(p50_ns / 1e6, 3) AS p50_ms, round(p90_ns / 1e6, 3) AS p90_ms,\n"
    "  round(p99_ns / 1e6, 3) AS p99_ms, round(max_ns / 1e6, 3) AS max_ms, module, qualname,\n"
    "  file, line, total_ns, self_ns, min_ns, p50_ns, p90_ns, p99_ns, max_ns, incomplete,\n"
    "  id AS function_id\n"
    "FROM functions WHERE calls > 0 ORDER BY total_ns DESC;\n"
    "CREATE VIEW endpoints AS\n"
    "SELECT method, route, count(*) AS requests, sum(failed) AS errors,\n"
    "  round(1.0 * sum(failed) / count(*), 4) AS error_rate,\n"
    "  round(avg(dur_ns) / 1e6, 3) AS mean_ms, " PCT(
	"0.50",
	"p50_ms") ",\n"
		  "  " PCT("0.90", "p90_ms") ", " PCT(
		      "0.99",
		      "p99_ms") ",\n"
				"  round(max(dur_ns) / 1e6, 3) AS max_ms,\n"
				"  sum(http_status BETWEEN 400 AND 499) AS status_4xx, "
				"sum(http_status >= 500) AS "
				"status_5xx\n"
				"FROM (SELECT method, route, dur_ns, failed, http_status,\n"
				"        row_number() OVER (PARTITION BY method, route ORDER BY "
				"dur_ns) AS rn,\n"
				"        count(*) OVER (PARTITION BY method, route) AS n\n"
				"      FROM (SELECT coalesce(o.http_method, '') AS method,\n"
				"              coalesce(o.http_route, o.http_target, o.name) AS "
				"route, s.dur_ns,\n"
				"              o.http_status,\n"
				"              (s.status = 'error' OR coalesce(o.http_status, 0) "
				">= 500) AS failed\n"
				"            FROM span_ops o JOIN span_data s ON s.span_id = "
				"o.span_id\n"
				"            WHERE o.kind = 'http_server'))\n"
				"GROUP BY method, route ORDER BY requests DESC, method, route;\n"
				"CREATE VIEW slow_queries AS\n"
				"SELECT round(s.dur_ns / 1e6, 3) AS dur_ms, o.db_system, "
				"o.db_operation,\n"
				"  coalesce(o.db_query, o.name) AS query, o.db_rows, s.status, "
				"e.error_type,\n"
				"  t.name AS thread, t.pid, s.span_id, s.parent_id, s.start_ns, "
				"s.dur_ns, o.db_statement\n"
				"FROM span_ops o JOIN span_data s ON s.span_id = o.span_id\n"
				"  LEFT JOIN threads t ON t.stream = s.stream\n"
				"  LEFT JOIN span_errors e ON e.span_id = o.span_id\n"
				"WHERE o.kind = 'db' ORDER BY s.dur_ns DESC;\n"
				"CREATE VIEW query_stats AS\n"
				"SELECT db_system, query, count(*) AS calls, sum(failed) AS "
				"errors,\n"
				"  round(sum(dur_ns) / 1e6, 3) AS total_ms, round(avg(dur_ns) / "
				"1e6, 3) AS mean_ms,\n"
				"  " PCT("0.50", "p50_ms") ", " PCT("0.90", "p90_ms") ", " PCT(
				    "0.99",
				    "p99_ms") ",\n"
					      "  round(max(dur_ns) / 1e6, 3) AS max_ms, "
					      "sum(db_rows) AS rows\n"
					      "FROM (SELECT db_system, query, dur_ns, failed, "
					      "db_rows,\n"
					      "        row_number() OVER (PARTITION BY db_system, "
					      "query ORDER BY dur_ns) AS rn,\n"
					      "        count(*) OVER (PARTITION BY db_system, "
					      "query) AS n\n"
					      "      FROM (SELECT coalesce(o.db_system, '') AS "
					      "db_system,\n"
					      "              coalesce(o.db_query, o.name) AS "
					      "query, s.dur_ns, o.db_rows,\n"
					      "              s.status = 'error' AS failed\n"
					      "            FROM span_ops o JOIN span_data s ON "
					      "s.span_id = o.span_id\n"
					      "            WHERE o.kind = 'db'))\n"
					      "GROUP BY db_system, query ORDER BY sum(dur_ns) "
					      "DESC;\n"
					      "CREATE VIEW errors AS\n"
					      "SELECT s.start_ns, coalesce(o.kind, f.kind) AS "
					      "kind, coalesce(o.name, f.function) AS name,\n"
					      "  e.error_type, e.error_message,\n"
					      "  NOT EXISTS (SELECT 1 FROM span_data c JOIN "
					      "span_errors ce ON ce.span_id = c.span_id\n"
					      "              WHERE c.parent_id = s.span_id AND "
					      "c.status = 'error'\n"
					      "              AND ce.error_type IS e.error_type) AS "
					      "origin,\n"
					      "  o.http_status, round(s.dur_ns / 1e6, 3) AS "
					      "dur_ms, t.name AS thread, t.pid, t.tid,\n"
					      "  s.depth, s.span_id, s.parent_id, f.file, f.line\n"
					      "FROM span_errors e JOIN span_data s ON s.span_id = "
					      "e.span_id\n"
					      "  LEFT JOIN span_ops o ON o.span_id = e.span_id\n"
					      "  LEFT JOIN threads t ON t.stream = s.stream\n"
					      "  LEFT JOIN functions f ON f.id = s.function_id\n"
					      "WHERE s.status = 'error' ORDER BY s.start_ns;\n";
#undef PCT

/* Columns in INSERT order (1-based for sqlite3_bind_*): span_data, span_ops. */
enum {
	D_SPAN_ID = 1,
	D_PARENT_ID,
	D_TRACE_HI,
	D_TRACE_LO,
	D_STREAM,
	D_FUNCTION,
	D_START,
	D_DUR,
	D_SELF,
	D_DEPTH,
	D_STATUS,
	D_GENERATOR,
	D_RESUMES,
	D_SUSPENDED,
	D_COUNT = D_SUSPENDED
};
enum {
	O_SPAN_ID = 1,
	O_KIND,
	O_NAME,
	O_REMOTE_PARENT,
	O_DB_SYSTEM,
	O_DB_STATEMENT,
	O_DB_QUERY,
	O_DB_OPERATION,
	O_DB_ROWS,
	O_HTTP_METHOD,
	O_HTTP_ROUTE,
	O_HTTP_TARGET,
	O_HTTP_STATUS,
	O_SERVER_ADDRESS,
	O_SERVER_PORT,
	O_ATTRS,
	O_COUNT = O_ATTRS,
	/* error.type and error.message attributes go to span_errors */
	X_ERR_TYPE,
	X_ERR_MSG,
	X_COUNT
};

/* Attributes with a column of their own; for each column the lowest rank present wins
 * (current OpenTelemetry names first, then older ones). */
static const struct {
	const char *key;
	int col;
	int rank;
} attr_cols[] = {
    {"db.system", O_DB_SYSTEM, 0},
    {"db.system.name", O_DB_SYSTEM, 1},
    {"db.statement", O_DB_STATEMENT, 0},
    {"db.query.text", O_DB_STATEMENT, 1},
    {"db.operation", O_DB_OPERATION, 0},
    {"db.operation.name", O_DB_OPERATION, 1},
    {"db.response.returned_rows", O_DB_ROWS, 0},
    {"db.response.affected_rows", O_DB_ROWS, 1},
    {"http.request.method", O_HTTP_METHOD, 0},
    {"http.method", O_HTTP_METHOD, 1},
    {"http.route", O_HTTP_ROUTE, 0},
    {"url.path", O_HTTP_TARGET, 0},
    {"http.target", O_HTTP_TARGET, 1},
    {"url.full", O_HTTP_TARGET, 2},
    {"http.response.status_code", O_HTTP_STATUS, 0},
    {"http.status_code", O_HTTP_STATUS, 1},
    {"server.address", O_SERVER_ADDRESS, 0},
    {"net.peer.name", O_SERVER_ADDRESS, 1},
    {"server.port", O_SERVER_PORT, 0},
    {"net.peer.port", O_SERVER_PORT, 1},
    {"error.type", X_ERR_TYPE, 9},
    {"error.message", X_ERR_MSG, 9},
};
#define NATTR_COLS (sizeof(attr_cols) / sizeof(attr_cols[0]))

/* Distinct operation names (db, http, net) given a functions row of their own; later ones
 * share one "<other KIND>" row each, so hostile or unbounded names (URLs with ids in them)
 * cannot grow memory without bound. Their spans keep their own name. */
#define MAX_OP_NAMES 10000

/* SQLite's page cache while writing, KiB. */
#define GLASS_SQLITE_CACHE_KIB 32768

struct reorder;

/* A functions row: what names it (strings owned). */
struct fn_row {
	char *label, *module, *qualname, *file;
	const char *kind;
	uint32_t line;
	int has_code;
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *ins_span, *ins_op, *ins_err, *ins_args, *ins_event;
	const char *output;
	uint64_t session_id;
	uint64_t stream;
	struct glass_ftable *ft;
	size_t op_names;
	/* current process: code definition index -> functions row */
	const struct glass_code_def *codes;
	size_t ncodes;
	long *cache;
	struct glass_buf attrs, query, key;
	struct reorder *heap; /* the reorder window; NULL: rows go in unordered (slower) */
	unsigned row_bound;   /* optional columns of ins_span bound to a value (insert_row) */
	uint64_t row_stream;  /* stream bound in ins_span, 0 none yet */
	int row_status;	      /* status bound in ins_span, -1 none yet */
	uint64_t spans;
	int failed; /* an sqlite error was reported */
	int oom;
};

static void sq_error(struct sq *Q, const char *what)
{
	if (!Q->failed)
		report_error("cannot write %s: %s: %s", Q->output, what, sqlite3_errmsg(Q->db));
	Q->failed = 1;
}

static int exec_sql(struct sq *Q, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(Q->db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	if (!Q->failed)
		report_error("cannot write %s: %s", Q->output, err ? err : "sqlite error");
	Q->failed = 1;
	sqlite3_free(err);
	return -1;
}

/*
 * Binds text from the recording as valid UTF-8: SQLite stores any bytes, but Python's sqlite3
 * and most clients fail on invalid UTF-8, and a captured URL or statement can hold anything.
 * Invalid sequences become U+FFFD. Valid text (nearly always) is bound without a copy, so it
 * must stay valid until the row is stepped (SQLITE_STATIC).
 */
static void bind_text(sqlite3_stmt *st, int col, const char *s, size_t len)
{
	if (!s) {
		sqlite3_bind_null(st, col);
		return;
	}
	size_t i = 0, n;
	while (i < len && ((unsigned char)s[i] < 0x80 || (n = glass_utf8_seq(s + i, len - i))))
		i += (unsigned char)s[i] < 0x80 ? 1 : n;
	if (i == len) {
		sqlite3_bind_text64(st, col, s, len, SQLITE_STATIC, SQLITE_UTF8);
		return;
	}
	struct glass_buf b = {0};
	glass_buf_put(&b, s, i);
	while (i < len) {
		n = (unsigned char)s[i] < 0x80 ? 1 : glass_utf8_seq(s + i, len - i);
		if (n)
			glass_buf_put(&b, s + i, n);
		else
			glass_buf_put(&b, "\xef\xbf\xbd", 3);
		i += n ? n : 1;
	}
	if (b.oom || !b.p) {
		glass_buf_free(&b);
		sqlite3_bind_null(st, col);
		return;
	}
	sqlite3_bind_text64(st, col, b.p, b.len, free, SQLITE_UTF8); /* SQLite frees it */
}

static void bind_cstr(sqlite3_stmt *st, int col, const char *s)
{
	bind_text(st, col, s, s ? strlen(s) : 0);
}

/* 64-bit ids and Unix ns: stored as the same 64 bits, signed (SQLite has no unsigned). */
static void bind_u64(sqlite3_stmt *st, int col, uint64_t v)
{
	sqlite3_bind_int64(st, col, (sqlite3_int64)v);
}

/* ---- statement normalisation ------------------------------------------------------------- */

static int is_ident(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '$' || c >= 0x80;
}

/* Appends a placeholder; a list of them ("?, ?, ?") becomes one, so IN lists of any length
 * give the same query. */
static void put_placeholder(struct glass_buf *b)
{
	size_t n = b->len;
	while (n && b->p[n - 1] == ' ')
		n--;
	if (n && b->p[n - 1] == ',') {
		size_t m = n - 1;
		while (m && b->p[m - 1] == ' ')
			m--;
		if (m && b->p[m - 1] == '?') {
			b->len = m;
			return;
		}
	}
	glass_buf_put(b, "?", 1);
}

#define QUERY_MAX 4096

/* The end of a comment at s[i] (-- to the line's end, or a C comment), or i when none starts. */
static size_t comment_end(const char *s, size_t len, size_t i)
{
	if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
		while (i < len && s[i] != '\n')
			i++;
		return i;
	}
	if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
		i += 2;
		while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'))
			i++;
		return i + 2 < len ? i + 2 : len;
	}
	return i;
}

/* The end of a string literal at s[i] ('..', E'..', X'..', N'..', B'..' with '' and backslash
 * escapes inside), or i when none starts. */
static size_t string_end(const char *s, size_t len, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	int prefixed = c && strchr("EeXxNnBb", c) && i + 1 < len && s[i + 1] == '\'' &&
		       (i == 0 || !is_ident((unsigned char)s[i - 1]));
	if (c != '\'' && !prefixed)
		return i;
	i += c == '\'' ? 1 : 2;
	while (i < len) {
		if (s[i] == '\\' && i + 1 < len) {
			i += 2;
		} else if (s[i] == '\'') {
			if (i + 1 < len && s[i + 1] == '\'')
				i += 2;
			else
				return i + 1;
		} else {
			i++;
		}
	}
	return i;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The end of a number (1, 1.5, .5, 1e-3, 0x1f) or a placeholder ($1, %s, %(name)s, :name,
 * @name, ?) at s[i], or i when none starts. */
static size_t value_end(const char *s, size_t len, size_t i)
{
	char c = s[i];
	if (is_digit(c) || (c == '.' && i + 1 < len && is_digit(s[i + 1]))) {
		while (i < len &&
		       (is_ident((unsigned char)s[i]) || s[i] == '.' ||
			((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
			i++;
		return i;
	}
	if (c == '$' && i + 1 < len && is_digit(s[i + 1])) {
		i++;
		while (i < len && is_digit(s[i]))
			i++;
		return i;
	}
	if (c == '%' && i + 1 < len && (s[i + 1] == 's' || s[i + 1] == '(')) {
		size_t j = i + 1;
		if (s[j] == '(') {
			while (j < len && s[j] != ')')
				j++;
			j++;
		}
		return j < len && s[j] == 's' ? j + 1 : i;
	}
	if ((c == ':' || c == '@') && i + 1 < len && is_ident((unsigned char)s[i + 1]) &&
	    (i == 0 || s[i - 1] != ':')) {
		i++;
		while (i < len && is_ident((unsigned char)s[i]))
			i++;
		return i;
	}
	return c == '?' ? i + 1 : i;
}

/* The end of a token kept as it is: a quoted identifier ("t", `t`, [t]) or a name. */
static size_t kept_end(const char *s, size_t len, size_t i)
{
	unsigned char c = (unsigned char)s[i];
	size_t j = i + 1;
	if (c == '"' || c == '`' || c == '[') {
		char close = c == '[' ? ']' : (char)c;
		while (j < len && s[j] != close)
			j++;
		return j < len ? j + 1 : len;
	}
	if (is_ident(c))
		while (j < len && is_ident((unsigned char)s[j]))
			j++;
	return j;
}

/*
 * The shape of an SQL statement: literals (strings, numbers) and placeholders ($1, %s,
 * %(name)s, :name) become ?, lists of them one ?, comments go, whitespace runs become one
 * space. Quoted identifiers ("t", `t`, [t]) are kept. Cut at QUERY_MAX bytes.
 */
static void sql_normalize(struct glass_buf *b, const char *s, size_t len)
{
	b->len = 0;
	size_t i = 0, j;
	int space = 0;
	while (i < len && b->len < QUERY_MAX) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
			space = 1;
			i++;
			continue;
		}
		if ((j = comment_end(s, len, i)) != i) {
			i = j;
			space = 1;
			continue;
		}
		if (space && b->len)
			glass_buf_put(b, " ", 1);
		space = 0;
		int number = is_digit((char)c) || (c == '.' && i + 1 < len && is_digit(s[i + 1]));
		if (number && i && is_ident((unsigned char)s[i - 1])) {
			glass_buf_put(b, s + i, 1); /* t1, col2 */
			i++;
		} else if ((j = string_end(s, len, i)) != i || (j = value_end(s, len, i)) != i) {
			i = j;
			put_placeholder(b);
		} else {
			j = kept_end(s, len, i);
			glass_buf_put(b, s + i, j - i);
			i = j;
		}
	}
}

/* ---- spans --------------------------------------------------------------------------------- */

static long fn_intern(struct sq *Q, const struct glass_span *sp, const char *label, int other)
{
	int added = 0;
	struct glass_buf *key = &Q->key;
	long fi = key->oom ? -1 : glass_ftable_intern(Q->ft, key->p, key->len, &added);
	if (fi < 0 || !added)
		return fi;
	struct fn_row *r = calloc(1, sizeof(*r));
	char buf[1024];
	if (!label)
		label = glass_span_label(sp, buf, sizeof(buf));
	if (!r || !(r->label = strdup(label))) {
		free(r);
		return -1;
	}
	r->kind = glass_span_kind_name(sp->kind);
	const struct glass_code_def *d = sp->code;
	if (sp->kind == GLASS_KIND_PYTHON && d) {
		r->has_code = 1;
		r->module = strdup(d->module);
		r->qualname = strdup(d->qualname);
		r->file = strdup(d->filename);
		r->line = d->line;
	}
	if (sp->kind != GLASS_KIND_PYTHON && !other)
		Q->op_names++;
	glass_ftable_set_user(Q->ft, (size_t)fi, r);
	return fi;
}

/* The functions row of a span (-1 out of memory). Python spans are keyed by their function's
 * identity (several processes share a row, as in `summary`), the rest by kind and name. */
static long fn_row_of(struct sq *Q, const struct glass_span *sp)
{
	const struct glass_code_def *d = sp->code;
	struct glass_buf *key = &Q->key;
	key->len = 0;
	if (sp->kind != GLASS_KIND_PYTHON) {
		char label[64];
		glass_buf_printf(key, "%c%d%c", 2, (int)sp->kind, 0);
		glass_buf_put(key, sp->name.p ? sp->name.p : "", sp->name.len);
		if (Q->op_names < MAX_OP_NAMES)
			return fn_intern(Q, sp, NULL, 0);
		long fi = key->oom ? -1 : glass_ftable_find(Q->ft, key->p, key->len);
		if (fi >= 0)
			return fi;
		/* a new name past the limit: the kind's catch-all row */
		key->len = 0;
		glass_buf_printf(key, "%c%d", 3, (int)sp->kind);
		snprintf(label, sizeof(label), "<other %s>", glass_span_kind_name(sp->kind));
		return fn_intern(Q, sp, label, 1);
	}
	size_t k = 0;
	int cached = d && d >= Q->codes && d < Q->codes + Q->ncodes;
	if (cached) {
		k = (size_t)(d - Q->codes);
		if (Q->cache[k] >= 0)
			return Q->cache[k];
	}
	if (d) {
		glass_buf_puts(key, d->module);
		glass_buf_put(key, "", 1);
		glass_buf_puts(key, d->qualname);
		glass_buf_put(key, "", 1);
		glass_buf_puts(key, d->filename);
		glass_buf_printf(key, "%c%u", 0, d->line);
	} else {
		glass_buf_printf(key, "%c<unknown>%c%u%c%u", 1, 0, sp->pid, 0, sp->code_id);
	}
	long fi = fn_intern(Q, sp, NULL, 0);
	if (cached && fi >= 0)
		Q->cache[k] = fi;
	return fi;
}

static void put_attrs_json(struct glass_buf *b, const struct glass_span *sp)
{
	b->len = 0;
	glass_buf_put(b, "{", 1);
	for (size_t i = 0; i < sp->nattrs; i++) {
		const struct glass_attr *a = &sp->attrs[i];
		if (i)
			glass_buf_put(b, ",", 1);
		glass_json_str(b, a->key.p ? a->key.p : "", a->key.len);
		glass_buf_put(b, ":", 1);
		if (a->type == GLASS_ATTR_STR)
			glass_json_str(b, a->s.p, a->s.len);
		else if (a->type == GLASS_ATTR_BOOL)
			glass_buf_puts(b, a->i ? "true" : "false");
		else
			glass_buf_printf(b, "%lld", (long long)a->i);
	}
	glass_buf_put(b, "}", 1);
}

/* Attribute columns of a captured operation: one pass over its attributes. error.type and
 * error.message come back in err[0], err[1] (p NULL when absent). */
static void bind_attr_cols(struct sq *Q, sqlite3_stmt *st, const struct glass_span *sp,
			   struct glass_str err[2])
{
	int rank[X_COUNT];
	for (int c = 0; c < X_COUNT; c++)
		rank[c] = 1000;
	for (int c = O_DB_SYSTEM; c <= O_ATTRS; c++)
		sqlite3_bind_null(st, c);
	err[0] = err[1] = (struct glass_str){NULL, 0};
	for (size_t i = 0; i < sp->nattrs; i++) {
		const struct glass_attr *a = &sp->attrs[i];
		if (!a->key.p)
			continue;
		for (size_t k = 0; k < NATTR_COLS; k++) {
			size_t kl = strlen(attr_cols[k].key);
			int c = attr_cols[k].col;
			if (kl != a->key.len || memcmp(attr_cols[k].key, a->key.p, kl) ||
			    attr_cols[k].rank >= rank[c])
				continue;
			rank[c] = attr_cols[k].rank;
			if (c == X_ERR_TYPE || c == X_ERR_MSG) {
				if (a->type == GLASS_ATTR_STR)
					err[c - X_ERR_TYPE] = a->s;
				break;
			}
			int numeric = c == O_DB_ROWS || c == O_HTTP_STATUS || c == O_SERVER_PORT;
			if (a->type == GLASS_ATTR_STR && numeric && a->s.p) {
				char num[24], *end;
				size_t n = a->s.len < sizeof(num) - 1 ? a->s.len : sizeof(num) - 1;
				memcpy(num, a->s.p, n);
				num[n] = 0;
				long long v = strtoll(num, &end, 10);
				if (n && !*end)
					sqlite3_bind_int64(st, c, v);
				else
					bind_text(st, c, a->s.p, a->s.len);
			} else if (a->type == GLASS_ATTR_STR) {
				bind_text(st, c, a->s.p, a->s.len);
			} else {
				sqlite3_bind_int64(st, c, a->i);
			}
			if (c == O_DB_STATEMENT) {
				if (a->type == GLASS_ATTR_STR && a->s.p) {
					sql_normalize(&Q->query, a->s.p, a->s.len);
					if (!Q->query.oom)
						bind_text(st, O_DB_QUERY,
							  Q->query.p ? Q->query.p : "",
							  Q->query.len);
				} else {
					sqlite3_bind_null(st, O_DB_QUERY);
				}
			}
			break;
		}
	}
	put_attrs_json(&Q->attrs, sp);
	if (!Q->attrs.oom)
		bind_text(st, O_ATTRS, Q->attrs.p, Q->attrs.len);
}

/* The span_data columns of a span, as kept in the reorder heap. */
struct row {
	uint64_t span_id, parent_id, trace_hi, trace_lo, start, dur, self, suspended;
	long fn; /* functions row index, -1 none */
	uint32_t depth, resumes;
	uint8_t status, gen;
};

/*
 * The span_data INSERT binds only what changed since its previous row: bindings outlive a
 * reset, and most optional columns stay NULL row after row (binding was a third of the time
 * per row otherwise). row_bound has a bit per optional column bound to a value.
 */
#define D_BIT(col) (1u << (col))

static void d_value(struct sq *Q, int col)
{
	Q->row_bound |= D_BIT(col);
}

static void d_null(struct sq *Q, int col)
{
	if (Q->row_bound & D_BIT(col)) {
		sqlite3_bind_null(Q->ins_span, col);
		Q->row_bound &= ~D_BIT(col);
	}
}

static void insert_row(struct sq *Q, const struct row *r)
{
	sqlite3_stmt *st = Q->ins_span;
	bind_u64(st, D_SPAN_ID, r->span_id);
	if (r->parent_id) {
		bind_u64(st, D_PARENT_ID, r->parent_id);
		d_value(Q, D_PARENT_ID);
	} else {
		d_null(Q, D_PARENT_ID);
	}
	if (r->trace_hi != Q->session_id) {
		bind_u64(st, D_TRACE_HI, r->trace_hi);
		d_value(Q, D_TRACE_HI);
	} else {
		d_null(Q, D_TRACE_HI);
	}
	bind_u64(st, D_TRACE_LO, r->trace_lo);
	if (Q->row_stream != Q->stream) {
		bind_u64(st, D_STREAM, Q->stream);
		Q->row_stream = Q->stream;
	}
	if (r->fn >= 0) {
		sqlite3_bind_int64(st, D_FUNCTION, r->fn + 1);
		d_value(Q, D_FUNCTION);
	} else {
		d_null(Q, D_FUNCTION);
	}
	bind_u64(st, D_START, r->start);
	bind_u64(st, D_DUR, r->dur);
	bind_u64(st, D_SELF, r->self);
	sqlite3_bind_int64(st, D_DEPTH, r->depth);
	if (Q->row_status != r->status) {
		bind_cstr(st, D_STATUS, glass_span_status_name(r->status));
		Q->row_status = r->status;
	}
	if (r->gen != GLASS_GEN_NONE) {
		bind_cstr(st, D_GENERATOR, glass_gen_kind_name(r->gen));
		sqlite3_bind_int64(st, D_RESUMES, r->resumes);
		bind_u64(st, D_SUSPENDED, r->suspended);
		d_value(Q, D_GENERATOR);
		d_value(Q, D_RESUMES);
		d_value(Q, D_SUSPENDED);
	} else {
		d_null(Q, D_GENERATOR);
		d_null(Q, D_RESUMES);
		d_null(Q, D_SUSPENDED);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		sq_error(Q, "inserting a span");
	sqlite3_reset(st);
	Q->spans += !Q->failed;
}

/*
 * Reorder window. span_id is span_data's key (its rowid), and rows in key order are appended
 * to the B-tree, where rows out of order each cost a search and split pages half full. A
 * thread's span ids count up in start order (stream << seq_bits | 1, 2, 3, ...) but spans
 * complete children first, so rows wait in a window of REORDER slots indexed by id and go in
 * as soon as every smaller id has: O(1) a span. A span still open when REORDER later ids have
 * completed (a long-running parent) is passed over and goes in out of order when it ends;
 * so do ids never completed as spans (activations too deep to report).
 */
#define REORDER 4096

struct reorder {
	uint64_t base; /* smallest id not yet inserted or passed over */
	struct row rows[REORDER];
	uint8_t present[REORDER];
};

/* Starts a thread's window at its first span id. */
static void reorder_start(struct reorder *w, uint64_t first_id)
{
	w->base = first_id;
	memset(w->present, 0, sizeof(w->present));
}

/* Inserts the row at the window's base if it is there, and moves the base on. */
static void reorder_advance(struct sq *Q, struct reorder *w)
{
	size_t k = w->base % REORDER;
	if (w->present[k]) {
		insert_row(Q, &w->rows[k]);
		w->present[k] = 0;
	}
	w->base++;
}

static void reorder_add(struct sq *Q, const struct row *r)
{
	struct reorder *w = Q->heap;
	/* far ahead of the window: not one of this stream's counted ids (a span that took the id
	 * a traceparent named, or an id salted for a trace shared with another recording) */
	if (!w || r->span_id < w->base || r->span_id - w->base >= 16 * REORDER) {
		insert_row(Q, r); /* passed over, or no window */
		return;
	}
	while (r->span_id - w->base >= REORDER && !Q->failed)
		reorder_advance(Q, w);
	size_t k = r->span_id % REORDER;
	w->rows[k] = *r;
	w->present[k] = 1;
	while (w->present[w->base % REORDER] && !Q->failed)
		reorder_advance(Q, w);
}

/* Inserts what the window holds (end of a thread's stream). */
static void reorder_flush(struct sq *Q)
{
	struct reorder *w = Q->heap;
	if (!w)
		return;
	for (size_t n = 0; n < REORDER && !Q->failed; n++)
		reorder_advance(Q, w);
}

static void step_other(struct sq *Q, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		sq_error(Q, what);
	sqlite3_reset(st);
}

/* What happened inside a span: its arguments and result, its events (exceptions, log records). */
static void insert_inside(struct sq *Q, const struct glass_span *sp)
{
	if (sp->args.p || sp->result.p) {
		sqlite3_stmt *st = Q->ins_args;
		bind_u64(st, 1, sp->span_id);
		bind_text(st, 2, sp->args.p, sp->args.len);
		bind_text(st, 3, sp->result.p, sp->result.len);
		step_other(Q, st, "inserting arguments");
	}
	for (size_t i = 0; i < sp->nevents; i++) {
		const struct glass_span_event *e = &sp->events[i];
		int log = e->kind == GLASS_EVENT_LOG;
		sqlite3_stmt *st = Q->ins_event;
		bind_u64(st, 1, sp->span_id);
		bind_u64(st, 2, i);
		bind_cstr(st, 3, log ? "log" : "exception");
		bind_u64(st, 4, e->ts_ns);
		if (log) {
			sqlite3_bind_null(st, 5);
			bind_cstr(st, 6, glass_log_level_name(e->level));
			bind_u64(st, 7, e->level);
			sqlite3_bind_null(st, 8);
			bind_text(st, 9, e->name.p, e->name.len);
		} else {
			sqlite3_bind_int(st, 5, e->handled);
			sqlite3_bind_null(st, 6);
			sqlite3_bind_null(st, 7);
			bind_text(st, 8, e->name.p, e->name.len);
			sqlite3_bind_null(st, 9);
		}
		bind_text(st, 10, e->text.p, e->text.len);
		step_other(Q, st, "inserting an event");
	}
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct sq *Q = ctx;
	if (Q->failed)
		return;
	struct row r = {
	    .span_id = sp->span_id,
	    .parent_id = sp->parent_id,
	    .trace_hi = sp->trace_hi,
	    .trace_lo = sp->trace_lo,
	    .start = sp->start_ns,
	    .dur = sp->dur_ns,
	    .self = sp->self_ns,
	    .suspended = sp->suspended_ns,
	    .fn = fn_row_of(Q, sp),
	    .depth = sp->depth,
	    .resumes = sp->resumes,
	    .status = (uint8_t)sp->status,
	    .gen = (uint8_t)sp->gen,
	};
	if (r.fn >= 0) {
		struct glass_fstats *f = glass_ftable_stats(Q->ft, (size_t)r.fn);
		if (glass_fstats_add(f, sp->dur_ns, sp->self_ns, sp->status == GLASS_SPAN_ERROR) <
		    0)
			Q->oom = 1;
		f->incomplete +=
		    sp->status == GLASS_SPAN_LOST || sp->status == GLASS_SPAN_UNFINISHED;
	} else {
		Q->oom = 1;
	}
	/* the span's own exception; for a captured operation, else its error.* attributes */
	struct glass_str err[2] = {{NULL, 0}, {NULL, 0}};
	if (sp->status == GLASS_SPAN_ERROR) {
		err[0] = sp->err_type;
		err[1] = sp->err_msg;
	}
	if (sp->kind != GLASS_KIND_PYTHON) {
		sqlite3_stmt *st = Q->ins_op;
		struct glass_str aerr[2];
		bind_u64(st, O_SPAN_ID, sp->span_id);
		bind_cstr(st, O_KIND, glass_span_kind_name(sp->kind));
		bind_text(st, O_NAME, sp->name.p ? sp->name.p : "", sp->name.len);
		if (sp->remote_parent_id)
			bind_u64(st, O_REMOTE_PARENT, sp->remote_parent_id);
		else
			sqlite3_bind_null(st, O_REMOTE_PARENT);
		bind_attr_cols(Q, st, sp, aerr);
		step_other(Q, st, "inserting an operation");
		if (!err[0].p)
			err[0] = aerr[0];
		if (!err[1].p)
			err[1] = aerr[1];
	}
	if (err[0].p || err[1].p) {
		sqlite3_stmt *st = Q->ins_err;
		bind_u64(st, 1, sp->span_id);
		bind_text(st, 2, err[0].p, err[0].len);
		bind_text(st, 3, err[1].p, err[1].len);
		step_other(Q, st, "inserting an error");
	}
	insert_inside(Q, sp);
	reorder_add(Q, &r);
}

/* ---- metadata ------------------------------------------------------------------------------ */

static const char *state_name(uint32_t st)
{
	switch (st) {
	case GLASS_PROC_RUNNING:
		return "running";
	case GLASS_PROC_EXITED:
		return "exited";
	case GLASS_PROC_EXECED:
		return "execed";
	case GLASS_PROC_UNDERSCORE_EXIT:
		return "_exit";
	default:
		return "unknown";
	}
}

static sqlite3_stmt *prepare(struct sq *Q, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(Q->db, sql, -1, &st, NULL) != SQLITE_OK) {
		sq_error(Q, "preparing a statement");
		return NULL;
	}
	return st;
}

static void step_done(struct sq *Q, sqlite3_stmt *st, const char *what)
{
	if (st && sqlite3_step(st) != SQLITE_DONE)
		sq_error(Q, what);
	if (st)
		sqlite3_reset(st);
}

/* "?1, ?2, ..., ?n" */
static void put_params(struct glass_buf *b, int n)
{
	for (int i = 1; i <= n; i++)
		glass_buf_printf(b, "%s?%d", i > 1 ? ", " : "", i);
}

static sqlite3_stmt *prepare_insert(struct sq *Q, const char *table, int n)
{
	struct glass_buf b = {0};
	glass_buf_printf(&b, "INSERT INTO %s VALUES (", table);
	put_params(&b, n);
	glass_buf_put(&b, ")", 2);
	sqlite3_stmt *st = b.oom ? NULL : prepare(Q, b.p);
	glass_buf_free(&b);
	return st;
}

static void put_command(struct glass_buf *b, const struct glass_proc_info *in, int json)
{
	b->len = 0;
	if (json)
		glass_buf_put(b, "[", 1);
	for (uint32_t i = 0; i < in->argc; i++) {
		if (i)
			glass_buf_put(b, json ? "," : " ", 1);
		if (json)
			glass_json_str(b, in->argv[i], strlen(in->argv[i]));
		else
			glass_buf_puts(b, in->argv[i]);
	}
	if (json)
		glass_buf_put(b, "]", 1);
	glass_buf_put(b, "", 1);
}

static void write_process(struct sq *Q, struct glass_proc *p)
{
	const struct glass_proc_info *in = glass_proc_info(p);
	sqlite3_stmt *st = prepare_insert(Q, "processes", 18);
	if (!st)
		return;
	struct glass_buf argv_json = {0}, cmd = {0};
	put_command(&argv_json, in, 1);
	put_command(&cmd, in, 0);
	bind_cstr(st, 1, in->key);
	sqlite3_bind_int64(st, 2, in->pid);
	sqlite3_bind_int64(st, 3, in->ppid);
	bind_cstr(st, 4, *in->origin ? in->origin : NULL);
	bind_cstr(st, 5, *in->parent ? in->parent : NULL);
	bind_cstr(st, 6, state_name(in->state));
	if (in->state == GLASS_PROC_EXITED || in->state == GLASS_PROC_UNDERSCORE_EXIT)
		sqlite3_bind_int64(st, 7, in->exit_status);
	bind_cstr(st, 8, in->python);
	bind_cstr(st, 9, in->executable);
	bind_cstr(st, 10, in->cwd);
	bind_cstr(st, 11, argv_json.oom ? NULL : argv_json.p);
	bind_cstr(st, 12, cmd.oom ? NULL : cmd.p);
	bind_u64(st, 13, in->start_unix_ns);
	if (in->end_unix_ns)
		bind_u64(st, 14, in->end_unix_ns);
	bind_u64(st, 15, in->lost_events);
	bind_u64(st, 16, in->lost_chunks);
	sqlite3_bind_int64(st, 17, in->nthreads);
	sqlite3_bind_int64(st, 18, in->ncodes);
	step_done(Q, st, "inserting a process");
	sqlite3_finalize(st);
	glass_buf_free(&argv_json);
	glass_buf_free(&cmd);

	st = prepare_insert(Q, "code_objects", 9);
	if (!st)
		return;
	size_t n;
	const struct glass_code_def *c = glass_proc_codes(p, &n);
	for (size_t i = 0; i < n && !Q->failed; i++) {
		sqlite3_bind_int64(st, 1, in->pid);
		bind_cstr(st, 2, in->key);
		sqlite3_bind_int64(st, 3, c[i].id);
		bind_cstr(st, 4, c[i].module);
		bind_cstr(st, 5, c[i].qualname);
		bind_cstr(st, 6, c[i].filename);
		sqlite3_bind_int64(st, 7, c[i].line);
		sqlite3_bind_int64(st, 8, c[i].flags);
		bind_cstr(st, 9, glass_gen_kind_name(glass_gen_kind_of(c[i].flags)));
		step_done(Q, st, "inserting a code object");
	}
	sqlite3_finalize(st);
}

static void write_thread(struct sq *Q, sqlite3_stmt *st, struct glass_proc *p, uint32_t tidx,
			 struct glass_spans *b, uint64_t spans)
{
	const struct glass_proc_info *in = glass_proc_info(p);
	const struct glass_span_counts *cnt = glass_spans_counts(b);
	bind_u64(st, 1, Q->stream);
	sqlite3_bind_int64(st, 2, in->pid);
	sqlite3_bind_int64(st, 3, glass_spans_tid(b));
	sqlite3_bind_int64(st, 4, tidx);
	bind_cstr(st, 5, in->key);
	bind_cstr(st, 6, glass_spans_thread_name(b));
	bind_u64(st, 7, spans);
	bind_u64(st, 8, cnt->records);
	bind_u64(st, 9, cnt->lost_records);
	sqlite3_bind_int64(st, 10, glass_proc_thread_chunks(p, tidx, NULL));
	bind_u64(st, 11, cnt->busy_ns);
	bind_u64(st, 12, cnt->first_ns);
	bind_u64(st, 13, cnt->last_ns);
	step_done(Q, st, "inserting a thread");
}

static void write_functions(struct sq *Q)
{
	sqlite3_stmt *st = prepare_insert(Q, "functions", 17);
	for (size_t i = 0; st && i < glass_ftable_size(Q->ft) && !Q->failed; i++) {
		const struct glass_fstats *f = glass_ftable_stats(Q->ft, i);
		const struct fn_row *r = glass_ftable_user(Q->ft, i);
		if (!r)
			continue;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		bind_cstr(st, 2, r->label);
		bind_cstr(st, 3, r->kind);
		bind_cstr(st, 4, r->module);
		bind_cstr(st, 5, r->qualname);
		bind_cstr(st, 6, r->file);
		if (r->has_code)
			sqlite3_bind_int64(st, 7, r->line);
		else
			sqlite3_bind_null(st, 7);
		bind_u64(st, 8, f->calls);
		bind_u64(st, 9, f->errors);
		bind_u64(st, 10, f->incomplete);
		bind_u64(st, 11, f->total_ns);
		bind_u64(st, 12, f->self_ns);
		bind_u64(st, 13, f->min_ns);
		bind_u64(st, 14, glass_fstats_quantile(f, 0.50));
		bind_u64(st, 15, glass_fstats_quantile(f, 0.90));
		bind_u64(st, 16, glass_fstats_quantile(f, 0.99));
		bind_u64(st, 17, f->max_ns);
		step_done(Q, st, "inserting function statistics");
	}
	sqlite3_finalize(st);
}

static void free_fn_rows(struct glass_ftable *ft)
{
	for (size_t i = 0; ft && i < glass_ftable_size(ft); i++) {
		struct fn_row *r = (struct fn_row *)glass_ftable_user(ft, i);
		if (!r)
			continue;
		free(r->label);
		free(r->module);
		free(r->qualname);
		free(r->file);
		free(r);
	}
}

static void write_session_rows(struct sq *Q, struct glass_session *s, uint64_t first, uint64_t last,
			       uint64_t nthreads)
{
	sqlite3_stmt *st = prepare_insert(Q, "sessions", 12);
	if (st) {
		char id[17], fmt[32], rd[64];
		unsigned major, minor;
		glass_session_version(s, &major, &minor);
		snprintf(id, sizeof(id), "%016llx", (unsigned long long)Q->session_id);
		snprintf(fmt, sizeof(fmt), "%u.%u", major, minor);
		snprintf(rd, sizeof(rd), "glass-report %s (format %d.%d)", GLASS_VERSION,
			 GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR);
		struct glass_buf cmd = {0};
		if (glass_session_nprocs(s))
			put_command(&cmd, glass_proc_info(glass_session_proc(s, 0)), 0);
		bind_cstr(st, 1, id);
		bind_cstr(st, 2, glass_session_dir(s));
		bind_cstr(st, 3, fmt);
		bind_cstr(st, 4, rd);
		bind_cstr(st, 5, cmd.oom ? NULL : cmd.p);
		if (first != UINT64_MAX && last >= first) {
			bind_u64(st, 6, first);
			bind_u64(st, 7, last);
			bind_u64(st, 8, last - first);
		}
		sqlite3_bind_int64(st, 9, (sqlite3_int64)glass_session_nprocs(s));
		bind_u64(st, 10, nthreads);
		bind_u64(st, 11, Q->spans);
		sqlite3_bind_int64(st, 12, (sqlite3_int64)glass_session_nwarnings(s));
		step_done(Q, st, "inserting the session");
		sqlite3_finalize(st);
		glass_buf_free(&cmd);
	}
	st = prepare_insert(Q, "warnings", 3);
	for (size_t i = 0; st && i < glass_session_nwarnings(s); i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		bind_cstr(st, 2, "warning");
		bind_cstr(st, 3, glass_session_warning(s, i));
		step_done(Q, st, "inserting a warning");
	}
	for (size_t i = 0; st && i < glass_session_nnotices(s); i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
		bind_cstr(st, 2, "note");
		bind_cstr(st, 3, glass_session_notice(s, i));
		step_done(Q, st, "inserting a note");
	}
	sqlite3_finalize(st);
}

/* SQLite calls this every few thousand instructions while it builds the indexes. */
static int index_progress(void *pg)
{
	glass_progress_add(pg, 0);
	return 0;
}

static int write_views(struct sq *Q)
{
	struct glass_buf b = {0};
	glass_buf_puts(&b, spans_view_head);
	glass_buf_printf(&b, "%lld", (long long)Q->session_id);
	glass_buf_puts(&b, spans_view_tail);
	glass_buf_puts(&b, view_sql);
	glass_buf_put(&b, "", 1);
	int rc = b.oom ? -1 : exec_sql(Q, b.p);
	glass_buf_free(&b);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report sqlite [SESSION] [-o FILE] [--strict]\n"
	    "\n"
	    "Writes the session as an SQLite database, replacing FILE. The view spans has one\n"
	    "row per completed span (ids, trace, thread, kind, name, code location, times,\n"
	    "status, error, generator, OpenTelemetry attributes in columns and as JSON in\n"
	    "attrs); function_stats has calls, errors, total, self and p50/p90/p99 per\n"
	    "function, slowest first; endpoints, slow_queries, query_stats and errors report on\n"
	    "HTTP requests, database queries and exceptions; tables sessions, processes,\n"
	    "threads, code_objects, functions, span_data and warnings hold the data.\n"
	    "docs/report.md describes every column. Example:\n"
	    "\n"
	    "  sqlite3 glass.db 'select * from function_stats limit 10'\n"
	    "\n"
	    "  -o, --output FILE  the database to write (default glass.db); it is built as\n"
	    "                     FILE.tmp-PID and renamed into place when complete\n"
	    "      --strict       exit with status 3 when the session was read with warnings\n"
	    "  -h, --help         this text\n"
	    "\n%s",
	    report_exit_help);
}

static int open_db(struct sq *Q, const char *path)
{
	if (sqlite3_open_v2(path, &Q->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		report_error("cannot create %s: %s", path,
			     Q->db ? sqlite3_errmsg(Q->db) : "out of memory");
		return -1;
	}
	/* A scratch file until it is complete: no journal, no fsync, one writer. Memory: the
	 * page cache (GLASS_SQLITE_CACHE_KIB) and, while an index is sorted, up to that much
	 * more per sorter thread (larger sorts spill to temporary files); a second core may sort.
	 */
	char sql[320];
	snprintf(sql, sizeof(sql),
		 "PRAGMA page_size = 8192; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
		 "PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -%d; PRAGMA threads = 1;",
		 GLASS_SQLITE_CACHE_KIB);
	return exec_sql(Q, sql);
}

/* Threads are read in the order of their span ids as SQLite sorts them (signed): each thread's
 * rows then go at the end of span_data. */
struct stream_ref {
	size_t pi, ti;
	int64_t key;
};

static int stream_ref_cmp(const void *a, const void *b)
{
	const struct stream_ref *x = a, *y = b;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* The session's threads in the order their span ids sort in SQLite (*n of them). */
static struct stream_ref *stream_order(struct glass_session *s, size_t *n)
{
	size_t nstreams = 0, nprocs = glass_session_nprocs(s);
	const uint32_t *tidx;
	for (size_t pi = 0; pi < nprocs; pi++)
		nstreams += glass_proc_threads(glass_session_proc(s, pi), &tidx);
	struct stream_ref *order = malloc((nstreams ? nstreams : 1) * sizeof(*order));
	if (!order)
		return NULL;
	nstreams = 0;
	for (size_t pi = 0; pi < nprocs; pi++) {
		size_t nt = glass_proc_threads(glass_session_proc(s, pi), &tidx);
		for (size_t ti = 0; ti < nt; ti++) {
			struct glass_span_ids ids = glass_span_ids_for(s, pi, ti);
			order[nstreams++] =
			    (struct stream_ref){pi, ti, (int64_t)(ids.stream << ids.seq_bits)};
		}
	}
	qsort(order, nstreams, sizeof(*order), stream_ref_cmp);
	*n = nstreams;
	return order;
}

/* The code definitions of process p: its functions rows, looked up as its spans come. */
static void enter_process(struct sq *Q, struct glass_proc *p)
{
	Q->codes = glass_proc_codes(p, &Q->ncodes);
	free(Q->cache);
	Q->cache = malloc((Q->ncodes ? Q->ncodes : 1) * sizeof(long));
	if (!Q->cache)
		Q->ncodes = 0;
	for (size_t c = 0; c < Q->ncodes; c++)
		Q->cache[c] = -1;
}

/* The time the session covers and how many threads were read. */
struct sq_span {
	uint64_t first, last, nthreads;
};

/* One thread's spans (in span id order) and its threads row. */
static void write_stream(struct sq *Q, struct glass_session *s, const struct stream_ref *r,
			 sqlite3_stmt *ins_thread, struct sq_span *T, struct glass_progress *pg)
{
	struct glass_proc *p = glass_session_proc(s, r->pi);
	const uint32_t *tidx;
	glass_proc_threads(p, &tidx);
	struct glass_span_ids ids = glass_span_ids_for(s, r->pi, r->ti);
	struct glass_spans *b = NULL;
	uint64_t before = Q->spans;
	Q->stream = ids.stream;
	if (Q->heap)
		reorder_start(Q->heap, ids.stream << ids.seq_bits | 1);
	int run = report_run_thread(p, tidx[r->ti], ids, NULL, on_span, Q, &b, pg);
	reorder_flush(Q);
	if (run < 0 || !b)
		return;
	write_thread(Q, ins_thread, p, tidx[r->ti], b, Q->spans - before);
	const struct glass_span_counts *cnt = glass_spans_counts(b);
	T->nthreads++;
	if (cnt->first_ns && cnt->first_ns < T->first)
		T->first = cnt->first_ns;
	if (cnt->last_ns > T->last)
		T->last = cnt->last_ns;
	glass_spans_free(b);
}

/* The processes rows, then every thread's spans; 0, or -1 when out of memory. */
static int write_streams(struct sq *Q, struct glass_session *s, sqlite3_stmt *ins_thread,
			 struct sq_span *T)
{
	for (size_t pi = 0; pi < glass_session_nprocs(s) && !Q->failed; pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const struct glass_proc_info *in = glass_proc_info(p);
		write_process(Q, p);
		if (in->start_unix_ns && in->start_unix_ns < T->first)
			T->first = in->start_unix_ns;
		if (in->end_unix_ns > T->last)
			T->last = in->end_unix_ns;
	}
	size_t nstreams;
	struct stream_ref *order = stream_order(s, &nstreams);
	if (!order) {
		report_error("out of memory");
		return -1;
	}
	struct glass_progress *pg = report_progress(s, "sqlite");
	size_t cur = SIZE_MAX;
	for (size_t k = 0; k < nstreams && !Q->failed; k++) {
		if (order[k].pi != cur) {
			cur = order[k].pi;
			enter_process(Q, glass_session_proc(s, cur));
		}
		write_stream(Q, s, &order[k], ins_thread, T, pg);
	}
	free(order);
	glass_progress_end(pg);
	return 0;
}

/* The rows after the spans, the indexes and views; 0 or -1 (the reason printed). */
static int finish_db(struct sq *Q, struct glass_session *s, const struct sq_span *T)
{
	if (!Q->failed)
		write_functions(Q);
	if (!Q->failed)
		write_session_rows(Q, s, T->first, T->last, T->nthreads);
	if (!Q->failed && res_sqlite(Q->db, glass_session_dir(s)) < 0)
		Q->failed = 1;
	if (!Q->failed && native_sqlite(Q->db, s) != 0)
		sq_error(Q, "samples, native_frames, crashes");
	struct glass_progress *pg = glass_progress_start("sqlite: building indexes", 0);
	if (pg)
		sqlite3_progress_handler(Q->db, 20000, index_progress, pg);
	int rc = Q->failed || exec_sql(Q, index_sql) < 0 || write_views(Q) < 0 ||
			 exec_sql(Q, "PRAGMA analysis_limit = 1000; ANALYZE; COMMIT") < 0
		     ? -1
		     : 0;
	sqlite3_progress_handler(Q->db, 0, NULL, NULL); /* pg goes now */
	glass_progress_end(pg);
	return rc;
}

/* Builds the database in tmp; GLASS_EXIT_OK or GLASS_EXIT_OUTPUT. */
static int write_db(struct sq *Q, struct glass_session *s, const char *tmp)
{
	sqlite3_stmt *ins_thread = NULL;
	int rc = GLASS_EXIT_OUTPUT;
	if (open_db(Q, tmp) < 0 || exec_sql(Q, "BEGIN") < 0 || exec_sql(Q, schema_sql) < 0)
		goto out;
	Q->ins_span = prepare_insert(Q, "span_data", D_COUNT);
	Q->ins_op = prepare_insert(Q, "span_ops", O_COUNT);
	Q->ins_err = prepare_insert(Q, "span_errors", 3);
	Q->ins_args = prepare_insert(Q, "span_args", 3);
	Q->ins_event = prepare_insert(Q, "events", 10);
	ins_thread = prepare_insert(Q, "threads", 13);
	if (!Q->ins_span || !Q->ins_op || !Q->ins_err || !Q->ins_args || !Q->ins_event ||
	    !ins_thread)
		goto out;
	Q->row_status = -1;
	Q->heap = malloc(sizeof(*Q->heap));
	struct sq_span T = {.first = UINT64_MAX};
	if (write_streams(Q, s, ins_thread, &T) < 0 || finish_db(Q, s, &T) < 0)
		goto out;
	rc = GLASS_EXIT_OK;
	if (Q->oom)
		report_error("warning: out of memory: some function statistics are missing");
out:
	sqlite3_finalize(ins_thread);
	sqlite3_finalize(Q->ins_span);
	sqlite3_finalize(Q->ins_op);
	sqlite3_finalize(Q->ins_err);
	sqlite3_finalize(Q->ins_args);
	sqlite3_finalize(Q->ins_event);
	if (Q->db && sqlite3_close(Q->db) != SQLITE_OK && !rc) {
		report_error("cannot write %s: %s", Q->output, sqlite3_errmsg(Q->db));
		rc = GLASS_EXIT_OUTPUT;
	}
	return rc;
}

static void sq_free(struct sq *Q)
{
	free(Q->cache);
	free(Q->heap);
	free_fn_rows(Q->ft);
	glass_ftable_free(Q->ft);
	glass_buf_free(&Q->attrs);
	glass_buf_free(&Q->query);
	glass_buf_free(&Q->key);
}

int command_sqlite(int argc, char **argv)
{
	const struct report_cli cli = {
	    .name = "sqlite", .usage = usage, .output = 1, .default_output = "glass.db"};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	const char *output = a.output;
	if (!*output || !strcmp(output, "-")) {
		report_error("sqlite needs a file to write (-o FILE), not standard output");
		return GLASS_EXIT_USAGE;
	}
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	/* built as FILE.tmp-PID, renamed into place when complete */
	struct sq Q = {.output = output, .session_id = glass_session_id(s)};
	size_t plen = strlen(output) + 32;
	char *tmp = malloc(plen);
	int rc = GLASS_EXIT_OUTPUT;
	Q.ft = glass_ftable_new();
	if (!tmp || !Q.ft) {
		report_error("out of memory");
	} else {
		snprintf(tmp, plen, "%s.tmp-%ld", output, (long)getpid());
		unlink(tmp);
		rc = write_db(&Q, s, tmp);
	}
	if (!rc && rename(tmp, output) < 0) {
		report_error("cannot write %s: %s", output, strerror(errno));
		rc = GLASS_EXIT_OUTPUT;
	}
	if (rc && tmp)
		unlink(tmp);
	free(tmp);
	sq_free(&Q);
	return report_finish(&a, s, rc);
}
