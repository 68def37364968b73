/* preload/capture-mysql.c — MySQL and MariaDB queries through MariaDB Connector/C
 * (libmariadb.so.3: python3-mysqldb) or Oracle's libmysqlclient.so.21, which share the API.
 *
 * A span is one query: mysql_real_query / mysql_query, or mysql_send_query followed by
 * mysql_read_query_result, or mysql_stmt_execute of a statement mysql_stmt_prepare gave text to
 * (normalised once, at prepare). A query without a result set ends when its call returns, with
 * mysql_affected_rows. One with a result set ends when its rows arrive: at mysql_store_result
 * (mysql_num_rows), or for mysql_use_result when mysql_fetch_row returns NULL or the result is
 * freed (rows counted one by one); prepared statements likewise at mysql_stmt_store_result or
 * at the end of mysql_stmt_fetch. Only the first result of a multi-statement query is counted.
 * Errors: mysql_errno, mysql_sqlstate and mysql_error (its "near '...'" quote of the statement
 * is normalised under the default policy). The server is asked nothing: host, port, schema
 * and server type come from the connection (mariadb_get_info, else mysql_get_host_info).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture-db.h"

typedef struct st_mysql MYSQL;
typedef struct st_mysql_res MYSQL_RES;
typedef struct st_mysql_stmt MYSQL_STMT;
typedef char my_bool;
typedef unsigned long long my_ulonglong;
typedef char **MYSQL_ROW;

#define MYSQL_NO_DATA	     100
#define MYSQL_DATA_TRUNCATED 101
/* enum mariadb_value (mysql.h) */
#define MARIADB_CONNECTION_HOST	       10
#define MARIADB_CONNECTION_PORT	       12
#define MARIADB_CONNECTION_SCHEMA      15
#define MARIADB_CONNECTION_SERVER_TYPE 16
#define MARIADB_CONNECTION_UNIX_SOCKET 26

enum {
	F_REAL_QUERY, /* identifies the library */
	F_QUERY,
	F_SEND_QUERY,
	F_READ_QUERY_RESULT,
	F_STORE_RESULT,
	F_USE_RESULT,
	F_FETCH_ROW,
	F_FREE_RESULT,
	F_CLOSE,
	F_STMT_INIT,
	F_STMT_PREPARE,
	F_STMT_EXECUTE,
	F_STMT_STORE_RESULT,
	F_STMT_FETCH,
	F_STMT_FREE_RESULT,
	F_STMT_RESET,
	F_STMT_CLOSE,
	F_FIELD_COUNT,
	F_AFFECTED_ROWS,
	F_NUM_ROWS,
	F_ERRNO,
	F_ERROR,
	F_SQLSTATE,
	F_STMT_FIELD_COUNT,
	F_STMT_AFFECTED_ROWS,
	F_STMT_NUM_ROWS,
	F_STMT_ERRNO,
	F_STMT_ERROR,
	F_STMT_SQLSTATE,
	F_GET_SERVER_INFO,
	F_GET_HOST_INFO,
	F_MARIADB_GET_INFO,
	F_N
};

static const char *const names[F_N] = {
    "mysql_real_query",
    "mysql_query",
    "mysql_send_query",
    "mysql_read_query_result",
    "mysql_store_result",
    "mysql_use_result",
    "mysql_fetch_row",
    "mysql_free_result",
    "mysql_close",
    "mysql_stmt_init",
    "mysql_stmt_prepare",
    "mysql_stmt_execute",
    "mysql_stmt_store_result",
    "mysql_stmt_fetch",
    "mysql_stmt_free_result",
    "mysql_stmt_reset",
    "mysql_stmt_close",
    "mysql_field_count",
    "mysql_affected_rows",
    "mysql_num_rows",
    "mysql_errno",
    "mysql_error",
    "mysql_sqlstate",
    "mysql_stmt_field_count",
    "mysql_stmt_affected_rows",
    "mysql_stmt_num_rows",
    "mysql_stmt_errno",
    "mysql_stmt_error",
    "mysql_stmt_sqlstate",
    "mysql_get_server_info",
    "mysql_get_host_info",
    "mariadb_get_info",
};
static const char *const sonames[] = {"libmariadb.so.3", "libmysqlclient.so.21",
				      "libmysqlclient.so.18", NULL};
