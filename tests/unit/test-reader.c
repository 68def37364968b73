/* tests/unit/test-reader.c — the reader against synthetic recordings written by format.h. */
#include <check.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recorder/reader.h"
#include "tools/synth.h"

#define PID   4242
#define RT0   1700000000000000000ull /* start_realtime_ns */
#define MONO0 5000000000ull	     /* start_mono_ns */
#define TSC0  1000000ull	     /* start_tsc */

static char tmp_root[2048];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* The scratch sessions go when the test process (a forked child per test) exits. */
static void rm_tmp_root(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh session directory under $GLASS_TEST_TMP (meson's build dir) or /tmp. */
static void new_session(char *dir, size_t len)
{
	static int counter;
	const char *base = getenv("GLASS_TEST_TMP");
	if (!tmp_root[0]) {
		snprintf(tmp_root, sizeof(tmp_root), "%s/test-reader-XXXXXX", base ? base : "/tmp");
		ck_assert_ptr_nonnull(mkdtemp(tmp_root));
		atexit(rm_tmp_root);
	}
	snprintf(dir, len, "%s/20250101-12%04d-%d", tmp_root, counter++, (int)getpid());
	ck_assert_int_eq(synth_session_create(dir, GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR), 0);
}

/* Writes p<PID>.0/meta with a PROCESS record and code ids 1..3; clock TSC at 1/3 ns a tick. */
static void write_meta(const char *sdir, char *pdir, size_t len, uint32_t clock)
{
	snprintf(pdir, len, "%s/p%u.0", sdir, PID);
	struct synth_meta m;
	synth_meta_init(&m, PID, 1, clock, clock == GLASS_CLOCK_MONO ? MONO0 : TSC0, MONO0, RT0);
	static const char *const argv[] = {"python3", "app.py", "--flag"};
	synth_meta_process(&m, PID, 1, RT0, "3.11.2", "/usr/bin/python3", "/srv", "start", argv, 3,
			   "");
	synth_meta_code(&m, 1, "main", "__main__", "app.py", 10, 0);
	synth_meta_code(&m, 2, "Worker.run", "app.worker", "worker.py", 20, 0);
	synth_meta_code(&m, 3, "ticker", "app.gen", "gen.py", 30, GLASS_CO_GENERATOR);
	/* end sample: 3e9 ticks later, 1e9 ns later */
	synth_meta_header(&m)->end_tsc = TSC0 + 3000000000ull;
	synth_meta_header(&m)->end_mono_ns = MONO0 + 1000000000ull;
	synth_meta_header(&m)->state = GLASS_PROC_EXITED;
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
}

static struct glass_session *open_ok(const char *dir)
{
	char err[512] = "";
	struct glass_session *s = glass_session_open(dir, err, sizeof(err));
	ck_assert_msg(s != NULL, "open failed: %s", err);
	return s;
}

static size_t count_warnings_with(struct glass_session *s, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < glass_session_nwarnings(s); i++)
		n += strstr(glass_session_warning(s, i), needle) != NULL;
	return n;
}

static size_t count_notices_with(struct glass_session *s, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < glass_session_nnotices(s); i++)
		n += strstr(glass_session_notice(s, i), needle) != NULL;
	return n;
}

/* Reads every record of thread 1 into recs (at most max); returns the count. */
static size_t read_all(struct glass_session *s, struct glass_record *recs, size_t max)
{
	struct glass_proc *p = glass_session_proc(s, 0);
	ck_assert_ptr_nonnull(p);
	struct glass_stream *st = glass_stream_open(p, 1);
	ck_assert_ptr_nonnull(st);
	size_t n = 0;
	struct glass_record r;
	static char pool[1 << 16];
	size_t used = 0;
	while (glass_stream_next(st, &r)) {
		/* strings point into the stream's buffer: keep copies past the close */
		const struct glass_record_desc *d = glass_record_desc(r.tag);
		for (unsigned f = 0; f < r.nfields; f++) {
			if ((d->types[f] != 's' && d->types[f] != 'm' && d->types[f] != 'b') || !r.s[f].p || used + r.s[f].len > sizeof(pool))
				continue;
			memcpy(pool + used, r.s[f].p, r.s[f].len);
			r.s[f].p = pool + used;
			used += r.s[f].len;
		}
		if (n < max)
			recs[n] = r;
		n++;
	}
	glass_stream_close(st);
	return n;
}

