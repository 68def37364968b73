/* tests/fuzz/fuzz-sql.c — libFuzzer: the SQL normalizer and describer on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/sql-normalize.h"
#include "tests/fuzz/fuzz-split.h"

/* The maker behind glass_sql_cached, as capture.c uses it. */
static size_t make(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
		   struct glass_sql_info *info, void *arg)
{
	(void)arg;
	if (info)
		glass_sql_describe(sql, len, flags, info);
	return glass_sql_normalize(sql, len, out, cap, flags, NULL);
}

/*
 * For every dialect: the output is NUL-terminated and within the buffer; a cut output is the
 * full output's prefix plus "..."; the same input normalizes the same way twice (no state);
 * glass_sql_cached gives what it would make, from the table or not.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned flags[] = {0, GLASS_SQL_BACKSLASH_ESCAPES, GLASS_SQL_MYSQL};
	static const size_t caps[] = {0, 1, 3, 4, 5, 16, 64, 333};
	static char full[1 << 17], again[1 << 17], small[400];
	const char *sql = (const char *)data;

	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		int cut, cut2;
		size_t n = glass_sql_normalize(sql, size, full, sizeof(full), flags[f], &cut);
		size_t mark = sizeof(GLASS_SQL_TRUNCATED_MARK) - 1;
		struct glass_sql_info info;

		FUZZ_CHECK(n < sizeof(full) && full[n] == '\0');
		FUZZ_CHECK(glass_sql_normalize(sql, size, again, sizeof(again), flags[f], &cut2) ==
			   n);
		FUZZ_CHECK(cut == cut2 && memcmp(full, again, n + 1) == 0);
		for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]) && !cut; k++) {
			size_t m = glass_sql_normalize(sql, size, caps[k] ? small : NULL, caps[k],
						       flags[f], &cut2);

			if (!caps[k]) {
				FUZZ_CHECK(m == 0 && cut2 == (n > 0));
				continue;
			}
			FUZZ_CHECK(m < caps[k] && small[m] == '\0');
			if (!cut2) {
				FUZZ_CHECK(m == n && memcmp(small, full, n) == 0);
			} else if (m) {
				FUZZ_CHECK(
				    m >= mark &&
				    memcmp(small + m - mark, GLASS_SQL_TRUNCATED_MARK, mark) == 0);
				FUZZ_CHECK(memcmp(small, full, m - mark) == 0);
			}
		}
		glass_sql_describe(sql, size, flags[f], &info);
		FUZZ_CHECK(memchr(info.operation, 0, sizeof(info.operation)));
		FUZZ_CHECK(memchr(info.table, 0, sizeof(info.table)));
		for (int k = 0; k < 2; k++) {
			struct glass_sql_info ci;
			size_t m = glass_sql_cached(sql, size, flags[f], 1, small, sizeof(small),
						    &ci, make, NULL);
			size_t want = make(sql, size, flags[f], again, sizeof(small), NULL, NULL);

			FUZZ_CHECK(m == want && memcmp(small, again, m + 1) == 0);
			FUZZ_CHECK(strcmp(ci.operation, info.operation) == 0 &&
				   strcmp(ci.table, info.table) == 0);
		}
	}
	return 0;
}
