/* tools/cmd-chrome.c — `glass-report chrome`: the session in Chrome's Trace Event format. */
#include <stdlib.h>
#include <string.h>

#include "analysis/progress.h"
#include "native.h"
#include "report.h"
#include "res-report.h"
#include "analysis/spans.h"
#include "analysis/text.h"

/*
 * Streamed: one event per span as spans complete, never the whole trace in memory. Viewers
 * (chrome://tracing, Perfetto) sort events themselves.
 *
 * Complete events ("X") on a thread must nest: any two are disjoint or one holds the other.
 * Plain function calls always do (they follow the thread's stack). A generator or coroutine
 * span runs from its first start to its end, suspensions included, so it overlaps its
 * callers; a captured operation (an HTTP request read in one function and answered in
 * another) may too. Those become async events ("b"/"e", one id per span) on the process's
 * async tracks, where overlapping is allowed, with their thread and parent in args.
 */

struct chrome {
	FILE *out;
	struct glass_buf ev;
	uint64_t base_ns; /* ts 0: the earliest process start */
	uint64_t session_id;
	uint64_t events, spans;
	int failed;
};

static void put_event(struct chrome *C)
{
	struct glass_buf *b = &C->ev;
	if (b->oom) {
		C->failed = 1;
		b->len = 0;
		return;
	}
	if (C->events++ && fwrite(",\n", 1, 2, C->out) != 2)
		C->failed = 1;
	if (fwrite(b->p, 1, b->len, C->out) != b->len)
		C->failed = 1;
	b->len = 0;
}

/* Microseconds since base with nanosecond fractions, exact (no floating point). */
static void put_us(struct glass_buf *b, const char *key, uint64_t ns, uint64_t base)
{
	const char *sign = "";
	uint64_t d = ns - base;
	if (ns < base) {
		sign = "-";
		d = base - ns;
	}
	glass_buf_printf(b, ",\"%s\":%s%llu.%03u", key, sign, (unsigned long long)(d / 1000),
			 (unsigned)(d % 1000));
}

static void put_str(struct glass_buf *b, const char *key, const char *s, size_t len)
{
	glass_buf_printf(b, ",\"%s\":", key);
	glass_json_str(b, s ? s : "", s ? len : 0);
}

static void put_cstr(struct glass_buf *b, const char *key, const char *s)
{
	put_str(b, key, s, s ? strlen(s) : 0);
}

/*
 * A span's args, kept short: a big trace is millions of events and viewers load JSON whole.
 * The name already says module.qualname and the track the thread, so args add the ids, where
 * the code is, and what is not visible otherwise. The trace id is there when it says something
 * the parent chain does not: on captured operations (what OTLP exporters correlate on) and on
 * spans of a remote trace (an HTTP request's traceparent).
 */
static void put_args(struct chrome *C, const struct glass_span *sp, int async)
{
	struct glass_buf *b = &C->ev;
	const struct glass_code_def *d = sp->kind == GLASS_KIND_PYTHON ? sp->code : NULL;
	glass_buf_printf(b, ",\"args\":{\"span_id\":\"%016llx\"", (unsigned long long)sp->span_id);
	if (sp->parent_id)
		glass_buf_printf(b, ",\"parent_id\":\"%016llx\"",
				 (unsigned long long)sp->parent_id);
	if (sp->kind != GLASS_KIND_PYTHON || sp->trace_hi != C->session_id)
		glass_buf_printf(b, ",\"trace_id\":\"%016llx%016llx\"",
				 (unsigned long long)sp->trace_hi,
				 (unsigned long long)sp->trace_lo);
	if (sp->remote_parent_id)
		glass_buf_printf(b, ",\"remote_parent_id\":\"%016llx\"",
				 (unsigned long long)sp->remote_parent_id);
	if (d) {
		put_cstr(b, "file", d->filename);
		glass_buf_printf(b, ",\"line\":%u", d->line);
	}
	glass_buf_printf(b, ",\"status\":\"%s\",\"self_us\":%llu.%03u,\"depth\":%u",
			 glass_span_status_name(sp->status),
			 (unsigned long long)(sp->self_ns / 1000), (unsigned)(sp->self_ns % 1000),
			 sp->depth);
	if (sp->status == GLASS_SPAN_ERROR) {
		glass_buf_puts(b, ",\"error\":{\"type\":");
		glass_json_str(b, sp->err_type.p, sp->err_type.len);
		glass_buf_puts(b, ",\"message\":");
		glass_json_str(b, sp->err_msg.p, sp->err_msg.len);
		glass_buf_put(b, "}", 1);
	}
	if (sp->gen != GLASS_GEN_NONE)
		glass_buf_printf(b,
				 ",\"generator\":\"%s\",\"resumes\":%u,\"suspended_us\":%llu.%03u",
				 glass_gen_kind_name(sp->gen), sp->resumes,
				 (unsigned long long)(sp->suspended_ns / 1000),
				 (unsigned)(sp->suspended_ns % 1000));
	if (async && sp->thread) /* async tracks belong to the process */
		put_cstr(b, "thread", sp->thread);
	if (sp->args.p)
		put_str(b, "call_args", sp->args.p, sp->args.len);
	if (sp->result.p)
		put_str(b, "result", sp->result.p, sp->result.len);
	if (sp->kind != GLASS_KIND_PYTHON) {
		glass_buf_puts(b, ",\"attributes\":");
		glass_span_attrs_json(b, sp);
	}
	glass_buf_put(b, "}", 1);
}

