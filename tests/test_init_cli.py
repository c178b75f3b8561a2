#!/usr/bin/python3
"""test_init_cli.py — initial-connectivity families and flossing variants end to end.

Runs the real binary (under real mpirun for the sweep) on real SQLite files:
  * `train --help` documents the new keys; bad values and impossible
    combinations (unknown family, dale without inhibitory units, rank above
    hidden, floss_target out of range, in options and in a sweep file) exit
    with code 2 and one line naming the key, writing nothing;
  * `gradient --objective floss` with floss_mode = detach_h and a floss_target:
    config.txt carries both, loss.npy equals mean((lyap - target)^2) in NumPy,
    W_in and b get no gradient; at the default target config.txt still says 0;
  * a sweep under `mpirun -n 2` of dale jobs (bptt, eprop, rflo with flossing
    pretraining and interleaved flossing): `rnnsweep export` writes final
    W_rec whose columns keep their signs (N_E = round(0.8 N) excitatory
    first), some weights clamped to exactly 0, initial rows summing to 0;
  * the same launch's family section plots as `tools/plot families` (a PNG);
  * jobs/connectivity.ini passes `sweep --check`.
Usage: test_init_cli.py PATH/TO/rnnsweep PATH/TO/tools/plot PATH/TO/jobs/connectivity.ini
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
from harness import check, failure_count, ENV  # noqa: E402

EXE, PLOT, CONN = (os.path.abspath(a) for a in sys.argv[1:4])
TMP = tempfile.mkdtemp(prefix="rnnsweep-init-")


def run(*args, timeout=300):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def path(name):
    return os.path.join(TMP, name)


def config_of(d):
    return dict(l.split("=", 1) for l in open(os.path.join(d, "config.txt")).read().split())


# ---- help and bad input ------------------------------------------------------
r = run("train", "--help")
missing = [k for k in ("init", "gain-norm", "density", "frac-exc", "lowrank-rank", "lowrank-scale",
                       "floss-target") if f"--{k}=" not in r.stdout]
check("train --help documents every new key", r.returncode == 0 and not missing, str(missing))
check("train --help names floss_mode detach_h", "detach_h" in r.stdout)

bad = [
    (["--init", "uniform"], "--init"),
    (["--init", "dale", "--frac-exc", "0.999"], "--frac-exc"),
    (["--init", "dale", "--frac-exc", "0.001"], "--frac-exc"),
    (["--init", "lowrank", "--lowrank-rank", "65"], "--lowrank-rank"),
    (["--density", "0"], "--density"),
    (["--floss-target", "11"], "--floss-target"),
    (["--gain-norm", "max"], "--gain-norm"),
]
for args, key in bad:
    out = path("never")
    r = run("gradient", *args, "--out", out)
    lines = r.stderr.strip().splitlines()
    check(f"gradient {' '.join(args)}: exit 2, one line naming {key}, nothing written",
          r.returncode == 2 and len(lines) == 1 and key in lines[0] and not os.path.exists(out),
          r.stderr.strip())
ini = path("bad.ini")
open(ini, "w").write("task = romo\ninit = lowrank\nhidden = 16\nlowrank_rank = 4, 17\n")
r = run("sweep", ini, "--db", path("never.db"), "--check")
lines = r.stderr.strip().splitlines()
check("sweep file with lowrank_rank > hidden: exit 2, one line naming the file and key",
      r.returncode == 2 and len(lines) == 1 and "bad.ini" in lines[0] and "lowrank_rank" in lines[0]
      and not os.path.exists(path("never.db")), r.stderr.strip())

# ---- the floss dump ----------------------------------------------------------
d = path("floss-detach")
r = run("gradient", "--objective", "floss", "--floss-mode", "detach_h", "--floss-target", "-0.1",
        "--floss-k", "2", "--hidden", "12", "--batch", "3", "--out", d)
ok = r.returncode == 0
if ok:
    cfg, lam, loss = config_of(d), np.load(os.path.join(d, "lyap.npy")), np.load(os.path.join(d, "loss.npy"))
    F = np.mean((lam + 0.1) ** 2)
    gi, gb, gw = (np.load(os.path.join(d, f"grad_{n}.npy")) for n in ("W_in", "b", "W_rec"))
    check("floss dump detach_h: config.txt has floss_mode=detach_h, floss_target=-0.1",
          cfg.get("floss_mode") == "detach_h" and float(cfg.get("floss_target", "nan")) == -0.1, str(cfg))
    check("floss dump detach_h: loss == mean((lyap - target)^2) in NumPy",
          lam.shape == (3, 2) and abs(float(loss) - F) <= 1e-14 * F, f"{float(loss)!r} vs {F!r}")
    check("floss dump detach_h: no gradient for W_in and b, some for W_rec",
          not gi.any() and not gb.any() and np.abs(gw).max() > 0)
else:
    check("floss dump detach_h runs", False, r.stderr.strip())
d = path("floss-default")
r = run("gradient", "--objective", "floss", "--hidden", "12", "--batch", "3", "--out", d)
ok = r.returncode == 0
cfg = config_of(d) if ok else {}
lam = np.load(os.path.join(d, "lyap.npy")) if ok else None
check("floss dump at the default target: config.txt says floss_target=0, floss_mode=full, loss = mean(lyap^2)",
      ok and cfg.get("floss_target") == "0" and cfg.get("floss_mode") == "full"
      and abs(float(np.load(os.path.join(d, "loss.npy"))) - np.mean(lam ** 2)) <= 1e-14 * np.mean(lam ** 2),
      r.stderr.strip())

# ---- a sweep under mpirun: Dale's signs in the exported weights, families plot ---
ini = path("dale.ini")
open(ini, "w").write("""task = romo
hidden = 16
batch = 8
lyap_k = 1
log_every = 10

