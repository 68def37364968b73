/* tests/unit/test-capture-db.c — preload/capture-db.c, linked from libglass.so's own objects:
 * the statement table, UTF-16 text, span names and the scrubbing of error messages. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/capture-db.h"

/* Keys are pointers (even) or odd hashes >= 3, as the hooks make them. */
static uintptr_t key(unsigned i)
{
	return 0x10000 + (uintptr_t)i * 16;
}

START_TEST(slots_are_claimed_found_moved_and_dropped)
{
	ck_assert_int_eq(db_table_ready(), 1);
	ck_assert_uint_ge(db_text_cap(), 17); /* max_statement (at least 16) + NUL */
	ck_assert_int_eq(db_find(key(1)), -1);
	int i = db_claim(key(1));
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(db_claim(key(1)), i); /* claiming again: the same slot, as it is */
	ck_assert_int_eq(db_find(key(1)), i);
	struct db_slot *s = db_slot(i);
	ck_assert_uint_eq(s->op, 0); /* a new slot is zeroed */
	s->conn = 42;
	memcpy(s->text, "SELECT ?", 9);
	s->text_len = 8;
	s->has_text = 1;
	int j = db_move(i, key(2)); /* mysql_use_result: the result takes the query over */
	ck_assert_int_ge(j, 0);
	ck_assert_int_eq(db_find(key(1)), -1);
	ck_assert_int_eq(db_find(key(2)), j);
	ck_assert_str_eq(db_slot(j)->text, "SELECT ?");
	ck_assert_uint_eq(db_slot(j)->conn, 42);
	int k = db_claim(key(3));
	db_slot(k)->conn = 42;
	int other = db_claim(key(4));
	db_slot(other)->conn = 7;
	db_drop_conn(42); /* a connection closed: its statements go, others stay */
	ck_assert_int_eq(db_find(key(2)), -1);
	ck_assert_int_eq(db_find(key(3)), -1);
	ck_assert_int_eq(db_find(key(4)), other);
	db_drop(other);
	ck_assert_int_eq(db_find(key(4)), -1);
	ck_assert_int_eq(db_claim(0), -1); /* no key is 0 or 1 */
	ck_assert_int_eq(db_claim(1), -1);
}
END_TEST

/* Keys that hash to one slot take the next ones, up to DB_PROBE; then the table is full there
 * (the statement goes untraced), and a dropped slot is used again. */
START_TEST(colliding_keys_probe_then_give_up)
{
	uintptr_t same[DB_PROBE + 1];
	size_t n = 0;
	uint64_t want = ((uint64_t)key(100) * 0x9E3779B97F4A7C15ull) >> 52;
	for (uintptr_t k = key(100); n < DB_PROBE + 1; k += 16)
		if ((((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 52) == want)
			same[n++] = k;
	int slot[DB_PROBE];
	for (size_t i = 0; i < DB_PROBE; i++) {
		slot[i] = db_claim(same[i]);
		ck_assert_int_ge(slot[i], 0);
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(slot[i], slot[j]);
	}
	ck_assert_int_eq(db_claim(same[DB_PROBE]), -1);
	for (size_t i = 0; i < DB_PROBE; i++)
		ck_assert_int_eq(db_find(same[i]), slot[i]);
	db_drop(slot[3]);
	ck_assert_int_eq(db_find(same[3]), -1);
	ck_assert_int_eq(db_find(same[4]), slot[4]); /* found past the dropped one */
	ck_assert_int_eq(db_claim(same[DB_PROBE]), slot[3]);
	for (size_t i = 0; i < DB_PROBE; i++)
		db_drop(db_find(same[i]));
	db_drop(db_find(same[DB_PROBE]));
}
END_TEST

START_TEST(utf16_text_becomes_utf8)
{
	/* "é€😀" then an unpaired surrogate */
	static const uint16_t s[] = {0x00e9, 0x20ac, 0xd83d, 0xde00, 0xd800, 0};
	ck_assert_uint_eq(db_wcslen16(s), 5);
	char out[32];
	int cut = 1;
	size_t n = db_utf16_to_8(s, 4, out, sizeof(out), &cut);
	ck_assert_uint_eq(n, 9);
	ck_assert_str_eq(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_int_eq(cut, 0);
	n = db_utf16_to_8(s, 4, out, 5, &cut); /* 4 bytes: cut before €, never inside it */
	ck_assert_str_eq(out, "\xc3\xa9");
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(cut, 1);
	n = db_utf16_to_8(s + 4, 1, out, sizeof(out), &cut);
	ck_assert_str_eq(out, "\xef\xbf\xbd"); /* U+FFFD */
}
END_TEST

START_TEST(span_names_say_operation_and_table)
{
	struct glass_sql_info in;
	memset(&in, 0, sizeof(in));
	char out[DB_NAME_MAX];
	ck_assert_uint_eq(db_name(&in, NULL, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "SQL");
	snprintf(in.operation, sizeof(in.operation), "SELECT");
	db_name(&in, NULL, out, sizeof(out));
	ck_assert_str_eq(out, "SELECT");
	snprintf(in.table, sizeof(in.table), "users");
	db_name(&in, "PREPARE ", out, sizeof(out));
	ck_assert_str_eq(out, "PREPARE SELECT users");
	ck_assert_uint_eq(db_name(&in, "PREPARE ", out, 10), 9); /* cut to the buffer */
	ck_assert_str_eq(out, "PREPARE S");
	ck_assert_int_eq(db_is_dml(&in), 0);
	static const char *const dml[] = {"INSERT",  "UPDATE", "DELETE",
					  "REPLACE", "MERGE",  "UPSERT"};
	for (size_t i = 0; i < sizeof(dml) / sizeof(dml[0]); i++) {
		snprintf(in.operation, sizeof(in.operation), "%s", dml[i]);
		ck_assert_int_eq(db_is_dml(&in), 1);
	}
}
END_TEST

/* Values quoted in a driver's message become ?; names of the statement stay. */
START_TEST(error_messages_lose_their_values)
{
	static const struct {
		const char *msg, *norm, *secret, *kept;
	} cases[] = {
	    {"invalid input syntax for type integer: \"hunter2\"", "SELECT * FROM t WHERE id = ?",
	     "hunter2", "invalid input syntax for type integer"},
	    {"Duplicate entry 'hunter2' for key 'users.PRIMARY'", "INSERT INTO users VALUES (?)",
	     "hunter2", "Duplicate entry"},
	    {"near \"'hunter2'\": syntax error", "SELECT ?", "hunter2", "syntax error"},
	    {"relation \"users\" does not exist", "SELECT * FROM users", NULL, "\"users\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[512];
		size_t n = db_scrub(cases[i].msg, strlen(cases[i].msg), cases[i].norm,
				    strlen(cases[i].norm), out, sizeof(out));
		ck_assert_uint_eq(n, strlen(out));
		if (cases[i].secret)
			ck_assert_msg(!strstr(out, cases[i].secret), "%s kept in '%s'",
				      cases[i].secret, out);
		ck_assert_msg(strstr(out, cases[i].kept) != NULL, "'%s' lost from '%s'",
			      cases[i].kept, out);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("capture-db");
	TCase *tc = tcase_create("capture-db");
	tcase_add_test(tc, slots_are_claimed_found_moved_and_dropped);
	tcase_add_test(tc, colliding_keys_probe_then_give_up);
	tcase_add_test(tc, utf16_text_becomes_utf8);
	tcase_add_test(tc, span_names_say_operation_and_table);
	tcase_add_test(tc, error_messages_lose_their_values);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_SILENT);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
