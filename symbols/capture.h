/* symbols/capture.h — native stacks of the running process (preload side; never symbolizes).
 *
 * Keeps a table of the loaded objects (from dl_iterate_phdr, rescanned in normal context at
 * start and after dlopen/dlclose) and registers each object's .eh_frame_hdr search table with
 * libunwind as dynamic unwind info, so that unwinding from a signal handler finds every frame's
 * CFI without calling dl_iterate_phdr (whose lock a dlopen in another thread may hold while it
 * waits for a malloc lock the interrupted thread holds). From a signal handler the stack comes
 * from unw_backtrace (libunwind's per-thread cache of frame kinds) when the interrupted PC is
 * in a known object, else from a step-by-step walk that stops at the first address outside
 * the table. Never included by glass-report (symbols/resolve.h is its side).
 */
#ifndef GLASS_SYMBOLS_CAPTURE_H
#define GLASS_SYMBOLS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* The most frames one native stack keeps. */
#define GLASS_SYM_MAX_FRAMES 128

/* One loaded object, as the recording describes it (OBJECT meta record). */
struct glass_sym_object {
	uintptr_t base; /* load bias: address = base + ELF virtual address */
	uintptr_t start, end; /* the executable PT_LOAD segment(s), absolute */
	const char *path; /* "" unknown */
	char build_id[41]; /* hex, "" when the object has none */
};

/* Loads libunwind; called once in normal context. 0, or -1. */
int glass_sym_capture_init(void);
/* Sets its caches up and warms the calling thread (normal context; before sampling). Its
 * one-time set-up opens a pipe (memory validation) the host can see in /proc/self/fd, so it is
 * left for sampling (or a crash). 0, or -1. */
int glass_sym_capture_warm(void);
/* Rescans the loaded objects (normal context only; serialised inside). Calls cb for each object
 * that appeared (loaded = 1) or went away (loaded = 0) since the last scan. */
void glass_sym_rescan(void (*cb)(const struct glass_sym_object *o, int loaded, void *arg),
		      void *arg);
/* Calls cb for every object currently known (e.g. to record them all in a new process image). */
void glass_sym_objects(void (*cb)(const struct glass_sym_object *o, int loaded, void *arg),
		       void *arg);
/* Warms this thread's unwinder caches (normal context, at thread start). */
void glass_sym_thread_warm(void);
/* Async-signal-safe: the instruction pointers of the interrupted code of a signal handler's
 * ucontext (innermost first), at most max. Returns the count (>= 1 when the context has a
 * PC), or 0 while an object is being unloaded (the caller counts a drop). fast: libunwind's
 * trace cache (needs glass_sym_capture_warm and this thread warmed; its first use on a thread
 * may allocate, so never from a crash, which may have come from inside malloc). */
int glass_sym_unwind(void *ucontext, uintptr_t *ips, int max, int fast);
/* The same from the calling point (normal context or handler without a ucontext). */
int glass_sym_unwind_here(uintptr_t *ips, int max);
/* Is ip inside a known object's code? Async-signal-safe. */
int glass_sym_known(uintptr_t ip);
/* Bracket dlclose (and other unmapping of code): samples in other threads drop meanwhile. */
void glass_sym_unload_begin(void);
void glass_sym_unload_end(void);

#endif
