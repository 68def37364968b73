/* tests/embed/embed.c — an application embedding CPython (no python executable, no run_* event). */
#include <Python.h>

int main(void)
{
	Py_Initialize();
	int rc = PyRun_SimpleString("def leaf(x):\n"
				    "    return x * 2\n"
				    "def outer(n):\n"
				    "    return sum(leaf(i) for i in range(n))\n"
				    "print('embedded', outer(10))\n");
	if (Py_FinalizeEx() < 0)
		return 120;
	return rc == 0 ? 0 : 1;
}
