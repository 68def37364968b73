/* preload/capture-db.h — what the database driver hooks share (capture-db.c): finding the
 * library a caller really meant, a fixed table of statements and connections, statement text,
 * error messages by policy, and the span's attributes. Hidden inside libglass.so.
 *
 * The hooks (capture-sqlite.c, capture-libpq.c, capture-odbc.c, capture-mysql.c) are exported
 * wrappers with the drivers' names. Every wrapper calls the real function first, with the
 * caller's arguments, and returns what it returned with errno as it left it; only then, when
 * tracing is active and the "sql" capture is on, it records. docs/capture.md says what a span
 * is for each driver.
 */
#ifndef GLASS_CAPTURE_DB_H
#define GLASS_CAPTURE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "sql-normalize.h"

#define DB_EXPORT __attribute__((visibility("default")))
/* The caller's address: which library's function it meant is decided by where it sits. */
#define DB_CALLER __builtin_return_address(0)

/* ---- the real functions ------------------------------------------------------------------

 * A process can hold two copies of a driver library (the system libpq and the one a wheel
 * bundles as libpq-1a2b3c.so.5): without the preload each caller binds to its own, so a
 * wrapper must forward to the copy the caller would have reached. The first function name of a
 * family identifies a provider; providers are found, in this order, in the global scope after
 * us (RTLD_NEXT: the sqlite3 CLI, psql), in the scope of the object the call comes from
 * (Python extensions load their libraries RTLD_LOCAL), by the usual sonames, then in any
 * loaded object. Results are cached per calling object (address range) without locks. */

#define DB_MAX_FNS	 48
#define DB_MAX_PROVIDERS 8
#define DB_MAX_CALLERS	 32

struct db_api {
	uintptr_t base;	    /* the provider's load address: its identity */
	const char *driver; /* glass.driver */
	void *fn[DB_MAX_FNS];
};

struct db_lib {
	const char *const *names; /* function names; index = fn index; names[0] identifies */
	size_t nnames;
	const char *const *sonames; /* NULL-terminated */
	const char *driver;	    /* glass.driver of a provider (see db_driver_name) */
	/* filled at run time */
	struct db_api api[DB_MAX_PROVIDERS];
	int api_ready[DB_MAX_PROVIDERS];
	int api_reserved;
	int global; /* 1 + index of the provider found with RTLD_NEXT, 0 = none */
	struct {
		uintptr_t lo, hi;
		int api;
		int ready;
	} caller[DB_MAX_CALLERS];
	int caller_reserved;
};

const struct db_api *db_api_slow(struct db_lib *L, const void *ra);

/* The provider for a call from `ra`; NULL only when no loaded object has the functions. */
static inline const struct db_api *db_api_for(struct db_lib *L, const void *ra)
{
	int g = __atomic_load_n(&L->global, __ATOMIC_ACQUIRE);
	if (__builtin_expect(g > 0, 1))
		return &L->api[g - 1];
	int n = __atomic_load_n(&L->caller_reserved, __ATOMIC_ACQUIRE);
	if (n > DB_MAX_CALLERS)
		n = DB_MAX_CALLERS;
	uintptr_t a = (uintptr_t)ra;
	for (int i = 0; i < n; i++)
		if (__atomic_load_n(&L->caller[i].ready, __ATOMIC_ACQUIRE) &&
		    a >= L->caller[i].lo && a < L->caller[i].hi)
			return &L->api[L->caller[i].api];
	return db_api_slow(L, ra);
}

