/* preload/eval.c — the PEP 523 engine (engine.h): the frame evaluator, its hot path and slow paths.
 *
 * Under this engine every Python frame of the main interpreter comes through glass_eval(). The
 * decision to trace is made once per code object and cached in a co_extra slot, so untraced
 * code costs a load and a compare before CPython's own evaluator runs. Traced frames write a
 * record before and after, into the thread's mmap'd chunk: no malloc, lock or syscall per event.
 */
#include "glass.h"
#include "engine.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/policy.h"

static char *stack_low_of_thread(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	char *low = (char *)1;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		/* keep a quarter of the stack, at most 128 KiB, for C code below us */
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			size_t margin = size / 4 < (128u << 10) ? size / 4 : (128u << 10);
			low = (char *)addr + margin;
		}
		pthread_attr_destroy(&attr);
	}
	return low;
}


/* ---- the evaluator ---------------------------------------------------------------------------- */

/* With an evaluator installed CPython no longer inlines Python-to-Python calls: each call also
 * recurses in C. Two consequences, both handled here:
 * - 3.12+ spend C recursion budget per call; giving those units back lets programs recurse as
 *   deep as without glass.
 * - every call now uses C stack, which plain CPython would not. Near the end of the thread's
 *   stack we make CPython's own entry check fail (its counter set to 0 for that one call), so
 *   the program gets the RecursionError it can handle instead of a crash. */
static PyObject *__attribute__((noinline))
call_real_near_stack_end(PyThreadState *ts, glass_frame *f, int throwflag)
{
	int *ctr = glass_tstate_guard(ts);
	int saved = *ctr;
	*ctr = glass_guard_tripped();
	PyObject *r = G.real_eval(ts, f, throwflag);
	*ctr = saved;
	return r;
}

static inline PyObject *call_real(PyThreadState *ts, glass_frame *f, int throwflag)
{
	if (GLASS_UNLIKELY(!T.stack_low))
		T.stack_low = stack_low_of_thread();
	if (GLASS_UNLIKELY((char *)__builtin_frame_address(0) < T.stack_low))
		return call_real_near_stack_end(ts, f, throwflag);
	if (G.rec_units) {
		int *rem = glass_tstate_c_recursion(ts);
		*rem += G.rec_units;
		PyObject *r = G.real_eval(ts, f, throwflag);
		*rem -= G.rec_units;
		return r;
	}
	return G.real_eval(ts, f, throwflag);
}

static void __attribute__((noinline)) emit_raise(PyThreadState *ts)
{
	PyObject *type, *value;
	glass_tstate_exc(ts, &type, &value);
	glass_emit_raise(&T.s, glass_ticks(), glass_exc_ref(type, value));
}

/* A traced function call: CALL, the frame, then RETURN or RAISE. */
static inline __attribute__((always_inline)) PyObject *
trace_call(PyThreadState *ts, glass_frame *f, int throwflag, uint32_t id)
{
	glass_emit_call(&T.s, glass_ticks(), id);
	PyObject *r = call_real(ts, f, throwflag);
	if (GLASS_LIKELY(r != NULL))
		glass_emit_return(&T.s, glass_ticks());
	else
		emit_raise(ts);
	return r;
}

/* Traced frames other than the plain call of the fast path: generators and coroutines, and the
 * first traced frame of a thread. */
