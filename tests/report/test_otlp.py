#!/usr/bin/env python3
"""glass-report otlp: OTLP/JSON traces checked against the official opentelemetry-proto messages,
and the OTLP/HTTP path against local receivers (batches, retries, an unreachable collector).

The .proto files come from the npm package @opentelemetry/otlp-grpc-exporter-base@0.38.0 (the last
release that ships them, opentelemetry-proto v0.20: scopeSpans, Apache-2.0), fetched with
`npm pack` into a cache outside the repository and compiled with protoc; json_format.Parse
(python3-protobuf) then reads every request with unknown fields refused. Without npm, protoc or
python3-protobuf that check prints SKIP and the JSON checks still run.
"""
import base64
import http.server
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

PROTO_PKG = "@opentelemetry/otlp-grpc-exporter-base@0.38.0"
PROTO_FILES = ["opentelemetry/proto/common/v1/common.proto",
               "opentelemetry/proto/resource/v1/resource.proto",
               "opentelemetry/proto/trace/v1/trace.proto",
               "opentelemetry/proto/collector/trace/v1/trace_service.proto"]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "glass-tests", "otlp-proto-0.38.0")


def load_proto():
    """Returns (ExportTraceServiceRequest class, json_format) or a reason string."""
    try:
        from google.protobuf import json_format  # noqa: F401
    except ImportError:
        return "python3-protobuf is not installed"
    if not shutil.which("protoc"):
        return "protoc (protobuf-compiler) is not installed"
    cache = cache_dir()
    pyout = os.path.join(cache, "py")
    if not os.path.exists(os.path.join(pyout, "ok")):
        if not shutil.which("npm"):
            return "npm is not installed (the .proto files come from the npm registry)"
        os.makedirs(cache, exist_ok=True)
        work = tempfile.mkdtemp(dir=cache)
        try:
            p = subprocess.run(["npm", "pack", PROTO_PKG, "--pack-destination", work, "--silent"],
                               capture_output=True, text=True, timeout=300, cwd=work)
            tgz = [f for f in os.listdir(work) if f.endswith(".tgz")]
            if p.returncode != 0 or not tgz:
                return f"npm pack {PROTO_PKG} failed: {(p.stderr or p.stdout).strip()[-300:]}"
            with tarfile.open(os.path.join(work, tgz[0])) as tf:
                members = [m for m in tf.getmembers()
                           if m.isfile() and (m.name.endswith(".proto") or m.name.endswith("LICENSE"))]
                tf.extractall(work, members=members)
            root = os.path.join(work, "package", "build", "protos")
            out = os.path.join(work, "py")
            os.makedirs(out)
            p = subprocess.run(["protoc", f"-I{root}", f"--python_out={out}", *PROTO_FILES],
                               capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                return f"protoc failed: {p.stderr.strip()[-300:]}"
            open(os.path.join(out, "ok"), "w").close()
            shutil.rmtree(pyout, ignore_errors=True)
            os.rename(out, pyout)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    sys.path.insert(0, pyout)
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    return trace_service_pb2.ExportTraceServiceRequest, json_format


def hex_ids_to_base64(obj):
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping wants base64 bytes."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                out[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                out[k] = hex_ids_to_base64(v)
        return out
    if isinstance(obj, list):
        return [hex_ids_to_base64(v) for v in obj]
    return obj


def spans_of(req):
    for rs in req["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                yield rs, ss, sp


def attrs(lst):
    """OTLP attribute list -> {key: python value}."""
    out = {}
    for a in lst:
        v = a["value"]
        if "stringValue" in v:
            out[a["key"]] = v["stringValue"]
        elif "intValue" in v:
            out[a["key"]] = ("int", v["intValue"])
        elif "boolValue" in v:
            out[a["key"]] = v["boolValue"]
        elif "arrayValue" in v:
            out[a["key"]] = [x.get("stringValue") for x in v["arrayValue"]["values"]]
    return out


def read_requests(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def jsonl_spans(t, session):
    out = t.report("jsonl", session).stdout
    return [json.loads(line) for line in out.splitlines()]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Receiver:
    """An OTLP/HTTP collector stand-in on 127.0.0.1: answers `codes` in turn (then 200) and
    counts requests and the spans of the accepted ones."""

    def __init__(self, codes=(), answer=b"{}"):
        self.codes = list(codes)
        self.answer = answer
        self.attempts = 0
        self.accepted = []  # parsed bodies
        self.paths = set()
        self.content_types = set()
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.attempts += 1
                    rec.paths.add(self.path)
                    rec.content_types.add(self.headers.get("Content-Type"))
                    code = rec.codes.pop(0) if rec.codes else 200
                    if code == 200:
                        rec.accepted.append(json.loads(body))
                out = rec.answer if code == 200 else b'{"code":14,"message":"try later"}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        return sum(1 for req in self.accepted for _ in spans_of(req))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def check_structure(t, reqs, expect_spans, what):
    """Checks shared by every OTLP output: ids, times, parents, resources, scope."""
    spans = [sp for req in reqs for _, _, sp in spans_of(req)]
    t.check(len(spans) == expect_spans, f"{what}: {len(spans)} spans, as many as jsonl ({expect_spans})")
    ids = [sp["spanId"] for sp in spans]
    t.check(len(set(ids)) == len(ids), f"{what}: span ids are unique")
    t.check(all(HEX32.match(sp["traceId"]) and HEX16.match(sp["spanId"]) for sp in spans),
            f"{what}: traceId is 32 hex digits, spanId 16")
    known = set(ids)
    local_parents = [sp for sp in spans if "parentSpanId" in sp and sp["parentSpanId"] in known]
    remote = [sp for sp in spans if "parentSpanId" in sp and sp["parentSpanId"] not in known]
    t.check(all(sp["kind"] == 2 for sp in remote),
            f"{what}: every parentSpanId resolves, but HTTP server spans' remote callers "
            f"({len(local_parents)} local, {len(remote)} remote)")
    by_id = {sp["spanId"]: sp for sp in spans}
    t.check(all(by_id[sp["parentSpanId"]]["traceId"] == sp["traceId"] for sp in local_parents),
            f"{what}: a child has its parent's traceId")
    t.check(all(isinstance(sp["startTimeUnixNano"], str) and isinstance(sp["endTimeUnixNano"], str)
                and int(sp["startTimeUnixNano"]) <= int(sp["endTimeUnixNano"])
                and int(sp["startTimeUnixNano"]) > 1_500_000_000 * 10**9 for sp in spans),
            f"{what}: times are Unix ns as strings, start <= end")
    ints_ok = all(isinstance(a["value"]["intValue"], str)
                  for _, _, sp in (x for req in reqs for x in spans_of(req))
                  for a in sp["attributes"] if "intValue" in a["value"])
    t.check(ints_ok, f"{what}: intValue attributes are strings (proto3 JSON int64)")
    scopes = {(ss["scope"]["name"], ss["scope"].get("version")) for req in reqs
              for rs in req["resourceSpans"] for ss in rs["scopeSpans"]}
    t.check(len(scopes) == 1 and next(iter(scopes))[0] == "glass" and next(iter(scopes))[1],
            f"{what}: scope is glass with a version ({scopes})")
    return spans


def check_proto(t, proto, reqs, expect_spans, what):
    if isinstance(proto, str):
        t.skip(f"{what}: opentelemetry-proto validation ({proto})")
        return
    cls, json_format = proto
    n = 0
    try:
        for req in reqs:
            msg = json_format.Parse(json.dumps(hex_ids_to_base64(req)), cls(),
                                    ignore_unknown_fields=False)
            for rs in msg.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        n += 1
                        if len(sp.trace_id) != 16 or len(sp.span_id) != 8:
                            raise ValueError(f"id sizes {len(sp.trace_id)}/{len(sp.span_id)}")
        t.check(n == expect_spans,
                f"{what}: every request parses as opentelemetry-proto ExportTraceServiceRequest "
                f"(unknown fields refused), {n} spans")
    except Exception as e:  # noqa: BLE001
        t.check(False, f"{what}: json_format.Parse failed: {e}")


def main():
    t = Suite()
    proto = load_proto()
    session = t.record("basic")
    js = jsonl_spans(t, session)
    n = len(js)

    # GIVEN the basic sample WHEN exported to a file THEN every span is there, well formed
    out = t.path("basic.json")
    t.report("otlp", session, "-o", out)
    reqs = read_requests(out)
    t.check(len(reqs) == 1, f"basic: {n} spans fit one request of the default batch (512)")
    spans = check_structure(t, reqs, n, "basic")
    check_proto(t, proto, reqs, n, "basic")

    rs = reqs[0]["resourceSpans"]
    t.check(len(rs) == 1, "basic: one resource (one process)")
    ra = attrs(rs[0]["resource"]["attributes"])
    pid = js[0]["pid"]
    t.check(ra.get("service.name") == "basic", f"service.name is the script name: {ra.get('service.name')}")
    t.check(ra.get("process.pid") == ("int", str(pid)), "process.pid is the recorded pid")
    t.check(ra.get("process.runtime.name") == "cpython" and re.match(r"^3\.\d+", ra.get("process.runtime.version", "")),
            f"process.runtime.name/version: cpython {ra.get('process.runtime.version')}")
    t.check(ra.get("telemetry.sdk.name") == "glass" and ra.get("telemetry.sdk.language") == "python"
            and ra.get("telemetry.sdk.version"), "telemetry.sdk.name/language/version")
    t.check(isinstance(ra.get("process.command_args"), list) and ra["process.command_args"][-1].endswith("basic.py"),
            f"process.command_args is the argv array: {ra.get('process.command_args')}")
    t.check(bool(ra.get("process.executable.path")), "process.executable.path")

    leaf = [sp for sp in spans if attrs(sp["attributes"]).get("code.function") == "leaf"]
    t.check(len(leaf) == 9, f"9 leaf spans (code.function=leaf): {len(leaf)}")
    la = attrs(leaf[0]["attributes"]) if leaf else {}
    t.check(la.get("code.namespace") == "__main__" and la.get("code.filepath", "").endswith("basic.py")
            and la.get("code.lineno") == ("int", "9"),
            f"code.namespace/filepath/lineno of leaf: {la}")
    t.check(all(sp["kind"] == 1 for sp in spans), "Python spans are SPAN_KIND_INTERNAL (1)")
    t.check(all(sp["name"].startswith("__main__.") for sp in spans), "span names are module.qualname")
    err = [sp for sp in spans if sp.get("status", {}).get("code") == 2]
    t.check(len(err) == 1 and err[0]["name"] == "__main__.failing",
            f"one error span, failing(): {[sp['name'] for sp in err]}")
    if err:
        ev = err[0].get("events", [])
        ea = attrs(ev[0]["attributes"]) if ev else {}
        t.check(len(ev) == 1 and ev[0]["name"] == "exception" and ea.get("exception.type") == "ValueError"
                and ea.get("exception.message") == 'bad <value> & "quoted"',
                f"its exception event: {ev}")
        t.check(err[0]["status"].get("message") == 'ValueError: bad <value> & "quoted"',
                "its status message is 'Type: message'")
    ok = [sp for sp in spans if sp.get("status") == {}]
    t.check(len(ok) == n - 1, "other spans have an unset status")
    gens = [sp for sp in spans if "glass.generator" in attrs(sp["attributes"])]
    t.check(sorted(attrs(sp["attributes"])["glass.generator"] for sp in gens)
            == ["coroutine", "coroutine", "coroutine", "generator"],
            "generator and coroutine spans carry glass.generator")
    threads = {attrs(sp["attributes"]).get("thread.name") for sp in spans}
    t.check(threads == {"MainThread", "worker-1"}, f"thread.name: {threads}")
    jids = {d["span_id"] for d in js}
    t.check(jids == {sp["spanId"] for sp in spans}, "span ids are jsonl's")

    # service.name from the environment
    p = t.report("otlp", session, env=dict(os.environ, GLASS_SERVICE_NAME="shop-api"))
    ra2 = attrs(json.loads(p.stdout.splitlines()[0])["resourceSpans"][0]["resource"]["attributes"])
    t.check(ra2.get("service.name") == "shop-api", "GLASS_SERVICE_NAME sets service.name")

    # batches in a file: one request a line
    out5 = t.path("batch5.json")
    t.report("otlp", session, "-o", out5, "--batch", "5")
    r5 = read_requests(out5)
    sizes = [sum(1 for _ in spans_of(r)) for r in r5]
    t.check(len(r5) == math.ceil(n / 5) and max(sizes) == 5 and sum(sizes) == n,
            f"--batch 5: {len(r5)} requests (JSON lines) of {sizes}")
    check_proto(t, proto, r5, n, "--batch 5")
    out0 = t.path("one.json")
    t.report("otlp", session, "-o", out0, "--batch", "0")
    with open(out0) as f:
        doc = json.load(f)
    t.check(sum(1 for _ in spans_of(doc)) == n, "--batch 0: one JSON document with every span")

    # GIVEN captured operations (HTTP server and client, net, db when captured)
    web = t.record("web")
    wjs = jsonl_spans(t, web)
    wout = t.path("web.json")
    t.report("otlp", web, "-o", wout)
    wreqs = read_requests(wout)
    wspans = check_structure(t, wreqs, len(wjs), "web")
    check_proto(t, proto, wreqs, len(wjs), "web")
    kinds = {}
    for sp in wspans:
        kinds.setdefault(sp["kind"], []).append(sp)
    servers = kinds.get(2, [])
    clients = [sp for sp in kinds.get(3, []) if "http.request.method" in attrs(sp["attributes"])]
    t.check(len(servers) == 3, f"3 HTTP server spans are SPAN_KIND_SERVER (2): {len(servers)}")
    t.check(len(clients) == 3, f"3 HTTP client spans are SPAN_KIND_CLIENT (3): {len(clients)}")
    remote = [sp for sp in servers if sp["traceId"] == "0af7651916cd43dd8448eb211c80319c"]
    t.check(len(remote) == 1 and remote[0].get("parentSpanId") == "b7ad6b7169203331",
            "the request with a traceparent joins the caller's trace, parent = the caller's span")
    if remote:
        kids = [sp for sp in wspans if sp.get("parentSpanId") == remote[0]["spanId"]]
        t.check(kids and all(sp["traceId"] == remote[0]["traceId"] for sp in kids),
                "its children (the handler) are in that trace too")
        t.check("traceparent" not in attrs(remote[0]["attributes"]),
                "the traceparent attribute is not repeated")
    sa = attrs(servers[0]["attributes"]) if servers else {}
    t.check(sa.get("http.route") == "/users/{id}" and sa.get("http.response.status_code") == ("int", "200"),
            f"server span attributes: http.route, http.response.status_code as intValue ({sa})")
    failed = [sp for sp in servers if attrs(sp["attributes"]).get("http.response.status_code") == ("int", "500")]
    t.check(len(failed) == 1 and failed[0]["status"].get("code") == 2 and not failed[0].get("events"),
            "the 500 response: status ERROR, no exception event (not an exception)")
    db = kinds.get(3, [])
    db = [sp for sp in db if "db.system" in attrs(sp["attributes"])]
    if any(d["kind"] == "db" for d in wjs):
        t.check(len(db) == len([d for d in wjs if d["kind"] == "db"]), f"db spans are CLIENT: {len(db)}")
        bad = [sp for sp in db if sp["status"].get("code") == 2]
        t.check(len(bad) == 1 and bad[0]["status"].get("message") == "no such table: missing"
                and not bad[0].get("events")
                and attrs(bad[0]["attributes"]).get("error.type") == "SQLITE_ERROR",
                "the failing statement: status ERROR with the database's message, error.type, no event")
    else:
        t.skip("db spans (SQL capture is not in this build)")

    # names needing escapes stay valid JSON and parse as protobuf
    odd = t.record("oddnames")
    oout = t.path("odd.json")
    t.report("otlp", odd, "-o", oout)
    oreqs = read_requests(oout)
    names = {sp["name"] for _, _, sp in spans_of(oreqs[0])}
    t.check('__main__.we"ird\\name' in names and "__main__.new\nline" in names
            and "__main__.café.ünï" in names, f"odd names round-trip through JSON: {sorted(names)}")
    check_proto(t, proto, oreqs, len(jsonl_spans(t, odd)), "odd names")

    # ---- the OTLP/HTTP path ----
    # GIVEN a collector WHEN posting in batches of 4 THEN it gets every span once
    rec = Receiver()
    p = t.report("otlp", session, "--endpoint", f"http://127.0.0.1:{rec.port}", "--batch", "4", check=False)
    rec.stop()
    t.check(p.returncode == 0, f"POST: exit 0 ({p.returncode}: {p.stderr.strip()})")
    t.check(len(rec.accepted) == math.ceil(n / 4) and rec.spans() == n,
            f"POST: {len(rec.accepted)} batches, {rec.spans()} spans (want {math.ceil(n / 4)}, {n})")
    t.check(rec.paths == {"/v1/traces"}, f"a URL without a path posts to /v1/traces: {rec.paths}")
    t.check(rec.content_types == {"application/json"}, f"Content-Type: {rec.content_types}")
    t.check(f"sent {n} spans in {math.ceil(n / 4)} requests" in p.stderr, f"summary line: {p.stderr.strip()}")
    check_proto(t, proto, rec.accepted, n, "POST")

    # GIVEN a collector answering 503 twice WHEN posting THEN the request is retried and lands
    rec = Receiver(codes=[503, 503])
    p = t.report("otlp", session, "--endpoint", f"http://127.0.0.1:{rec.port}/v1/traces", check=False)
    rec.stop()
    t.check(p.returncode == 0 and rec.attempts == 3 and rec.spans() == n,
            f"503, 503, 200: retried, exit 0 ({p.returncode}, {rec.attempts} attempts, {rec.spans()} spans)")

    # ... answering 429 four times: gives up after 3 retries, exit 4
    rec = Receiver(codes=[429, 429, 429, 429])
    p = t.report("otlp", session, "--endpoint", f"http://127.0.0.1:{rec.port}/v1/traces", check=False)
    rec.stop()
    t.check(p.returncode == 4 and rec.attempts == 4 and "HTTP 429" in p.stderr,
            f"429 x4: 4 attempts then exit 4 ({p.returncode}, {rec.attempts}, {p.stderr.strip()})")

    # ... answering 400: not retried
    rec = Receiver(codes=[400])
    p = t.report("otlp", session, "--endpoint", f"http://127.0.0.1:{rec.port}/v1/traces", check=False)
    rec.stop()
    t.check(p.returncode == 4 and rec.attempts == 1 and "HTTP 400" in p.stderr,
            f"400: no retry, exit 4 ({p.returncode}, {rec.attempts}, {p.stderr.strip()})")

    # ... reporting rejected spans (partialSuccess): a warning
    rec = Receiver(answer=b'{"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}}')
    p = t.report("otlp", session, "--endpoint", f"http://127.0.0.1:{rec.port}/v1/traces", check=False)
    rec.stop()
    t.check(p.returncode == 0 and "rejected 2 of the spans" in p.stderr,
            f"partialSuccess: warning, exit 0 ({p.returncode}, {p.stderr.strip()})")

    # GIVEN nothing listening WHEN posting THEN one clear line and exit 4
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    p = t.report("otlp", session, "--endpoint", url, check=False)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    t.check(p.returncode == 4, f"unreachable collector: exit 4 ({p.returncode})")
    t.check(len(lines) == 1 and lines[0].startswith(f"glass-report: cannot reach {url}: Connection refused"),
            f"unreachable collector: one line: {lines}")

    # usage and exit codes
    p = t.report("otlp", "--help", check=False)
    t.check(p.returncode == 0 and "--endpoint" in p.stdout and "--batch" in p.stdout, "--help")
    p = t.report("otlp", session, "--bogus", check=False)
    t.check(p.returncode == 1, f"unknown option: exit 1 ({p.returncode})")
    p = t.report("otlp", session, "--endpoint", "ftp://x/", check=False)
    t.check(p.returncode == 1 and "http://" in p.stderr, f"non-HTTP endpoint: exit 1 ({p.stderr.strip()})")
    p = t.report("otlp", session, "-o", out, "--endpoint", url, check=False)
    t.check(p.returncode == 1, "-o with --endpoint: exit 1")
    p = t.report("otlp", t.path("nowhere"), check=False)
    t.check(p.returncode == 2, f"missing session: exit 2 ({p.returncode})")
    p = t.report("otlp", session, "-o", "/proc/version/x.json", check=False)
    t.check(p.returncode == 4, f"unwritable output: exit 4 ({p.returncode})")
    if os.path.exists("/dev/full"):
        p = t.report("otlp", session, "-o", "/dev/full", check=False)
        t.check(p.returncode == 4 and "/dev/full" in p.stderr, f"disk full: exit 4 ({p.stderr.strip()})")
    t.done()


if __name__ == "__main__":
    main()
