/* tools/cmd-flamegraph.c — `glass-report flamegraph`: time per stack as an SVG or folded stacks. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flame.h"
#include "native.h"
#include "progress.h"
#include "report.h"
#include "text.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report flamegraph [SESSION] [-o FILE] [--folded] [--value wall|self]\n"
	    "                               [--per-thread] [--process PID] [--thread TID|NAME]\n"
	    "                               [--since T] [--until T] [--title TEXT] [--width PX]\n"
	    "                               [--max-stacks N] [--strict] [--samples]\n"
	    "\n"
	    "Aggregates the time of every traced call by stack and draws it as a flame graph: an\n"
	    "interactive SVG (hover for details, click to zoom, Search or Ctrl-F highlights\n"
	    "matches, Reset Zoom; no network needed), or folded stacks for flamegraph.pl,\n"
	    "speedscope and other tools.\n"
	    "\n"
	    "Widths are wall-clock time: a frame is as wide as the time it was on the stack,\n"
	    "time spent blocked (sleep, I/O, locks) included, since a tracer cannot tell waiting\n"
	    "from running. Each stack's value is its self time, so children nest inside their\n"
	    "parent and the total is the threads' busy time (merged threads can add up to more\n"
	    "than the elapsed time). A generator or coroutine counts each run, from a resume to\n"
	    "its next yield or await, on the stack that resumed it; its suspended time is not\n"
	    "counted. Database, HTTP and network operations are frames of their own (\"SQL ...\",\n"
	    "\"GET /route\", \"HTTP GET host/path\") on the stack that issued them.\n"
	    "\n"
	    "  -o, --output FILE    write to FILE (default: standard output, not a terminal)\n"
	    "      --folded         write folded stacks \"a;b;c <ns>\" instead of SVG (values in\n"
	    "                       nanoseconds; ';' inside a name becomes ',')\n"
	    "      --value wall     stacks from the root, time on the stack (default)\n"
	    "      --value self     stacks reversed: the bottom row is each function's self time\n"
	    "                       (time in its own code and in untraced callees), the rows\n"
	    "                       above break it down by caller (flamegraph.pl --reverse)\n"
	    "      --per-thread     a root frame per thread, \"pid/tid name\" (default: merged)\n"
	    "      --process PID    only processes with this pid\n"
	    "      --thread T       only the thread with this tid, or with this name\n"
	    "      --since T        only time at or after T; --until T: only before T. T is\n"
	    "      --until T        seconds from the session start (\"2.5\", \"1500ms\", \"2m\"),\n"
	    "                       Unix time \"@1735732800.25\", or local time\n"
	    "                       \"2025-01-01 12:00:00.5\" (with a trailing Z: UTC). A call\n"
	    "                       across a limit counts its self time inside: its time\n"
	    "                       inside less its callees' time inside.\n"
	    "      --title TEXT     the SVG's title (default \"Flame graph\")\n"
	    "      --width PX       the SVG's width in pixels (default 1200)\n"
	    "      --max-stacks N   distinct stacks kept (default %u, about 64 MB a million);\n"
	    "                       past that, new stacks count in their caller (with a warning)\n"
	    "      --strict         exit with status 3 when the session was read with warnings\n"
	    "      --samples        the CPU samples instead (recorded with GLASS_SAMPLE_HZ,\n"
	    "                       \"sample_hz\" or glass-run --sample): mixed stacks, the C\n"
	    "                       functions under the Python frames that called them; a\n"
	    "                       width is samples times the sampling period\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Frames narrower than 0.1 pixel are left out of the SVG (the folded output has all).\n"
	    "With a CPU to spare the session is read in three threads (GLASS_REPORT_THREADS=1:\n"
	    "one).\n"
	    "Colours: Python warm (one hue per module), database blue, HTTP served green, HTTP\n"
	    "requests made cyan, network grey-blue.\n"
	    "\n%s",
	    FLAME_DEFAULT_MAX_NODES, report_exit_help);
}

/* Earliest process start of the session (Unix ns), 0 if unknown. */
static uint64_t session_start(struct glass_session *s)
{
	uint64_t t = 0;
	for (size_t i = 0; i < glass_session_nprocs(s); i++) {
		uint64_t p = glass_proc_info(glass_session_proc(s, i))->start_unix_ns;
		if (p && (!t || p < t))
			t = p;
	}
	return t;
}

/*
 * A time limit: seconds from the session start with an optional unit (ns, us, ms, s, m, h),
 * "@<Unix seconds>", or "YYYY-mm-dd[ T]HH:MM[:SS[.frac]]" in local time (UTC with a final Z).
 * *rel says whether it is relative (to be added to the session start). Returns -1 if invalid.
 */
