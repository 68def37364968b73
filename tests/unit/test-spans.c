/* tests/unit/test-spans.c — span semantics, quantile statistics and text escaping. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder/reader.h"
#include "tools/spans.h"
#include "tools/stats.h"
#include "tools/synth.h"
#include "tools/text.h"

/* Code ids of the tests: 1..9 functions, 10 a generator, 11 a coroutine, 12 an async gen. */
static const struct glass_code_def codes[] = {
    {0, 0, 0, "", "", ""},
    {1, 10, 0, "a", "m", "m.py"},
    {2, 20, 0, "b", "m", "m.py"},
    {3, 30, 0, "c", "m", "m.py"},
    {4, 40, 0, "d", "m", "m.py"},
    {5, 50, 0, "e", "m", "m.py"},
    {6, 60, 0, "f", "m", "m.py"},
    {7, 70, 0, "g", "m", "m.py"},
    {8, 80, 0, "h", "m", "m.py"},
    {9, 90, 0, "i", "m", "m.py"},
    {10, 100, GLASS_CO_GENERATOR, "gen", "m", "m.py"},
    {11, 110, GLASS_CO_COROUTINE, "coro", "m", "m.py"},
    {12, 120, GLASS_CO_ASYNC_GENERATOR, "agen", "m", "m.py"},
};

static const struct glass_code_def *lookup(void *ctx, uint32_t id)
{
	return id < sizeof(codes) / sizeof(codes[0]) && id ? &codes[id] : NULL;
}

/* Spans collected by the callback; strings copied. */
struct got {
	struct glass_span sp;
	char type[64], msg[64], thread[64], name[64], stmt[64];
	int has_type, has_msg;
	int64_t rows;
	size_t nattrs;
};

static struct got spans[64];
static size_t nspans, nstarts;

static void collect(void *ctx, const struct glass_span *sp)
{
	ck_assert_uint_lt(nspans, 64);
	struct got *g = &spans[nspans++];
	memset(g, 0, sizeof(*g));
	g->sp = *sp;
	if (sp->thread)
		snprintf(g->thread, sizeof(g->thread), "%s", sp->thread);
	if (sp->name.p)
		snprintf(g->name, sizeof(g->name), "%.*s", (int)sp->name.len, sp->name.p);
	const struct glass_attr *a = glass_span_attr(sp, "db.statement");
	if (a && a->type == GLASS_ATTR_STR)
		snprintf(g->stmt, sizeof(g->stmt), "%.*s", (int)a->s.len, a->s.p);
	a = glass_span_attr(sp, "db.response.returned_rows");
	g->rows = a && a->type == GLASS_ATTR_INT ? a->i : -1;
	g->nattrs = sp->nattrs;
	g->sp.attrs = NULL;
	g->sp.name.p = NULL;
	if (sp->err_type.p) {
		g->has_type = 1;
		snprintf(g->type, sizeof(g->type), "%.*s", (int)sp->err_type.len, sp->err_type.p);
	}
	if (sp->err_msg.p) {
		g->has_msg = 1;
		snprintf(g->msg, sizeof(g->msg), "%.*s", (int)sp->err_msg.len, sp->err_msg.p);
	}
}

static void count_start(void *ctx, const struct glass_span *sp)
{
	nstarts++;
}

static struct glass_spans *builder(void)
{
	nspans = nstarts = 0;
	struct glass_span_ids ids = {.stream = 3, .seq_bits = 40, .trace_hi = 0xabcdef};
	struct glass_spans *b = glass_spans_new(NULL, 1, ids, count_start, collect, NULL);
	ck_assert_ptr_nonnull(b);
	glass_spans_set_lookup(b, lookup, NULL);
	glass_spans_set_thread(b, 100, 101);
	return b;
}

static void feed(struct glass_spans *b, uint8_t tag, uint64_t ts, uint64_t a, uint64_t c,
		 uint64_t d)
{
	struct glass_record r;
	memset(&r, 0, sizeof(r));
	r.tag = tag;
	r.ts_ns = ts;
	r.ticks = ts;
	r.u[1] = a;
	r.u[2] = c;
	r.u[3] = d;
	glass_spans_feed(b, &r);
}

static void exc(struct glass_spans *b, uint64_t num, const char *type, const char *msg)
{
	struct glass_record r;
	memset(&r, 0, sizeof(r));
	r.tag = GLASS_REC_EXC;
	r.nfields = 3;
	r.u[0] = num;
	r.s[1].p = type;
	r.s[1].len = type ? (uint32_t)strlen(type) : 0;
	r.s[2].p = msg;
	r.s[2].len = msg ? (uint32_t)strlen(msg) : 0;
	glass_spans_feed(b, &r);
}

#define CALL(t, code)	     feed(b, GLASS_REC_CALL, t, code, 0, 0)
#define RET(t)		     feed(b, GLASS_REC_RETURN, t, 0, 0, 0)
#define RAISE(t, e)	     feed(b, GLASS_REC_RAISE, t, e, 0, 0)
#define CREATE(t, code, gen) feed(b, GLASS_REC_GEN_CREATE, t, code, gen, 0)
#define RESUME(t, code, gen) feed(b, GLASS_REC_GEN_RESUME, t, code, gen, 0)
#define YIELD(t)	     feed(b, GLASS_REC_GEN_YIELD, t, 0, 0, 0)
#define GRET(t)		     feed(b, GLASS_REC_GEN_RETURN, t, 0, 0, 0)

