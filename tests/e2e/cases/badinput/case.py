"""Hostile configuration: garbage in GLASS_* variables, policy files that are huge, binary,
devices or symlink loops. Each gives one clear "glass: " line (no control bytes, no second
line), and the program runs on unchanged."""

import os
import random
import re

from glasstest import TransparencyOnly, check, eq

OUTPUT = "hello a\nhello b\nhello c\n"


def run(t, glass_env, glass_stderr, expect_session=None, cwd=None):
    if not t.target.supported and glass_env.keys() & {"GLASS_CHUNK_KB", "GLASS_MAX_MB",
                                                      "GLASS_COMPRESS_MS", "GLASS_LOG"}:
        return run_untraced(t, glass_env, glass_stderr, cwd)
    runs = t.run_both([t.python, "app.py"], glass_env=glass_env, glass_stderr=glass_stderr,
                      expect_session=expect_session, cwd=cwd)
    eq(runs.plain.stdout, OUTPUT, "program output")
    eq(runs.plain.returncode, 0, "exit status")
    return runs


def run_untraced(t, glass_env, glass_stderr, cwd):
    """On a Python glass does not trace, the environment is read first: its lines, then the
    "not supported" one. Nothing else differs."""
    plain = t.run([t.python, "app.py"], traced=False, cwd=cwd)
    traced = t.run([t.python, "app.py"], traced=True, glass_env=glass_env, cwd=cwd)
    eq((traced.returncode, traced.stdout), (plain.returncode, plain.stdout),
       "exit status and output under glass")
    lines = traced.stderr.splitlines()
    glass = [ln for ln in lines if ln.startswith("glass: ")]
    eq([ln for ln in lines if not ln.startswith("glass: ")], plain.stderr.splitlines(),
       "stderr under glass, but glass's lines")
    want = [re.compile(r) for r in glass_stderr] + [t.target.unsupported_line]
    check(len(glass) == len(want) and all(r.search(g) for r, g in zip(want, glass)),
          f"glass's lines: expected {[r.pattern for r in want]}, got {glass!r}")
    t.note(f"transparency only: Python {t.target.version_text} is not traced")
    raise TransparencyOnly()


def clean_lines(runs):
    """glass's stderr is whole lines of printable text."""
    for line in runs.traced.stderr.splitlines():
        if line.startswith("glass: "):
            check(not re.search(r"[\x00-\x1f\x7f]", line), f"control bytes in {line!r}")


def recorded(t, runs):
    """The run recorded as usual (the bad setting fell back to its default)."""
    t.report(runs.traced).expect_names({"main": 1, "greet": 3})


def case_numbers_that_are_not(t):
    # GIVEN sizes that are not numbers, negative, or out of range
    env = {"GLASS_CHUNK_KB": "abc", "GLASS_MAX_MB": "-1", "GLASS_COMPRESS_MS": "1e3"}
    runs = run(t, env, [
        r"^glass: ignoring GLASS_CHUNK_KB=abc \(expected a number from \d+ to \d+\)$",
        r"^glass: ignoring GLASS_MAX_MB=-1 \(expected a number from \d+ to \d+\)$",
        r"^glass: ignoring GLASS_COMPRESS_MS=1e3 \(expected a number from \d+ to \d+\)$",
    ], expect_session=True)
    # THEN one line each, and the defaults are used: the program is recorded
    recorded(t, runs)


def case_numbers_too_big(t):
    env = {"GLASS_CHUNK_KB": "99999999999999999999999", "GLASS_MAX_MB": "0x10",
           "GLASS_COMPRESS_MS": " "}
    runs = run(t, env, [r"^glass: ignoring GLASS_CHUNK_KB=9+ \(expected",
                        r"^glass: ignoring GLASS_MAX_MB=0x10 \(expected",
                        r"^glass: ignoring GLASS_COMPRESS_MS=  \(expected"],
               expect_session=True)
    recorded(t, runs)


def case_unknown_log_level(t):
    runs = run(t, {"GLASS_LOG": "loud"},
               [r"^glass: ignoring GLASS_LOG=loud \(expected quiet, info or debug\)$"],
               expect_session=True)
    recorded(t, runs)


def case_control_bytes_in_a_value(t):
    # GIVEN a value with a newline and a terminal escape sequence in it
    env = {"GLASS_CHUNK_KB": "12\nglass: forged line\x1b[31m"}
    runs = run(t, env, [r"^glass: ignoring GLASS_CHUNK_KB=12.glass: forged line.\[31m "
                        r"\(expected a number"], expect_session=True)
    # THEN still one line, without the control bytes
    clean_lines(runs)
    recorded(t, runs)


