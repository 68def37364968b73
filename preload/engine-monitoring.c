/* preload/engine-monitoring.c — the sys.monitoring (PEP 669) engine, CPython 3.12+.
 *
 * A frame evaluator makes CPython stop inlining Python-to-Python calls, so every call pays for
 * it, traced or not. This engine installs none: it registers C callbacks as a sys.monitoring
 * tool. PY_START is set globally; for code the policy does not trace the callback returns
 * sys.monitoring.DISABLE and CPython takes that instrumentation out again, so untraced code runs
 * as without glass. Traced code gets PY_RETURN | PY_YIELD | PY_RESUME once, locally. PY_UNWIND
 * and PY_THROW can only be set globally: their callbacks filter on the cached decision.
 *
 * The records are those of the PEP 523 engine (eval.c), through engine-common.c. Two facts of
 * this door: a generator's creation is not seen (no event fires for RETURN_GENERATOR), so its
 * span starts at its first resume, under the frame that resumed it; and an activation whose
 * start was not recorded (depth limit, thread not recording) has its end skipped by counting
 * such activations per thread (T.mon_over), because the events of one thread nest like its C
 * stack of Python frames.
 *
 * CPython calls no callback while one runs (tstate->tracing), so Python code that our slow
 * paths run (a property read for a thread's name) is never seen here.
 */
#include "glass.h"
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sys.monitoring.events, fixed by PEP 669 (checked against the module at install) */
#define MON_PY_START  1
#define MON_PY_RESUME 2
#define MON_PY_RETURN 4
#define MON_PY_YIELD  8
#define MON_PY_UNWIND 4096
#define MON_PY_THROW  8192
#define MON_GLOBAL    (MON_PY_START | MON_PY_UNWIND | MON_PY_THROW)
#define MON_LOCAL     (MON_PY_RETURN | MON_PY_YIELD | MON_PY_RESUME)

#define GLASS_METH_FASTCALL 0x0080

/* Tool ids glass may take, in order: 3 and 4 are free by convention (0 debugger, 1 coverage,
 * 2 profiler, 5 optimizer), 5 is unused by CPython itself. */
static const int tool_order[] = {4, 3, 5};

static struct {
	int tool;	   /* -1: none held */
	PyObject *disable; /* sys.monitoring.DISABLE */
	PyObject *set_local_events;
	/* code objects with our local events, by code id (borrowed: a code object's end clears
	 * its entry, glass_code_extra_freed), to clear them when glass gives its tool id up */
	PyObject **codes;
	uint32_t ncodes;
	PyObject *special; /* Thread._bootstrap's code when not traced (it has no code id) */
	PyObject *fns[6];  /* our callbacks, as Python objects */
} M = {.tool = -1};

static void codes_remember(PyObject *code, uintptr_t x)
{
	uint32_t id = (uint32_t)(x >> GLASS_X_ID_SHIFT);
	if (!id) {
		M.special = code;
		return;
	}
	if (id >= M.ncodes) {
		uint32_t n = M.ncodes ? M.ncodes : 256;
		while (n <= id)
			n *= 2;
		PyObject **c = realloc(M.codes, n * sizeof(*c));
		if (!c)
			return; /* slow path only: this code's events stay if glass gives up */
		memset(c + M.ncodes, 0, (n - M.ncodes) * sizeof(*c));
		M.codes = c;
		M.ncodes = n;
	}
	M.codes[id] = code;
}

void glass_code_extra_freed(void *extra)
{
	uintptr_t x = (uintptr_t)extra;
	uint32_t id = (uint32_t)(x >> GLASS_X_ID_SHIFT);
	if (id && id < M.ncodes)
		M.codes[id] = NULL;
	else if ((x & GLASS_X_SPECIAL) && !id)
		M.special = NULL;
}

/* None and DISABLE are immortal on 3.12+ (GIL builds): returning them needs no reference. */
static inline PyObject *ret_none(void)
{
	return glass_py.None;
}

