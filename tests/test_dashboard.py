#!/usr/bin/python3
"""test_dashboard.py — tools/dashboard served for real and looked at in headless Chromium.

  * a finished sweep (real binary): the dashboard, started on a free
    localhost port, serves the page (showing the sweep's job count), its
    three SVG figures and /status.json (counts equal to SQL's);
  * a running sweep (--flush 0.3): /status.json lists the running job with
    its live iteration count and rate, and an ETA, before any job finished;
  * headless Chromium (Debian's chromium) renders the page to a PNG that is
    not blank; where Chromium is not installed that one check is skipped
    with a message;
  * --static writes one self-contained HTML file (figures inlined, no
    /fig/ references); a bad --db is exit 2 with one line.

Usage: test_dashboard.py PATH/TO/rnnsweep PATH/TO/tools/dashboard
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from harness import check, failure_count, wait_for, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
DASH = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="rnnsweep-dash-")


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")


def serve(db):
    """Start the dashboard on a free port; (process, base URL)."""
    p = subprocess.Popen(["/usr/bin/python3", DASH, "--db", db, "--port", "0", "--refresh", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # "tools/dashboard: serving DB on http://127.0.0.1:PORT/ ..."
    url = line.split(" on ", 1)[1].split()[0] if " on http" in line else None
    return p, url


sweep = os.path.join(TMP, "s.ini")
open(sweep, "w").write("task = romo\nrule = bptt, eprop\ngain = 0.5, 1.5\nseed = 0, 1\n"
                       "hidden = 8\nbatch = 4\niters = 30\nlog_every = 5\nlyap_k = 2\n"
                       "val_batch = 32\ntest_batch = 64\n")
db = os.path.join(TMP, "s.db")
r = subprocess.run([EXE, "sweep", sweep, "--db", db, "--progress", "0"], capture_output=True, text=True, env=ENV)
check("a finished sweep of 8 jobs", r.returncode == 0, r.stderr[-300:])

p, base = serve(db)
try:
    check("the dashboard starts on a free port and says where", base is not None, str(base))
    code, ctype, body = get(base)
    check("the page: 200, HTML, shows the sweep's job count (8) and refreshes itself",
          code == 200 and "text/html" in ctype and "<b>8</b> jobs" in body and 'http-equiv="refresh"' in body,
          body[:200])
    for name in ("curves", "lyap", "success"):
        code, ctype, svg = get(f"{base}fig/{name}.svg")
        check(f"figure {name}: an SVG drawn by matplotlib", code == 200 and "svg" in ctype and "<svg" in svg
              and len(svg) > 2000, f"{code} {ctype} {len(svg)} bytes")
    code, ctype, js = get(f"{base}status.json")
    st = json.loads(js)
    c = sqlite3.connect(db)
    sql = dict(c.execute("select status, count(*) from jobs group by status").fetchall())
    c.close()
    check("/status.json parses and its counts equal SQL's",
          st["total"] == 8 and all(st["counts"][k] == sql.get(k, 0) for k in st["counts"]), js[:200])

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP screenshot: Debian's chromium is not installed (apt-get install chromium)", flush=True)
    else:
        shot = os.path.join(TMP, "shot.png")
        profile = os.path.join(TMP, "profile")
        cr = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                             "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                             "--window-size=1280,1800", "--hide-scrollbars", f"--screenshot={shot}", base],
                            capture_output=True, text=True, timeout=180)
        ok = os.path.exists(shot) and os.path.getsize(shot) > 10000
        detail = f"exit {cr.returncode}, {os.path.getsize(shot) if os.path.exists(shot) else 0} bytes"
        if ok:
            import matplotlib.image as mpimg
            img = mpimg.imread(shot)[..., :3]
            ink = float((img.mean(axis=2) < 0.9).mean())  # share of pixels that are not near-white
            ok = img.shape[0] > 500 and img.std() > 0.05 and ink > 0.01
            detail += f", {img.shape[1]}x{img.shape[0]}, {100 * ink:.1f}% ink, sd {img.std():.3f}"
        check("headless Chromium renders the page to a non-blank PNG", ok, detail)
finally:
    p.terminate()
    p.wait(timeout=30)

out = os.path.join(TMP, "snap.html")
r = subprocess.run(["/usr/bin/python3", DASH, "--db", db, "--static", out], capture_output=True, text=True)
text = open(out).read() if os.path.exists(out) else ""
check("--static: one self-contained HTML (three inline SVGs, no /fig/ links)",
      r.returncode == 0 and text.count("<svg") >= 3 and "/fig/" not in text and "<b>8</b> jobs" in text,
      r.stderr[-200:])
r = subprocess.run(["/usr/bin/python3", DASH, "--db", os.path.join(TMP, "missing.db")], capture_output=True,
                   text=True)
check("a missing database: exit 2, one line", r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr)

# ---- a sweep that is running: live rows, rate and ETA before any job finished
slow = os.path.join(TMP, "slow.ini")
open(slow, "w").write("task = romo\nhidden = 32\nbatch = 16\niters = 200000\nlog_every = 100\nseed = 0, 1\n")
ldb = os.path.join(TMP, "live.db")
sw = subprocess.Popen(["mpirun", "-n", "1", EXE, "sweep", slow, "--db", ldb, "--progress", "0", "--flush", "0.3"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)


def live_rows():
    try:
        c = sqlite3.connect(ldb, timeout=5)
        n = c.execute("select count(*) from jobs where status='running' and iters_done > 0").fetchone()[0]
        c.close()
        return n > 0
    except sqlite3.Error:
        return False


running = wait_for(live_rows)
p, base = serve(ldb)
try:
    st = json.loads(get(f"{base}status.json")[2]) if base else {}
    run = st.get("running", [])
    check("while the sweep runs: the running job with live iterations and a rate, a finite ETA",
          running and len(run) == 1 and run[0]["iters_done"] > 0 and (run[0]["rate"] or 0) > 0
          and st.get("eta_seconds") is not None and st["counts"]["done"] == 0, json.dumps(st)[:300])
    code, _, svg = get(f"{base}fig/curves.svg")
    check("its live curve is drawn", code == 200 and "<svg" in svg and "no curve rows" not in svg)
finally:
    p.terminate()
    p.wait(timeout=30)
    os.killpg(sw.pid, signal.SIGUSR1)
    sw.communicate(timeout=300)

shutil.rmtree(TMP, ignore_errors=True)
print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
sys.exit(1 if failure_count() else 0)