static const uint64_t uvals[] = {
    0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffull, 0x100000000ull, UINT64_MAX};
static const char *const svals[] = {"", "h\xc3\xa9\"llo\n", NULL, "x"};

/* GIVEN one chunk holding every stream record with boundary values, WHEN read back, THEN every
 * field comes back as written and ticks are the running sum of dt. */
START_TEST(every_stream_record_round_trips)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	synth_chunk_init(&c, PID, PID, 1, 1, TSC0, MONO0);
	size_t n;
	const struct glass_record_desc *d = glass_record_descs(&n);
	struct glass_record want[160];
	size_t nw = 0, k = 0;
	uint64_t ticks = TSC0;
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < n; i++) {
			if (d[i].tag >= 64)
				continue;
			struct glass_record *w = &want[nw++];
			memset(w, 0, sizeof(*w));
			w->tag = d[i].tag;
			synth_tag(&c, d[i].tag);
			if (GLASS_REC_IS_WRAPPED(d[i].tag))
				msgpack_pack_array(&c.pk, strlen(d[i].types));
			int timed = !strncmp(d[i].fields, "dt", 2);
			for (size_t f = 0; d[i].types[f]; f++) {
				if (d[i].types[f] == 'u') {
					uint64_t v = uvals[k++ % 11];
					if (f == 0 && timed)
						v = v % 1000; /* keep the clock sane */
					synth_u(&c, v);
					w->u[f] = v;
				} else if (d[i].types[f] == 'm') {
					/* attributes: a string, an integer and a boolean */
					const char *sv = svals[k++ % 4];
					msgpack_pack_map(&c.pk, 3);
					synth_s(&c, "db.statement");
					synth_s(&c, sv);
					synth_s(&c, "db.response.returned_rows");
					msgpack_pack_int64(&c.pk, -5 + (int64_t)k);
					synth_s(&c, "ok");
					msgpack_pack_true(&c.pk);
					w->u[f] = 3;
					w->s[f].p = sv;
					w->s[f].len = sv ? (uint32_t)strlen(sv) : 0;
					w->u[GLASS_REC_MAX_FIELDS - 1] = (uint64_t)(-5 + (int64_t)k);
				} else if (d[i].types[f] == 'i') {
					int64_t v = (int64_t)(k++ % 5) - 3; /* negative and not */
					msgpack_pack_int64(&c.pk, v);
					w->u[f] = (uint64_t)v;
				} else if (d[i].types[f] == 'b') {
					/* bytes (native stacks): msgpack bin, or nil */
					const char *sv = svals[k++ % 4];
					if (sv) {
						msgpack_pack_bin(&c.pk, strlen(sv));
						msgpack_pack_bin_body(&c.pk, sv, strlen(sv));
					} else {
						msgpack_pack_nil(&c.pk);
					}
					w->s[f].p = sv;
					w->s[f].len = sv ? (uint32_t)strlen(sv) : 0;
				} else {
					const char *sv = svals[k++ % 4];
					synth_s(&c, sv);
					w->s[f].p = sv;
					w->s[f].len = sv ? (uint32_t)strlen(sv) : 0;
				}
			}
			if (timed) {
				/* a wrapped record's dt does not move the clock (format.h) */
				w->ticks = ticks + w->u[0];
				if (!GLASS_REC_IS_WRAPPED(d[i].tag))
					ticks = w->ticks;
			}
		}
	}
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 1, GLASS_CHUNK_LAST, 4096), 0);
	synth_chunk_free(&c);

	struct glass_session *s = open_ok(sdir);
	struct glass_record got[160];
	size_t ng = read_all(s, got, 160);
	ck_assert_uint_eq(ng, nw);
	struct glass_proc *p = glass_session_proc(s, 0);
	for (size_t i = 0; i < nw; i++) {
		const struct glass_record_desc *dd = glass_record_desc(want[i].tag);
		ck_assert_uint_eq(got[i].tag, want[i].tag);
		ck_assert_uint_eq(got[i].nfields, strlen(dd->types));
		for (size_t f = 0; dd->types[f]; f++) {
			if (dd->types[f] == 'u' || dd->types[f] == 'i') {
				ck_assert_uint_eq(got[i].u[f], want[i].u[f]);
			} else if (dd->types[f] == 'm') {
				struct glass_map_iter it;
				struct glass_map_item m;
				ck_assert_uint_eq(got[i].u[f], 3);
				glass_map_begin(&got[i], f, &it);
				ck_assert_int_eq(glass_map_next(&it, &m), 1);
				ck_assert_uint_eq(m.key.len, 12);
				if (want[i].s[f].p) {
					ck_assert_int_eq(m.type, GLASS_MAP_STR);
					ck_assert_uint_eq(m.s.len, want[i].s[f].len);
					ck_assert(!memcmp(m.s.p, want[i].s[f].p, m.s.len));
				} else {
					ck_assert_int_eq(m.type, GLASS_MAP_NIL);
				}
				ck_assert_int_eq(glass_map_next(&it, &m), 1);
				ck_assert_int_eq(m.type, GLASS_MAP_INT);
				ck_assert_int_eq(m.i, (int64_t)want[i].u[GLASS_REC_MAX_FIELDS - 1]);
				ck_assert_int_eq(glass_map_next(&it, &m), 1);
				ck_assert_int_eq(m.type, GLASS_MAP_BOOL);
				ck_assert_int_eq(m.i, 1);
				ck_assert_int_eq(glass_map_next(&it, &m), 0);
			} else if (!want[i].s[f].p) {
				ck_assert_ptr_null(got[i].s[f].p);
			} else {
				ck_assert_uint_eq(got[i].s[f].len, want[i].s[f].len);
				ck_assert(!memcmp(got[i].s[f].p, want[i].s[f].p, want[i].s[f].len));
			}
		}
		if (want[i].ticks) {
			ck_assert_uint_eq(got[i].ticks, want[i].ticks);
			ck_assert_uint_eq(got[i].ts_ns,
					  glass_proc_ticks_to_unix_ns(p, want[i].ticks));
		}
	}
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	glass_session_close(s);
}
END_TEST