/* ---- slow paths ------------------------------------------------------------------------------ */

static uintptr_t first_sight(PyObject *code, glass_frame *f)
{
	int saved = errno;
	uintptr_t x = glass_code_decide(code, f ? glass_frame_globals(f) : NULL);
	if (x & (GLASS_X_TRACED | GLASS_X_SPECIAL)) {
		struct glass_saved_exc se;
		glass_exc_save(&se);
		PyObject *r = glass_py.Object_CallFunction(M.set_local_events, "iOi", M.tool, code,
							   MON_LOCAL);
		if (r) {
			glass_py.DecRef(r);
			codes_remember(code, x);
		} else {
			glass_py
			    .Err_Clear(); /* its returns are not seen: the reader pairs by depth */
		}
		glass_exc_restore(&se);
	}
	errno = saved;
	return x;
}

static inline glass_frame *current_frame(void)
{
	PyThreadState *ts = glass_py.ThreadState_Get();
	return ts ? glass_tstate_frame(ts) : NULL;
}

/* Watched stdlib frames open on this thread (span-links.c, logging): what their end needs.
 * Watched code is plain functions, so starts and ends pair; an entry is taken off only by the
 * end of its own code object. */
#define WATCH_MAX 32
static __thread struct {
	PyObject *code;
	uintptr_t state;
	uint8_t kind;
} watch_stack[WATCH_MAX];
static __thread unsigned watch_depth;

static void watch_begin(PyObject *code, uintptr_t x, glass_frame *f)
{
	enum glass_watch w = (enum glass_watch)((x & GLASS_X_WATCH_MASK) >> GLASS_X_WATCH_SHIFT);
	if (!f)
		f = current_frame();
	if (!f)
		return;
	int saved = errno;
	uintptr_t st;
	if (w == GLASS_WATCH_BOOTSTRAP) {
		glass_note_thread_name(glass_frame_local0(f));
		st = glass_watch_start(w, glass_frame_local0(f), NULL);
	} else {
		st = glass_watch_start(w, glass_frame_local0(f), glass_frame_local(f, 1));
	}
	if (watch_depth < WATCH_MAX)
		watch_stack[watch_depth] =
		    (__typeof__(watch_stack[0])){.code = code, .state = st, .kind = (uint8_t)w};
	watch_depth++;
	errno = saved;
}

static void watch_finish(PyObject *code)
{
	if (!watch_depth)
		return;
	unsigned i = watch_depth - 1;
	if (i < WATCH_MAX && watch_stack[i].code != code)
		return; /* not the innermost watched frame (its start was not seen) */
	watch_depth--;
	if (i >= WATCH_MAX)
		return;
	int saved = errno;
	enum glass_watch w = (enum glass_watch)watch_stack[i].kind;
	glass_watch_end(w, watch_stack[i].state);
	/* threading's Thread._bootstrap returned: the thread's Python work is over (eval.c) */
	if (w == GLASS_WATCH_BOOTSTRAP)
		glass_note_thread_end();
	errno = saved;
}

/* A traced activation starts (call, first run or resume of a generator). */
static void begin(PyObject *code, uintptr_t x, glass_frame *f)
{
	if (T.mon_over || !glass_thread_ready() || T.s.depth >= G.depth_limit) {
		T.mon_over++;
		return;
	}
	uint32_t id = (uint32_t)(x >> GLASS_X_ID_SHIFT);
	if (!(x & GLASS_X_GEN)) {
		glass_emit_call(&T.s, glass_ticks(), id);
		if (GLASS_UNLIKELY(x & GLASS_X_ARGS) && code && (f || (f = current_frame())))
			glass_capture_args(code, glass_frame_locals(f));
		return;
	}
	if (!f)
		f = current_frame();
	if (!f || glass_frame_owner(f) != GLASS_FRAME_OWNED_BY_GENERATOR) {
		T.mon_over++; /* cannot name the object: keep the end unrecorded too */
		return;
	}
	glass_emit_gen_resume(&T.s, glass_ticks(), id, glass_frame_gen(f));
}