static struct db_lib lib = {
    .names = names, .nnames = F_N, .sonames = sonames, .driver = "libmariadb"};

typedef int (*real_query_fn)(MYSQL *, const char *, unsigned long);
typedef int (*query_fn)(MYSQL *, const char *);
typedef my_bool (*read_result_fn)(MYSQL *);
typedef MYSQL_RES *(*store_fn)(MYSQL *);
typedef MYSQL_ROW (*fetch_row_fn)(MYSQL_RES *);
typedef void (*free_result_fn)(MYSQL_RES *);
typedef void (*close_fn)(MYSQL *);
typedef MYSQL_STMT *(*stmt_init_fn)(MYSQL *);
typedef int (*stmt_prepare_fn)(MYSQL_STMT *, const char *, unsigned long);
typedef int (*stmt_int_fn)(MYSQL_STMT *);
typedef my_bool (*stmt_bool_fn)(MYSQL_STMT *);
typedef unsigned int (*conn_uint_fn)(MYSQL *);
typedef my_ulonglong (*conn_ull_fn)(MYSQL *);
typedef my_ulonglong (*res_ull_fn)(MYSQL_RES *);
typedef const char *(*conn_str_fn)(MYSQL *);
typedef unsigned int (*stmt_uint_fn)(MYSQL_STMT *);
typedef my_ulonglong (*stmt_ull_fn)(MYSQL_STMT *);
typedef const char *(*stmt_str_fn)(MYSQL_STMT *);
typedef my_bool (*get_info_fn)(MYSQL *, int, void *);

#define FN(a, i, type) ((type)(a)->fn[i])
#define HAVE(a, i)     ((a)->fn[i] != NULL)

/* ---- what a span says ---------------------------------------------------------------------- */

static void begin_attrs(const struct db_api *a, MYSQL *m, struct db_begin *b, char *host,
			size_t cap)
{
	b->driver = a->driver;
	b->system = "mysql";
	const char *type = NULL, *h = NULL, *schema = NULL;
	unsigned int port = 0;
	if (m && HAVE(a, F_MARIADB_GET_INFO)) {
		get_info_fn gi = FN(a, F_MARIADB_GET_INFO, get_info_fn);
		if (gi(m, MARIADB_CONNECTION_SERVER_TYPE, &type))
			type = NULL;
		if (gi(m, MARIADB_CONNECTION_HOST, &h))
			h = NULL;
		if (gi(m, MARIADB_CONNECTION_PORT, &port))
			port = 0;
		if (gi(m, MARIADB_CONNECTION_SCHEMA, &schema))
			schema = NULL;
		const char *sock = NULL;
		if (!gi(m, MARIADB_CONNECTION_UNIX_SOCKET, &sock) && sock && sock[0] && h &&
		    !strcmp(h, "localhost"))
			port = 0;		    /* a Unix socket: no port */
	} else if (m && HAVE(a, F_GET_HOST_INFO)) { /* "127.0.0.1 via TCP/IP" */
		const char *hi = FN(a, F_GET_HOST_INFO, conn_str_fn)(m);
		const char *via = hi ? strstr(hi, " via ") : NULL;
		if (via && (size_t)(via - hi) < cap) {
			memcpy(host, hi, (size_t)(via - hi));
			host[via - hi] = 0;
			h = host;
		}
	}
	if (!type && m && HAVE(a, F_GET_SERVER_INFO)) { /* "10.11.6-MariaDB-0+deb12u1" */
		const char *v = FN(a, F_GET_SERVER_INFO, conn_str_fn)(m);
		type = v && strstr(v, "MariaDB") ? "MariaDB" : NULL;
	}
	if (type && !strcmp(type, "MariaDB"))
		b->system = "mariadb";
	if (h) {
		b->host = h;
		b->host_len = strlen(h);
	}
	b->port = (int)port;
	if (schema) {
		b->dbname = schema;
		b->dbname_len = strlen(schema);
	}
}

static void conn_error(const struct db_api *a, MYSQL *m, struct db_end *e, char *code, size_t cap)
{
	e->error = 1;
	unsigned n = HAVE(a, F_ERRNO) ? FN(a, F_ERRNO, conn_uint_fn)(m) : 0;
	snprintf(code, cap, "%u", n);
	e->etype = code;
	e->status = HAVE(a, F_SQLSTATE) ? FN(a, F_SQLSTATE, conn_str_fn)(m) : NULL;
	e->msg = HAVE(a, F_ERROR) ? FN(a, F_ERROR, conn_str_fn)(m) : NULL;
	e->msg_len = e->msg ? strlen(e->msg) : 0;
}