/* ---- a hook's prologue and epilogue -----------------------------------------------------

 * Every driver hook has one shape: find the function the caller meant, call it first, then
 * record only when the "sql" capture is on and this is the outermost hooked call:
 *
 *	DB_EXPORT int mysql_query(MYSQL *m, const char *q)
 *	{
 *		DB_WRAP_BEGIN(&lib, F_QUERY, query_fn, 1)	(1: returned when no driver has it)
 *		int rc = f(m, q);
 *		DB_WRAP_END()
 *		if (!skip)
 *			... record, the operation starting at t0 ...
 *		return rc;
 *	}
 *
 * DB_WRAP_BEGIN declares `a` (the provider), `f` (its function fidx, of type `type`), `on`
 * (the capture is on), `skip` (do not record: the capture is off, or this call is nested in
 * another hooked call, e.g. a driver calling its own API or running its own queries) and `t0`
 * (ticks before the call; 0 when skipped). DB_WRAP_END closes the nesting guard.
 * DB_WRAP_BEGIN_FROM is the same in a helper that several wrappers call with their DB_CALLER.
 * Adding a driver function is one row in its library's name table and one wrapper of this
 * shape. */
#define DB_WRAP_BEGIN_FROM(L, ra, fidx, type, fail)                                                \
	const struct db_api *a = db_api_for(L, ra);                                                \
	type f = a ? (type)a->fn[fidx] : NULL;                                                     \
	if (!f)                                                                                    \
		return fail;                                                                       \
	int on = db_on();                                                                          \
	int skip = on ? glass_cap_enter() : 1;                                                     \
	uint64_t t0 = skip ? 0 : glass_cap_now();                                                  \
	(void)t0;

#define DB_WRAP_BEGIN(L, fidx, type, fail) DB_WRAP_BEGIN_FROM(L, DB_CALLER, fidx, type, fail)

#define DB_WRAP_END()                                                                              \
	if (on)                                                                                    \
		glass_cap_leave();

/* ---- statements and connections ---------------------------------------------------------

 * One table for sqlite3_stmt*, SQLHSTMT, MYSQL_STMT*, and for connections with a query in
 * flight (PGconn* after PQsendQuery, MYSQL* after mysql_real_query with a result set to come,
 * MYSQL_RES* of mysql_use_result) and libpq prepared statements (a hash of connection and
 * name, odd so it never equals a pointer). Open addressing over DB_SLOTS keys with at most
 * DB_PROBE probes; a slot holds the statement's text, normalised once, and the execution in
 * progress. Mapped on first use (only in a traced process); full: the statement is not traced. */

#define DB_SLOTS 4096
#define DB_PROBE 32

enum db_family { DB_SQLITE = 1, DB_PG, DB_ODBC, DB_MYSQL };

#define DB_NAME_MAX (GLASS_SQL_OPERATION_MAX + GLASS_SQL_TABLE_MAX + 16)

struct db_slot {
	uintptr_t conn;	   /* sqlite3*, SQLHDBC, MYSQL*, PGconn* */
	const void *owner; /* the thread whose stream holds op */
	uint32_t epoch;
	uint8_t family;
	uint8_t has_text; /* text/info hold a statement */
	uint8_t waiting;  /* ODBC: execution continues (SQL_NEED_DATA, SQL_STILL_EXECUTING) */
	uint8_t flags;
	uint64_t op;	    /* open operation, 0: none */
	uint64_t start;	    /* ticks before the call that began it */
	int64_t rows;	    /* rows returned so far */
	int64_t affected;   /* rows changed, -1: not known */
	const char *dbname; /* sqlite: the file of "main", valid while the statement lives */
	size_t dbname_len;
	struct glass_sql_info info;
	char name[DB_NAME_MAX]; /* span name, made once with the text (db_name) */
	uint32_t name_len;
	uint32_t text_len;
	char text[]; /* db_text_cap() bytes */
};

/* Slot flags */
#define DB_F_PREPARE 0x1 /* libpq: the text of a prepared statement (PQexecPrepared) */
#define DB_F_RESULT  0x2 /* the execution returns rows (result columns) */
#define DB_F_DML     0x4 /* the statement changes rows (db_is_dml) */

int db_table_ready(void);
size_t db_text_cap(void);
/* Index of key's slot, or -1. */
int db_find(uintptr_t key);
/* key's slot, existing (as it is) or new (zeroed), or -1 when the table is full around key
 * (or not mapped). */