/* OP_BEGIN / OP_END with attributes given as "key=value" strings (value all digits: an int). */
static void op_rec(struct glass_spans *b, uint8_t tag, uint64_t ts, uint64_t op, uint64_t what,
		   const char *name, const char *const *kv, size_t n)
{
	static msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		msgpack_pack_str(&pk, (size_t)(eq - kv[i]));
		msgpack_pack_str_body(&pk, kv[i], (size_t)(eq - kv[i]));
		if (eq[1] && strspn(eq + 1, "0123456789") == strlen(eq + 1)) {
			msgpack_pack_int64(&pk, atoll(eq + 1));
		} else {
			msgpack_pack_str(&pk, strlen(eq + 1));
			msgpack_pack_str_body(&pk, eq + 1, strlen(eq + 1));
		}
	}
	struct glass_record r;
	memset(&r, 0, sizeof(r));
	r.tag = tag;
	r.nfields = 5;
	r.ts_ns = r.ticks = ts;
	r.u[1] = op;
	r.u[2] = what;
	r.s[3].p = name;
	r.s[3].len = name ? (uint32_t)strlen(name) : 0;
	r.u[4] = n;
	r.s[4].p = sb.data;
	r.s[4].len = (uint32_t)sb.size;
	glass_spans_feed(b, &r);
	msgpack_sbuffer_destroy(&sb);
}

static struct got *find_name(const char *name)
{
	for (size_t i = 0; i < nspans; i++)
		if (!strcmp(spans[i].name, name))
			return &spans[i];
	ck_abort_msg("no span named %s", name);
	return NULL;
}

static struct got *find(const char *qualname)
{
	for (size_t i = 0; i < nspans; i++)
		if (spans[i].sp.code && !strcmp(spans[i].sp.code->qualname, qualname))
			return &spans[i];
	ck_abort_msg("no span of %s", qualname);
	return NULL;
}

/* GIVEN a(b(), c()), THEN children end first, parents and depths link them, self excludes
 * the children and all share the root's trace id. */
START_TEST(nested_calls_link_parents)
{
	struct glass_spans *b = builder();
	CALL(100, 1);
	CALL(110, 2);
	RET(130);
	CALL(140, 3);
	RET(150);
	RET(200);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 3);
	ck_assert_uint_eq(nstarts, 3);
	struct got *a = find("a"), *bb = find("b"), *c = find("c");
	ck_assert_ptr_eq(bb, &spans[0]);
	ck_assert_uint_eq(a->sp.parent_id, 0);
	ck_assert_uint_eq(bb->sp.parent_id, a->sp.span_id);
	ck_assert_uint_eq(c->sp.parent_id, a->sp.span_id);
	ck_assert_uint_eq(a->sp.depth, 0);
	ck_assert_uint_eq(c->sp.depth, 1);
	ck_assert_uint_eq(a->sp.dur_ns, 100);
	ck_assert_uint_eq(a->sp.self_ns, 70);
	ck_assert_uint_eq(bb->sp.dur_ns, 20);
	ck_assert_uint_eq(bb->sp.self_ns, 20);
	ck_assert_uint_eq(a->sp.start_ns, 100);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(spans[i].sp.trace_hi, 0xabcdef);
		ck_assert_uint_eq(spans[i].sp.trace_lo, a->sp.span_id);
		ck_assert_uint_eq(spans[i].sp.status, GLASS_SPAN_OK);
		ck_assert_uint_eq(spans[i].sp.pid, 100);
		ck_assert_uint_eq(spans[i].sp.tid, 101);
		ck_assert_uint_eq(spans[i].sp.span_id >> 40, 3);
		ck_assert_uint_ne(spans[i].sp.span_id, 0);
		ck_assert_int_eq(spans[i].sp.gen, GLASS_GEN_NONE);
	}
	ck_assert_uint_ne(a->sp.span_id, bb->sp.span_id);
	ck_assert_uint_ne(c->sp.span_id, bb->sp.span_id);
	const struct glass_span_counts *n = glass_spans_counts(b);
	ck_assert_uint_eq(n->records, 6);
	ck_assert_uint_eq(n->by_tag[GLASS_REC_CALL], 3);
	ck_assert_uint_eq(n->busy_ns, 100);
	glass_spans_free(b);
}
END_TEST

/* GIVEN EXC records numbered earlier in the stream, THEN RAISE gives status error with that
 * exception's type and message; an unknown number gives an error without text. */
START_TEST(raise_reports_the_numbered_exception)
{
	struct glass_spans *b = builder();
	CALL(10, 1);
	CALL(20, 2);
	exc(b, 7, "ValueError", "bad \"value\"");
	exc(b, 8, "KeyError", NULL);
	RAISE(30, 7);
	RAISE(40, 99);
	CALL(50, 3);
	RAISE(60, 8);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 3);
	struct got *bb = find("b"), *a = find("a"), *c = find("c");
	ck_assert_int_eq(bb->sp.status, GLASS_SPAN_ERROR);
	ck_assert_str_eq(bb->type, "ValueError");
	ck_assert_str_eq(bb->msg, "bad \"value\"");
	ck_assert_int_eq(a->sp.status, GLASS_SPAN_ERROR);
	ck_assert(!a->has_type && !a->has_msg);
	ck_assert_str_eq(c->type, "KeyError");
	ck_assert(!c->has_msg);
	/* exception numbers far apart in the ring of 1024 slots do not alias */
	b = (glass_spans_free(b), builder());
	exc(b, 5, "OldError", "x");
	exc(b, 5 + GLASS_SPANS_EXC_SLOTS, "NewError", "y");
	CALL(1, 1);
	RAISE(2, 5);
	glass_spans_finish(b);
	ck_assert(!spans[0].has_type);
	glass_spans_free(b);
}
END_TEST

/* f (6) creates generator 10 and returns; h (8) runs it twice: during the first run it calls
 * i (9), then yields; the second run returns. */
static void feed_generator_run_twice(struct glass_spans *b)
{
	CALL(100, 6); /* f creates the generator */
	CREATE(110, 10, 0xA);
	RET(120);
	CALL(200, 8); /* h iterates it */
	RESUME(300, 10, 0xA);
	CALL(310, 9); /* a child during the first activation */
	RET(320);
	YIELD(350);
	RESUME(400, 10, 0xA);
	GRET(420);
	RET(500);
	glass_spans_finish(b);
}

