"""Ways of starting Python: each records spans for the user's code."""

from glasstest import eq


def traced_names(t, argv, stdout, names, stdin=None):
    runs = t.run_both(argv, stdin=stdin)
    eq(runs.plain.stdout, stdout, "program output")
    rep = t.report(runs.traced)
    rep.expect_names(names)
    return rep


def case_file(t):
    traced_names(t, [t.python, "prog.py"], "hello file\n", {"greet": 1})


def case_dash_c(t):
    code = "def hello_c():\n    return 'hello -c'\n\nprint(hello_c())\n"
    traced_names(t, [t.python, "-c", code], "hello -c\n", {"hello_c": 1})


def case_dash_m(t):
    traced_names(t, [t.python, "-m", "mymod"], "hello module\n", {"mod_func": 1})


def case_directory(t):
    rep = traced_names(t, [t.python, "appdir"], "hello dir\n", {"dir_main": 1, "helper_func": 1})
    rep.expect_parent("helper_func", "dir_main")


def case_stdin(t):
    source = (t.workdir / "stdin_prog.py").read_text()
    traced_names(t, [t.python, "-"], "hello stdin\n", {"from_stdin": 1}, stdin=source)


def case_dev_mode(t):
    # -X dev turns on the debug memory allocators (PYTHONMALLOC=debug) and other checks
    traced_names(t, [t.python, "-X", "dev", "prog.py"], "hello file\n", {"greet": 1})


def case_pymalloc_debug(t):
    runs = t.run_both([t.python, "prog.py"], env={"PYTHONMALLOC": "debug"})
    eq(runs.plain.stdout, "hello file\n", "program output")
    t.report(runs.traced).expect_names({"greet": 1})
