"""Processes that are not Python: the preload stays out of their way and records nothing."""

import shutil

from glasstest import check


def not_python(t, argv):
    if not shutil.which(argv[0]):
        t.skip(f"{argv[0]} is not installed")
    # The preload really is in such processes (so the comparison below means something)
    maps = t.run(["cat", "/proc/self/maps"], traced=True)
    check(str(t.preload) in maps.stdout, f"{t.preload} is not mapped in a preloaded cat")
    runs = t.run_both(argv, glass_stderr="none", expect_session=False)
    check(runs.plain.returncode == 0 and runs.plain.stdout, f"{argv} printed nothing")
    out = runs.traced.out_dir
    check(not out.exists() or not any(out.iterdir()), f"{' '.join(argv)} left files in {out}")


def case_bash(t):
    not_python(t, ["bash", "-c", "echo hi"])


def case_ls(t):
    not_python(t, ["ls", "/"])


def case_gcc(t):
    not_python(t, ["gcc", "--version"])