/* GIVEN a generator created in f and iterated twice from h, THEN one span runs from the first
 * resume to its return, parented to its creator, with resumes, suspended time and self time. */
START_TEST(generator_span_covers_its_lifetime)
{
	struct glass_spans *b = builder();
	feed_generator_run_twice(b);
	ck_assert_uint_eq(nspans, 4);
	struct got *f = find("f"), *g = find("gen"), *i = find("i"), *h = find("h");
	ck_assert_uint_eq(g->sp.parent_id, f->sp.span_id);
	ck_assert_uint_eq(g->sp.trace_lo, f->sp.span_id);
	ck_assert_uint_eq(g->sp.depth, 1);
	ck_assert_uint_eq(g->sp.start_ns, 300);
	ck_assert_uint_eq(g->sp.dur_ns, 120);
	ck_assert_uint_eq(g->sp.resumes, 2);
	ck_assert_uint_eq(g->sp.suspended_ns, 50);
	ck_assert_uint_eq(g->sp.self_ns, (50 - 10) + 20);
	ck_assert_int_eq(g->sp.status, GLASS_SPAN_OK);
	ck_assert_int_eq(g->sp.gen, GLASS_GEN_GENERATOR);
	ck_assert_uint_eq(i->sp.parent_id, g->sp.span_id);
	/* h's children: the two activations (50 + 20) */
	ck_assert_uint_eq(h->sp.self_ns, 300 - 70);
	glass_spans_free(b);
}
END_TEST

/* Runs of generators (glass_spans_set_runs), as the flame graph counts them. */
struct run {
	int end;
	uint64_t id, parent, start, dur, self;
	size_t after; /* spans ended before it */
};
static struct run runs[16];
static size_t nruns;

static void run_start(void *ctx, const struct glass_span *sp)
{
	ck_assert_uint_lt(nruns, 16);
	runs[nruns++] = (struct run){0, sp->span_id, sp->parent_id, sp->start_ns, 0, 0, nspans};
}

static void run_end(void *ctx, const struct glass_span *sp)
{
	ck_assert_uint_lt(nruns, 16);
	runs[nruns++] = (struct run){1,		 sp->span_id, sp->parent_id, sp->start_ns,
				     sp->dur_ns, sp->self_ns, nspans};
}

/* GIVEN a generator created by f and run twice by h WHEN runs are followed THEN each run
 * starts under h (its resumer), ends before the next, and the runs' self times add up to the
 * span's; the span ends after its last run. */
START_TEST(generator_runs_report_where_they_ran)
{
	struct glass_spans *b = builder();
	nruns = 0;
	glass_spans_set_runs(b, run_start, run_end);
	feed_generator_run_twice(b);
	struct got *f = find("f"), *g = find("gen"), *h = find("h");
	ck_assert_uint_eq(nruns, 4);
	ck_assert(!runs[0].end && runs[1].end && !runs[2].end && runs[3].end);
	for (size_t k = 0; k < 4; k++)
		ck_assert_uint_eq(runs[k].id, g->sp.span_id);
	ck_assert_uint_eq(runs[0].parent, h->sp.span_id); /* the resumer, not f */
	ck_assert_uint_eq(runs[2].parent, h->sp.span_id);
	ck_assert_uint_ne(runs[0].parent, f->sp.span_id);
	ck_assert_uint_eq(runs[0].start, 300);
	ck_assert_uint_eq(runs[1].start, 300);
	ck_assert_uint_eq(runs[1].dur, 50);
	ck_assert_uint_eq(runs[1].self, 40);
	ck_assert_uint_eq(runs[3].start, 400);
	ck_assert_uint_eq(runs[3].dur, 20);
	ck_assert_uint_eq(runs[1].self + runs[3].self, g->sp.self_ns);
	/* i (the child of the first run) ends inside it; the span after its last run */
	ck_assert_uint_eq(runs[1].after, 2); /* f, i */
	ck_assert_uint_eq(runs[3].after, 2);
	glass_spans_free(b);
}
END_TEST

/* A generator never created in this stream gets the current top as parent. */
START_TEST(uncreated_generator_parents_to_current_top)
{
	struct glass_spans *b = builder();
	CALL(10, 1);
	RESUME(20, 12, 0xB);
	YIELD(30);
	RET(40);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	struct got *a = find("a"), *g = find("agen");
	ck_assert_uint_eq(g->sp.parent_id, a->sp.span_id);
	ck_assert_int_eq(g->sp.gen, GLASS_GEN_ASYNC_GENERATOR);
	/* left suspended when the data ended: unfinished, suspended until the end */
	ck_assert_int_eq(g->sp.status, GLASS_SPAN_UNFINISHED);
	ck_assert_uint_eq(g->sp.dur_ns, 20);
	ck_assert_uint_eq(g->sp.suspended_ns, 10);
	glass_spans_free(b);
}
END_TEST

/* A coroutine ending by an exception is an error, but GeneratorExit (closed), StopIteration and
 * StopAsyncIteration end it cleanly; a plain function raising StopIteration is an error. */
