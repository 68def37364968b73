/* examples/bench/pep523_noop.c — the cheapest PEP 523 frame evaluator, for scripts/bench.
 *
 * LD_PRELOAD=libpep523noop.so python ...: once the interpreter is initialized, installs an
 * evaluator that only calls CPython's own (_PyEval_EvalFrameDefault). It records nothing. What
 * a program loses under it is what installing any PEP 523 evaluator costs that program:
 * CPython no longer inlines Python-to-Python calls. The webcg suite compares glass with it.
 * CPython 3.11-3.13; anything else (or a non-Python process) is left alone. */
#include <dlfcn.h>
#include <stddef.h>

typedef void *(*eval_fn)(void *tstate, void *frame, int throwflag);
typedef int (*audit_fn)(const char *event, void *args, void *data);

static eval_fn real_eval;
static int (*is_initialized)(void);
static void *(*interp_get)(void);
static void (*set_eval)(void *interp, eval_fn fn);
static int installed;

static void *noop_eval(void *tstate, void *frame, int throwflag)
{
	return real_eval(tstate, frame, throwflag);
}

static int audit(const char *event, void *args, void *data)
{
	(void)event;
	(void)args;
	(void)data;
	if (!installed && is_initialized()) {
		installed = 1;
		set_eval(interp_get(), noop_eval);
	}
	return 0;
}

__attribute__((constructor)) static void pep523_noop_init(void)
{
	int (*add_hook)(audit_fn, void *) =
	    (int (*)(audit_fn, void *))dlsym(RTLD_DEFAULT, "PySys_AddAuditHook");
	real_eval = (eval_fn)dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
	is_initialized = (int (*)(void))dlsym(RTLD_DEFAULT, "Py_IsInitialized");
	interp_get = (void *(*)(void))dlsym(RTLD_DEFAULT, "PyInterpreterState_Get");
	set_eval = (void (*)(void *, eval_fn))dlsym(RTLD_DEFAULT, "_PyInterpreterState_SetEvalFrameFunc");
	if (add_hook && real_eval && is_initialized && interp_get && set_eval)
		add_hook(audit, NULL);
}