static void stmt_error(const struct db_api *a, MYSQL_STMT *st, struct db_end *e, char *code,
		       size_t cap)
{
	e->error = 1;
	unsigned n = HAVE(a, F_STMT_ERRNO) ? FN(a, F_STMT_ERRNO, stmt_uint_fn)(st) : 0;
	snprintf(code, cap, "%u", n);
	e->etype = code;
	e->status = HAVE(a, F_STMT_SQLSTATE) ? FN(a, F_STMT_SQLSTATE, stmt_str_fn)(st) : NULL;
	e->msg = HAVE(a, F_STMT_ERROR) ? FN(a, F_STMT_ERROR, stmt_str_fn)(st) : NULL;
	e->msg_len = e->msg ? strlen(e->msg) : 0;
}

/* Ends s's open query (rows: returned rows, -1: none counted). */
static void end_open(struct db_slot *s, int64_t rows)
{
	if (s->op && db_mine(s)) {
		struct db_end e;
		db_end_init(&e);
		e.returned = rows;
		db_end(s->op, &e);
	}
	s->op = 0;
}

/* ---- queries on a connection ---------------------------------------------------------------- */

/*
 * A query was sent (its call returned rc: nonzero is an error). done: the reply was read (not
 * mysql_send_query alone). Opens the connection's span, or records the whole query.
 */
static void queried(const struct db_api *a, MYSQL *m, const char *q, size_t len, int rc, int done,
		    uint64_t t0)
{
	int saved = errno;
	char host[256], code[16];
	int i = db_claim((uintptr_t)m);
	struct db_slot *s = i >= 0 ? db_slot(i) : NULL;
	char buf[GLASS_MAX_ATTR_STR + 1];
	struct glass_sql_info info;
	const char *text = buf;
	size_t tl;
	if (s) {
		end_open(s, -1); /* the previous result was never read */
		memset(s, 0, sizeof(*s));
		s->family = DB_MYSQL;
		s->conn = (uintptr_t)m;
		s->text_len = (uint32_t)glass_cap_sql_text(q, len, GLASS_SQL_MYSQL, s->text,
							   db_text_cap(), &s->info);
		s->has_text = 1;
		text = s->text;
		tl = s->text_len;
		info = s->info;
	} else {
		tl = glass_cap_sql_text(q, len, GLASS_SQL_MYSQL, buf, sizeof(buf), &info);
	}
	struct db_begin b = {.text = text, .text_len = tl, .info = &info};
	begin_attrs(a, m, &b, host, sizeof(host));
	uint64_t op = db_begin(&b, t0);
	if (!op)
		goto out;
	struct db_end e;
	db_end_init(&e);
	if (rc) {
		conn_error(a, m, &e, code, sizeof(code));
		e.norm = text;
		e.norm_len = tl;
	} else if (!done || (HAVE(a, F_FIELD_COUNT) && FN(a, F_FIELD_COUNT, conn_uint_fn)(m) > 0)) {
		if (s) { /* the reply, or its rows, are still to come */
			db_own(s, op, t0);
			s->waiting = !done;
			goto out;
		}
	} else if (db_is_dml(&info) && HAVE(a, F_AFFECTED_ROWS)) {
		my_ulonglong n = FN(a, F_AFFECTED_ROWS, conn_ull_fn)(m);
		if (n != (my_ulonglong)-1)
			e.affected = (int64_t)n;
	}
	db_end(op, &e);
	if (s)
		s->op = 0;
out:
	errno = saved;
}

DB_EXPORT int mysql_real_query(MYSQL *m, const char *q, unsigned long len)
{
	DB_WRAP_BEGIN(&lib, F_REAL_QUERY, real_query_fn, 1)
	int rc = f(m, q, len);
	DB_WRAP_END()
	if (!skip && q)
		queried(a, m, q, len == (unsigned long)-1 ? strlen(q) : len, rc, 1, t0);
	return rc;
}

DB_EXPORT int mysql_query(MYSQL *m, const char *q)
{
	DB_WRAP_BEGIN(&lib, F_QUERY, query_fn, 1)
	int rc = f(m, q);
	DB_WRAP_END()
	if (!skip && q)
		queried(a, m, q, strlen(q), rc, 1, t0);
	return rc;
}

