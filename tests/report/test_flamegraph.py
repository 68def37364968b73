#!/usr/bin/env python3
"""glass-report flamegraph: folded stacks checked against `glass-report jsonl` (same spans, same
times), the SVG parsed as XML and its frames checked for nesting and proportional widths."""
import collections
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Suite  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
FOLDED_LINE = re.compile(r"^(.+) (\d+)$")


def spans_of(t, session):
    import json
    out = t.report("jsonl", session).stdout
    return [json.loads(line) for line in out.splitlines()]


def label(s):
    if s.get("kind", "function") != "function":
        return s["name"]
    return f"{s['module']}.{s['name']}" if s.get("module") else s["name"]


def expected_stacks(spans, per_thread=False):
    """Stack -> summed self time, from jsonl. A generator or coroutine counts where it ran:
    in basic.py the generator runs in the function that created it (sum(numbers(5)) in main),
    and the coroutines run from asyncio's event loop, whose traced caller is main (asyncio
    itself is not traced by the default policy): so a coroutine's stack is that of its nearest
    ancestor that is not a coroutine."""
    by_id = {s["span_id"]: s for s in spans}

    def placed_parent(s):
        p = by_id.get(s["parent_id"])
        if p is not None and (p["pid"], p["tid"]) != (s["pid"], s["tid"]):
            return None  # started by a span of another thread (a link): its thread's root
        if s.get("generator") == "coroutine":
            while p is not None and p.get("generator") == "coroutine":
                p = by_id.get(p["parent_id"])
        return p

    def path(s):
        names = []
        while s is not None:
            names.append(label(s))
            s = placed_parent(s)
        return names[::-1]

    out = collections.Counter()
    for s in spans:
        stack = path(s)
        if per_thread:
            name = f"{s['pid']}/{s['tid']}" + (f" {s['thread']}" if s["thread"] else "")
            stack = [name] + stack
        out[";".join(stack)] += s["self_ns"]
    return out


def parse_folded(t, text, what):
    got = collections.Counter()
    bad = [line for line in text.splitlines() if not FOLDED_LINE.match(line)]
    t.check(not bad, f"{what}: every line is 'frame;frame <value>' ({bad[:2]})")
    for line in text.splitlines():
        m = FOLDED_LINE.match(line)
        if m:
            got[m.group(1)] += int(m.group(2))
    return got


def frames_of(t, path, what):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        t.check(False, f"{what}: well-formed XML ({e})")
        return None, []
    t.check(root.tag == SVG + "svg", f"{what}: an <svg> document")
    group = [g for g in root.iter(SVG + "g") if g.get("id") == "frames"]
    t.check(len(group) == 1, f"{what}: one frames group")
    frames = []
    for g in group[0] if group else []:
        title = g.find(SVG + "title").text or ""
        rect = g.find(SVG + "rect")
        frames.append({"name": title.split("\n")[0], "title": title,
                       "x": float(rect.get("x")), "w": float(rect.get("width")),
                       "y": float(rect.get("y")), "fill": rect.get("fill"),
                       "text": g.find(SVG + "text").text or ""})
    return root, frames


def check_svg_geometry(t, frames, what):
    """Every frame sits on a frame one row below that spans it; children fit in their parent."""
    rows = collections.defaultdict(list)
    for f in frames:
        rows[f["y"]].append(f)
    bottom = max(rows)
    orphans, overfull = [], []
    for f in frames:
        if f["y"] == bottom:
            continue
        below = [p for p in rows.get(f["y"] + 16, [])
                 if p["x"] <= f["x"] + 0.01 and f["x"] + f["w"] <= p["x"] + p["w"] + 0.01]
        if len(below) != 1:
            orphans.append(f["name"])
    for p in frames:
        kids = [f for f in rows.get(p["y"] - 16, [])
                if p["x"] <= f["x"] + 0.01 and f["x"] + f["w"] <= p["x"] + p["w"] + 0.01]
        if sum(k["w"] for k in kids) > p["w"] + 0.05:
            overfull.append(p["name"])
    t.check(not orphans, f"{what}: every frame stands on exactly one parent ({orphans[:3]})")
    t.check(not overfull, f"{what}: children never wider than their parent ({overfull[:3]})")