/* GIVEN a meta file with every meta record, THEN meta_next returns them in order with their
 * strings, arrays and signed fields, and proc_info/codes reflect them. */
START_TEST(every_meta_record_round_trips)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, PID);
	struct synth_meta m;
	synth_meta_init(&m, PID, 77, GLASS_CLOCK_TSC, TSC0, MONO0, RT0);
	static const char *const argv[] = {"python3", "-c", "print(\"\xff\")"};
	synth_meta_process(&m, PID, 77, RT0, "3.12.1", "/usr/bin/python3", "/home", "fork", argv, 3,
			   "p77.0");
	synth_meta_code(&m, 9, "f", "mod", "mod.py", 3, 0);
	msgpack_packer *pk = &m.pk;
	msgpack_pack_uint8(pk, GLASS_REC_FORK);
	msgpack_pack_uint64(pk, 123);
	msgpack_pack_uint64(pk, 4343);
	msgpack_pack_uint8(pk, GLASS_REC_EXEC);
	msgpack_pack_uint64(pk, 456);
	synth_pack_str(pk, "/bin/sh");
	msgpack_pack_array(pk, 2);
	synth_pack_str(pk, "sh");
	msgpack_pack_nil(pk);
	msgpack_pack_uint8(pk, GLASS_REC_END);
	msgpack_pack_uint64(pk, 789);
	msgpack_pack_int64(pk, -9);
	synth_pack_str(pk, "signal");
	msgpack_pack_uint8(pk, GLASS_REC_NOTE);
	msgpack_pack_uint64(pk, GLASS_NOTE_WARNING);
	synth_pack_str(pk, "policy file unreadable");
	msgpack_pack_uint8(pk, GLASS_REC_POLICY);
	synth_pack_str(pk, "include");
	synth_pack_str(pk, "/etc/glass.policy");
	msgpack_pack_nil(pk);
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);

	struct glass_session *s = open_ok(sdir);
	ck_assert_uint_eq(glass_session_nprocs(s), 1);
	struct glass_proc *p = glass_session_proc(s, 0);
	const struct glass_proc_info *in = glass_proc_info(p);
	ck_assert_str_eq(in->key, "p4242.0");
	ck_assert_uint_eq(in->pid, PID);
	ck_assert_uint_eq(in->ppid, 77);
	ck_assert_str_eq(in->python, "3.12.1");
	ck_assert_str_eq(in->origin, "fork");
	ck_assert_str_eq(in->parent, "p77.0");
	ck_assert_uint_eq(in->argc, 3);
	ck_assert_str_eq(in->argv[1], "-c");
	ck_assert_ptr_null(in->argv[3]);
	ck_assert_uint_eq(in->ncodes, 1);
	ck_assert_str_eq(glass_proc_code(p, 9)->qualname, "f");
	ck_assert_ptr_null(glass_proc_code(p, 8));

	static const uint8_t order[] = {GLASS_REC_PROCESS, GLASS_REC_CODE, GLASS_REC_FORK,
					GLASS_REC_EXEC,	   GLASS_REC_END,  GLASS_REC_NOTE,
					GLASS_REC_POLICY};
	size_t cursor = 0, i = 0;
	struct glass_record r;
	while (glass_proc_meta_next(p, &cursor, &r)) {
		ck_assert_uint_lt(i, sizeof(order));
		ck_assert_uint_eq(r.tag, order[i]);
		if (r.tag == GLASS_REC_EXEC) {
			struct glass_str a;
			ck_assert_uint_eq(r.u[2], 2);
			ck_assert_int_eq(glass_record_array_item(&r, 2, 0, &a), 0);
			ck_assert(a.len == 2 && !memcmp(a.p, "sh", 2));
			ck_assert_int_eq(glass_record_array_item(&r, 2, 1, &a), 0);
			ck_assert_ptr_null(a.p);
			ck_assert_int_eq(glass_record_array_item(&r, 2, 2, &a), -1);
			ck_assert_int_eq(glass_record_array_item(&r, 1, 0, &a), -1);
		}
		if (r.tag == GLASS_REC_END)
			ck_assert_int_eq((int64_t)r.u[1], -9);
		if (r.tag == GLASS_REC_POLICY)
			ck_assert_ptr_null(r.s[2].p);
		i++;
	}
	ck_assert_uint_eq(i, sizeof(order));
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	glass_session_close(s);
}
END_TEST

