/* tools/report.c — what glass-report's subcommands share: session lookup, warnings, exit codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"
#include "readahead.h"
#include "report.h"

const char report_exit_help[] =
    "Exit status:\n"
    "  0  success (warnings about damaged data, e.g. a torn tail after a crash, go to\n"
    "     stderr as \"glass-report: warning: ...\"; the report covers everything readable)\n"
    "  1  usage error\n"
    "  2  session not found, unreadable, not a glass session, or of a newer format\n"
    "  3  --strict was given and the session was read with warnings\n"
    "  4  the output could not be written\n";

void report_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("glass-report: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int has_session_file(const char *dir)
{
	char path[4200];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, GLASS_SESSION_FILE);
	return stat(path, &st) == 0;
}

struct glass_session *report_open_args(const char *command, int argc, char **argv, int optind_,
				       int *status)
{
	if (argc - optind_ > 1) {
		report_error("%s takes one SESSION, got %d arguments", command, argc - optind_);
		*status = GLASS_EXIT_USAGE;
		return NULL;
	}
	struct glass_session *s = report_open(optind_ < argc ? argv[optind_] : NULL);
	*status = s ? GLASS_EXIT_OK : GLASS_EXIT_SESSION;
	return s;
}

/* The shared options' codes for getopt_long: no command's own option uses them. */
enum { OPT_STRICT = 0x7001 };

int report_parse(const struct report_cli *cli, int argc, char **argv, struct report_args *a)
{
	struct option opts[40];
	char shortopts[64];
	size_t n = 0;
	if (cli->output)
		opts[n++] = (struct option){"output", required_argument, NULL, 'o'};
	for (const struct option *o = cli->longopts; o && o->name && n < 37; o++)
		opts[n++] = *o;
	if (!cli->no_strict)
		opts[n++] = (struct option){"strict", no_argument, NULL, OPT_STRICT};
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	snprintf(shortopts, sizeof(shortopts), "%s%sh", cli->output ? "o:" : "",
		 cli->shortopts ? cli->shortopts : "");
	*a = (struct report_args){.command = cli->name, .output = cli->default_output};
	int c, rc;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			a->output = optarg;
			break;
		case OPT_STRICT:
			a->strict = 1;
			break;
		case 'h':
			cli->usage(stdout);
			return GLASS_EXIT_OK;
		case '?':
			cli->usage(stderr);
			return GLASS_EXIT_USAGE;
		default:
			if (cli->option && (rc = cli->option(cli->ctx, c, optarg)) != 0)
				return rc;
		}
	}
	a->argc = argc;
	a->argv = argv;
	a->first = optind;
	return -1;
}

struct glass_session *report_session(const struct report_args *a, int *status)
{
	return report_open_args(a->command, a->argc, a->argv, a->first, status);
}

int report_finish(const struct report_args *a, struct glass_session *s, int rc)
{
	int wrc = report_warnings(s, 20, a->strict);
	glass_session_close(s);
	return rc ? rc : wrc;
}

size_t report_sessions(const struct report_args *a, struct glass_session **out, size_t cap,
		       int *status)
{
	return report_open_many(a->command, a->argc, a->argv, a->first, out, cap, status);
}

int report_finish_many(const struct report_args *a, struct glass_session **ss, size_t n, int rc)
{
	int wrc = 0;
	for (size_t k = 0; k < n; k++) {
		int w = report_warnings(ss[k], 20, a->strict);
		if (!wrc)
			wrc = w;
		glass_session_close(ss[k]);
	}
	return rc ? rc : wrc;
}

int report_out_open(struct report_out *o, const char *path)
{
	static char buf[1 << 20];
	o->to_file = path && strcmp(path, "-");
	o->name = o->to_file ? path : "standard output";
	o->f = o->to_file ? fopen(path, "w") : stdout;
	if (!o->f) {
		report_error("cannot create %s: %m", path);
		return GLASS_EXIT_OUTPUT;
	}
	setvbuf(o->f, buf, _IOFBF, sizeof(buf));
	return GLASS_EXIT_OK;
}

int report_out_close(struct report_out *o, int failed)
{
	int rc = report_check_output(o->f, o->name);
	if (failed && !rc) {
		report_error("cannot write %s (out of memory or I/O error)", o->name);
		rc = GLASS_EXIT_OUTPUT;
	}
	if (o->to_file && fclose(o->f) != 0 && !rc) {
		report_error("cannot write %s: %m", o->name);
		rc = GLASS_EXIT_OUTPUT;
	}
	o->f = NULL;
	return rc;
}