START_TEST(coroutine_exceptions)
{
	static const struct {
		const char *type;
		enum glass_span_status want;
	} cases[] = {{"ValueError", GLASS_SPAN_ERROR},
		     {"GeneratorExit", GLASS_SPAN_OK},
		     {"builtins.StopIteration", GLASS_SPAN_OK},
		     {"StopAsyncIteration", GLASS_SPAN_OK},
		     {"MyGeneratorExit", GLASS_SPAN_ERROR}};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct glass_spans *b = builder();
		RESUME(10, 11, 0xC);
		YIELD(20);
		RESUME(30, 11, 0xC);
		exc(b, 1, cases[k].type, "m");
		RAISE(40, 1);
		glass_spans_finish(b);
		ck_assert_uint_eq(nspans, 1);
		ck_assert_int_eq(spans[0].sp.gen, GLASS_GEN_COROUTINE);
		ck_assert_msg(spans[0].sp.status == cases[k].want, "%s", cases[k].type);
		ck_assert_uint_eq(spans[0].sp.dur_ns, 30);
		ck_assert_uint_eq(spans[0].sp.resumes, 2);
		if (cases[k].want == GLASS_SPAN_ERROR)
			ck_assert_str_eq(spans[0].type, cases[k].type);
		glass_spans_free(b);
	}
	struct glass_spans *b = builder();
	CALL(1, 1);
	exc(b, 1, "StopIteration", "");
	RAISE(2, 1);
	glass_spans_finish(b);
	ck_assert_int_eq(spans[0].sp.status, GLASS_SPAN_ERROR);
	glass_spans_free(b);
}
END_TEST

/* GIVEN a(b(c())) and LOST(5, depth_min 1, depth 3), THEN b and c end as lost at the LOST
 * time, two placeholders absorb the next two exits, and a later call is a child of a. */
START_TEST(lost_records_resync_the_stack)
{
	struct glass_spans *b = builder();
	CALL(10, 1);
	CALL(20, 2);
	CALL(30, 3);
	feed(b, GLASS_REC_LOST, 100, 5, 1, 3);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_int_eq(find("c")->sp.status, GLASS_SPAN_LOST);
	ck_assert_int_eq(find("b")->sp.status, GLASS_SPAN_LOST);
	ck_assert_uint_eq(find("b")->sp.dur_ns, 80);
	CALL(110, 4); /* opened on top of the placeholders */
	RET(120);
	RET(130);
	RET(140);
	CALL(150, 5);
	RET(160);
	RET(200);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 5);
	struct got *a = find("a");
	ck_assert_int_eq(a->sp.status, GLASS_SPAN_OK);
	ck_assert_uint_eq(find("d")->sp.parent_id, a->sp.span_id);
	ck_assert_uint_eq(find("d")->sp.depth, 3);
	ck_assert_uint_eq(find("e")->sp.parent_id, a->sp.span_id);
	ck_assert_uint_eq(find("e")->sp.depth, 1);
	const struct glass_span_counts *n = glass_spans_counts(b);
	ck_assert_uint_eq(n->lost_records, 5);
	ck_assert_uint_eq(n->unmatched_exits, 0);
	glass_spans_free(b);
}
END_TEST

/* CHUNK_START at another depth (a chunk went missing) resyncs like LOST with no count. */
START_TEST(chunk_start_resyncs_depth)
{
	struct glass_spans *b = builder();
	feed(b, GLASS_REC_CHUNK_START, 1, 0, 0, 0);
	CALL(10, 1);
	CALL(20, 2);
	feed(b, GLASS_REC_CHUNK_START, 50, 0, 0, 0);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_int_eq(spans[0].sp.status, GLASS_SPAN_LOST);
	ck_assert_int_eq(spans[1].sp.status, GLASS_SPAN_LOST);
	feed(b, GLASS_REC_CHUNK_START, 60, 3, 0, 0);
	RET(70);
	RET(80);
	RET(90);
	RET(95); /* now really unmatched */
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	const struct glass_span_counts *n = glass_spans_counts(b);
	ck_assert_uint_eq(n->resyncs, 2);
	ck_assert_uint_eq(n->unmatched_exits, 1);
	ck_assert_uint_eq(n->lost_records, 0);
	glass_spans_free(b);
}
END_TEST

/* A forked child returning into its parent's frames: exits with nothing open are counted. */
START_TEST(unmatched_exits_are_counted)
{
	struct glass_spans *b = builder();
	RET(10);
	RAISE(20, 1);
	YIELD(30);
	GRET(40);
	CALL(50, 1);
	RET(60);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 1);
	ck_assert_uint_eq(glass_spans_counts(b)->unmatched_exits, 4);
	glass_spans_free(b);
}
END_TEST

/* Spans open at THREAD_END or at the end of the data are unfinished at the last timestamp. */
START_TEST(open_spans_end_unfinished)
{
	struct glass_spans *b = builder();
	CALL(10, 1);
	CALL(20, 2);
	feed(b, GLASS_REC_THREAD_END, 90, 0, 0, 0);
	ck_assert_uint_eq(nspans, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(spans[i].sp.status, GLASS_SPAN_UNFINISHED);
		ck_assert_uint_eq(spans[i].sp.start_ns + spans[i].sp.dur_ns, 90);
	}
	glass_spans_free(b);

	b = builder();
	CALL(10, 1);
	RESUME(20, 10, 0xD);
	CALL(30, 2);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 3);
	ck_assert_int_eq(find("gen")->sp.status, GLASS_SPAN_UNFINISHED);
	ck_assert_uint_eq(find("gen")->sp.dur_ns, 10);
	ck_assert_uint_eq(find("a")->sp.dur_ns, 20);
	glass_spans_free(b);
}
END_TEST

/* A bogus depth of four billion costs one placeholder entry, not memory. */
START_TEST(huge_depths_are_cheap)
{
	struct glass_spans *b = builder();
	feed(b, GLASS_REC_LOST, 10, 1, 0, 4000000000ull);
	CALL(20, 1);
	RET(30);
	for (int i = 0; i < 10; i++)
		RET(40);
	feed(b, GLASS_REC_CHUNK_START, 50, UINT64_MAX, 0, 0);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 1);
	ck_assert_uint_eq(find("a")->sp.parent_id, 0);
	glass_spans_free(b);
}
END_TEST

