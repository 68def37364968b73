/* preload/compat.h — every CPython version difference the preload relies on, in one place.
 *
 * The preload never includes Python.h: one libglass.so serves every supported version, so the
 * few internal layouts it reads are described here as offsets, taken from each version's
 * Include/internal/pycore_frame.h, pycore_code.h, cpython/code.h, cpython/pystate.h,
 * cpython/genobject.h and (3.9, 3.10) cpython/frameobject.h (tests/compat/check compares them
 * with the installed headers).
 * The rest of the preload talks to the small inline interface at the bottom.
 */
#ifndef GLASS_COMPAT_H
#define GLASS_COMPAT_H

#include <stddef.h>
#include <stdint.h>

/* The public, version-stable object header (non-debug, GIL builds only). */
typedef struct glass_pyobject {
	intptr_t ob_refcnt;
	struct glass_pytype *ob_type;
} PyObject;

typedef struct glass_pytype {
	PyObject ob_base;
	intptr_t ob_size;
	const char *tp_name; /* offset 24 in every supported version */
} PyTypeObject;

typedef struct _ts PyThreadState;
typedef struct _is PyInterpreterState;
typedef void glass_frame; /* _PyInterpreterFrame (3.11+), PyFrameObject (3.9, 3.10) */

typedef PyObject *(*glass_eval_fn)(PyThreadState *, glass_frame *, int);

/* Offsets that differ between versions. */
struct glass_compat {
	unsigned minor; /* 9 to 13 */
	/* _PyInterpreterFrame (3.11+) or PyFrameObject (3.9, 3.10) */
	uint16_t frame_code; /* f_code (3.9 to 3.12) / f_executable (3.13) */
	uint16_t frame_globals;
	uint16_t frame_owner; /* 3.11+ */
	uint16_t frame_localsplus;
	/* 3.9 and 3.10: the evaluator gets a PyFrameObject. A generator's frame points to its
	 * generator (f_gen); creating a generator does not evaluate its frame. */
	uint8_t frame_object;
	uint16_t frame_gen; /* f_gen */
	uint16_t frame_state; /* 3.10: f_state (FRAME_SUSPENDED -1 after a yield) */
	uint16_t frame_stacktop; /* 3.9: f_stacktop, non-NULL after a yield, NULL after return */
	uint16_t gen_frame; /* 3.9, 3.10: PyGenObject's gi_frame */
	uint16_t func_code; /* 3.9, 3.10: PyFunctionObject's func_code */
	uint16_t func_vectorcall; /* 3.9, 3.10: PyFunctionObject's vectorcall */
	uint16_t dict_version; /* 3.9, 3.10: PyDictObject's ma_version_tag */
	/* PyGenObject: gi_iframe; gi_frame_state is the int8 five bytes before it */
	uint16_t gen_iframe;
	int8_t state_suspended_max; /* frame states <= this are "suspended" (yield/await) */
	/* PyCodeObject */
	uint16_t co_flags;
	uint16_t co_filename;
	uint16_t co_qualname; /* 3.11+; before, the qualname is only the function's */
	uint16_t co_name;
	uint16_t co_code; /* 3.9, 3.10: the bytecode, a bytes object */
	uint16_t co_consts;
	uint16_t co_firstlineno;
	uint16_t co_extra;
	/* PyThreadState */
	uint16_t ts_exc; /* 3.12+: current_exception; 3.11: curexc_type (curexc_value at +8) */
	uint16_t ts_c_recursion; /* 3.12+: c_recursion_remaining; 0: none */
	uint16_t ts_guard; /* the counter the evaluator checks on entry (recursion_depth, counting
			    * up, on 3.9 and 3.10; recursion_remaining on 3.11,
			    * c_recursion_remaining after) */
	/* PyASCIIObject size: compact ASCII data follows it */
	uint16_t ascii_size;
	/* _PyRuntimeState: audit_hook_head (3.11) / audit_hooks.head (3.12+) */
	uint16_t runtime_audit_head;
	/* set at run time (3.9, 3.10): the co_extra slot holding qualnames (glass_code_seen) */
	intptr_t qual_slot;
};

extern struct glass_compat glass_cx;

#define GLASS_FRAME_OWNED_BY_GENERATOR 1

/* 3.9 and 3.10 opcodes (Include/opcode.h), read by glass_code_seen */
#define GLASS_OP_LOAD_CONST 100
#define GLASS_OP_MAKE_FUNCTION 132
#define GLASS_OP_EXTENDED_ARG 144
#define GLASS_OP_LOAD_BUILD_CLASS 71
#define GLASS_OP_STORE_NAME 90
#define GLASS_OP_LOAD_NAME 101
#define GLASS_GEN_STATE_FROM_IFRAME (-5)

