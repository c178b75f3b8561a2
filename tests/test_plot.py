#!/usr/bin/python3
"""test_plot.py — tools/plot on a database made by a tiny real sweep.

Runs a 24-job sweep (romo, bptt/eprop, two gains, two lrs, two seeds, with
and without flossing, exponents during training) with `mpirun -n 1`, then
`tools/plot all`: every figure must be written as a valid PNG (signature,
IHDR chunk with a plausible size, IEND) of non-trivial size.  A foreign
database is refused with exit code 2.
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

out = os.path.join(TMP, "figs")
r = subprocess.run([PLOT, "all", "--db", db, "--outdir", out], capture_output=True, text=True)
check("tools/plot all exits 0", r.returncode == 0, r.stderr[-300:])
for name in ("curves", "lyap", "floss", "lyap-train"):
    p = os.path.join(out, name + ".png")
    ok, detail = False, "missing"
    if os.path.exists(p):
        data = open(p, "rb").read()
        w, h = struct.unpack(">II", data[16:24]) if len(data) > 24 else (0, 0)
        ok = (data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and 200 <= w <= 10000
              and 200 <= h <= 10000 and data[-8:-4] == b"IEND" and len(data) > 10000)
        detail = f"{w}x{h}, {len(data)} bytes"
    check(f"figure {name}: a valid, non-empty PNG", ok, detail)

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