int db_claim(uintptr_t key);
void db_drop(int i);
struct db_slot *db_slot(int i);
/* Drops every slot whose conn is `conn` (a connection closed: its prepared statements). */
void db_drop_conn(uintptr_t conn);
/* Moves slot i's content to key (mysql_use_result: the result takes the query over). */
int db_move(int i, uintptr_t key);

/* Is op on s recorded on this thread's stream (and not a parent's before fork)? */
int db_mine(const struct db_slot *s);
void db_own(struct db_slot *s, uint64_t op, uint64_t start);

/* ---- text ---------------------------------------------------------------------------------- */

/* glass_cap_sql_text() of UTF-16 text (native order) of n units (ODBC W functions,
 * sqlite3_prepare16). */
size_t db_text16(const uint16_t *sql, size_t n, unsigned flags, char *out, size_t cap,
		 struct glass_sql_info *info);
/* UTF-16 to UTF-8, at most cap-1 bytes (cut at a character), NUL-terminated; returns bytes. */
size_t db_utf16_to_8(const uint16_t *s, size_t n, char *out, size_t cap, int *cut);
size_t db_wcslen16(const uint16_t *s);

/*
 * An error message as the policy allows: raw keeps it. Normalised: a driver's message can
 * quote a value (PostgreSQL 'invalid input syntax for type integer: "hunter2"', MySQL
 * "Duplicate entry 'x'", "... near '<rest of the statement>' at line 1", SQLite 'near
 * "'x'": syntax error'): every quoted part that is not a name of the normalised statement
 * `norm` (NULL: none is) becomes ?, and MySQL's "near '...'" fragment is normalised.
 */
size_t db_scrub(const char *msg, size_t len, const char *norm, size_t norm_len, char *out,
		size_t cap);

/* ---- spans --------------------------------------------------------------------------------- */

struct db_begin {
	const char *name; /* span name (db_name), or NULL: made from prefix and info */
	size_t name_len;
	const char *system; /* db.system */
	const char *driver; /* glass.driver */
	const char *text;   /* normalised statement */
	size_t text_len;
	const struct glass_sql_info *info;
	const char *prefix; /* span name prefix ("PREPARE "), or NULL */
	const char *dbname; /* db.name */
	size_t dbname_len;
	const char *host; /* server.address */
	size_t host_len;
	int port;			     /* server.port, 0: unknown */
	const char *extra_key[2], *extra[2]; /* more string attributes (ODBC driver, DSN) */
};

struct db_end {
	int error;
	int64_t returned;   /* db.response.returned_rows, -1: none */
	int64_t affected;   /* db.response.affected_rows, -1: none */
	const char *status; /* db.response.status_code (also error.type when etype is NULL) */
	const char *etype;  /* error.type */
	const char *msg;    /* error.message, scrubbed here */
	size_t msg_len;
	const char *norm; /* the normalised statement, for db_scrub */
	size_t norm_len;
};

/* A span name: prefix (or NULL) + "SELECT users", or the operation alone, or "SQL". */
size_t db_name(const struct glass_sql_info *info, const char *prefix, char *out, size_t cap);
/* The span name and DB_F_DML of a slot whose text and info were just set. */
void db_slot_named(struct db_slot *s, const char *prefix);

/* Opens the operation (start: ticks before the host's call); 0 when not recording. */
uint64_t db_begin(const struct db_begin *b, uint64_t start);
void db_end(uint64_t op, const struct db_end *e);
static inline void db_end_init(struct db_end *e)
{
	*e = (struct db_end){.returned = -1, .affected = -1};
}

int db_on(void);
/* Does the statement change rows (INSERT, UPDATE, DELETE, REPLACE, MERGE, UPSERT)? Only then
 * is a driver's "rows affected" recorded (drivers say 0 or repeat the last count otherwise). */
int db_is_dml(const struct glass_sql_info *in);

#endif
