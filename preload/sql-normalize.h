/* preload/sql-normalize.h — SQL text without its literals, and what a statement does to which
 * table. */
#ifndef GLASS_SQL_NORMALIZE_H
#define GLASS_SQL_NORMALIZE_H

#include <stddef.h>

/*
 * Pure functions for the DB driver hooks (sqlite3_prepare_v2, PQexec, SQLExecDirectW, ...): one
 * linear pass over the caller's bytes, no allocation, no global state, output bounded by the
 * caller's buffer. Any byte sequence is accepted (non-UTF-8 bytes are identifier characters).
 * docs/capture-parsers.md lists every rule with examples.
 */

/*
 * Dialect flags. The default is PostgreSQL with standard_conforming_strings on (its default
 * since 9.1) and SQLite: a backslash in '...' is an ordinary character, E'...' strings take
 * backslash escapes, "..." is an identifier.
 */
#define GLASS_SQL_BACKSLASH_ESCAPES                                                                \
	0x1 /* '\'' escapes in '...' (PostgreSQL with                                              \
	     * standard_conforming_strings off) */
#define GLASS_SQL_MYSQL                                                                            \
	0x2 /* MySQL: backslash escapes, "..." is a string, # starts a comment,                    \
	     * a word may start with digits (2fa_codes) */

/* Appended when the normalized text does not fit the caller's buffer (ASCII, 3 bytes). */
#define GLASS_SQL_TRUNCATED_MARK "..."

/*
 * Writes the normalized form of sql[0, len) to out (always NUL-terminated when outlen > 0):
 * literals (strings, dollar-quoted strings, numbers, TRUE/FALSE) become ?, comments go, runs of
 * whitespace become one space, IN (?, ?, ...) and ARRAY[?, ...] lists become (?) and [?], and a
 * VALUES list of tuples of the same shape keeps its first tuple. Identifiers, quoted identifiers,
 * keywords, NULL and placeholders (?, ?1, $1, :name, @name, %s, %(name)s) are kept as written.
 * When the result does not fit, it ends with GLASS_SQL_TRUNCATED_MARK, cut at a UTF-8 character
 * boundary, and *truncated (if not NULL) is set to 1, else 0. Returns the length written.
 * flags: GLASS_SQL_*.
 */
size_t glass_sql_normalize(const char *sql, size_t len, char *out, size_t outlen, unsigned flags,
			   int *truncated);

#define GLASS_SQL_OPERATION_MAX 16
#define GLASS_SQL_TABLE_MAX	128

/* What glass_sql_describe() found; empty strings when it found nothing. */
struct glass_sql_info {
	/* First keyword, upper-cased: SELECT, INSERT, BEGIN, ...; for WITH the main statement's
	 * verb (SELECT/INSERT/UPDATE/DELETE/MERGE), or "WITH" when there is none at the top. */
	char operation[GLASS_SQL_OPERATION_MAX];
	/* Main table as written (schema.table, "Quoted", `ticked`): FROM of SELECT and DELETE,
	 * INTO of INSERT/REPLACE/MERGE, the target of UPDATE, CREATE/DROP/ALTER/TRUNCATE TABLE,
	 * COPY. Cut at GLASS_SQL_TABLE_MAX - 1 bytes. */
	char table[GLASS_SQL_TABLE_MAX];
};

/*
 * Best-effort description of the first statement of sql[0, len): its operation and main table.
 * Never fails; unknown statements leave table empty. flags: GLASS_SQL_*.
 */
void glass_sql_describe(const char *sql, size_t len, unsigned flags, struct glass_sql_info *info);

/*
 * make(sql, len, flags, out, cap, info, arg) through a table of the texts it made last: the same
 * sql, len, flags, mode and cap give the same out, return value and *info (when info is not
 * NULL) without calling make again. mode is the caller's own part of the key (what else make's
 * result depends on). Statements over 1 KiB are made each time. Safe from any thread; never
 * waits (a busy entry is a miss).
 */
typedef size_t (*glass_sql_make_fn)(const char *sql, size_t len, unsigned flags, char *out,
				    size_t cap, struct glass_sql_info *info, void *arg);
size_t glass_sql_cached(const char *sql, size_t len, unsigned flags, uint32_t mode, char *out,
			size_t cap, struct glass_sql_info *info, glass_sql_make_fn make, void *arg);

#endif /* GLASS_SQL_NORMALIZE_H */
