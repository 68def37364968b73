"""A program with its own sys.monitoring tools: a profiler counting calls and returns, and a
coverage tool recording lines that returns DISABLE after each line's first hit (coverage.py's
way), then restart_events(), which re-arms every tool's disabled events (glass's too).

No generator expression runs while the coverage tool is on: CPython 3.13.0 reports LINE events
inside one only when another tool has PY_START set (any second tool, glass's or not).
"""

import sys

mon = sys.monitoring
E = mon.events


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield i * 2


def fails():
    raise KeyError("k")


def workload():
    total = fib(9)
    total += sum(gen(4))
    try:
        fails()
    except KeyError:
        total += 1
    return total


def profile():
    counts = {}

    def bump(key):
        counts[key] = counts.get(key, 0) + 1

    mon.use_tool_id(mon.PROFILER_ID, "e2e-profiler")
    mon.register_callback(mon.PROFILER_ID, E.PY_START, lambda code, off: bump("start"))
    mon.register_callback(mon.PROFILER_ID, E.PY_RETURN, lambda code, off, v: bump("return"))
    mon.register_callback(mon.PROFILER_ID, E.PY_YIELD, lambda code, off, v: bump("yield"))
    mon.register_callback(mon.PROFILER_ID, E.PY_UNWIND, lambda code, off, e: bump("unwind"))
    mon.set_events(mon.PROFILER_ID, E.PY_START | E.PY_RETURN | E.PY_YIELD | E.PY_UNWIND)
    result = workload()
    mon.set_events(mon.PROFILER_ID, 0)
    for ev in (E.PY_START, E.PY_RETURN, E.PY_YIELD, E.PY_UNWIND):
        mon.register_callback(mon.PROFILER_ID, ev, None)
    mon.free_tool_id(mon.PROFILER_ID)
    return result, sorted(counts.items())


def cover():
    lines = {}

    def on_line(code, line):
        lines.setdefault(code.co_name, set()).add(line - code.co_firstlineno)
        return mon.DISABLE

    mon.use_tool_id(mon.COVERAGE_ID, "e2e-coverage")
    mon.register_callback(mon.COVERAGE_ID, E.LINE, on_line)
    mon.set_events(mon.COVERAGE_ID, E.LINE)
    first = workload()
    again = workload()  # every line already hit: all disabled, nothing new
    n_before = sum(map(len, list(lines.values())))  # no generator expression: see below
    mon.restart_events()
    workload()  # re-armed: the same lines again, nothing new either
    mon.set_events(mon.COVERAGE_ID, 0)
    mon.register_callback(mon.COVERAGE_ID, E.LINE, None)
    mon.free_tool_id(mon.COVERAGE_ID)
    return first, again, n_before, {k: sorted(v) for k, v in sorted(lines.items())}


def main():
    print("profile", profile())
    print("cover", cover())
    print("tools", [mon.get_tool(i) for i in (0, 1, 2)])


main()