[dale]
init = dale
rule = bptt, eprop, rflo
iters = 150
lr = 0.02
floss_iters = 10
floss_every = 10
floss_lr = 0.02
floss_k = 2

[families]
rule = bptt
init = gaussian, orthogonal, sparse, dale, lowrank
gain = 0.5, 1.5
iters = 20
""")
db = path("dale.db")
r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", EXE, "sweep", ini, "--db", db, "--progress", "0"],
                   capture_output=True, text=True, timeout=600, env=ENV)
check("dale and families sweep under mpirun -n 2 completes", r.returncode == 0, r.stderr[-400:])
con = sqlite3.connect(db)
ids = [i for (i,) in con.execute("select id from jobs where init = 'dale' and iters = 150 and status = 'done'")]
check("three dale training jobs done, init column 'dale'", len(ids) == 3, str(ids))
N, NE = 16, round(0.8 * 16)
for i in ids:
    out = path(f"export-{i}")
    r = run("export", "--db", db, "--job", str(i), "--out", out)
    if r.returncode != 0:
        check(f"export job {i}", False, r.stderr.strip())
        continue
    rule = config_of(out)["rule"]
    W0, W = np.load(os.path.join(out, "init_W_rec.npy")), np.load(os.path.join(out, "final_W_rec.npy"))
    viol = max(-W[:, :NE].min(), W[:, NE:].max())
    check(f"export {rule}: final W_rec keeps column signs (E columns >= 0, I <= 0), "
          f"{int((W == 0).sum())} weights clamped to 0, max move {np.abs(W - W0).max():.2f}",
          viol <= 0 and (W == 0).sum() > 0 and (W0[:, :NE] > 0).all() and (W0[:, NE:] < 0).all(),
          f"worst violation {viol}")
    check(f"export {rule}: initial rows sum to 0", np.abs(W0.sum(1)).max() < 1e-12,
          str(np.abs(W0.sum(1)).max()))
fams = sorted(f for (f,) in con.execute("select distinct init from jobs where iters = 20 and status = 'done'"))
check("families section: every family done", fams == sorted(["gaussian", "orthogonal", "sparse", "dale", "lowrank"]),
      str(fams))
con.close()
png = path("families.png")
r = subprocess.run(["/usr/bin/python3", PLOT, "families", "--db", db, "--out", png], capture_output=True,
                   text=True, timeout=300)
ok = r.returncode == 0 and os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
check("tools/plot families writes a PNG", ok and os.path.getsize(png) > 10000, r.stderr[-300:])

# ---- the example sweep file --------------------------------------------------
r = run("sweep", CONN, "--db", path("conn.db"), "--check")
check("jobs/connectivity.ini passes sweep --check (120 jobs)",
      r.returncode == 0 and "120 jobs" in r.stdout and not os.path.exists(path("conn.db")), r.stderr.strip())

print(f"test_init_cli: {'all passed' if not failure_count() else f'{failure_count()} failed'}")
if not failure_count():
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(1 if failure_count() else 0)
