"""Takes all six sys.monitoring tool ids and watches its own work through each."""

import sys

mon = sys.monitoring
E = mon.events
seen = {}


def work(n):
    return n if n < 2 else work(n - 1) + work(n - 2)


def bump(key):
    seen[key] = seen.get(key, 0) + 1


def main():
    for tool in range(6):
        mon.use_tool_id(tool, f"mine{tool}")
        mon.register_callback(tool, E.PY_START, lambda code, off, t=tool: bump((t, "start")))
        mon.register_callback(tool, E.PY_RETURN, lambda code, off, v, t=tool: bump((t, "ret")))
        mon.set_local_events(tool, work.__code__, E.PY_START | E.PY_RETURN)
    print(work(10))
    for tool in range(6):
        mon.set_local_events(tool, work.__code__, 0)
        mon.free_tool_id(tool)
    print(sorted(seen.items()))
    print([mon.get_tool(i) for i in range(6)])


if __name__ == "__main__":
    print(work(5))  # traced before the program takes the ids
    main()
