#!/usr/bin/python3
"""html charts (issue 14): uPlot inlined with its licence; in headless Chromium every chart
draws with no console error, for a recording of 1 request and a session of 1M requests
(gen_http_session.py); a click on an endpoint redraws the charts for it."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import Suite  # noqa: E402

CHARTS = ["chart-rps", "chart-lat", "chart-err", "chart-db", "chart-hist", "chart-cpu", "chart-rss"]


def browser(chromium, path, *args):
    profile = tempfile.mkdtemp(prefix="glass-chromium.")
    try:
        return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-quic", "--disable-background-networking",
                               "--disable-component-update", "--disable-sync", "--no-first-run",
                               f"--user-data-dir={profile}", "--window-size=1300,2600",
                               "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0",
                               *args, "file://" + path],
                              capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(stderr):
    return [ln for ln in stderr.splitlines()
            if "CONSOLE" in ln or "Uncaught" in ln or "SyntaxError" in ln or "TypeError" in ln]


def check_page(t, chromium, page, what, endpoints, requests):
    html = open(page, encoding="utf-8").read()
    t.check("/*! uPlot 1.6.32 | The MIT License (MIT)" in html and "Leon Sorokin" in html,
            f"{what}: uPlot is inlined with its licence")
    t.check(html.count("<script") == 1 and "src=" not in html.split("<main>")[0],
            f"{what}: one inline script, nothing fetched")
    p = browser(chromium, page, "--dump-dom")
    dom = p.stdout
    errs = console_errors(p.stderr)
    t.check(not errs, f"{what}: no console error ({errs[:3]})")
    drawn = {c: re.search(r'id="%s"[^>]*data-drawn="(\d+)"' % c, dom) for c in CHARTS}
    missing = [c for c, m in drawn.items() if not m or int(m.group(1)) < 1]
    t.check(not missing, f"{what}: every chart drew ({missing or 'all 7'})")
    canv = dom.count("<canvas")
    t.check(canv >= len(CHARTS), f"{what}: a canvas per chart ({canv})")
    t.check(all(f">{e}</button>" in dom for e in endpoints),
            f"{what}: a button per endpoint ({endpoints})")
    m = re.search(r'"series":\[\{"name":"all endpoints","rps":\[([^\]]*)\]', html)
    t.check(m is not None, f"{what}: the data holds requests/s for all endpoints")
    if m:
        w = float(re.search(r'"width_s":([\d.]+)', html).group(1))
        total = sum(float(x) for x in m.group(1).split(",") if x and x != "null") * w
        t.check(abs(total - requests) <= max(1, requests * 1e-4),
                f"{what}: requests/s over time add up to the requests ({total:.0f} of {requests})")
    # a click on the last endpoint's button redraws the charts for it
    clicked = page + ".click.html"
    with open(clicked, "w", encoding="utf-8") as f:
        f.write(html.replace("</body>", "<script>var b=document.querySelectorAll('#chart-pick button');"
                                         "b[b.length-1].click()</script></body>"))
    p = browser(chromium, clicked, "--dump-dom")
    t.check(f"Requests per second: {endpoints[-1]}" in p.stdout and not console_errors(p.stderr),
            f"{what}: a click on an endpoint shows its charts")
    shot = os.path.join(os.environ.get("GLASS_TEST_ARTIFACTS", t.tmp), f"glass-charts-{what}.png")
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    browser(chromium, page, f"--screenshot={shot}")
    t.check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"{what}: a screenshot ({shot})")


def main():
    t = Suite()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        t.skip("chromium is not installed: the chart checks need it")
        t.done()
    # GIVEN a recording of one request
    s1 = t.record("one_request")
    page = t.path("one.html")
    t.report("html", s1, "-o", page)
    check_page(t, chromium, page, "1 request", ["GET /hello"], 1)

    # GIVEN a session of 1M requests over 2 workers, 1 in 16 failing, with resources
    out = t.path("big")
    g = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "gen_http_session.py"), out,
                        "1000000", "2"], capture_output=True, text=True, check=True)
    big = g.stdout.strip()
    page = t.path("big.html")
    t.report("html", big, "-o", page, "--no-flame")
    size = os.path.getsize(page)
    t.check(size < 2 << 20, f"1M requests: the page stays small ({size} bytes): binned series")
    check_page(t, chromium, page, "1M requests", ["GET /users/{id}"], 1000000)
    html = open(page, encoding="utf-8").read()
    err = re.search(r'"name":"all endpoints".*?"err":\[([^\]]*)\]', html)
    nerr = sum(float(x) for x in err.group(1).split(",") if x != "null") if err else -1
    t.check(60000 <= nerr <= 65000, f"1M requests: errors over time add up to the failed ones, about 1 in 16 ({nerr:.0f})")
    t.done()


if __name__ == "__main__":
    main()