/* Re-using a generator's address while the old one is suspended ends the old span. */
START_TEST(generator_address_reuse)
{
	struct glass_spans *b = builder();
	RESUME(10, 10, 0xE);
	YIELD(20);
	CREATE(30, 10, 0xE);
	ck_assert_uint_eq(nspans, 1);
	ck_assert_int_eq(spans[0].sp.status, GLASS_SPAN_UNFINISHED);
	ck_assert_uint_eq(spans[0].sp.dur_ns, 20);
	RESUME(40, 10, 0xE);
	GRET(50);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_int_eq(spans[1].sp.status, GLASS_SPAN_OK);
	ck_assert_uint_ne(spans[1].sp.span_id, spans[0].sp.span_id);
	glass_spans_free(b);
}
END_TEST

/* GEN_CLOSE ends a suspended generator's span cleanly; for a finished or unknown one it is a
 * no-op. */
START_TEST(gen_close_ends_a_suspended_generator)
{
	struct glass_spans *b = builder();
	CALL(10, 1);
	RESUME(20, 10, 0xF);
	YIELD(30);
	feed(b, GLASS_REC_GEN_CLOSE, 70, 0xF, 0, 0);
	ck_assert_uint_eq(nspans, 1);
	ck_assert_int_eq(spans[0].sp.status, GLASS_SPAN_OK);
	ck_assert_uint_eq(spans[0].sp.dur_ns, 50);
	ck_assert_uint_eq(spans[0].sp.suspended_ns, 40);
	ck_assert_uint_eq(spans[0].sp.resumes, 1);
	feed(b, GLASS_REC_GEN_CLOSE, 75, 0xF, 0, 0);
	feed(b, GLASS_REC_GEN_CLOSE, 76, 0x99, 0, 0);
	CREATE(77, 10, 0x10);
	feed(b, GLASS_REC_GEN_CLOSE, 78, 0x10, 0, 0);
	RET(80);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_int_eq(find("a")->sp.status, GLASS_SPAN_OK);
	glass_spans_free(b);
}
END_TEST

/* The same thread read through files: pid, tid and thread name come from the recording. */
/* GIVEN a(): OP db begins and ends inside it, THEN the db span is a child of a, carries its
 * attributes (begin's and end's merged) and its time leaves a's self time. */
START_TEST(operation_is_a_child_of_its_function)
{
	struct glass_spans *b = builder();
	const char *battr[] = {"db.system=sqlite"};
	const char *eattr[] = {"db.statement=SELECT * FROM t WHERE x = ?",
			       "db.response.returned_rows=3"};
	CALL(100, 1);
	op_rec(b, GLASS_REC_OP_BEGIN, 120, 1, GLASS_OP_DB, "SELECT t", battr, 1);
	op_rec(b, GLASS_REC_OP_END, 150, 1, GLASS_OP_OK, NULL, eattr, 2);
	RET(200);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_uint_eq(nstarts, 2);
	struct got *a = find("a"), *q = find_name("SELECT t");
	ck_assert_int_eq(q->sp.kind, GLASS_KIND_DB);
	ck_assert_int_eq(a->sp.kind, GLASS_KIND_PYTHON);
	ck_assert_uint_eq(q->sp.parent_id, a->sp.span_id);
	ck_assert_uint_eq(q->sp.trace_lo, a->sp.span_id);
	ck_assert_uint_eq(q->sp.depth, 1);
	ck_assert_uint_eq(q->sp.dur_ns, 30);
	ck_assert_uint_eq(q->sp.start_ns, 120);
	ck_assert_str_eq(q->stmt, "SELECT * FROM t WHERE x = ?");
	ck_assert_int_eq(q->rows, 3);
	ck_assert_uint_eq(q->nattrs, 3);
	ck_assert_uint_eq(a->sp.self_ns, 70);
	glass_spans_free(b);
}
END_TEST

/* GIVEN an HTTP request that begins with an empty stack and a traceparent, and a handler and a
 * query inside it, THEN the request is the root, the handler its child, the query the
 * handler's, all in the caller's trace; the request's remote parent is the caller's span. */
START_TEST(http_request_is_the_root_of_its_trace)
{
	struct glass_spans *b = builder();
	const char *battr[] = {"http.request.method=GET",
			       "traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
	const char *eattr[] = {"http.response.status_code=500"};
	op_rec(b, GLASS_REC_OP_BEGIN, 100, 1, GLASS_OP_HTTP_SERVER, "GET /users", battr, 2);
	CALL(110, 1);
	op_rec(b, GLASS_REC_OP_BEGIN, 120, 2, GLASS_OP_DB, "SELECT users", NULL, 0);
	op_rec(b, GLASS_REC_OP_END, 130, 2, GLASS_OP_ERROR, NULL, NULL, 0);
	RET(140);
	op_rec(b, GLASS_REC_OP_END, 150, 1, GLASS_OP_ERROR, "GET /users/{id}", eattr, 1);
	CALL(160, 2); /* after the request: its own trace */
	RET(170);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 4);
	struct got *r = find_name("GET /users/{id}"), *h = find("a"), *q = find_name("SELECT users");
	struct got *after = find("b");
	ck_assert_int_eq(r->sp.kind, GLASS_KIND_HTTP_SERVER);
	ck_assert_uint_eq(r->sp.parent_id, 0);
	ck_assert_uint_eq(r->sp.remote_parent_id, 0xb7ad6b7169203331ull);
	ck_assert_uint_eq(h->sp.parent_id, r->sp.span_id);
	ck_assert_uint_eq(q->sp.parent_id, h->sp.span_id);
	ck_assert_uint_eq(h->sp.depth, 1);
	ck_assert_uint_eq(q->sp.depth, 2);
	for (struct got *g = spans; g < spans + 3; g++) {
		ck_assert_uint_eq(g->sp.trace_hi, 0x0af7651916cd43ddull);
		ck_assert_uint_eq(g->sp.trace_lo, 0x8448eb211c80319cull);
	}
	ck_assert_uint_eq(after->sp.parent_id, 0);
	ck_assert_uint_eq(after->sp.trace_hi, 0xabcdef);
	ck_assert_uint_eq(r->sp.status, GLASS_SPAN_ERROR);
	ck_assert_uint_eq(r->sp.dur_ns, 50);
	ck_assert_uint_eq(r->sp.self_ns, 20);
	ck_assert_uint_eq(h->sp.self_ns, 20);
	ck_assert_uint_eq(glass_spans_counts(b)->busy_ns, 50 + 10);
	glass_spans_free(b);
}
END_TEST

