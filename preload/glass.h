/* preload/glass.h — state shared by the preload's files (hidden; never exported). */
#ifndef GLASS_PRELOAD_H
#define GLASS_PRELOAD_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <x86intrin.h>

#include "compat.h"
#include "pyapi.h"
#include "recorder/writer.h"

struct glass_policy;
struct glass_engine;

enum glass_state {
	GLASS_PASSIVE = 0, /* not a Python process, or disabled before start */
	GLASS_WAITING, /* audit hook added; waiting for the interpreter to run */
	GLASS_ACTIVE, /* eval function installed */
	GLASS_OFF, /* switched off after a problem; the host runs on */
};

/* co_extra values: 0 = not seen yet; bit 0 = decided. */
#define GLASS_X_SKIP ((uintptr_t)1) /* not traced */
#define GLASS_X_TRACED ((uintptr_t)2)
#define GLASS_X_GEN ((uintptr_t)4) /* generator, coroutine or async generator */
#define GLASS_X_SPECIAL ((uintptr_t)8) /* look at it (threading's Thread._bootstrap), traced or not */
#define GLASS_X_WATCH_SHIFT 4 /* bits 4-7 of a SPECIAL code: which (enum glass_watch) */
#define GLASS_X_WATCH_MASK ((uintptr_t)0xf0)
#define GLASS_X_ARGS ((uintptr_t)1 << 8)   /* record its arguments (capture_args) */
#define GLASS_X_RESULT ((uintptr_t)1 << 9) /* record what it returns (capture_result) */
#define GLASS_X_ID_SHIFT 10

/*
 * The process's state, in three parts: what the evaluators and hooks read on every event (hot,
 * first, so it shares cache lines), how this process was configured at start (read on slow
 * paths only), and the session and process image it records into (fork bookkeeping included).
 */
struct glass_global {
	/* -- hot: read per event ------------------------------------------------------------- */
	volatile int state;
	uint32_t epoch; /* a thread records while T.epoch == G.epoch; bumped by fork and
			 * switch-off, so one compare covers "ready, not forked, not off" */
	int use_tsc;
	int extra_slot;	      /* extra_idx + 1: its place in co_extra (after the count) */
	unsigned depth_limit; /* trace_depth, or UINT32_MAX for unlimited */
	int rec_units; /* C recursion units given back per call (3.12+) */
	glass_eval_fn real_eval;
	const struct glass_engine *engine; /* the one installed (engine.h) */

	/* -- configuration: set at start, read on slow paths ---------------------------------- */
	int log_level; /* 0 quiet, 1 info (default), 2 debug */
	uint32_t chunk_size;
	int extra_idx;
	struct glass_policy *policy;
	PyObject *name_str; /* interned "__name__" */
	PyObject *module_str; /* interned "__module__" */
	char out_dir[PATH_MAX];
	char policy_desc[1024];
	char policy_mode[16];
	char policy_path[PATH_MAX];
	char script_dir[PATH_MAX];
	int await_run; /* installed before cpython.run_*: the main script is not known yet */
	uint64_t compress_budget_ns;
	uint64_t max_bytes; /* GLASS_MAX_MB */

	/* -- session and process image: where the records go ------------------------------------ */
	uint32_t pid;
	uint32_t next_code;
	int proc_ready; /* the process directory exists (created at the first traced call) */
	int proc_failed;
	char origin[8]; /* "start", "fork", "exec", "child" */
	char parent_key[64];
	char parent_meta[PATH_MAX + 16];
	uint64_t fork_meta_size; /* the parent's meta file size at fork */
	char session_dir[PATH_MAX];
	char registry_link[PATH_MAX];
	uint64_t start_ticks, start_mono, start_real;
	pthread_key_t thread_key;
	struct glass_proc_writer proc;
	uint64_t next_link; /* LINK_OUT numbers handed out (atomic) */
	uint64_t fork_link; /* LINK_OUT written by the thread that is forking (0: none) */
	uint32_t fork_link_tidx;
	int log_min; /* logging records at or above this levelno become LOG events; <0: none */
};

/* Per-thread state (initial-exec TLS). */
struct glass_thread {
	struct glass_stream_writer s;
	uint32_t epoch; /* == G.epoch when this thread's stream is ready */
	uint32_t tried; /* epoch of the last start attempt (a failed one is not retried) */
	int guard; /* inside our own slow path: frames run untraced */
	int ended; /* THREAD_END written (threading's bootstrap returned); sealing comes at exit */
	int cap_depth; /* capture hooks nested on this thread (layered drivers) */
	uint64_t next_op; /* captured operations numbered per thread stream */
	uint32_t unsampled_epoch; /* != 0: paused (glass_thread_paused) for an unsampled HTTP
				   * request, epoch GLASS_EPOCH_NONE meanwhile; the epoch to
				   * restore (only if still current: not across fork) */
	uint64_t exc_seq;
	PyObject *last_exc_type;
	PyObject *last_exc_value;
	uint64_t last_exc_ref;
	char *stack_low; /* lowest usable stack address plus a margin; NULL: not known yet */
	PyObject *str_tmp; /* bytes of the last text that was not valid UTF-8 (glass_str_utf8) */
	uint32_t mon_over; /* sys.monitoring engine: traced activations open on this thread
			    * whose start was not recorded (their ends are skipped) */
};

