/* preload/pyapi.c — dlsym resolution of the CPython API, by version. */
#include "pyapi.h"

#include <dlfcn.h>
#include <stddef.h>

struct glass_pyapi glass_py __attribute__((visibility("hidden")));

static void *sym(const char *name)
{
	return dlsym(RTLD_DEFAULT, name);
}

/* The first name found; unstable-API renames between versions are listed newest first. */
static void *sym2(const char *a, const char *b)
{
	void *p = sym(a);
	return p ? p : sym(b);
}

#define NEED(field, expr, name)                                                              \
	do {                                                                                 \
		*(void **)&glass_py.field = (expr);                                          \
		if (!glass_py.field) {                                                       \
			*missing = name;                                                     \
			return -1;                                                           \
		}                                                                            \
	} while (0)

int glass_pyapi_resolve(const char **missing)
{
	NEED(AddAuditHook, sym("PySys_AddAuditHook"), "PySys_AddAuditHook");
	NEED(IsInitialized, sym("Py_IsInitialized"), "Py_IsInitialized");
	NEED(GetVersion, sym("Py_GetVersion"), "Py_GetVersion");
	glass_py.Version = sym("Py_Version");
	NEED(InterpreterState_Get, sym("PyInterpreterState_Get"), "PyInterpreterState_Get");
	NEED(InterpreterState_Main, sym("PyInterpreterState_Main"), "PyInterpreterState_Main");
	NEED(GetEvalFrameFunc, sym("_PyInterpreterState_GetEvalFrameFunc"),
	     "_PyInterpreterState_GetEvalFrameFunc");
	NEED(SetEvalFrameFunc, sym("_PyInterpreterState_SetEvalFrameFunc"),
	     "_PyInterpreterState_SetEvalFrameFunc");
	NEED(EvalFrameDefault, sym("_PyEval_EvalFrameDefault"), "_PyEval_EvalFrameDefault");
	NEED(RequestCodeExtraIndex,
	     sym2("PyUnstable_Eval_RequestCodeExtraIndex", "_PyEval_RequestCodeExtraIndex"),
	     "_PyEval_RequestCodeExtraIndex");
	NEED(Code_SetExtra, sym2("PyUnstable_Code_SetExtra", "_PyCode_SetExtra"),
	     "_PyCode_SetExtra");
	NEED(Unicode_AsUTF8AndSize, sym("PyUnicode_AsUTF8AndSize"), "PyUnicode_AsUTF8AndSize");
	NEED(Unicode_AsEncodedString, sym("PyUnicode_AsEncodedString"),
	     "PyUnicode_AsEncodedString");
	NEED(Err_Fetch, sym("PyErr_Fetch"), "PyErr_Fetch");
	NEED(Err_Restore, sym("PyErr_Restore"), "PyErr_Restore");
	glass_py.Err_GetRaisedException = sym("PyErr_GetRaisedException");
	glass_py.Err_SetRaisedException = sym("PyErr_SetRaisedException");
	NEED(Err_Clear, sym("PyErr_Clear"), "PyErr_Clear");
	NEED(Dict_GetItemWithError, sym("PyDict_GetItemWithError"), "PyDict_GetItemWithError");
	NEED(Unicode_InternFromString, sym("PyUnicode_InternFromString"),
	     "PyUnicode_InternFromString");
	NEED(Sys_GetObject, sym("PySys_GetObject"), "PySys_GetObject");
	NEED(List_Size, sym("PyList_Size"), "PyList_Size");
	NEED(List_GetItem, sym("PyList_GetItem"), "PyList_GetItem");
	NEED(Object_GetAttrString, sym("PyObject_GetAttrString"), "PyObject_GetAttrString");
	NEED(Object_GenericGetAttr, sym("PyObject_GenericGetAttr"), "PyObject_GenericGetAttr");
	NEED(Long_AsLong, sym("PyLong_AsLong"), "PyLong_AsLong");
	NEED(DecRef, sym("Py_DecRef"), "Py_DecRef");
	NEED(IncRef, sym("Py_IncRef"), "Py_IncRef");
	NEED(GetRecursionLimit, sym("Py_GetRecursionLimit"), "Py_GetRecursionLimit");
	*(void **)&glass_py.Function_Vectorcall = sym("_PyFunction_Vectorcall");
	*(void **)&glass_py.Dict_Next = sym("PyDict_Next");
	glass_py.Function_Type = sym("PyFunction_Type");
	glass_py.Gen_Types[0] = sym("PyGen_Type");
	glass_py.Gen_Types[1] = sym("PyCoro_Type");
	glass_py.Gen_Types[2] = sym("PyAsyncGen_Type");
	NEED(Code_Type, sym("PyCode_Type"), "PyCode_Type");
	NEED(Unicode_Type, sym("PyUnicode_Type"), "PyUnicode_Type");
	NEED(Dict_Type, sym("PyDict_Type"), "PyDict_Type");
	NEED(Long_Type, sym("PyLong_Type"), "PyLong_Type");
	return 0;
}
