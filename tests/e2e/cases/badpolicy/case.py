"""Setup problems: one "glass: " line on stderr, and the program runs on unchanged."""

import os
import re

from glasstest import check


# "<file>:3:<col>" or "line 3, column <col>": the place of the error in the policy file.
POLICY_ERROR = r"^glass: .*glimpse-policy\.json.*(:3:\d+|line 3\D+\d+)"


def case_invalid_policy_in_project(t):
    # GIVEN a glimpse-policy.json with a syntax error on line 3 next to the program
    runs = t.run_both([t.python, "app.py"], cwd=t.workdir / "invalid",
                      glass_stderr=[POLICY_ERROR], expect_session=None)
    # THEN exactly one glass line names the file, line and column; output is unchanged
    check(runs.plain.stdout == "hello world\n", "program output")


def case_invalid_policy_from_env(t):
    # GIVEN GLASS_POLICY naming the same broken file
    policy = t.workdir / "invalid" / "glimpse-policy.json"
    runs = t.run_both([t.python, "app.py"], glass_env={"GLASS_POLICY": str(policy)},
                      glass_stderr=[POLICY_ERROR], expect_session=None)
    check(runs.plain.stdout == "hello world\n", "program output")


def unwritable(t, out):
    runs = t.run_both([t.python, "app.py"], glass_env={"GLASS_OUT": str(out)},
                      glass_stderr=[r"^glass: .*" + re.escape(str(out))], expect_session=False)
    check(runs.plain.stdout == "hello world\n", "program output")


def case_glass_out_is_a_file(t):
    # GIVEN GLASS_OUT naming a regular file THEN one glass line naming it; the program runs on
    out = t.workdir / "a-file"
    out.write_text("not a directory\n")
    unwritable(t, out)
    check(out.read_text() == "not a directory\n", "glass changed the file GLASS_OUT named")


def case_glass_out_below_a_file(t):
    # GIVEN GLASS_OUT below a regular file (cannot be created, even by root)
    (t.workdir / "a-file").write_text("x\n")
    unwritable(t, t.workdir / "a-file" / "glass-out")


def case_glass_out_read_only_dir(t):
    # GIVEN GLASS_OUT inside a directory we may not write to
    if os.geteuid() == 0:
        t.skip("root writes to read-only directories (the two cases above cover root)")
    ro = t.workdir / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        unwritable(t, ro / "glass-out")
    finally:
        ro.chmod(0o755)


def case_glass_disable(t):
    # GIVEN GLASS_DISABLE=1 THEN nothing is printed and nothing recorded
    runs = t.run_both([t.python, "app.py"], glass_env={"GLASS_DISABLE": "1"},
                      glass_stderr="none", expect_session=False)
    check(not runs.traced.out_dir.exists() or not any(runs.traced.out_dir.iterdir()),
          f"GLASS_DISABLE=1 but {runs.traced.out_dir} has files")
    # AND without it, the same run is recorded (GLASS_DISABLE is what made the difference)
    control = t.run_traced([t.python, "app.py"])
    if t.target.supported:
        check(control.session is not None, "control run without GLASS_DISABLE recorded nothing")