static PyObject *__attribute__((noinline)) start_slow(PyObject *code, uintptr_t x)
{
	if (G.state == GLASS_OFF)
		return M.disable; /* for good: CPython may take every PY_START out */
	if (G.state != GLASS_ACTIVE)
		return ret_none();
	glass_frame *f = NULL;
	if (x == 0) {
		f = current_frame();
		x = first_sight(code, f);
	}
	if (x == GLASS_X_SKIP)
		return M.disable;
	if (x & GLASS_X_SPECIAL)
		watch_begin(code, x, f);
	if (x & GLASS_X_TRACED)
		begin(code, x, f);
	return ret_none();
}

/* A traced activation ends (event PY_RETURN, PY_YIELD or PY_UNWIND): RETURN, GEN_RETURN,
 * GEN_YIELD or RAISE, unless its start was not recorded. */
static void __attribute__((noinline))
end_slow(PyObject *code, uintptr_t x, int event, PyObject *exc, PyObject *value)
{
	if (x & GLASS_X_TRACED) {
		if (T.mon_over) {
			T.mon_over--;
		} else if (event == MON_PY_UNWIND) {
			int saved = errno;
			PyObject *type = exc ? (PyObject *)exc->ob_type : NULL;
			glass_emit_raise(&T.s, glass_ticks(), glass_exc_ref(type, exc));
			errno = saved;
		} else if (event == MON_PY_YIELD) {
			glass_emit_gen_yield(&T.s, glass_ticks());
		} else {
			if (GLASS_UNLIKELY(x & GLASS_X_RESULT) && value)
				glass_capture_result(value); /* what its return statement gave */
			if (x & GLASS_X_GEN)
				glass_emit_gen_return(&T.s, glass_ticks());
			else
				glass_emit_return(&T.s, glass_ticks());
		}
	}
	if ((x & GLASS_X_SPECIAL) && event != MON_PY_YIELD)
		watch_finish(code);
}

/* ---- the callbacks ------------------------------------------------------------------------- */

#define HOT (GLASS_X_TRACED | GLASS_X_GEN | GLASS_X_SPECIAL | GLASS_X_ARGS | GLASS_X_RESULT)

/* PY_START(code, offset): a plain traced call on a recording thread is the fast path. */
static PyObject *on_start(PyObject *self, PyObject *const *args, intptr_t nargs)
{
	(void)self;
	if (GLASS_UNLIKELY(nargs < 1))
		return ret_none();
	PyObject *code = args[0];
	uintptr_t x = glass_code_x(code);
	if (GLASS_LIKELY((x & HOT) == GLASS_X_TRACED && T.epoch == G.epoch && !T.mon_over &&
			 T.s.depth < G.depth_limit)) {
		glass_emit_call(&T.s, glass_ticks(), (uint32_t)(x >> GLASS_X_ID_SHIFT));
		return ret_none();
	}
	return start_slow(code, x);
}

/* PY_RESUME(code, offset) and PY_THROW(code, offset, exc): a generator runs again. */
static PyObject *on_resume(PyObject *self, PyObject *const *args, intptr_t nargs)
{
	(void)self;
	if (GLASS_UNLIKELY(nargs < 1))
		return ret_none();
	uintptr_t x = glass_code_x(args[0]);
	if (x == 0 && G.state == GLASS_ACTIVE)
		x = first_sight(args[0], current_frame()); /* thrown into before its first run */
	if (x & GLASS_X_TRACED)
		begin(NULL, x, NULL);
	return ret_none();
}