/* A chunk of CHUNK_START, THREAD_START, CALL(1), RETURN: the common prefix of several tests. */
static void chunk_prefix(struct synth_chunk *c, uint32_t seq, uint64_t base)
{
	synth_chunk_init(c, PID, PID, 1, seq, base, MONO0 + (base - TSC0) / 3);
	synth_chunk_start(c, base, 0);
	synth_thread_start(c, base + 3, PID, 1);
	synth_call(c, base + 30, 1);
	synth_dt_only(c, GLASS_REC_RETURN, base + 60);
}

/* GIVEN a record whose fields were written but not its tag (a crash mid-record), THEN reading
 * stops cleanly before it: the zero byte is the end, no warning. */
START_TEST(record_without_tag_is_the_end)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	static const uint8_t torn[] = {0x00, 0xcd, 0x01, 0x2c, 0x07};
	synth_raw(&c, torn, sizeof(torn));
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[8];
	ck_assert_uint_eq(read_all(s, r, 8), 4);
	ck_assert_uint_eq(r[3].tag, GLASS_REC_RETURN);
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	glass_session_close(s);
}
END_TEST

/* GIVEN a GEN_CLOSE (fields wrapped, as every record added after 1.0) and a record of a later
 * version with a tag this reader does not know, THEN the first decodes, the second is skipped
 * whole, and the records after both are read, with no warning. */
