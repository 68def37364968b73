"""sys.settrace, sys.setprofile (and sys.monitoring on 3.12+) see the same events under glass."""

import sys

counts = {}


def tracer(frame, event, arg):
    key = "trace " + event
    counts[key] = counts.get(key, 0) + 1
    return tracer


def profiler(frame, event, arg):
    key = "profile " + event
    counts[key] = counts.get(key, 0) + 1


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield i


def fails():
    raise KeyError("x")


def workload():
    total = fib(8)
    for v in gen(3):
        total += v
    try:
        fails()
    except KeyError:
        total += 1
    total += len(str(total))
    return total


def coverage(func):
    """Lines of func run, relative to its def, the way coverage tools record them."""
    lines = set()
    code = func.__code__

    def local(frame, event, arg):
        if event == "line":
            lines.add(frame.f_lineno - code.co_firstlineno)
        return local

    def on_call(frame, event, arg):
        return local if frame.f_code is code else None

    sys.settrace(on_call)
    func()
    sys.settrace(None)
    return sorted(lines)


def monitoring():
    mon = sys.monitoring
    tool = 3
    seen = {}

    def on_start(code, offset):
        seen["start"] = seen.get("start", 0) + 1

    def on_return(code, offset, value):
        seen["return"] = seen.get("return", 0) + 1

    mon.use_tool_id(tool, "e2e")
    mon.register_callback(tool, mon.events.PY_START, on_start)
    mon.register_callback(tool, mon.events.PY_RETURN, on_return)
    mon.set_events(tool, mon.events.PY_START | mon.events.PY_RETURN)
    workload()
    mon.set_events(tool, 0)
    mon.free_tool_id(tool)
    return sorted(seen.items())


def main():
    sys.settrace(tracer)
    r1 = workload()
    sys.settrace(None)
    sys.setprofile(profiler)
    r2 = workload()
    sys.setprofile(None)
    print("results", r1, r2)
    for key in sorted(counts):
        print(key, counts[key])
    print("covered lines of workload", coverage(workload))
    if hasattr(sys, "monitoring"):
        print("monitoring", monitoring())


main()