size_t report_open_many(const char *command, int argc, char **argv, int optind_,
			struct glass_session **out, size_t cap, int *status)
{
	size_t want = argc > optind_ ? (size_t)(argc - optind_) : 1;
	if (want > cap) {
		report_error("%s reads at most %zu sessions together, got %zu", command, cap, want);
		*status = GLASS_EXIT_USAGE;
		return 0;
	}
	for (size_t i = 0; i < want; i++) {
		out[i] = report_open(optind_ < argc ? argv[optind_ + (int)i] : NULL);
		if (!out[i]) {
			while (i--)
				glass_session_close(out[i]);
			*status = GLASS_EXIT_SESSION;
			return 0;
		}
	}
	*status = GLASS_EXIT_OK;
	return want;
}

struct glass_session *report_open(const char *arg)
{
	char path[4200], err[4400];
	const char *dir = arg;
	if (!dir) {
		const char *out = getenv("GLASS_OUT");
		const char *base = out && *out ? out : "./glass-out";
		if (glass_session_find_latest(base, path, sizeof(path)) < 0) {
			struct stat st;
			if (stat(base, &st) < 0)
				report_error("no session under %s (run a program with glass first, "
					     "or pass a session directory)",
					     base);
			else
				report_error("no session under %s (it holds no directory with a "
					     "%s file; pass a session directory)",
					     base, GLASS_SESSION_FILE);
			return NULL;
		}
		dir = path;
	} else {
		struct stat st;
		if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && !has_session_file(dir) &&
		    glass_session_find_latest(dir, path, sizeof(path)) == 0)
			dir = path; /* a directory of sessions: take its newest */
	}
	struct glass_session *s = glass_session_open(dir, err, sizeof(err));
	if (!s && arg && access(dir, F_OK) < 0)
		report_error(
		    "%s (pass a session directory, e.g. glass-out/20250101-120000-4242, or "
		    "none for the newest)",
		    err);
	else if (!s)
		report_error("%s", err);
	return s;
}

int report_warnings(struct glass_session *s, size_t max, int strict)
{
	size_t n = glass_session_nwarnings(s);
	for (size_t i = 0; i < n; i++) {
		if (max && i == max) {
			report_error("warning: ... and %zu more (glass-report info lists them all)",
				     n - max);
			break;
		}
		report_error("warning: %s", glass_session_warning(s, i));
	}
	return strict && n ? GLASS_EXIT_WARNINGS : GLASS_EXIT_OK;
}

int report_check_output(FILE *f, const char *name)
{
	if (fflush(f) == 0 && !ferror(f))
		return GLASS_EXIT_OK;
	report_error("cannot write %s: %s", name, strerror(errno ? errno : EIO));
	return GLASS_EXIT_OUTPUT;
}

uint64_t report_session_chunks(struct glass_session *s)
{
	uint64_t n = 0;
	for (size_t pi = 0; pi < glass_session_nprocs(s); pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const uint32_t *tidx;
		size_t nt = glass_proc_threads(p, &tidx);
		for (size_t ti = 0; ti < nt; ti++)
			n += glass_proc_thread_chunks(p, tidx[ti], NULL);
	}
	return n;
}

struct glass_progress *report_progress(struct glass_session *s, const char *what)
{
	return glass_progress_start(what, report_session_chunks(s));
}

int report_run_thread(struct glass_proc *proc, uint32_t tidx, struct glass_span_ids ids,
		      glass_span_fn on_start, glass_span_fn on_end, void *ctx,
		      struct glass_spans **keep, struct glass_progress *pg)
{
	uint64_t chunks = pg ? glass_proc_thread_chunks(proc, tidx, NULL) : 0, seen = 0;
	struct glass_readahead *ra = glass_readahead_open(proc, tidx);
	if (!ra) {
		glass_progress_add(pg, chunks);
		return -1;
	}
	struct glass_spans *b = glass_spans_new(proc, tidx, ids, on_start, on_end, ctx);
	if (!b) {
		glass_readahead_close(ra);
		glass_progress_add(pg, chunks);
		return -1;
	}
	struct glass_record rec;
	while (glass_readahead_next(ra, &rec)) {
		/* every chunk starts with one; unreadable chunks are made up for at the end */
		if (pg && rec.tag == GLASS_REC_CHUNK_START && seen < chunks) {
			seen++;
			glass_progress_add(pg, 1);
		}
		glass_spans_feed(b, &rec);
	}
	glass_spans_finish(b);
	glass_readahead_close(ra);
	glass_progress_add(pg, chunks - seen);
	if (keep)
		*keep = b;
	else
		glass_spans_free(b);
	return 0;
}
