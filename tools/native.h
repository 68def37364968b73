/* tools/native.h — native stacks of a session (SAMPLE and CRASH records) resolved with
 * symbols/resolve and spliced with the Python frames open at that moment ("mixed stacks"). */
#ifndef GLASS_TOOLS_NATIVE_H
#define GLASS_TOOLS_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "recorder/reader.h"

struct glass_native;

/* One frame of a mixed stack (root first). Strings live as long as the glass_native. */
struct native_mixed {
	const char *label; /* "function", "object+0x1f0" or a Python "module.qualname" */
	const char *object; /* native: the object's base name; Python: NULL */
	const char *file; /* source file (Python: filename; native: from DWARF, may be NULL) */
	unsigned line;
	const char *module; /* Python frames */
	int python;
	int unnamed; /* native: no symbol there (label is object+offset) */
};

/* What a thread walk hands over: a SAMPLE or CRASH record and the Python frames open then. */
struct native_event {
	struct glass_proc *proc;
	uint32_t tidx;
	const struct glass_record *rec;
	const uint32_t *open; /* code ids of the open traced frames, root first (0: unknown) */
	size_t nopen;
	/* CRASH: the thread's last closed calls, oldest first */
	const uint32_t *recent;
	const uint64_t *recent_ns; /* their durations */
	size_t nrecent;
};

/* Reads every process's OBJECT records. warn: mismatched or missing files (once each). */
struct glass_native *glass_native_open(struct glass_session *s);
void glass_native_close(struct glass_native *n);
/* Walks the threads of the processes that may hold what is asked (NATIVE_SAMPLES: processes
 * the preload sampled; NATIVE_CRASHES: processes that did not end cleanly); calls fn for each
 * SAMPLE and CRASH record. Returns the number of such records. */
#define NATIVE_SAMPLES 1
#define NATIVE_CRASHES 2
uint64_t glass_native_walk(struct glass_native *n, int what,
			   void (*fn)(void *ctx, const struct native_event *e), void *ctx);
/* The mixed stack of an event (root first) into out (at most max frames); returns the count.
 * want_line: native file:line from DWARF (slower). hide_interp: CPython's own frames between
 * Python frames and above the first are left out (those below the last Python frame stay). */
size_t glass_native_mixed(struct glass_native *n, const struct native_event *e, int want_line,
			  struct native_mixed *out, size_t max);
/* Warnings collected while resolving (build-id mismatches, unreadable objects). */
size_t glass_native_nwarnings(const struct glass_native *n);
const char *glass_native_warning(const struct glass_native *n, size_t i);
/* A flame graph of the session's CPU samples with mixed stacks (flame.h options: pid, thread
 * tid, window, per-thread, self = reversed). Resolver warnings go to stderr. */
struct flame;
struct flame_opts;
struct flame *native_flame_collect(struct glass_session *s, const struct flame_opts *o,
				   uint64_t *nsamples);
/* summary's part: crashed processes, and the top `limit` C functions by self samples (0: all).
 * Prints nothing when the session has neither. */
#include <stdio.h>
void native_summary(FILE *out, struct glass_session *s, size_t limit);
/* sqlite's tables native_frames, samples and crashes (tools/native-sqlite.c). 0, or -1. */
struct sqlite3;
int native_sqlite(struct sqlite3 *db, struct glass_session *s);
/* chrome's ,"stackFrames":{...},"samples":[...] appended to out (nothing without samples);
 * timestamps in µs from base_ns (tools/native-chrome.c). */
struct glass_buf;
void native_chrome(struct glass_buf *out, struct glass_session *s, uint64_t base_ns);
/* html's crash panel and CPU-samples flame graph (tools/native-html.c); esc escapes text for
 * HTML. Appends nothing when the session has neither. 0, or -1. */
int native_html(struct glass_buf *b, struct glass_session *s,
		void (*esc)(struct glass_buf *b, const char *s, size_t len));
/* One crash as `glass-report crash` prints it (tools/cmd-crash.c). */
struct native_event;
void native_crash_print(FILE *out, struct glass_native *n, const struct native_event *e,
			int lines, int first);
/* Signal name ("SIGSEGV"), or "signal N" in buf. */
const char *glass_native_signame(int sig, char *buf, size_t len);

#endif