/* "name", "cat", pid and tid: what every event of a span starts with. */
static void put_head(struct glass_buf *b, const struct glass_span *sp, const char *ph)
{
	char label[1024];
	glass_span_label(sp, label, sizeof(label));
	glass_buf_puts(b, "{\"name\":");
	if (sp->kind == GLASS_KIND_PYTHON)
		glass_json_str(b, label, strlen(label));
	else /* the name itself: the label is cut at 1023 bytes */
		glass_json_str(b, sp->name.p ? sp->name.p : "", sp->name.len);
	glass_buf_printf(b, ",\"cat\":\"%s\",\"ph\":\"%s\",\"pid\":%u,\"tid\":%u",
			 glass_span_kind_name(sp->kind), ph, sp->pid, sp->tid);
}

/* The span's events as instant events on its thread ("exception", "log"). */
static void put_instants(struct chrome *C, const struct glass_span *sp)
{
	struct glass_buf *b = &C->ev;
	for (size_t i = 0; i < sp->nevents; i++) {
		const struct glass_span_event *e = &sp->events[i];
		int log = e->kind == GLASS_EVENT_LOG;
		glass_buf_printf(b, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\","
				 "\"pid\":%u,\"tid\":%u",
				 log ? "log" : "exception", log ? "log" : "exception", sp->pid, sp->tid);
		put_us(b, "ts", e->ts_ns, C->base_ns);
		glass_buf_printf(b, ",\"args\":{\"span_id\":\"%016llx\"",
				 (unsigned long long)sp->span_id);
		if (log)
			glass_buf_printf(b, ",\"level\":\"%s\"", glass_log_level_name(e->level));
		else
			glass_buf_printf(b, ",\"handled\":%s", e->handled ? "true" : "false");
		if (e->name.p)
			put_str(b, log ? "logger" : "type", e->name.p, e->name.len);
		if (e->text.p)
			put_str(b, "message", e->text.p, e->text.len);
		glass_buf_puts(b, "}}");
		put_event(C);
	}
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct chrome *C = ctx;
	struct glass_buf *b = &C->ev;
	if (C->failed)
		return;
	C->spans++;
	if (sp->nevents)
		put_instants(C, sp);
	if (sp->kind == GLASS_KIND_PYTHON && sp->gen == GLASS_GEN_NONE) {
		put_head(b, sp, "X");
		put_us(b, "ts", sp->start_ns, C->base_ns);
		glass_buf_printf(b, ",\"dur\":%llu.%03u", (unsigned long long)(sp->dur_ns / 1000),
				 (unsigned)(sp->dur_ns % 1000));
		put_args(C, sp, 0);
		glass_buf_put(b, "}", 1);
		put_event(C);
		return;
	}
	/* a nestable async slice of its own: begin (with the args) and end */
	put_head(b, sp, "b");
	glass_buf_printf(b, ",\"id\":\"0x%016llx\"", (unsigned long long)sp->span_id);
	put_us(b, "ts", sp->start_ns, C->base_ns);
	put_args(C, sp, 1);
	glass_buf_put(b, "}", 1);
	put_event(C);
	put_head(b, sp, "e");
	glass_buf_printf(b, ",\"id\":\"0x%016llx\"", (unsigned long long)sp->span_id);
	put_us(b, "ts", sp->start_ns + sp->dur_ns, C->base_ns);
	glass_buf_put(b, "}", 1);
	put_event(C);
}