/* PY_RETURN(code, offset, value) */
static PyObject *on_return(PyObject *self, PyObject *const *args, intptr_t nargs)
{
	(void)self;
	if (GLASS_UNLIKELY(nargs < 1))
		return ret_none();
	uintptr_t x = glass_code_x(args[0]);
	if (GLASS_LIKELY((x & HOT) == GLASS_X_TRACED && !T.mon_over)) {
		glass_emit_return(&T.s, glass_ticks());
		return ret_none();
	}
	end_slow(args[0], x, MON_PY_RETURN, NULL, nargs >= 3 ? args[2] : NULL);
	return ret_none();
}

/* PY_YIELD(code, offset, value) */
static PyObject *on_yield(PyObject *self, PyObject *const *args, intptr_t nargs)
{
	(void)self;
	if (GLASS_UNLIKELY(nargs < 1))
		return ret_none();
	end_slow(args[0], glass_code_x(args[0]), MON_PY_YIELD, NULL, NULL);
	return ret_none();
}

/* PY_UNWIND(code, offset, exc): global, so every frame an exception leaves comes here. */
static PyObject *on_unwind(PyObject *self, PyObject *const *args, intptr_t nargs)
{
	(void)self;
	if (GLASS_UNLIKELY(nargs < 3))
		return ret_none();
	uintptr_t x = glass_code_x(args[0]);
	if (GLASS_LIKELY(!(x & (GLASS_X_TRACED | GLASS_X_SPECIAL))))
		return ret_none();
	end_slow(args[0], x, MON_PY_UNWIND, args[2], NULL);
	return ret_none();
}

static struct glass_methoddef defs[] = {
    {"glass_py_start", (void *)on_start, GLASS_METH_FASTCALL, NULL},
    {"glass_py_resume", (void *)on_resume, GLASS_METH_FASTCALL, NULL},
    {"glass_py_return", (void *)on_return, GLASS_METH_FASTCALL, NULL},
    {"glass_py_yield", (void *)on_yield, GLASS_METH_FASTCALL, NULL},
    {"glass_py_unwind", (void *)on_unwind, GLASS_METH_FASTCALL, NULL},
    {"glass_py_throw", (void *)on_resume, GLASS_METH_FASTCALL, NULL},
};
static const int def_events[] = {MON_PY_START, MON_PY_RESUME, MON_PY_RETURN,
				 MON_PY_YIELD, MON_PY_UNWIND, MON_PY_THROW};

/* ---- install ----------------------------------------------------------------------------------
 */

/* Calls sys.monitoring.<name>(format, ...) and returns its result (new reference) or NULL. */
#define MON_CALL(mon, name, ...)                                                                   \
	({                                                                                         \
		PyObject *fn_ = glass_py.Object_GetAttrString(mon, name);                          \
		PyObject *r_ = fn_ ? glass_py.Object_CallFunction(fn_, __VA_ARGS__) : NULL;        \
		if (fn_)                                                                           \
			glass_py.DecRef(fn_);                                                      \
		if (r_)                                                                            \
			glass_py.DecRef(r_);                                                       \
		else                                                                               \
			glass_py.Err_Clear();                                                      \
		r_ != NULL;                                                                        \
	})

/* Takes everything of ours out of sys.monitoring for tool: events, local events, callbacks,
 * the id itself. */
static void mon_release(PyObject *mon, int tool)
{
	MON_CALL(mon, "set_events", "ii", tool, 0);
	for (uint32_t i = 0; i < M.ncodes; i++)
		if (M.codes[i])
			MON_CALL(mon, "set_local_events", "iOi", tool, M.codes[i], 0);
	if (M.special)
		MON_CALL(mon, "set_local_events", "iOi", tool, M.special, 0);
	for (size_t i = 0; i < 6; i++)
		MON_CALL(mon, "register_callback", "iiO", tool, def_events[i], glass_py.None);
	MON_CALL(mon, "free_tool_id", "i", tool);
}

