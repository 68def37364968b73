/* preload/capture-libpq.c — PostgreSQL queries through libpq (libpq.so.5: psycopg2, the
 * PostgreSQL ODBC driver, anything linking it).
 *
 * Synchronous calls (PQexec, PQexecParams, PQprepare, PQexecPrepared) are one span each, from
 * the call to its return, with what the PGresult says: rows (PQntuples) of a result set, rows
 * changed (PQcmdTuples) of a command, SQLSTATE and the primary message of an error. The
 * asynchronous ones (PQsendQuery, PQsendQueryParams, PQsendPrepare, PQsendQueryPrepared: psycopg2's
 * green and async modes) open a span that PQgetResult ends when it returns NULL, the end of the
 * query's results, or at the first error result. Only the outermost layer is recorded: PQexec
 * runs PQsendQuery and PQgetResult through the PLT, inside our PQexec.
 *
 * PQprepare/PQsendPrepare keep the statement's text under (connection, name) in the statement
 * table, so PQexecPrepared can name what it runs; PQfinish forgets them. Queries sent in
 * pipeline mode are not recorded (one span per connection is open at a time).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture-db.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;

/* ExecStatusType (libpq-fe.h) */
#define PGRES_EMPTY_QUERY      0
#define PGRES_COMMAND_OK       1
#define PGRES_TUPLES_OK	       2
#define PGRES_BAD_RESPONSE     5
#define PGRES_FATAL_ERROR      7
#define PGRES_SINGLE_TUPLE     9
#define PGRES_PIPELINE_ABORTED 11
/* postgres_ext.h */
#define PG_DIAG_SQLSTATE	'C'
#define PG_DIAG_MESSAGE_PRIMARY 'M'

enum {
	F_EXEC,
	F_EXECPARAMS,
	F_PREPARE,
	F_EXECPREPARED,
	F_SENDQUERY,
	F_SENDQUERYPARAMS,
	F_SENDPREPARE,
	F_SENDQUERYPREPARED,
	F_GETRESULT,
	F_FINISH,
	F_RESULTSTATUS,
	F_NTUPLES,
	F_CMDTUPLES,
	F_RESULTERRORFIELD,
	F_RESULTERRORMESSAGE,
	F_ERRORMESSAGE,
	F_HOST,
	F_PORT,
	F_DB,
	F_PIPELINESTATUS,
	F_N
};

static const char *const names[F_N] = {
    "PQexec",
    "PQexecParams",
    "PQprepare",
    "PQexecPrepared",
    "PQsendQuery",
    "PQsendQueryParams",
    "PQsendPrepare",
    "PQsendQueryPrepared",
    "PQgetResult",
    "PQfinish",
    "PQresultStatus",
    "PQntuples",
    "PQcmdTuples",
    "PQresultErrorField",
    "PQresultErrorMessage",
    "PQerrorMessage",
    "PQhost",
    "PQport",
    "PQdb",
    "PQpipelineStatus",
};
static const char *const sonames[] = {"libpq.so.5", NULL};
static struct db_lib lib = {.names = names, .nnames = F_N, .sonames = sonames, .driver = "libpq"};

typedef PGresult *(*exec_fn)(PGconn *, const char *);
typedef PGresult *(*execparams_fn)(PGconn *, const char *, int, const Oid *, const char *const *,
				   const int *, const int *, int);
typedef PGresult *(*prepare_fn)(PGconn *, const char *, const char *, int, const Oid *);
typedef PGresult *(*execprepared_fn)(PGconn *, const char *, int, const char *const *, const int *,
				     const int *, int);
typedef int (*sendquery_fn)(PGconn *, const char *);
typedef int (*sendqueryparams_fn)(PGconn *, const char *, int, const Oid *, const char *const *,
				  const int *, const int *, int);
typedef int (*sendprepare_fn)(PGconn *, const char *, const char *, int, const Oid *);
typedef int (*sendqueryprepared_fn)(PGconn *, const char *, int, const char *const *, const int *,
				    const int *, int);
typedef PGresult *(*getresult_fn)(PGconn *);
typedef void (*finish_fn)(PGconn *);
typedef int (*res_int_fn)(const PGresult *);
typedef char *(*res_str_fn)(PGresult *);
typedef char *(*res_field_fn)(const PGresult *, int);
typedef char *(*conn_str_fn)(const PGconn *);
typedef int (*conn_int_fn)(const PGconn *);

#define FN(a, i, type) ((type)(a)->fn[i])

/* ---- what a span says ---------------------------------------------------------------------- */

/* The key of a prepared statement: the connection and the name, odd (never a pointer). */
static uintptr_t stmt_key(const PGconn *conn, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)conn;
	for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h |= 1;
	return h < 3 ? 3 : (uintptr_t)h;
}

