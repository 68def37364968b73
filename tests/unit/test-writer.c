/* tests/unit/test-writer.c — what the preload's writer writes, the reader reads back. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder/reader.h"
#include "recorder/writer.h"

static char session[4096];

static void make_session(void)
{
	const char *base = getenv("GLASS_TEST_TMP");
	snprintf(session, sizeof(session), "%s/writer-XXXXXX", base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(session));
	char path[4200];
	snprintf(path, sizeof(path), "%s/SESSION", session);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "glass-session %d.%d\n", GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR);
	fclose(f);
}

static void open_proc(struct glass_proc_writer *w, uint32_t chunk_size)
{
	ck_assert_int_eq(glass_proc_writer_open(w, session, 4242, chunk_size, GLASS_CLOCK_MONO,
						 1000, 1000, 1700000000000000000ull),
			 0);
	/* the reader wants a PROCESS record first */
	char buf[512];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	msgpack_pack_uint8(&pk, GLASS_REC_PROCESS);
	msgpack_pack_uint64(&pk, 4242);
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1700000000000000000ull);
	glass_pack_cstr(&pk, "3.11.7");
	glass_pack_cstr(&pk, "/usr/bin/python3");
	glass_pack_cstr(&pk, "/tmp");
	glass_pack_cstr(&pk, "start");
	msgpack_pack_array(&pk, 1);
	glass_pack_cstr(&pk, "python3");
	glass_pack_cstr(&pk, "");
	ck_assert_int_eq(glass_proc_writer_append(w, mb.data, mb.len), 0);
	mb.len = 0;
	msgpack_pack_uint8(&pk, GLASS_REC_CODE);
	msgpack_pack_uint64(&pk, 7);
	glass_pack_cstr(&pk, "Shop.checkout");
	glass_pack_cstr(&pk, "shop.cart");
	glass_pack_cstr(&pk, "/app/shop/cart.py");
	msgpack_pack_uint64(&pk, 12);
	msgpack_pack_uint64(&pk, 0);
	ck_assert_int_eq(glass_proc_writer_append(w, mb.data, mb.len), 0);
}

struct counts {
	uint64_t by_tag[128];
	uint64_t total;
	uint64_t last_ticks;
	int ordered;
};

static struct glass_session *read_all(struct counts *c)
{
	char err[512];
	memset(c, 0, sizeof(*c));
	c->ordered = 1;
	struct glass_session *s = glass_session_open(session, err, sizeof(err));
	ck_assert_msg(s != NULL, "open: %s", err);
	ck_assert_uint_eq(glass_session_nprocs(s), 1);
	struct glass_proc *p = glass_session_proc(s, 0);
	const uint32_t *tidx;
	size_t nt = glass_proc_threads(p, &tidx);
	for (size_t i = 0; i < nt; i++) {
		struct glass_stream *st = glass_stream_open(p, tidx[i]);
		ck_assert_ptr_nonnull(st);
		struct glass_record r;
		uint64_t last = 0;
		while (glass_stream_next(st, &r) == 1) {
			c->by_tag[r.tag]++;
			c->total++;
			if (r.ticks && r.ticks < last)
				c->ordered = 0;
			if (r.ticks)
				last = r.ticks;
		}
		glass_stream_close(st);
	}
	return s;
}

