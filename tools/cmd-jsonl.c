/* tools/cmd-jsonl.c — `glass-report jsonl`: completed spans (or Glimpse entries) as JSON lines. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "report.h"
#include "spans.h"
#include "text.h"

enum jsonl_format { FMT_SPANS, FMT_GLIMPSE };

struct jsonl {
	FILE *out;
	struct glass_buf line;
	enum jsonl_format format;
	uint64_t session_id;
	uint64_t entries; /* Glimpse entry counter of the current process */
	uint32_t pid;
	int failed;
};

static void flush_line(struct jsonl *J)
{
	glass_buf_put(&J->line, "\n", 1);
	if (J->line.oom || fwrite(J->line.p, 1, J->line.len, J->out) != J->line.len)
		J->failed = 1;
	J->line.len = 0;
}

static void put_key(struct glass_buf *b, const char *key)
{
	glass_buf_put(b, ",\"", 2);
	glass_buf_puts(b, key);
	glass_buf_put(b, "\":", 2);
}

static void put_cstr(struct glass_buf *b, const char *s)
{
	glass_json_str(b, s, s ? strlen(s) : 0);
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct jsonl *J = ctx;
	struct glass_buf *b = &J->line;
	const struct glass_code_def *d = sp->code;
	glass_buf_printf(b, "{\"trace_id\":\"%016llx%016llx\",\"span_id\":\"%016llx\"",
			 (unsigned long long)sp->trace_hi, (unsigned long long)sp->trace_lo,
			 (unsigned long long)sp->span_id);
	if (sp->parent_id)
		glass_buf_printf(b, ",\"parent_id\":\"%016llx\"",
				 (unsigned long long)sp->parent_id);
	else
		glass_buf_puts(b, ",\"parent_id\":null");
	glass_buf_printf(b, ",\"pid\":%u,\"tid\":%u,\"kind\":\"%s\"", sp->pid, sp->tid,
			 glass_span_kind_name(sp->kind));
	put_key(b, "name");
	if (sp->kind != GLASS_KIND_PYTHON) {
		glass_json_str(b, sp->name.p ? sp->name.p : "", sp->name.len);
		glass_buf_puts(b, ",\"module\":null,\"file\":null,\"line\":null");
	} else if (d) {
		put_cstr(b, d->qualname);
		put_key(b, "module");
		put_cstr(b, d->module);
		put_key(b, "file");
		put_cstr(b, d->filename);
		glass_buf_printf(b, ",\"line\":%u", d->line);
	} else {
		glass_buf_printf(b, "\"<code %u>\",\"module\":null,\"file\":null,\"line\":null",
				 sp->code_id);
	}
	glass_buf_printf(b, ",\"start_ns\":%llu,\"dur_ns\":%llu,\"self_ns\":%llu",
			 (unsigned long long)sp->start_ns, (unsigned long long)sp->dur_ns,
			 (unsigned long long)sp->self_ns);
	glass_buf_printf(b, ",\"status\":\"%s\"", glass_span_status_name(sp->status));
	put_key(b, "error");
	if (sp->status == GLASS_SPAN_ERROR) {
		glass_buf_puts(b, "{\"type\":");
		glass_json_str(b, sp->err_type.p, sp->err_type.len);
		glass_buf_puts(b, ",\"message\":");
		glass_json_str(b, sp->err_msg.p, sp->err_msg.len);
		glass_buf_puts(b, "}");
	} else {
		glass_buf_puts(b, "null");
	}
	glass_buf_printf(b, ",\"depth\":%u", sp->depth);
	put_key(b, "thread");
	put_cstr(b, sp->thread);
	if (sp->gen != GLASS_GEN_NONE)
		glass_buf_printf(b, ",\"generator\":\"%s\",\"resumes\":%u,\"suspended_ns\":%llu",
				 glass_gen_kind_name(sp->gen), sp->resumes,
				 (unsigned long long)sp->suspended_ns);
	if (sp->remote_parent_id)
		glass_buf_printf(b, ",\"remote_parent_id\":\"%016llx\"",
				 (unsigned long long)sp->remote_parent_id);
	if (sp->kind != GLASS_KIND_PYTHON) {
		glass_buf_puts(b, ",\"attributes\":{");
		for (size_t i = 0; i < sp->nattrs; i++) {
			const struct glass_attr *a = &sp->attrs[i];
			if (i)
				glass_buf_put(b, ",", 1);
			glass_json_str(b, a->key.p, a->key.len);
			glass_buf_put(b, ":", 1);
			if (a->type == GLASS_ATTR_STR)
				glass_json_str(b, a->s.p ? a->s.p : "", a->s.len);
			else if (a->type == GLASS_ATTR_BOOL)
				glass_buf_puts(b, a->i ? "true" : "false");
			else
				glass_buf_printf(b, "%lld", (long long)a->i);
		}
		glass_buf_put(b, "}", 1);
	}
	glass_buf_put(b, "}", 1);
	flush_line(J);
}