/* Both defined in glass.c. */
extern struct glass_global G;
extern __thread struct glass_thread T __attribute__((tls_model("initial-exec")));

/* T.epoch of a thread that does not record: not started yet, or paused. */
#define GLASS_EPOCH_NONE 0

int glass_thread_start(void);

/* Is this thread's stream ready to record (starting it on first use)? */
static inline int glass_thread_ready(void)
{
	if (GLASS_LIKELY(T.epoch == G.epoch))
		return 1;
	return T.tried != G.epoch && G.state == GLASS_ACTIVE && glass_thread_start() == 0;
}

/* Is recording paused on this thread for an unsampled HTTP request (capture.c)? Its epoch is
 * GLASS_EPOCH_NONE until the request ends. */
static inline int glass_thread_paused(void)
{
	return T.unsampled_epoch != 0;
}

static inline uint64_t glass_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Ticks: the TSC where it is invariant (checked with cpuid at start), else CLOCK_MONOTONIC. */
static inline uint64_t glass_ticks(void)
{
	if (GLASS_LIKELY(G.use_tsc))
		return __rdtsc();
	return glass_mono_ns();
}

void glass_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Switches tracing off for the rest of the process after a persistent problem. */
void glass_switch_off(const char *why);

/* span-links.c: stdlib code watched to link spans across threads, work items and processes */
enum glass_watch {
	GLASS_WATCH_NONE,
	GLASS_WATCH_BOOTSTRAP,	 /* threading.Thread._bootstrap: a thread's whole run */
	GLASS_WATCH_THREAD_START, /* threading.Thread.start */
	GLASS_WATCH_WORK_INIT,	 /* concurrent.futures.thread._WorkItem.__init__ (submit) */
	GLASS_WATCH_WORK_RUN,	 /* concurrent.futures.thread._WorkItem.run (in a worker) */
	GLASS_WATCH_SPAWN,	 /* subprocess.Popen._execute_child, multiprocessing's spawn */
	GLASS_WATCH_LOG,	 /* logging.Logger.callHandlers (a record that passed the filters) */
};
/* Which watched code a (module, qualname) is, GLASS_WATCH_NONE for most. */
enum glass_watch glass_watch_kind(const char *module, size_t ml, const char *qual, size_t ql);
/* A watched frame starts (self: its first local) / ends. Called with T.guard raised by nobody:
 * they raise it themselves around Python calls. start returns what end needs. Any engine
 * calls them: they see only the code's kind and the frame's first local. */
uintptr_t glass_watch_start(enum glass_watch w, PyObject *self, PyObject *arg1);
void glass_watch_end(enum glass_watch w, uintptr_t state);
/* pthread_atfork prepare handler and the fork child's first stream start */
void glass_links_prepare_fork(void);
void glass_links_after_fork_parent(void);
void glass_links_thread_started(void);

/* span-events.c: events inside spans (caught exceptions, log records) */
void glass_events_install(void);
void glass_events_log(PyObject *record);

/* args-render.c: arguments and results of traced calls (opt-in) */
void glass_capture_install(void);
/* GLASS_X_ARGS | GLASS_X_RESULT as the policy wants for this code (0 for most) */
uintptr_t glass_capture_bits(const char *module, const char *qual, size_t ql);
/* A traced frame starts (locals: its parameters first) / returns r: ARGS / RESULT records. */
void glass_capture_args(PyObject *code, PyObject *const *locals);
void glass_capture_result(PyObject *r);

/* session.c */
int glass_session_attach(void);
void glass_session_detach(void);
void glass_session_register(void);
void glass_compressor_spawn(void);
int glass_compressor_alive(void);
/* eval.c (the PEP 523 engine) */
PyObject *glass_eval(PyThreadState *ts, glass_frame *f, int throwflag);
PyObject *glass_eval_units(PyThreadState *ts, glass_frame *f, int throwflag);
/* engine-common.c */
int glass_proc_start(void);
void glass_thread_finish(struct glass_thread *t, uint32_t flags);
void glass_write_meta_process(void);
const char *glass_str_utf8(PyObject *o, size_t *len);
/* The EXC number of an exception (type, value), writing its EXC record the first time it is
 * met (the same exception unwinding through more frames keeps its number). */
uint64_t glass_exc_ref(PyObject *type, PyObject *value);
void glass_watch_silent_close(void);
/* native.c: loaded objects, crash reports, CPU samples (symbols/capture) */
void glass_native_install(void);
void glass_native_proc_start(void);
void glass_native_thread_start(void);
void glass_native_thread_end(void);
void glass_native_atfork_child(void);

#endif
