/* preload/capture-sqlite.c — SQLite statements (libsqlite3.so.0, as Python's sqlite3 module and
 * SQLAlchemy's pysqlite dialect use it).
 *
 * A span is one execution of a prepared statement: from its first sqlite3_step to the step that
 * returns SQLITE_DONE or an error, or to sqlite3_reset/sqlite3_finalize when the caller stops
 * early (a cursor not read to the end). The statement's text is normalised once, when it is
 * prepared, into the statement table; Python's statement cache makes that once per distinct
 * statement. Rows returned are the SQLITE_ROW steps; rows changed are sqlite3_changes() after
 * SQLITE_DONE of an INSERT/UPDATE/DELETE/REPLACE.
 *
 * Internal statements: a statement prepared while another sqlite3 call of this thread is in
 * progress is not traced: SQLite's own schema reads (sqlite3_exec of "SELECT * FROM
 * sqlite_master" inside the first prepare), the nested SQL of VACUUM, and everything a
 * driver layered on SQLite runs for an ODBC call (the ODBC span covers it). Statements that
 * Python's module or SQLAlchemy issue themselves (BEGIN, COMMIT, PRAGMA table_info) are the
 * application's as far as the database is concerned and get spans. sqlite3_exec needs no hook:
 * it calls sqlite3_prepare_v2/step/finalize through the PLT, so each statement it runs has its
 * own span.
 */
#include <errno.h>
#include <string.h>

#include "capture-db.h"

#define SQLITE_OK     0
#define SQLITE_MISUSE 21
#define SQLITE_ROW    100
#define SQLITE_DONE   101

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

enum {
	F_STEP, /* identifies the library */
	F_PREPARE,
	F_PREPARE_V2,
	F_PREPARE_V3,
	F_PREPARE16,
	F_PREPARE16_V2,
	F_PREPARE16_V3,
	F_RESET,
	F_FINALIZE,
	F_SQL,
	F_DB_FILENAME,
	F_CHANGES,
	F_ERRMSG,
	F_EXTENDED_ERRCODE,
	F_COLUMN_COUNT,
	F_N
};

static const char *const names[F_N] = {
    "sqlite3_step",	    "sqlite3_prepare",
    "sqlite3_prepare_v2",   "sqlite3_prepare_v3",
    "sqlite3_prepare16",    "sqlite3_prepare16_v2",
    "sqlite3_prepare16_v3", "sqlite3_reset",
    "sqlite3_finalize",	    "sqlite3_sql",
    "sqlite3_db_filename",  "sqlite3_changes",
    "sqlite3_errmsg",	    "sqlite3_extended_errcode",
    "sqlite3_column_count",
};
static const char *const sonames[] = {"libsqlite3.so.0", "libsqlcipher.so.0", NULL};
static struct db_lib lib = {
    .names = names, .nnames = F_N, .sonames = sonames, .driver = "libsqlite3"};

typedef int (*prep_fn)(sqlite3 *, const void *, int, sqlite3_stmt **, const void **);
typedef int (*prep3_fn)(sqlite3 *, const void *, int, unsigned, sqlite3_stmt **, const void **);
typedef int (*stmt_fn)(sqlite3_stmt *);
typedef const char *(*sql_fn)(sqlite3_stmt *);
typedef const char *(*filename_fn)(sqlite3 *, const char *);
typedef int (*db_int_fn)(sqlite3 *);
typedef const char *(*db_str_fn)(sqlite3 *);