BROWSER_CHECK = """<script type="text/ecmascript"><![CDATA[
(function () {
  var out = [];
  try {
    var gs = frames.children, outer = null;
    for (var i = 0; i < gs.length; i++) if (nameof(gs[i]) === '__main__.outer') outer = gs[i];
    outer.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    out.push('hover=' + details.nodeValue);
    outer.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    out.push('zoom=' + outer.getElementsByTagName('rect')[0].getAttribute('width'));
    var hidden = 0;
    for (var i = 0; i < gs.length; i++) if (gs[i].classList.contains('hide')) hidden++;
    out.push('hidden=' + hidden);
    window.dispatchEvent(new KeyboardEvent('keydown', {key: 'f', ctrlKey: true}));
    'leaf'.split('').forEach(function (c) {
      window.dispatchEvent(new KeyboardEvent('keydown', {key: c})); });
    out.push('search=' + matchedtxt.nodeValue);
    window.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));
    window.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));
    out.push('reset=' + outer.getElementsByTagName('rect')[0].getAttribute('width') + ',' +
             matchedtxt.nodeValue.trim());
  } catch (e) { out.push('error=' + e); }
  svg.querySelector('#title').textContent = out.join('|');
})();
]]></script>
</svg>
"""


def check_script(t, svg, outer_w, leaf_share):
    """Runs the SVG's script in headless Chromium (when installed): hover, zoom, search, reset."""
    import shutil
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or \
        shutil.which("google-chrome")
    if not browser:
        t.skip("svg script: no Chromium to run it in")
        return
    text = open(svg, encoding="utf-8").read()
    probe = t.path("probe.svg")
    with open(probe, "w", encoding="utf-8") as f:
        f.write(text.replace("</svg>\n", BROWSER_CHECK))
    try:
        p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                            "--virtual-time-budget=2000", "--dump-dom", "file://" + probe],
                           capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        t.skip(f"svg script: Chromium did not run ({e})")
        return
    m = re.search(r'id="title"[^>]*>([^<]*)<', p.stdout)
    got = dict(kv.split("=", 1) for kv in (m.group(1).split("|") if m else []) if "=" in kv)
    t.check("error" not in got and got.get("hover", "").startswith("__main__.outer") and
            "1 call" in got.get("hover", ""), f"svg script: hover details ({got})")
    t.check(got.get("zoom") == "1180.000" and int(got.get("hidden", 0)) > 0,
            "svg script: a click zooms the frame to the full width, hides the others")
    m = re.match(r"Matched: ([\d.]+)% \(3 frames\)$", got.get("search", ""))
    t.check(m and abs(float(m.group(1)) / 100 - leaf_share) < 0.01,
            f"svg script: Ctrl-F, typing 'leaf': its 3 frames, {leaf_share:.1%} of the total")
    reset = got.get("reset", "").split(",")
    t.check(outer_w is not None and len(reset) == 2 and abs(float(reset[0]) - outer_w) < 0.01
            and reset[1] == "", "svg script: Escape resets zoom and search")