/* Glimpse (function-tracing library) log entries: one START and one END per call. */
static void glimpse_entry(struct jsonl *J, const struct glass_span *sp, int end)
{
	struct glass_buf *b = &J->line;
	char ts[64];
	uint64_t when = sp->start_ns + (end ? sp->dur_ns : 0);
	glass_fmt_time(ts, sizeof(ts), when, 1, 0);
	glass_buf_printf(b, "{\"entry_id\":\"%u-%08llx-%06llu\"", sp->pid,
			 (unsigned long long)(J->session_id & 0xffffffffu),
			 (unsigned long long)++J->entries);
	glass_buf_printf(b, ",\"call_id\":\"%016llx\",\"trace_id\":\"%016llx%016llx\"",
			 (unsigned long long)sp->span_id, (unsigned long long)sp->trace_hi,
			 (unsigned long long)sp->trace_lo);
	glass_buf_printf(b, ",\"level\":\"%s\"",
			 end && sp->status == GLASS_SPAN_ERROR ? "ERROR" : "INFO");
	put_key(b, "function");
	if (sp->code)
		put_cstr(b, sp->code->qualname);
	else
		glass_buf_printf(b, "\"<code %u>\"", sp->code_id);
	glass_buf_printf(b, ",\"args\":null,\"stage\":\"%s\",\"timestamp\":\"%s\"",
			 end ? "END" : "START", ts);
	glass_buf_puts(b, ",\"result\":null");
	if (end)
		glass_buf_printf(b, ",\"duration_ms\":%.3f", (double)sp->dur_ns / 1e6);
	else
		glass_buf_puts(b, ",\"duration_ms\":null");
	put_key(b, "exception");
	if (end && sp->status == GLASS_SPAN_ERROR) {
		/* Glimpse writes "Type: message" */
		struct glass_buf e = {0};
		glass_buf_put(&e, sp->err_type.p ? sp->err_type.p : "Exception",
			      sp->err_type.p ? sp->err_type.len : 9);
		if (sp->err_msg.p) {
			glass_buf_put(&e, ": ", 2);
			glass_buf_put(&e, sp->err_msg.p, sp->err_msg.len);
		}
		glass_json_str(b, e.p ? e.p : "", e.len);
		glass_buf_free(&e);
	} else {
		glass_buf_puts(b, "null");
	}
	glass_buf_put(b, "}", 1);
	flush_line(J);
}

static void on_glimpse_start(void *ctx, const struct glass_span *sp)
{
	glimpse_entry(ctx, sp, 0);
}

static void on_glimpse_end(void *ctx, const struct glass_span *sp)
{
	glimpse_entry(ctx, sp, 1);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report jsonl [SESSION] [-o FILE] [--format spans|glimpse] [--strict]\n"
	    "\n"
	    "Writes one completed span per line (threads one after another, spans in the order\n"
	    "they complete). Fields: trace_id, span_id, parent_id, pid, tid, kind (function, db,\n"
	    "http_server, http_client, net), name, module, file, line, start_ns (Unix ns),\n"
	    "dur_ns, self_ns, status (ok|error|lost|unfinished), error ({type,message} or null),\n"
	    "depth, thread; generator and coroutine spans add generator, resumes and\n"
	    "suspended_ns; captured operations add attributes (OpenTelemetry names) and, for a\n"
	    "request with a traceparent, remote_parent_id. docs/report.md describes them.\n"
	    "\n"
	    "  -o, --output FILE    write to FILE instead of standard output\n"
	    "  -f, --format FORMAT  spans (default) or glimpse: Glimpse-style log entries, a "
	    "START\n"
	    "                       and an END line per call, in time order within a thread\n"
	    "                       (timestamps in local time; set TZ to choose)\n"
	    "      --strict         exit with status 3 when the session was read with warnings\n"
	    "  -h, --help           this text\n"
	    "\n%s",
	    report_exit_help);
}

static int jsonl_option(void *ctx, int c, const char *arg)
{
	struct jsonl *J = ctx;
	if (c != 'f')
		return 0;
	if (!strcmp(arg, "glimpse"))
		J->format = FMT_GLIMPSE;
	else if (!strcmp(arg, "spans") || !strcmp(arg, "jsonl"))
		J->format = FMT_SPANS;
	else {
		report_error("--format wants spans or glimpse, not '%s'", arg);
		return GLASS_EXIT_USAGE;
	}
	return 0;
}

/* Every thread's spans (or Glimpse entries), process by process. */
static void write_session(struct jsonl *J, struct glass_session *s)
{
	struct glass_progress *pg = report_progress(s, "jsonl");
	for (size_t pi = 0; pi < glass_session_nprocs(s) && !J->failed; pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const uint32_t *tidx;
		size_t n = glass_proc_threads(p, &tidx);
		J->entries = 0;
		for (size_t ti = 0; ti < n && !J->failed; ti++) {
			struct glass_span_ids ids = glass_span_ids_for(s, pi, ti);
			if (J->format == FMT_GLIMPSE)
				report_run_thread(p, tidx[ti], ids, on_glimpse_start,
						  on_glimpse_end, J, NULL, pg);
			else
				report_run_thread(p, tidx[ti], ids, NULL, on_span, J, NULL, pg);
		}
	}
	glass_progress_end(pg);
}

int command_jsonl(int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	struct jsonl J = {0};
	const struct report_cli cli = {.name = "jsonl",
				       .usage = usage,
				       .output = 1,
				       .shortopts = "f:",
				       .longopts = opts,
				       .option = jsonl_option,
				       .ctx = &J};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	struct report_out out;
	if (report_out_open(&out, a.output)) {
		glass_session_close(s);
		return GLASS_EXIT_OUTPUT;
	}
	J.out = out.f;
	J.session_id = glass_session_id(s);
	write_session(&J, s);
	int rc = report_out_close(&out, J.failed);
	glass_buf_free(&J.line);
	return report_finish(&a, s, rc);
}
