/* tests/unit/test-format.c — the record table says what format.h says. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "recorder/reader.h"

START_TEST(every_tag_has_one_description)
{
	size_t n;
	const struct glass_record_desc *d = glass_record_descs(&n);
	ck_assert_uint_gt(n, 10);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_eq(glass_record_desc(d[i].tag), &d[i]);
		ck_assert_uint_ge(d[i].tag, 1);
		ck_assert_uint_le(d[i].tag, GLASS_REC_MAX_TAG);
		/* one field name per field type */
		size_t commas = 0;
		for (const char *p = d[i].fields; *p; p++)
			commas += *p == ',';
		ck_assert_uint_eq(strlen(d[i].types), commas + 1);
		ck_assert_uint_le(strlen(d[i].types), GLASS_REC_MAX_FIELDS);
		for (size_t j = 0; j < i; j++)
			ck_assert_uint_ne(d[i].tag, d[j].tag);
	}
	ck_assert_ptr_null(glass_record_desc(0));
	ck_assert_ptr_null(glass_record_desc(200));
}
END_TEST

START_TEST(timed_stream_records_start_with_dt)
{
	size_t n;
	const struct glass_record_desc *d = glass_record_descs(&n);
	for (size_t i = 0; i < n; i++) {
		if (d[i].tag >= 64)
			continue;
		if (strncmp(d[i].fields, "dt", 2) == 0)
			ck_assert(d[i].types[0] == 'u');
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, every_tag_has_one_description);
	tcase_add_test(tc, timed_stream_records_start_with_dt);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