START_TEST(wrapped_records_and_unknown_later_tags)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	synth_gen_close(&c, TSC0 + 70, 0xabcdef);
	/* tag 60: [dt=5, "future", {"k": [1, 2]}, 3.5] */
	static const uint8_t future[] = {60,  0x94, 0x05, 0xa6, 'f', 'u', 't', 'u', 'r', 'e',
					 0x81, 0xa1, 'k', 0x92, 0x01, 0x02, 0xcb, 0x40, 0x0c, 0,
					 0,   0,    0,    0,    0};
	synth_raw(&c, future, sizeof(future));
	synth_return(&c, TSC0 + 90);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[8];
	size_t n = read_all(s, r, 8);
	ck_assert_uint_eq(r[n - 2].tag, GLASS_REC_GEN_CLOSE);
	ck_assert_uint_eq(r[n - 2].u[1], 0xabcdef);
	ck_assert_uint_eq(r[n - 2].ticks, TSC0 + 70);
	ck_assert_uint_eq(r[n - 1].tag, GLASS_REC_RETURN);
	ck_assert_uint_eq(r[n - 1].ticks, TSC0 + 90);
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	glass_session_close(s);
}
END_TEST

/* GIVEN garbage after valid records in the thread's last, unsealed chunk (a crash tail), THEN
 * the records before are kept and one warning names the chunk and the byte offset. */
START_TEST(garbage_in_crash_tail_warns)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	size_t at = synth_chunk_len(&c);
	static const uint8_t junk[] = {0x7e, 0xff, 0x13, 0x37};
	synth_raw(&c, junk, sizeof(junk));
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[8];
	ck_assert_uint_eq(read_all(s, r, 8), 4);
	char want[128];
	snprintf(want, sizeof(want), "p4242.0 t1.1: torn or corrupt tail at byte %zu;", at);
	ck_assert_uint_eq(glass_session_nwarnings(s), 1);
	ck_assert_msg(strstr(glass_session_warning(s, 0), want), "got: %s",
		      glass_session_warning(s, 0));
	/* reading the thread again does not repeat the warning */
	read_all(s, r, 8);
	ck_assert_uint_eq(glass_session_nwarnings(s), 1);
	glass_session_close(s);
}
END_TEST

/* GIVEN garbage in a sealed chunk, THEN it is counted as a note (info), not a warning. */
START_TEST(garbage_in_sealed_chunk_is_noted)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	static const uint8_t junk[] = {0x01, 0xc1, 0x00};
	synth_raw(&c, junk, sizeof(junk));
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, GLASS_CHUNK_LAST, 0), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[8];
	ck_assert_uint_eq(read_all(s, r, 8), 4);
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	ck_assert_uint_eq(count_notices_with(s, "corrupt data"), 1);
	glass_session_close(s);
}
END_TEST

/* GIVEN msgpack cut short (a uint16 missing its second byte) at the end of the data, THEN the
 * cut record is not returned and nothing is read out of bounds. */
START_TEST(truncated_msgpack_is_not_read)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	static const uint8_t cut[] = {GLASS_REC_CALL, 0xcd, 0x01};
	synth_raw(&c, cut, sizeof(cut));
	/* unsealed, no zero tail: the file ends inside the record */
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 0), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[8];
	ck_assert_uint_eq(read_all(s, r, 8), 4);
	ck_assert_uint_eq(count_warnings_with(s, "torn or corrupt tail"), 1);
	glass_session_close(s);
}
END_TEST

/* GIVEN both t1.1.raw and t1.1.zst, THEN the .zst is read; a corrupt .zst falls back to .raw. */
START_TEST(zst_is_preferred_over_raw)
{
	char sdir[4096], pdir[4200];
	for (int corrupt = 0; corrupt < 2; corrupt++) {
		new_session(sdir, sizeof(sdir));
		write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
		struct synth_chunk c;
		synth_chunk_init(&c, PID, PID, 1, 1, TSC0, MONO0);
		synth_call(&c, TSC0 + 3, 1);
		ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
		synth_chunk_free(&c);
		synth_chunk_init(&c, PID, PID, 1, 1, TSC0, MONO0);
		synth_call(&c, TSC0 + 3, 2);
		ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, 0, 0), 0);
		synth_chunk_free(&c);
		if (corrupt) {
			char path[4300];
			snprintf(path, sizeof(path), "%s/t1.1.zst", pdir);
			FILE *f = fopen(path, "r+");
			fseek(f, 12, SEEK_SET);
			fputs("garbage!", f);
			fclose(f);
		}
		struct glass_session *s = open_ok(sdir);
		struct glass_record r[4];
		ck_assert_uint_eq(read_all(s, r, 4), 1);
		ck_assert_uint_eq(r[0].u[1], corrupt ? 1 : 2);
		ck_assert_uint_eq(glass_session_nwarnings(s), corrupt ? 1 : 0);
		glass_session_close(s);
	}
}
END_TEST