/* Registers glass as tool (callbacks, global events, the local events of every code object
 * seen so far); 0, or -1 with nothing left behind. */
static int mon_take(PyObject *mon, int tool)
{
	if (!MON_CALL(mon, "use_tool_id", "is", tool, "glass"))
		return -1;
	for (size_t i = 0; i < 6; i++) {
		if (!M.fns[i])
			M.fns[i] = glass_py.CFunction_NewEx(&defs[i], NULL, NULL);
		if (!M.fns[i] ||
		    !MON_CALL(mon, "register_callback", "iiO", tool, def_events[i], M.fns[i]))
			goto fail;
	}
	for (uint32_t i = 0; i < M.ncodes; i++)
		if (M.codes[i] &&
		    !MON_CALL(mon, "set_local_events", "iOi", tool, M.codes[i], MON_LOCAL))
			goto fail;
	if (M.special && !MON_CALL(mon, "set_local_events", "iOi", tool, M.special, MON_LOCAL))
		goto fail;
	if (!MON_CALL(mon, "set_events", "ii", tool, MON_GLOBAL))
		goto fail;
	return 0;
fail:
	glass_py.Err_Clear();
	mon_release(mon, tool);
	return -1;
}

/* A free tool id for glass (tool_order, other than avoid), or -1. */
static int mon_free_id(PyObject *mon, int avoid)
{
	int found = -1;
	PyObject *get_tool = glass_py.Object_GetAttrString(mon, "get_tool");
	for (size_t i = 0; get_tool && i < sizeof(tool_order) / sizeof(tool_order[0]); i++) {
		if (tool_order[i] == avoid)
			continue;
		PyObject *who = glass_py.Object_CallFunction(get_tool, "i", tool_order[i]);
		int free_id = who == glass_py.None;
		if (who)
			glass_py.DecRef(who);
		if (free_id) {
			found = tool_order[i];
			break;
		}
	}
	if (get_tool)
		glass_py.DecRef(get_tool);
	glass_py.Err_Clear();
	return found;
}

typedef PyObject *(*fastcall_fn)(PyObject *, PyObject *const *, intptr_t);
static fastcall_fn real_use_tool_id;

/* sys.monitoring.use_tool_id, seen first: a program that asks for the id glass holds gets it,
 * and glass stops tracing (one line), so the program runs as without glass. */
static PyObject *use_tool_id_wrapper(PyObject *module, PyObject *const *args, intptr_t nargs)
{
	/* (a subinterpreter has tool ids of its own: only the main one's concern us) */
	if (M.tool >= 0 && nargs >= 1 && args[0]->ob_type == glass_py.Long_Type &&
	    glass_py.InterpreterState_Get() == glass_py.InterpreterState_Main()) {
		struct glass_saved_exc se;
		glass_exc_save(&se);
		long id = glass_py.Long_AsLong(args[0]);
		glass_py.Err_Clear();
		PyObject *mon = id == M.tool ? glass_py.Sys_GetObject("monitoring") : NULL;
		if (mon) {
			/* move to another free id (the events of code seen so far go with us);
			 * activations open now end through the new id */
			int old = M.tool, moved = -1;
			for (int tries = 0; tries < 3 && moved < 0; tries++) {
				int next = mon_free_id(mon, old);
				if (next < 0)
					break;
				if (mon_take(mon, next) == 0)
					moved = next;
			}
			mon_release(mon, old);
			M.tool = moved;
			if (moved >= 0) {
				glass_log(2,
					  "the program takes sys.monitoring tool id %d; glass "
					  "moved to %d",
					  old, moved);
			} else {
				char why[200];
				snprintf(
				    why, sizeof(why),
				    "the program takes sys.monitoring tool id %d, which glass "
				    "held, "
				    "and 3, 4 and 5 are all taken (GLASS_ENGINE=eval traces such a "
				    "program)",
				    old);
				glass_switch_off(why);
			}
		}
		glass_py.Err_Clear();
		glass_exc_restore(&se);
	}
	return real_use_tool_id(module, args, nargs);
}