def case_unusable_glass_out_with_a_newline(t):
    # GIVEN GLASS_OUT below a regular file (cannot be created), its name holding a newline
    (t.workdir / "a-file").write_text("x\n")
    out = str(t.workdir / "a-file" / "out\nglass: forged")
    runs = run(t, {"GLASS_OUT": out}, [r"^glass: cannot use output directory .*a-file/out"])
    clean_lines(runs)


def case_glass_out_with_a_newline(t):
    # GIVEN a GLASS_OUT whose name holds a newline (a valid name)
    out = t.tmp / "out\nput"
    runs = run(t, {"GLASS_OUT": str(out)}, [])
    if not t.target.supported:
        return
    sessions = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
    eq(len(sessions), 1, f"sessions in {out!r}")
    # THEN it records there, and glass-report reads it
    runs.traced.session = sessions[0]
    recorded(t, runs)


def case_glass_out_longer_than_path_max(t):
    # GIVEN a GLASS_OUT of 4500 characters (PATH_MAX is 4096)
    base = t.tmp / "long"
    out = str(base) + "/aaaaaaaaa" * 450
    runs = run(t, {"GLASS_OUT": out}, [r"^glass: "], expect_session=None)
    check(len(runs.traced.stderr.splitlines()) == 1, "one line")
    # THEN whatever glass created is on the way to the directory named (mkdir -p), not a
    # truncated spelling of it
    made = [str(p) for p in base.rglob("*")] if base.exists() else []
    wrong = [m for m in made if not (out + "/").startswith(m + "/")]
    check(not wrong, f"glass created {wrong[0][-30:]!r} ({len(wrong[0])} chars), which is not "
                     f"a directory on the way to GLASS_OUT ({len(out)} chars, ending "
                     f"{out[-30:]!r}): the name was cut at PATH_MAX" if wrong else "")


def case_empty_glass_policy(t):
    # GIVEN GLASS_POLICY set but empty THEN it is as if unset: the default policy, no line
    runs = run(t, {"GLASS_POLICY": ""}, [], expect_session=True)
    recorded(t, runs)


# -- policy files -------------------------------------------------------------------------------

def bad_policy(t, path, message, cwd=None, env=True):
    glass_env = {"GLASS_POLICY": str(path)} if env else {}
    runs = run(t, glass_env, [r"^glass: " + message + r".*; tracing disabled$"], cwd=cwd)
    clean_lines(runs)
    return runs


def case_policy_larger_than_1mib(t):
    # GIVEN a valid JSON policy padded with spaces to 2 MiB
    p = t.workdir / "huge.json"
    p.write_text('{"included_packages": ["__main__"]}' + " " * (2 << 20))
    bad_policy(t, p, re.escape(str(p)) + r": larger than 1 MiB")


def case_policy_of_random_bytes(t):
    # GIVEN 4 KiB of random bytes (NUL bytes among them)
    p = t.workdir / "random.json"
    p.write_bytes(bytes([0x7b]) + random.Random(5).randbytes(4096))
    bad_policy(t, p, re.escape(str(p)) + r":\d+:\d+: (NUL byte|invalid JSON)")


def case_policy_of_random_bytes_without_nul(t):
    data = bytes(b for b in random.Random(6).randbytes(8192) if b)
    p = t.workdir / "random.json"
    p.write_bytes(b'{"' + data)
    bad_policy(t, p, re.escape(str(p)) + r":\d+:\d+: invalid JSON")


def case_policy_symlink_to_itself(t):
    p = t.workdir / "self.json"
    os.symlink("self.json", p)
    bad_policy(t, p, re.escape(str(p)) + r": cannot read: Too many levels of symbolic links")


def case_policy_symlink_loop_found_in_project(t):
    # GIVEN glimpse-policy.json next to the program, a symlink loop (a -> b -> a)
    os.symlink("loop-b", t.workdir / "glimpse-policy.json")
    os.symlink("glimpse-policy.json", t.workdir / "loop-b")
    bad_policy(t, t.workdir / "glimpse-policy.json",
               r".*glimpse-policy\.json: cannot read: Too many levels of symbolic links",
               env=False)


def case_policy_is_a_device(t):
    # GIVEN endless devices THEN refused at once (not read until memory runs out)
    for dev in ("/dev/zero", "/dev/urandom"):
        bad_policy(t, dev, re.escape(dev) + r": cannot read: not a regular file")


def case_policy_is_a_fifo(t):
    # GIVEN a FIFO nobody writes to THEN refused without blocking the host
    p = t.workdir / "fifo.json"
    os.mkfifo(p)
    bad_policy(t, p, re.escape(str(p)) + r": cannot read: not a regular file")


def case_policy_is_a_directory(t):
    bad_policy(t, t.workdir, re.escape(str(t.workdir)) + r": cannot read: is a directory")


def case_policy_name_with_control_bytes(t):
    p = str(t.workdir / "no\nsuch\x1b[2J.json")
    bad_policy(t, p, r".*/no\?such\?\[2J\.json: cannot read: No such file or directory")
