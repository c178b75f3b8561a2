#!/usr/bin/python3
"""test_study_report.py — tools/study-report's tables against numbers this
test computes itself, and the CSV export's round trip.

Part 1: `tools/study-report --csv tests/data/study` (a committed fixture with
planted outcomes, made by tests/data/study/make_fixture.py).  The test reads
the same CSVs with pandas and recomputes, without the analysis module: the
best lr per group by a loop (fewest diverged, then lowest mean validation
loss), medians, Wilson bounds (scipy.stats.binomtest), Wilcoxon p
(scipy.stats.wilcoxon) on pairs gathered by seed, McNemar p (exact binomial
on the discordant pairs), Holm by a loop, Mann-Whitney U and Spearman rho
(scipy.stats), summed wall time; and compares the printed cells as text.
The planted effects must show (eprop's gain effect, flossing's benefit at
g 0.5, the diverged seeds moving bptt g 2 off its lowest-validation lr).
Part 2: real sweeps (claims with flossing arms and a causal arm, diagnostics
and exponents; an init-family sweep) run by the rnnsweep binary under
mpirun; the report from the databases equals, line for line, the report
from `--export-csv` + `--csv`; the export has one row per job and the
through-training rows of the database.  Part 3: bad input exits 2 with one
line and writes nothing.
Usage: test_study_report.py PATH/TO/rnnsweep PATH/TO/tools/study-report
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import scipy.stats
from harness import check, failure_count, holm_loop, ENV  # noqa: E402

EXE, REPORT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "study")
TMP = tempfile.mkdtemp(prefix="rnnsweep-study-report-")
PY = "/usr/bin/python3"


def report(*args):
    return subprocess.run([PY, REPORT, *args], capture_output=True, text=True)


def tables(text):
    """{title of a '#### ' heading: [row dicts]} of the Markdown output."""
    out, title, header = {}, None, None
    for line in text.splitlines():
        if line.startswith("#### "):
            title, header = line[5:], None
            out[title] = []
        elif line.startswith("|") and title:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set(line) <= set("|-"):
                out[title].append(dict(zip(header, cells)) | {"_cells": cells})
    return out


def g4(x):
    return "–" if x != x else f"{x:.4g}"


def p3(x):
    return "–" if x != x else f"{x:.3g}"


def wilson(k, n):
    ci = scipy.stats.binomtest(k, n).proportion_ci(method="wilson")
    return f"{k}/{n} [{ci.low:.2f}, {ci.high:.2f}]"


def best_lr_loop(rows):
    """SPEC §7 by hand: fewest diverged, then lowest mean val_loss of done jobs, then smaller lr."""
    cand = []
    for lr, s in rows.groupby("lr"):
        done = s[s["status"] == "done"]
        cand.append(((s["status"] == "diverged").sum(), done["val_loss"].mean(), lr))
    return min(cand)[2], sorted(rows["lr"].unique())


def find(rows, **kv):
    hit = [r for r in rows if all(r.get(k) == v for k, v in kv.items())]
    return hit[0] if len(hit) == 1 else None


# ---------------------------------------------------------------- part 1: the fixture

r = report("--csv", FIXTURE)
check("study-report --csv on the fixture exits 0 with nothing on stderr", r.returncode == 0 and not r.stderr,
      r.stderr[-300:])
T = tables(r.stdout)
C = pd.read_csv(os.path.join(FIXTURE, "claims.csv"))
F = pd.read_csv(os.path.join(FIXTURE, "families.csv"))
C["solved"] = np.where(C["status"] == "done", (C["test_accuracy"] >= 0.9).astype(float), 0.0)
F["solved"] = np.where(F["status"] == "done", (F["test_accuracy"] >= 0.9).astype(float), 0.0)
plain = C[C["floss_iters"] == 0]

# claim 1: best lr, n, median, success with Wilson, diverged
t1 = T.get("Claim 1 — claims: test metrics at each group's best lr", [])
best, bad = {}, []
for (rule, gain), s in plain.groupby(["rule", "gain"]):
    lr, grid = best_lr_loop(s)
    best[(rule, gain)] = lr
    at = s[s["lr"] == lr]
    done = at[at["status"] == "done"]
    fin = at[at["status"].isin(["done", "diverged"])]
    want = {"best lr": f"{lr:g}" + (" edge" if lr in (grid[0], grid[-1]) else ""), "n": str(len(fin)),
            "solved": wilson(int(fin["solved"].sum()), len(fin)),
            "diverged (all lrs)": f"{(s['status'] == 'diverged').sum()}/{len(s)}"}
    row = find(t1, rule=rule, gain=f"{gain:g}")
    got = {k: row[k] for k in want} if row else None
    med = row["test loss"].split(" [")[0] if row else None
    if got != want or med != g4(done["test_loss"].median()):
        bad.append((rule, gain, got, want, med))
check("claim 1: best lr (loop), edge flag, n, median test loss, k/n with Wilson (binomtest), diverged: all 9 rows",
      len(t1) == 9 and not bad, str(bad[:2]))
b2 = plain[(plain["rule"] == "bptt") & (plain["gain"] == 2.0)]
check("planted: bptt g 2 has the lowest validation loss at lr 1e-2 but 3 diverged seeds there, so 3e-3 is chosen",
      b2.groupby("lr")["val_loss"].mean().idxmin() == 0.01 and best[("bptt", 2.0)] == 0.003
      and find(t1, rule="bptt", gain="2")["best lr"] == "0.003")
check("planted: eprop g 0.5 picks lr 1e-3, flagged at the grid's edge",
      find(t1, rule="eprop", gain="0.5")["best lr"] == "0.001 edge")


def pairs(A, B, metric="test_loss"):
    """(a, b) arrays over the seeds both sides have, both done (test loss) or both finished (solved)."""
    ok = ["done"] if metric == "test_loss" else ["done", "diverged"]
    a = A[A["status"].isin(ok)].set_index("seed")[metric]
    b = B[B["status"].isin(ok)].set_index("seed")[metric]
    common = sorted(set(a.index) & set(b.index))
    return a[common].to_numpy(float), b[common].to_numpy(float)


def wilcoxon_p(A, B):
    a, b = pairs(A, B)
    return float(scipy.stats.wilcoxon(b - a).pvalue), len(a)


def mcnemar_p(A, B):
    a, b = pairs(A, B, "solved")
    n10, n01 = int(((b == 1) & (a == 0)).sum()), int(((b == 0) & (a == 1)).sum())
    return (scipy.stats.binomtest(n10, n10 + n01).pvalue if n10 + n01 else 1.0), len(a)


def at_best(df, rule, gain, **kv):
    s = df[(df["rule"] == rule) & (df["gain"] == gain)]
    for k, v in kv.items():
        s = s[s[k] == v]
    return s[s["lr"] == best_lr_loop(s)[0]]


# claim 1: each gain against g = 1 at each side's best lr; Holm across the two gains of a rule
t = T.get("Claim 1 — claims: each gain (B) against the reference gain (A), paired by seed", [])
bad = []
for rule in ("bptt", "eprop", "readout"):
    ref = at_best(plain, rule, 1.0)
    ws = [wilcoxon_p(ref, at_best(plain, rule, g)) for g in (0.5, 2.0)]
    ms = [mcnemar_p(ref, at_best(plain, rule, g)) for g in (0.5, 2.0)]
    for g, (p, n), ph, (q, _), qh in zip((0.5, 2.0), ws, holm_loop([w[0] for w in ws]), ms,
                                         holm_loop([m[0] for m in ms])):
        row = find(t, rule=rule, **{"gain B": f"{g:g}"})
        c = row["_cells"] if row else []
        want = [rule, "1", f"{g:g}", str(n)]
        if not row or c[2:6] != want or (row["p"], c[10], c[12], c[13]) != (p3(p), p3(ph), p3(q), p3(qh)):
            bad.append((rule, g, c, want, p3(p), p3(ph), p3(q), p3(qh)))
check("claim 1 vs g = 1: pairs, Wilcoxon p (scipy), Holm (loop), McNemar p (binomial), Holm: all 6 rows",
      len(t) == 6 and not bad, str(bad[:1]))
row = find(t, rule="eprop", **{"gain B": "2"})
check("planted: eprop g 2 beats g 1 (Holm p < 0.05, every seed)", row and float(row["p (Holm)"]) < 0.05)

t = T.get("Claim 1 — claims: e-prop (B) against the readout-only control (A) at matched gain", [])
ws = [wilcoxon_p(at_best(plain, "readout", g), at_best(plain, "eprop", g)) for g in (0.5, 1.0, 2.0)]
got = [(r["gain"], r["pairs"], r["p"], r["_cells"][8]) for r in t]
want = [(f"{g:g}", str(n), p3(p), p3(h)) for g, (p, n), h in zip((0.5, 1.0, 2.0), ws, holm_loop([w[0] for w in ws]))]
check("claim 1 eprop vs readout: pairs, Wilcoxon p, Holm across gains", got == want, f"{got} vs {want}")

# claim 2
t = T.get("Claim 2 — claims: lambda_max after training, solved against unsolved runs at matched gain", [])
bad, tested = [], 0
for (rule, gain), s in plain[plain["status"] == "done"].groupby(["rule", "gain"]):
    yes, no = s.loc[s["solved"] == 1, "lyap_trained"], s.loc[s["solved"] == 0, "lyap_trained"]
    row = find(t, rule=rule, gain=f"{gain:g}")
    want = [str(len(yes)), str(len(no))]
    if len(yes) and len(no):
        u = scipy.stats.mannwhitneyu(yes, no, alternative="two-sided")
        want += [g4(u.statistic), p3(u.pvalue)]
        tested += 1
    else:
        want += ["–", "–"]
    if not row or [row["n solved"], row["n unsolved"], row["U"], row["p"]] != want:
        bad.append((rule, gain, row and row["_cells"], want))
check("claim 2: solved vs unsolved lambda_trained, n each, Mann-Whitney U and p (scipy) at matched gain",
      len(t) == 9 and tested >= 2 and not bad, str(bad[:2]))
t = T.get("Claim 2 — claims: Spearman correlation of lambda_max after training with test loss", [])
bad = []
for rule, s in plain[plain["status"] == "done"].groupby("rule"):
    sp = scipy.stats.spearmanr(s["lyap_trained"], s["test_loss"])
    row = find(t, rule=rule, jobs="every lr")
    if not row or (row["n"], row["rho"], row["p"]) != (str(len(s)), g4(sp.statistic), p3(sp.pvalue)):
        bad.append((rule, row and row["_cells"]))
check("claim 2: Spearman rho and p of lambda_trained with test loss per rule (scipy), n", not bad, str(bad))
row = find(T.get("Claim 2 — claims: lambda_max (nats/step) before and after training", []), rule="eprop", gain="2")
d = at_best(plain, "eprop", 2.0)
check("claim 2: median lambda_max at init and trained at the best lr",
      row and row["lambda_max at init"].split(" [")[0] == g4(d["lyap_init"].median())
      and row["lambda_max trained"].split(" [")[0] == g4(d["lyap_trained"].median()), str(row))

# claim 3: local flossing against plain eprop, at the plain side's best lr (matched) and at each side's best
fl = C[(C["floss_iters"] > 0) & (C["floss_mode"] == "local")]
for mode, title in (("matched", "matched lr"), ("best", "best lr")):
    t = [r for r in T.get(f"Claim 3 — claims: flossed (B) against plain (A), {title}", []) if "local" in r["arm"]]
    ws = []
    for g in (0.5, 1.0, 2.0):
        A = at_best(plain[plain["lr"].isin(set(fl["lr"]))], "eprop", g)  # plain's best among the arm's lrs
        B = fl[(fl["gain"] == g) & (fl["lr"] == A["lr"].iloc[0])] if mode == "matched" else at_best(fl, "eprop", g)
        ws.append(wilcoxon_p(A, B))
    got = [(r["gain"], r["pairs"], r["p"], r["_cells"][10]) for r in t]
    want = [(f"{g:g}", str(n), p3(p), p3(h)) for g, (p, n), h in zip((0.5, 1.0, 2.0), ws, holm_loop([w[0] for w in ws]))]
    check(f"claim 3 ({mode} lr): local flossing vs plain eprop per gain: pairs, Wilcoxon p, Holm across gains",
          got == want, f"{got} vs {want}")
row = find(T.get("Claim 3 — claims: flossed (B) against plain (A), matched lr", []),
           arm="eprop + floss 100 (local, k 4, lr 0.003)", gain="0.5")
check("claim 3: plain eprop g 0.5 (best lr 1e-3 overall) is compared at the arm's lrs: 3e-3 on both sides",
      row and row["lr plain / flossed"] == "0.003 / 0.003", str(row))
check("planted: local flossing helps at g 0.5 (negative difference, Holm p < 0.05)",
      row and row["B − A [95% CI]"].startswith("-") and float(row["_cells"][10]) < 0.05)

# causal: lambda_floss medians; against lambda* = 0 at the same lr, Holm across the 8 rows
ca = C[(C["floss_iters"] > 0) & (C["floss_mode"] == "full")]
t = T.get("Causal test — claims: eprop + floss 100 (full, k 1, lr 0.01) toward lambda*", [])
keys, ps = [], []
for g in (0.5, 2.0):
    for lr in (0.001, 0.003):
        for tgt in (-0.1, 0.05):
            s = ca[(ca["gain"] == g) & (ca["lr"] == lr)]
            ps.append(wilcoxon_p(s[s["floss_target"] == 0], s[s["floss_target"] == tgt])[0])
            keys.append((f"{g:g}", f"{lr:g}", f"{tgt:g}"))
bad = []
for k, p, h in zip(keys, ps, holm_loop(ps)):
    row = find(t, gain=k[0], lr=k[1], **{"lambda*": k[2]})
    s = ca[(ca["gain"] == float(k[0])) & (ca["lr"] == float(k[1])) & (ca["floss_target"] == float(k[2]))]
    if not row or (row["_cells"][10], row["_cells"][11], row["lambda_max after flossing"].split(" [")[0]) != (
            p3(p), p3(h), g4(s["lyap_floss"].median())):
        bad.append((k, row and row["_cells"], p3(p), p3(h)))
check("causal: lambda_max after flossing (median), Wilcoxon p against lambda* = 0 and Holm across its 8 rows",
      len(t) == 12 and not bad, str(bad[:1]))

# families: orthogonal against gaussian for eprop, Holm across gains
t = T.get("Families — families: each family (B) against gaussian (A) at matched gain", [])
ws = [wilcoxon_p(at_best(F, "eprop", g, init="gaussian"), at_best(F, "eprop", g, init="orthogonal"))
      for g in (0.5, 1.5)]
got = [(r["gain"], r["pairs"], r["p"], r["_cells"][10]) for r in t if r["init"] == "orthogonal" and r["rule"] == "eprop"]
want = [(f"{g:g}", str(n), p3(p), p3(h)) for g, (p, n), h in zip((0.5, 1.5), ws, holm_loop([w[0] for w in ws]))]
check("families: orthogonal vs gaussian (eprop) per gain: pairs, Wilcoxon p, Holm", got == want, f"{got} vs {want}")
t = T.get("Families — families: test metrics per initial connectivity at each group's best lr", [])
row = find(t, init="orthogonal", rule="eprop", gain="1.5")
d = at_best(F, "eprop", 1.5, init="orthogonal")
check("families: best lr, median test loss and success of a family row",
      row and row["best lr"] == f"{d['lr'].iloc[0]:g} edge" and row["test loss"].split(" [")[0] == g4(d["test_loss"].median())
      and row["solved"] == wilson(int(d["solved"].sum()), len(d)), str(row))
check("claim 1 is not printed for the families source (init varies: the families tables cover it)",
      not any(k.startswith("Claim 1 — families") for k in T))

# diagnostics and compute
t = T.get("Diagnostics — claims: final gradient alignment and weight drift", [])
bad = []
for rule in ("bptt", "eprop", "readout"):
    for g in (0.5, 1.0, 2.0):
        d = at_best(plain, rule, g)
        d = d[d["status"] == "done"]
        row = find(t, rule=rule, gain=f"{g:g}")
        al = "–" if d["diag_align_rec"].isna().all() else g4(d["diag_align_rec"].median())
        if not row or (row["align_rec"].split(" [")[0], row["drift_W_rec"].split(" [")[0]) != (
                al, g4(d["diag_drift_W_rec"].median())):
            bad.append((rule, g, row and row["_cells"]))
check("diagnostics: median final align_rec (eprop only) and drift_W_rec per rule and gain", not bad, str(bad[:2]))
t = T.get("Compute per source", [])
row = find(t, source="claims")
check("compute: jobs, job core-hours (sum of wall_seconds), launches with the unfinished one, launch hours",
      row and row["jobs"] == str(len(C)) and row["job core-hours"] == f"{C['wall_seconds'].sum() / 3600:.2f}"
      and row["launches"] == "2 (1 unfinished)" and row["launch wall hours"] == "1.50"
      and row["launch core-hours"] == "3.00", str(row))
row = find(t, source="families")
check("compute: a source without NAME_runs.csv says the launches are not in the CSVs",
      row and row["launches"].startswith("not in the CSVs"), str(row))
r2 = report("--csv", FIXTURE)
check("the report is reproducible (seeded bootstrap)", r2.stdout == r.stdout)

# ---------------------------------------------------------------- part 2: databases and their export

CLAIMS_INI = """task = romo
hidden = 8
batch = 4
iters = 20
log_every = 10
lyap_k = 2
lyap_warmup = 2
lyap_every = 10
diag_every = 10
seed = 0..4