static const struct {
	int code;
	const char *name;
} sqlite_codes[] = {
    {0, "SQLITE_OK"},
    {1, "SQLITE_ERROR"},
    {2, "SQLITE_INTERNAL"},
    {3, "SQLITE_PERM"},
    {4, "SQLITE_ABORT"},
    {5, "SQLITE_BUSY"},
    {6, "SQLITE_LOCKED"},
    {7, "SQLITE_NOMEM"},
    {8, "SQLITE_READONLY"},
    {9, "SQLITE_INTERRUPT"},
    {10, "SQLITE_IOERR"},
    {11, "SQLITE_CORRUPT"},
    {12, "SQLITE_NOTFOUND"},
    {13, "SQLITE_FULL"},
    {14, "SQLITE_CANTOPEN"},
    {15, "SQLITE_PROTOCOL"},
    {16, "SQLITE_EMPTY"},
    {17, "SQLITE_SCHEMA"},
    {18, "SQLITE_TOOBIG"},
    {19, "SQLITE_CONSTRAINT"},
    {20, "SQLITE_MISMATCH"},
    {21, "SQLITE_MISUSE"},
    {22, "SQLITE_NOLFS"},
    {23, "SQLITE_AUTH"},
    {24, "SQLITE_FORMAT"},
    {25, "SQLITE_RANGE"},
    {26, "SQLITE_NOTADB"},
    {27, "SQLITE_NOTICE"},
    {28, "SQLITE_WARNING"},
    {100, "SQLITE_ROW"},
    {101, "SQLITE_DONE"},
    {256, "SQLITE_OK_LOAD_PERMANENTLY"},
    {257, "SQLITE_ERROR_MISSING_COLLSEQ"},
    {261, "SQLITE_BUSY_RECOVERY"},
    {262, "SQLITE_LOCKED_SHAREDCACHE"},
    {264, "SQLITE_READONLY_RECOVERY"},
    {266, "SQLITE_IOERR_READ"},
    {267, "SQLITE_CORRUPT_VTAB"},
    {270, "SQLITE_CANTOPEN_NOTEMPDIR"},
    {275, "SQLITE_CONSTRAINT_CHECK"},
    {279, "SQLITE_AUTH_USER"},
    {283, "SQLITE_NOTICE_RECOVER_WAL"},
    {284, "SQLITE_WARNING_AUTOINDEX"},
    {512, "SQLITE_OK_SYMLINK"},
    {513, "SQLITE_ERROR_RETRY"},
    {516, "SQLITE_ABORT_ROLLBACK"},
    {517, "SQLITE_BUSY_SNAPSHOT"},
    {518, "SQLITE_LOCKED_VTAB"},
    {520, "SQLITE_READONLY_CANTLOCK"},
    {522, "SQLITE_IOERR_SHORT_READ"},
    {523, "SQLITE_CORRUPT_SEQUENCE"},
    {526, "SQLITE_CANTOPEN_ISDIR"},
    {531, "SQLITE_CONSTRAINT_COMMITHOOK"},
    {539, "SQLITE_NOTICE_RECOVER_ROLLBACK"},
    {769, "SQLITE_ERROR_SNAPSHOT"},
    {773, "SQLITE_BUSY_TIMEOUT"},
    {776, "SQLITE_READONLY_ROLLBACK"},
    {778, "SQLITE_IOERR_WRITE"},
    {779, "SQLITE_CORRUPT_INDEX"},
    {782, "SQLITE_CANTOPEN_FULLPATH"},
    {787, "SQLITE_CONSTRAINT_FOREIGNKEY"},
    {1032, "SQLITE_READONLY_DBMOVED"},
    {1034, "SQLITE_IOERR_FSYNC"},
    {1038, "SQLITE_CANTOPEN_CONVPATH"},
    {1043, "SQLITE_CONSTRAINT_FUNCTION"},
    {1288, "SQLITE_READONLY_CANTINIT"},
    {1290, "SQLITE_IOERR_DIR_FSYNC"},
    {1294, "SQLITE_CANTOPEN_DIRTYWAL"},
    {1299, "SQLITE_CONSTRAINT_NOTNULL"},
    {1544, "SQLITE_READONLY_DIRECTORY"},
    {1546, "SQLITE_IOERR_TRUNCATE"},
    {1550, "SQLITE_CANTOPEN_SYMLINK"},
    {1555, "SQLITE_CONSTRAINT_PRIMARYKEY"},
    {1802, "SQLITE_IOERR_FSTAT"},
    {1811, "SQLITE_CONSTRAINT_TRIGGER"},
    {2058, "SQLITE_IOERR_UNLOCK"},
    {2067, "SQLITE_CONSTRAINT_UNIQUE"},
    {2314, "SQLITE_IOERR_RDLOCK"},
    {2323, "SQLITE_CONSTRAINT_VTAB"},
    {2570, "SQLITE_IOERR_DELETE"},
    {2579, "SQLITE_CONSTRAINT_ROWID"},
    {2826, "SQLITE_IOERR_BLOCKED"},
    {2835, "SQLITE_CONSTRAINT_PINNED"},
    {3082, "SQLITE_IOERR_NOMEM"},
    {3091, "SQLITE_CONSTRAINT_DATATYPE"},
    {3338, "SQLITE_IOERR_ACCESS"},
    {3594, "SQLITE_IOERR_CHECKRESERVEDLOCK"},
    {3850, "SQLITE_IOERR_LOCK"},
    {4106, "SQLITE_IOERR_CLOSE"},
    {4362, "SQLITE_IOERR_DIR_CLOSE"},
    {4618, "SQLITE_IOERR_SHMOPEN"},
    {4874, "SQLITE_IOERR_SHMSIZE"},
    {5130, "SQLITE_IOERR_SHMLOCK"},
    {5386, "SQLITE_IOERR_SHMMAP"},
    {5642, "SQLITE_IOERR_SEEK"},
    {5898, "SQLITE_IOERR_DELETE_NOENT"},
    {6154, "SQLITE_IOERR_MMAP"},
    {6410, "SQLITE_IOERR_GETTEMPPATH"},
    {6666, "SQLITE_IOERR_CONVPATH"},
    {6922, "SQLITE_IOERR_VNODE"},
    {7178, "SQLITE_IOERR_AUTH"},
    {7434, "SQLITE_IOERR_BEGIN_ATOMIC"},
    {7690, "SQLITE_IOERR_COMMIT_ATOMIC"},
    {7946, "SQLITE_IOERR_ROLLBACK_ATOMIC"},
    {8202, "SQLITE_IOERR_DATA"},
    {8458, "SQLITE_IOERR_CORRUPTFS"},
};

