/* preload/capture-odbc.c — ODBC statements through the unixODBC driver manager (libodbc.so.2:
 * pyodbc, anything linking it), whatever the driver.
 *
 * A span is one execution: SQLExecDirect[W], or SQLExecute of a statement SQLPrepare[W] gave
 * text to (the text is normalised once, at prepare). A statement without a result set ends
 * at the execution, with SQLRowCount as the rows changed. One with a result set stays open
 * while the application fetches: each SQLFetch/SQLFetchScroll that returns a rowset counts
 * (one row per call: the rowset size is not read), SQL_NO_DATA ends it, and so does closing the
 * cursor first (SQLCloseCursor, SQLFreeStmt, SQLMoreResults, SQLFreeHandle, the next
 * execution). SQL_NEED_DATA and SQL_STILL_EXECUTING keep the execution going until the call
 * (SQLParamData, or the same call again) that finishes it.
 *
 * Diagnostics: calling any ODBC function on a handle clears its diagnostic records, which the
 * application may be about to read (pyodbc reads them after SQL_SUCCESS_WITH_INFO and
 * SQL_ERROR). So: after SQL_ERROR the first record is read with SQLGetDiagRecW, which does not
 * consume records (the application reads the same ones after us); SQLNumResultCols and
 * SQLRowCount are called only after SQL_SUCCESS, when there are no records to lose; after
 * SQL_SUCCESS_WITH_INFO nothing is called: whether rows will come is guessed from the
 * statement's operation and the rows changed are not recorded. The connection's driver, DBMS,
 * data source, database and server (SQLGetInfo) are read once per connection, right after an
 * SQLAllocHandle of a statement on it returned SQL_SUCCESS (its records are empty then too).
 *
 * Layers: a driver built on another library the preload hooks (the SQLite3 ODBC driver on
 * libsqlite3, the PostgreSQL one on libpq) runs it inside our ODBC wrapper, so the inner
 * calls see the nesting guard and record nothing: one span per execution, the ODBC one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "capture-db.h"

typedef short SQLRETURN;
typedef short SQLSMALLINT;
typedef unsigned short SQLUSMALLINT;
typedef unsigned short SQLWCHAR; /* unixODBC: UTF-16 */
typedef unsigned char SQLCHAR;
typedef int SQLINTEGER;
typedef long SQLLEN;
typedef void *SQLHANDLE;
typedef void *SQLPOINTER;

/* sql.h / sqlext.h */
#define SQL_SUCCESS	      0
#define SQL_SUCCESS_WITH_INFO 1
#define SQL_STILL_EXECUTING   2
#define SQL_NEED_DATA	      99
#define SQL_NO_DATA	      100
#define SQL_ERROR	      (-1)
#define SQL_INVALID_HANDLE    (-2)
#define SQL_NTS		      (-3)
#define SQL_HANDLE_DBC	      2
#define SQL_HANDLE_STMT	      3
#define SQL_CLOSE	      0
#define SQL_ROLLBACK	      1
#define SQL_DROP	      1
#define SQL_DATA_SOURCE_NAME  2
#define SQL_DRIVER_NAME	      6
#define SQL_SERVER_NAME	      13
#define SQL_DATABASE_NAME     16
#define SQL_DBMS_NAME	      17

enum {
	F_EXECUTE, /* identifies the library */
	F_EXECDIRECT,
	F_EXECDIRECTW,
	F_PREPARE,
	F_PREPAREW,
	F_PARAMDATA,
	F_FETCH,
	F_FETCHSCROLL,
	F_MORERESULTS,
	F_CLOSECURSOR,
	F_FREESTMT,
	F_FREEHANDLE,
	F_ALLOCHANDLE,
	F_DISCONNECT,
	F_ROWCOUNT,
	F_NUMRESULTCOLS,
	F_GETDIAGRECW,
	F_GETINFO,
	F_DRIVERCONNECT,
	F_DRIVERCONNECTW,
	F_CONNECT,
	F_CONNECTW,
	F_ENDTRAN,
	F_N
};