/* GIVEN a request that begins inside the frame reading it (a traced server loop) and whose
 * handler runs after that frame returned, THEN the handler is still the request's child. */
START_TEST(operation_anchor_moves_down_when_its_frame_returns)
{
	struct glass_spans *b = builder();
	CALL(100, 1); /* serve loop */
	CALL(110, 2); /* read request */
	op_rec(b, GLASS_REC_OP_BEGIN, 115, 1, GLASS_OP_HTTP_SERVER, "GET /", NULL, 0);
	RET(120);
	CALL(130, 3); /* handler */
	RET(140);
	op_rec(b, GLASS_REC_OP_END, 150, 1, GLASS_OP_OK, NULL, NULL, 0);
	RET(200);
	glass_spans_finish(b);
	struct got *r = find_name("GET /"), *h = find("c"), *rd = find("b"), *loop = find("a");
	ck_assert_uint_eq(r->sp.parent_id, 0);
	ck_assert_uint_eq(h->sp.parent_id, r->sp.span_id);
	ck_assert_uint_eq(rd->sp.parent_id, loop->sp.span_id);
	ck_assert_uint_eq(h->sp.trace_lo, r->sp.span_id);
	glass_spans_free(b);
}
END_TEST

/* GIVEN a handler that sends the last response byte and then returns, THEN the request span
 * keeps its own end time but comes after its child, as every parent does. */
START_TEST(request_ending_inside_its_handler_comes_after_it)
{
	struct glass_spans *b = builder();
	const char *eattr[] = {"http.response.status_code=200"};
	op_rec(b, GLASS_REC_OP_BEGIN, 100, 1, GLASS_OP_HTTP_SERVER, "GET /", NULL, 0);
	CALL(110, 1);
	op_rec(b, GLASS_REC_OP_END, 150, 1, GLASS_OP_OK, "GET /x", eattr, 1);
	RET(170);
	glass_spans_finish(b);
	ck_assert_uint_eq(nspans, 2);
	ck_assert_int_eq(spans[0].sp.kind, GLASS_KIND_PYTHON);
	ck_assert_int_eq(spans[1].sp.kind, GLASS_KIND_HTTP_SERVER);
	ck_assert_str_eq(spans[1].name, "GET /x");
	ck_assert_uint_eq(spans[1].sp.dur_ns, 50);
	ck_assert_uint_eq(spans[1].nattrs, 1);
	ck_assert_uint_eq(spans[0].sp.parent_id, spans[1].sp.span_id);
	glass_spans_free(b);
}
END_TEST

/* GIVEN an ODBC statement whose driver runs a sqlite3 statement, and an operation never
 * ended, THEN the inner one nests under the outer and the open one ends unfinished. */
START_TEST(nested_and_unfinished_operations)
{
	struct glass_spans *b = builder();
	CALL(100, 1);
	op_rec(b, GLASS_REC_OP_BEGIN, 110, 7, GLASS_OP_DB, "odbc", NULL, 0);
	op_rec(b, GLASS_REC_OP_BEGIN, 120, 8, GLASS_OP_DB, "sqlite", NULL, 0);
	op_rec(b, GLASS_REC_OP_END, 130, 8, GLASS_OP_OK, NULL, NULL, 0);
	op_rec(b, GLASS_REC_OP_END, 140, 7, GLASS_OP_OK, NULL, NULL, 0);
	op_rec(b, GLASS_REC_OP_END, 141, 99, GLASS_OP_OK, NULL, NULL, 0); /* no begin */
	op_rec(b, GLASS_REC_OP_BEGIN, 150, 9, GLASS_OP_NET, "recv", NULL, 0);
	RET(200);
	glass_spans_finish(b);
	struct got *o = find_name("odbc"), *q = find_name("sqlite"), *n = find_name("recv");
	ck_assert_uint_eq(q->sp.parent_id, o->sp.span_id);
	ck_assert_uint_eq(o->sp.self_ns, 20);
	ck_assert_uint_eq(find("a")->sp.self_ns, 100 - 30); /* recv never ended within a */
	ck_assert_uint_eq(n->sp.status, GLASS_SPAN_UNFINISHED);
	ck_assert_int_eq(n->sp.kind, GLASS_KIND_NET);
	ck_assert_uint_eq(glass_spans_counts(b)->unmatched_ops, 1);
	glass_spans_free(b);
}
END_TEST

