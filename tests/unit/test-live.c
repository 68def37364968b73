/* tests/unit/test-live.c — the live reader (tools/live.c) and the resources file
 * (tools/resources.c) against synthetic sessions that grow between reads. */
#include <check.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder/reader.h"
#include "tools/analysis/live.h"
#include "tools/analysis/resources.h"
#include "tools/synth.h"

#define RT0   1700000000000000000ull
#define MONO0 5000000000ull

static char tmp_root[2048];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

static void rm_tmp_root(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void new_session(char *dir, size_t len)
{
	static int counter;
	const char *base = getenv("GLASS_TEST_TMP");
	if (!tmp_root[0]) {
		snprintf(tmp_root, sizeof(tmp_root), "%s/test-live-XXXXXX", base ? base : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(tmp_root));
		atexit(rm_tmp_root);
	}
	snprintf(dir, len, "%s/20250101-12%04d-%d", tmp_root, counter++, (int)getpid());
	ck_assert_int_eq(synth_session_create(dir, GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR), 0);
}

/* The process is this test program (alive) until state says otherwise. */
static void write_meta(const char *pdir, uint32_t state)
{
	struct synth_meta m;
	uint32_t pid = (uint32_t)getpid();
	synth_meta_init(&m, pid, 1, GLASS_CLOCK_MONO, MONO0, MONO0, RT0);
	static const char *const argv[] = {"python3", "app.py"};
	synth_meta_process(&m, pid, 1, RT0, "3.11.2", "/usr/bin/python3", "/srv", "start", argv, 2,
			   "");
	synth_meta_code(&m, 1, "handler", "app", "app.py", 10, 0);
	synth_meta_header(&m)->state = state;
	synth_meta_header(&m)->threads = 1;
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
}

struct seen {
	uint64_t spans, last_nth;
	uint64_t starts[64];
	int order_ok;
};

static void on_end(void *ctx, const struct glass_span *sp)
{
	struct seen *S = ctx;
	if (S->spans < 64)
		S->starts[S->spans] = sp->start_ns;
	S->spans++;
}

/* GIVEN a thread whose open chunk grows, then is sealed, then continued in a .zst chunk
 * WHEN it is polled after each step
 * THEN each span is seen once, and each poll decodes only the bytes added since the last. */
START_TEST(test_live_reads_only_what_is_new)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, (unsigned)getpid());
	write_meta(pdir, GLASS_PROC_RUNNING);

	struct synth_chunk c;
	synth_chunk_init(&c, (uint32_t)getpid(), 77, 1, 1, MONO0, MONO0);
	synth_thread_start(&c, MONO0, 77, 1);
	synth_chunk_start(&c, MONO0, 0);
	synth_call(&c, MONO0 + 1000, 1);
	synth_return(&c, MONO0 + 2000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 65536), 0);
	size_t first = synth_chunk_len(&c);

	struct seen S = {0};
	struct glass_live *L = glass_live_open(sdir, on_end, &S);
	ck_assert_ptr_nonnull(L);
	ck_assert_int_gt(glass_live_poll(L), 0);
	ck_assert_uint_eq(S.spans, 1);
	ck_assert_uint_eq(glass_live_bytes(L), first - GLASS_CHUNK_HEADER_SIZE);
	ck_assert_int_eq(glass_live_poll(L), 0); /* nothing new: nothing read */
	ck_assert_uint_eq(glass_live_bytes(L), first - GLASS_CHUNK_HEADER_SIZE);
	ck_assert_int_eq(glass_live_finished(L), 0);

	/* more records in the same open chunk */
	for (int i = 0; i < 5; i++) {
		synth_call(&c, MONO0 + 10000 + i * 1000, 1);
		synth_return(&c, MONO0 + 10500 + i * 1000);
	}
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 65536), 0);
	ck_assert_int_gt(glass_live_poll(L), 0);
	ck_assert_uint_eq(S.spans, 6);
	ck_assert_uint_eq(glass_live_bytes(L), synth_chunk_len(&c) - GLASS_CHUNK_HEADER_SIZE);
	ck_assert_uint_eq(S.starts[5], RT0 + 14000);

	/* sealed; the next chunk arrives compressed and ends the thread */
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 1, 0, 65536), 0);
	synth_chunk_free(&c);
	synth_chunk_init(&c, (uint32_t)getpid(), 77, 1, 2, MONO0 + 20000, MONO0 + 20000);
	synth_chunk_start(&c, MONO0 + 20000, 0);
	synth_call(&c, MONO0 + 21000, 1);
	synth_return(&c, MONO0 + 22000);
	synth_dt_only(&c, GLASS_REC_THREAD_END, MONO0 + 23000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, GLASS_CHUNK_LAST, 0), 0);
	synth_chunk_free(&c);
	ck_assert_int_gt(glass_live_poll(L), 0);
	ck_assert_uint_eq(S.spans, 7);
	ck_assert_int_eq(glass_live_finished(L), 0); /* the process still runs */
	write_meta(pdir, GLASS_PROC_EXITED);
	glass_live_poll(L);
	ck_assert_int_eq(glass_live_ended(L), 1);
	for (int i = 0; i < 30 && !glass_live_finished(L); i++) {
		usleep(100000);
		glass_live_poll(L);
	}
	ck_assert_int_eq(glass_live_finished(L), 1);
	ck_assert_uint_eq(S.spans, 7);
	ck_assert_ptr_null(glass_live_warning(L));
	const struct glass_live_proc *p = glass_live_proc(L, 0);
	ck_assert_str_eq(p->command, "python3 app.py");
	ck_assert_int_eq(p->ended, 1);
	glass_live_close(L);
}
END_TEST

