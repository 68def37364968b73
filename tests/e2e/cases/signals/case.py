"""Signals arriving while glass records: the program computes, waits and talks exactly as
without glass, and the handler's calls are in the recording."""

from glasstest import check, eq

FIB18_CALLS = 8361  # calls of fib(18), recursion included
FIB15_CALLS = 1973


def case_sigalrm_storm(t):
    # GIVEN SIGALRM every 200 us, a handler calling tick(), while two threads call fib,
    # the program serves and fetches an HTTP response on loopback, sleeps and reads a pipe
    runs = t.run_both([t.python, "storm.py"])
    eq(runs.plain.returncode, 0, "exit status")
    eq(runs.plain.stdout, "fib [2584, 2584, 2584] thread [3050] http HTTP/1.1 200 OK 50042 "
       "pipe ok\nhandled some True\n", "program output")
    handled = int((t.workdir / "handled.txt").read_text())  # the traced run's count
    # THEN every call is there, exactly
    rep = t.report(runs.traced)
    rep.expect_names({"fib": 3 * FIB18_CALLS + 5 * FIB15_CALLS, "main": 1, "thread_work": 1,
                      "serve": 1, "http_get": 1, "tick": handled, "on_alarm": handled})
    # AND the handler ran on the main thread, inside whatever it interrupted
    for s in rep.named("on_alarm"):
        eq(s.thread, "MainThread", "thread of on_alarm")
        check(rep.parent(s) is not None, "on_alarm has no parent: it interrupted traced code")
    rep.expect_parent("tick", "on_alarm")
    check(all(s.status == "ok" for s in rep.spans), "spans that are not ok: " + ", ".join(
        s.short() for s in rep.spans if s.status != "ok")[:500])
    # AND the HTTP exchange the signals kept interrupting was captured whole, on both ends
    for kind in ("http_client", "http_server"):
        spans = [s for s in rep.spans if s.get("kind") == kind]
        eq(len(spans), 1, f"{kind} spans")
        attrs = spans[0].get("attributes") or {}
        eq((attrs.get("http.response.status_code"), attrs.get("http.response.body.size")),
           (200, 50000), f"{kind} status and body size")
        eq(attrs.get("url.query"), "token=REDACTED", f"{kind} query string")
