/* preload/pyapi.h — the CPython C API the preload calls, resolved with dlsym (never linked). */
#ifndef GLASS_PYAPI_H
#define GLASS_PYAPI_H

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

typedef int (*glass_audit_fn)(const char *event, PyObject *args, void *data);

struct glass_pyapi {
	int (*AddAuditHook)(glass_audit_fn, void *);
	int (*IsInitialized)(void);
	const char *(*GetVersion)(void);
	const unsigned long *Version; /* Py_Version, 3.11+ */
	PyInterpreterState *(*InterpreterState_Get)(void);
	PyInterpreterState *(*InterpreterState_Main)(void);
	glass_eval_fn (*GetEvalFrameFunc)(PyInterpreterState *);
	void (*SetEvalFrameFunc)(PyInterpreterState *, glass_eval_fn);
	glass_eval_fn EvalFrameDefault;
	intptr_t (*RequestCodeExtraIndex)(void (*)(void *));
	int (*Code_SetExtra)(PyObject *, intptr_t, void *);
	const char *(*Unicode_AsUTF8AndSize)(PyObject *, intptr_t *);
	PyObject *(*Unicode_AsEncodedString)(PyObject *, const char *, const char *);
	void (*Err_Fetch)(PyObject **, PyObject **, PyObject **);
	void (*Err_Restore)(PyObject *, PyObject *, PyObject *);
	PyObject *(*Err_GetRaisedException)(void); /* 3.12+ */
	void (*Err_SetRaisedException)(PyObject *); /* 3.12+ */
	void (*Err_Clear)(void);
	PyObject *(*Dict_GetItemWithError)(PyObject *, PyObject *);
	PyObject *(*Unicode_InternFromString)(const char *);
	PyObject *(*Sys_GetObject)(const char *);
	intptr_t (*List_Size)(PyObject *);
	PyObject *(*List_GetItem)(PyObject *, intptr_t);
	PyObject *(*Object_GetAttrString)(PyObject *, const char *);
	void *Object_GenericGetAttr; /* compared, never called */
	long (*Long_AsLong)(PyObject *);
	void (*DecRef)(PyObject *);
	void (*IncRef)(PyObject *);
	int (*GetRecursionLimit)(void);
	/* 3.9, 3.10: generator functions (compat.c's glass_watch_generators); NULL if absent */
	PyObject *(*Function_Vectorcall)(PyObject *, PyObject *const *, size_t, PyObject *);
	int (*Dict_Next)(PyObject *, intptr_t *, PyObject **, PyObject **);
	PyTypeObject *Function_Type;
	PyTypeObject *Gen_Types[3]; /* PyGen_Type, PyCoro_Type, PyAsyncGen_Type */
	PyTypeObject *Code_Type;
	PyTypeObject *Unicode_Type;
	PyTypeObject *Dict_Type;
	PyTypeObject *Long_Type;
};

extern struct glass_pyapi glass_py;

/* Resolves the API for a process whose Python version is known; 0 when all required symbols
 * are there, else -1 and the name of the first missing one. */
int glass_pyapi_resolve(const char **missing);

#endif
