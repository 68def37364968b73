/* tests/unit/test-flame.c — tools/flame.c: stacks and their times from a session built record
 * by record (tools/synth.h), as folded stacks: wall and self, per thread, filters, a window. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder/reader.h"
#include "tools/analysis/flame.h"
#include "tools/synth.h"

/* Unix ns of mono time t in the session below. */
#define AT(t) (1000000000000ull + (t)-1000)

/*
 * One process (pid 77), two threads:
 *   tid 79 "Worker-1": a [2000, 3000) calls b [2100, 2400) and c [2500, 2600)
 *   tid 80 "Worker-2": b [2000, 2050)
 */
static struct glass_session *make_session(char *dir, size_t cap)
{
	char pdir[4096];
	const char *base = getenv("GLASS_TEST_TMP");
	snprintf(dir, cap, "%s/test-flame-XXXXXX", base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(synth_session_create(dir, GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR), 0);
	snprintf(pdir, sizeof(pdir), "%s/p77.0", dir);
	struct synth_meta m;
	synth_meta_init(&m, 77, 1, GLASS_CLOCK_MONO, 0, 1000, AT(1000));
	synth_meta_code(&m, 1, "a", "app", "app.py", 1, 0);
	synth_meta_code(&m, 2, "b", "app", "app.py", 10, 0);
	synth_meta_code(&m, 3, "c", "lib", "lib.py", 20, 0);
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);

	struct synth_chunk c;
	synth_chunk_init(&c, 77, 78, 1, 1, 2000, 2000);
	synth_chunk_start(&c, 2000, 0);
	synth_thread_start(&c, 2000, 79, 1);
	synth_thread_name(&c, "Worker-1");
	synth_call(&c, 2000, 1);
	synth_call(&c, 2100, 2);
	synth_dt_only(&c, GLASS_REC_RETURN, 2400);
	synth_call(&c, 2500, 3);
	synth_dt_only(&c, GLASS_REC_RETURN, 2600);
	synth_dt_only(&c, GLASS_REC_RETURN, 3000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, GLASS_CHUNK_LAST, 0), 0);
	synth_chunk_free(&c);

	synth_chunk_init(&c, 77, 78, 2, 1, 2000, 2000);
	synth_chunk_start(&c, 2000, 0);
	synth_thread_start(&c, 2000, 80, 1);
	synth_thread_name(&c, "Worker-2");
	synth_call(&c, 2000, 2);
	synth_dt_only(&c, GLASS_REC_RETURN, 2050);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, GLASS_CHUNK_LAST, 0), 0);
	synth_chunk_free(&c);

	char err[256];
	struct glass_session *s = glass_session_open(dir, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folded stacks of the session under o, their lines sorted and joined by '|'. */
static char *folded(struct glass_session *s, const struct flame_opts *o, uint64_t *total)
{
	struct flame *F = flame_collect(s, o, NULL);
	ck_assert_ptr_nonnull(F);
	*total = flame_total(F);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_int_eq(flame_write_folded(f, F), 0);
	fclose(f);
	flame_free(F);
	char *lines[64], *save = NULL;
	size_t n = 0;
	for (char *l = strtok_r(text, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	qsort(lines, n, sizeof(*lines), cmp_str);
	char *out = calloc(1, len + n + 1);
	for (size_t i = 0; i < n; i++) {
		strcat(out, lines[i]);
		if (i + 1 < n)
			strcat(out, "|");
	}
	free(text);
	return out;
}

static struct flame_opts defaults(void)
{
	return (struct flame_opts){.value = FLAME_WALL, .until_ns = UINT64_MAX};
}

static void check_folded(struct glass_session *s, const struct flame_opts *o, const char *want,
			 uint64_t want_total)
{
	uint64_t total;
	char *got = folded(s, o, &total);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(total, want_total);
	free(got);
}

/* Wall time: each stack from the root with the time spent in its last frame; the threads
 * merged (b's two calls on two threads are one stack only where the stacks are equal). */
START_TEST(wall_time_stacks_from_the_root)
{
	char dir[2048];
	struct glass_session *s = make_session(dir, sizeof(dir));
	struct flame_opts o = defaults();
	check_folded(s, &o, "app.a 600|app.a;app.b 300|app.a;lib.c 100|app.b 50", 1050);
	glass_session_close(s);
}
END_TEST

/* Self time: stacks reversed, the function whose self time it is first. */
START_TEST(self_time_stacks_reversed)
{
	char dir[2048];
	struct glass_session *s = make_session(dir, sizeof(dir));
	struct flame_opts o = defaults();
	o.value = FLAME_SELF;
	check_folded(s, &o, "app.a 600|app.b 50|app.b;app.a 300|lib.c;app.a 100", 1050);
	glass_session_close(s);
}
END_TEST

START_TEST(a_root_frame_per_thread_and_the_thread_filter)
{
	char dir[2048];
	struct glass_session *s = make_session(dir, sizeof(dir));
	struct flame_opts o = defaults();
	o.per_thread = 1;
	check_folded(s, &o,
		     "77/79 Worker-1;app.a 600|77/79 Worker-1;app.a;app.b 300|"
		     "77/79 Worker-1;app.a;lib.c 100|77/80 Worker-2;app.b 50",
		     1050);
	o = defaults();
	o.thread = "Worker-2";
	check_folded(s, &o, "app.b 50", 50);
	o.thread = "79";
	check_folded(s, &o, "app.a 600|app.a;app.b 300|app.a;lib.c 100", 1000);
	o = defaults();
	o.has_pid = 1;
	o.pid = 78; /* no such process */
	check_folded(s, &o, "", 0);
	glass_session_close(s);
}
END_TEST

/* A window [2200, 2550): a's time inside it less its callees' time inside it. */
START_TEST(a_time_window_clips_each_call)
{
	char dir[2048];
	struct glass_session *s = make_session(dir, sizeof(dir));
	struct flame_opts o = defaults();
	o.since_ns = AT(2200);
	o.until_ns = AT(2550);
	check_folded(s, &o, "app.a 100|app.a;app.b 200|app.a;lib.c 50", 350);
	glass_session_close(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("flame");
	TCase *tc = tcase_create("flame");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, wall_time_stacks_from_the_root);
	tcase_add_test(tc, self_time_stacks_reversed);
	tcase_add_test(tc, a_root_frame_per_thread_and_the_thread_filter);
	tcase_add_test(tc, a_time_window_clips_each_call);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_SILENT);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
