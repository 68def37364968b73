/* tests/compat/probe-headers.c — the offsets preload/compat.c needs, from a CPython's own headers. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>

#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#else
#include <frameobject.h>
#include <opcode.h>
#endif
#include "internal/pycore_runtime.h"

#define P(name, value) printf("%s %zu\n", name, (size_t)(value))

int main(void)
{
	P("minor", PY_MINOR_VERSION);
#if PY_VERSION_HEX < 0x030b0000
	/* 3.9, 3.10: the evaluator gets a PyFrameObject */
	P("frame_object", 1);
	P("frame_code", offsetof(PyFrameObject, f_code));
	P("frame_globals", offsetof(PyFrameObject, f_globals));
	P("frame_localsplus", offsetof(PyFrameObject, f_localsplus));
	P("frame_gen", offsetof(PyFrameObject, f_gen));
#if PY_VERSION_HEX >= 0x030a0000
	P("frame_state", offsetof(PyFrameObject, f_state));
	P("frame_stacktop", 0);
	P("state_suspended_max", (int)FRAME_SUSPENDED);
#else
	P("frame_state", 0);
	P("frame_stacktop", offsetof(PyFrameObject, f_stacktop));
#endif
	P("co_code", offsetof(PyCodeObject, co_code));
	P("gen_frame", offsetof(PyGenObject, gi_frame));
	P("func_code", offsetof(PyFunctionObject, func_code));
	P("func_vectorcall", offsetof(PyFunctionObject, vectorcall));
	P("dict_version", offsetof(PyDictObject, ma_version_tag));
	P("ts_exc", offsetof(PyThreadState, curexc_type));
	P("ts_c_recursion", 0);
	P("ts_guard", offsetof(PyThreadState, recursion_depth));
	P("runtime_audit_head", offsetof(_PyRuntimeState, audit_hook_head));
	P("opcode_load_const", LOAD_CONST);
	P("opcode_make_function", MAKE_FUNCTION);
	P("opcode_extended_arg", EXTENDED_ARG);
	P("opcode_load_build_class", LOAD_BUILD_CLASS);
	P("opcode_store_name", STORE_NAME);
	P("opcode_load_name", LOAD_NAME);
#else
	P("frame_object", 0);
	P("state_suspended_max", -1);
#if PY_VERSION_HEX >= 0x030d0000
	P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
#else
	P("frame_code", offsetof(_PyInterpreterFrame, f_code));
#endif
	P("frame_globals", offsetof(_PyInterpreterFrame, f_globals));
	P("frame_owner", offsetof(_PyInterpreterFrame, owner));
	P("frame_localsplus", offsetof(_PyInterpreterFrame, localsplus));
	P("frame_owned_by_generator", FRAME_OWNED_BY_GENERATOR);
	P("gen_iframe", offsetof(PyGenObject, gi_iframe));
	P("gen_state_before_iframe", offsetof(PyGenObject, gi_iframe) -
					     offsetof(PyGenObject, gi_frame_state));
	P("co_qualname", offsetof(PyCodeObject, co_qualname));
#if PY_VERSION_HEX >= 0x030c0000
	P("ts_exc", offsetof(PyThreadState, current_exception));
	P("ts_c_recursion", offsetof(PyThreadState, c_recursion_remaining));
	P("ts_guard", offsetof(PyThreadState, c_recursion_remaining));
	P("runtime_audit_head", offsetof(_PyRuntimeState, audit_hooks.head));
#else
	P("ts_exc", offsetof(PyThreadState, curexc_type));
	P("ts_c_recursion", 0);
	P("ts_guard", offsetof(PyThreadState, recursion_remaining));
	P("runtime_audit_head", offsetof(_PyRuntimeState, audit_hook_head));
#endif
#endif
	P("co_name", offsetof(PyCodeObject, co_name));
	P("co_consts", offsetof(PyCodeObject, co_consts));
	P("co_flags", offsetof(PyCodeObject, co_flags));
	P("co_filename", offsetof(PyCodeObject, co_filename));
	P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
	P("co_extra", offsetof(PyCodeObject, co_extra));
	P("ascii_size", sizeof(PyASCIIObject));
	P("str_length", offsetof(PyASCIIObject, length));
	P("str_state", offsetof(PyASCIIObject, state));
	P("tp_flags", offsetof(PyTypeObject, tp_flags));
	P("tp_getattro", offsetof(PyTypeObject, tp_getattro));
	P("tp_methods", offsetof(PyTypeObject, tp_methods));
	P("tp_base", offsetof(PyTypeObject, tp_base));
	P("tp_dict", offsetof(PyTypeObject, tp_dict));
	P("tp_finalize", offsetof(PyTypeObject, tp_finalize));
	P("exc_args", offsetof(PyBaseExceptionObject, args));
	P("tuple_items", offsetof(PyTupleObject, ob_item));
	P("bytes_data", offsetof(PyBytesObject, ob_sval));
	return 0;
}
