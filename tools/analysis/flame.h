/* tools/flame.h — flame graphs: time per stack in a trie of frames, written as folded stacks
 * or a self-contained interactive SVG (glass-report flamegraph; an HTML report can embed the
 * same SVG). */
#ifndef GLASS_FLAME_H
#define GLASS_FLAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "recorder/reader.h"

struct glass_progress;

enum flame_value {
	FLAME_WALL, /* stacks from the root: a frame's width is the time it was on the stack */
	FLAME_SELF, /* stacks reversed: the bottom row is each function's self time, callers above
		     */
};

struct flame_opts {
	enum flame_value value;
	int per_thread; /* a root frame per thread "pid/tid name" (else threads merged) */
	int has_pid;	/* only processes with this pid */
	uint32_t pid;
	const char *thread; /* only this thread: a tid (digits) or a thread name; NULL: all */
	uint64_t since_ns;  /* Unix ns window [since, until); 0 (either) or UINT64_MAX: unbounded */
	uint64_t until_ns;
	size_t max_nodes; /* distinct stacks kept (0: FLAME_DEFAULT_MAX_NODES) */
};

/* 32 bytes a stack node and 32 of hash table at most: a million stacks take 64 MB. */
#define FLAME_DEFAULT_MAX_NODES (1u << 20)

struct flame;

/*
 * Reads every thread of the session (those the options select) into a new flame graph. A
 * function or captured operation (DB, HTTP, net) counts its self time on the stack it ran on;
 * a generator or coroutine counts each run (resume to yield/await) on the stack that resumed
 * it, so suspended time is never counted. pg (may be NULL) advances one unit per chunk.
 * Returns NULL only when out of memory at the start.
 */
struct flame *flame_collect(struct glass_session *s, const struct flame_opts *o,
			    struct glass_progress *pg);
void flame_free(struct flame *F);

/* Sum of all stacks' values (ns); distinct stacks; stacks merged into their caller because
 * max_nodes was reached (0: none); whether memory ran out (the graph is then partial). */
uint64_t flame_total(const struct flame *F);
size_t flame_nodes(const struct flame *F);
uint64_t flame_truncated(const struct flame *F);
int flame_oom(const struct flame *F);

/* Brendan Gregg's folded format: "frame;frame;frame <ns>\n" per stack with time, children in
 * name order. ';' inside a name is written ','. Returns 0, -1 on a write error. */
int flame_write_folded(FILE *f, const struct flame *F);

struct flame_svg_opts {
	const char *title;    /* NULL: "Flame graph" */
	const char *subtitle; /* NULL: none */
	unsigned width;	      /* pixels; 0: 1200 */
	double min_px;	      /* frames narrower are left out; 0: 0.1 */
};

/* A self-contained SVG (embedded script, no network): hover details, click to zoom, search
 * (button or Ctrl-F, then type), reset. Its script needs the SVG to be a document of its own
 * (a file, <object>, or <iframe srcdoc> with scripts allowed; no modal dialogs are used).
 * Returns 0, -1 on a write error. */
int flame_write_svg(FILE *f, const struct flame *F, const struct flame_svg_opts *o);

/* A flame graph of stacks the caller adds (CPU samples with native frames). */
struct flame *flame_new(size_t max_nodes);
struct flame_frame {
	const char *label;
	const char *detail; /* shown on hover ("file:line", "libfoo.so"); may be NULL */
	const char *module; /* Python frames: colours by module; may be NULL */
	int python; /* a Python frame (else native) */
};
/* Adds value (ns) to the stack fr[0] (root) .. fr[n-1] (leaf). 0, or -1 out of memory. */
int flame_add_stack(struct flame *F, const struct flame_frame *fr, size_t n, uint64_t value);

#endif