/* Puts use_tool_id_wrapper in front of sys.monitoring.use_tool_id (a METH_FASTCALL builtin
 * whose PyMethodDef is static data of libpython, as generators' close in engine-common.c). */
static void watch_use_tool_id(PyObject *mon)
{
	PyObject *fn = glass_py.Object_GetAttrString(mon, "use_tool_id");
	if (!fn) {
		glass_py.Err_Clear();
		return;
	}
	struct glass_methoddef *ml = GLASS_AT(fn, GLASS_CFUNC_ML_OFF, struct glass_methoddef *);
	if (ml && ml->ml_name && strcmp(ml->ml_name, "use_tool_id") == 0 &&
	    ml->ml_flags == GLASS_METH_FASTCALL && ml->ml_meth != (void *)use_tool_id_wrapper) {
		real_use_tool_id = (fastcall_fn)ml->ml_meth;
		ml->ml_meth = (void *)use_tool_id_wrapper;
	}
	glass_py.DecRef(fn);
}

static long events_value(PyObject *mon, const char *name)
{
	PyObject *ev = glass_py.Object_GetAttrString(mon, "events");
	PyObject *v = ev ? glass_py.Object_GetAttrString(ev, name) : NULL;
	long r = v ? glass_py.Long_AsLong(v) : -1;
	if (v)
		glass_py.DecRef(v);
	if (ev)
		glass_py.DecRef(ev);
	return r;
}

static int mon_install(PyInterpreterState *interp)
{
	(void)interp;
	if (glass_cx.minor < 12 || !glass_py.ThreadState_Get || !glass_py.CFunction_NewEx ||
	    !glass_py.Object_CallFunction || !glass_py.None || !glass_cx.ts_frame)
		return -1;
	PyObject *mon = glass_py.Sys_GetObject("monitoring"); /* borrowed */
	if (!mon) {
		glass_py.Err_Clear();
		glass_log(1, "this Python has no sys.monitoring; using the PEP 523 engine");
		return -1;
	}
	static const char *const names[] = {"PY_START", "PY_RESUME", "PY_RETURN",
					    "PY_YIELD", "PY_UNWIND", "PY_THROW"};
	for (size_t i = 0; i < 6; i++) {
		if (events_value(mon, names[i]) != def_events[i]) {
			glass_py.Err_Clear();
			glass_log(1,
				  "sys.monitoring.events.%s is not the value of PEP 669; using the "
				  "PEP 523 engine",
				  names[i]);
			return -1;
		}
	}
	M.disable = glass_py.Object_GetAttrString(mon, "DISABLE");
	M.set_local_events = glass_py.Object_GetAttrString(mon, "set_local_events");
	if (!M.disable || !M.set_local_events) {
		glass_py.Err_Clear();
		glass_log(1,
			  "this Python's sys.monitoring lacks DISABLE or set_local_events; using "
			  "the PEP 523 engine");
		return -1;
	}
	for (int tries = 0; tries < 3 && M.tool < 0; tries++) {
		int tool = mon_free_id(mon, -1);
		if (tool < 0) {
			glass_log(1, "sys.monitoring tool ids 3, 4 and 5 are all taken; using the "
				     "PEP 523 engine");
			return -1;
		}
		if (mon_take(mon, tool) == 0)
			M.tool = tool;
	}
	if (M.tool < 0) {
		glass_log(1, "cannot register with sys.monitoring; using the PEP 523 engine");
		return -1;
	}
	watch_use_tool_id(mon);
	glass_log(2, "sys.monitoring tool id %d", M.tool);
	return 0;
}

const struct glass_engine glass_engine_monitoring = {"monitoring", mon_install};

int glass_monitoring_tool(void)
{
	return G.engine == &glass_engine_monitoring ? M.tool : -1;
}