/* GIVEN a process killed with its chunk open (no seal, no THREAD_END)
 * THEN once it is gone, its open spans end as unfinished and the session is finished. */
START_TEST(test_live_killed_process)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, (unsigned)getpid());
	write_meta(pdir, GLASS_PROC_RUNNING);
	struct synth_chunk c;
	synth_chunk_init(&c, (uint32_t)getpid(), 77, 1, 1, MONO0, MONO0);
	synth_thread_start(&c, MONO0, 77, 1);
	synth_chunk_start(&c, MONO0, 0);
	synth_call(&c, MONO0 + 1000, 1);
	synth_call(&c, MONO0 + 2000, 1);
	synth_return(&c, MONO0 + 3000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct seen S = {0};
	struct glass_live *L = glass_live_open(sdir, on_end, &S);
	glass_live_poll(L);
	ck_assert_uint_eq(S.spans, 1);
	/* "killed": state stays RUNNING, but the pid is no longer alive: a pid that is not */
	struct synth_meta m;
	synth_meta_init(&m, 0x7ffffff0u, 1, GLASS_CLOCK_MONO, MONO0, MONO0, RT0);
	synth_meta_header(&m)->threads = 1;
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
	for (int i = 0; i < 30 && !glass_live_finished(L); i++) {
		glass_live_poll(L);
		usleep(100000);
	}
	ck_assert_int_eq(glass_live_finished(L), 1);
	ck_assert_uint_eq(S.spans, 2); /* the outer call, unfinished */
	glass_live_close(L);
}
END_TEST

/* GIVEN a chunk file created but its header not written yet (zero-filled)
 * THEN it is read once written, not skipped as damage. */
START_TEST(test_live_chunk_being_created)
{
	char sdir[4096], pdir[4200], path[4300];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, (unsigned)getpid());
	write_meta(pdir, GLASS_PROC_RUNNING);
	snprintf(path, sizeof(path), "%s/t1.1.raw", pdir);
	ck_assert_int_eq(synth_write_file(path, "", 0, 4096), 0);
	struct seen S = {0};
	struct glass_live *L = glass_live_open(sdir, on_end, &S);
	glass_live_poll(L);
	ck_assert_ptr_null(glass_live_warning(L));
	struct synth_chunk c;
	synth_chunk_init(&c, (uint32_t)getpid(), 77, 1, 1, MONO0, MONO0);
	synth_thread_start(&c, MONO0, 77, 1);
	synth_chunk_start(&c, MONO0, 0);
	synth_call(&c, MONO0 + 1000, 1);
	synth_return(&c, MONO0 + 2000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	glass_live_poll(L);
	ck_assert_uint_eq(S.spans, 1);
	glass_live_close(L);
}
END_TEST

