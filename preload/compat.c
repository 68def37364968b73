/* preload/compat.c — the per-version offset tables behind compat.h, and the few version
 * differences that need code (3.9 and 3.10's qualnames and recursion counter). */
#include "compat.h"
#include "pyapi.h"
#include "recorder/format.h"

#include <dlfcn.h>
#include <string.h>

struct glass_compat glass_cx __attribute__((visibility("hidden")));

/* From CPython's headers of each version (x86-64, default GIL build, non-debug). */
static const struct glass_compat tables[] = {
	{
		.minor = 9,
		.frame_code = 32, /* PyFrameObject: PyObject_VAR_HEAD, f_back, f_code */
		.frame_globals = 48,
		.frame_localsplus = 360,
		.frame_object = 1,
		.frame_gen = 96,
		.frame_stacktop = 72,
		.gen_frame = 16,
		.func_code = 16,
		.func_vectorcall = 112,
		.dict_version = 24,
		.co_flags = 36,
		.co_name = 112,
		.co_code = 48,
		.co_consts = 56,
		.co_filename = 104,
		.co_firstlineno = 40,
		.co_extra = 144,
		.ts_exc = 88, /* curexc_type, curexc_value, curexc_traceback */
		.ts_guard = 32, /* recursion_depth */
		.ascii_size = 48,
		.runtime_audit_head = 648,
	},
	{
		.minor = 10,
		.frame_code = 32,
		.frame_globals = 48,
		.frame_localsplus = 352,
		.frame_object = 1,
		.frame_gen = 88,
		.frame_state = 108,
		.gen_frame = 16,
		.func_code = 48,
		.func_vectorcall = 120,
		.dict_version = 24,
		.state_suspended_max = -1, /* FRAME_CREATED -2, FRAME_SUSPENDED -1 */
		.co_flags = 36,
		.co_name = 112,
		.co_code = 48,
		.co_consts = 56,
		.co_filename = 104,
		.co_firstlineno = 40,
		.co_extra = 144,
		.ts_exc = 88,
		.ts_guard = 32, /* recursion_depth */
		.ascii_size = 48,
		.runtime_audit_head = 648,
	},
	{
		.minor = 11,
		.frame_code = 32, /* f_func, f_globals, f_builtins, f_locals, f_code */
		.frame_globals = 8,
		.frame_owner = 69,
		.frame_localsplus = 72,
		.gen_iframe = 80,
		.state_suspended_max = -1, /* FRAME_CREATED -2, FRAME_SUSPENDED -1 */
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_name = 120,
		.co_consts = 24,
		.co_firstlineno = 72,
		.co_extra = 176,
		.ts_exc = 96, /* curexc_type, curexc_value, curexc_traceback */
		.ts_c_recursion = 0,
		.ts_guard = 32, /* recursion_remaining */
		.ascii_size = 48,
		.runtime_audit_head = 656,
	},
	{
		.minor = 12,
		.frame_code = 0,
		.frame_globals = 24,
		.frame_owner = 70,
		.frame_localsplus = 72,
		.gen_iframe = 72,
		.state_suspended_max = -1,
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_name = 120,
		.co_consts = 24,
		.co_firstlineno = 68,
		.co_extra = 184,
		.ts_exc = 96, /* current_exception */
		.ts_c_recursion = 36,
		.ts_guard = 36,
		.ascii_size = 40,
		.runtime_audit_head = 3064,
	},
	{
		.minor = 13,
		.frame_code = 0, /* f_executable */
		.frame_globals = 24,
		.frame_owner = 70,
		.frame_localsplus = 72,
		.gen_iframe = 72,
		.state_suspended_max = -1, /* FRAME_SUSPENDED -2, FRAME_SUSPENDED_YIELD_FROM -1 */
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_name = 120,
		.co_consts = 24,
		.co_firstlineno = 68,
		.co_extra = 192,
		.ts_exc = 112,
		.ts_c_recursion = 52,
		.ts_guard = 52,
		.ascii_size = 40,
		.runtime_audit_head = 10424,
	},
};

int glass_compat_init(unsigned long version_hex)
{
	unsigned major = (version_hex >> 24) & 0xff, minor = (version_hex >> 16) & 0xff;
	if (major != 3)
		return -1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (tables[i].minor == minor) {
			glass_cx = tables[i];
			return 0;
		}
	}
	return -1;
}

int glass_guard_tripped(void)
{
	return glass_cx.frame_object ? glass_py.GetRecursionLimit() : 0;
}

/* 3.9 and 3.10 wordcode: 2 bytes an instruction, arguments above 255 through EXTENDED_ARG. */
struct glass_wordcode {
	const unsigned char *op;
	intptr_t n; /* bytes */
	PyObject **consts;
	intptr_t nconsts;
};