/* GIVEN one thread writing every hot record type WHEN read back THEN each arrives intact */
START_TEST(every_stream_record_round_trips)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 1 << 16);
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 4242, 2000, 0), 0);
	glass_emit_thread_name(&s, 2001, "MainThread", 10);
	glass_emit_call(&s, 2010, 7);
	glass_emit_gen_create(&s, 2020, 7, 0xdeadbeef00ull);
	glass_emit_gen_resume(&s, 2030, 7, 0xdeadbeef00ull);
	glass_emit_gen_yield(&s, 2040);
	glass_emit_gen_resume(&s, 2050, 7, 0xdeadbeef00ull);
	glass_emit_gen_return(&s, 2060);
	glass_emit_gen_close(&s, 2065, 0xdeadbeef00ull);
	glass_emit_exc(&s, 2070, 1, "ValueError", 10, "bad \"thing\"\n", 12);
	glass_emit_raise(&s, 2080, 1);
	ck_assert_uint_eq(s.depth, 0);
	glass_stream_seal(&s, GLASS_CHUNK_LAST);

	char err[512];
	struct glass_session *ss = glass_session_open(session, err, sizeof(err));
	ck_assert_msg(ss != NULL, "%s", err);
	struct glass_proc *p = glass_session_proc(ss, 0);
	const struct glass_code_def *def = glass_proc_code(p, 7);
	ck_assert_ptr_nonnull(def);
	ck_assert_str_eq(def->qualname, "Shop.checkout");
	ck_assert_str_eq(def->module, "shop.cart");
	const uint32_t *tidx;
	ck_assert_uint_eq(glass_proc_threads(p, &tidx), 1);
	struct glass_stream *st = glass_stream_open(p, tidx[0]);
	struct glass_record r;
	uint8_t want[] = {GLASS_REC_CHUNK_START, GLASS_REC_THREAD_START, GLASS_REC_THREAD_NAME,
			  GLASS_REC_CALL,        GLASS_REC_GEN_CREATE,   GLASS_REC_GEN_RESUME,
			  GLASS_REC_GEN_YIELD,   GLASS_REC_GEN_RESUME,   GLASS_REC_GEN_RETURN,
			  GLASS_REC_GEN_CLOSE,   GLASS_REC_EXC,          GLASS_REC_RAISE};
	for (size_t i = 0; i < sizeof(want); i++) {
		ck_assert_int_eq(glass_stream_next(st, &r), 1);
		ck_assert_uint_eq(r.tag, want[i]);
		if (r.tag == GLASS_REC_CALL) {
			ck_assert_uint_eq(r.u[1], 7);
			ck_assert_uint_eq(r.ticks, 2010);
		}
		if (r.tag == GLASS_REC_GEN_RESUME)
			ck_assert_uint_eq(r.u[2], 0xdeadbeef00ull);
		if (r.tag == GLASS_REC_EXC) {
			ck_assert_uint_eq(r.s[1].len, 10);
			ck_assert(memcmp(r.s[1].p, "ValueError", 10) == 0);
			ck_assert_uint_eq(r.s[2].len, 12);
		}
		if (r.tag == GLASS_REC_RAISE) {
			ck_assert_uint_eq(r.u[1], 1);
			ck_assert_uint_eq(r.ticks, 2080);
		}
	}
	ck_assert_int_eq(glass_stream_next(st, &r), 0);
	glass_stream_close(st);
	glass_session_close(ss);
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN tiny chunks WHEN a thread writes 100k calls THEN every record arrives, in order, over
 * many chunks, and compressing the sealed ones changes nothing */
START_TEST(many_chunks_then_compressed)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 4096);
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 1, 10, 0), 0);
	uint64_t t = 100;
	for (int i = 0; i < 100000; i++) {
		glass_emit_call(&s, t += 37, (uint32_t)(i % 300));
		glass_emit_return(&s, t += 1000 + (uint64_t)(i % 7));
	}
	glass_stream_seal(&s, GLASS_CHUNK_LAST);
	ck_assert_uint_gt(s.seq, 100);
	ck_assert_uint_eq(w.hdr->lost_events, 0);

	struct counts c;
	glass_session_close(read_all(&c));
	ck_assert_uint_eq(c.by_tag[GLASS_REC_CALL], 100000);
	ck_assert_uint_eq(c.by_tag[GLASS_REC_RETURN], 100000);
	ck_assert_uint_eq(c.by_tag[GLASS_REC_CHUNK_START], s.seq);
	ck_assert(c.ordered);

	ck_assert_uint_eq(glass_proc_writer_compress(&w, 10000000000ull), s.seq);
	char raw[4400];
	snprintf(raw, sizeof(raw), "%s/t1.1.raw", w.dir);
	ck_assert_int_ne(access(raw, F_OK), 0);
	struct counts z;
	glass_session_close(read_all(&z));
	ck_assert_uint_eq(z.total, c.total);
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN a cap of two chunks WHEN more is written THEN recorded + lost == written, exactly, and
 * the LOST record that follows recovery says where the stream resumes */
START_TEST(drops_are_counted_exactly)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 4096);
	w.max_bytes = 2 * 4096;
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 1, 10, 0), 0);
	uint64_t t = 100, written = 0;
	for (int i = 0; i < 50000; i++) {
		glass_emit_call(&s, t += 10, 3);
		glass_emit_return(&s, t += 10);
		written += 2;
	}
	ck_assert_uint_eq(s.depth, 0);
	glass_stream_seal(&s, GLASS_CHUNK_LAST);
	struct counts c;
	glass_session_close(read_all(&c));
	uint64_t recorded = c.by_tag[GLASS_REC_CALL] + c.by_tag[GLASS_REC_RETURN];
	ck_assert_uint_gt(w.hdr->lost_events, 0);
	ck_assert_uint_eq(recorded + w.hdr->lost_events, written);
	ck_assert_uint_eq(w.hdr->lost_chunks, 0); /* a cap is not a failure */
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN a stream WHEN records are written, chunks change and records are dropped THEN the busy
 * flag (a sampling signal handler's "a record is half written") is set only inside the writer:
 * clear after every record, every chunk switch and every drop, set between reserve and publish */
START_TEST(busy_flag_only_inside_the_writer)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 4096);
	w.max_bytes = 3 * 4096;
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 1, 10, 0), 0);
	ck_assert_uint_eq(s.busy, 0);
	uint64_t t = 100;
	uint8_t *at = glass_reserve(&s, GLASS_HOT_MAX, t += 10);
	ck_assert_ptr_nonnull(at);
	ck_assert_uint_eq(s.busy, 1); /* between reserve and publish */
	struct glass_cursor c = {at + 1};
	glass_mp_pack_uint64(&c, 5);
	glass_publish(&s, at, GLASS_REC_RETURN, c.p);
	ck_assert_uint_eq(s.busy, 0);
	glass_emit_exc(&s, t += 10, 1, "E", 1, "m", 1);
	ck_assert_uint_eq(s.busy, 0);
	for (int i = 0; i < 20000; i++) { /* through chunk switches, then drops at the cap */
		glass_emit_call(&s, t += 10, 3);
		ck_assert_uint_eq(s.busy, 0);
		glass_emit_return(&s, t += 10);
		ck_assert_uint_eq(s.busy, 0);
	}
	ck_assert_uint_gt(w.hdr->lost_events, 0);
	ck_assert_ptr_null(glass_reserve(&s, GLASS_HOT_MAX, t += 10)); /* a drop */
	ck_assert_uint_eq(s.busy, 0);
	glass_stream_seal(&s, GLASS_CHUNK_LAST);
	ck_assert_uint_eq(s.busy, 0);
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN a record whose fields landed but whose tag did not (a crash mid-record) THEN the
 * reader keeps everything before it and stops there */