/* Version-stable object layouts used by the accessors. */
#define GLASS_TP_FLAGS_OFF 168
#define GLASS_TPFLAGS_TUPLE_SUBCLASS (1UL << 26)
#define GLASS_TPFLAGS_UNICODE_SUBCLASS (1UL << 28)
#define GLASS_TPFLAGS_BASE_EXC_SUBCLASS (1UL << 30)
#define GLASS_EXC_ARGS_OFF 24
#define GLASS_TUPLE_ITEMS_OFF 24
#define GLASS_VAR_SIZE_OFF 16
#define GLASS_BYTES_DATA_OFF 32 /* PyBytesObject ob_sval, after ob_shash */
#define GLASS_STR_LENGTH_OFF 16
#define GLASS_STR_STATE_OFF 32

/* PyTypeObject slots and PyMethodDef, stable in 3.11-3.13 */
#define GLASS_TP_GETATTRO_OFF 144
#define GLASS_TP_METHODS_OFF 232
#define GLASS_TP_BASE_OFF 256
#define GLASS_TP_DICT_OFF 264 /* heap types: their dict (static builtin types: see interp) */
#define GLASS_TP_FINALIZE_OFF 392
#define GLASS_TPFLAGS_HEAPTYPE (1UL << 9)
#define GLASS_TPFLAGS_DICT_SUBCLASS (1UL << 29)
#define GLASS_TPFLAGS_BYTES_SUBCLASS (1UL << 27)
struct glass_methoddef {
	const char *ml_name;
	void *ml_meth;
	int ml_flags;
	const char *ml_doc;
};

/* An entry of CPython's audit hook list (pycore_runtime.h, the same in 3.11-3.13). */
struct glass_audit_entry {
	struct glass_audit_entry *next;
	void *hook;
	void *data;
};

/* Picks the table for a runtime version (PY_VERSION_HEX); 0 if supported. */
int glass_compat_init(unsigned long version_hex);

#define GLASS_AT(p, off, type) (*(type *)((char *)(p) + (off)))

static inline PyObject *glass_frame_code(glass_frame *f)
{
	return GLASS_AT(f, glass_cx.frame_code, PyObject *);
}

static inline PyObject *glass_frame_globals(glass_frame *f)
{
	return GLASS_AT(f, glass_cx.frame_globals, PyObject *);
}

static inline int glass_frame_owner(glass_frame *f)
{
	return GLASS_AT(f, glass_cx.frame_owner, char);
}

/* Is this the frame of a generator, coroutine or async generator being resumed (not the call
 * that creates the object)? 3.9 and 3.10 never evaluate the creating call. */
static inline int glass_frame_is_gen_resume(glass_frame *f)
{
	if (glass_cx.frame_object)
		return GLASS_AT(f, glass_cx.frame_gen, PyObject *) != NULL;
	return glass_frame_owner(f) == GLASS_FRAME_OWNED_BY_GENERATOR;
}

static inline PyObject *glass_frame_local0(glass_frame *f)
{
	return GLASS_AT(f, glass_cx.frame_localsplus, PyObject *);
}

/* The generator object that embeds (3.11+) or owns (3.9, 3.10) a generator's frame. */
static inline uintptr_t glass_frame_gen(glass_frame *f)
{
	if (glass_cx.frame_object)
		return (uintptr_t)GLASS_AT(f, glass_cx.frame_gen, PyObject *);
	return (uintptr_t)f - glass_cx.gen_iframe;
}

/* After eval of a generator's frame returned non-NULL: did it yield (1) or return (0)? The
 * generator, and with it the frame, is alive until the evaluator has returned. */
static inline int glass_frame_gen_suspended(glass_frame *f)
{
	if (glass_cx.frame_stacktop)
		return GLASS_AT(f, glass_cx.frame_stacktop, void *) != NULL;
	if (glass_cx.frame_object)
		return GLASS_AT(f, glass_cx.frame_state, int8_t) <= glass_cx.state_suspended_max;
	return *((int8_t *)f + GLASS_GEN_STATE_FROM_IFRAME) <= glass_cx.state_suspended_max;
}

static inline int glass_gen_state_suspended(int8_t state)
{
	return state <= glass_cx.state_suspended_max;
}

