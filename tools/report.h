/* tools/report.h — what glass-report's subcommands share: session lookup, warnings, exit codes. */
#ifndef GLASS_REPORT_H
#define GLASS_REPORT_H

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