START_TEST(torn_record_is_not_seen)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 1 << 16);
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 1, 10, 0), 0);
	for (int i = 0; i < 10; i++) {
		glass_emit_call(&s, 100 + (uint64_t)i * 2, 1);
		glass_emit_return(&s, 101 + (uint64_t)i * 2);
	}
	/* the fields of one more CALL, tag byte still zero; then the process "dies" (no seal) */
	s.cur[1] = 0x05;
	s.cur[2] = 0x01;
	struct counts c;
	glass_session_close(read_all(&c));
	ck_assert_uint_eq(c.by_tag[GLASS_REC_CALL], 10);
	ck_assert_uint_eq(c.by_tag[GLASS_REC_RETURN], 10);
	glass_stream_forget(&s);
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN a chunk its writer never sealed (killed) WHEN compressed whole THEN it reads the same */
START_TEST(unsealed_chunk_compresses_whole)
{
	make_session();
	struct glass_proc_writer w;
	open_proc(&w, 1 << 16);
	struct glass_stream_writer s;
	ck_assert_int_eq(glass_stream_start(&s, &w, 1, 10, 0), 0);
	for (int i = 0; i < 1000; i++)
		glass_emit_call(&s, 100 + (uint64_t)i, 2);
	struct counts before;
	glass_session_close(read_all(&before));
	ck_assert_int_eq(glass_chunk_compress(w.dir, "t1.1.raw", 0), 0); /* not sealed */
	ck_assert_int_eq(glass_chunk_compress(w.dir, "t1.1.raw", 1), 1);
	struct counts after;
	glass_session_close(read_all(&after));
	ck_assert_uint_eq(after.by_tag[GLASS_REC_CALL], 1000);
	ck_assert_uint_eq(after.total, before.total);
	glass_stream_forget(&s);
	glass_proc_writer_forget(&w);
}
END_TEST

/* GIVEN a name longer than the limit THEN it is cut on a UTF-8 boundary and marked */
START_TEST(long_strings_are_cut_on_utf8_boundaries)
{
	char buf[4096];
	struct glass_cursor c = {(uint8_t *)buf};
	char name[2000];
	for (size_t i = 0; i + 1 < sizeof(name); i += 2) {
		name[i] = (char)0xC3; /* é */
		name[i + 1] = (char)0xA9;
	}
	glass_cursor_str(&c, name, sizeof(name), 101);
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	ck_assert_int_eq(msgpack_unpack_next(&u, buf, (size_t)((char *)c.p - buf), &off),
			 MSGPACK_UNPACK_SUCCESS);
	ck_assert_int_eq(u.data.type, MSGPACK_OBJECT_STR);
	uint32_t n = u.data.via.str.size;
	ck_assert_uint_le(n, 101);
	ck_assert(memcmp(u.data.via.str.ptr + n - 3, "...", 3) == 0);
	ck_assert_uint_eq((n - 3) % 2, 0);
	msgpack_unpacked_destroy(&u);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("writer");
	TCase *tc = tcase_create("writer");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_stream_record_round_trips);
	tcase_add_test(tc, many_chunks_then_compressed);
	tcase_add_test(tc, drops_are_counted_exactly);
	tcase_add_test(tc, torn_record_is_not_seen);
	tcase_add_test(tc, busy_flag_only_inside_the_writer);
	tcase_add_test(tc, unsealed_chunk_compresses_whole);
	tcase_add_test(tc, long_strings_are_cut_on_utf8_boundaries);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