DB_EXPORT int mysql_send_query(MYSQL *m, const char *q, unsigned long len)
{
	DB_WRAP_BEGIN(&lib, F_SEND_QUERY, real_query_fn, 1)
	int rc = f(m, q, len);
	DB_WRAP_END()
	if (!skip && q)
		queried(a, m, q, len == (unsigned long)-1 ? strlen(q) : len, rc, 0, t0);
	return rc;
}

DB_EXPORT my_bool mysql_read_query_result(MYSQL *m)
{
	DB_WRAP_BEGIN(&lib, F_READ_QUERY_RESULT, read_result_fn, 1)
	my_bool rc = f(m);
	DB_WRAP_END()
	if (skip)
		return rc;
	int i = db_find((uintptr_t)m);
	struct db_slot *s = i >= 0 ? db_slot(i) : NULL;
	if (!s || !s->op || !s->waiting || s->family != DB_MYSQL)
		return rc;
	int saved = errno;
	s->waiting = 0;
	if (!db_mine(s)) {
		s->op = 0;
	} else if (rc || !HAVE(a, F_FIELD_COUNT) || FN(a, F_FIELD_COUNT, conn_uint_fn)(m) == 0) {
		char code[16];
		struct db_end e;
		db_end_init(&e);
		if (rc) {
			conn_error(a, m, &e, code, sizeof(code));
			e.norm = s->text;
			e.norm_len = s->text_len;
		} else if (db_is_dml(&s->info) && HAVE(a, F_AFFECTED_ROWS)) {
			my_ulonglong n = FN(a, F_AFFECTED_ROWS, conn_ull_fn)(m);
			if (n != (my_ulonglong)-1)
				e.affected = (int64_t)n;
		}
		db_end(s->op, &e);
		s->op = 0;
	}
	errno = saved;
	return rc;
}

/* The rows of the connection's query arrive (store) or start to (use). */
static MYSQL_RES *result(int fidx, MYSQL *m, const void *ra)
{
	DB_WRAP_BEGIN_FROM(&lib, ra, fidx, store_fn, NULL)
	MYSQL_RES *r = f(m);
	DB_WRAP_END()
	if (skip)
		return r;
	int i = db_find((uintptr_t)m);
	struct db_slot *s = i >= 0 ? db_slot(i) : NULL;
	if (!s || !s->op || s->waiting || s->family != DB_MYSQL)
		return r;
	int saved = errno;
	if (!db_mine(s)) {
		s->op = 0;
	} else if (r && fidx == F_USE_RESULT) { /* rows come with mysql_fetch_row */
		db_move(i, (uintptr_t)r);
	} else {
		char code[16];
		struct db_end e;
		db_end_init(&e);
		if (r && HAVE(a, F_NUM_ROWS))
			e.returned = (int64_t)FN(a, F_NUM_ROWS, res_ull_fn)(r);
		else if (!r && HAVE(a, F_ERRNO) && FN(a, F_ERRNO, conn_uint_fn)(m)) {
			conn_error(a, m, &e, code, sizeof(code));
			e.norm = s->text;
			e.norm_len = s->text_len;
		}
		db_end(s->op, &e);
		s->op = 0;
	}
	errno = saved;
	return r;
}

DB_EXPORT MYSQL_RES *mysql_store_result(MYSQL *m)
{
	return result(F_STORE_RESULT, m, DB_CALLER);
}

DB_EXPORT MYSQL_RES *mysql_use_result(MYSQL *m)
{
	return result(F_USE_RESULT, m, DB_CALLER);
}

DB_EXPORT MYSQL_ROW mysql_fetch_row(MYSQL_RES *r)
{
	DB_WRAP_BEGIN(&lib, F_FETCH_ROW, fetch_row_fn, NULL)
	MYSQL_ROW row = f(r);
	DB_WRAP_END()
	if (skip)
		return row;
	int i = db_find((uintptr_t)r);
	if (i < 0)
		return row;
	struct db_slot *s = db_slot(i);
	if (!s->op || s->family != DB_MYSQL)
		return row;
	int saved = errno;
	if (row) {
		s->rows++;
	} else if (db_mine(s)) { /* the end of the rows, or an error while reading them */
		MYSQL *m = (MYSQL *)s->conn;
		char code[16];
		struct db_end e;
		db_end_init(&e);
		e.returned = s->rows;
		if (HAVE(a, F_ERRNO) && FN(a, F_ERRNO, conn_uint_fn)(m)) {
			conn_error(a, m, &e, code, sizeof(code));
			e.norm = s->text;
			e.norm_len = s->text_len;
		}
		db_end(s->op, &e);
		s->op = 0;
	} else {
		s->op = 0;
	}
	errno = saved;
	return row;
}