static int wordcode_of(PyObject *code, struct glass_wordcode *w)
{
	PyObject *bytes = GLASS_AT(code, glass_cx.co_code, PyObject *);
	PyObject *consts = GLASS_AT(code, glass_cx.co_consts, PyObject *);
	if (!bytes || !consts ||
	    !(glass_type_flags(bytes->ob_type) & GLASS_TPFLAGS_BYTES_SUBCLASS) ||
	    !(glass_type_flags(consts->ob_type) & GLASS_TPFLAGS_TUPLE_SUBCLASS))
		return -1;
	w->op = (const unsigned char *)bytes + GLASS_BYTES_DATA_OFF;
	w->n = GLASS_AT(bytes, GLASS_VAR_SIZE_OFF, intptr_t) & ~(intptr_t)1;
	w->consts = &GLASS_AT(consts, GLASS_TUPLE_ITEMS_OFF, PyObject *);
	w->nconsts = GLASS_AT(consts, GLASS_VAR_SIZE_OFF, intptr_t);
	return 0;
}

static int is_str(PyObject *o)
{
	return o && (glass_type_flags(o->ob_type) & GLASS_TPFLAGS_UNICODE_SUBCLASS);
}

/* A class body is made with the class's plain name; its qualname is what the body's prologue
 * stores: LOAD_NAME __name__, STORE_NAME __module__, LOAD_CONST qualname, STORE_NAME
 * __qualname__ (the compiler's compiler_class). */
static PyObject *class_qualname(PyObject *body)
{
	struct glass_wordcode w;
	if (wordcode_of(body, &w) != 0 || w.n < 8)
		return NULL;
	const unsigned char *op = w.op;
	if (op[0] != GLASS_OP_LOAD_NAME || op[2] != GLASS_OP_STORE_NAME ||
	    op[4] != GLASS_OP_LOAD_CONST || op[6] != GLASS_OP_STORE_NAME || op[5] >= w.nconsts)
		return NULL;
	return is_str(w.consts[op[5]]) ? w.consts[op[5]] : NULL;
}

void glass_code_seen(PyObject *code)
{
	if (!glass_cx.frame_object)
		return;
	if (!glass_cx.qual_slot) {
		/* the slot's free function drops our reference when the code object dies */
		intptr_t idx = glass_py.RequestCodeExtraIndex((void (*)(void *))glass_py.DecRef);
		if (idx < 0) {
			glass_py.Err_Clear();
			glass_cx.qual_slot = -1;
			return;
		}
		glass_cx.qual_slot = idx + 1;
	}
	struct glass_wordcode w;
	if (glass_cx.qual_slot < 0 || wordcode_of(code, &w) != 0)
		return;
	/* the last three instructions (opcode, full argument), most recent last */
	unsigned char op0 = 0, op1 = 0, op2 = 0;
	uint32_t arg1 = 0, arg2 = 0, ext = 0;
	for (intptr_t i = 0; i < w.n; i += 2) {
		unsigned char op = w.op[i];
		uint32_t arg = ext | w.op[i + 1];
		if (op == GLASS_OP_EXTENDED_ARG) {
			ext = arg << 8;
			continue;
		}
		ext = 0;
		/* LOAD_CONST code, LOAD_CONST qualname, MAKE_FUNCTION: how 3.9 and 3.10 make every
		 * function, lambda, comprehension and class body */
		if (op == GLASS_OP_MAKE_FUNCTION && op1 == GLASS_OP_LOAD_CONST &&
		    op2 == GLASS_OP_LOAD_CONST && arg1 < w.nconsts && arg2 < w.nconsts) {
			PyObject *child = w.consts[arg1], *qual = w.consts[arg2];
			if (child->ob_type == glass_py.Code_Type &&
			    op0 == GLASS_OP_LOAD_BUILD_CLASS)
				qual = class_qualname(child);
			if (child->ob_type == glass_py.Code_Type && is_str(qual) &&
			    !glass_code_extra_slot(child, glass_cx.qual_slot)) {
				glass_py.IncRef(qual);
				if (glass_py.Code_SetExtra(child, glass_cx.qual_slot - 1, qual) !=
				    0) {
					glass_py.Err_Clear();
					glass_py.DecRef(qual);
				}
			}
		}
		op0 = op1;
		op1 = op2;
		arg1 = arg2;
		op2 = op;
		arg2 = arg;
	}
}

/* ---- generator functions (3.9, 3.10) -------------------------------------------------------- */

#define GLASS_CO_ANY_GENERATOR	    (GLASS_CO_GENERATOR | GLASS_CO_COROUTINE | GLASS_CO_ASYNC_GENERATOR)
#define GLASS_TPFLAGS_TYPE_SUBCLASS (1UL << 31)

/* inside a wrapped generator function's call: the constructor wrappers below leave the report
 * to it */
static __thread int gen_call_depth __attribute__((tls_model("initial-exec")));

static int is_gen_object(PyObject *o)
{
	PyTypeObject *t = o->ob_type;
	return t == glass_py.Gen_Types[0] || t == glass_py.Gen_Types[1] ||
	       t == glass_py.Gen_Types[2];
}

