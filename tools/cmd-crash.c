/* tools/cmd-crash.c — `glass-report crash`: each crashed process, its signal, fault address,
 * the mixed native/Python stack of the crashing thread and that thread's last calls. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"
#include "report.h"
#include "analysis/spans.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: glass-report crash [SESSION] [--no-lines] [--strict]\n"
		"\n"
		"Prints every crash the session recorded (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT\n"
		"caught by glass before the program's own handler or the default action): the\n"
		"process, the signal and fault address, the crashing thread's stack innermost\n"
		"first with its C functions (resolved from the recorded objects, file:line where\n"
		"debug information exists) and the Python functions that called them, then the\n"
		"Python calls that thread finished last.\n"
		"\n"
		"      --no-lines   no file:line for C functions (skips reading DWARF)\n"
		"      --strict     exit with status 3 when the session was read with warnings\n"
		"  -h, --help       this text\n"
		"\n"
		"Exit status: 0 also when nothing crashed (\"no crash recorded\" is printed).\n"
		"%s",
		report_exit_help);
}

struct crash_ctx {
	struct glass_native *n;
	int lines;
	uint64_t crashes;
};

static const char *code_name(int sig, int64_t code)
{
	if (code <= 0)
		return code == 0 ? "sent by kill" : code == -6 ? "sent by tkill/raise" : "sent";
	switch (sig) {
	case 11:
		return code == 1 ? "SEGV_MAPERR: address not mapped"
				 : code == 2 ? "SEGV_ACCERR: no permission" : "";
	case 7:
		return code == 1 ? "BUS_ADRALN" : code == 2 ? "BUS_ADRERR: no such address" : "";
	case 8:
		return code == 1 ? "FPE_INTDIV: integer divide by zero" : "";
	case 4:
		return code == 1 ? "ILL_ILLOPC: illegal opcode" : "";
	default:
		return "";
	}
}

void native_crash_print(FILE *out, struct glass_native *n, const struct native_event *e,
			int lines, int first)
{
	static struct native_mixed mix[260];
	const struct glass_record *r = e->rec;
	const struct glass_proc_info *pi = glass_proc_info(e->proc);
	char sb[32];
	int sig = (int)r->u[1];
	int64_t code = (int64_t)r->u[2];
	fprintf(out, "%sprocess %s (pid %u)", first ? "" : "\n", pi->key, pi->pid);
	for (uint32_t i = 0; i < pi->argc && i < 6; i++)
		fprintf(out, "%s%s", i ? " " : ": ", pi->argv[i]);
	fprintf(out, "\n  crashed with %s", glass_native_signame(sig, sb, sizeof(sb)));
	const char *cn = code_name(sig, code);
	if (*cn)
		fprintf(out, " (%s)", cn);
	if (code > 0 && sig != 6)
		fprintf(out, " at address 0x%llx", (unsigned long long)r->u[3]);
	fprintf(out, "\n  thread %u (tid %u)\n", e->tidx, glass_proc_thread_tid(e->proc, e->tidx));
	size_t k = glass_native_mixed(n, e, lines, mix, 256);
	fprintf(out, "  stack, innermost first:\n");
	for (size_t i = 0; i < k; i++) {
		const struct native_mixed *m = &mix[k - 1 - i];
		fprintf(out, "    #%-3zu %s", i, m->label);
		if (m->python) {
			if (m->file && *m->file)
				fprintf(out, "  (%s:%u)  [Python]", m->file, m->line);
			else
				fprintf(out, "  [Python]");
		} else {
			if (m->object)
				fprintf(out, "  (%s)", m->object);
			if (m->file)
				fprintf(out, "  %s:%u", m->file, m->line);
		}
		fprintf(out, "\n");
	}
	if (!k)
		fprintf(out, "    (no stack recorded)\n");
	if (e->nrecent) {
		fprintf(out, "  last Python calls finished on this thread, newest last:\n");
		for (size_t i = 0; i < e->nrecent; i++) {
			const struct glass_code_def *d = glass_proc_code(e->proc, e->recent[i]);
			struct glass_span sp;
			char label[600];
			memset(&sp, 0, sizeof(sp));
			sp.kind = GLASS_KIND_PYTHON;
			sp.code = d;
			sp.code_id = e->recent[i];
			glass_span_label(&sp, label, sizeof(label));
			fprintf(out, "    %-50s %10.3f ms\n", label, (double)e->recent_ns[i] / 1e6);
		}
	}
}

static void on_event(void *ctx, const struct native_event *e)
{
	struct crash_ctx *c = ctx;
	if (e->rec->tag != GLASS_REC_CRASH)
		return;
	native_crash_print(stdout, c->n, e, c->lines, c->crashes == 0);
	c->crashes++;
}


static int crash_option(void *ctx, int c, const char *arg)
{
	(void)arg;
	if (c == 'L')
		*(int *)ctx = 0;
	return 0;
}

int command_crash(int argc, char **argv)
{
	static const struct option opts[] = {{"no-lines", no_argument, NULL, 'L'},
					     {NULL, 0, NULL, 0}};
	int lines = 1;
	const struct report_cli cli = {.name = "crash",
				       .usage = usage,
				       .longopts = opts,
				       .option = crash_option,
				       .ctx = &lines};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	struct crash_ctx cx = {0};
	cx.n = glass_native_open(s);
	cx.lines = lines;
	if (!cx.n) {
		report_error("out of memory");
		glass_session_close(s);
		return GLASS_EXIT_SESSION;
	}
	glass_native_walk(cx.n, NATIVE_CRASHES, on_event, &cx);
	if (!cx.crashes)
		printf("no crash recorded\n");
	for (size_t i = 0; i < glass_native_nwarnings(cx.n); i++)
		fprintf(stderr, "glass-report: warning: %s\n", glass_native_warning(cx.n, i));
	glass_native_close(cx.n);
	return report_finish(&a, s, report_check_output(stdout, "standard output"));
}