DB_EXPORT void mysql_free_result(MYSQL_RES *r)
{
	DB_WRAP_BEGIN(&lib, F_FREE_RESULT, free_result_fn, )
	int i = on ? db_find((uintptr_t)r) : -1; /* before: the address may be reused after */
	f(r);
	DB_WRAP_END()
	if (i >= 0) {
		int saved = errno;
		struct db_slot *s = db_slot(i);
		if (!skip)
			end_open(s, s->rows);
		db_drop(i);
		errno = saved;
	}
}

DB_EXPORT void mysql_close(MYSQL *m)
{
	DB_WRAP_BEGIN(&lib, F_CLOSE, close_fn, )
	f(m);
	DB_WRAP_END()
	int saved = errno;
	int i = db_find((uintptr_t)m);
	if (i >= 0) {
		if (!skip)
			end_open(db_slot(i), -1);
		db_drop(i);
	}
	errno = saved;
}

/* ---- prepared statements ------------------------------------------------------------------- */

DB_EXPORT MYSQL_STMT *mysql_stmt_init(MYSQL *m)
{
	DB_WRAP_BEGIN(&lib, F_STMT_INIT, stmt_init_fn, NULL)
	MYSQL_STMT *st = f(m);
	DB_WRAP_END()
	if (!skip && st) {
		int saved = errno;
		int i = db_claim((uintptr_t)st);
		if (i >= 0) {
			struct db_slot *s = db_slot(i);
			memset(s, 0, sizeof(*s));
			s->family = DB_MYSQL;
			s->conn = (uintptr_t)m;
		}
		errno = saved;
	}
	return st;
}

DB_EXPORT int mysql_stmt_prepare(MYSQL_STMT *st, const char *q, unsigned long len)
{
	DB_WRAP_BEGIN(&lib, F_STMT_PREPARE, stmt_prepare_fn, 1)
	int rc = f(st, q, len);
	DB_WRAP_END()
	if (skip || !q)
		return rc;
	int saved = errno;
	int i = db_find((uintptr_t)st);
	if (i >= 0) {
		struct db_slot *s = db_slot(i);
		end_open(s, -1);
		s->has_text = 0;
		if (!rc) {
			s->text_len = (uint32_t)glass_cap_sql_text(
			    q, len == (unsigned long)-1 ? strlen(q) : len, GLASS_SQL_MYSQL, s->text,
			    db_text_cap(), &s->info);
			s->has_text = 1;
			db_slot_named(s, NULL);
		} else { /* refused by the server (no such table, syntax): the application's error
			  */
			char buf[GLASS_MAX_ATTR_STR + 1], host[256], code[16];
			struct glass_sql_info info;
			size_t tl =
			    glass_cap_sql_text(q, len == (unsigned long)-1 ? strlen(q) : len,
					       GLASS_SQL_MYSQL, buf, sizeof(buf), &info);
			struct db_begin b = {.text = buf, .text_len = tl, .info = &info};
			begin_attrs(a, (MYSQL *)s->conn, &b, host, sizeof(host));
			uint64_t op = db_begin(&b, t0);
			struct db_end e;
			db_end_init(&e);
			stmt_error(a, st, &e, code, sizeof(code));
			e.norm = buf;
			e.norm_len = tl;
			db_end(op, &e);
		}
	}
	errno = saved;
	return rc;
}