static int parse_time(const char *s, uint64_t *ns, int *rel)
{
	char *end;
	*rel = 0;
	if (*s == '@') {
		double v = strtod(s + 1, &end);
		if (end == s + 1 || *end || v < 0)
			return -1;
		*ns = (uint64_t)(v * 1e9);
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	if (p && (*p == ' ' || *p == 'T')) {
		const char *q = strptime(p + 1, "%H:%M", &tm);
		if (!q)
			return -1;
		double frac = 0;
		if (*q == ':') {
			double sec = strtod(q + 1, &end);
			if (end == q + 1 || sec < 0 || sec >= 61)
				return -1;
			tm.tm_sec = (int)sec;
			frac = sec - tm.tm_sec;
			q = end;
		}
		int utc = *q == 'Z';
		if (utc)
			q++;
		if (*q)
			return -1;
		tm.tm_isdst = -1;
		time_t t = utc ? timegm(&tm) : mktime(&tm);
		if (t < 0)
			return -1;
		*ns = (uint64_t)t * 1000000000ull + (uint64_t)(frac * 1e9);
		return 0;
	}
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	static const struct {
		const char *unit;
		double mul;
	} units[] = {{"", 1e9},	  {"s", 1e9}, {"ms", 1e6}, {"us", 1e3},
		     {"µs", 1e3}, {"ns", 1},  {"m", 60e9}, {"h", 3600e9}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit)) {
			*ns = (uint64_t)(v * units[i].mul);
			*rel = 1;
			return 0;
		}
	return -1;
}

enum {
	OPT_FOLDED = 256,
	OPT_VALUE,
	OPT_PER_THREAD,
	OPT_PROCESS,
	OPT_THREAD,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_TITLE,
	OPT_WIDTH,
	OPT_MAX,
	OPT_SAMPLES
};

/* What the command line asks for. */
struct flame_cmd {
	struct flame_opts fo;
	struct flame_svg_opts so;
	const char *since, *until;
	int folded;
	int samples; /* --samples: the CPU samples' mixed stacks */
};

/* A number option in [lo, hi]; -1 (with the message) when it is not one. */
static int parse_long(const char *arg, long lo, long hi, long *v)
{
	char *end;
	*v = strtol(arg, &end, 10);
	return *end || end == arg || *v < lo || *v > hi ? -1 : 0;
}

