#!/usr/bin/python3
"""test_plot.py — tools/plot on a database made by a tiny real sweep.

Runs a 24-job sweep (romo, bptt/eprop, two gains, two lrs, two seeds, with
and without flossing, exponents during training) with `mpirun -n 1`, then
`tools/plot all`: every figure must be written as a valid PNG (signature,
IHDR chunk with a plausible size, IEND) of non-trivial size, and every
figure of the table is documented in `tools/plot --help` and the README.
`floss` on a sweep without flossing jobs says exactly that and exits 2
(and `all` skips it there, saying why); a foreign database is refused with
exit code 2.
Usage: test_plot.py PATH/TO/rnnsweep PATH/TO/tools/plot
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile

EXE, PLOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="rnnsweep-plot-")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
failures = 0


def check(what, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + what + (f"  [{detail}]" if detail else ""), flush=True)
    failures += not ok


sweep = os.path.join(TMP, "tiny.ini")
open(sweep, "w").write("""task = romo
rule = bptt, eprop
gain = 0.5, 1.5
lr = 0.003, 0.01
seed = 0, 1
hidden = 16
batch = 8
iters = 60
log_every = 10
lyap_k = 2
lyap_every = 20

[plain]
floss_iters = 0

[flossed]
rule = eprop
floss_iters = 5
floss_mode = local
""")
db = os.path.join(TMP, "tiny.db")
r = subprocess.run(["mpirun", "-n", "1", EXE, "sweep", sweep, "--db", db, "--progress", "0"],
                   capture_output=True, text=True, env=ENV)
check("tiny sweep for the plots completes", r.returncode == 0, r.stderr[-300:])

FIGURES = ("curves", "accuracy", "test-loss", "heatmap", "lyap", "spectrum", "floss", "lyap-train", "families")


def valid_png(p):
    if not os.path.exists(p):
        return False, "missing"
    data = open(p, "rb").read()
    w, h = struct.unpack(">II", data[16:24]) if len(data) > 24 else (0, 0)
    ok = (data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and 200 <= w <= 10000
          and 200 <= h <= 10000 and data[-8:-4] == b"IEND" and len(data) > 10000)
    return ok, f"{w}x{h}, {len(data)} bytes"


out = os.path.join(TMP, "figs")
r = subprocess.run([PLOT, "all", "--db", db, "--outdir", out], capture_output=True, text=True)
check("tools/plot all exits 0", r.returncode == 0, r.stderr[-300:])
listed = [ln.split(":")[0] for ln in r.stdout.splitlines()]
for name in FIGURES:
    ok, detail = valid_png(os.path.join(out, name + ".png"))
    check(f"figure {name}: a valid, non-empty PNG", ok, detail)
others = [os.path.basename(x)[:-4] if x.endswith(".png") else x for x in listed]
check("`all` reports every figure of the table, written or skipped with a reason",
      set(FIGURES) <= set(others) and len(others) == len(r.stdout.splitlines()), r.stdout[-300:])

helptext = subprocess.run([PLOT, "--help"], capture_output=True, text=True).stdout
readme = open(os.path.join(os.path.dirname(PLOT), "..", "README.md")).read()
undocumented = [n for n in others if f"  {n} " not in helptext or f"`{n}`" not in readme]
check("every figure is documented in tools/plot --help and in the README", not undocumented, str(undocumented))

plain_ini = os.path.join(TMP, "plain.ini")
open(plain_ini, "w").write("task = romo\nrule = bptt\ngain = 0.5, 1.5\nlr = 0.01\nseed = 0, 1\nhidden = 8\n"
                           "batch = 4\niters = 10\nlog_every = 5\nlyap_k = 2\n")
plain = os.path.join(TMP, "plain.db")
r = subprocess.run(["mpirun", "-n", "1", EXE, "sweep", plain_ini, "--db", plain, "--progress", "0"],
                   capture_output=True, text=True, env=ENV)
check("a sweep without flossing completes", r.returncode == 0, r.stderr[-300:])
nofloss = os.path.join(TMP, "nofloss.png")
r = subprocess.run([PLOT, "floss", "--db", plain, "--out", nofloss], capture_output=True, text=True)
last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
check("floss on a sweep without flossing jobs says so and exits 2, writing nothing",
      r.returncode == 2 and "no flossing jobs" in last and not os.path.exists(nofloss), r.stderr.strip())
r = subprocess.run([PLOT, "all", "--db", plain, "--outdir", os.path.join(TMP, "plainfigs")],
                   capture_output=True, text=True)
check("all on that sweep skips floss and lyap-train, saying why, and draws the rest",
      r.returncode == 0 and "floss: skipped:" in r.stdout and "no flossing jobs" in r.stdout
      and "lyap-train: skipped:" in r.stdout
      and all(valid_png(os.path.join(TMP, "plainfigs", n + ".png"))[0]
              for n in ("curves", "accuracy", "test-loss", "heatmap", "lyap", "spectrum")), r.stdout[-400:])

single = os.path.join(TMP, "one.png")
r = subprocess.run([PLOT, "curves", "--db", db, "--out", single, "--rule", "eprop", "--floss-iters", "5"],
                   capture_output=True, text=True)
check("tools/plot curves with filters writes one PNG", r.returncode == 0 and os.path.getsize(single) > 10000,
      r.stderr[-200:])

foreign = os.path.join(TMP, "foreign.db")
c = sqlite3.connect(foreign)
c.execute("create table t(x)")
c.commit()
c.close()
r = subprocess.run([PLOT, "curves", "--db", foreign, "--out", os.path.join(TMP, "x.png")],
                   capture_output=True, text=True)
check("a foreign database is refused with exit 2", r.returncode == 2 and "not an rnnsweep" in r.stderr)

print(f"{'FAILED' if failures else 'passed'}: {failures} failure(s)")
sys.exit(1 if failures else 0)