/* GIVEN chunks 1 and 3 of a thread, THEN both are read and the gap is a warning. */
START_TEST(missing_seq_warns)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, 0, 0), 0);
	synth_chunk_free(&c);
	chunk_prefix(&c, 3, TSC0 + 3000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[16];
	ck_assert_uint_eq(read_all(s, r, 16), 8);
	ck_assert_uint_eq(r[4].ticks, TSC0 + 3000);
	ck_assert_uint_eq(count_warnings_with(s, "t1: chunk 2 is missing"), 1);
	uint32_t max_seq;
	ck_assert_uint_eq(glass_proc_thread_chunks(glass_session_proc(s, 0), 1, &max_seq), 2);
	ck_assert_uint_eq(max_seq, 3);
	glass_session_close(s);
}
END_TEST

/* GIVEN a chunk with a bad magic next to a good one, THEN it is skipped with a warning. */
START_TEST(bad_magic_chunk_is_skipped)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0);
	memcpy(synth_chunk_header(&c)->magic, "XXXX", 4);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 1, 0, 0), 0);
	synth_chunk_free(&c);
	chunk_prefix(&c, 2, TSC0 + 3000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	char path[4300];
	snprintf(path, sizeof(path), "%s/t1.3.raw", pdir);
	ck_assert_int_eq(synth_write_file(path, "GLCK", 4, 0), 0); /* truncated header */
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[16];
	ck_assert_uint_eq(read_all(s, r, 16), 4);
	ck_assert_uint_eq(count_warnings_with(s, "t1.1: not a chunk (bad magic); chunk skipped"),
			  1);
	ck_assert_uint_eq(count_warnings_with(s, "t1.3: truncated header; chunk skipped"), 1);
	glass_session_close(s);
}
END_TEST

/* Clock: ticks map to Unix ns through the earliest and latest (tsc, mono) samples. */
START_TEST(tsc_ticks_convert_to_unix_ns)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
	struct synth_chunk c;
	/* a chunk opened 3e6 ticks = 1 ms after the start */
	chunk_prefix(&c, 1, TSC0 + 3000000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_proc *p = glass_session_proc(s, 0);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0), RT0);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0 + 3000000), RT0 + 1000000);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0 + 3000000000ull), RT0 + 1000000000);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0 + 30000000000000ull),
			  RT0 + 10000000000000ull);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0 - 3000), RT0 - 1000);
	struct glass_record r[8];
	ck_assert_uint_eq(read_all(s, r, 8), 4);
	ck_assert_uint_eq(r[2].ts_ns, RT0 + 1000000 + 10); /* CALL 30 ticks into the chunk */
	const struct glass_proc_info *in = glass_proc_info(p);
	ck_assert_uint_eq(in->start_unix_ns, RT0);
	ck_assert_uint_eq(in->end_unix_ns, RT0 + 1000000000);
	ck_assert_uint_eq(glass_session_nwarnings(s), 0);
	glass_session_close(s);
}
END_TEST

/* A calibration sample being written (odd cal_seq) is ignored. */
START_TEST(odd_cal_seq_is_ignored)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, PID);
	struct synth_meta m;
	synth_meta_init(&m, PID, 1, GLASS_CLOCK_TSC, TSC0, MONO0, RT0);
	struct glass_meta_header *h = synth_meta_header(&m);
	h->cal_seq = 3;
	h->cal_tsc = TSC0 + 999999999999ull;
	h->cal_mono_ns = MONO0 + 1;
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
	struct synth_chunk c;
	chunk_prefix(&c, 1, TSC0 + 3000000);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_proc *p = glass_session_proc(s, 0);
	ck_assert_uint_eq(glass_proc_ticks_to_unix_ns(p, TSC0 + 300), RT0 + 100);
	glass_session_close(s);
}
END_TEST