static const char *code_name(int code)
{
	size_t lo = 0, hi = sizeof(sqlite_codes) / sizeof(sqlite_codes[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sqlite_codes[mid].code == code)
			return sqlite_codes[mid].name;
		if (sqlite_codes[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- prepare ------------------------------------------------------------------------------ */

/* One statement's length without the separator and blanks after it (executescript's tail). */
static size_t trim(const char *c, size_t n)
{
	while (n && (c[n - 1] == ';' || c[n - 1] == ' ' || c[n - 1] == '\n' || c[n - 1] == '\t' ||
		     c[n - 1] == '\r'))
		n--;
	return n;
}

static size_t trim16(const uint16_t *w, size_t n)
{
	while (n && (w[n - 1] == ';' || w[n - 1] == ' ' || w[n - 1] == '\n' || w[n - 1] == '\t' ||
		     w[n - 1] == '\r'))
		n--;
	return n;
}

/* The caller's statement text (up to the tail when known) into out. */
static size_t given_text(const void *sql, int nbyte, const void *tail, int utf16, char *out,
			 size_t cap, struct glass_sql_info *info)
{
	if (utf16) {
		const uint16_t *w = sql;
		size_t n = tail		? (size_t)((const char *)tail - (const char *)sql) / 2
			   : nbyte >= 0 ? (size_t)nbyte / 2
					: db_wcslen16(w);
		for (size_t k = 0; k < n; k++)
			if (!w[k]) {
				n = k;
				break;
			}
		return db_text16(w, trim16(w, n), 0, out, cap, info);
	}
	const char *c = sql;
	size_t n = tail		? (size_t)((const char *)tail - c)
		   : nbyte >= 0 ? strnlen(c, (size_t)nbyte)
				: strlen(c);
	return glass_cap_sql_text(c, trim(c, n), 0, out, cap, info);
}

/* A statement that did not prepare (no such table, syntax error) failed as the application
 * sees it: a span of the prepare, with the error. */
static void failed(const struct db_api *a, sqlite3 *db, const void *sql, int nbyte, int utf16,
		   int rc, uint64_t t0)
{
	int e = errno;
	char text[GLASS_MAX_ATTR_STR + 1];
	struct glass_sql_info info;
	size_t tl = given_text(sql, nbyte, NULL, utf16, text, sizeof(text), &info);
	const char *f =
	    a->fn[F_DB_FILENAME] && db ? ((filename_fn)a->fn[F_DB_FILENAME])(db, "main") : NULL;
	struct db_begin b = {.system = "sqlite",
			     .driver = a->driver,
			     .text = text,
			     .text_len = tl,
			     .info = &info,
			     .dbname = f,
			     .dbname_len = f ? strlen(f) : 0};
	uint64_t op = db_begin(&b, t0);
	if (op) {
		struct db_end en;
		db_end_init(&en);
		en.error = 1;
		en.status = code_name(rc & 0xff);
		int ext = a->fn[F_EXTENDED_ERRCODE] && db
			      ? ((db_int_fn)a->fn[F_EXTENDED_ERRCODE])(db)
			      : rc;
		en.etype = (ext & 0xff) == (rc & 0xff) ? code_name(ext) : en.status;
		en.msg = a->fn[F_ERRMSG] && db ? ((db_str_fn)a->fn[F_ERRMSG])(db) : NULL;
		en.msg_len = en.msg ? strlen(en.msg) : 0;
		en.norm = text;
		en.norm_len = tl;
		db_end(op, &en);
	}
	errno = e;
}

/* Records the text of a statement just prepared (depth: the nesting before the call). */
static void prepared(const struct db_api *a, sqlite3 *db, sqlite3_stmt *st, const void *sql,
		     int nbyte, const void *tail, int utf16, int depth)
{
	int e = errno;
	if (depth || !db_on()) { /* internal: not traced; forget a stale entry of that address */
		db_drop(db_find((uintptr_t)st));
		goto out;
	}
	int i = db_claim((uintptr_t)st);
	if (i < 0)
		goto out;
	struct db_slot *s = db_slot(i);
	memset(s, 0, sizeof(*s));
	s->family = DB_SQLITE;
	s->conn = (uintptr_t)db;
	const char *u = a->fn[F_SQL] ? ((sql_fn)a->fn[F_SQL])(st) : NULL; /* v2/v3: one stmt */
	if (u)
		s->text_len = (uint32_t)glass_cap_sql_text(u, trim(u, strlen(u)), 0, s->text,
							   db_text_cap(), &s->info);
	else
		s->text_len =
		    (uint32_t)given_text(sql, nbyte, tail, utf16, s->text, db_text_cap(), &s->info);
	s->has_text = 1;
	db_slot_named(s, NULL);
	if (a->fn[F_COLUMN_COUNT] && ((stmt_fn)a->fn[F_COLUMN_COUNT])(st) > 0)
		s->flags |= DB_F_RESULT;
	const char *f =
	    a->fn[F_DB_FILENAME] ? ((filename_fn)a->fn[F_DB_FILENAME])(db, "main") : NULL;
	if (f && f[0]) {
		s->dbname = f; /* lives as long as the connection, which outlives the statement */
		s->dbname_len = strlen(f);
	}
out:
	errno = e;
}

/* After a prepare call: the statement's slot, or the span of a statement refused at once. */
static int prepare_done(const struct db_api *a, int skip, uint64_t t0, sqlite3 *db, const void *sql,
			int nbyte, sqlite3_stmt **out, const void *tail, int utf16, int rc)
{
	if (rc == SQLITE_OK && out && *out)
		prepared(a, db, *out, sql, nbyte, tail, utf16, skip);
	else if (rc != SQLITE_OK && !skip && sql)
		failed(a, db, sql, nbyte, utf16, rc, t0);
	return rc;
}

/* sqlite3_prepare{,_v2,16,16_v2}, and with `flags` the _v3 ones (args: the call's). */
#define PREPARE_BODY(fidx, utf16, type, args)                                                      \
	{                                                                                          \
		DB_WRAP_BEGIN(&lib, fidx, type, SQLITE_MISUSE)                                     \
		int rc = f args;                                                                   \
		DB_WRAP_END()                                                                      \
		if (!on)                                                                           \
			return rc;                                                                 \
		return prepare_done(a, skip, t0, db, sql, nbyte, out, tail ? *tail : NULL, utf16,  \
				    rc);                                                           \
	}

#define PREPARE(name, fidx, sqltype, utf16)                                                        \
	DB_EXPORT int name(sqlite3 *db, sqltype sql, int nbyte, sqlite3_stmt **out, sqltype *tail) \
	    PREPARE_BODY(fidx, utf16, prep_fn, (db, sql, nbyte, out, (const void **)tail))

#define PREPARE3(name, fidx, sqltype, utf16)                                                       \
	DB_EXPORT int name(sqlite3 *db, sqltype sql, int nbyte, unsigned flags,                    \
			   sqlite3_stmt **out, sqltype *tail)                                      \
	    PREPARE_BODY(fidx, utf16, prep3_fn, (db, sql, nbyte, flags, out, (const void **)tail))

PREPARE(sqlite3_prepare, F_PREPARE, const char *, 0)
PREPARE(sqlite3_prepare_v2, F_PREPARE_V2, const char *, 0)
PREPARE3(sqlite3_prepare_v3, F_PREPARE_V3, const char *, 0)
PREPARE(sqlite3_prepare16, F_PREPARE16, const void *, 1)
PREPARE(sqlite3_prepare16_v2, F_PREPARE16_V2, const void *, 1)
PREPARE3(sqlite3_prepare16_v3, F_PREPARE16_V3, const void *, 1)

/* ---- executions --------------------------------------------------------------------------- */

/* Ends s's execution after a step returned rc (DONE or an error), or early (rc 0). */
static void finish(const struct db_api *a, struct db_slot *s, int rc)
{
	struct db_end e;
	db_end_init(&e);
	if (s->flags & DB_F_RESULT)
		e.returned = s->rows;
	sqlite3 *db = (sqlite3 *)s->conn;
	if (rc == SQLITE_DONE) {
		if ((s->flags & DB_F_DML) && a->fn[F_CHANGES])
			e.affected = ((db_int_fn)a->fn[F_CHANGES])(db);
	} else if (rc != 0) {
		e.error = 1;
		e.status = code_name(rc & 0xff);
		int ext =
		    a->fn[F_EXTENDED_ERRCODE] ? ((db_int_fn)a->fn[F_EXTENDED_ERRCODE])(db) : rc;
		e.etype = (ext & 0xff) == (rc & 0xff) ? code_name(ext) : e.status;
		e.msg = a->fn[F_ERRMSG] ? ((db_str_fn)a->fn[F_ERRMSG])(db) : NULL;
		e.msg_len = e.msg ? strlen(e.msg) : 0;
		e.norm = s->text;
		e.norm_len = s->text_len;
	}
	db_end(s->op, &e);
	s->op = 0;
	s->rows = 0;
}

static void stepped(const struct db_api *a, int i, int rc, uint64_t t0)
{
	struct db_slot *s = db_slot(i);
	if (!s->has_text || s->family != DB_SQLITE)
		return;
	int e = errno;
	if (!s->op) { /* the first step of an execution */
		struct db_begin b = {.name = s->name,
				     .name_len = s->name_len,
				     .system = "sqlite",
				     .driver = a->driver,
				     .text = s->text,
				     .text_len = s->text_len,
				     .info = &s->info,
				     .dbname = s->dbname,
				     .dbname_len = s->dbname_len};
		uint64_t op = db_begin(&b, t0);
		if (!op)
			goto out;
		db_own(s, op, t0);
	} else if (!db_mine(s)) { /* begun on another thread, or before fork: not ours to end */
		if (rc != SQLITE_ROW)
			s->op = 0;
		goto out;
	}
	if (rc == SQLITE_ROW)
		s->rows++;
	else
		finish(a, s, rc);
out:
	errno = e;
}

DB_EXPORT int sqlite3_step(sqlite3_stmt *st)
{
	DB_WRAP_BEGIN(&lib, F_STEP, stmt_fn, SQLITE_MISUSE)
	int i = on ? db_find((uintptr_t)st) : -1;
	int rc = f(st);
	DB_WRAP_END()
	if (i >= 0 && !skip)
		stepped(a, i, rc, t0);
	return rc;
}

/* reset/finalize: an execution still open ends here (the caller stopped reading). */
static int closing(int fidx, sqlite3_stmt *st, const void *ra, int drop)
{
	DB_WRAP_BEGIN_FROM(&lib, ra, fidx, stmt_fn, SQLITE_MISUSE)
	int i = on ? db_find((uintptr_t)st) : -1;
	int rc = f(st);
	DB_WRAP_END()
	if (i >= 0) {
		int e = errno;
		struct db_slot *s = db_slot(i);
		if (!skip && s->op && db_mine(s))
			finish(a, s, 0);
		if (!skip)
			s->op = 0;
		if (drop) /* the statement is gone, whoever freed it */
			db_drop(i);
		errno = e;
	}
	return rc;
}

DB_EXPORT int sqlite3_reset(sqlite3_stmt *st)
{
	return closing(F_RESET, st, DB_CALLER, 0);
}

DB_EXPORT int sqlite3_finalize(sqlite3_stmt *st)
{
	return closing(F_FINALIZE, st, DB_CALLER, 1);
}
