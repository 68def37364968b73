"""An exception nobody catches: traceback on stderr, exit status 1."""


def fail(code):
    raise RuntimeError("boom %d" % code)


def work():
    fail(7)


def main():
    print("starting", flush=True)
    work()
    print("not reached")


main()