static void put_meta(struct chrome *C, const char *what, uint32_t pid, uint32_t tid,
		     const char *key, const char *value, long long num)
{
	struct glass_buf *b = &C->ev;
	glass_buf_printf(b, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%u,\"tid\":%u,\"args\":{\"%s\":",
			 what, pid, tid, key);
	if (value)
		glass_json_str(b, value, strlen(value));
	else
		glass_buf_printf(b, "%lld", num);
	glass_buf_puts(b, "}}");
	put_event(C);
}

/* A process's label: its command line (cut to 200 bytes), else its executable. */
static void proc_label(struct glass_buf *b, const struct glass_proc_info *in)
{
	b->len = 0;
	for (uint32_t i = 0; i < in->argc && b->len < 200; i++) {
		if (i)
			glass_buf_put(b, " ", 1);
		const char *a = in->argv[i];
		/* the script, not the interpreter's full path, says which program it is */
		if (i == 0 && strrchr(a, '/'))
			a = strrchr(a, '/') + 1;
		glass_buf_puts(b, a);
	}
	if (!b->len)
		glass_buf_puts(b, *in->executable ? in->executable : "python");
	if (b->len > 200) {
		/* keep whole UTF-8 characters */
		size_t n = 200;
		while (n && ((unsigned char)b->p[n] & 0xc0) == 0x80)
			n--;
		b->len = n;
		glass_buf_puts(b, "…");
	}
	glass_buf_put(b, "", 1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: glass-report chrome [SESSION...] [-o FILE] [--strict]\n"
		"\n"
		"Writes the session in Chrome's Trace Event format (JSON), for Perfetto\n"
		"(ui.perfetto.dev) or chrome://tracing. Function calls are complete events on\n"
		"their thread; generators, coroutines and captured operations (db, http, net),\n"
		"which may overlap their callers, are async events on the process's async tracks.\n"
		"Times are microseconds since the session started (otherData.start_unix_ns); span\n"
		"ids, status, errors and attributes are in each event's args. docs/report.md\n"
		"describes the mapping. Several sessions (services calling each other) share one\n"
		"timeline.\n"
		"\n"
		"  -o, --output FILE  write to FILE instead of standard output\n"
		"      --strict       exit with status 3 when the session was read with warnings\n"
		"  -h, --help         this text\n"
		"\n%s",
		report_exit_help);
}

/* The earliest process start of every session: the trace's time zero (several sessions, e.g.
 * services calling each other, share one timeline). */
static uint64_t base_time(struct glass_session **ss, size_t nss)
{
	uint64_t base = UINT64_MAX;
	for (size_t k = 0; k < nss; k++)
		for (size_t pi = 0; pi < glass_session_nprocs(ss[k]); pi++) {
			uint64_t t = glass_proc_info(glass_session_proc(ss[k], pi))->start_unix_ns;
			if (t && t < base)
				base = t;
		}
	return base == UINT64_MAX ? 0 : base;
}

