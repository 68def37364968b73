/* tests/unit/test-text.c — tools/text.c: the growing buffer, numbers and durations as the
 * reports print them, terminal-safe text and padding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tools/analysis/text.h"

START_TEST(the_buffer_grows_and_formats)
{
	struct glass_buf b = {0};
	for (int i = 0; i < 10000; i++)
		glass_buf_printf(&b, "%d,", i % 10);
	ck_assert_uint_eq(b.len, 20000);
	ck_assert_int_eq(b.oom, 0);
	ck_assert_int_eq(memcmp(b.p, "0,1,2,", 6), 0);
	glass_buf_put(&b, "a\0b", 3); /* bytes, NUL included */
	ck_assert_uint_eq(b.len, 20003);
	ck_assert_int_eq(memcmp(b.p + 20000, "a\0b", 3), 0);
	glass_buf_puts(&b, "end");
	ck_assert_int_eq(memcmp(b.p + 20003, "end", 3), 0);
	glass_buf_free(&b);
	ck_assert_ptr_null(b.p);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(durations_in_human_units)
{
	static const struct {
		uint64_t ns;
		const char *text;
	} cases[] = {{0, "0ns"},
		     {999, "999ns"},
		     {1000, "1.00µs"},
		     {1234, "1.23µs"},
		     {88064, "88.1µs"},
		     {780075, "780µs"},
		     {999499, "999µs"},
		     {5171754, "5.17ms"},
		     {65572777, "65.6ms"},
		     {577388186, "577ms"},
		     {7890000000ull, "7.89s"},
		     {998000000000ull, "998s"},
		     {1000000000000ull, "16.7m"},
		     {7200000000000ull, "2.00h"},
		     {360000000000000ull, "100h"}};
	char out[32];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		glass_fmt_dur(out, sizeof(out), cases[i].ns);
		ck_assert_str_eq(out, cases[i].text);
	}
}
END_TEST

START_TEST(counts_long_and_short)
{
	char out[32];
	glass_fmt_count(out, sizeof(out), 0);
	ck_assert_str_eq(out, "0");
	glass_fmt_count(out, sizeof(out), 999);
	ck_assert_str_eq(out, "999");
	glass_fmt_count(out, sizeof(out), 1000);
	ck_assert_str_eq(out, "1,000");
	glass_fmt_count(out, sizeof(out), 120113);
	ck_assert_str_eq(out, "120,113");
	glass_fmt_count(out, sizeof(out), UINT64_MAX);
	ck_assert_str_eq(out, "18,446,744,073,709,551,615");
	glass_fmt_count_short(out, sizeof(out), 9999999);
	ck_assert_str_eq(out, "9999999");
	glass_fmt_count_short(out, sizeof(out), 12345678);
	ck_assert_str_eq(out, "12.3M");
	glass_fmt_count_short(out, sizeof(out), 4560000000ull);
	ck_assert_str_eq(out, "4560.0M");
	glass_fmt_count_short(out, sizeof(out), 45600000000ull);
	ck_assert_str_eq(out, "45.6G");
}
END_TEST

/* Control bytes, invalid UTF-8 and cutting: what a terminal gets is always safe and fits. */
START_TEST(terminal_text_fits_its_columns)
{
	char out[64 * 4 + 8];
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "a\x1b[31mb", 7, 20, 0), 7);
	ck_assert_str_eq(out, "a?[31mb");
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "caf\xc3\xa9", 5, 20, 0), 4);
	ck_assert_str_eq(out, "caf\xc3\xa9");
	glass_term_text(out, sizeof(out), "x\xff", 2, 20, 0);
	ck_assert_str_eq(out, "x\xef\xbf\xbd"); /* U+FFFD */
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "abcdefghij", 10, 5, 0), 5);
	ck_assert_str_eq(out, "abcd\xe2\x80\xa6"); /* the start, then … */
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "abcdefghij", 10, 5, 1), 5);
	ck_assert_str_eq(out, "\xe2\x80\xa6ghij"); /* … then the end */
	ck_assert_uint_eq(glass_text_width("caf\xc3\xa9\xe2\x80\xa6"), 5);
	ck_assert_uint_eq(glass_utf8_seq("\xc3\xa9", 2), 2);
	ck_assert_uint_eq(glass_utf8_seq("\xc3", 1), 0);	 /* cut */
	ck_assert_uint_eq(glass_utf8_seq("\xc0\xaf", 2), 0);	 /* overlong */
	ck_assert_uint_eq(glass_utf8_seq("\xed\xa0\x80", 3), 0); /* surrogate */
}
END_TEST

START_TEST(padding_counts_characters_not_bytes)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	glass_put_padded(f, "caf\xc3\xa9", 6, 0);
	glass_put_padded(f, "|", 1, 0);
	glass_put_padded(f, "12", 5, 1);
	glass_put_padded(f, "toolong", 3, 0);
	fclose(f);
	ck_assert_str_eq(text, "caf\xc3\xa9  |   12toolong");
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("text");
	tcase_add_test(tc, the_buffer_grows_and_formats);
	tcase_add_test(tc, durations_in_human_units);
	tcase_add_test(tc, counts_long_and_short);
	tcase_add_test(tc, terminal_text_fits_its_columns);
	tcase_add_test(tc, padding_counts_characters_not_bytes);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_SILENT);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