static const char *const names[F_N] = {
    "SQLExecute",	"SQLExecDirect",  "SQLExecDirectW", "SQLPrepare",	"SQLPrepareW",
    "SQLParamData",	"SQLFetch",	  "SQLFetchScroll", "SQLMoreResults",	"SQLCloseCursor",
    "SQLFreeStmt",	"SQLFreeHandle",  "SQLAllocHandle", "SQLDisconnect",	"SQLRowCount",
    "SQLNumResultCols", "SQLGetDiagRecW", "SQLGetInfo",	    "SQLDriverConnect", "SQLDriverConnectW",
    "SQLConnect",	"SQLConnectW",	  "SQLEndTran",
};
static const char *const sonames[] = {"libodbc.so.2", NULL};
static struct db_lib lib = {
    .names = names, .nnames = F_N, .sonames = sonames, .driver = "unixodbc"};

typedef SQLRETURN (*stmt_fn)(SQLHANDLE);
typedef SQLRETURN (*text_fn)(SQLHANDLE, const void *, SQLINTEGER);
typedef SQLRETURN (*paramdata_fn)(SQLHANDLE, SQLPOINTER *);
typedef SQLRETURN (*fetchscroll_fn)(SQLHANDLE, SQLSMALLINT, SQLLEN);
typedef SQLRETURN (*freestmt_fn)(SQLHANDLE, SQLUSMALLINT);
typedef SQLRETURN (*freehandle_fn)(SQLSMALLINT, SQLHANDLE);
typedef SQLRETURN (*allochandle_fn)(SQLSMALLINT, SQLHANDLE, SQLHANDLE *);
typedef SQLRETURN (*rowcount_fn)(SQLHANDLE, SQLLEN *);
typedef SQLRETURN (*numresultcols_fn)(SQLHANDLE, SQLSMALLINT *);
typedef SQLRETURN (*getdiagrecw_fn)(SQLSMALLINT, SQLHANDLE, SQLSMALLINT, SQLWCHAR *, SQLINTEGER *,
				    SQLWCHAR *, SQLSMALLINT, SQLSMALLINT *);
typedef SQLRETURN (*getinfo_fn)(SQLHANDLE, SQLUSMALLINT, SQLPOINTER, SQLSMALLINT, SQLSMALLINT *);

typedef SQLRETURN (*driverconnect_fn)(SQLHANDLE, void *, const void *, SQLSMALLINT, void *,
				      SQLSMALLINT, SQLSMALLINT *, SQLUSMALLINT);
typedef SQLRETURN (*connect_fn)(SQLHANDLE, const void *, SQLSMALLINT, const void *, SQLSMALLINT,
				const void *, SQLSMALLINT);
typedef SQLRETURN (*endtran_fn)(SQLSMALLINT, SQLHANDLE, SQLSMALLINT);

#define FN(a, i, type) ((type)(a)->fn[i])

/* ---- connections ---------------------------------------------------------------------------- */

#define DBC_MAX	  256
#define DBC_PROBE 16

struct dbc_info {
	int ready;
	char system[16];
	char driver[64];
	char dsn[64];
	char dbname[256];
	char server[128];
};
static uintptr_t dbc_keys[DBC_MAX];
static struct dbc_info dbcs[DBC_MAX];

static size_t dbc_hash(uintptr_t k)
{
	return (size_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 56) & (DBC_MAX - 1);
}

static int dbc_find(uintptr_t k)
{
	size_t i = dbc_hash(k);
	for (int n = 0; n < DBC_PROBE; n++, i = (i + 1) & (DBC_MAX - 1)) {
		uintptr_t v = __atomic_load_n(&dbc_keys[i], __ATOMIC_ACQUIRE);
		if (v == k)
			return (int)i;
		if (!v)
			return -1;
	}
	return -1;
}

static void dbc_forget(uintptr_t k)
{
	int i = dbc_find(k);
	if (i >= 0)
		__atomic_store_n(&dbcs[i].ready, 0, __ATOMIC_RELEASE); /* the key stays: reused */
}

