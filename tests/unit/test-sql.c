/* tests/unit/test-sql.c — what glass keeps of a SQL statement: its shape, never its values. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preload/sql-normalize.h"

struct norm_case {
	const char *in, *out;
};

/* THEN each input normalizes to its output (flags as given), not truncated. */
static void expect_normalized(const struct norm_case *cases, size_t n, unsigned flags)
{
	char out[1024];

	for (size_t i = 0; i < n; i++) {
		int cut = -1;
		size_t len = glass_sql_normalize(cases[i].in, strlen(cases[i].in), out, sizeof(out),
						 flags, &cut);

		ck_assert_msg(strcmp(out, cases[i].out) == 0,
			      "\n  in:   %s\n  got:  %s\n  want: %s", cases[i].in, out,
			      cases[i].out);
		ck_assert_uint_eq(len, strlen(out));
		ck_assert_int_eq(cut, 0);
	}
}

#define EXPECT(cases, flags) expect_normalized(cases, sizeof(cases) / sizeof(cases[0]), flags)

START_TEST(strings_become_placeholders)
{
	static const struct norm_case cases[] = {
	    {"SELECT * FROM users WHERE name = 'bob'", "SELECT * FROM users WHERE name = ?"},
	    {"SELECT 'O''Brien', 'a''''b'", "SELECT ?, ?"},
	    /* standard_conforming_strings on: a backslash is just a character */
	    {"SELECT 'C:\\temp\\' , x", "SELECT ? , x"},
	    /* E'' strings always take backslash escapes */
	    {"SELECT E'it\\'s', e'\\\\'", "SELECT ?, ?"},
	    {"SELECT X'ff00', B'0101', N'nchar', U&'d\\0061t\\+000061'", "SELECT ?, ?, ?, ?"},
	    {"SELECT DATE '2024-01-02', INTERVAL '1 day', '{1,2}'::int[]",
	     "SELECT DATE ?, INTERVAL ?, ?::int[]"},
	    {"SELECT $$it's $1 here$$, $fn$ body $$ inner $$ $fn$", "SELECT ?, ?"},
	    {"SELECT $a$x$b$y$b$z$a$", "SELECT ?"},
	    /* unterminated: the rest is the string, nothing of it leaks */
	    {"UPDATE t SET pw = 'hunter2 WHERE id = 1", "UPDATE t SET pw = ?"},
	    {"SELECT $q$ never closed", "SELECT ?"},
	    {"SELECT _utf8mb4'x'", "SELECT _utf8mb4?"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(backslash_escapes_when_asked)
{
	/* GIVEN PostgreSQL with standard_conforming_strings off */
	static const struct norm_case pg_off[] = {
	    {"SELECT 'it\\'s', x FROM t", "SELECT ?, x FROM t"},
	};
	/* GIVEN MySQL: backslashes, "strings", # comments, names starting with digits */
	static const struct norm_case mysql[] = {
	    {"SELECT * FROM `order` WHERE note = \"say \\\"hi\\\"\" # why\nAND id = 5",
	     "SELECT * FROM `order` WHERE note = ? AND id = ?"},
	    {"SELECT * FROM 2fa_codes WHERE code = '12\\'3'",
	     "SELECT * FROM 2fa_codes WHERE code = ?"},
	    {"/* a /* b */ SELECT 1", "SELECT ?"}, /* MySQL comments do not nest */
	};

	EXPECT(pg_off, GLASS_SQL_BACKSLASH_ESCAPES);
	EXPECT(mysql, GLASS_SQL_MYSQL);
}
END_TEST

START_TEST(numbers_become_placeholders_but_not_names)
{
	static const struct norm_case cases[] = {
	    {"SELECT 1, 42, 3.14, .5, 1., 1e10, 1.5E-3, 0x1F, 0b101, 1_000_000",
	     "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"},
	    {"SELECT t1.c2, col_3, \"9lives\" FROM t1", "SELECT t1.c2, col_3, \"9lives\" FROM t1"},
	    {"SELECT * FROM t WHERE a = $1 AND b = $12",
	     "SELECT * FROM t WHERE a = $1 AND b = $12"},
	    /* a sign where a value is expected belongs to it; an operator stays */
	    {"SELECT -1, +2, x - 1, x-1, 5-3, (-1.5) WHERE a = -7 AND b IN (-1, -2)",
	     "SELECT ?, ?, x - ?, x-?, ?-?, (?) WHERE a = ? AND b IN (?)"},
	    {"SELECT a[1], a[1:2] FROM t", "SELECT a[?], a[?:?] FROM t"},
	    /* PostgreSQL reads 123abc as 123 AS abc: the number goes */
	    {"SELECT 123abc", "SELECT ?abc"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(booleans_go_null_stays)
{
	static const struct norm_case cases[] = {
	    {"SELECT * FROM t WHERE active = TRUE AND deleted = false AND note IS NULL",
	     "SELECT * FROM t WHERE active = ? AND deleted = ? AND note IS NULL"},
	    {"INSERT INTO t VALUES (NULL, true)", "INSERT INTO t VALUES (NULL, ?)"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(placeholders_are_kept_as_written)
{
	static const struct norm_case cases[] = {
	    {"SELECT * FROM t WHERE a = ? AND b = ?2 AND c = :name AND d = @p1 AND e = $id",
	     "SELECT * FROM t WHERE a = ? AND b = ?2 AND c = :name AND d = @p1 AND e = $id"},
	    {"INSERT INTO t (a, b) VALUES (%s, %(user_id)s)",
	     "INSERT INTO t (a, b) VALUES (%s, %(user_id)s)"},
	    {"SELECT a % 2, 'x' LIKE 'a%%', 100 %% 7", "SELECT a % ?, ? LIKE ?, ? %% ?"},
	    {"SELECT x::text, @@session.sql_mode", "SELECT x::text, @@session.sql_mode"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(comments_and_whitespace_go)
{
	static const struct norm_case cases[] = {
	    {"  SELECT\n\t a , -- the id\n b /* nested /* c */ still */ FROM\r\n t ; ",
	     "SELECT a , b FROM t ;"},
	    {"SELECT a/**/FROM t", "SELECT a FROM t"},
	    {"/*+ IndexScan(t) */ SELECT 1 -- trailing", "SELECT ?"},
	    {"-- only a comment", ""},
	    {"", ""},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(quoted_identifiers_are_kept)
{
	static const struct norm_case cases[] = {
	    {"SELECT \"Weird \"\"Name\"\"\", `tick``s`, [Order Details] FROM \"public\".\"T 1\"",
	     "SELECT \"Weird \"\"Name\"\"\", `tick``s`, [Order Details] FROM \"public\".\"T 1\""},
	    {"SELECT \"it's\" FROM t", "SELECT \"it's\" FROM t"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(in_lists_collapse)
{
	static const struct norm_case cases[] = {
	    {"SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"},
	    {"SELECT * FROM t WHERE id in ('a','b') AND x NOT IN ( 5 )",
	     "SELECT * FROM t WHERE id in (?) AND x NOT IN (?)"},
	    {"SELECT * FROM t WHERE id IN (%s, %s, %s)", "SELECT * FROM t WHERE id IN (?)"},
	    {"SELECT * FROM t WHERE id IN ($1, $2)", "SELECT * FROM t WHERE id IN (?)"},
	    /* not a flat list of values: left alone (literals still go) */
	    {"SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE k = 1)",
	     "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE k = ?)"},
	    /* row values are not collapsed */
	    {"SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))",
	     "SELECT * FROM t WHERE (a, b) IN ((?, ?), (?, ?))"},
	    {"SELECT * FROM t WHERE id IN (1, x)", "SELECT * FROM t WHERE id IN (?, x)"},
	    {"SELECT * FROM t WHERE id IN (1, NULL)", "SELECT * FROM t WHERE id IN (?, NULL)"},
	    {"SELECT * FROM t WHERE id IN ()", "SELECT * FROM t WHERE id IN ()"},
	    {"SELECT * FROM t WHERE id IN (1,)", "SELECT * FROM t WHERE id IN (?,)"},
	    {"SELECT ARRAY[1, 2, 3], ARRAY['a']", "SELECT ARRAY[?], ARRAY[?]"},
	    {"SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])",
	     "SELECT * FROM t WHERE id = ANY(ARRAY[?])"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(values_rows_of_one_shape_collapse)
{
	static const struct norm_case cases[] = {
	    /* psycopg2's execute_values, values inlined */
	    {"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, NULL) RETURNING id",
	     "INSERT INTO t (a, b) VALUES (?, ?) RETURNING id"},
	    {"INSERT INTO t VALUES ($1, $2), ($3, $4)", "INSERT INTO t VALUES ($1, $2)"},
	    {"INSERT INTO t VALUES (?, ?) , (?, ?);", "INSERT INTO t VALUES (?, ?);"},
	    {"INSERT INTO t VALUES (1, DEFAULT), (2, 3)", "INSERT INTO t VALUES (?, DEFAULT)"},
	    {"INSERT INTO t VALUES (1, now()), (2, now())", "INSERT INTO t VALUES (?, now())"},
	    /* rows of different shapes are all kept */
	    {"INSERT INTO t VALUES (1, 2), (3, now())", "INSERT INTO t VALUES (?, ?), (?, now())"},
	    {"INSERT INTO t VALUES (1), (2) ON CONFLICT (id) DO UPDATE SET n = 3",
	     "INSERT INTO t VALUES (?) ON CONFLICT (id) DO UPDATE SET n = ?"},
	    {"SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)",
	     "SELECT * FROM (VALUES (?, ?)) AS v(n, s)"},
	    {"INSERT INTO t VALUES (1); INSERT INTO t VALUES (2), (3)",
	     "INSERT INTO t VALUES (?); INSERT INTO t VALUES (?)"},
	};

	EXPECT(cases, 0);
}
END_TEST

START_TEST(odd_bytes_pass_through)
{
	static const struct norm_case cases[] = {
	    {"SELECT naïve, \xff\xfe FROM t WHERE x = 'é'",
	     "SELECT naïve, \xff\xfe FROM t WHERE x = ?"},
	    {"SELECT $", "SELECT $"},
	    {"SELECT :", "SELECT :"},
	    {"SELECT %(unclosed", "SELECT %(unclosed"},
	    {")))", ")))"},
	};
	char out[64];

	EXPECT(cases, 0);
	/* AND a NUL byte is whitespace */
	ck_assert_uint_eq(glass_sql_normalize("SELECT 1\0002", 10, out, sizeof(out), 0, NULL), 10);
	ck_assert_str_eq(out, "SELECT ? ?");
	/* AND NULL input is the empty statement */
	ck_assert_uint_eq(glass_sql_normalize(NULL, 10, out, sizeof(out), 0, NULL), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(long_output_is_cut_with_a_mark)
{
	static const char sql[] = "SELECT aaaa, bbbb, cccc FROM t";
	char out[64];
	int cut;
	size_t n;

	/* GIVEN a buffer of 16 bytes: 12 of text and "..." */
	n = glass_sql_normalize(sql, sizeof(sql) - 1, out, 16, 0, &cut);
	ck_assert_str_eq(out, "SELECT aaaa,...");
	ck_assert_uint_eq(n, 15);
	ck_assert_int_eq(cut, 1);
	/* AND a cut never splits a UTF-8 character */
	static const char utf8[] = "SELECT ééééé";

	n = glass_sql_normalize(utf8, sizeof(utf8) - 1, out, 13, 0, &cut);
	ck_assert_str_eq(out, "SELECT é...");
	/* AND exactly fitting text is not cut */
	n = glass_sql_normalize(sql, sizeof(sql) - 1, out, sizeof(sql), 0, &cut);
	ck_assert_str_eq(out, sql);
	ck_assert_int_eq(cut, 0);
	/* AND buffers too small for the mark get nothing but a NUL */
	out[0] = 'x';
	ck_assert_uint_eq(glass_sql_normalize(sql, sizeof(sql) - 1, out, 3, 0, &cut), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(glass_sql_normalize(sql, sizeof(sql) - 1, NULL, 0, 0, &cut), 0);
	ck_assert_int_eq(cut, 1);
}
END_TEST

START_TEST(collapsed_lists_bring_long_text_back_in_bounds)
{
	/* GIVEN an IN list of 10 000 ids and a 64-byte buffer */
	size_t cap = 10000 * 8 + 100, n = 0;
	char *sql = malloc(cap), out[64];
	int cut;

	n += (size_t)sprintf(sql, "SELECT * FROM t WHERE id IN (");
	for (int i = 0; i < 10000; i++)
		n += (size_t)sprintf(sql + n, i ? ", %d" : "%d", i);
	n += (size_t)sprintf(sql + n, ") AND x = 'y'");
	/* THEN the whole statement fits once the list is collapsed */
	glass_sql_normalize(sql, n, out, sizeof(out), 0, &cut);
	ck_assert_str_eq(out, "SELECT * FROM t WHERE id IN (?) AND x = ?");
	ck_assert_int_eq(cut, 0);
	free(sql);
}
END_TEST

START_TEST(time_is_linear_on_hostile_input)
{
	static const char *const units[] = {"(",  "$a", "$a$",	"/*", "'", "IN (1,", "VALUES (1),",
					    "%(", "-",	"e'\\", "\"", "[", "--\n",   "0x"};
	size_t len = 1 << 20;
	char *sql = malloc(len), out[256];

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		size_t ul = strlen(units[u]);
		struct timespec a, b;

		for (size_t i = 0; i < len; i++)
			sql[i] = units[u][i % ul];
		clock_gettime(CLOCK_MONOTONIC, &a);
		glass_sql_normalize(sql, len, out, sizeof(out), 0, NULL);
		glass_sql_normalize(sql, len, out, sizeof(out), GLASS_SQL_MYSQL, NULL);
		struct glass_sql_info info;

		glass_sql_describe(sql, len, 0, &info);
		clock_gettime(CLOCK_MONOTONIC, &b);
		/* 1 MiB of the worst we know in well under a second (even under ASan) */
		ck_assert_msg((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 <
				  2000,
			      "unit \"%s\" is slow", units[u]);
	}
	free(sql);
}
END_TEST

/* ---- describe ---- */

struct desc_case {
	const char *sql, *op, *table;
};

START_TEST(operation_and_table_are_found)
{
	static const struct desc_case cases[] = {
	    {"SELECT * FROM users WHERE id = 1", "SELECT", "users"},
	    {"select a from public.orders o join items i on i.o = o.id", "SELECT", "public.orders"},
	    {"SELECT (SELECT max(x) FROM inner_t) FROM outer_t", "SELECT", "outer_t"},
	    {"SELECT * FROM (SELECT 1) AS s", "SELECT", ""},
	    {"SELECT 1", "SELECT", ""},
	    {"  (SELECT * FROM a) UNION (SELECT * FROM b)", "SELECT", "a"},
	    {"INSERT INTO \"Order Lines\" (a) VALUES (1)", "INSERT", "\"Order Lines\""},
	    {"insert or replace into kv values (?, ?)", "INSERT", "kv"},
	    {"REPLACE INTO `shop`.`kv` VALUES (1)", "REPLACE", "`shop`.`kv`"},
	    {"UPDATE ONLY accounts SET balance = 0", "UPDATE", "accounts"},
	    {"update or ignore t set a = 1", "UPDATE", "t"},
	    {"UPDATE LOW_PRIORITY IGNORE t SET a = 1", "UPDATE", "t"},
	    {"DELETE FROM sessions WHERE expires < now()", "DELETE", "sessions"},
	    {"MERGE INTO target t USING src s ON t.id = s.id", "MERGE", "target"},
	    {"WITH recent AS (SELECT * FROM orders WHERE d > now()) "
	     "UPDATE stats SET n = (SELECT count(*) FROM recent)",
	     "UPDATE", "stats"},
	    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
	     "SELECT", "r"},
	    {"WITH x AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM x", "INSERT", "b"},
	    {"CREATE TABLE IF NOT EXISTS events (id int)", "CREATE", "events"},
	    {"CREATE TEMP TABLE t2 AS SELECT 1", "CREATE", "t2"},
	    {"CREATE INDEX i ON t (a)", "CREATE", ""},
	    {"DROP TABLE IF EXISTS old_stuff CASCADE", "DROP", "old_stuff"},
	    {"ALTER TABLE ONLY public.t ADD COLUMN c int", "ALTER", "public.t"},
	    {"TRUNCATE logs", "TRUNCATE", "logs"},
	    {"TRUNCATE TABLE ONLY logs", "TRUNCATE", "logs"},
	    {"COPY measurements FROM STDIN", "COPY", "measurements"},
	    {"SELECT * FROM [dbo].[Order Details]", "SELECT", "[dbo].[Order Details]"},
	    {"begin", "BEGIN", ""},
	    {"COMMIT;", "COMMIT", ""},
	    {"/* app=shop */ savepoint sp1", "SAVEPOINT", ""},
	    {"PRAGMA foreign_keys = ON", "PRAGMA", ""},
	    {"", "", ""},
	    {"   ", "", ""},
	    {"123", "", ""},
	    {"'just a string'", "", ""},
	    {"WITH only_ctes AS (SELECT 1)", "WITH", ""},
	    {"averyveryverylongfirstword x", "", ""},
	};
	struct glass_sql_info info;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&info, 0x55, sizeof(info));
		glass_sql_describe(cases[i].sql, strlen(cases[i].sql), 0, &info);
		ck_assert_msg(strcmp(info.operation, cases[i].op) == 0 &&
				  strcmp(info.table, cases[i].table) == 0,
			      "%s: got %s / %s", cases[i].sql, info.operation, info.table);
	}
	/* AND only the first statement of a script counts */
	static const char script[] = "CREATE TABLE a (x); INSERT INTO b VALUES (1);";

	glass_sql_describe(script, sizeof(script) - 1, 0, &info);
	ck_assert_str_eq(info.operation, "CREATE");
	ck_assert_str_eq(info.table, "a");
	/* AND a SELECT without FROM does not look past its statement */
	glass_sql_describe("SELECT 1; DELETE FROM x", 23, 0, &info);
	ck_assert_str_eq(info.table, "");
}
END_TEST

START_TEST(long_table_names_are_cut)
{
	char sql[400], want[GLASS_SQL_TABLE_MAX];
	struct glass_sql_info info;

	memset(want, 'n', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	snprintf(sql, sizeof(sql), "SELECT * FROM %0300d", 0);
	memset(sql + 14, 'n', 300);
	glass_sql_describe(sql, strlen(sql), 0, &info);
	ck_assert_str_eq(info.table, want);
}
END_TEST

/* ---- glass_sql_cached ---------------------------------------------------------------------- */

struct make_count {
	int calls;
};

/* The maker the cache stands in front of: normalize and describe, counting its calls. */
static size_t make_counted(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
			   struct glass_sql_info *info, void *arg)
{
	if (arg)
		__atomic_fetch_add(&((struct make_count *)arg)->calls, 1, __ATOMIC_RELAXED);
	if (info)
		glass_sql_describe(sql, len, flags, info);
	return glass_sql_normalize(sql, len, out, cap, flags, NULL);
}

/* The statement i of a family of n distinct ones, some long enough to be cut at small caps. */
static void statement_of(int i, char *buf, size_t cap)
{
	snprintf(buf, cap,
		 "SELECT t%d.id, t%d.name FROM table_%d AS t%d WHERE t%d.id = %d AND t%d.name = "
		 "'secret %d' ORDER BY t%d.id",
		 i, i, i % 7, i, i, i * 31, i, i, i);
}

/* GIVEN statements made once, WHEN they come again THEN the table answers with the same text,
 * length and description, without calling make; other caps or modes are other keys. */
START_TEST(cached_texts_are_the_texts_made)
{
	struct make_count mc = {0};
	char sql[256], want[256], got[256];
	struct glass_sql_info wi, gi;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 8; i++) {
			statement_of(i, sql, sizeof(sql));
			size_t wl =
			    make_counted(sql, strlen(sql), 0, want, sizeof(want), &wi, NULL);
			memset(&gi, 0x55, sizeof(gi));
			size_t gl = glass_sql_cached(sql, strlen(sql), 0, 7, got, sizeof(got), &gi,
						     make_counted, &mc);
			ck_assert_uint_eq(gl, wl);
			ck_assert_str_eq(got, want);
			ck_assert_str_eq(gi.operation, wi.operation);
			ck_assert_str_eq(gi.table, wi.table);
			ck_assert_ptr_null(strstr(got, "secret"));
		}
	}
	/* 8 statements, 3 rounds: made once each unless two of them share a slot */
	ck_assert_int_ge(mc.calls, 8);
	ck_assert_int_lt(mc.calls, 16);

	int before = mc.calls;
	statement_of(3, sql, sizeof(sql));
	size_t cut = glass_sql_cached(sql, strlen(sql), 0, 7, got, 40, NULL, make_counted, &mc);
	ck_assert_uint_eq(cut, strlen(got));
	ck_assert_uint_lt(cut, 40);
	ck_assert_str_eq(got + cut - 3, "...");
	(void)glass_sql_cached(sql, strlen(sql), 0, 8, got, sizeof(got), NULL, make_counted, &mc);
	(void)glass_sql_cached(sql, strlen(sql), GLASS_SQL_BACKSLASH_ESCAPES, 7, got, sizeof(got),
			       NULL, make_counted, &mc);
	ck_assert_int_eq(mc.calls, before + 3);

	/* over 1 KiB: made every time */
	char big[1500];
	memset(big, ' ', sizeof(big));
	memcpy(big, "SELECT 1", 8);
	big[sizeof(big) - 1] = 0;
	before = mc.calls;
	for (int k = 0; k < 3; k++)
		(void)glass_sql_cached(big, strlen(big), 0, 7, got, sizeof(got), NULL, make_counted,
				       &mc);
	ck_assert_int_eq(mc.calls, before + 3);
}
END_TEST

#define CACHE_THREADS 4
#define CACHE_KINDS   200

static char cache_sql[CACHE_KINDS][256];
static char cache_want[CACHE_KINDS][256];

static void *cache_hammer(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	char got[256];
	struct glass_sql_info gi;
	long wrong = 0;

	for (int n = 0; n < 400000; n++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int i = (int)(x % CACHE_KINDS);
		(void)glass_sql_cached(cache_sql[i], strlen(cache_sql[i]), 0, 9, got, sizeof(got),
				       &gi, make_counted, NULL);
		if (strcmp(got, cache_want[i]) != 0)
			wrong++;
	}
	return (void *)wrong;
}

/* GIVEN four threads asking for 200 statements at random (more than the table holds, so
 * entries are overwritten while others read them) THEN every answer is the right text. */
START_TEST(cached_texts_are_right_under_threads)
{
	pthread_t t[CACHE_THREADS];

	for (int i = 0; i < CACHE_KINDS; i++) {
		statement_of(i, cache_sql[i], sizeof(cache_sql[i]));
		(void)make_counted(cache_sql[i], strlen(cache_sql[i]), 0, cache_want[i],
				   sizeof(cache_want[i]), NULL, NULL);
	}
	for (int i = 0; i < CACHE_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, cache_hammer, (void *)(uintptr_t)i),
				 0);
	for (int i = 0; i < CACHE_THREADS; i++) {
		void *wrong;
		pthread_join(t[i], &wrong);
		ck_assert_int_eq((long)wrong, 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sql");
	TCase *tc = tcase_create("normalize");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, strings_become_placeholders);
	tcase_add_test(tc, backslash_escapes_when_asked);
	tcase_add_test(tc, numbers_become_placeholders_but_not_names);
	tcase_add_test(tc, booleans_go_null_stays);
	tcase_add_test(tc, placeholders_are_kept_as_written);
	tcase_add_test(tc, comments_and_whitespace_go);
	tcase_add_test(tc, quoted_identifiers_are_kept);
	tcase_add_test(tc, in_lists_collapse);
	tcase_add_test(tc, values_rows_of_one_shape_collapse);
	tcase_add_test(tc, odd_bytes_pass_through);
	tcase_add_test(tc, long_output_is_cut_with_a_mark);
	tcase_add_test(tc, collapsed_lists_bring_long_text_back_in_bounds);
	tcase_add_test(tc, time_is_linear_on_hostile_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("describe");
	tcase_add_test(tc, operation_and_table_are_found);
	tcase_add_test(tc, long_table_names_are_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cached_texts_are_the_texts_made);
	tcase_add_test(tc, cached_texts_are_right_under_threads);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