static int flame_option(void *ctx, int c, const char *arg)
{
	struct flame_cmd *F = ctx;
	long v;
	switch (c) {
	case OPT_FOLDED:
		F->folded = 1;
		break;
	case OPT_SAMPLES:
		F->samples = 1;
		break;
	case OPT_VALUE:
		if (!strcmp(arg, "wall"))
			F->fo.value = FLAME_WALL;
		else if (!strcmp(arg, "self"))
			F->fo.value = FLAME_SELF;
		else {
			report_error("--value wants wall or self, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	case OPT_PER_THREAD:
		F->fo.per_thread = 1;
		break;
	case OPT_PROCESS:
		if (parse_long(arg, 1, (long)UINT32_MAX, &v) < 0) {
			report_error("--process wants a pid, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		F->fo.has_pid = 1;
		F->fo.pid = (uint32_t)v;
		break;
	case OPT_THREAD:
		if (!*arg) {
			report_error("--thread wants a tid or a thread name");
			return GLASS_EXIT_USAGE;
		}
		F->fo.thread = arg;
		break;
	case OPT_SINCE:
		F->since = arg;
		break;
	case OPT_UNTIL:
		F->until = arg;
		break;
	case OPT_TITLE:
		F->so.title = arg;
		break;
	case OPT_WIDTH: {
		char *end;
		v = strtol(arg, &end, 10);
		if (*end || v < 200 || v > 100000) {
			report_error("--width wants pixels from 200 to 100000, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		F->so.width = (unsigned)v;
		break;
	}
	case OPT_MAX:
		if (parse_long(arg, 1, 2000000000L, &v) < 0) {
			report_error("--max-stacks wants a number from 1 to 2000000000, not '%s'",
				     arg);
			return GLASS_EXIT_USAGE;
		}
		F->fo.max_nodes = (size_t)v + 1;
		break;
	}
	return 0;
}

/* --since/--until: an absolute time, or relative to the session's start. */
struct time_limit {
	uint64_t v;
	int rel;
};

static int parse_limit(const char *opt, const char *arg, struct time_limit *t)
{
	if (!arg || parse_time(arg, &t->v, &t->rel) == 0)
		return 0;
	report_error("%s wants seconds from the start, @<Unix time> or a local time "
		     "(2025-01-01 12:00:00), not '%s'",
		     opt, arg);
	return -1;
}

/* The SVG's subtitle: what is drawn, how much, of what, and which session. */
static void subtitle(char *sub, size_t cap, const struct flame_cmd *C, struct glass_session *s,
		     const struct flame *F)
{
	char total[32];
	const char *dir = glass_session_dir(s), *base = strrchr(dir, '/');
	size_t nthreads = 0, nprocs = glass_session_nprocs(s);
	for (size_t i = 0; i < nprocs; i++)
		nthreads += glass_proc_info(glass_session_proc(s, i))->nthreads;
	glass_fmt_dur(total, sizeof(total), flame_total(F));
	int n = snprintf(sub, cap, "%s · %s in all · %zu process%s, %zu thread%s%s%s",
			 C->fo.value == FLAME_SELF ? "self time by function, callers above"
						   : "wall-clock time on the stack",
			 total, nprocs, nprocs == 1 ? "" : "es", nthreads, nthreads == 1 ? "" : "s",
			 C->fo.has_pid || C->fo.thread ? " (filtered)" : "",
			 C->since || C->until ? " · time window" : "");
	if (n > 0 && (size_t)n < cap)
		snprintf(sub + n, cap - (size_t)n, " · %s", base && base[1] ? base + 1 : dir);
}

/* Writes the graph (or folded stacks) and closes out; the exit status. */
static int write_graph(struct flame_cmd *C, struct glass_session *s, struct flame *F,
		       struct report_out *out)
{
	int werr;
	if (C->folded) {
		werr = flame_write_folded(out->f, F);
	} else {
		char sub[1024];
		subtitle(sub, sizeof(sub), C, s, F);
		C->so.subtitle = sub;
		werr = flame_write_svg(out->f, F, &C->so);
	}
	int rc = report_out_close(out, werr);
	if (flame_truncated(F))
		report_error("warning: %llu stacks past --max-stacks (%zu kept) were counted in "
			     "their caller",
			     (unsigned long long)flame_truncated(F), flame_nodes(F));
	if (flame_oom(F))
		report_error("warning: out of memory; the flame graph is partial");
	return rc;
}

int command_flamegraph(int argc, char **argv)
{
	static const struct option opts[] = {{"folded", no_argument, NULL, OPT_FOLDED},
					     {"value", required_argument, NULL, OPT_VALUE},
					     {"per-thread", no_argument, NULL, OPT_PER_THREAD},
					     {"process", required_argument, NULL, OPT_PROCESS},
					     {"thread", required_argument, NULL, OPT_THREAD},
					     {"since", required_argument, NULL, OPT_SINCE},
					     {"until", required_argument, NULL, OPT_UNTIL},
					     {"title", required_argument, NULL, OPT_TITLE},
					     {"width", required_argument, NULL, OPT_WIDTH},
					     {"max-stacks", required_argument, NULL, OPT_MAX},
					     {"samples", no_argument, NULL, OPT_SAMPLES},
					     {NULL, 0, NULL, 0}};
	struct flame_cmd C = {.fo = {.value = FLAME_WALL, .until_ns = UINT64_MAX}};
	const struct report_cli cli = {.name = "flamegraph",
				       .usage = usage,
				       .output = 1,
				       .longopts = opts,
				       .option = flame_option,
				       .ctx = &C};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	struct time_limit since = {0}, until = {0};
	if (parse_limit("--since", C.since, &since) < 0 ||
	    parse_limit("--until", C.until, &until) < 0)
		return GLASS_EXIT_USAGE;
	if ((!a.output || !strcmp(a.output, "-")) && !C.folded && isatty(STDOUT_FILENO)) {
		report_error("flamegraph writes SVG: pass -o FILE.svg (or --folded for text)");
		return GLASS_EXIT_USAGE;
	}
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	uint64_t t0 = session_start(s);
	if (C.since)
		C.fo.since_ns = since.rel ? t0 + since.v : since.v;
	if (C.until)
		C.fo.until_ns = until.rel ? t0 + until.v : until.v;
	if (C.fo.until_ns <= C.fo.since_ns) {
		report_error("--until is not after --since: nothing to draw");
		glass_session_close(s);
		return GLASS_EXIT_USAGE;
	}
	struct glass_progress *pg = report_progress(s, "flamegraph");
	uint64_t nsamples = 0;
	struct flame *F =
	    C.samples ? native_flame_collect(s, &C.fo, &nsamples) : flame_collect(s, &C.fo, pg);
	glass_progress_end(pg);
	if (!F) {
		report_error("out of memory");
		glass_session_close(s);
		return GLASS_EXIT_SESSION;
	}
	struct report_out out;
	if (report_out_open(&out, a.output)) {
		flame_free(F);
		glass_session_close(s);
		return GLASS_EXIT_OUTPUT;
	}
	int rc = write_graph(&C, s, F, &out);
	flame_free(F);
	return report_finish(&a, s, rc);
}