/* co_extra slot `idx` without a call: _PyCodeObjectExtra is {Py_ssize_t ce_size; void *ce_extras[]}. */
static inline uintptr_t glass_code_extra(PyObject *code, int idx)
{
	intptr_t *ce = GLASS_AT(code, glass_cx.co_extra, intptr_t *);
	if (ce && idx < ce[0])
		return (uintptr_t)ce[1 + idx];
	return 0;
}

/* The same by slot (idx + 1, precomputed): co_extra holds its count, then the values. */
static inline uintptr_t glass_code_extra_slot(PyObject *code, intptr_t slot)
{
	intptr_t *ce = GLASS_AT(code, glass_cx.co_extra, intptr_t *);
	if (ce && slot <= ce[0])
		return (uintptr_t)ce[slot];
	return 0;
}

static inline unsigned long glass_type_flags(PyTypeObject *t)
{
	return GLASS_AT(t, GLASS_TP_FLAGS_OFF, unsigned long);
}

/* The exception being raised in tstate: its type and value (value may be NULL or an
 * unnormalised object on 3.11). Reads only; never fetches or normalises. */
static inline void glass_tstate_exc(PyThreadState *ts, PyObject **type, PyObject **value)
{
	if (glass_cx.minor >= 12) {
		PyObject *v = GLASS_AT(ts, glass_cx.ts_exc, PyObject *);
		*value = v;
		*type = v ? (PyObject *)v->ob_type : NULL;
	} else {
		*type = GLASS_AT(ts, glass_cx.ts_exc, PyObject *);
		*value = GLASS_AT(ts, glass_cx.ts_exc + 8, PyObject *);
	}
}

static inline int *glass_tstate_c_recursion(PyThreadState *ts)
{
	return glass_cx.ts_c_recursion ? &GLASS_AT(ts, glass_cx.ts_c_recursion, int) : NULL;
}

static inline int *glass_tstate_guard(PyThreadState *ts)
{
	return &GLASS_AT(ts, glass_cx.ts_guard, int);
}

/* The value of *glass_tstate_guard() that makes CPython's entry check of the next frame fail
 * with RecursionError: 0 for the counters that count down (3.11+); the recursion limit for
 * 3.9 and 3.10's recursion_depth, which the check increments and compares with it (while a
 * RecursionError is being handled, CPython allows 50 more, as without glass). */
int glass_guard_tripped(void);

/* Code objects on first sight (called with the GIL, outside any pending exception). 3.9 and
 * 3.10 keep a function's qualname only in the function object: glass_code_seen reads the
 * qualnames the compiler stored beside the nested code objects of `code` (LOAD_CONST code,
 * LOAD_CONST qualname, MAKE_FUNCTION) and keeps each on its code object, for
 * glass_code_qualname. A no-op on 3.11+. */
void glass_code_seen(PyObject *code);

/* 3.9, 3.10: the first sight of traced code running in frame f. Generator functions of its
 * module (in its globals, and the methods of classes there) get a vectorcall that reports
 * each generator they create to glass_gen_created: the one way to see creation that works
 * whatever the build (a statically linked interpreter calls the constructors directly, and so
 * do builds with -fno-semantic-interposition). A no-op on 3.11+. */
void glass_watch_generators(glass_frame *f);

/* 3.9, 3.10: a generator object was created for frame f (compat.c's wrappers of CPython's
 * constructors call it; defined by the evaluator, weak so that compat.c links on its own). */
void glass_gen_created(glass_frame *f, PyObject *gen) __attribute__((weak));

/* The qualified name of a code object (a str, borrowed). On 3.9 and 3.10, when glass has not
 * seen the code that defines it (run before glass started), its plain name. */
static inline PyObject *glass_code_qualname(PyObject *code)
{
	if (!glass_cx.qual_slot && !glass_cx.frame_object)
		return GLASS_AT(code, glass_cx.co_qualname, PyObject *);
	PyObject *q = NULL;
	if (glass_cx.qual_slot)
		q = (PyObject *)glass_code_extra_slot(code, glass_cx.qual_slot);
	return q ? q : GLASS_AT(code, glass_cx.co_name, PyObject *);
}

/* Compact ASCII str data, or NULL when the str is not compact ASCII. */
static inline const char *glass_str_ascii(PyObject *s, size_t *len)
{
	uint32_t state = GLASS_AT(s, GLASS_STR_STATE_OFF, uint32_t);
	/* bits: interned 0-1, kind 2-4, compact 5, ascii 6 (3.11 to 3.13) */
	if ((state & (1u << 5)) && (state & (1u << 6))) {
		*len = (size_t)GLASS_AT(s, GLASS_STR_LENGTH_OFF, intptr_t);
		return (const char *)s + glass_cx.ascii_size;
	}
	return NULL;
}

#endif