static void begin_attrs(const struct db_api *a, const PGconn *conn, struct db_begin *b)
{
	b->system = "postgresql";
	b->driver = a->driver;
	const char *h = a->fn[F_HOST] ? FN(a, F_HOST, conn_str_fn)(conn) : NULL;
	const char *p = a->fn[F_PORT] ? FN(a, F_PORT, conn_str_fn)(conn) : NULL;
	const char *d = a->fn[F_DB] ? FN(a, F_DB, conn_str_fn)(conn) : NULL;
	if (h) {
		b->host = h;
		b->host_len = strlen(h);
	}
	if (p && p[0])
		b->port = atoi(p);
	if (d) {
		b->dbname = d;
		b->dbname_len = strlen(d);
	}
}

static int is_error(int st)
{
	return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_PIPELINE_ABORTED;
}

/* The error of a result (res NULL: the connection's message). */
static void result_error(const struct db_api *a, const PGconn *conn, const PGresult *res,
			 struct db_end *e)
{
	e->error = 1;
	if (res) {
		e->status = a->fn[F_RESULTERRORFIELD]
				? FN(a, F_RESULTERRORFIELD, res_field_fn)(res, PG_DIAG_SQLSTATE)
				: NULL;
		/* the primary message only: the full one quotes the statement ("LINE 1: ...") */
		e->msg = a->fn[F_RESULTERRORFIELD]
			     ? FN(a, F_RESULTERRORFIELD, res_field_fn)(res, PG_DIAG_MESSAGE_PRIMARY)
			     : NULL;
		if (!e->msg && a->fn[F_RESULTERRORMESSAGE])
			e->msg = FN(a, F_RESULTERRORMESSAGE, res_field_fn)(res, 0);
	} else if (a->fn[F_ERRORMESSAGE]) {
		e->msg = FN(a, F_ERRORMESSAGE, conn_str_fn)(conn);
	}
	e->msg_len = e->msg ? strlen(e->msg) : 0;
}

/* Rows of one result into *returned / *affected (left alone when it has none). */
static void result_rows(const struct db_api *a, PGresult *res, int st, int64_t *returned,
			int64_t *affected)
{
	if ((st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE) && a->fn[F_NTUPLES])
		*returned = (*returned < 0 ? 0 : *returned) + FN(a, F_NTUPLES, res_int_fn)(res);
	if (st == PGRES_COMMAND_OK && a->fn[F_CMDTUPLES]) {
		const char *n = FN(a, F_CMDTUPLES, res_str_fn)(res);
		if (n && n[0] >= '0' && n[0] <= '9')
			*affected = strtoll(n, NULL, 10);
	}
}

static int status_of(const struct db_api *a, const PGresult *res)
{
	return res && a->fn[F_RESULTSTATUS] ? FN(a, F_RESULTSTATUS, res_int_fn)(res) : -1;
}

static const struct glass_sql_info execute_info = {"EXECUTE", ""};

/* ---- prepared statements --------------------------------------------------------------------

 * The text of a statement prepared on a connection, kept in a slot of its own (stmt_key) for
 * the executions that name it. */

/* Copies the text and info of the statement prepared on conn as name (text_len + 1 bytes: at
 * most max_statement + 1); 0 when it is not known. */
static int prepared_text(const PGconn *conn, const char *name, char *text, uint32_t *len,
			 struct glass_sql_info *info)
{
	int i = db_find(stmt_key(conn, name));
	if (i < 0 || !db_slot(i)->has_text)
		return 0;
	const struct db_slot *p = db_slot(i);
	memcpy(text, p->text, p->text_len + 1);
	*len = p->text_len;
	*info = p->info;
	return 1;
}

/* Keeps text (len bytes, NUL-terminated; has_text 0: none) as the statement prepared on conn
 * as name, unless its slot would be `except` (the connection's own). */
static void remember_prepared(const PGconn *conn, const char *name, const char *text, uint32_t len,
			      const struct glass_sql_info *info, int has_text, int except)
{
	int k = db_claim(stmt_key(conn, name));
	if (k < 0 || k == except)
		return;
	struct db_slot *p = db_slot(k);
	memset(p, 0, sizeof(*p));
	p->family = DB_PG;
	p->flags = DB_F_PREPARE;
	p->conn = (uintptr_t)conn;
	memcpy(p->text, text, len + 1); /* len <= max_statement < db_text_cap() */
	p->text_len = len;
	p->info = *info;
	p->has_text = (uint8_t)has_text;
}

/* ---- synchronous calls ---------------------------------------------------------------------- */

