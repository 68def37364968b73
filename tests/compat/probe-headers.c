/* tests/compat/probe-headers.c — the offsets preload/compat.c needs, from a CPython's own headers. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_runtime.h"

#define P(name, value) printf("%s %zu\n", name, (size_t)(value))

int main(void)
{
	P("minor", PY_MINOR_VERSION);
#if PY_VERSION_HEX >= 0x030d0000
	P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
#else
	P("frame_code", offsetof(_PyInterpreterFrame, f_code));
#endif
	P("frame_globals", offsetof(_PyInterpreterFrame, f_globals));
	P("frame_owner", offsetof(_PyInterpreterFrame, owner));
	P("frame_localsplus", offsetof(_PyInterpreterFrame, localsplus));
	P("gen_iframe", offsetof(PyGenObject, gi_iframe));
	P("gen_state_before_iframe", offsetof(PyGenObject, gi_iframe) -
					     offsetof(PyGenObject, gi_frame_state));
	P("co_flags", offsetof(PyCodeObject, co_flags));
	P("co_filename", offsetof(PyCodeObject, co_filename));
	P("co_qualname", offsetof(PyCodeObject, co_qualname));
	P("co_argcount", offsetof(PyCodeObject, co_argcount));
	P("co_kwonlyargcount", offsetof(PyCodeObject, co_kwonlyargcount));
	P("co_localsplusnames", offsetof(PyCodeObject, co_localsplusnames));
	P("state_created", FRAME_CREATED);
	P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	P("co_extra", offsetof(PyCodeObject, co_extra));
#if PY_VERSION_HEX >= 0x030c0000
	P("ts_exc", offsetof(PyThreadState, current_exception));
	P("ts_c_recursion", offsetof(PyThreadState, c_recursion_remaining));
	P("ts_guard", offsetof(PyThreadState, c_recursion_remaining));
#else
	P("ts_exc", offsetof(PyThreadState, curexc_type));
	P("ts_c_recursion", 0);
	P("ts_guard", offsetof(PyThreadState, recursion_remaining));
#endif
	P("ascii_size", sizeof(PyASCIIObject));
	P("tp_flags", offsetof(PyTypeObject, tp_flags));
	P("tp_methods", offsetof(PyTypeObject, tp_methods));
	P("tp_finalize", offsetof(PyTypeObject, tp_finalize));
	P("exc_args", offsetof(PyBaseExceptionObject, args));
	P("tuple_items", offsetof(PyTupleObject, ob_item));
	P("frame_owned_by_generator", FRAME_OWNED_BY_GENERATOR);
#if PY_VERSION_HEX >= 0x030c0000
	P("runtime_audit_head", offsetof(_PyRuntimeState, audit_hooks.head));
#else
	P("runtime_audit_head", offsetof(_PyRuntimeState, audit_hook_head));
#endif
	return 0;
}