/* One process: its name and order, then each thread's spans, name and order. */
static void write_process(struct chrome *C, struct glass_session *s, size_t pi, size_t sort,
			  struct glass_buf *label, struct glass_progress *pg)
{
	struct glass_proc *p = glass_session_proc(s, pi);
	const struct glass_proc_info *in = glass_proc_info(p);
	proc_label(label, in);
	put_meta(C, "process_name", in->pid, 0, "name", label->oom ? "python" : label->p, 0);
	put_meta(C, "process_sort_index", in->pid, 0, "sort_index", NULL, (long long)sort);
	const uint32_t *tidx;
	size_t n = glass_proc_threads(p, &tidx);
	for (size_t ti = 0; ti < n && !C->failed; ti++) {
		struct glass_spans *b = NULL;
		if (report_run_thread(p, tidx[ti], glass_span_ids_for(s, pi, ti), NULL, on_span, C,
				      &b, pg) < 0 ||
		    !b)
			continue;
		uint32_t tid = glass_spans_tid(b);
		const char *name = glass_spans_thread_name(b);
		char fallback[32];
		snprintf(fallback, sizeof(fallback), "thread %u", tidx[ti]);
		put_meta(C, "thread_name", in->pid, tid, "name", name ? name : fallback, 0);
		put_meta(C, "thread_sort_index", in->pid, tid, "sort_index", NULL,
			 (long long)tidx[ti]);
		glass_spans_free(b);
	}
}

/* Every process of every session, in order; the session's resource counters after its spans. */
static void write_sessions(struct chrome *C, struct glass_session **ss, size_t nss,
			   struct glass_buf *label)
{
	size_t sort = 0;
	for (size_t k = 0; k < nss && !C->failed; k++) {
		C->session_id = glass_session_id(ss[k]);
		struct glass_progress *pg = report_progress(ss[k], "chrome");
		for (size_t pi = 0; pi < glass_session_nprocs(ss[k]) && !C->failed; pi++)
			write_process(C, ss[k], pi, sort++, label, pg);
		glass_progress_end(pg);
		if (!C->failed &&
		    res_chrome(C->out, glass_session_dir(ss[k]), C->base_ns, &C->events) < 0)
			C->failed = 1;
	}
	C->session_id = glass_session_id(ss[0]);
}

/* otherData: what the viewers show as the trace's metadata (strings). Ends the document. */
static void write_trailer(struct chrome *C, struct glass_session *s, struct glass_buf *label)
{
	struct glass_buf *b = &C->ev;
	unsigned major, minor;
	glass_session_version(s, &major, &minor);
	glass_buf_puts(b, "\n]");
	native_chrome(b, s, C->base_ns); /* CPU samples: stackFrames and samples */
	glass_buf_puts(b, ",\"displayTimeUnit\":\"ms\",\"otherData\":{\"tool\":\"glass-report ");
	glass_buf_puts(b, GLASS_VERSION);
	glass_buf_puts(b, "\",\"session\":");
	glass_json_str(b, glass_session_dir(s), strlen(glass_session_dir(s)));
	glass_buf_printf(b, ",\"session_id\":\"%016llx\",\"format\":\"%u.%u\"",
			 (unsigned long long)glass_session_id(s), major, minor);
	if (glass_session_nprocs(s)) {
		proc_label(label, glass_proc_info(glass_session_proc(s, 0)));
		put_str(b, "command", label->oom ? "" : label->p,
			label->oom ? 0 : strlen(label->p));
	}
	glass_buf_printf(b,
			 ",\"start_unix_ns\":\"%llu\",\"spans\":\"%llu\",\"warnings\":\"%zu\"}}\n",
			 (unsigned long long)C->base_ns, (unsigned long long)C->spans,
			 glass_session_nwarnings(s));
	if (b->oom || fwrite(b->p, 1, b->len, C->out) != b->len)
		C->failed = 1;
}

int command_chrome(int argc, char **argv)
{
	const struct report_cli cli = {.name = "chrome", .usage = usage, .output = 1};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct glass_session *ss[REPORT_MAX_SESSIONS];
	size_t nss = report_sessions(&a, ss, REPORT_MAX_SESSIONS, &status);
	if (!nss)
		return status;
	struct report_out out;
	if (report_out_open(&out, a.output)) {
		for (size_t k = 0; k < nss; k++)
			glass_session_close(ss[k]);
		return GLASS_EXIT_OUTPUT;
	}
	struct chrome C = {.out = out.f, .base_ns = base_time(ss, nss)};
	fputs("{\"traceEvents\":[\n", C.out);
	struct glass_buf label = {0};
	write_sessions(&C, ss, nss, &label);
	write_trailer(&C, ss[0], &label);
	glass_buf_free(&label);
	glass_buf_free(&C.ev);
	return report_finish_many(&a, ss, nss, report_out_close(&out, C.failed));
}