/* With GLASS_CLOCK_MONO the ticks are monotonic ns already. */
START_TEST(mono_ticks_are_ns)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_MONO);
	struct synth_chunk c;
	synth_chunk_init(&c, PID, PID, 1, 1, MONO0 + 500, MONO0 + 500);
	synth_call(&c, MONO0 + 700, 1);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 0, 0, 0, 4096), 0);
	synth_chunk_free(&c);
	struct glass_session *s = open_ok(sdir);
	struct glass_record r[2];
	ck_assert_uint_eq(read_all(s, r, 2), 1);
	ck_assert_uint_eq(r[0].ts_ns, RT0 + 700);
	glass_session_close(s);
}
END_TEST

/* A newer major version is refused with a clear error, in SESSION and in a meta header. */
START_TEST(newer_major_is_refused)
{
	char sdir[4096], pdir[4200], err[512];
	new_session(sdir, sizeof(sdir));
	ck_assert_int_eq(synth_session_create(sdir, GLASS_FORMAT_MAJOR + 1, 0), 0);
	ck_assert_ptr_null(glass_session_open(sdir, err, sizeof(err)));
	ck_assert_msg(strstr(err, "recorded with format 2.0") && strstr(err, "newer glass"), "%s",
		      err);

	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, PID);
	struct synth_meta m;
	synth_meta_init(&m, PID, 1, GLASS_CLOCK_TSC, TSC0, MONO0, RT0);
	synth_meta_header(&m)->major = GLASS_FORMAT_MAJOR + 1;
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
	ck_assert_ptr_null(glass_session_open(sdir, err, sizeof(err)));
	ck_assert_msg(strstr(err, "p4242.0") && strstr(err, "format 2."), "%s", err);
}
END_TEST

