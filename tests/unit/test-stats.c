/* tests/unit/test-stats.c — tools/stats.c: streaming quantiles against a sorted reference,
 * merging, and the interning table. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/analysis/stats.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The reference: nearest rank, the value at ceil(q n) of the sorted values. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	return sorted[rank ? rank - 1 : 0];
}

enum dist { UNIFORM, LOG_UNIFORM, BIMODAL, CONSTANT, SMALL, NDIST };

static uint64_t draw(enum dist d)
{
	switch (d) {
	case UNIFORM:
		return 1000 + rnd() % 1000000;
	case LOG_UNIFORM: /* 1 ns .. ~1 h: every octave */
		return 1 + (rnd() >> (rnd() % 22 + 22));
	case BIMODAL: /* fast cache hits and slow misses */
		return rnd() % 10 ? 200 + rnd() % 50 : 40000000 + rnd() % 1000000;
	case CONSTANT:
		return 123456789;
	default: /* below 16: exact buckets */
		return rnd() % 16;
	}
}

/* GIVEN n durations of a distribution WHEN they are added THEN every quantile is within 1/32 of
 * the sorted reference's, min and max are exact, and the sums are exact. */
START_TEST(quantiles_against_a_sorted_reference)
{
	static const double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
	static const size_t sizes[] = {1, 2, 7, 100, 20000};
	for (int d = 0; d < NDIST; d++) {
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			size_t n = sizes[k];
			uint64_t *v = malloc(n * sizeof(*v)), sum = 0;
			struct glass_fstats f = {0};
			for (size_t i = 0; i < n; i++) {
				v[i] = draw((enum dist)d);
				sum += v[i];
				ck_assert_int_eq(glass_fstats_add(&f, v[i], v[i] / 2, 0), 0);
			}
			qsort(v, n, sizeof(*v), cmp_u64);
			ck_assert_uint_eq(f.calls, n);
			ck_assert_uint_eq(f.total_ns, sum);
			ck_assert_uint_eq(f.min_ns, v[0]);
			ck_assert_uint_eq(f.max_ns, v[n - 1]);
			ck_assert_uint_eq(glass_fstats_quantile(&f, 0), v[0]);
			ck_assert_uint_eq(glass_fstats_quantile(&f, 1), v[n - 1]);
			for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
				uint64_t want = exact_quantile(v, n, qs[i]);
				uint64_t got = glass_fstats_quantile(&f, qs[i]);
				double err =
				    fabs((double)got - (double)want) / (double)(want ? want : 1);
				ck_assert_msg(err <= 1.0 / 32 + 1e-12,
					      "dist %d n %zu q %.3f: got %llu, exact %llu", d, n,
					      qs[i], (unsigned long long)got,
					      (unsigned long long)want);
				if (d == SMALL || d == CONSTANT)
					ck_assert_uint_eq(got,
							  want); /* exact buckets, or min = max */
			}
			glass_fstats_free(&f);
			free(v);
		}
	}
}
END_TEST

/* GIVEN the same values added to one aggregate, or split over two that are merged THEN both give
 * the same counts, sums, extremes and quantiles. */
START_TEST(merging_equals_adding_all)
{
	struct glass_fstats all = {0}, a = {0}, b = {0};
	for (int i = 0; i < 50000; i++) {
		uint64_t v = draw(i % 3 ? LOG_UNIFORM : BIMODAL);
		int err = i % 7 == 0;
		ck_assert_int_eq(glass_fstats_add(&all, v, v / 3, err), 0);
		ck_assert_int_eq(glass_fstats_add(i % 2 ? &a : &b, v, v / 3, err), 0);
	}
	ck_assert_int_eq(glass_fstats_merge(&a, &b), 0);
	ck_assert_uint_eq(a.calls, all.calls);
	ck_assert_uint_eq(a.total_ns, all.total_ns);
	ck_assert_uint_eq(a.self_ns, all.self_ns);
	ck_assert_uint_eq(a.errors, all.errors);
	ck_assert_uint_eq(a.min_ns, all.min_ns);
	ck_assert_uint_eq(a.max_ns, all.max_ns);
	for (double q = 0.05; q < 1; q += 0.05)
		ck_assert_uint_eq(glass_fstats_quantile(&a, q), glass_fstats_quantile(&all, q));
	glass_fstats_free(&all);
	glass_fstats_free(&a);
	glass_fstats_free(&b);
}
END_TEST

START_TEST(an_empty_aggregate_has_no_quantiles)
{
	struct glass_fstats f = {0};
	ck_assert_uint_eq(glass_fstats_quantile(&f, 0.5), 0);
	ck_assert_uint_eq(glass_fstats_quantile(&f, 0.99), 0);
	glass_fstats_free(&f);
}
END_TEST

/* Keys are bytes (NULs inside count), indexes dense and stable, each with its own stats. */
START_TEST(the_table_interns_byte_keys)
{
	struct glass_ftable *t = glass_ftable_new();
	ck_assert_ptr_nonnull(t);
	char key[32];
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof(key), "k%c%d", 0, i);
		int added = 0;
		ck_assert_int_eq(glass_ftable_intern(t, key, (size_t)n, &added), i);
		ck_assert_int_eq(added, 1);
		glass_fstats_add(glass_ftable_stats(t, (size_t)i), (uint64_t)i, 0, 0);
	}
	ck_assert_uint_eq(glass_ftable_size(t), 10000);
	for (int i = 0; i < 10000; i += 7) {
		int n = snprintf(key, sizeof(key), "k%c%d", 0, i);
		int added = 1;
		ck_assert_int_eq(glass_ftable_intern(t, key, (size_t)n, &added), i);
		ck_assert_int_eq(added, 0);
		ck_assert_int_eq(glass_ftable_find(t, key, (size_t)n), i);
		size_t kl;
		const char *k = glass_ftable_key(t, (size_t)i, &kl);
		ck_assert_uint_eq(kl, (size_t)n);
		ck_assert_int_eq(memcmp(k, key, kl), 0);
		ck_assert_uint_eq(glass_ftable_stats(t, (size_t)i)->total_ns, (uint64_t)i);
	}
	ck_assert_int_eq(glass_ftable_find(t, "k", 1), -1);
	glass_ftable_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, quantiles_against_a_sorted_reference);
	tcase_add_test(tc, merging_equals_adding_all);
	tcase_add_test(tc, an_empty_aggregate_has_no_quantiles);
	tcase_add_test(tc, the_table_interns_byte_keys);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_SILENT);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
