#!/usr/bin/python3
"""test_views.py — the protocol views of the results database, recomputed independently.

A real database (a tiny sweep run by the real binary as an MPI singleton:
2 gains x 3 lrs x 6 seeds) gets planted outcomes by SQL, chosen so that
  * the lr with the lowest validation loss is not the one with the lowest
    test loss (best_lr must choose on validation);
  * one group's pick is the grid's smallest lr and another's its middle lr
    (lr_at_edge 1 and 0), and a diverged seed outweighs a low mean;
  * success rates span 0, interior values and 1.
Then `best_lr`, `success` and `summary` are compared with a plain-Python
recomputation from the jobs table, and the Wilson bounds with SciPy's
binomtest(...).proportion_ci(method="wilson").  Editing `thresholds` changes
`solved` (the table is read by the views, not copied).

Usage: test_views.py PATH/TO/rnnsweep
"""
import os
import sqlite3
import subprocess
import sys
import tempfile

from scipy import stats
from harness import check, failure_count, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="rnnsweep-views-")


sweep = os.path.join(TMP, "v.ini")
open(sweep, "w").write("task = 2af\ngain = 0.5, 1.5\nlr = 0.0001, 0.001, 0.01\nseed = 0..5\n"
                       "hidden = 4\nbatch = 2\niters = 1\nlyap_k = 1\nval_batch = 32\ntest_batch = 32\n")
db = os.path.join(TMP, "v.db")
p = subprocess.run([EXE, "sweep", sweep, "--db", db, "--progress", "0"], capture_output=True,
                   text=True, env=ENV)
check("tiny sweep runs", p.returncode == 0, p.stderr[-300:])

# Planted outcomes: (gain, lr) -> per seed (val_loss, test_loss, test_accuracy or None = diverged).
plant = {
    # gain 0.5: lr 1e-4 best on validation (0.10) though 1e-3 is best on test -> pick 1e-4, at edge
    (0.5, 1e-4): [(0.10, 0.50, 0.95)] * 6,
    (0.5, 1e-3): [(0.20, 0.05, 0.85)] * 6,
    (0.5, 1e-2): [(0.30, 0.30, 0.10)] * 6,
    # gain 1.5: 1e-2 has the lowest mean val loss but a diverged seed -> pick 1e-3 (not at edge)
    (1.5, 1e-4): [(0.40, 0.40, 0.5)] * 3 + [(0.41, 0.40, 0.95)] * 3,
    (1.5, 1e-3): [(0.20, 0.20, 0.95), (0.22, 0.2, 0.91), (0.21, 0.2, 0.2), (0.2, 0.2, 0.79),
                  (0.2, 0.2, 0.81), (0.2, 0.2, 0.8)],
    (1.5, 1e-2): [(0.01, 0.01, 0.99)] * 5 + [None],
}
c = sqlite3.connect(db)
for (g, lr), rows in plant.items():
    for seed, r in enumerate(rows):
        if r is None:
            c.execute("update jobs set status='diverged', val_loss=null, val_accuracy=null, test_loss=null,"
                      " test_accuracy=null, final_loss=null, final_accuracy=null"
                      " where gain=? and lr=? and seed=?", (g, lr, seed))
        else:
            c.execute("update jobs set status='done', val_loss=?, test_loss=?, final_loss=?, test_accuracy=?,"
                      " final_accuracy=? where gain=? and lr=? and seed=?",
                      (r[0], r[1], r[1], r[2], r[2], g, lr, seed))
c.commit()

jobs = [dict(zip(["gain", "lr", "seed", "status", "val", "test", "acc"], r)) for r in c.execute(
    "select gain, lr, seed, status, val_loss, test_loss, test_accuracy from jobs")]
thr = 0.8  # 2af

# Independent recomputation: per (gain, lr) group, then per gain.
groups = {}
for j in jobs:
    groups.setdefault((j["gain"], j["lr"]), []).append(j)
best_ref = {}
for g in sorted({k[0] for k in groups}):
    cands = []
    lrs = sorted(lr for (gg, lr) in groups if gg == g)
    for lr in lrs:
        js = groups[(g, lr)]
        done = [j for j in js if j["status"] == "done"]
        ndiv = sum(j["status"] == "diverged" for j in js)
        mval = sum(j["val"] for j in done) / len(done)
        cands.append((ndiv, mval, lr, done))
    ndiv, mval, lr, done = min(cands)
    best_ref[g] = dict(lr=lr, edge=int(lr in (lrs[0], lrs[-1])),
                       mean_test=sum(j["test"] for j in done) / len(done),
                       n_solved=sum(j["acc"] >= thr for j in done))

best = {r[0]: r[1:] for r in c.execute(
    "select gain, lr, lr_at_edge, mean_test_loss, n_solved, n_lrs from best_lr")}
for g, ref in best_ref.items():
    got = best[g]
    check(f"best_lr gain {g}: lr {ref['lr']} chosen on validation (fewest diverged first), "
          f"lr_at_edge {ref['edge']}, test loss and n_solved reported",
          got[0] == ref["lr"] and got[1] == ref["edge"] and abs(got[2] - ref["mean_test"]) < 1e-12
          and got[3] == ref["n_solved"] and got[4] == 3, f"view {got} ref {ref}")
check("the planted validation/test disagreement is real (test would pick 1e-3 at gain 0.5)",
      min((sum(j["test"] for j in v) / len(v), k[1]) for k, v in groups.items() if k[0] == 0.5)[1] == 1e-3)

worst = 0.0
n_checked = 0
for (g, lr, n, k, rate, lo, hi) in c.execute(
        "select gain, lr, n, n_solved, rate, wilson_lo, wilson_hi from success"):
    js = groups[(g, lr)]
    n_ref = sum(j["status"] in ("done", "diverged") for j in js)
    k_ref = sum(j["status"] == "done" and j["acc"] >= thr for j in js)
    ci = stats.binomtest(k_ref, n_ref).proportion_ci(confidence_level=0.95, method="wilson")
    worst = max(worst, abs(lo - ci.low), abs(hi - ci.high))
    ok = n == n_ref and k == k_ref and abs(rate - k_ref / n_ref) < 1e-15
    n_checked += 1
    if not ok:
        check(f"success gain {g} lr {lr}: n and n_solved", False, f"{n} {k} vs {n_ref} {k_ref}")
check(f"success: n, n_solved, rate of all {n_checked} groups; Wilson bounds equal SciPy's",
      n_checked == 6 and worst < 1e-12, f"worst {worst:.2g}")
rates = sorted(r for (r,) in c.execute("select rate from success"))
check("planted success rates span 0, interior values and 1", rates[0] == 0 and rates[-1] == 1 and
      any(0 < r < 1 for r in rates), str(rates))

c.execute("update thresholds set accuracy = 0.96 where task = '2af'")
c.commit()
n96 = c.execute("select sum(n_solved) from success").fetchone()[0]
ref96 = sum(j["status"] == "done" and j["acc"] >= 0.96 for j in jobs)
check("editing thresholds changes n_solved in the views", n96 == ref96, f"{n96} vs {ref96}")
c.close()

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
sys.exit(1 if failure_count() else 0)