def main():
    t = Suite()
    session = t.record("basic")
    spans = spans_of(t, session)
    total_self = sum(s["self_ns"] for s in spans)

    # GIVEN basic.py WHEN folded THEN the stacks and their times are jsonl's spans, summed
    p = t.report("flamegraph", session, "--folded")
    t.check(p.returncode == 0 and p.stderr == "", f"folded: exit 0, quiet ({p.stderr[-300:]})")
    got = parse_folded(t, p.stdout, "folded")
    want = expected_stacks(spans)
    t.check(sum(got.values()) == total_self,
            f"folded: values sum to the spans' self times ({sum(got.values())} vs {total_self})")
    t.check(set(got) == set(want),
            f"folded: the stacks of jsonl (missing {sorted(set(want) - set(got))[:3]}, "
            f"extra {sorted(set(got) - set(want))[:3]})")
    diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    t.check(not diff, f"folded: each stack's time is its spans' self time ({list(diff.items())[:2]})")
    main_stack = "__main__.<module>;__main__.main;__main__.outer;__main__.middle;__main__.leaf"
    t.check(main_stack in got and "__main__.worker;__main__.middle;__main__.leaf" in got,
            "folded: main → outer → middle → leaf and worker → middle → leaf")
    t.check("__main__.<module>;__main__.main;__main__.fetch" in got,
            "folded: coroutines count where they ran (main, running the event loop)")
    leaf = sum(v for k, v in got.items() if k.endswith(";__main__.leaf"))
    t.check(150e6 <= leaf <= 150e6 * 1.4, f"folded: leaf ≈ 9 sleeps = 150 ms ({leaf / 1e6:.1f} ms)")
    t.check(0.25 <= leaf / total_self <= 0.6,
            f"folded: leaf is {leaf / total_self:.2f} of the total")

    # the same whether read in one thread or through the three-stage pipeline
    outs = [t.report("flamegraph", session, "--folded", "--per-thread",
                     env=dict(os.environ, GLASS_REPORT_THREADS=n)).stdout for n in ("1", "3")]
    t.check(outs[0] == outs[1] and outs[0], "one thread or three: the same stacks")

    # per thread: a root frame per thread, same totals
    p = t.report("flamegraph", session, "--folded", "--per-thread")
    got_t = parse_folded(t, p.stdout, "per-thread")
    want_t = expected_stacks(spans, per_thread=True)
    t.check(got_t == want_t, "per-thread: a 'pid/tid name' frame under each thread's stacks "
            f"({sorted(set(got_t) ^ set(want_t))[:2]})")
    threads = {k.split(";")[0] for k in got_t}
    t.check(len(threads) == 2 and any(k.endswith(" worker-1") for k in threads)
            and any(k.endswith(" MainThread") for k in threads), f"per-thread: {sorted(threads)}")

    # self view: stacks reversed; first frame = the function that spent the time
    p = t.report("flamegraph", session, "--folded", "--value", "self")
    got_s = parse_folded(t, p.stdout, "value self")
    by_fn = collections.Counter()
    for s in spans:
        by_fn[label(s)] += s["self_ns"]
    first = collections.Counter()
    for k, v in got_s.items():
        first[k.split(";")[0]] += v
    t.check(first == by_fn, "value self: the bottom frame's width is the function's self time")
    rev = {";".join(k.split(";")[::-1]): v for k, v in got_s.items()}
    t.check(rev == dict(got), "value self: the same stacks, reversed")

    # filters
    worker = [s for s in spans if s["thread"] == "worker-1"]
    wtid = worker[0]["tid"]
    for sel in ("worker-1", str(wtid)):
        p = t.report("flamegraph", session, "--folded", "--thread", sel)
        g = parse_folded(t, p.stdout, f"--thread {sel}")
        t.check(g == expected_stacks(worker), f"--thread {sel}: the worker's stacks only")
    pid = spans[0]["pid"]
    p = t.report("flamegraph", session, "--folded", "--process", str(pid))
    t.check(parse_folded(t, p.stdout, "--process") == got, "--process PID: everything of it")
    p = t.report("flamegraph", session, "--folded", "--process", "1")
    t.check(p.returncode == 0 and p.stdout == "", "--process of another pid: nothing")

    # time window: the worker's time only (absolute Unix times); a span across a limit counts
    # its self time inside: its time inside less its children's time inside
    w0 = min(s["start_ns"] for s in worker)
    w1 = max(s["start_ns"] + s["dur_ns"] for s in worker)
    p = t.report("flamegraph", session, "--folded", "--since", "@%.9f" % (w0 / 1e9),
                 "--until", "@%.9f" % (w1 / 1e9))
    g = parse_folded(t, p.stdout, "window")

    def inside(s):
        return max(0, min(s["start_ns"] + s["dur_ns"], w1) - max(s["start_ns"], w0))

    kids_in = collections.Counter()
    by_id = {s["span_id"]: s for s in spans}
    for s in spans:
        p = by_id.get(s["parent_id"])
        if p is not None and (p["pid"], p["tid"]) == (s["pid"], s["tid"]):
            kids_in[s["parent_id"]] += inside(s)  # (a thread started by it: not its time)
    clipped = collections.Counter()
    crossing = 0
    for s in spans:
        if not inside(s):
            continue
        if w0 <= s["start_ns"] and s["start_ns"] + s["dur_ns"] <= w1:
            clipped[label(s)] += s["self_ns"]
        else:
            crossing += 1
            clipped[label(s)] += min(s["self_ns"], max(0, inside(s) - kids_in[s["span_id"]]))
    t.check(crossing > 0, f"--since/--until: spans cross the window's limits ({crossing})")
    g_fn = collections.Counter()
    for k, v in g.items():
        g_fn[k.split(";")[-1]] += v
    ok = all(abs(g_fn[k] - clipped[k]) <= 0.002 * max(clipped[k], 1e6) for k in clipped)
    t.check(ok and set(g_fn) <= set(clipped), "--since/--until: the window's share of each "
            f"function ({[(k, g_fn[k], int(clipped[k])) for k in clipped][:3]})")
    p = t.report("flamegraph", session, "--folded", "--until", "2099-01-01 00:00:00")
    t.check(parse_folded(t, p.stdout, "until 2099") == got, "--until a local time after the run")
    p = t.report("flamegraph", session, "--folded", "--since", "3600")
    t.check(p.returncode == 0 and p.stdout == "", "--since an hour after the start: nothing")
    # the first 100 ms: at most 100 ms of each thread, exactly (the worker may start inside
    # them on a fast machine, and the main thread's time goes on while it waits in join())
    p = t.report("flamegraph", session, "--folded", "--since", "0", "--until", "100ms")
    total = sum(parse_folded(t, p.stdout, "100ms").values())
    t.check(p.returncode == 0 and 0 < total <= 2 * 100e6,
            f"--until 100ms: at most 100 ms of each of the two threads ({total})")
    p = t.report("flamegraph", session, "--folded", "--since", "0", "--until", "100ms",
                 "--thread", "MainThread")
    main_total = sum(parse_folded(t, p.stdout, "100ms main").values())
    t.check(p.returncode == 0 and 0 < main_total <= 100e6 and main_total <= total,
            f"--until 100ms --thread MainThread: at most 100 ms ({main_total})")

    # --max-stacks: new stacks count in their caller; nothing is lost
    p = t.report("flamegraph", session, "--folded", "--max-stacks", "3")
    g = parse_folded(t, p.stdout, "max-stacks")
    t.check(len(g) <= 4 and sum(g.values()) == total_self and "--max-stacks" in p.stderr,
            f"--max-stacks 3: {len(g)} stacks, same total, a warning ({dict(g)})")

    # the SVG
    svg = t.path("flame.svg")
    p = t.report("flamegraph", session, "-o", svg, "--title", "basic <&> \"title\"")
    t.check(p.returncode == 0 and p.stdout == "", "svg: written to -o, exit 0")
    root, frames = frames_of(t, svg, "svg")
    if root is not None:
        text = open(svg, encoding="utf-8").read()
        t.check("<script" in text and "function zoom" in text and "function search" in text,
                "svg: embedded script (zoom, search)")
        t.check(not re.search(r"(src|href)\s*=|https?://(?!www\.w3\.org/2000/svg)", text),
                "svg: no external resource")
        titles = [e.text for e in root.iter(SVG + "text") if e.get("id") == "title"]
        t.check(titles == ['basic <&> "title"'], f"svg: title escaped ({titles})")
        names = collections.Counter(f["name"] for f in frames)
        t.check(names["__main__.<module>"] == 1 and names["__main__.leaf"] == 3
                and names["__main__.middle"] == 2, f"svg: frames by stack ({dict(names)})")
        allf = [f for f in frames if f["name"] == "all"]
        t.check(len(allf) == 1 and abs(allf[0]["w"] - 1180) < 0.01, "svg: 'all' spans the width")
        leaf_w = sum(f["w"] for f in frames if f["name"] == "__main__.leaf")
        t.check(abs(leaf_w / 1180 - leaf / total_self) < 0.005,
                f"svg: leaf widths ∝ time ({leaf_w / 1180:.3f} vs {leaf / total_self:.3f})")
        order = {}
        for f in frames:
            order.setdefault(f["name"], f)
        m, o, mi = order["__main__.main"], order["__main__.outer"], order["__main__.middle"]
        t.check(o["y"] == m["y"] - 16 and mi["y"] == o["y"] - 16,
                "svg: main → outer → middle, one row each, upwards")
        check_svg_geometry(t, frames, "svg")
        leaf_title = [f["title"] for f in frames if f["name"] == "__main__.leaf"]
        t.check(any(re.search(r"\d+(\.\d+)?ms \(\d+\.\d\d%\), 6 calls", x) for x in leaf_title),
                f"svg: hover details: time, share, calls ({leaf_title[:1]})")
        py = {f["fill"] for f in frames if f["name"].startswith("__main__.")}
        t.check(all(re.match(r"rgb\((\d+),(\d+),(\d+)\)$", c) for c in py),
                "svg: frames coloured")

    outer_w = [f["w"] for f in frames if f["name"] == "__main__.outer"]
    check_script(t, svg, outer_w[0] if outer_w else None, leaf / total_self)

    # hostile names: quotes, backslash, newline, tab, non-ASCII in qualified names
    odd = t.record("oddnames")
    svg2 = t.path("odd.svg")
    t.report("flamegraph", odd, "-o", svg2)
    root, frames = frames_of(t, svg2, "odd names")
    names = {f["name"] for f in frames}
    t.check({'__main__.we"ird\\name', "__main__.new line", "__main__.café.ünï",
             "__main__.tab here"} <= names, f"odd names: cleaned and escaped ({sorted(names)})")
    p = t.report("flamegraph", odd, "--folded")
    lines = p.stdout.splitlines()
    t.check(len(lines) == len([ln for ln in lines if FOLDED_LINE.match(ln)])
            and any("new line" in ln for ln in lines), "odd names: one line per stack")

    # captured operations (SQLite, HTTP) are frames of their own, under their Python function
    web = t.record("web")
    wspans = spans_of(t, web)
    if not any(s.get("kind") == "db" for s in wspans):
        t.skip("captured operations: none recorded (capture not built in)")
    else:
        p = t.report("flamegraph", web, "--folded")
        g = parse_folded(t, p.stdout, "web")
        t.check(sum(g.values()) == sum(s["self_ns"] for s in wspans),
                "web: values sum to the spans' self times")
        t.check(any(k.endswith("__main__.main;SQL INSERT t") for k in g),
                f"web: 'SQL INSERT t' under main ({sorted(g)[:8]})")
        t.check(any(k.startswith("GET /users/{id};") and "Handler.do_GET" in k for k in g),
                "web: the handler under its request")
        svg3 = t.path("web.svg")
        t.report("flamegraph", web, "-o", svg3)
        _, frames = frames_of(t, svg3, "web svg")
        sql = [f for f in frames if f["name"].startswith("SQL ")]
        t.check(sql and all(len(f["title"].split("\n")) == 3 and
                            f["title"].split("\n")[2].split(" ")[0].lower() in
                            ("create", "insert", "select", "begin") for f in sql),
                f"web svg: SQL frames show their statement ({[f['title'] for f in sql][:2]})")
        kinds = {f["fill"] for f in sql} & {f["fill"] for f in frames
                                            if f["name"].startswith("__main__.")}
        t.check(sql and not kinds, "web svg: DB frames coloured apart from Python")

    # exit codes and usage
    p = t.report("flamegraph", t.path("nowhere"), check=False)
    t.check(p.returncode == 2, f"missing session: exit 2 ({p.returncode})")
    for bad in (["--value", "cpu"], ["--since", "yesterday"], ["--bogus"], ["--width", "5"]):
        p = t.report("flamegraph", session, *bad, "--folded", check=False)
        t.check(p.returncode == 1, f"{' '.join(bad)}: exit 1 ({p.returncode})")
    p = t.report("flamegraph", session, "-o", "/nonexistent/dir/flame.svg", check=False)
    t.check(p.returncode == 4, f"unwritable output: exit 4 ({p.returncode})")
    p = t.report("flamegraph", "--help")
    t.check(p.returncode == 0 and "--value" in p.stdout and "Exit status" in p.stdout,
            "--help")
    p = t.report("flamegraph", session)
    t.check(p.stdout.startswith("<?xml") and p.stdout.rstrip().endswith("</svg>"),
            "no -o, standard output not a terminal: the SVG there")
    p = t.report("--help")
    t.check("flamegraph" in p.stdout, "listed in glass-report --help")

    # GIVEN a recording large enough for many pipeline batches (two processes, three threads
    # each, generators, exceptions) THEN one thread or three give the same graph, in every mode
    syn = t.synthetic("syn", 100000)
    if syn:
        for extra in ([], ["--per-thread"], ["--value", "self"], ["--thread", "worker-2"]):
            outs = [t.report("flamegraph", syn, "--folded", *extra,
                             env=dict(os.environ, GLASS_REPORT_THREADS=n)).stdout
                    for n in ("1", "3")]
            lines = outs[0].count("\n")
            t.check(outs[0] == outs[1] and lines > 1000,
                    f"synthetic, {' '.join(extra) or 'default'}: one thread or three, the same "
                    f"{lines} stacks")
    t.done()


if __name__ == "__main__":
    main()
