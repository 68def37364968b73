/* tests/native/ext.c — a C extension for the native-stack tests (built by meson, never
 * installed): functions with known names that burn CPU, sleep and crash. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Exported and never inlined: the names the tests look for in stacks. */
__attribute__((noinline, visibility("default"))) unsigned long native_burn_cpu(double seconds)
{
	volatile unsigned long x = 0;
	double end = thread_cpu() + seconds;
	while (thread_cpu() < end)
		for (int i = 0; i < 20000; i++)
			x += (unsigned long)i * 2654435761u;
	return x;
}

__attribute__((noinline, visibility("default"))) void native_sleep(double seconds)
{
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline, visibility("default"))) int native_crash(int how)
{
	if (how == 1)
		abort();
	if (how == 2) {
		volatile int zero = 0, one = 1;
		return one / zero;
	}
	return *(volatile int *)(uintptr_t)16;
}

static PyObject *py_burn(PyObject *self, PyObject *arg)
{
	double s = PyFloat_AsDouble(arg);
	if (s < 0 && PyErr_Occurred())
		return NULL;
	unsigned long r;
	Py_BEGIN_ALLOW_THREADS r = native_burn_cpu(s);
	Py_END_ALLOW_THREADS return PyLong_FromUnsignedLong(r);
}

static PyObject *py_sleep(PyObject *self, PyObject *arg)
{
	double s = PyFloat_AsDouble(arg);
	if (s < 0 && PyErr_Occurred())
		return NULL;
	Py_BEGIN_ALLOW_THREADS native_sleep(s);
	Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

static PyObject *py_crash(PyObject *self, PyObject *arg)
{
	return PyLong_FromLong(native_crash((int)PyLong_AsLong(arg)));
}

static PyMethodDef methods[] = {
    {"burn", py_burn, METH_O, "burn CPU in C for the given seconds of thread CPU time"},
    {"sleep", py_sleep, METH_O, "sleep in C (GIL released)"},
    {"crash", py_crash, METH_O, "0: SIGSEGV, 1: abort(), 2: SIGFPE"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "glassnative", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_glassnative(void)
{
	return PyModule_Create(&mod);
}