DB_EXPORT int mysql_stmt_execute(MYSQL_STMT *st)
{
	DB_WRAP_BEGIN(&lib, F_STMT_EXECUTE, stmt_int_fn, 1)
	int rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int i = db_find((uintptr_t)st);
	if (i < 0 || !db_slot(i)->has_text)
		return rc;
	int saved = errno;
	struct db_slot *s = db_slot(i);
	end_open(s, s->rows);
	char host[256], code[16];
	struct db_begin b = {.name = s->name,
			     .name_len = s->name_len,
			     .text = s->text,
			     .text_len = s->text_len,
			     .info = &s->info};
	begin_attrs(a, (MYSQL *)s->conn, &b, host, sizeof(host));
	uint64_t op = db_begin(&b, t0);
	if (!op)
		goto out;
	struct db_end e;
	db_end_init(&e);
	if (rc) {
		stmt_error(a, st, &e, code, sizeof(code));
		e.norm = s->text;
		e.norm_len = s->text_len;
	} else if (HAVE(a, F_STMT_FIELD_COUNT) && FN(a, F_STMT_FIELD_COUNT, stmt_uint_fn)(st) > 0) {
		db_own(s, op, t0); /* rows come with mysql_stmt_store_result or _fetch */
		goto out;
	} else if ((s->flags & DB_F_DML) && HAVE(a, F_STMT_AFFECTED_ROWS)) {
		my_ulonglong n = FN(a, F_STMT_AFFECTED_ROWS, stmt_ull_fn)(st);
		if (n != (my_ulonglong)-1)
			e.affected = (int64_t)n;
	}
	db_end(op, &e);
out:
	errno = saved;
	return rc;
}

DB_EXPORT int mysql_stmt_store_result(MYSQL_STMT *st)
{
	DB_WRAP_BEGIN(&lib, F_STMT_STORE_RESULT, stmt_int_fn, 1)
	int rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int i = db_find((uintptr_t)st);
	if (i < 0 || !db_slot(i)->op)
		return rc;
	int saved = errno;
	struct db_slot *s = db_slot(i);
	if (db_mine(s)) {
		char code[16];
		struct db_end e;
		db_end_init(&e);
		if (rc) {
			stmt_error(a, st, &e, code, sizeof(code));
			e.norm = s->text;
			e.norm_len = s->text_len;
		} else if (HAVE(a, F_STMT_NUM_ROWS)) {
			e.returned = (int64_t)FN(a, F_STMT_NUM_ROWS, stmt_ull_fn)(st);
		}
		db_end(s->op, &e);
	}
	s->op = 0;
	errno = saved;
	return rc;
}

DB_EXPORT int mysql_stmt_fetch(MYSQL_STMT *st)
{
	DB_WRAP_BEGIN(&lib, F_STMT_FETCH, stmt_int_fn, 1)
	int rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int i = db_find((uintptr_t)st);
	if (i < 0 || !db_slot(i)->op)
		return rc;
	int saved = errno;
	struct db_slot *s = db_slot(i);
	if (rc == 0 || rc == MYSQL_DATA_TRUNCATED) {
		s->rows++;
	} else if (!db_mine(s)) {
		s->op = 0;
	} else if (rc == MYSQL_NO_DATA) {
		end_open(s, s->rows);
	} else {
		char code[16];
		struct db_end e;
		db_end_init(&e);
		e.returned = s->rows;
		stmt_error(a, st, &e, code, sizeof(code));
		e.norm = s->text;
		e.norm_len = s->text_len;
		db_end(s->op, &e);
		s->op = 0;
	}
	errno = saved;
	return rc;
}

/* free_result, reset, close: an execution still reading ends (close: the statement goes). */
static my_bool stmt_done(int fidx, MYSQL_STMT *st, const void *ra, int drop)
{
	DB_WRAP_BEGIN_FROM(&lib, ra, fidx, stmt_bool_fn, 1)
	int i = on ? db_find((uintptr_t)st) : -1;
	my_bool rc = f(st);
	DB_WRAP_END()
	if (i >= 0) {
		int saved = errno;
		struct db_slot *s = db_slot(i);
		if (!skip)
			end_open(s, s->rows);
		if (drop)
			db_drop(i);
		errno = saved;
	}
	return rc;
}

DB_EXPORT my_bool mysql_stmt_free_result(MYSQL_STMT *st)
{
	return stmt_done(F_STMT_FREE_RESULT, st, DB_CALLER, 0);
}

DB_EXPORT my_bool mysql_stmt_reset(MYSQL_STMT *st)
{
	return stmt_done(F_STMT_RESET, st, DB_CALLER, 0);
}

DB_EXPORT my_bool mysql_stmt_close(MYSQL_STMT *st)
{
	return stmt_done(F_STMT_CLOSE, st, DB_CALLER, 1);
}