START_TEST(test_decode_record)
{
	/* a CALL, a record of a later version (wrapped tag 60), a RETURN, then a zero tag */
	const uint8_t buf[] = {0x01, 0x05, 0x07, 60, 0x92, 0x01, 0x02, 0x02, 0x03, 0x00, 0x01};
	size_t off = 0;
	uint64_t ticks = 100;
	struct glass_record r;
	ck_assert_int_eq(glass_decode_record(buf, sizeof(buf), &off, &ticks, &r), 1);
	ck_assert_uint_eq(r.tag, GLASS_REC_CALL);
	ck_assert_uint_eq(r.ticks, 105);
	ck_assert_uint_eq(r.u[1], 7);
	ck_assert_int_eq(glass_decode_record(buf, sizeof(buf), &off, &ticks, &r), 1);
	ck_assert_uint_eq(r.tag, GLASS_REC_RETURN);
	ck_assert_uint_eq(ticks, 108);
	ck_assert_int_eq(glass_decode_record(buf, sizeof(buf), &off, &ticks, &r), 0);
	ck_assert_uint_eq(off, 9);
	/* a record cut by the end of the buffer: -1, the offset stays */
	const uint8_t cut[] = {0x01, 0xcd, 0x01};
	off = 0;
	ck_assert_int_eq(glass_decode_record(cut, sizeof(cut), &off, &ticks, &r), -1);
	ck_assert_uint_eq(off, 0);
}
END_TEST

static void count_res(void *ctx, const struct glass_res_sample *s)
{
	uint64_t *n = ctx;
	(*n)++;
	ck_assert_uint_eq(s->pid, 42);
}

static void append(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* GIVEN a resources file read while it is appended to, a record at a time and cut in two
 * THEN every complete sample is handed over once, and a cut one when it is whole. */
START_TEST(test_resources_incremental)
{
	char sdir[4096], path[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(path, sizeof(path), "%s/%s", sdir, GLASS_RESOURCES_FILE);
	/* RESOURCE [unix_ns=1000, pid=42, image=0, user=10, sys=20, rss=4096, threads=2, fds=5] */
	const uint8_t rec[] = {
	    GLASS_REC_RESOURCE, 0x98, 0xcd, 0x03, 0xe8, 42, 0, 10, 20, 0xcd, 0x10, 0x00, 2, 5};
	const uint8_t sampler[] = {GLASS_REC_SAMPLER, 0x93, 1, 0xce, 0x05, 0xf5, 0xe1, 0x00, 9};
	append(path, GLASS_RESOURCES_MAGIC, 8);
	append(path, sampler, sizeof(sampler));
	append(path, rec, sizeof(rec));
	uint64_t off = 0, n = 0, interval = 0;
	int torn = 0;
	ck_assert_int_eq(glass_resources_read(sdir, &off, &interval, count_res, &n, &torn), 1);
	ck_assert_uint_eq(interval, 100000000);
	append(path, rec, 5);
	ck_assert_int_eq(glass_resources_read(sdir, &off, &interval, count_res, &n, &torn), 0);
	ck_assert_int_eq(torn, 1);
	append(path, rec + 5, sizeof(rec) - 5);
	ck_assert_int_eq(glass_resources_read(sdir, &off, &interval, count_res, &n, &torn), 1);
	ck_assert_uint_eq(n, 2);
	struct glass_resources r;
	ck_assert_int_eq(glass_resources_load(sdir, &r), 0);
	ck_assert_uint_eq(r.nproc, 1);
	ck_assert_uint_eq(r.proc[0].peak_rss, 4096);
	ck_assert_str_eq(r.proc[0].key, "p42.0");
	glass_resources_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("live");
	TCase *tc = tcase_create("live");
	tcase_add_test(tc, test_live_reads_only_what_is_new);
	tcase_add_test(tc, test_live_killed_process);
	tcase_add_test(tc, test_live_chunk_being_created);
	tcase_add_test(tc, test_decode_record);
	tcase_add_test(tc, test_resources_incremental);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
