#!/usr/bin/python3
"""test_plot.py — tools/plot on a database made by a tiny real sweep.

Runs a 24-job sweep (romo, bptt/eprop, two gains, two lrs, two seeds, with
and without flossing, exponents during training, diagnostics every 20
iterations) with `mpirun -n 1`, then `tools/plot all`: every figure must be
written as a valid PNG (signature, IHDR chunk with a plausible size, IEND)
of non-trivial size, and every figure of the table is documented in
`tools/plot --help` and the README.  `align` draws one panel per eprop arm
and not bptt's.  `floss` on a sweep without flossing jobs says exactly that
and exits 2, and so do `align` and `drift` on a sweep without diagnostics
(and `all` skips them there, saying why); a foreign database is refused
with exit code 2.  From the sweep's CSV export (tools/study-report
--export-csv), `tools/plot --csv` draws the figures that need no curves or
full spectrum, those made from the jobs table byte-identical to the
database's, and says that curves need the database.
Usage: test_plot.py PATH/TO/rnnsweep PATH/TO/tools/plot
"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
from harness import check, failure_count, ENV  # noqa: E402

EXE, PLOT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
PYTHON = "/usr/bin/python3"
TMP = tempfile.mkdtemp(prefix="rnnsweep-plot-")


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
diag_every = 20

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

FIGURES = ("curves", "accuracy", "test-loss", "heatmap", "lyap", "spectrum", "floss", "lyap-train", "families",
           "align", "drift")


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
check("all on that sweep skips floss, lyap-train, align and drift, saying why, and draws the rest",
      r.returncode == 0 and "floss: skipped:" in r.stdout and "no flossing jobs" in r.stdout
      and "lyap-train: skipped:" in r.stdout and "align: skipped:" in r.stdout and "drift: skipped:" in r.stdout
      and r.stdout.count("no diagnostics (diag_every = 0") == 2
      and all(valid_png(os.path.join(TMP, "plainfigs", n + ".png"))[0]
              for n in ("curves", "accuracy", "test-loss", "heatmap", "lyap", "spectrum")), r.stdout[-400:])

for fig in ("align", "drift"):
    png = os.path.join(TMP, f"nodiag-{fig}.png")
    r = subprocess.run([PLOT, fig, "--db", plain, "--out", png], capture_output=True, text=True)
    check(f"{fig} on a sweep without diagnostics: one line saying so, exit 2, nothing written",
          r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no diagnostics" in r.stderr
          and not os.path.exists(png), r.stderr.strip())

con = sqlite3.connect(db)
arms = con.execute("select count(distinct floss_iters || floss_mode) from jobs where rule = 'eprop'").fetchone()[0]
n_align = con.execute("select count(*) from diagnostics where name = 'align_rec'").fetchone()[0]
n_bptt = con.execute("select count(*) from diagnostics d join jobs j on j.id = d.job_id "
                     "where j.rule = 'bptt' and d.name = 'align_rec'").fetchone()[0]
con.close()
r = subprocess.run([PYTHON, "-c", f"""
import sys; sys.argv = ['plot', 'align', '--db', {db!r}, '--out', {os.path.join(TMP, 'a.png')!r}]
sys.path.insert(0, {os.path.dirname(PLOT)!r})
import matplotlib.figure, runpy
titles = []
orig = matplotlib.figure.Figure.savefig
def spy(self, *a, **k):
    titles.extend(ax.get_title() for ax in self.axes if ax.get_visible())
    return orig(self, *a, **k)
matplotlib.figure.Figure.savefig = spy
try:
    runpy.run_path({PLOT!r}, run_name='__main__')
finally:
    print('TITLES', titles)
"""], capture_output=True, text=True)
titles = eval(r.stdout.split("TITLES", 1)[1]) if "TITLES" in r.stdout else []
check("align: one panel per eprop arm (plain, flossed), none for bptt (no align_rec rows for it)",
      n_align > 0 and n_bptt == 0 and len(titles) == arms == 2 and all("eprop" in t for t in titles),
      f"{titles}, {arms} arms")

export = os.path.join(TMP, "export")
r = subprocess.run([PYTHON, os.path.join(os.path.dirname(PLOT), "study-report"), "--export-csv", export, "--db", db],
                   capture_output=True, text=True)
check("the sweep exports to CSV", r.returncode == 0, r.stderr[-300:])
csvfigs = os.path.join(TMP, "csvfigs")
r = subprocess.run([PLOT, "all", "--csv", os.path.join(export, "tiny.csv"), "--outdir", csvfigs],
                   capture_output=True, text=True)
from_csv = ("test-loss", "heatmap", "lyap", "floss", "lyap-train", "families", "align", "drift")
check("plot all --csv: every figure but curves, accuracy and spectrum, which say they need the database",
      r.returncode == 0 and all(valid_png(os.path.join(csvfigs, n + ".png"))[0] for n in from_csv)
      and all(f"{n}: skipped:" in r.stdout for n in ("curves", "accuracy", "spectrum"))
      and r.stdout.count("from the database") == 3, r.stdout[-500:] + r.stderr[-300:])
same = [n for n in ("test-loss", "heatmap", "lyap", "floss", "families", "drift")
        if os.path.exists(os.path.join(csvfigs, n + ".png"))
        and open(os.path.join(csvfigs, n + ".png"), "rb").read() == open(os.path.join(out, n + ".png"), "rb").read()]
check("figures of the jobs table are byte-identical from the CSV export and from the database",
      len(same) == 6, str(same))
r = subprocess.run([PLOT, "curves", "--csv", os.path.join(export, "tiny.csv"), "--out", os.path.join(TMP, "c.png"),
                    "--where", "gain > 1"], capture_output=True, text=True)
check("--where with --csv: one line, exit 2", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1,
      r.stderr)

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

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
sys.exit(1 if failure_count() else 0)
