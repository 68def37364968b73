"""The benchmark runner behind scripts/bench (stdlib only; run it with /usr/bin/python3).

Every figure is a RATIO to the plain interpreter measured in the same run, never an absolute
claim. Suites (--only picks some):

  cpu      wall time of fib.py and mixed.py: plain, glass tracing every call (trace-all.json),
           glass with the default policy (no policy file: the user's code), and cProfile;
           median of --runs runs, variants alternated round-robin so drift hits all alike
  size     bytes on disk per recorded call (session size after glass-report / CALL records)
  cpucg    instructions per fib call under callgrind: plain, a no-op PEP 523 evaluator (the
           floor any evaluator sets), glass tracing every call, glass with the default policy;
           the difference of fib(25) and fib(20) runs, so start-up and exit cancel; steady
           where wall time is noisy
  startup  time glass adds to `python -c pass` (hyperfine if installed, else median of 30)
  report   glass-report summary and flamegraph --folded over recordings of 50M records (a
           real program under trace-all, and gen-synthetic's random trees): records a
           second and peak RSS
  webcg    instructions per request (callgrind) in one gunicorn worker and in uvicorn: plain,
           a no-op PEP 523 evaluator, glass tracing nothing, glass default; steady where
           requests/s are noisy. --webcg-python runs it on another interpreter with Debian's
           pure-Python packages on its path (a server whose app does not import there is
           reported as such: FastAPI needs a newer typing_extensions than Debian 12's on 3.12)
  clientcg instructions per request (callgrind) of an HTTP client loop (client_loop.py,
           1 KB responses, one kept-alive connection) over HTTP and HTTPS: plain, glass
           default, glass with capture_tls off, glass with propagate_context on
  web      requests/s under wrk with and without glass (default policy, every capture on),
           alternated in the same run (ABBA order): Flask + SQLAlchemy/SQLite on gunicorn
           (2 sync workers) and FastAPI on uvicorn; Debian's /usr/bin/python3 only (it has
           them); the server pinned to CPU 0 and wrk to CPU 1 when there are two CPUs; each
           round's variants share one PYTHONHASHSEED (round N: N); --web-floor adds glass
           tracing nothing (the evaluator hook alone)

Writes a table to stdout and everything measured to bench-results.json (--json PATH).
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

WORKLOADS = {
    # name: (script, args, calls expected in the trace, or None)
    "fib": ("fib.py", ["30"], 2692537),
    "mixed": ("mixed.py", [], None),
}
# glass-sample99: the default policy with CPU sampling at 99 Hz (native stacks)
VARIANTS = ["plain", "glass-all", "glass-default", "glass-sample99", "cprofile"]
SUPPORTED = {(3, 9), (3, 10), (3, 11), (3, 12), (3, 13)}


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build).resolve()
        self.preload = self.build / "preload" / "libglass.so"
        self.report = self.build / "tools" / "glass-report"
        self.tmp = Path(tempfile.mkdtemp(prefix="glass-bench."))
        # Workloads run from a copy in a directory with no glimpse-policy.json above it, so
        # that "default policy" really is the default.
        self.work = self.tmp / "work"
        self.work.mkdir()
        for script, _, _ in WORKLOADS.values():
            shutil.copy(HERE / script, self.work / script)
        self.policy_all = HERE / "trace-all.json"

    def env(self, variant, out_dir):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GLASS_", "PYTHON")) and k != "LD_PRELOAD"}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if variant.startswith("glass"):
            env["LD_PRELOAD"] = str(self.preload)
            env["GLASS_OUT"] = str(out_dir)
            if variant == "glass-all":
                env["GLASS_POLICY"] = str(self.policy_all)
            if variant == "glass-sample99":
                env["GLASS_SAMPLE_HZ"] = "99"
        return env

    def argv(self, python, variant, workload):
        script, wargs, _ = WORKLOADS[workload]
        if variant == "cprofile":
            return [python, "-m", "cProfile", "-o", os.devnull, script] + wargs
        return [python, script] + wargs

    def run_once(self, python, variant, workload):
        """(seconds, GLASS_OUT dir, session dir or None); the caller removes the GLASS_OUT dir."""
        out_dir = Path(tempfile.mkdtemp(prefix="out.", dir=self.tmp))
        argv = self.argv(python, variant, workload)
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=str(self.work), env=self.env(variant, out_dir),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        secs = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} ({variant}) exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace')[-500:]}")
        if proc.stderr.strip():
            raise RuntimeError(f"{variant} printed on stderr: "
                               f"{proc.stderr.decode(errors='replace')[-500:]}")
        sessions = [p for p in out_dir.iterdir() if p.is_dir()]
        return secs, out_dir, (sessions[0] if len(sessions) == 1 else None)

    # -- suites ----------------------------------------------------------------------------------
    def cpu(self, python):
        results = {}
        for workload in WORKLOADS:
            samples = {v: [] for v in VARIANTS}
            recorded = {v: True for v in VARIANTS if v.startswith("glass")}
            print(f"  {workload}: ", end="", flush=True)
            for rnd in range(self.args.runs + 1):  # round 0 warms up and is not counted
                # Rotate the starting variant each round: no variant always follows another.
                order = VARIANTS[rnd % len(VARIANTS):] + VARIANTS[:rnd % len(VARIANTS)]
                for v in order:
                    secs, out_dir, session = self.run_once(python, v, workload)
                    if v in recorded and session is None:
                        recorded[v] = False
                    shutil.rmtree(out_dir, ignore_errors=True)
                    if rnd > 0:
                        samples[v].append(secs)
                print("." if rnd else "w", end="", flush=True)
            print()
            plain = statistics.median(samples["plain"])
            results[workload] = {
                v: {"median_s": statistics.median(s), "samples_s": s,
                    "ratio": statistics.median(s) / plain,
                    **({"recorded": recorded[v]} if v in recorded else {})}
                for v, s in samples.items()
            }
        return results

    def cpucg(self, python):
        """Instructions per fib call (callgrind): see the module docstring."""
        if not shutil.which("valgrind"):
            return {"error": "valgrind not installed"}
        args = (20, 25)
        calls = [fib_calls(n) for n in args]
        out = {}
        for variant in ("plain", "pep523", "glass-all", "glass-default"):
            totals = []
            for n in args:
                cg = Path(tempfile.mkdtemp(prefix="cg.", dir=self.tmp))
                out_dir = Path(tempfile.mkdtemp(prefix="out.", dir=self.tmp))
                env = self.env(variant if variant != "pep523" else "plain", out_dir)
                if variant == "pep523":
                    env["LD_PRELOAD"] = str(self.build / "examples" / "bench" /
                                            "libpep523noop.so")
                env["PYTHONHASHSEED"] = "0"
                p = subprocess.run(["valgrind", "--tool=callgrind",
                                    f"--callgrind-out-file={cg}/cg.out", python, "fib.py",
                                    str(n)], cwd=str(self.work), env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                if p.returncode != 0:
                    raise RuntimeError(f"callgrind of fib.py {n} ({variant}) exited "
                                       f"{p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
                m = re.search(r"^summary: (\d+)", (cg / "cg.out").read_text(errors="replace"),
                              re.M)
                totals.append(int(m.group(1)))
                print(".", end="", flush=True)
            out[variant] = (totals[1] - totals[0]) / (calls[1] - calls[0])
        print()
        return {"fib_args": list(args), "calls": calls, "instructions_per_call": out,
                "ratios": {v: out[v] / out["plain"] for v in out}}

    def size(self, python):
        results = {}
        for workload, (_, _, expected) in WORKLOADS.items():
            secs, out_dir, session = self.run_once(python, "glass-all", workload)
            entry = {"session_bytes": None, "calls": None, "bytes_per_call": None,
                     "expected_calls": expected}
            if session is None:
                entry["error"] = "no session recorded"
            else:
                settled = wait_settled(session)
                if not settled:
                    entry["note"] = "session still changing after 60 s"
                info = subprocess.run([str(self.report), "info", str(session)],
                                      capture_output=True, text=True, errors="replace")
                size = sum(f.stat().st_size for f in session.rglob("*") if f.is_file())
                entry["session_bytes"] = size
                if info.returncode != 0:
                    entry["error"] = f"glass-report info failed: {info.stderr.strip()[:300]}"
                else:
                    calls = parse_calls(info.stdout)
                    entry["calls"] = calls
                    if calls:
                        entry["bytes_per_call"] = size / calls
                        if expected and calls < expected:
                            entry["error"] = f"{calls} CALL records, the workload makes {expected}"
                    else:
                        entry["error"] = "no CALL count found in glass-report info"
                        entry["info"] = info.stdout[-2000:]
            shutil.rmtree(out_dir, ignore_errors=True)
            results[workload] = entry
        return results

    def startup(self, python):
        out_dir = self.tmp / "startup-out"
        out_dir.mkdir(exist_ok=True)
        env = self.env("glass-default", out_dir)
        plain_cmd = f"env {python} -c pass"
        glass_cmd = f"env LD_PRELOAD={self.preload} {python} -c pass"
        if shutil.which("hyperfine"):
            export = self.tmp / "hyperfine.json"
            subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", "30", "--style", "none",
                            "--export-json", str(export), plain_cmd, glass_cmd],
                           cwd=str(self.work), env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            data = json.loads(export.read_text())["results"]
            plain, glass = (statistics.median(r["times"]) for r in data)
            method = "hyperfine -N, median of 30"
        else:
            def median_of(cmd):
                times = []
                for _ in range(30):
                    start = time.perf_counter()
                    subprocess.run(cmd.split(), cwd=str(self.work), env=env, check=True)
                    times.append(time.perf_counter() - start)
                return statistics.median(times)
            plain, glass = median_of(plain_cmd), median_of(glass_cmd)
            method = "median of 30 (hyperfine not installed)"
        sessions = len([p for p in out_dir.iterdir() if p.is_dir()])
        shutil.rmtree(out_dir, ignore_errors=True)
        return {"plain_ms": plain * 1e3, "glass_ms": glass * 1e3,
                "added_ms": (glass - plain) * 1e3, "ratio": glass / plain, "method": method,
                "sessions_recorded": sessions}

    def web(self, python):
        """wrk against each server, plain and under glass alternately; ratio of medians."""
        if not shutil.which("wrk"):
            return {"error": "wrk not installed"}
        sys.path.insert(0, str(ROOT / "tests" / "wire"))
        import servers  # the wire tests' server starters
        apps = HERE
        out = {}
        db = self.tmp / "web.db"
        # the database exists before any worker starts (two workers creating it race)
        subprocess.run([python, "-c", "import web_flask"], cwd=str(apps), check=True,
                       env=dict(os.environ, BENCH_DB=str(db)))
        setups = {
            "flask-gunicorn": (lambda env, log: servers.start_gunicorn(
                env, log, workers=2, app="web_flask:app", extra=("--chdir", str(apps))),
                "/products/42"),
            "fastapi-uvicorn": (lambda env, log: start_uvicorn_app(env, log, apps),
                                "/items/42"),
        }
        # With two CPUs or more, the server runs on CPU 0 and wrk on CPU 1: they no longer
        # take turns on the same cores, which is most of the round-to-round noise.
        cpus = sorted(os.sched_getaffinity(0))
        pin = self.args.web_pin and len(cpus) >= 2
        server_cpus, wrk_cpus = ({cpus[0]}, {cpus[1]}) if pin else (set(cpus), set(cpus))
        variants = ["plain", "glass"]
        if self.args.web_floor:
            # the evaluator hook alone: nothing traced, no capture (what PEP 523 itself costs)
            floor_policy = self.tmp / "floor-policy.json"
            floor_policy.write_text(json.dumps({
                "included_packages": ["glass_bench_nothing"], "include_main": False,
                "capture": {k: False for k in ("sql", "mongo", "redis", "http_server",
                                               "http_client", "net")}}))
            variants.append("floor")
        for name, (start, path) in setups.items():
            rps = {v: [] for v in variants}
            recorded = []
            for rnd in range(self.args.web_rounds):
                # ABBA order: plain first in even rounds, last in odd ones
                for variant in (variants if rnd % 2 == 0 else variants[::-1]):
                    env = {k: v for k, v in os.environ.items()
                           if not k.startswith("GLASS_") and k != "LD_PRELOAD"}
                    env["BENCH_DB"] = str(db)
                    # One hash seed per round, the same for every variant of the round: string
                    # hashes decide dict layouts, and a server's requests/s moved by up to 10%
                    # from one random seed to the next, more than what is measured here.
                    env["PYTHONHASHSEED"] = str(1 + rnd)
                    gout = self.tmp / f"web-{name}-{rnd}-{variant}"
                    if variant != "plain":
                        env["LD_PRELOAD"] = str(self.preload)
                        env["GLASS_OUT"] = str(gout)
                    if variant == "floor":
                        env["GLASS_POLICY"] = str(floor_policy)
                    os.sched_setaffinity(0, server_cpus)  # the server's processes inherit it
                    try:
                        srv = start(env, str(self.tmp / f"{name}.log"))
                    finally:
                        os.sched_setaffinity(0, cpus)
                    on_wrk_cpus = (lambda: os.sched_setaffinity(0, wrk_cpus))
                    try:
                        w = subprocess.run(["wrk", "-t1", "-c4", "-d1s",
                                            f"http://127.0.0.1:{srv.port}{path}"],
                                           capture_output=True, text=True, check=True,
                                           preexec_fn=on_wrk_cpus)  # warm-up
                        p = subprocess.run(["wrk", "-t2", "-c16", f"-d{self.args.web_seconds}s",
                                            f"http://127.0.0.1:{srv.port}{path}"],
                                           capture_output=True, text=True, check=True,
                                           preexec_fn=on_wrk_cpus)
                    finally:
                        srv.stop()
                    m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
                    # what wrk sent, warm-up included: the recording holds both
                    n = [re.search(r"(\d+) requests in", x.stdout) for x in (w, p)]
                    rps[variant].append(float(m.group(1)) if m else 0.0)
                    if variant == "glass":
                        recorded.append(self.count_requests(
                            gout, sum(int(x.group(1)) for x in n) if all(n) else None))
                    shutil.rmtree(gout, ignore_errors=True)
            plain, glass = statistics.median(rps["plain"]), statistics.median(rps["glass"])
            pairs = [g / q for g, q in zip(rps["glass"], rps["plain"]) if q]
            out[name] = {"plain_rps": rps["plain"], "glass_rps": rps["glass"],
                         "ratio": glass / plain if plain else None,
                         "median_round_ratio": statistics.median(pairs) if pairs else None,
                         "round_ratios": pairs, "recorded": recorded,
                         "seconds": self.args.web_seconds,
                         **({"floor_rps": rps["floor"],
                             "floor_ratio": statistics.median(rps["floor"]) / plain
                             if plain else None,
                             "floor_round_ratios": [f / q for f, q in
                                                    zip(rps["floor"], rps["plain"]) if q]}
                            if "floor" in rps else {}),
                         "pinned": f"server on CPU {sorted(server_cpus)}, wrk on CPU "
                                   f"{sorted(wrk_cpus)}" if pin else "not pinned"}
        return out

    def webcg(self, python):
        """Instructions per request (callgrind) in one server process: Flask on one gunicorn
        sync worker, and FastAPI on uvicorn. Variants: plain; the cheapest PEP 523 evaluator
        (libpep523noop.so: what CPython itself loses once any evaluator is installed); glass
        tracing nothing with no capture (its evaluator alone); glass with the default policy
        and every capture. A request's count is the difference of a run of --webcg-requests requests and
        one of a quarter as many, divided by the difference, so start-up and shutdown cancel.
        Steady where requests/s are not: the same program each time (PYTHONHASHSEED=0), on any
        machine load. An interpreter other than Debian's gets Debian's packages on PYTHONPATH:
        the pure-Python ones load, compiled 3.11 extensions give way to their Python
        fallbacks (so its figures are not comparable with 3.11's, only its ratios)."""
        if not shutil.which("valgrind"):
            return {"error": "valgrind not installed"}
        sys.path.insert(0, str(ROOT / "tests" / "wire"))
        import servers
        import urllib.request
        db = self.tmp / "webcg.db"
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("GLASS_") and k != "LD_PRELOAD"}
        # Debian's gunicorn script as users run it; elsewhere the module, given time to boot a
        # worker under callgrind on pure-Python packages. (The two differ by about 1% in plain
        # instructions a request and in the ratios: compare ratios of one invocation only.)
        gunicorn = ["/usr/bin/gunicorn"]
        if os.path.realpath(python) != os.path.realpath("/usr/bin/python3"):
            base_env["PYTHONPATH"] = "/usr/lib/python3/dist-packages"
            gunicorn = ["-m", "gunicorn", "--timeout", "900"]
        floor_policy = self.tmp / "webcg-floor.json"
        floor_policy.write_text(json.dumps({
            "included_packages": ["glass_bench_nothing"], "include_main": False,
            "capture": {k: False for k in ("sql", "mongo", "redis", "http_server",
                                           "http_client", "net")}}))
        many = self.args.webcg_requests
        counts = (max(1, many // 4), many)
        servers_argv = {
            "flask-gunicorn": ([*gunicorn, "--workers", "1", "--chdir", str(HERE),
                                "web_flask:app", "--bind"], "/products/42", False, "web_flask"),
            "fastapi-uvicorn": (["-m", "uvicorn", "--app-dir", str(HERE), "--no-access-log",
                                 "web_fastapi:app", "--host", "127.0.0.1", "--port"],
                                "/items/42", True, "web_fastapi"),
        }
        results = {}
        for name, (argv, path, port_alone, module) in servers_argv.items():
            # does the app import here? (web_flask's import also makes its database, before
            # any run is counted)
            p = subprocess.run([python, "-c", f"import {module}"], cwd=str(HERE),
                               capture_output=True, text=True,
                               env=dict(base_env, BENCH_DB=str(db)))
            if p.returncode != 0:
                last = (p.stderr.strip().splitlines() or ["?"])[-1]
                results[name] = {"error": f"{module} does not import on {python}: {last}"}
                continue
            out = {}
            for variant in ("plain", "pep523", "floor", "glass"):
                totals = []
                for n in counts:
                    cg = self.tmp / f"cg-{name}-{variant}-{n}"
                    cg.mkdir()
                    env = dict(base_env, BENCH_DB=str(db), PYTHONHASHSEED="0")
                    if variant == "pep523":
                        env["LD_PRELOAD"] = str(self.build / "examples" / "bench" /
                                                "libpep523noop.so")
                    elif variant != "plain":
                        env.update(LD_PRELOAD=str(self.preload),
                                   GLASS_OUT=str(self.tmp / f"cg-out-{name}-{variant}-{n}"))
                    if variant == "floor":
                        env["GLASS_POLICY"] = str(floor_policy)
                    port = servers.free_port()
                    where = str(port) if port_alone else f"127.0.0.1:{port}"
                    proc = servers._spawn(
                        ["valgrind", "--tool=callgrind", "--trace-children=yes",
                         f"--callgrind-out-file={cg}/cg.%p", python, *argv, where],
                        env, str(self.tmp / "webcg.log"), cwd=str(HERE))
                    try:
                        servers.wait_port(port, proc, timeout=300)
                        url = f"http://127.0.0.1:{port}{path}"
                        for _ in range(n):
                            urllib.request.urlopen(url, timeout=120).read()
                    finally:
                        servers.Server(proc, port, None, stop_signal=15).stop(timeout=300)
                    # the process serving requests is the one with the most instructions
                    best = 0
                    for f in cg.iterdir():
                        m = re.search(r"^summary: (\d+)", f.read_text(errors="replace"), re.M)
                        if m:
                            best = max(best, int(m.group(1)))
                    totals.append(best)
                    print(".", end="", flush=True)
                out[variant] = (totals[1] - totals[0]) / (counts[1] - counts[0])
            results[name] = {"requests": list(counts), "instructions_per_request": out,
                             "glass_ratio": out["glass"] / out["plain"],
                             "floor_ratio": out["floor"] / out["plain"],
                             "pep523_ratio": out["pep523"] / out["plain"]}
        print()
        return results

    def clientcg(self, python):
        """Instructions per request (callgrind) of an HTTP client: examples/bench/client_loop.py,
        1 KB responses on one kept-alive connection, over plain HTTP and over TLS, against
        client_server.py (not measured). Variants: plain; glass default (every capture: the TLS
        plaintext parsed on https); glass with "capture_tls": false; glass with
        "propagate_context": true (a traceparent into every request). Counts as in webcg: the
        difference of two runs over the difference of their requests. Also the instructions
        spent in libglass's SSL_* wrappers themselves with capture_tls off (callgrind_annotate
        self counts), per request: what the switch leaves."""
        if not shutil.which("valgrind"):
            return {"error": "valgrind not installed"}
        sys.path.insert(0, str(ROOT / "tests" / "wire"))
        import servers
        cert, key = self.tmp / "cert.pem", self.tmp / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith("GLASS_") and k != "LD_PRELOAD"}
        policies = {"tls_off": {"capture_tls": False}, "propagate": {"propagate_context": True}}
        for name, pol in policies.items():
            (self.tmp / f"clientcg-{name}.json").write_text(json.dumps(pol))
        many = self.args.webcg_requests * 5
        counts = (max(1, many // 4), many)
        results = {}
        for scheme in ("http", "https"):
            port = servers.free_port()
            argv = [python, str(HERE / "client_server.py"), str(port)]
            if scheme == "https":
                argv += [str(cert), str(key)]
            srv = servers._spawn(argv, base_env, str(self.tmp / "clientcg-server.log"))
            out, wrappers = {}, None
            try:
                servers.wait_port(port, srv)
                for variant in ("plain", "glass", "tls_off", "propagate"):
                    totals = []
                    for n in counts:
                        cg = self.tmp / f"ccg-{scheme}-{variant}-{n}.out"
                        env = dict(base_env, PYTHONHASHSEED="0")
                        if variant != "plain":
                            env.update(LD_PRELOAD=str(self.preload),
                                       GLASS_OUT=str(self.tmp / f"ccg-{scheme}-{variant}-{n}"))
                        if variant in policies:
                            env["GLASS_POLICY"] = str(self.tmp / f"clientcg-{variant}.json")
                        subprocess.run(["valgrind", "--tool=callgrind",
                                        f"--callgrind-out-file={cg}", python,
                                        str(HERE / "client_loop.py"),
                                        f"{scheme}://127.0.0.1:{port}", str(n), str(cert)],
                                       env=env, capture_output=True, check=True, timeout=1800)
                        m = re.search(r"^summary: (\d+)", cg.read_text(errors="replace"), re.M)
                        totals.append(int(m.group(1)))
                        print(".", end="", flush=True)
                        if scheme == "https" and variant == "tls_off" and n == counts[1] and \
                                shutil.which("callgrind_annotate"):
                            a = subprocess.run(["callgrind_annotate", "--threshold=100", str(cg)],
                                               capture_output=True, text=True).stdout
                            own = 0
                            for line in a.splitlines():
                                mm = re.match(r"^\s*([\d,]+) .*libglass\.so:(SSL_\w+)", line)
                                if mm:
                                    own += int(mm.group(1).replace(",", ""))
                            wrappers = own / n
                    out[variant] = (totals[1] - totals[0]) / (counts[1] - counts[0])
            finally:
                servers.Server(srv, port, None).stop()
            r = {"requests": list(counts), "instructions_per_request": out,
                 "glass_overhead": out["glass"] / out["plain"] - 1,
                 "tls_off_overhead": out["tls_off"] / out["plain"] - 1,
                 "propagate_added": out["propagate"] - out["glass"]}
            if wrappers is not None:
                r["ssl_wrappers_when_off"] = wrappers
            results[scheme] = r
        print()
        return results

    def report_suite(self, python):
        """glass-report's throughput: summary and flamegraph --folded over two recordings of
        at least --report-records records: a real one (report_workload.py under trace-all:
        the standard library at work, thousands of distinct stacks) and gen-synthetic's
        random call trees (a new stack at almost every call: the trie's worst case).
        Records a second, wall time and peak RSS of each run; median of --runs runs."""
        want = self.args.report_records
        recordings = {}
        # about 1,090 records a round on CPython 3.11; more rounds until there are enough
        rounds = max(1, want // 1000)
        out_dir = self.tmp / "report-real"
        env = self.env("glass-all", out_dir)
        shutil.copy(HERE / "report_workload.py", self.work / "report_workload.py")
        for _ in range(3):
            shutil.rmtree(out_dir, ignore_errors=True)
            t0 = time.perf_counter()
            subprocess.run([python, "report_workload.py", str(rounds)], cwd=str(self.work),
                           env=env, check=True, stdout=subprocess.DEVNULL)
            rec_s = time.perf_counter() - t0
            session = next(p for p in out_dir.iterdir() if p.is_dir())
            n = self.records_of(session)
            if n >= want:
                break
            rounds = int(rounds * want / max(n, 1) * 1.03) + 1
        recordings["real"] = (session, n, f"report_workload.py {rounds} under trace-all "
                                          f"({rec_s:.1f} s to record)")
        syn_dir = self.tmp / "report-synthetic"
        gen = self.build / "tools" / "gen-synthetic"
        subprocess.run([str(gen), str(syn_dir), "--events", str(want)], check=True,
                       stdout=subprocess.DEVNULL)
        session = next(p for p in syn_dir.iterdir() if p.is_dir())
        recordings["synthetic"] = (session, self.records_of(session),
                                   f"gen-synthetic --events {want}")
        commands = [("summary", ["summary"], {}),
                    ("folded", ["flamegraph", "--folded"], {}),
                    ("folded 1 thread", ["flamegraph", "--folded"],
                     {"GLASS_REPORT_THREADS": "1"})]
        results = {}
        for name, (session, records, how) in recordings.items():
            r = {"records": records, "how": how, "bytes": sum(
                f.stat().st_size for f in session.rglob("*") if f.is_file())}
            print(f"  {name}: {records:,} records ", end="", flush=True)
            for label, argv, extra in commands:
                walls, rss = [], []
                for _ in range(self.args.runs):
                    env = dict(os.environ, **extra)
                    t0 = time.perf_counter()
                    proc = subprocess.Popen([str(self.report), *argv, str(session)], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    _, status, usage = os.wait4(proc.pid, 0)
                    walls.append(time.perf_counter() - t0)
                    rss.append(usage.ru_maxrss / 1024)  # KiB on Linux
                    if os.waitstatus_to_exitcode(status) != 0:
                        raise RuntimeError(f"glass-report {' '.join(argv)} {session} exited "
                                           f"{os.waitstatus_to_exitcode(status)}")
                    print(".", end="", flush=True)
                wall = statistics.median(walls)
                r[label] = {"wall_s": wall, "samples_s": walls, "records_per_s": records / wall,
                            "peak_rss_mb": max(rss)}
            print()
            results[name] = r
            shutil.rmtree(session.parent, ignore_errors=True)
        return results

    def records_of(self, session):
        """The records of a session, from glass-report info's 'total' line."""
        text = subprocess.run([str(self.report), "info", str(session)], capture_output=True,
                              text=True).stdout
        m = re.search(r"^  total\s+([\d,]+)", text, re.M)
        return int(m.group(1).replace(",", "")) if m else 0

    def count_requests(self, gout, wrk_total):
        """Requests in the recording (summary's endpoint table) against wrk's own count."""
        sessions = sorted(p for p in gout.iterdir() if p.is_dir()) if gout.exists() else []
        if not sessions:
            return {"recorded": 0, "wrk": wrk_total}
        text = subprocess.run([str(self.report), "summary", str(sessions[-1]), "--limit", "0"],
                              capture_output=True, text=True).stdout
        got = 0
        for line in text.splitlines():
            m = re.match(r"^GET \S+\s+(\d+)\s", line)
            if m:
                got += int(m.group(1))
        return {"recorded": got, "wrk": wrk_total}


def start_uvicorn_app(env, log, apps):
    import servers
    port = servers.free_port()
    proc = servers._spawn(["/usr/bin/python3", "-m", "uvicorn", "--host", "127.0.0.1",
                           "--port", str(port), "--app-dir", str(apps), "--no-access-log",
                           "web_fastapi:app"], env, log, cwd=str(apps))
    servers.wait_port(port, proc)
    return servers.Server(proc, port, log)


def wait_settled(session, timeout=60.0):
    """Waits until glass's background compressor is done with the session: no .raw chunk
    left and nothing changed for half a second. False on timeout."""
    def state():
        return sorted((f.name, f.stat().st_size) for f in session.rglob("*") if f.is_file())
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        now = state()
        if now == last and not any(name.endswith(".raw") for name, _ in now):
            return True
        last = now
        time.sleep(0.5)
    return False


def parse_calls(info):
    """The number of CALL records in `glass-report info` output, or None."""
    # "records by type" lists "  CALL          2,692,537"
    m = re.search(r"^\s*CALL\s+([\d,]+)\s*$", info, re.M)
    return int(m.group(1).replace(",", "")) if m else None


def interpreters(args):
    if args.python:
        return [(p, p) for p in args.python]
    found = [("system", "/usr/bin/python3")]  # Debian's, the others are pyenv builds
    root = os.environ.get("PYENV_ROOT")
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = root or str(Path.home() / ".pyenv")
    for v in ("3.12.1", "3.13.0"):
        found.append((f"pyenv {v}", f"{root}/versions/{v}/bin/python3"))
    out = []
    for label, path in found:
        if os.access(path, os.X_OK):
            out.append((label, path))
        else:
            print(f"skip: {label} not found ({path})")
    return out


def version_of(python):
    out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:3])"],
                         capture_output=True, text=True, check=True)
    return tuple(int(x) for x in out.stdout.split())


def host_facts():
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "machine": platform.machine()}


def fib_calls(n):
    """Calls fib(n) makes, itself included."""
    a, b = 1, 1  # calls of fib(0), fib(1)
    for _ in range(n - 1):
        a, b = b, a + b + 1
    return b if n else a


def fmt_ratio(entry):
    if entry.get("recorded") is False:
        return "no rec!"
    return f"{entry['ratio']:.2f}x"


def print_tables(results):
    if any(it.get("cpu") for it in results["interpreters"]):
        print("\nWall time, ratio to plain (median of %d runs)" % results["runs"])
        print("%-22s %-8s %9s %11s %14s %14s %9s" % ("python", "workload", "plain s",
                                                     "glass all", "glass default",
                                                     "+sample 99Hz", "cProfile"))
    for it in results["interpreters"]:
        for workload, r in (it.get("cpu") or {}).items():
            print("%-22s %-8s %9.3f %11s %14s %14s %9s" % (
                it["label"], workload, r["plain"]["median_s"], fmt_ratio(r["glass-all"]),
                fmt_ratio(r["glass-default"]), fmt_ratio(r["glass-sample99"]),
                fmt_ratio(r["cprofile"])))
    if any(it.get("cpucg") for it in results["interpreters"]):
        print("\nInstructions per fib call (callgrind; fib(%s) less fib(%s)), ratio to plain" %
              (25, 20))
        print("%-22s %9s %16s %16s %16s" % ("python", "plain", "no-op PEP 523", "glass all",
                                             "glass default"))
        for it in results["interpreters"]:
            r = it.get("cpucg")
            if not r:
                continue
            if "error" in r:
                print("%-22s %s" % (it["label"], r["error"]))
                continue
            ipc, ra = r["instructions_per_call"], r["ratios"]
            print("%-22s %9.1f %16s %16s %16s" % (
                it["label"], ipc["plain"],
                *("%.1f (%.3fx)" % (ipc[v], ra[v]) for v in ("pep523", "glass-all",
                                                              "glass-default"))))
    if any(it.get("size") for it in results["interpreters"]):
        print("\nBytes on disk per recorded call (trace-all policy)")
        print("%-22s %-8s %12s %12s %10s  %s" % ("python", "workload", "session", "calls",
                                                 "bytes/call", "note"))
        for it in results["interpreters"]:
            for workload, r in (it.get("size") or {}).items():
                print("%-22s %-8s %12s %12s %10s  %s" % (
                    it["label"], workload, r["session_bytes"] or "-", r["calls"] or "-",
                    f"{r['bytes_per_call']:.2f}" if r["bytes_per_call"] else "-",
                    r.get("error", r.get("note", ""))))
    web = results.get("web")
    if web:
        print("\nWeb: requests/s under wrk -t2 -c16 (median of rounds), glass default policy, "
              "all captures")
        print("%-18s %12s %12s %8s  %-26s %s" % ("server", "plain rps", "glass rps", "ratio",
                                                 "rounds: median (min-max)",
                                                 "recorded/wrk requests"))
        for name, r in web.items():
            if not isinstance(r, dict) or "ratio" not in r:
                print("%-18s %s" % (name, r))
                continue
            rec = ", ".join(f"{x['recorded']}/{x['wrk']}" for x in r["recorded"])
            rr = r.get("round_ratios") or [0]
            print("%-18s %12.0f %12.0f %7.3f  %-26s %s" % (
                name, statistics.median(r["plain_rps"]), statistics.median(r["glass_rps"]),
                r["ratio"] or 0, "%.3f (%.3f-%.3f)" % (statistics.median(rr), min(rr), max(rr)),
                rec))
        for name, r in web.items():
            if isinstance(r, dict) and r.get("floor_ratio"):
                fr = r["floor_round_ratios"] or [0]
                print("%-18s %12s %12.0f %7.3f  %-26s %s" % (
                    name + " floor", "", statistics.median(r["floor_rps"]), r["floor_ratio"],
                    "%.3f (%.3f-%.3f)" % (statistics.median(fr), min(fr), max(fr)),
                    "(glass, nothing traced, no capture: the evaluator hook alone)"))
        for name, r in web.items():
            if isinstance(r, dict) and r.get("pinned"):
                print(f"({name}: {r['pinned']}; rounds alternate plain/glass order; round N runs "
                      f"every variant with PYTHONHASHSEED=N)")
                break
    cc = results.get("clientcg")
    if cc and "error" not in cc:
        print("\nHTTP client loop, 1 KB responses: instructions per request (callgrind, requests "
              "%d-%d)" % tuple(next(iter(cc.values()))["requests"]))
        print("%-6s %10s %10s %9s %10s %9s %10s %12s" % ("", "plain", "glass", "overhead",
                                                       "tls off", "overhead", "propagate",
                                                       "added"))
        for scheme, r in cc.items():
            ipr = r["instructions_per_request"]
            print("%-6s %10.0f %10.0f %8.2f%% %10.0f %8.2f%% %10.0f %12.0f" % (
                scheme, ipr["plain"], ipr["glass"], 100 * r["glass_overhead"], ipr["tls_off"],
                100 * r["tls_off_overhead"], ipr["propagate"], r["propagate_added"]))
        if "https" in cc and "http" in cc:
            print("(TLS capture adds %.2f points over the plaintext client's overhead; with "
                  "capture_tls off the SSL_* wrappers themselves run %.0f instructions a "
                  "request)" % (100 * (cc["https"]["glass_overhead"] - cc["http"]["glass_overhead"]),
                                cc["https"].get("ssl_wrappers_when_off", float("nan"))))
    elif cc:
        print("\nclientcg:", cc)
    cg = results.get("webcg")
    if cg and "error" not in cg:
        done = [r for r in cg.values() if "requests" in r]
        print("\nInstructions per request (callgrind, one server process, requests %d-%d)"
              % tuple(done[0]["requests"] if done else (0, 0)))
        print("%-18s %10s %19s %19s %19s" % ("server", "plain", "no-op PEP 523",
                                             "glass, nothing", "glass default"))
        for name, r in cg.items():
            if "error" in r:
                print("%-18s %s" % (name, r["error"]))
                continue
            ipr = r["instructions_per_request"]
            print("%-18s %10.0f %10.0f %8.4f %10.0f %8.4f %10.0f %8.4f" % (
                name, ipr["plain"], ipr["pep523"], r["pep523_ratio"], ipr["floor"],
                r["floor_ratio"], ipr["glass"], r["glass_ratio"]))
        print("(no-op PEP 523: examples/bench/pep523_noop.c, an evaluator that only calls "
              "CPython's; glass, nothing: tracing nothing, no capture)")
    elif cg:
        print("\nwebcg:", cg)
    rep = results.get("report")
    if rep:
        print("\nglass-report throughput: records a second (median of %d runs), peak RSS"
              % results["runs"])
        print("%-10s %12s %-16s %8s %12s %8s" % ("recording", "records", "command", "wall s",
                                                 "records/s", "RSS MB"))
        for name, r in rep.items():
            for label in ("summary", "folded", "folded 1 thread"):
                x = r[label]
                print("%-10s %12s %-16s %8.2f %11.1fM %8.0f" % (
                    name, f"{r['records']:,}", label, x["wall_s"], x["records_per_s"] / 1e6,
                    x["peak_rss_mb"]))
        for name, r in rep.items():
            print(f"({name}: {r['how']}, {r['bytes'] / 1e6:.0f} MB on disk)")
    if any(it.get("startup") for it in results["interpreters"]):
        print("\nStart-up: python -c pass")
        print("%-22s %10s %10s %10s %8s  %s" % ("python", "plain ms", "glass ms", "added ms",
                                                "ratio", "method"))
        for it in results["interpreters"]:
            r = it.get("startup")
            if r:
                print("%-22s %10.2f %10.2f %10.2f %7.2fx  %s" % (
                    it["label"], r["plain_ms"], r["glass_ms"], r["added_ms"], r["ratio"],
                    r["method"]))


def main():
    ap = argparse.ArgumentParser(description="glass benchmarks, as ratios to plain Python")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per variant (median)")
    ap.add_argument("--python", action="append", default=[], metavar="PATH",
                    help="interpreter(s) instead of /usr/bin/python3, pyenv 3.12.1, 3.13.0")
    ap.add_argument("--only", default="cpu,size,startup",
                    help="comma-separated suites: cpu, size, startup, web, webcg, clientcg, "
                         "report")
    ap.add_argument("--report-records", type=int, default=50_000_000,
                    help="report: records in each recording read (at least)")
    ap.add_argument("--build", default=str(ROOT / "build"), help="meson build directory")
    ap.add_argument("--web-seconds", type=int, default=10, help="wrk duration per round")
    ap.add_argument("--web-rounds", type=int, default=5, help="plain/glass rounds (web)")
    ap.add_argument("--web-floor", action="store_true",
                    help="web: a third variant, glass tracing nothing with no capture (the "
                         "cost of the evaluator hook alone)")
    ap.add_argument("--webcg-requests", type=int, default=400,
                    help="webcg: requests in the longer callgrind run")
    ap.add_argument("--webcg-python", default="/usr/bin/python3", metavar="PATH",
                    help="webcg: the interpreter (other than Debian's: with Debian's packages "
                         "on PYTHONPATH)")
    ap.add_argument("--no-web-pin", dest="web_pin", action="store_false",
                    help="web: do not pin the server to CPU 0 and wrk to CPU 1")
    ap.add_argument("--json", default="bench-results.json", help="where the results go")
    args = ap.parse_args()
    suites = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(suites) - {"cpu", "cpucg", "size", "startup", "web", "webcg", "clientcg",
                             "report"}
    if unknown:
        ap.error(f"unknown suites {sorted(unknown)}")

    bench = Bench(args)
    if not bench.preload.exists():
        print(f"bench: {bench.preload} is not built", file=sys.stderr)
        return 1
    results = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "host": host_facts(), "runs": args.runs, "build": str(bench.build),
               "suites": suites, "interpreters": []}
    try:
        for label, python in interpreters(args):
            version = version_of(python)
            vtext = ".".join(map(str, version))
            if label == "system":
                label = f"system {vtext}"
            elif label == python:  # given with --python
                label = vtext
            entry = {"label": label,
                     "python": python, "version": vtext}
            results["interpreters"].append(entry)
            if version[:2] not in SUPPORTED:
                print(f"skip: {python} is Python {vtext}: glass traces 3.9-3.13")
                entry["skipped"] = "not supported by glass"
                continue
            print(f"\n== {entry['label']} ({python})")
            for suite in suites:
                if suite in ("web", "webcg", "clientcg", "report"):
                    continue  # once, below, on Debian's python3
                print(f"  {suite} ...", flush=True)
                entry[suite] = getattr(bench, suite)(python)
        if "web" in suites:
            print("\n== web (/usr/bin/python3) ...", flush=True)
            results["web"] = bench.web("/usr/bin/python3")
        if "webcg" in suites:
            print(f"\n== webcg ({args.webcg_python}, callgrind) ", end="", flush=True)
            results["webcg"] = bench.webcg(args.webcg_python)
        if "clientcg" in suites:
            print("\n== clientcg (/usr/bin/python3, callgrind) ", end="", flush=True)
            results["clientcg"] = bench.clientcg("/usr/bin/python3")
        if "report" in suites:
            print("\n== report (recorded with /usr/bin/python3) ...", flush=True)
            results["report"] = bench.report_suite("/usr/bin/python3")
    finally:
        shutil.rmtree(bench.tmp, ignore_errors=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print_tables(results)
    print(f"\nresults: {Path(args.json).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