/* One span for a call that returned res. query: the statement, or NULL for a prepared one
 * named name. prefix "PREPARE ": the call prepared query as name. */
static void sync_call(const struct db_api *a, PGconn *conn, const char *query, const char *name,
		      const char *prefix, PGresult *res, uint64_t t0)
{
	int saved = errno;
	char text[GLASS_MAX_ATTR_STR + 1];
	struct glass_sql_info info;
	const char *t = NULL;
	size_t tl = 0;
	const struct glass_sql_info *in = &execute_info;
	if (query) {
		tl = glass_cap_sql_text(query, strlen(query), 0, text, sizeof(text), &info);
		t = text;
		in = &info;
	} else {
		uint32_t len;
		if (prepared_text(conn, name, text, &len, &info)) {
			tl = len;
			t = text;
			in = &info;
		}
	}
	struct db_begin b = {.text = t, .text_len = tl, .info = in, .prefix = prefix};
	begin_attrs(a, conn, &b);
	uint64_t op = db_begin(&b, t0);
	int st = status_of(a, res);
	if (op) {
		struct db_end e;
		db_end_init(&e);
		if (!res || is_error(st))
			result_error(a, conn, res, &e);
		else if (!prefix)
			result_rows(a, res, st, &e.returned, &e.affected);
		e.norm = t;
		e.norm_len = tl;
		db_end(op, &e);
	}
	if (prefix && query && res && !is_error(st)) /* remember the prepared text */
		remember_prepared(conn, name, text, (uint32_t)tl, &info, 1, -1);
	errno = saved;
}

DB_EXPORT PGresult *PQexec(PGconn *conn, const char *query)
{
	DB_WRAP_BEGIN(&lib, F_EXEC, exec_fn, NULL)
	PGresult *r = f(conn, query);
	DB_WRAP_END()
	if (!skip && query)
		sync_call(a, conn, query, NULL, NULL, r, t0);
	return r;
}

DB_EXPORT PGresult *PQexecParams(PGconn *conn, const char *command, int n, const Oid *types,
				 const char *const *values, const int *lengths, const int *formats,
				 int result_format)
{
	DB_WRAP_BEGIN(&lib, F_EXECPARAMS, execparams_fn, NULL)
	PGresult *r = f(conn, command, n, types, values, lengths, formats, result_format);
	DB_WRAP_END()
	if (!skip && command)
		sync_call(a, conn, command, NULL, NULL, r, t0);
	return r;
}

DB_EXPORT PGresult *PQprepare(PGconn *conn, const char *name, const char *query, int n,
			      const Oid *types)
{
	DB_WRAP_BEGIN(&lib, F_PREPARE, prepare_fn, NULL)
	PGresult *r = f(conn, name, query, n, types);
	DB_WRAP_END()
	if (!skip && query)
		sync_call(a, conn, query, name, "PREPARE ", r, t0);
	return r;
}

DB_EXPORT PGresult *PQexecPrepared(PGconn *conn, const char *name, int n, const char *const *values,
				   const int *lengths, const int *formats, int result_format)
{
	DB_WRAP_BEGIN(&lib, F_EXECPREPARED, execprepared_fn, NULL)
	PGresult *r = f(conn, name, n, values, lengths, formats, result_format);
	DB_WRAP_END()
	if (!skip)
		sync_call(a, conn, NULL, name, NULL, r, t0);
	return r;
}

/* ---- asynchronous calls ------------------------------------------------------------------- */

/* A query sent (ok) or not: opens the connection's span, or records the failed send. */
static void sent(const struct db_api *a, PGconn *conn, int ok, const char *query, const char *name,
		 const char *prefix, uint64_t t0)
{
	int saved = errno;
	if (ok && a->fn[F_PIPELINESTATUS] && FN(a, F_PIPELINESTATUS, conn_int_fn)(conn) != 0)
		goto out; /* pipeline mode: several queries in flight, not followed */
	if (!ok) {
		sync_call(a, conn, query, name, prefix, NULL, t0);
		goto out;
	}
	int i = db_claim((uintptr_t)conn);
	if (i < 0)
		goto out;
	struct db_slot *s = db_slot(i);
	if (s->op && db_mine(s)) { /* the previous query's results were never all read */
		struct db_end e;
		db_end_init(&e);
		db_end(s->op, &e);
	}
	memset(s, 0, sizeof(*s));
	s->family = DB_PG;
	s->conn = (uintptr_t)conn;
	const struct glass_sql_info *in = &execute_info;
	if (query) {
		s->text_len = (uint32_t)glass_cap_sql_text(query, strlen(query), 0, s->text,
							   db_text_cap(), &s->info);
		s->has_text = 1;
		in = &s->info;
	} else if (prepared_text(conn, name, s->text, &s->text_len, &s->info)) {
		s->has_text = 1;
		in = &s->info;
	}
	if (prefix) {			 /* PQsendPrepare: remember the text under its name too */
		s->flags = DB_F_PREPARE; /* (on the connection's slot: results carry no rows) */
		remember_prepared(conn, name, s->text, s->text_len, &s->info, s->has_text, i);
	}
	struct db_begin b = {.text = s->has_text ? s->text : NULL,
			     .text_len = s->text_len,
			     .info = in,
			     .prefix = prefix};
	begin_attrs(a, conn, &b);
	uint64_t op = db_begin(&b, t0);
	if (op)
		db_own(s, op, t0);
	else
		db_drop(i);
out:
	errno = saved;
}