static PyObject *eval_traced(PyThreadState *ts, glass_frame *f, int throwflag, uintptr_t x)
{
	if (GLASS_UNLIKELY(!glass_thread_ready()))
		return call_real(ts, f, throwflag);
	struct glass_stream_writer *s = &T.s;
	if (GLASS_UNLIKELY(s->depth >= G.depth_limit))
		return call_real(ts, f, throwflag);
	uint32_t id = (uint32_t)(x >> GLASS_X_ID_SHIFT);
	PyObject *r;

	if (!(x & GLASS_X_GEN)) {
		if (GLASS_LIKELY(!(x & (GLASS_X_ARGS | GLASS_X_RESULT))))
			return trace_call(ts, f, throwflag, id);
		/* a call whose arguments or result are recorded */
		glass_emit_call(s, glass_ticks(), id);
		if (x & GLASS_X_ARGS)
			glass_capture_args(glass_frame_code(f), glass_frame_locals(f));
		r = call_real(ts, f, throwflag);
		if (r && (x & GLASS_X_RESULT))
			glass_capture_result(r);
		if (GLASS_LIKELY(r != NULL))
			glass_emit_return(s, glass_ticks());
		else
			emit_raise(ts);
		return r;
	}
	if (!glass_frame_is_gen_resume(f)) {
		/* calling a generator function: the frame only builds and returns the object
		 * (3.11+; 3.9 and 3.10 never evaluate it: glass_gen_created) */
		r = call_real(ts, f, throwflag);
		if (r) {
			glass_emit_gen_create(s, glass_ticks(), id, (uintptr_t)r);
			/* its arguments, from the frame the new object holds (before it runs) */
			if (GLASS_UNLIKELY(x & GLASS_X_ARGS))
				glass_capture_args(
				    glass_frame_code(f),
				    glass_frame_locals((glass_frame *)((char *)r + glass_cx.gen_iframe)));
		}
		return r;
	}
	uintptr_t gen = glass_frame_gen(f);
	glass_emit_gen_resume(s, glass_ticks(), id, gen);
	r = call_real(ts, f, throwflag);
	if (r == NULL) {
		emit_raise(ts);
	} else if (glass_frame_gen_suspended(f)) {
		glass_emit_gen_yield(s, glass_ticks());
	} else {
		if (GLASS_UNLIKELY(x & GLASS_X_RESULT)) /* what its return statement gave */
			glass_capture_result(r);
		glass_emit_gen_return(s, glass_ticks());
	}
	return r;
}

static PyObject *__attribute__((noinline))
eval_slow(PyThreadState *ts, glass_frame *f, int throwflag, PyObject *code, uintptr_t x)
{
	if (T.guard || G.state != GLASS_ACTIVE)
		return call_real(ts, f, throwflag);
	if (x == 0) {
		int saved = errno;
		T.guard++;
		x = glass_code_decide(code, glass_frame_globals(f));
		T.guard--;
		errno = saved;
	}
	enum glass_watch watch = (enum glass_watch)((x & GLASS_X_WATCH_MASK) >> GLASS_X_WATCH_SHIFT);
	if ((x & GLASS_X_SPECIAL) && watch != GLASS_WATCH_BOOTSTRAP) {
		uintptr_t st =
		    glass_watch_start(watch, glass_frame_local0(f), glass_frame_local(f, 1));
		PyObject *r = x & GLASS_X_TRACED ? eval_traced(ts, f, throwflag, x)
						 : call_real(ts, f, throwflag);
		glass_watch_end(watch, st);
		return r;
	}
	if (x & GLASS_X_SPECIAL) {
		int saved = errno;
		T.guard++;
		glass_note_thread_name(glass_frame_local0(f));
		T.guard--;
		errno = saved;
		uintptr_t link = glass_watch_start(watch, glass_frame_local0(f), NULL);
		/* The thread's Python work ends here, before join() can return: its end is written
		 * now, so that it never depends on whether the process exits before this thread's
		 * last C-level teardown (the stream is sealed then, or by the reader's tolerance). */
		PyObject *r = x & GLASS_X_TRACED ? eval_traced(ts, f, throwflag, x)
						 : call_real(ts, f, throwflag);
		glass_watch_end(watch, link);
		glass_note_thread_end();
		return r;
	}
	if (x & GLASS_X_TRACED)
		return eval_traced(ts, f, throwflag, x);
	return call_real(ts, f, throwflag);
}

/* Everything but the untraced call: the traced call's own fast path, then the rest. */
static PyObject *__attribute__((noinline))
eval_more(PyThreadState *ts, glass_frame *f, int throwflag, uintptr_t x)
{
	/* a plain traced call on a ready thread: the one traced path that must be fast */
	if (GLASS_LIKELY((x & (GLASS_X_TRACED | GLASS_X_GEN | GLASS_X_SPECIAL | GLASS_X_ARGS |
			       GLASS_X_RESULT)) == GLASS_X_TRACED &&
			 T.epoch == G.epoch && !T.guard && T.s.depth < G.depth_limit)) {
		return trace_call(ts, f, throwflag, (uint32_t)(x >> GLASS_X_ID_SHIFT));
	}
	if (x == GLASS_X_SKIP)
		return call_real(ts, f, throwflag);
	return eval_slow(ts, f, throwflag, glass_frame_code(f), x);
}

