"""A full disk under GLASS_OUT: the host runs on unchanged, glass says so once, every record it
could not write is counted, and what it wrote reads back. Needs root (mount -t tmpfs)."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from glasstest import check, eq

CHUNK_KB = "32"  # small chunks: the file system takes a few before it is full
NO_SPACE = r"^glass: cannot write more of the recording in .*: No space left on device; " \
           r"records are dropped and counted from now on$"


def small_fs(t):
    """A 256 KiB tmpfs in the case's directory; the caller unmounts it with unmount()."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        t.skip("needs root and mount(8) for a small tmpfs")
    mnt = t.tmp / "small-fs"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        t.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    return mnt


def unmount(mnt):
    for args in (["umount", str(mnt)], ["umount", "-l", str(mnt)]):
        if subprocess.run(args, capture_output=True).returncode == 0:
            return


def wait_compressor(session, seconds=15):
    """The session's detached compressor is done (it works on the small file system too)."""
    pidfile = session / "compressor.pid"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid = int(pidfile.read_text().strip() or 0)
            os.kill(pid, 0)
        except (OSError, ValueError):
            return
        time.sleep(0.05)


def record_counts(info):
    """{record type: count} from glass-report info's "records by type", and the lost counter."""
    counts = {}
    section = info.split("records by type", 1)[1].split("\n\n", 1)[0]
    for line in section.splitlines():
        m = re.match(r"^\s+([A-Za-z_]+)\s+([\d,]+)\s*$", line)
        if m:
            counts[m.group(1).upper()] = int(m.group(2).replace(",", ""))
    m = re.search(r"^lost\s+([\d,]+) records", info, re.M)
    check(m, "no 'lost N records' line in info:\n" + info)
    return counts, int(m.group(1).replace(",", ""))


def emitted(counts, lost):
    """Records the program made: written ones (less chunk starts and LOST markers) + lost."""
    return counts["TOTAL"] - counts.get("CHUNK_START", 0) - counts.get("LOST", 0) + lost


def disk_full(t, glass_env):
    if not t.target.supported:
        t.skip("nothing is recorded on this Python: no disk to fill")
    env = dict(glass_env, GLASS_CHUNK_KB=CHUNK_KB)
    # the same run with room to spare: how many records the program makes
    ref = t.run_traced([t.python, "calls.py"], glass_env=env)
    check(ref.session is not None, "reference run recorded nothing")
    wait_compressor(ref.session)
    info = subprocess.run(t.glass_report_cmd(["info", "{s}"], s=ref.session),
                          capture_output=True, text=True, timeout=120)
    eq(info.returncode, 0, "glass-report info of the reference run: exit status")
    ref_counts, ref_lost = record_counts(info.stdout)
    eq(ref_lost, 0, "records lost with room to spare")
    mnt = small_fs(t)
    try:
        # GIVEN GLASS_OUT on a 256 KiB file system
        out = mnt / "glass-out"
        runs = t.run_both([t.python, "calls.py"], glass_env=dict(env, GLASS_OUT=str(out)),
                          glass_stderr=[NO_SPACE], expect_session=None)
        # THEN the program's output and status are unchanged, with one line from glass
        eq(runs.plain.stdout, "total 100100000\n", "program output")
        runs.traced.out_dir = out
        sessions = runs.traced.sessions()
        eq(len(sessions), 1, f"sessions in {out}")
        runs.traced.session = sessions[0]
        wait_compressor(runs.traced.session)
        # AND what was written reads back
        rep = t.report(runs.traced)
        counts, lost = record_counts(rep.info)
        check(lost > 0, "nothing lost on a 256 KiB file system?\n" + rep.info)
        check(rep.count("work") > 1000, f"only {rep.count('work')} work spans read back")
        # AND every record the program made is either in the recording or counted as lost
        eq(emitted(counts, lost), emitted(ref_counts, 0),
           f"records written + lost ({lost} lost), against the run with room")
        check(re.search(r"state\s+exited, status 0", rep.info),
              "the process's clean end is not in the recording:\n" + rep.info)
        return rep
    finally:
        unmount(mnt)


def case_disk_full(t):
    disk_full(t, {})


def case_disk_full_no_compressor(t):
    # GIVEN no background compressor: the chunks are compressed at exit, on the full disk
    disk_full(t, {"GLASS_COMPRESSOR": "0"})


def case_disk_full_open_spans_are_lost(t):
    # GIVEN a recording that stopped on a full disk while main() ran, in a process that then
    # exited normally
    rep = disk_full(t, {"GLASS_COMPRESSOR": "0"})
    # THEN main is "lost" (records were dropped while it ran: README, Output), not
    # "unfinished" (which says the process ended first, as after SIGKILL)
    bad = [s.short() for s in rep.spans if s.status == "unfinished"]
    check(not bad, "spans open when the disk filled up are reported unfinished although the "
                   "process exited normally: " + "; ".join(bad))


def case_file_size_limit(t):
    # GIVEN a program under `ulimit -f 1024` (1 MiB, below glass's 2 MiB chunks) with SIGXFSZ
    # at its default action (kills the process)
    if not shutil.which("prlimit"):
        t.skip("prlimit (util-linux) is not installed")
    argv = ["prlimit", f"--fsize={1 << 20}", t.python, "fsize.py"]
    plain = t.run(argv, traced=False)
    traced = t.run(argv, traced=True)
    eq(plain.returncode, 0, "exit status without glass")
    eq(plain.stdout, "total 45000150000\n", "program output")
    # THEN glass's chunk files must not kill it (SIGXFSZ): same status and output
    eq(traced.returncode, plain.returncode,
       "exit status under glass (-25 is SIGXFSZ: glass's posix_fallocate of a chunk past the "
       "file size limit)")
    eq(traced.stdout, plain.stdout, "program output under glass")