[claim1]
rule = bptt, eprop, readout
gain = 0.5, 1.0, 2.0
lr = 0.003, 0.03

[claim3]
rule = eprop
gain = 0.5, 1.0, 2.0
lr = 0.003, 0.03
floss_iters = 5
floss_mode = local, detach_h
floss_k = 2
floss_lr = 0.003

[causal]
rule = eprop
gain = 0.5, 2.0
lr = 0.003
floss_iters = 5
floss_mode = full
floss_lr = 0.01
floss_target = -0.2, 0
"""
FAM_INI = """task = romo
hidden = 8
batch = 4
iters = 10
log_every = 5
lyap_k = 2
lyap_warmup = 2
rule = bptt, eprop
init = gaussian, orthogonal
gain = 0.5, 1.5
lr = 0.003, 0.03
seed = 0..4
"""
dbs = {}
for name, text in (("claims", CLAIMS_INI), ("fam", FAM_INI)):
    ini, db = os.path.join(TMP, name + ".ini"), os.path.join(TMP, name + ".db")
    open(ini, "w").write(text)
    p = subprocess.run(["mpirun", "-n", "1", EXE, "sweep", ini, "--db", db, "--progress", "0"],
                       capture_output=True, text=True, env=ENV)
    check(f"the {name} sweep runs", p.returncode == 0, p.stderr[-300:])
    dbs[name] = db
from_db = report("--db", dbs["claims"], "--db", dbs["fam"])
out = os.path.join(TMP, "csv")
ex = report("--export-csv", out, "--db", dbs["claims"], "--db", dbs["fam"])
from_csv = report("--csv", out)
check("report from the databases, export, report from the CSVs: all exit 0",
      from_db.returncode == ex.returncode == from_csv.returncode == 0, (from_db.stderr + ex.stderr + from_csv.stderr)[-400:])
Tdb = tables(from_db.stdout)
check("the database report has every section's tables (claims 1-3, causal, families, diagnostics, compute)",
      all(any(k.startswith(p) for k in Tdb) for p in (
          "Claim 1 — claims", "Claim 2 — claims", "Claim 3 — claims", "Causal test — claims", "Families — fam",
          "Diagnostics — claims", "Compute")), str(list(Tdb))[:300])
check("the report from the CSV export equals the report from the databases, line for line",
      from_db.stdout == from_csv.stdout and len(from_db.stdout) > 5000,
      next((f"{a!r} vs {b!r}" for a, b in zip(from_db.stdout.splitlines(), from_csv.stdout.splitlines()) if a != b), ""))

con = sqlite3.connect(dbs["claims"])
jobs = pd.read_csv(os.path.join(out, "claims.csv"), float_precision="round_trip")
n_jobs = con.execute("select count(*) from jobs").fetchone()[0]
n_ly = con.execute("select count(*) from lyapunov where phase = 'train' and idx = 1").fetchone()[0]
n_dg = con.execute("select count(*) from (select distinct job_id, iter from diagnostics "
                   "where name in ('align_rec', 'drift_W_rec'))").fetchone()[0]
ly = pd.read_csv(os.path.join(out, "claims_lyapunov.csv"))
al = pd.read_csv(os.path.join(out, "claims_align.csv"))
runs = pd.read_csv(os.path.join(out, "claims_runs.csv"))
sql_last = dict(con.execute("select job_id, value from diagnostics d where name = 'drift_W_rec' and iter = "
                            "(select max(iter) from diagnostics e where e.job_id = d.job_id and e.name = d.name)"))
check("export: one row per job with every key, the metrics, lambda_max per phase and diag_<name> columns",
      len(jobs) == n_jobs and {"floss_target", "diag_every", "val_loss", "test_accuracy", "final_loss", "crashes",
                               "wall_seconds", "lyap_init", "lyap_floss", "lyap_trained", "diag_align_rec",
                               "diag_drift_W_rec"} <= set(jobs.columns), f"{len(jobs)} vs {n_jobs}")
check("export: diag_drift_W_rec is each job's last drift_W_rec row, exactly",
      all(jobs.set_index("job_id")["diag_drift_W_rec"][j] == v for j, v in sql_last.items()) and len(sql_last) == n_jobs)
check("export: lambda_max through training (phase train, idx 1) and the align/drift rows, one per database row",
      len(ly) == n_ly > 0 and list(ly.columns) == ["job_id", "iter", "value"] and len(al) == n_dg > 0
      and list(al.columns) == ["job_id", "iter", "align_rec", "drift_W_rec"] and len(runs) == 1,
      f"{len(ly)} vs {n_ly}, {len(al)} vs {n_dg}")
vals = dict(((j, i), v) for j, i, v in con.execute(
    "select job_id, iter, value from lyapunov where phase = 'train' and idx = 1"))
worst = max(abs(v - vals[(j, i)]) / max(abs(vals[(j, i)]), 1e-300) for j, i, v in ly.itertuples(index=False))
check("export: through-training values to 6 significant digits", worst < 5e-6, f"worst relative {worst:.1e}")
per_job = os.path.getsize(os.path.join(out, "claims.csv")) / n_jobs
check("export: the jobs CSV stays compact (< 600 bytes a job, i.e. < 2.4 MB for 4000 jobs)", per_job < 600,
      f"{per_job:.0f} bytes a job")
con.close()

# ---------------------------------------------------------------- part 3: bad input


def one_line_exit2(r, needle):
    lines = r.stderr.strip().splitlines()
    return r.returncode == 2 and len(lines) == 1 and needle in lines[0] and not r.stdout


guard = os.path.join(TMP, "guard")
os.makedirs(guard)
open(os.path.join(guard, "fam.csv"), "w").write("my,own,table\n1,2,3\n")
r = report("--export-csv", guard, "--db", dbs["claims"], "--db", dbs["fam"])
check("export over a file that is not an export: one line, exit 2, that file untouched, nothing else written",
      one_line_exit2(r, "not an rnnsweep CSV export") and sorted(os.listdir(guard)) == ["fam.csv"]
      and open(os.path.join(guard, "fam.csv")).read() == "my,own,table\n1,2,3\n", r.stderr)
r = report("--export-csv", os.path.join(TMP, "new"), "--db", os.path.join(TMP, "missing.db"))
check("export of a missing database: one line, exit 2, no directory made",
      one_line_exit2(r, "missing.db") and not os.path.exists(os.path.join(TMP, "new")), r.stderr)
r = report("--csv", os.path.join(TMP, "nowhere"))
check("--csv of a missing directory: one line, exit 2", one_line_exit2(r, "no such directory"), r.stderr)
r = report("--csv", guard)
check("--csv of a directory whose CSV is not a jobs export: one line, exit 2",
      one_line_exit2(r, "not a jobs table"), r.stderr)
r = report("--csv", out, "--db", dbs["claims"])
check("--csv with --db: one line, exit 2", r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr)

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
if not failure_count():
    shutil.rmtree(TMP)
sys.exit(1 if failure_count() else 0)
