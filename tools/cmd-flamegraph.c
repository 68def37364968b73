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

int command_flamegraph(int argc, char **argv)
{
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
		OPT_STRICT,
		OPT_SAMPLES
	};
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"folded", no_argument, NULL, OPT_FOLDED},
					     {"value", required_argument, NULL, OPT_VALUE},
					     {"per-thread", no_argument, NULL, OPT_PER_THREAD},
					     {"process", required_argument, NULL, OPT_PROCESS},
					     {"thread", required_argument, NULL, OPT_THREAD},
					     {"since", required_argument, NULL, OPT_SINCE},
					     {"until", required_argument, NULL, OPT_UNTIL},
					     {"title", required_argument, NULL, OPT_TITLE},
					     {"width", required_argument, NULL, OPT_WIDTH},
					     {"max-stacks", required_argument, NULL, OPT_MAX},
					     {"strict", no_argument, NULL, OPT_STRICT},
					     {"samples", no_argument, NULL, OPT_SAMPLES},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct flame_opts fo = {.value = FLAME_WALL, .until_ns = UINT64_MAX};
	struct flame_svg_opts so = {0};
	const char *output = NULL, *since = NULL, *until = NULL;
	int folded = 0, strict = 0, samples = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		char *end;
		long v;
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case OPT_FOLDED:
			folded = 1;
			break;
		case OPT_VALUE:
			if (!strcmp(optarg, "wall"))
				fo.value = FLAME_WALL;
			else if (!strcmp(optarg, "self"))
				fo.value = FLAME_SELF;
			else {
				report_error("--value wants wall or self, not '%s'", optarg);
				return GLASS_EXIT_USAGE;
			}
			break;
		case OPT_PER_THREAD:
			fo.per_thread = 1;
			break;
		case OPT_PROCESS:
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v <= 0 || v > (long)UINT32_MAX) {
				report_error("--process wants a pid, not '%s'", optarg);
				return GLASS_EXIT_USAGE;
			}
			fo.has_pid = 1;
			fo.pid = (uint32_t)v;
			break;
		case OPT_THREAD:
			if (!*optarg) {
				report_error("--thread wants a tid or a thread name");
				return GLASS_EXIT_USAGE;
			}
			fo.thread = optarg;
			break;
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_UNTIL:
			until = optarg;
			break;
		case OPT_TITLE:
			so.title = optarg;
			break;
		case OPT_WIDTH:
			v = strtol(optarg, &end, 10);
			if (*end || v < 200 || v > 100000) {
				report_error("--width wants pixels from 200 to 100000, not '%s'",
					     optarg);
				return GLASS_EXIT_USAGE;
			}
			so.width = (unsigned)v;
			break;
		case OPT_MAX:
			v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < 1 || v > 2000000000L) {
				report_error(
				    "--max-stacks wants a number from 1 to 2000000000, not '%s'",
				    optarg);
				return GLASS_EXIT_USAGE;
			}
			fo.max_nodes = (size_t)v + 1;
			break;
		case OPT_STRICT:
			strict = 1;
			break;
		case OPT_SAMPLES:
			samples = 1;
			break;
		case 'h':
			usage(stdout);
			return GLASS_EXIT_OK;
		default:
			usage(stderr);
			return GLASS_EXIT_USAGE;
		}
	}
	uint64_t since_v = 0, until_v = 0;
	int since_rel = 0, until_rel = 0;
	if (since && parse_time(since, &since_v, &since_rel) < 0) {
		report_error("--since wants seconds from the start, @<Unix time> or a local time "
			     "(2025-01-01 12:00:00), not '%s'",
			     since);
		return GLASS_EXIT_USAGE;
	}
	if (until && parse_time(until, &until_v, &until_rel) < 0) {
		report_error("--until wants seconds from the start, @<Unix time> or a local time "
			     "(2025-01-01 12:00:00), not '%s'",
			     until);
		return GLASS_EXIT_USAGE;
	}
	int to_stdout = !output || !strcmp(output, "-");
	if (to_stdout && !folded && isatty(STDOUT_FILENO)) {
		report_error("flamegraph writes SVG: pass -o FILE.svg (or --folded for text)");
		return GLASS_EXIT_USAGE;
	}
	int status;
	struct glass_session *s = report_open_args("flamegraph", argc, argv, optind, &status);
	if (!s)
		return status;
	uint64_t t0 = session_start(s);
	if (since)
		fo.since_ns = since_rel ? t0 + since_v : since_v;
	if (until)
		fo.until_ns = until_rel ? t0 + until_v : until_v;
	if (fo.until_ns <= fo.since_ns) {
		report_error("--until is not after --since: nothing to draw");
		glass_session_close(s);
		return GLASS_EXIT_USAGE;
	}

	struct glass_progress *pg = report_progress(s, "flamegraph");
	uint64_t nsamples = 0;
	struct flame *F = samples ? native_flame_collect(s, &fo, &nsamples) : flame_collect(s, &fo, pg);
	glass_progress_end(pg);
	if (!F) {
		report_error("out of memory");
		glass_session_close(s);
		return GLASS_EXIT_SESSION;
	}

	FILE *out = stdout;
	if (!to_stdout) {
		out = fopen(output, "w");
		if (!out) {
			report_error("cannot create %s: %m", output);
			flame_free(F);
			glass_session_close(s);
			return GLASS_EXIT_OUTPUT;
		}
	}
	static char obuf[1 << 20];
	setvbuf(out, obuf, _IOFBF, sizeof(obuf));
	int werr;
	if (folded) {
		werr = flame_write_folded(out, F);
	} else {
		char sub[1024], total[32];
		const char *dir = glass_session_dir(s), *base = strrchr(dir, '/');
		size_t nthreads = 0;
		for (size_t i = 0; i < glass_session_nprocs(s); i++)
			nthreads += glass_proc_info(glass_session_proc(s, i))->nthreads;
		glass_fmt_dur(total, sizeof(total), flame_total(F));
		int n =
		    snprintf(sub, sizeof(sub), "%s · %s in all · %zu process%s, %zu thread%s%s%s",
			     fo.value == FLAME_SELF ? "self time by function, callers above"
						    : "wall-clock time on the stack",
			     total, glass_session_nprocs(s),
			     glass_session_nprocs(s) == 1 ? "" : "es", nthreads,
			     nthreads == 1 ? "" : "s", fo.has_pid || fo.thread ? " (filtered)" : "",
			     since || until ? " · time window" : "");
		if (n > 0 && (size_t)n < sizeof(sub))
			snprintf(sub + n, sizeof(sub) - (size_t)n, " · %s",
				 base && base[1] ? base + 1 : dir);
		so.subtitle = sub;
		werr = flame_write_svg(out, F, &so);
	}
	const char *oname = to_stdout ? "standard output" : output;
	int rc = report_check_output(out, oname);
	if (werr && !rc) {
		report_error("cannot write %s (out of memory or I/O error)", oname);
		rc = GLASS_EXIT_OUTPUT;
	}
	if (out != stdout && fclose(out) != 0 && !rc) {
		report_error("cannot write %s: %m", output);
		rc = GLASS_EXIT_OUTPUT;
	}
	if (flame_truncated(F))
		report_error("warning: %llu stacks past --max-stacks (%zu kept) were counted in "
			     "their caller",
			     (unsigned long long)flame_truncated(F), flame_nodes(F));
	if (flame_oom(F))
		report_error("warning: out of memory; the flame graph is partial");
	flame_free(F);
	int wrc = report_warnings(s, 20, strict);
	glass_session_close(s);
	return rc ? rc : wrc;
}