/* db.system from the DBMS name (SQL_DBMS_NAME). */
static const char *system_of(const char *dbms)
{
	static const struct {
		const char *in, *system;
	} map[] = {{"postgres", "postgresql"},
		   {"sqlite", "sqlite"},
		   {"mariadb", "mariadb"},
		   {"mysql", "mysql"},
		   {"sql server", "mssql"},
		   {"oracle", "oracle"},
		   {"db2", "db2"},
		   {"firebird", "firebird"},
		   {"informix", "informix"},
		   {"hana", "hanadb"},
		   {"cache", "cache"},
		   {"teradata", "teradata"},
		   {"sybase", "sybase"},
		   {"adaptive server", "sybase"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t n = strlen(map[i].in);
		for (const char *p = dbms; *p; p++)
			if (!strncasecmp(p, map[i].in, n))
				return map[i].system;
	}
	return "other_sql";
}

static void get_info(const struct db_api *a, SQLHANDLE dbc, SQLUSMALLINT what, char *out,
		     size_t cap)
{
	SQLSMALLINT len = 0;
	out[0] = 0;
	SQLRETURN rc = FN(a, F_GETINFO, getinfo_fn)(dbc, what, out, (SQLSMALLINT)cap, &len);
	if (rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO)
		out[0] = 0;
	out[cap - 1] = 0;
}

/* Reads a connection's info once (its diagnostics are empty: see the top of the file). */
static void dbc_learn(const struct db_api *a, SQLHANDLE dbc)
{
	uintptr_t k = (uintptr_t)dbc;
	int i = dbc_find(k);
	if (i >= 0 && __atomic_load_n(&dbcs[i].ready, __ATOMIC_ACQUIRE))
		return;
	if (i < 0) {
		size_t j = dbc_hash(k);
		for (int n = 0; n < DBC_PROBE && i < 0; n++, j = (j + 1) & (DBC_MAX - 1)) {
			uintptr_t v = 0;
			if (__atomic_compare_exchange_n(&dbc_keys[j], &v, k, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				i = (int)j;
		}
		if (i < 0)
			return;
	}
	if (!a->fn[F_GETINFO])
		return;
	struct dbc_info *d = &dbcs[i];
	char dbms[128];
	glass_cap_enter();
	get_info(a, dbc, SQL_DBMS_NAME, dbms, sizeof(dbms));
	get_info(a, dbc, SQL_DRIVER_NAME, d->driver, sizeof(d->driver));
	get_info(a, dbc, SQL_DATA_SOURCE_NAME, d->dsn, sizeof(d->dsn));
	get_info(a, dbc, SQL_DATABASE_NAME, d->dbname, sizeof(d->dbname));
	get_info(a, dbc, SQL_SERVER_NAME, d->server, sizeof(d->server));
	glass_cap_leave();
	snprintf(d->system, sizeof(d->system), "%s", system_of(dbms));
	__atomic_store_n(&d->ready, 1, __ATOMIC_RELEASE);
}

static void begin_attrs(const struct db_api *a, uintptr_t dbc, struct db_begin *b)
{
	b->system = "other_sql";
	b->driver = a->driver;
	int i = dbc ? dbc_find(dbc) : -1;
	if (i < 0 || !__atomic_load_n(&dbcs[i].ready, __ATOMIC_ACQUIRE))
		return;
	const struct dbc_info *d = &dbcs[i];
	b->system = d->system;
	b->dbname = d->dbname;
	b->dbname_len = strlen(d->dbname);
	if (strcmp(d->system, "sqlite")) { /* SQLite's "server" is its file: db.name already */
		b->host = d->server;
		b->host_len = strlen(d->server);
	}
	b->extra_key[0] = "glass.odbc.driver";
	b->extra[0] = d->driver;
	b->extra_key[1] = "glass.odbc.dsn";
	b->extra[1] = d->dsn;
}

/* ---- what an execution says ------------------------------------------------------------------ */

/* The first diagnostic record of a handle (not consumed: the application reads it after us). */
static void diag(const struct db_api *a, SQLSMALLINT type, SQLHANDLE h, char *state, char *msg,
		 size_t cap)
{
	state[0] = msg[0] = 0;
	if (!a->fn[F_GETDIAGRECW])
		return;
	SQLWCHAR ws[6] = {0}, wm[512];
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;
	glass_cap_enter();
	SQLRETURN rc = FN(a, F_GETDIAGRECW, getdiagrecw_fn)(type, h, 1, ws, &native, wm,
							    (SQLSMALLINT)(sizeof(wm) / 2), &len);
	glass_cap_leave();
	if (rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO)
		return;
	db_utf16_to_8(ws, 5, state, 6, NULL);
	size_t n = len < 0 ? 0 : (size_t)len < sizeof(wm) / 2 ? (size_t)len : sizeof(wm) / 2 - 1;
	db_utf16_to_8(wm, n, msg, cap, NULL);
}

static void end_error(const struct db_api *a, SQLHANDLE st, uint64_t op, SQLRETURN rc,
		      const struct db_slot *s, const char *norm, size_t nl)
{
	char state[8], msg[1024];
	struct db_end e;
	db_end_init(&e);
	e.error = 1;
	if (rc == SQL_INVALID_HANDLE) {
		e.status = "SQL_INVALID_HANDLE";
	} else {
		diag(a, SQL_HANDLE_STMT, st, state, msg, sizeof(msg));
		e.status = state;
		e.etype = state[0] ? NULL : "SQL_ERROR";
		e.msg = msg;
		e.msg_len = strlen(msg);
	}
	if (s && (s->flags & DB_F_RESULT))
		e.returned = s->rows;
	e.norm = norm;
	e.norm_len = nl;
	db_end(op, &e);
}

/* Operations whose statements return rows (guess used after SQL_SUCCESS_WITH_INFO). */
static int returns_rows(const struct glass_sql_info *in)
{
	static const char *const ops[] = {"SELECT",  "WITH",	 "VALUES", "SHOW", "PRAGMA",
					  "EXPLAIN", "DESCRIBE", "CALL",   "EXEC", "TABLE"};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(in->operation, ops[i]))
			return 1;
	return 0;
}

/* Ends s's open execution (the cursor was closed, or the next one began). */
static void close_open(struct db_slot *s)
{
	if (s->op && db_mine(s)) {
		struct db_end e;
		db_end_init(&e);
		if (s->flags & DB_F_RESULT)
			e.returned = s->rows;
		db_end(s->op, &e);
	}
	s->op = 0;
	s->flags &= ~DB_F_RESULT;
}

/*
 * After a call that executes (SQLExecDirect[W], SQLExecute, SQLParamData) returned rc: the span.
 * s: the statement's slot holding its text (NULL when the table had no room: then text/info/
 * dbc come from the caller and the span cannot stay open).
 */
static void executed(const struct db_api *a, SQLHANDLE st, struct db_slot *s, const char *text,
		     size_t tl, const struct glass_sql_info *info, uintptr_t dbc, SQLRETURN rc,
		     uint64_t t0)
{
	if (rc == SQL_STILL_EXECUTING || rc == SQL_NEED_DATA) {
		if (s && !s->waiting) {
			s->waiting = 1;
			s->start = t0;
		}
		return;
	}
	if (s && s->waiting) {
		t0 = s->start;
		s->waiting = 0;
	}
	struct db_begin b = {.text = text, .text_len = tl, .info = info};
	if (s) {
		b.name = s->name;
		b.name_len = s->name_len;
	}
	begin_attrs(a, dbc, &b);
	uint64_t op = db_begin(&b, t0);
	if (!op)
		return;
	if (rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO && rc != SQL_NO_DATA) {
		end_error(a, st, op, rc, NULL, text, tl);
		return;
	}
	struct db_end e;
	db_end_init(&e);
	int rows = 0;
	if (rc == SQL_NO_DATA) { /* a searched UPDATE or DELETE that matched nothing */
		if (info && db_is_dml(info))
			e.affected = 0;
	} else if (rc == SQL_SUCCESS) {
		SQLSMALLINT cols = 0;
		SQLLEN n = -1;
		glass_cap_enter();
		if (a->fn[F_NUMRESULTCOLS] &&
		    FN(a, F_NUMRESULTCOLS, numresultcols_fn)(st, &cols) == SQL_SUCCESS && cols > 0)
			rows = 1;
		else if (info && (s ? (s->flags & DB_F_DML) : db_is_dml(info)) &&
			 a->fn[F_ROWCOUNT] &&
			 FN(a, F_ROWCOUNT, rowcount_fn)(st, &n) == SQL_SUCCESS && n >= 0)
			e.affected = n;
		glass_cap_leave();
	} else {
		rows = info && returns_rows(info);
	}
	if (rows && s) { /* the span goes on while the application fetches */
		db_own(s, op, t0);
		s->flags |= DB_F_RESULT;
		return;
	}
	db_end(op, &e); /* (rows but no slot to count them in: ends here) */
}

/* ---- wrappers ----------------------------------------------------------------------------- */

static int iodbc(const struct db_api *a)
{
	return a->driver[0] == 'i'; /* iODBC's SQLWCHAR is wchar_t: its W text is not read */
}

/* The text of an SQLPrepare[W]/SQLExecDirect[W] into the statement's slot (or buf). */
static size_t take_text(const struct db_api *a, const void *text, SQLINTEGER len, int wide,
			char *out, size_t cap, struct glass_sql_info *info)
{
	if (!text || (wide && iodbc(a))) {
		memset(info, 0, sizeof(*info));
		out[0] = 0;
		return 0;
	}
	if (wide) {
		size_t n = len == SQL_NTS || len < 0 ? db_wcslen16(text) : (size_t)len;
		return db_text16(text, n, 0, out, cap, info);
	}
	size_t n = len == SQL_NTS || len < 0 ? strlen(text) : (size_t)len;
	return glass_cap_sql_text(text, n, 0, out, cap, info);
}

/* A slot for a statement allocated before we looked (-1 when the table is full there). */
static int claim_stmt(SQLHANDLE st)
{
	int i = db_claim((uintptr_t)st);
	if (i >= 0) {
		memset(db_slot(i), 0, sizeof(struct db_slot));
		db_slot(i)->family = DB_ODBC;
	}
	return i;
}

static SQLRETURN exec_direct(const void *ra, int fidx, SQLHANDLE st, const void *text,
			     SQLINTEGER len, int wide)
{
	DB_WRAP_BEGIN_FROM(&lib, ra, fidx, text_fn, SQL_ERROR)
	SQLRETURN rc = f(st, text, len);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	int i = db_find((uintptr_t)st);
	struct db_slot *s = i >= 0 ? db_slot(i) : NULL;
	if (s && s->waiting) { /* the same call again, finishing what it began */
		executed(a, st, s, s->text, s->text_len, &s->info, s->conn, rc, t0);
		goto out;
	}
	if (!s && (i = claim_stmt(st)) >= 0)
		s = db_slot(i);
	if (s) {
		close_open(s);
		s->text_len =
		    (uint32_t)take_text(a, text, len, wide, s->text, db_text_cap(), &s->info);
		s->has_text = 1;
		db_slot_named(s, NULL);
		executed(a, st, s, s->text, s->text_len, &s->info, s->conn, rc, t0);
	} else {
		char buf[GLASS_MAX_ATTR_STR + 1];
		struct glass_sql_info info;
		size_t tl = take_text(a, text, len, wide, buf, sizeof(buf), &info);
		executed(a, st, NULL, buf, tl, &info, 0, rc, t0);
	}
out:
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLExecDirect(SQLHANDLE st, SQLCHAR *text, SQLINTEGER len)
{
	return exec_direct(DB_CALLER, F_EXECDIRECT, st, text, len, 0);
}

DB_EXPORT SQLRETURN SQLExecDirectW(SQLHANDLE st, SQLWCHAR *text, SQLINTEGER len)
{
	return exec_direct(DB_CALLER, F_EXECDIRECTW, st, text, len, 1);
}

static SQLRETURN prepare(const void *ra, int fidx, SQLHANDLE st, const void *text, SQLINTEGER len,
			 int wide)
{
	DB_WRAP_BEGIN_FROM(&lib, ra, fidx, text_fn, SQL_ERROR)
	SQLRETURN rc = f(st, text, len);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	int i = db_find((uintptr_t)st);
	if (rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO) {
		if (i < 0)
			i = claim_stmt(st);
		if (i >= 0) {
			struct db_slot *s = db_slot(i);
			close_open(s);
			s->waiting = 0;
			s->text_len = (uint32_t)take_text(a, text, len, wide, s->text,
							  db_text_cap(), &s->info);
			s->has_text = 1;
			db_slot_named(s, NULL);
		}
	} else if (rc == SQL_ERROR) { /* a statement the driver refused at once: its span */
		char buf[GLASS_MAX_ATTR_STR + 1];
		struct glass_sql_info info;
		size_t tl = take_text(a, text, len, wide, buf, sizeof(buf), &info);
		if (i >= 0)
			db_slot(i)->has_text = 0;
		struct db_begin b = {.text = buf, .text_len = tl, .info = &info};
		begin_attrs(a, i >= 0 ? db_slot(i)->conn : 0, &b);
		uint64_t op = db_begin(&b, t0);
		if (op)
			end_error(a, st, op, rc, NULL, buf, tl);
	}
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLPrepare(SQLHANDLE st, SQLCHAR *text, SQLINTEGER len)
{
	return prepare(DB_CALLER, F_PREPARE, st, text, len, 0);
}

DB_EXPORT SQLRETURN SQLPrepareW(SQLHANDLE st, SQLWCHAR *text, SQLINTEGER len)
{
	return prepare(DB_CALLER, F_PREPAREW, st, text, len, 1);
}

DB_EXPORT SQLRETURN SQLExecute(SQLHANDLE st)
{
	DB_WRAP_BEGIN(&lib, F_EXECUTE, stmt_fn, SQL_ERROR)
	SQLRETURN rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	int i = db_find((uintptr_t)st);
	if (i >= 0 && db_slot(i)->has_text) {
		struct db_slot *s = db_slot(i);
		if (!s->waiting)
			close_open(s);
		executed(a, st, s, s->text, s->text_len, &s->info, s->conn, rc, t0);
	}
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLParamData(SQLHANDLE st, SQLPOINTER *value)
{
	DB_WRAP_BEGIN(&lib, F_PARAMDATA, paramdata_fn, SQL_ERROR)
	SQLRETURN rc = f(st, value);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	int i = db_find((uintptr_t)st);
	if (i >= 0 && db_slot(i)->waiting && rc != SQL_NEED_DATA) {
		struct db_slot *s = db_slot(i);
		executed(a, st, s, s->text, s->text_len, &s->info, s->conn, rc, t0);
	}
	errno = saved;
	return rc;
}

/* A fetch returned rc: a rowset counts, the end of the rows or an error ends the span. */
static void fetched(const struct db_api *a, SQLHANDLE st, SQLRETURN rc)
{
	int i = db_find((uintptr_t)st);
	if (i < 0)
		return;
	struct db_slot *s = db_slot(i);
	if (!s->op)
		return;
	if (!db_mine(s)) {
		if (rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO && rc != SQL_STILL_EXECUTING)
			s->op = 0;
		return;
	}
	if (rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO) {
		s->rows++;
	} else if (rc == SQL_NO_DATA) {
		close_open(s);
	} else if (rc != SQL_STILL_EXECUTING) {
		end_error(a, st, s->op, rc, s, s->text, s->text_len);
		s->op = 0;
		s->flags &= ~DB_F_RESULT;
	}
}

DB_EXPORT SQLRETURN SQLFetch(SQLHANDLE st)
{
	DB_WRAP_BEGIN(&lib, F_FETCH, stmt_fn, SQL_ERROR)
	SQLRETURN rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	fetched(a, st, rc);
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLFetchScroll(SQLHANDLE st, SQLSMALLINT orientation, SQLLEN offset)
{
	DB_WRAP_BEGIN(&lib, F_FETCHSCROLL, fetchscroll_fn, SQL_ERROR)
	SQLRETURN rc = f(st, orientation, offset);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	fetched(a, st, rc);
	errno = saved;
	return rc;
}

/* The cursor closes (drop: and the statement goes). */
static void closed(SQLHANDLE st, int drop)
{
	int i = db_find((uintptr_t)st);
	if (i < 0)
		return;
	close_open(db_slot(i));
	if (drop)
		db_drop(i);
}

DB_EXPORT SQLRETURN SQLMoreResults(SQLHANDLE st)
{
	DB_WRAP_BEGIN(&lib, F_MORERESULTS, stmt_fn, SQL_ERROR)
	SQLRETURN rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	closed(st, 0);
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLCloseCursor(SQLHANDLE st)
{
	DB_WRAP_BEGIN(&lib, F_CLOSECURSOR, stmt_fn, SQL_ERROR)
	SQLRETURN rc = f(st);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	closed(st, 0);
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLFreeStmt(SQLHANDLE st, SQLUSMALLINT option)
{
	DB_WRAP_BEGIN(&lib, F_FREESTMT, freestmt_fn, SQL_ERROR)
	SQLRETURN rc = f(st, option);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	if (option == SQL_CLOSE || option == SQL_DROP)
		closed(st, option == SQL_DROP);
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLFreeHandle(SQLSMALLINT type, SQLHANDLE h)
{
	DB_WRAP_BEGIN(&lib, F_FREEHANDLE, freehandle_fn, SQL_ERROR)
	SQLRETURN rc = f(type, h);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	if (type == SQL_HANDLE_STMT)
		closed(h, 1);
	else if (type == SQL_HANDLE_DBC)
		dbc_forget((uintptr_t)h);
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLDisconnect(SQLHANDLE dbc)
{
	DB_WRAP_BEGIN(&lib, F_DISCONNECT, stmt_fn, SQL_ERROR)
	SQLRETURN rc = f(dbc);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	dbc_forget((uintptr_t)dbc); /* it may connect elsewhere next */
	errno = saved;
	return rc;
}

DB_EXPORT SQLRETURN SQLAllocHandle(SQLSMALLINT type, SQLHANDLE in, SQLHANDLE *out)
{
	DB_WRAP_BEGIN(&lib, F_ALLOCHANDLE, allochandle_fn, SQL_ERROR)
	SQLRETURN rc = f(type, in, out);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	if (type == SQL_HANDLE_STMT && rc == SQL_SUCCESS && out && *out) {
		dbc_learn(a, in);
		int i = db_claim((uintptr_t)*out);
		if (i >= 0) {
			struct db_slot *s = db_slot(i);
			memset(s, 0, sizeof(*s));
			s->family = DB_ODBC;
			s->conn = (uintptr_t)in;
		}
	}
	errno = saved;
	return rc;
}

/* Connecting runs driver code (the SQLite3 driver's PRAGMAs): nested, so not recorded. */
#define DRIVERCONNECT(name, fidx)                                                                  \
	DB_EXPORT SQLRETURN name(SQLHANDLE dbc, void *wnd, void *in, SQLSMALLINT inlen, void *out, \
				 SQLSMALLINT outmax, SQLSMALLINT *outlen, SQLUSMALLINT completion) \
	{                                                                                          \
		DB_WRAP_BEGIN(&lib, fidx, driverconnect_fn, SQL_ERROR)                             \
		SQLRETURN rc = f(dbc, wnd, in, inlen, out, outmax, outlen, completion);            \
		DB_WRAP_END()                                                                      \
		return rc;                                                                         \
	}

DRIVERCONNECT(SQLDriverConnect, F_DRIVERCONNECT)
DRIVERCONNECT(SQLDriverConnectW, F_DRIVERCONNECTW)

#define CONNECT(name, fidx)                                                                        \
	DB_EXPORT SQLRETURN name(SQLHANDLE dbc, void *dsn, SQLSMALLINT dsnlen, void *uid,          \
				 SQLSMALLINT uidlen, void *auth, SQLSMALLINT authlen)              \
	{                                                                                          \
		DB_WRAP_BEGIN(&lib, fidx, connect_fn, SQL_ERROR)                                   \
		SQLRETURN rc = f(dbc, dsn, dsnlen, uid, uidlen, auth, authlen);                    \
		DB_WRAP_END()                                                                      \
		return rc;                                                                         \
	}

CONNECT(SQLConnect, F_CONNECT)
CONNECT(SQLConnectW, F_CONNECTW)

/* A connection's commit or rollback is a round trip of its own: a span "COMMIT"/"ROLLBACK". */
DB_EXPORT SQLRETURN SQLEndTran(SQLSMALLINT type, SQLHANDLE h, SQLSMALLINT completion)
{
	DB_WRAP_BEGIN(&lib, F_ENDTRAN, endtran_fn, SQL_ERROR)
	SQLRETURN rc = f(type, h, completion);
	DB_WRAP_END()
	if (skip)
		return rc;
	int saved = errno;
	if (type == SQL_HANDLE_DBC) {
		struct glass_sql_info info;
		memset(&info, 0, sizeof(info));
		snprintf(info.operation, sizeof(info.operation), "%s",
			 completion == SQL_ROLLBACK ? "ROLLBACK" : "COMMIT");
		struct db_begin b = {
		    .text = info.operation, .text_len = strlen(info.operation), .info = &info};
		begin_attrs(a, (uintptr_t)h, &b);
		uint64_t op = db_begin(&b, t0);
		struct db_end e;
		db_end_init(&e);
		char state[8], msg[1024];
		if (op && rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO) {
			e.error = 1;
			diag(a, SQL_HANDLE_DBC, h, state, msg, sizeof(msg));
			e.status = state[0] ? state : "SQL_ERROR";
			e.msg = msg;
			e.msg_len = strlen(msg);
		}
		db_end(op, &e);
	}
	errno = saved;
	return rc;
}