START_TEST(not_a_session_is_refused)
{
	char err[512];
	ck_assert_ptr_null(glass_session_open("/nonexistent/glass", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_ptr_null(glass_session_open("/", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a glass session"));
}
END_TEST

/* find_latest: the newest name with a SESSION file; the pid is compared as a number. */
START_TEST(find_latest_picks_newest_session)
{
	char base[4096], path[4400], got[4400];
	new_session(base, sizeof(base)); /* just to get tmp_root */
	snprintf(base, sizeof(base), "%s/out", tmp_root);
	mkdir(base, 0700);
	static const char *const names[] = {"20250101-120000-99", "20250101-120000-100",
					    "20250101-115959-999"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", base, names[i]);
		ck_assert_int_eq(synth_session_create(path, 1, 0), 0);
	}
	snprintf(path, sizeof(path), "%s/20250102-000000-1", base); /* no SESSION file */
	mkdir(path, 0700);
	ck_assert_int_eq(glass_session_find_latest(base, got, sizeof(got)), 0);
	snprintf(path, sizeof(path), "%s/20250101-120000-100", base);
	ck_assert_str_eq(got, path);
	ck_assert_int_eq(glass_session_find_latest("/nonexistent", got, sizeof(got)), -1);
}
END_TEST

/* Code ids far apart use the sorted index; the first definition of an id wins. */
START_TEST(sparse_and_duplicate_code_ids)
{
	char sdir[4096], pdir[4200];
	new_session(sdir, sizeof(sdir));
	snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, PID);
	struct synth_meta m;
	synth_meta_init(&m, PID, 1, GLASS_CLOCK_TSC, TSC0, MONO0, RT0);
	synth_meta_code(&m, 4000000000u, "big", "m", "f.py", 1, 0);
	synth_meta_code(&m, 5, "first", "m", "f.py", 2, 0);
	synth_meta_code(&m, 5, "second", "m", "f.py", 3, 0);
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
	struct glass_session *s = open_ok(sdir);
	struct glass_proc *p = glass_session_proc(s, 0);
	ck_assert_str_eq(glass_proc_code(p, 4000000000u)->qualname, "big");
	ck_assert_str_eq(glass_proc_code(p, 5)->qualname, "first");
	ck_assert_ptr_null(glass_proc_code(p, 6));
	glass_session_close(s);
}
END_TEST

/* GIVEN hundreds of randomly damaged chunks and meta files, THEN reading never crashes or
 * reads out of bounds (run under valgrind/ASan to check the latter). */
START_TEST(damaged_files_do_not_crash)
{
	uint64_t seed = 12345;
#define RND() (seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17, seed)
	for (int iter = 0; iter < 150; iter++) {
		char sdir[4096], pdir[4200];
		new_session(sdir, sizeof(sdir));
		write_meta(sdir, pdir, sizeof(pdir), GLASS_CLOCK_TSC);
		struct synth_chunk c;
		chunk_prefix(&c, 1, TSC0);
		synth_thread_name(&c, "MainThread");
		synth_exc(&c, 1, "ValueError", "boom");
		synth_raise(&c, TSC0 + 90, 1);
		synth_gen(&c, GLASS_REC_GEN_RESUME, TSC0 + 99, 3, 0xabcdef);
		synth_lost(&c, TSC0 + 120, 3, 0, 2);
		struct glass_chunk_header *h = synth_chunk_header(&c);
		size_t len = synth_chunk_len(&c);
		int mode = (int)(RND() % 4);
		for (int k = 0; k < 1 + (int)(RND() % 6); k++) {
			size_t at = (mode == 0 ? 0 : 64) + RND() % (len - (mode == 0 ? 0 : 64));
			((uint8_t *)h)[at] = (uint8_t)RND();
		}
		int zst = mode == 3;
		int sealed = (int)(RND() % 2);
		ck_assert_int_eq(synth_chunk_write(&c, pdir, zst, sealed, 0, RND() % 2 ? 0 : 8192),
				 0);
		synth_chunk_free(&c);
		if (mode == 2) {
			/* damage the meta records too */
			char path[4300];
			snprintf(path, sizeof(path), "%s/meta", pdir);
			FILE *f = fopen(path, "r+");
			fseek(f, GLASS_META_HEADER_SIZE + (long)(RND() % 64), SEEK_SET);
			fputc((int)(RND() & 0xff), f);
			fclose(f);
		}
		char err[512];
		struct glass_session *s = glass_session_open(sdir, err, sizeof(err));
		if (!s)
			continue;
		for (size_t pi = 0; pi < glass_session_nprocs(s); pi++) {
			struct glass_proc *p = glass_session_proc(s, pi);
			const uint32_t *tidx;
			size_t nt = glass_proc_threads(p, &tidx);
			for (size_t t = 0; t < nt; t++) {
				struct glass_stream *st = glass_stream_open(p, tidx[t]);
				struct glass_record r;
				while (st && glass_stream_next(st, &r))
					for (unsigned f = 1; f < r.nfields; f++)
						if (r.s[f].p && r.tag == GLASS_REC_EXC)
							ck_assert(r.s[f].len < 1000);
				glass_stream_close(st);
			}
			size_t cursor = 0;
			struct glass_record r;
			while (glass_proc_meta_next(p, &cursor, &r))
				;
		}
		glass_session_close(s);
	}
#undef RND
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("records");
	tcase_add_test(tc, every_stream_record_round_trips);
	tcase_add_test(tc, every_meta_record_round_trips);
	tcase_add_test(tc, sparse_and_duplicate_code_ids);
	suite_add_tcase(s, tc);
	tc = tcase_create("damage");
	tcase_add_test(tc, record_without_tag_is_the_end);
	tcase_add_test(tc, wrapped_records_and_unknown_later_tags);
	tcase_add_test(tc, garbage_in_crash_tail_warns);
	tcase_add_test(tc, garbage_in_sealed_chunk_is_noted);
	tcase_add_test(tc, truncated_msgpack_is_not_read);
	tcase_add_test(tc, missing_seq_warns);
	tcase_add_test(tc, bad_magic_chunk_is_skipped);
	tcase_add_test(tc, damaged_files_do_not_crash);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("files");
	tcase_add_test(tc, zst_is_preferred_over_raw);
	tcase_add_test(tc, newer_major_is_refused);
	tcase_add_test(tc, not_a_session_is_refused);
	tcase_add_test(tc, find_latest_picks_newest_session);
	suite_add_tcase(s, tc);
	tc = tcase_create("clock");
	tcase_add_test(tc, tsc_ticks_convert_to_unix_ns);
	tcase_add_test(tc, odd_cal_seq_is_ignored);
	tcase_add_test(tc, mono_ticks_are_ns);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
