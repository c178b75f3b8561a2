#!/usr/bin/python3
"""make_fixture.py — writes the study-report CSV fixture of this directory
(claims.csv, claims_runs.csv, families.csv), with planted outcomes.

The files have the columns of `tools/study-report --export-csv` and
stand in for a study export; tests/test_study_report.py prints the report
from them and checks its numbers against its own computation.  Planted
(romo, N = 16, 8 seeds; a per-seed offset shared by every job of the seed,
so comparisons are paired):
  claims   plain bptt/eprop/readout x gain 0.5/1/2 x lr 1e-3/3e-3/1e-2:
           bptt has no gain effect; eprop improves with gain; readout is a
           little worse than eprop; lr 3e-3 is best, except bptt g 2
           (1e-2 lowest on validation, but 3 of 8 seeds diverged there) and
           eprop g 0.5 (1e-3, a grid edge).  lambda_trained of eprop grows
           with its test loss.  Flossed eprop (floss 100, local / detach_h)
           at every gain: local helps at g 0.5.  Causal: flossing
           (full) toward lambda* in {-0.1, 0, 0.05} at g 0.5 and 2, lr
           1e-3/3e-3: lambda_floss near lambda*, test loss grows with it.
           The flossed arms ran lr 3e-3 and 1e-2 only: plain eprop g 0.5's
           best lr overall (1e-3) is not on their grid.
           Diagnostics: align_rec (eprop), drift_W_rec (0 for readout).
           Two launches, the second unfinished.
  families plain bptt/eprop x init gaussian/orthogonal/sparse x gain 0.5/1.5
           x lr 1e-3/3e-3, 6 seeds: orthogonal helps eprop.  No runs file.
Run it from anywhere; it overwrites the three files beside itself.
"""
import math
import os

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ["task", "rule", "gain", "init", "gain_norm", "density", "frac_exc", "lowrank_rank", "lowrank_scale",
        "lr", "seed", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_iters", "floss_lr",
        "floss_k", "floss_mode", "floss_target", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr",
        "lyap_every", "diag_every", "val_batch", "test_batch", "lyap_batch"]
DEFAULTS = dict(task="romo", init="gaussian", gain_norm="std", density=0.1, frac_exc=0.8, lowrank_rank=1,
                lowrank_scale=1.0, hidden=16, batch=32, iters=2000, alpha=0.5, activation="tanh", log_every=50,
                floss_iters=0, floss_lr=0.001, floss_k=1, floss_mode="full", floss_target=0.0, floss_every=0,
                lyap_k=4, lyap_warmup=10, lyap_every_qr=1, lyap_every=200, diag_every=200, val_batch=256,
                test_batch=1024, lyap_batch=32)
DIAG = ["diag_align_W_in", "diag_align_W_rec", "diag_align_b", "diag_align_rec", "diag_drift_W_in",
        "diag_drift_W_out", "diag_drift_W_rec"]
rng = np.random.default_rng(20261130)


def r6(x):
    return float(f"{x:.6g}") if x == x else x


def outcome(loss, seed_rng):
    """(val_loss, test_loss, test_accuracy) around `loss`."""
    test = loss * math.exp(seed_rng.normal(0, 0.05))
    val = test * math.exp(seed_rng.normal(0, 0.02))
    acc = min(1.0, max(0.4, 1.05 - 8 * test + seed_rng.normal(0, 0.005)))
    return val, test, acc


def job(**kw):
    j = dict(DEFAULTS)
    j.update(kw)
    return j


def finish(j, loss, diverged=False, **extra):
    j = dict(j)
    if diverged:
        j.update(status="diverged", val_loss=np.nan, val_accuracy=np.nan, test_loss=np.nan, test_accuracy=np.nan)
    else:
        val, test, acc = outcome(loss, rng)
        j.update(status="done", val_loss=val, val_accuracy=acc - 0.01, test_loss=test, test_accuracy=acc)
    j["final_loss"], j["final_accuracy"] = j["test_loss"], j["test_accuracy"]
    j["wall_seconds"] = 20 + 10 * rng.random()
    j["crashes"] = 0
    j.update(extra)
    return j


