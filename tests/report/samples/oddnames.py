"""Functions whose qualified names need escaping in every output format: a quote and a
backslash, a newline, a tab, non-ASCII letters (code objects renamed with co_qualname, 3.11+).
Each is called once; `plain` four times."""


def plain():
    return 1


def renamed(name):
    def f():
        return plain()

    if hasattr(f.__code__, "co_qualname"):
        f.__code__ = f.__code__.replace(co_qualname=name)
    else:  # before 3.11 a code object has no qualified name of its own
        f.__code__ = f.__code__.replace(co_name=name)
    return f


NAMES = ['we"ird\\name', "new\nline", "café.ünï", "tab\there"]

if __name__ == "__main__":
    for n in NAMES:
        renamed(n)()