/* The vectorcall of a watched generator function: CPython's own, then the report. Calling the
 * function runs none of its code; a function whose __code__ was replaced by a plain one since
 * only forwards. */
static PyObject *gen_function_vectorcall(PyObject *func, PyObject *const *args, size_t nargsf,
					 PyObject *kwnames)
{
	PyObject *code = GLASS_AT(func, glass_cx.func_code, PyObject *);
	if (!(GLASS_AT(code, glass_cx.co_flags, int) & GLASS_CO_ANY_GENERATOR))
		return glass_py.Function_Vectorcall(func, args, nargsf, kwnames);
	gen_call_depth++;
	PyObject *r = glass_py.Function_Vectorcall(func, args, nargsf, kwnames);
	gen_call_depth--;
	if (r && is_gen_object(r) && glass_gen_created) {
		glass_frame *f = GLASS_AT(r, glass_cx.gen_frame, glass_frame *);
		if (f)
			glass_gen_created(f, r);
	}
	return r;
}

static void watch_in(PyObject *dict, int depth)
{
	intptr_t pos = 0;
	PyObject *key, *v;
	while (glass_py.Dict_Next(dict, &pos, &key, &v)) {
		if (v->ob_type == glass_py.Function_Type) {
			void **vc = &GLASS_AT(v, glass_cx.func_vectorcall, void *);
			PyObject *code = GLASS_AT(v, glass_cx.func_code, PyObject *);
			if (*vc == (void *)glass_py.Function_Vectorcall && code &&
			    code->ob_type == glass_py.Code_Type &&
			    (GLASS_AT(code, glass_cx.co_flags, int) & GLASS_CO_ANY_GENERATOR))
				*vc = (void *)gen_function_vectorcall;
		} else if (depth == 0 &&
			   (glass_type_flags(v->ob_type) & GLASS_TPFLAGS_TYPE_SUBCLASS) &&
			   (glass_type_flags((PyTypeObject *)v) & GLASS_TPFLAGS_HEAPTYPE)) {
			/* a class: its methods (static and class methods are not looked into) */
			PyObject *d = GLASS_AT(v, GLASS_TP_DICT_OFF, PyObject *);
			if (d && d->ob_type == glass_py.Dict_Type)
				watch_in(d, 1);
		}
	}
}

void glass_watch_generators(glass_frame *f)
{
	if (!glass_cx.frame_object || !glass_py.Function_Vectorcall || !glass_py.Dict_Next ||
	    !glass_py.Function_Type || !glass_py.Gen_Types[0] || !glass_py.Gen_Types[1] ||
	    !glass_py.Gen_Types[2])
		return;
	PyObject *globals = GLASS_AT(f, glass_cx.frame_globals, PyObject *);
	if (!globals || globals->ob_type != glass_py.Dict_Type)
		return;
	/* each module's globals once per change (dict versions are unique in the process) */
	static struct {
		PyObject *dict;
		uint64_t version;
	} seen[64];
	uint64_t version = GLASS_AT(globals, glass_cx.dict_version, uint64_t);
	size_t h = ((uintptr_t)globals >> 4) & 63;
	if (seen[h].dict == globals && seen[h].version == version)
		return;
	seen[h].dict = globals;
	seen[h].version = version;
	watch_in(globals, 0);
}

/* 3.9 and 3.10 create a generator, coroutine or async generator without evaluating its frame:
 * CPython's evaluator of the call builds the frame and hands it to one of these constructors.
 * Where libpython is a shared library whose calls to them go through the PLT (built without
 * -fno-semantic-interposition, as pyenv's are), these preloaded definitions are the ones they
 * reach: they report each new object that no watched generator function reported (nested and
 * decorated generator functions), then return it. Elsewhere (Debian's statically linked
 * /usr/bin/python3.X) such a generator's creator is not known: the reader then takes the span
 * running when it first starts. On 3.11+ they only forward (creation is evaluated there). */
typedef PyObject *(*glass_gen_new_fn)(glass_frame *, PyObject *, PyObject *);

#define GLASS_GEN_CONSTRUCTOR(name)                                                                \
	__attribute__((visibility("default"))) PyObject *name(glass_frame *f, PyObject *n,         \
							      PyObject *q)                         \
	{                                                                                          \
		static glass_gen_new_fn real;                                                      \
		if (!real)                                                                         \
			*(void **)&real = dlsym(RTLD_NEXT, #name);                                 \
		if (!real)                                                                         \
			return NULL;                                                               \
		PyObject *gen = real(f, n, q);                                                     \
		if (gen && glass_cx.frame_object && glass_gen_created && !gen_call_depth)          \
			glass_gen_created(f, gen);                                                 \
		return gen;                                                                        \
	}
GLASS_GEN_CONSTRUCTOR(PyGen_NewWithQualName)
GLASS_GEN_CONSTRUCTOR(PyCoro_New)
GLASS_GEN_CONSTRUCTOR(PyAsyncGen_New)