DB_EXPORT int PQsendQuery(PGconn *conn, const char *query)
{
	DB_WRAP_BEGIN(&lib, F_SENDQUERY, sendquery_fn, 0)
	int ok = f(conn, query);
	DB_WRAP_END()
	if (!skip && query)
		sent(a, conn, ok, query, NULL, NULL, t0);
	return ok;
}

DB_EXPORT int PQsendQueryParams(PGconn *conn, const char *command, int n, const Oid *types,
				const char *const *values, const int *lengths, const int *formats,
				int result_format)
{
	DB_WRAP_BEGIN(&lib, F_SENDQUERYPARAMS, sendqueryparams_fn, 0)
	int ok = f(conn, command, n, types, values, lengths, formats, result_format);
	DB_WRAP_END()
	if (!skip && command)
		sent(a, conn, ok, command, NULL, NULL, t0);
	return ok;
}

DB_EXPORT int PQsendPrepare(PGconn *conn, const char *name, const char *query, int n,
			    const Oid *types)
{
	DB_WRAP_BEGIN(&lib, F_SENDPREPARE, sendprepare_fn, 0)
	int ok = f(conn, name, query, n, types);
	DB_WRAP_END()
	if (!skip && query)
		sent(a, conn, ok, query, name, "PREPARE ", t0);
	return ok;
}

DB_EXPORT int PQsendQueryPrepared(PGconn *conn, const char *name, int n, const char *const *values,
				  const int *lengths, const int *formats, int result_format)
{
	DB_WRAP_BEGIN(&lib, F_SENDQUERYPREPARED, sendqueryprepared_fn, 0)
	int ok = f(conn, name, n, values, lengths, formats, result_format);
	DB_WRAP_END()
	if (!skip)
		sent(a, conn, ok, NULL, name, NULL, t0);
	return ok;
}

/* Each result of the query in flight adds its rows; an error or the final NULL ends it. */
static void got(const struct db_api *a, PGconn *conn, PGresult *res)
{
	int i = db_find((uintptr_t)conn);
	if (i < 0)
		return;
	struct db_slot *s = db_slot(i);
	if (!s->op || s->family != DB_PG)
		return;
	int saved = errno;
	if (!db_mine(s)) { /* begun on another thread: not ours to end */
		if (!res)
			s->op = 0;
		goto out;
	}
	int st = status_of(a, res);
	struct db_end e;
	db_end_init(&e);
	if (res && !is_error(st)) {
		if (!(s->flags & DB_F_PREPARE)) {
			int64_t ret = (s->flags & DB_F_RESULT) ? s->rows : -1;
			result_rows(a, res, st, &ret, &s->affected);
			if (ret >= 0) {
				s->rows = ret;
				s->flags |= DB_F_RESULT;
			}
		}
		goto out;
	}
	if (res)
		result_error(a, conn, res, &e);
	if (s->flags & DB_F_RESULT)
		e.returned = s->rows;
	e.affected = e.error ? -1 : s->affected;
	e.norm = s->has_text ? s->text : NULL;
	e.norm_len = s->text_len;
	db_end(s->op, &e);
	s->op = 0;
	db_drop(i);
out:
	errno = saved;
}

DB_EXPORT PGresult *PQgetResult(PGconn *conn)
{
	DB_WRAP_BEGIN(&lib, F_GETRESULT, getresult_fn, NULL)
	PGresult *r = f(conn);
	DB_WRAP_END()
	if (!skip)
		got(a, conn, r);
	return r;
}

DB_EXPORT void PQfinish(PGconn *conn)
{
	const struct db_api *a = db_api_for(&lib, DB_CALLER);
	finish_fn f = a ? (finish_fn)a->fn[F_FINISH] : NULL;
	if (!f)
		return;
	f(conn);
	int saved = errno;
	db_drop_conn((uintptr_t)conn); /* its prepared statements and query in flight */
	errno = saved;
}
