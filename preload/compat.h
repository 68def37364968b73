/* preload/compat.h — every CPython version difference the preload relies on, in one place.
 *
 * The preload never includes Python.h: one libglass.so serves every supported version, so the
 * few internal layouts it reads are described here as offsets, taken from each version's
 * Include/internal/pycore_frame.h, pycore_code.h, cpython/code.h, cpython/pystate.h and
 * cpython/genobject.h (tests/compat/check compares them with the installed headers).
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
typedef void glass_frame; /* _PyInterpreterFrame (3.11+) */

typedef PyObject *(*glass_eval_fn)(PyThreadState *, glass_frame *, int);

/* Offsets that differ between versions. */
struct glass_compat {
	unsigned minor; /* 11, 12, 13 */
	/* _PyInterpreterFrame */
	uint16_t frame_code; /* f_code (3.11, 3.12) / f_executable (3.13) */
	uint16_t frame_globals;
	uint16_t frame_owner;
	uint16_t frame_localsplus;
	/* PyGenObject: gi_iframe; gi_frame_state is the int8 five bytes before it */
	uint16_t gen_iframe;
	int8_t state_suspended_max; /* frame states <= this are "suspended" (yield/await) */
	/* PyCodeObject */
	uint16_t co_flags;
	uint16_t co_filename;
	uint16_t co_qualname;
	uint16_t co_firstlineno;
	uint16_t co_extra;
	uint16_t co_argcount;	     /* positional parameters (int) */
	uint16_t co_kwonlyargcount;  /* keyword-only parameters (int) */
	uint16_t co_localsplusnames; /* tuple of names: parameters first */
	int8_t state_created;	     /* frame state of a generator not started yet */
	/* PyThreadState */
	uint16_t ts_exc; /* 3.12+: current_exception; 3.11: curexc_type (curexc_value at +8) */
	uint16_t ts_c_recursion; /* 3.12+: c_recursion_remaining; 0: none */
	uint16_t ts_guard; /* the counter the evaluator checks on entry (recursion_remaining on
			    * 3.11, c_recursion_remaining after) */
	/* PyASCIIObject size: compact ASCII data follows it */
	uint16_t ascii_size;
	/* _PyRuntimeState: audit_hook_head (3.11) / audit_hooks.head (3.12+) */
	uint16_t runtime_audit_head;
};

extern struct glass_compat glass_cx;

#define GLASS_FRAME_OWNED_BY_GENERATOR 1
#define GLASS_CO_VARARGS 0x04
#define GLASS_CO_VARKEYWORDS 0x08
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
#define GLASS_TP_METHODS_OFF 232
#define GLASS_TP_BASE_OFF 256
#define GLASS_TP_DICT_OFF 264 /* heap types: their dict (static builtin types: see interp) */
#define GLASS_TP_FINALIZE_OFF 392
#define GLASS_TPFLAGS_HEAPTYPE (1UL << 9)
#define GLASS_TPFLAGS_DICT_SUBCLASS (1UL << 29)
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

static inline PyObject *glass_frame_local0(glass_frame *f)
{
	return GLASS_AT(f, glass_cx.frame_localsplus, PyObject *);
}

/* A frame's locals (its parameters first). */
static inline PyObject *const *glass_frame_locals(glass_frame *f)
{
	return (PyObject *const *)((char *)f + glass_cx.frame_localsplus);
}

/* Local i of a frame (its arguments first); read at the frame's start only. */
static inline PyObject *glass_frame_local(glass_frame *f, unsigned i)
{
	return GLASS_AT(f, glass_cx.frame_localsplus + 8 * i, PyObject *);
}

/* The generator object that embeds a frame owned by a generator. */
static inline uintptr_t glass_frame_gen(glass_frame *f)
{
	return (uintptr_t)f - glass_cx.gen_iframe;
}

/* The generator's frame state; read after eval returns, while the generator is alive. */
static inline int8_t *glass_frame_gen_state(glass_frame *f)
{
	return (int8_t *)f + GLASS_GEN_STATE_FROM_IFRAME;
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