START_TEST(spans_from_a_recorded_session)
{
	char dir[2048], pdir[4096];
	const char *base = getenv("GLASS_TEST_TMP");
	snprintf(dir, sizeof(dir), "%s/test-spans-XXXXXX", base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(synth_session_create(dir, 1, 0), 0);
	snprintf(pdir, sizeof(pdir), "%s/p77.0", dir);
	struct synth_meta m;
	synth_meta_init(&m, 77, 1, GLASS_CLOCK_MONO, 0, 1000, 1000000000000ull);
	synth_meta_code(&m, 1, "main", "__main__", "app.py", 1, 0);
	ck_assert_int_eq(synth_meta_write(&m, pdir), 0);
	synth_meta_free(&m);
	struct synth_chunk c;
	synth_chunk_init(&c, 77, 78, 1, 1, 2000, 2000);
	synth_chunk_start(&c, 2000, 0);
	synth_thread_start(&c, 2000, 79, 1);
	synth_thread_name(&c, "Worker-1");
	synth_call(&c, 2100, 1);
	synth_dt_only(&c, GLASS_REC_RETURN, 2600);
	ck_assert_int_eq(synth_chunk_write(&c, pdir, 1, 1, GLASS_CHUNK_LAST, 0), 0);
	synth_chunk_free(&c);

	char err[256];
	struct glass_session *s = glass_session_open(dir, err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	nspans = 0;
	struct glass_span_ids ids = glass_span_ids_for(s, 0, 0);
	ck_assert_uint_eq(ids.stream, 1);
	ck_assert_uint_eq(ids.seq_bits, 63);
	ck_assert_int_eq(
	    glass_spans_run_thread(glass_session_proc(s, 0), 1, ids, NULL, collect, NULL, NULL), 0);
	ck_assert_uint_eq(nspans, 1);
	const struct glass_span *sp = &spans[0].sp;
	ck_assert_uint_eq(sp->pid, 77);
	ck_assert_uint_eq(sp->tid, 79);
	ck_assert_str_eq(spans[0].thread, "Worker-1");
	ck_assert_str_eq(sp->code->qualname, "main");
	ck_assert_uint_eq(sp->start_ns, 1000000000000ull + 1100);
	ck_assert_uint_eq(sp->dur_ns, 500);
	ck_assert_uint_eq(sp->trace_hi, glass_session_id(s));
	glass_session_close(s);
}
END_TEST

/* ---- statistics --------------------------------------------------------------------------- */

START_TEST(histogram_buckets_hold_their_values)
{
	uint64_t seed = 99;
	for (int i = 0; i < 200000; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		uint64_t v = seed >> (seed % 64);
		unsigned bk = glass_hist_bucket(v);
		ck_assert_uint_le(glass_hist_bucket_low(bk), v);
		if (bk + 1 < GLASS_HIST_OCTAVES * GLASS_HIST_SUB)
			ck_assert_uint_gt(glass_hist_bucket_low(bk + 1), v);
		uint64_t mid = glass_hist_bucket_mid(bk);
		double err = fabs((double)mid - (double)v) / (double)(v ? v : 1);
		ck_assert_msg(err <= 1.0 / 32 + 1e-12, "v=%llu mid=%llu", (unsigned long long)v,
			      (unsigned long long)mid);
	}
	for (uint64_t v = 0; v < 32; v++)
		ck_assert_uint_eq(glass_hist_bucket_mid(glass_hist_bucket(v)), v);
	ck_assert_uint_eq(glass_hist_bucket(UINT64_MAX), GLASS_HIST_OCTAVES * GLASS_HIST_SUB - 1);
}
END_TEST

START_TEST(quantiles_within_documented_error)
{
	struct glass_fstats f = {0};
	for (uint64_t v = 1; v <= 100000; v++)
		ck_assert_int_eq(glass_fstats_add(&f, v * 1000, v * 10, v % 10 == 0), 0);
	ck_assert_uint_eq(f.calls, 100000);
	ck_assert_uint_eq(f.min_ns, 1000);
	ck_assert_uint_eq(f.max_ns, 100000000);
	ck_assert_uint_eq(f.errors, 10000);
	static const double qs[] = {0.5, 0.9, 0.99, 0.999};
	for (size_t i = 0; i < 4; i++) {
		double exact = qs[i] * 100000 * 1000;
		double got = (double)glass_fstats_quantile(&f, qs[i]);
		ck_assert_msg(fabs(got - exact) / exact <= 1.0 / 32 + 1e-3, "q%.3f: %f vs %f",
			      qs[i], got, exact);
	}
	ck_assert_uint_eq(glass_fstats_quantile(&f, 1.0), 100000000);
	struct glass_fstats g = {0};
	glass_fstats_add(&g, 5, 5, 0);
	ck_assert_uint_eq(glass_fstats_quantile(&g, 0.99), 5);
	ck_assert_int_eq(glass_fstats_merge(&g, &f), 0);
	ck_assert_uint_eq(g.calls, 100001);
	ck_assert_uint_eq(g.min_ns, 5);
	glass_fstats_free(&f);
	glass_fstats_free(&g);
}
END_TEST

START_TEST(ftable_interns_keys)
{
	struct glass_ftable *t = glass_ftable_new();
	int added;
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 5000; i++) {
			char key[32];
			int n = snprintf(key, sizeof(key), "fn%c%d", 0, i);
			ck_assert_int_eq(glass_ftable_intern(t, key, (size_t)n, &added), i);
			ck_assert_int_eq(added, round == 0);
		}
	ck_assert_uint_eq(glass_ftable_size(t), 5000);
	struct glass_fstats *f = glass_ftable_stats(t, 17);
	glass_fstats_add(f, 10, 10, 0);
	ck_assert_ptr_eq(glass_ftable_stats(t, 17), f);
	glass_ftable_free(t);
}
END_TEST

/* ---- text --------------------------------------------------------------------------------- */

static char *json(const char *s, size_t len)
{
	static struct glass_buf b;
	b.len = 0;
	glass_json_str(&b, s, len);
	glass_buf_put(&b, "", 1);
	return b.p;
}

START_TEST(json_strings_are_always_valid)
{
	ck_assert_str_eq(json("plain", 5), "\"plain\"");
	ck_assert_str_eq(json("q\"b\\", 4), "\"q\\\"b\\\\\"");
	ck_assert_str_eq(json("\n\t\x01\x1f", 4), "\"\\n\\t\\u0001\\u001f\"");
	ck_assert_str_eq(json("a\0b", 3), "\"a\\u0000b\"");
	ck_assert_str_eq(json("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12),
			 "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* invalid: lone continuation, cut sequence, overlong, surrogate, > U+10FFFF */
	ck_assert_str_eq(json("\x80", 1), "\"\xef\xbf\xbd\"");
	ck_assert_str_eq(json("a\xc3", 2), "\"a\xef\xbf\xbd\"");
	ck_assert_str_eq(json("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	ck_assert_str_eq(json("\xed\xa0\x80", 3), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	ck_assert_str_eq(json("\xf4\x90\x80\x80", 4),
			 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	ck_assert_str_eq(json(NULL, 0), "null");
	free(json("", 0));
}
END_TEST

START_TEST(terminal_text_is_safe_and_cut)
{
	char out[64];
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "a\x1b[31mb", 7, 20, 0), 7);
	ck_assert_str_eq(out, "a?[31mb");
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "module.Class.method", 19, 10, 1), 10);
	ck_assert_str_eq(out, "\xe2\x80\xa6ss.method");
	ck_assert_uint_eq(glass_term_text(out, sizeof(out), "abcdef", 6, 4, 0), 4);
	ck_assert_str_eq(out, "abc\xe2\x80\xa6");
	glass_term_text(out, sizeof(out), "\xff\xc2\x85", 3, 10, 0);
	ck_assert_str_eq(out, "\xef\xbf\xbd?");
	char d[32];
	glass_fmt_dur(d, sizeof(d), 999);
	ck_assert_str_eq(d, "999ns");
	glass_fmt_dur(d, sizeof(d), 1234);
	ck_assert_str_eq(d, "1.23\xc2\xb5s");
	glass_fmt_dur(d, sizeof(d), 45600000);
	ck_assert_str_eq(d, "45.6ms");
	glass_fmt_dur(d, sizeof(d), 7890000000ull);
	ck_assert_str_eq(d, "7.89s");
	glass_fmt_dur(d, sizeof(d), 3600000000000ull);
	ck_assert_str_eq(d, "60.0m");
	glass_fmt_count(d, sizeof(d), 1234567);
	ck_assert_str_eq(d, "1,234,567");
}
END_TEST

static struct glass_attr str_attr(const char *k, const char *v)
{
	struct glass_attr a = {.key = {k, strlen(k)}, .type = GLASS_ATTR_STR, .s = {v, strlen(v)}};
	return a;
}

/* summary and html aggregate by these keys: long statements must stay apart */
START_TEST(aggregation_keys)
{
	static char stmt[2049];
	memset(stmt, 'x', sizeof(stmt) - 1);
	struct glass_attr a[3] = {str_attr("db.system", "postgresql"),
				  str_attr("db.statement", stmt)};
	struct glass_span sp = {.kind = GLASS_KIND_DB, .name = {"SELECT t", 8}, .attrs = a,
				.nattrs = 2};
	char k1[GLASS_SPAN_KEY_MAX], k2[GLASS_SPAN_KEY_MAX];
	size_t n1 = glass_span_statement_key(&sp, k1, sizeof(k1));
	ck_assert_uint_eq(n1, strlen("postgresql\t") + 2048);
	stmt[2047] = 'y'; /* differs in its last byte only */
	size_t n2 = glass_span_statement_key(&sp, k2, sizeof(k2));
	ck_assert_uint_eq(n1, n2);
	ck_assert(memcmp(k1, k2, n1) != 0);
	sp.nattrs = 1; /* no statement: the span's name */
	glass_span_statement_key(&sp, k1, sizeof(k1));
	ck_assert_str_eq(k1, "postgresql\tSELECT t");
	ck_assert_uint_eq(glass_span_statement_key(&sp, k1, 5), 4); /* cut, NUL-terminated */
	ck_assert_str_eq(k1, "post");

	a[0] = str_attr("http.request.method", "GET");
	a[1] = str_attr("http.route", "/users/{id}");
	sp = (struct glass_span){.kind = GLASS_KIND_HTTP_SERVER, .attrs = a, .nattrs = 2};
	glass_span_endpoint_key(&sp, k1, sizeof(k1));
	ck_assert_str_eq(k1, "GET /users/{id}");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spans");
	TCase *tc = tcase_create("semantics");
	tcase_add_test(tc, nested_calls_link_parents);
	tcase_add_test(tc, raise_reports_the_numbered_exception);
	tcase_add_test(tc, generator_span_covers_its_lifetime);
	tcase_add_test(tc, generator_runs_report_where_they_ran);
	tcase_add_test(tc, uncreated_generator_parents_to_current_top);
	tcase_add_test(tc, coroutine_exceptions);
	tcase_add_test(tc, lost_records_resync_the_stack);
	tcase_add_test(tc, chunk_start_resyncs_depth);
	tcase_add_test(tc, unmatched_exits_are_counted);
	tcase_add_test(tc, open_spans_end_unfinished);
	tcase_add_test(tc, huge_depths_are_cheap);
	tcase_add_test(tc, generator_address_reuse);
	tcase_add_test(tc, gen_close_ends_a_suspended_generator);
	tcase_add_test(tc, operation_is_a_child_of_its_function);
	tcase_add_test(tc, http_request_is_the_root_of_its_trace);
	tcase_add_test(tc, operation_anchor_moves_down_when_its_frame_returns);
	tcase_add_test(tc, nested_and_unfinished_operations);
	tcase_add_test(tc, request_ending_inside_its_handler_comes_after_it);
	tcase_add_test(tc, spans_from_a_recorded_session);
	suite_add_tcase(s, tc);
	tc = tcase_create("stats");
	tcase_set_timeout(tc, 60); /* 200k-value loops: seconds on a loaded 2-core machine */
	tcase_add_test(tc, histogram_buckets_hold_their_values);
	tcase_add_test(tc, quantiles_within_documented_error);
	tcase_add_test(tc, ftable_interns_keys);
	tcase_add_test(tc, aggregation_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("text");
	tcase_add_test(tc, json_strings_are_always_valid);
	tcase_add_test(tc, terminal_text_is_safe_and_cut);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