def claims():
    gains, lrs, seeds = (0.5, 1.0, 2.0), (0.001, 0.003, 0.01), range(8)
    offset = {s: rng.normal(0, 0.002) for s in seeds}
    lam0 = {(s, g): math.log(g) * 0.6 - 0.3 + rng.normal(0, 0.02) for s in seeds for g in gains}
    base = {"bptt": {0.5: 0.010, 1.0: 0.010, 2.0: 0.010},
            "eprop": {0.5: 0.030, 1.0: 0.022, 2.0: 0.015},
            "readout": {0.5: 0.031, 1.0: 0.025, 2.0: 0.019}}
    rows, plain = [], {}
    for rule in ("bptt", "eprop", "readout"):
        for g in gains:
            for lr in lrs:
                f = {0.001: 1.3, 0.003: 1.0, 0.01: 1.1}[lr]
                if rule == "bptt" and g == 2.0 and lr == 0.01:
                    f = 0.8
                if rule == "eprop" and g == 0.5 and lr == 0.001:
                    f = 0.9
                for s in seeds:
                    div = rule == "bptt" and g == 2.0 and lr == 0.01 and s in (0, 3, 5)
                    loss = base[rule][g] * f + offset[s]
                    j = finish(job(rule=rule, gain=g, lr=lr, seed=s), loss, div)
                    j["lyap_init"], j["lyap_floss"] = lam0[(s, g)], np.nan
                    if div:
                        j["lyap_trained"] = np.nan
                    elif rule == "bptt":
                        j["lyap_trained"] = -0.08 + rng.normal(0, 0.02)
                    elif rule == "eprop":
                        j["lyap_trained"] = -0.05 + 1.5 * j["test_loss"] + rng.normal(0, 0.003)
                    else:
                        j["lyap_trained"] = lam0[(s, g)]
                    for c in DIAG:
                        j[c] = np.nan
                    if not div:
                        if rule == "eprop":
                            j["diag_align_rec"] = 0.9 - 0.1 * g + rng.normal(0, 0.02)
                            j["diag_align_W_rec"] = j["diag_align_rec"] + 0.01
                        j["diag_drift_W_rec"] = 0.0 if rule == "readout" else 0.3 / g + rng.normal(0, 0.02)
                        j["diag_drift_W_out"] = 0.3 + rng.normal(0, 0.02)
                    rows.append(j)
                    plain[(rule, g, lr, s)] = loss
    for mode, benefit in (("local", {0.5: 0.8}), ("detach_h", {})):
        for g in gains:
            for lr in (0.003, 0.01):
                for s in seeds:
                    loss = plain[("eprop", g, lr, s)] * benefit.get(g, 1.0)
                    j = finish(job(rule="eprop", gain=g, lr=lr, seed=s, floss_iters=100, floss_mode=mode, floss_k=4,
                                   floss_lr=0.003), loss)
                    j.update(lyap_init=lam0[(s, g)], lyap_floss=(-0.01 if mode == "local" else 0.0)
                             + rng.normal(0, 0.01), lyap_trained=-0.02 + rng.normal(0, 0.01))
                    j.update({c: np.nan for c in DIAG})
                    rows.append(j)
    for g in (0.5, 2.0):
        for lr in (0.001, 0.003):
            for t in (-0.1, 0.0, 0.05):
                for s in seeds:
                    loss = plain[("eprop", g, lr, s)] * (1 + 2 * t) + rng.normal(0, 0.0005)
                    j = finish(job(rule="eprop", gain=g, lr=lr, seed=s, floss_iters=100, floss_mode="full",
                                   floss_k=1, floss_lr=0.01, floss_target=t), loss)
                    j.update(lyap_init=lam0[(s, g)], lyap_floss=t + rng.normal(0, 0.01),
                             lyap_trained=-0.02 + rng.normal(0, 0.01))
                    j.update({c: np.nan for c in DIAG})
                    rows.append(j)
    return rows


def families():
    rows = []
    offset = {s: rng.normal(0, 0.002) for s in range(6)}
    for init in ("gaussian", "orthogonal", "sparse"):
        for rule in ("bptt", "eprop"):
            for g in (0.5, 1.5):
                for lr in (0.001, 0.003):
                    for s in range(6):
                        loss = (0.012 if rule == "bptt" else 0.024 / g) * (1.2 if lr == 0.001 else 1.0)
                        if init == "orthogonal" and rule == "eprop":
                            loss *= 0.85
                        j = finish(job(rule=rule, gain=g, lr=lr, seed=s, init=init, lyap_every=0, diag_every=0),
                                   loss + offset[s])
                        j.update(lyap_init=math.log(g) * 0.6 - 0.3 + rng.normal(0, 0.02), lyap_floss=np.nan,
                                 lyap_trained=-0.05 + rng.normal(0, 0.02))
                        rows.append(j)
    return rows


def write(rows, name):
    df = pd.DataFrame(rows)
    df.insert(0, "job_id", range(1, len(df) + 1))
    cols = ["job_id", *KEYS, "status", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "final_loss",
            "final_accuracy", "wall_seconds", "crashes", "lyap_init", "lyap_floss", "lyap_trained"]
    cols += [c for c in DIAG if c in df.columns]
    df = df[cols]
    for c in df.columns:
        if df[c].dtype == float:
            df[c] = df[c].map(r6)
    df.to_csv(os.path.join(HERE, name + ".csv"), index=False)


write(claims(), "claims")
families_rows = families()
write(families_rows, "families")
pd.DataFrame([
    dict(run_id=1, sweep_id=1, started_at="2026-11-01T00:00:00Z", finished_at="2026-11-01T01:30:00Z", exit_code=0,
         jobs_done=300, version="0.1.0", git="fixture", hosts="vm", ranks=2, command="rnnsweep sweep claims.ini"),
    dict(run_id=2, sweep_id=1, started_at="2026-11-01T02:00:00Z", finished_at=None, exit_code=None,
         jobs_done=None, version="0.1.0", git="fixture", hosts="vm", ranks=2, command="rnnsweep sweep claims.ini"),
]).to_csv(os.path.join(HERE, "claims_runs.csv"), index=False)