/* The stack pointer, to compare with the thread's stack limit without a call. */
static inline uintptr_t stack_pointer_now(void)
{
#if defined(__x86_64__)
	uintptr_t sp;
	__asm__("mov %%rsp, %0" : "=r"(sp));
	return sp;
#else
	return (uintptr_t)__builtin_frame_address(0);
#endif
}

/*
 * The evaluator CPython calls for every frame. Most frames belong to code the policy leaves
 * out, and their cost is what every program pays: that path is a leaf that jumps to CPython's
 * evaluator (about 20 instructions, no stack frame of its own). It needs a cached decision and
 * a known stack limit this thread is clear of (stack_low - 1 wraps when the limit is not known
 * yet); anything else goes to eval_more. glass_eval_units is the evaluator when recursion units
 * are given back (3.12+).
 */
PyObject *glass_eval(PyThreadState *ts, glass_frame *f, int throwflag)
{
	uintptr_t x = glass_code_extra_slot(glass_frame_code(f), G.extra_slot);
	if (GLASS_LIKELY(x == GLASS_X_SKIP && stack_pointer_now() > (uintptr_t)T.stack_low - 1))
		return G.real_eval(ts, f, throwflag);
	return eval_more(ts, f, throwflag, x);
}

/* The same for 3.12+, which spend C recursion units per evaluator call (see call_real). */
PyObject *glass_eval_units(PyThreadState *ts, glass_frame *f, int throwflag)
{
	uintptr_t x = glass_code_extra_slot(glass_frame_code(f), G.extra_slot);
	if (GLASS_LIKELY(x == GLASS_X_SKIP && stack_pointer_now() > (uintptr_t)T.stack_low - 1)) {
		int *rem = glass_tstate_c_recursion(ts);
		*rem += G.rec_units;
		PyObject *r = G.real_eval(ts, f, throwflag);
		*rem -= G.rec_units;
		return r;
	}
	return eval_more(ts, f, throwflag, x);
}


/* ---- install ------------------------------------------------------------------------------ */

static int eval_install(PyInterpreterState *interp)
{
	glass_eval_fn current = glass_py.GetEvalFrameFunc(interp);
	G.real_eval = current ? current : glass_py.EvalFrameDefault;
	if (current && current != glass_py.EvalFrameDefault)
		glass_log(2, "another frame evaluator is installed; glass chains to it");
	/* 3.12 and 3.13 spend two C recursion units per evaluator call (see call_real) */
	G.rec_units = glass_cx.ts_c_recursion ? 2 : 0;
	const char *units = getenv("GLASS_RECURSION_UNITS");
	if (units && *units)
		G.rec_units = atoi(units);
	glass_py.SetEvalFrameFunc(interp, G.rec_units ? glass_eval_units : glass_eval);
	return 0;
}

const struct glass_engine glass_engine_eval = {"eval", eval_install};

/* ---- generators created without evaluating their frame (3.9, 3.10) --------------------------
 *
 * There the call of a generator function never reaches the evaluator: compat.c reports each
 * new object it sees (watched generator functions, CPython's constructors) here, and it is
 * recorded as on 3.11+, where eval_traced sees the creating call. */
void glass_gen_created(glass_frame *f, PyObject *gen)
{
	if (G.state != GLASS_ACTIVE || T.guard ||
	    glass_py.InterpreterState_Get() != glass_py.InterpreterState_Main())
		return;
	PyObject *code = glass_frame_code(f);
	uintptr_t x = glass_code_extra_slot(code, G.extra_slot);
	int saved = errno;
	if (x == 0) {
		T.guard++;
		x = glass_code_decide(code, glass_frame_globals(f));
		T.guard--;
	}
	if ((x & GLASS_X_TRACED) && glass_thread_ready() && T.s.depth < G.depth_limit) {
		glass_emit_gen_create(&T.s, glass_ticks(), (uint32_t)(x >> GLASS_X_ID_SHIFT),
				      (uintptr_t)gen);
		if (GLASS_UNLIKELY(x & GLASS_X_ARGS)) /* the new generator's frame holds them */
			glass_capture_args(code, glass_frame_locals(f));
	}
	errno = saved;
}
