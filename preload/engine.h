/* preload/engine.h — the two ways glass sees Python activations, and what they share.
 *
 * An engine turns CPython's activations (calls, generator resumes, returns, yields, escaping
 * exceptions) into the stream records of recorder/writer.h. The PEP 523 engine (eval.c) installs
 * a frame evaluator; the sys.monitoring engine (engine-monitoring.c, CPython 3.12+) registers C
 * callbacks with PEP 669. Both take their per-code decision, their exception records and their
 * thread bookkeeping from engine-common.c, so the recording is the same whichever one ran.
 */
#ifndef GLASS_ENGINE_H
#define GLASS_ENGINE_H

#include "glass.h"

struct glass_engine {
	const char *name; /* "eval" or "monitoring": recorded per process (ENGINE meta record) */
	/* Starts seeing activations in the main interpreter; called once, GIL held, from the
	 * install audit event. 0 on success; -1 after its one "glass:" line (nothing installed). */
	int (*install)(PyInterpreterState *interp);
};

extern const struct glass_engine glass_engine_eval;
extern const struct glass_engine glass_engine_monitoring;

/* The engine for this process, from GLASS_ENGINE or the policy's "engine" (auto by default);
 * an impossible choice is one "glass:" line and the automatic choice. */
const struct glass_engine *glass_engine_choose(void);

/* The co_extra free function: a code object with a decision is being freed (extra is its
 * GLASS_X_* value). */
void glass_code_extra_freed(void *extra);

/* The exception pending in the thread around our own slow paths (see engine-common.c). */
struct glass_saved_exc {
	PyObject *a, *b, *c;
};
void glass_exc_save(struct glass_saved_exc *s);
void glass_exc_restore(struct glass_saved_exc *s);

/* The cached decision of a code object (GLASS_X_*), 0 when not decided yet. */
static inline uintptr_t glass_code_x(PyObject *code)
{
	return glass_code_extra_slot(code, G.extra_slot);
}

/* First sight of a code object: matches it against the policy, writes its CODE record when
 * traced, caches and returns the decision. globals: the dict of the frame running it (its
 * __name__ is the module), or NULL. Never leaves an exception behind. */
uintptr_t glass_code_decide(PyObject *code, PyObject *globals);

/* threading's Thread._bootstrap(self) is starting: the thread's name from self. */
void glass_note_thread_name(PyObject *self);

/* threading's Thread._bootstrap returned: the thread's Python work is over (THREAD_CPU,
 * THREAD_END), written once per thread. */
void glass_note_thread_end(void);

/* The number of the EXC record for this exception on this thread's stream, writing the record
 * the first time it is seen (an exception unwinding through several frames is written once). */
uint64_t glass_exc_ref(PyObject *type, PyObject *value);


/* The sys.monitoring tool id the monitoring engine holds, -1 when it is not the engine (other
 * event users of glass, span-events.c, add their events to it instead of taking a second id). */
int glass_monitoring_tool(void);

#endif
