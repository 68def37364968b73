/* tools/report.h — what glass-report's subcommands share: session lookup, warnings, exit codes. */
#ifndef GLASS_REPORT_H
#define GLASS_REPORT_H

#include <getopt.h>
#include <stdio.h>

#include "recorder/reader.h"
#include "spans.h"

/* Exit codes (documented in --help and docs/report.md). */
#define GLASS_EXIT_OK	    0
#define GLASS_EXIT_USAGE    1
#define GLASS_EXIT_SESSION  2 /* not found, unreadable, not a glass session, newer format */
#define GLASS_EXIT_WARNINGS 3 /* --strict only: the session was read with warnings */
#define GLASS_EXIT_OUTPUT   4 /* the output could not be written */

/* Subcommands: argv[0] is the command name; they return an exit code. */
int command_summary(int argc, char **argv);
int command_jsonl(int argc, char **argv);
int command_info(int argc, char **argv);
int command_otlp(int argc, char **argv);
int command_metrics(int argc, char **argv);
int command_sqlite(int argc, char **argv);
int command_chrome(int argc, char **argv);
int command_list(int argc, char **argv); /* glass-report --list */
int command_flamegraph(int argc, char **argv);
int command_tree(int argc, char **argv);
int command_html(int argc, char **argv);
int command_top(int argc, char **argv);

/*
 * The command line of a subcommand. report_parse reads the options every subcommand shares
 * (-o/--output FILE when it writes one, --strict, -h/--help) and hands the command's own to
 * `option`; the SESSION operand is opened later by report_session.
 */
struct report_cli {
	const char *name;	       /* "jsonl": for messages */
	void (*usage)(FILE *f);	       /* --help text (on stdout) and usage errors (on stderr) */
	int output;		       /* it takes -o/--output FILE */
	int no_strict;		       /* it has no --strict (it reads no session) */
	const char *default_output;    /* -o when not given (NULL: standard output) */
	const char *shortopts;	       /* its own short options ("f:n:"), NULL: none */
	const struct option *longopts; /* its own long options, ended by a zero row; NULL: none */
	/* One of its own options (c as getopt_long returns it): 0 to go on, or the exit status to
	 * stop with (the reason printed). NULL when it has none. */
	int (*option)(void *ctx, int c, const char *arg);
	void *ctx;
};

/* What report_parse found: the shared options and where the operands start. */
struct report_args {
	const char *command;
	const char *output; /* -o FILE, else the command's default */
	int strict;	    /* --strict */
	int argc, first;    /* argv[first..argc-1]: the operands */
	char **argv;
};

/* Parses argv (argv[0] the command name). Returns -1 to go on, else the exit status to return:
 * GLASS_EXIT_OK after --help, GLASS_EXIT_USAGE after an unknown option (usage on stderr) or
 * whatever `option` returned. */
int report_parse(const struct report_cli *cli, int argc, char **argv, struct report_args *a);
/* Opens the SESSION operand (report_open_args); NULL with *status set. */
struct glass_session *report_session(const struct report_args *a, int *status);
/* The exit status for a finished run: `rc` if it failed, else the warnings' (report_warnings
 * with the strictness of `a`, at most 20 listed). Closes the session. */
int report_finish(const struct report_args *a, struct glass_session *s, int rc);

/* Every SESSION operand opened (report_open_many: several sessions read together, e.g. services
 * that call each other with propagate_context; none: the newest). Returns how many, or 0 with
 * *status set. */
size_t report_sessions(const struct report_args *a, struct glass_session **out, size_t cap,
		       int *status);
/* report_finish for several sessions: the first failure's status, every session closed. */
int report_finish_many(const struct report_args *a, struct glass_session **ss, size_t n, int rc);

/* An output file, or standard output. */
struct report_out {
	FILE *f;
	const char *name; /* the file, or "standard output" */
	int to_file;
};
/* Opens `path` for writing (NULL or "-": standard output) with a large buffer. Prints "cannot
 * create PATH: why" and returns GLASS_EXIT_OUTPUT when it cannot. */
int report_out_open(struct report_out *o, const char *path);
/* Flushes and closes the output. `failed`: the command could not write all of it (out of
 * memory). Returns GLASS_EXIT_OK, or GLASS_EXIT_OUTPUT with the reason printed. */
int report_out_close(struct report_out *o, int failed);
int command_crash(int argc, char **argv);

/*
 * Opens the session named on the command line (NULL: the newest under $GLASS_OUT, else
 * ./glass-out). A directory holding sessions (not one itself) opens its newest. Prints the
 * reason on stderr and returns NULL on failure (exit GLASS_EXIT_SESSION).
 */
struct glass_session *report_open(const char *arg);
/* A subcommand's SESSION operand (argv[optind], optional, at most one) opened with report_open;
 * NULL with *status set to the exit status when it is missing, extra or unreadable. */
struct glass_session *report_open_args(const char *command, int argc, char **argv, int optind_,
				       int *status);

/* Several sessions read together (services under glass that call each other, with
 * propagate_context): every SESSION argument opened, in order, into out (at most cap; none
 * given: the newest, as report_open). Returns how many, or 0 with *status set (the error said). */
size_t report_open_many(const char *command, int argc, char **argv, int optind_,
			struct glass_session **out, size_t cap, int *status);
#define REPORT_MAX_SESSIONS 16
/* Prints the session's warnings on stderr (at most `max`, then a count; 0 prints all) and
 * returns the exit code for a successful run: GLASS_EXIT_WARNINGS if strict and any. */
int report_warnings(struct glass_session *s, size_t max, int strict);
/* Flushes and checks an output stream; prints the error and returns GLASS_EXIT_OUTPUT. */
int report_check_output(FILE *f, const char *name);
/* Shared option text for --help. */
extern const char report_exit_help[];
/* Prints "glass-report: <msg>" on stderr. */
__attribute__((format(printf, 1, 2))) void report_error(const char *fmt, ...);

/* Progress (tools/progress.h): the unit is one chunk file. Total chunks of the session. */
struct glass_progress;
uint64_t report_session_chunks(struct glass_session *s);
/* A bar over the session's chunks, labelled `what`; NULL when none will be shown. */
struct glass_progress *report_progress(struct glass_session *s, const char *what);
/* glass_spans_run_thread (spans.h) that also adds one unit to pg (may be NULL) per chunk of the
 * thread as it is read. Same arguments otherwise. */
int report_run_thread(struct glass_proc *proc, uint32_t tidx, struct glass_span_ids ids,
		      glass_span_fn on_start, glass_span_fn on_end, void *ctx,
		      struct glass_spans **keep, struct glass_progress *pg);

#endif
