"""rnnsweep_analysis.stats — the evaluation protocol of SPEC §7 on the jobs
DataFrame: Wilson intervals, success rates, the best lr chosen on validation,
bootstrap CIs of medians, paired comparisons (Wilcoxon, McNemar) and Holm's
adjustment, all from SciPy; see the package's docstring."""
import math
import warnings
import zlib

import numpy as np
import pandas as pd
from scipy import stats

from .data import AnalysisError, FINISHED, METRICS, MIN_PAIRS, N_BOOT, keys_of, warn

# ---------------------------------------------------------------- statistics

def groups(df, by):
    """(values tuple, sub-frame) per group of the columns `by`, sorted; one
    group () for an empty `by`; NaN is a value like any other."""
    if not by:
        if len(df):
            yield (), df
        return
    for g, s in df.groupby(by[0] if len(by) == 1 else list(by), dropna=False, sort=True):
        yield (g if len(by) > 1 else (g,)), s


def wilson(k, n):
    """95% Wilson score interval (lo, hi) for k successes in n trials; (nan, nan) if n = 0."""
    if n <= 0:
        return math.nan, math.nan
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def success(jobs, by=None, keys=None):
    """Success rate per group of `by` (default: every key but seed).

    n counts finished jobs (done or diverged; diverged = not solved); jobs
    of a task without threshold are left out.  Columns: by..., n, n_solved,
    rate, wilson_lo, wilson_hi."""
    keys = keys_of(jobs, keys)
    by = [k for k in keys if k != "seed"] if by is None else list(by)
    fin = jobs[jobs["status"].isin(FINISHED) & jobs["solved"].notna()]
    rows = []
    for g, s in groups(fin, by):
        n, k = len(s), int(s["solved"].sum())
        lo, hi = wilson(k, n)
        rows.append((*g, n, k, k / n, lo, hi))
    return pd.DataFrame(rows, columns=[*by, "n", "n_solved", "rate", "wilson_lo", "wilson_hi"])


def best_lr(jobs, keys=None):
    """The best lr per group of every key but lr and seed (SPEC §7), as the
    database's best_lr view chooses it.

    Among the lrs with at least one finished (done or diverged) job: fewest
    diverged seeds, then lowest mean selection loss over the done seeds,
    then the smaller lr.  The selection loss is val_loss, or final_loss
    (= test_loss here) for a job of an older rnnsweep without validation
    metrics (n_legacy counts them; a warning says that selection and report
    then use the same trials).  Reported at the chosen lr: n_seeds, n_done,
    n_diverged, n_legacy, mean_val_loss (of the selection loss),
    mean/median/sd test_loss, mean_test_accuracy, n_solved, rate with
    wilson_lo/hi; n_lrs (lrs compared), lr_min and lr_max (of every lr of
    the group in `jobs`, finished or not), lr_at_edge (the chosen lr is one
    of them), selected_on ('val_loss', 'final_loss' or 'mixed')."""
    keys = keys_of(jobs, keys)
    if "lr" not in keys:
        raise AnalysisError("best lr: the jobs have no lr key")
    group = [k for k in keys if k not in ("lr", "seed")]
    rows, legacy = [], 0
    for g, s in groups(jobs, group):
        fin = s[s["status"].isin(FINISHED)]
        if fin.empty:
            continue
        done = fin[fin["status"] == "done"]
        sel = done["val_loss"].where(done["val_loss"].notna(), done["test_loss"])
        n_old = int(done["val_loss"].isna().sum())
        on = "val_loss" if not n_old else "final_loss" if n_old == len(done) else "mixed"
        legacy += n_old > 0
        cand = []
        for lr, t in fin.groupby("lr", sort=True):
            score = sel[t.index.intersection(done.index)].mean()
            cand.append((int((t["status"] == "diverged").sum()), score != score,
                         score if score == score else 0.0, lr, t))
        n_div, _, _, lr, t = min(cand, key=lambda c: c[:4])
        d = t[t["status"] == "done"]
        lo_lr, hi_lr = s["lr"].min(), s["lr"].max()
        solved = t["solved"].dropna()
        k, n = int(solved.sum()), len(solved)
        lo, hi = wilson(k, n)
        rows.append((*g, lr, len(cand), lo_lr, hi_lr, lr in (lo_lr, hi_lr), len(t), len(d), n_div,
                     int(d["val_loss"].isna().sum()), sel[d.index].mean(), d["test_loss"].mean(),
                     d["test_loss"].median(), d["test_loss"].std(ddof=1), d["test_accuracy"].mean(), k,
                     k / n if n else math.nan, lo, hi, on))
    if legacy:
        warn(f"WARNING: {jobs.attrs.get('source', 'jobs')}: in {legacy} group(s) jobs of an older rnnsweep "
             "have no validation metrics, so the best lr is chosen on their final_loss, the same trials "
             "it is reported on: those losses are optimistic (winner's curse)")
    return pd.DataFrame(rows, columns=[
        *group, "lr", "n_lrs", "lr_min", "lr_max", "lr_at_edge", "n_seeds", "n_done", "n_diverged",
        "n_legacy", "mean_val_loss", "mean_test_loss", "median_test_loss", "sd_test_loss",
        "mean_test_accuracy", "n_solved", "rate", "wilson_lo", "wilson_hi", "selected_on"])


def at_best_lr(jobs, best=None, keys=None):
    """The rows of `jobs` at their group's best lr (all statuses)."""
    keys = keys_of(jobs, keys)
    best = best_lr(jobs, keys) if best is None else best
    on = [k for k in keys if k != "seed"]
    out = jobs.merge(best[on], on=on, how="inner")
    out.attrs = dict(jobs.attrs)
    return out.sort_values("job_id").reset_index(drop=True)


def median_ci(values, seed=0, n_boot=N_BOOT, key=b""):
    """Seeded percentile-bootstrap 95% CI (lo, hi) of the median of `values`
    (NaN for fewer than 2 values).  The generator is seeded by (seed,
    crc32(key)), so a group's CI does not depend on other groups."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng([seed, zlib.crc32(key)])
    meds = np.median(v[rng.integers(0, len(v), size=(n_boot, len(v)))], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(lo), float(hi)


def holm(p):
    """Holm step-down adjusted p-values; NaN entries stay NaN and do not count."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    order = np.argsort(q, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((len(q) - np.arange(len(q))) * q[order]))
    res = np.empty(len(q))
    res[order] = adj
    out[ok] = res
    return out


def level(jobs, key, text):
    """The value of `key` in `jobs` that the command-line text `text` names
    (typed: '0.5' -> 0.5 for a REAL key); AnalysisError if absent."""
    if key not in jobs.columns:
        raise AnalysisError(f"--factor {key}: not a config key")
    present = pd.unique(jobs[key].dropna())
    for v in present:
        if isinstance(v, str):
            if v == text:
                return v
            continue
        try:
            x = float(text)
        except ValueError:
            continue
        if x == v or math.isclose(x, float(v), rel_tol=1e-12):
            return v.item() if hasattr(v, "item") else v
    shown = ", ".join(sorted(map(str, present))[:12])
    raise AnalysisError(f"--levels: {key} = {text} is not in the database ({key} values: {shown})")


def paired(jobs, factor, a, b, metric="test_loss", lr="matched", where=None, seed=0,
           n_boot=N_BOOT, keys=None):
    """Paired comparison of levels a and b of `factor`, per group (SPEC §7).

    A group is every key but the factor, seed and (lr="best") lr; with
    lr="best" each side runs at its own best lr (best_lr on all of `jobs`).
    Keys but lr whose values at level a and level b are disjoint (e.g.
    floss_mode when comparing floss_iters 0 and 100) belong to the levels
    and are left out of the group; they are listed in result.attrs["level_keys"].  Pairs
    share the seed.  metric: test_loss, test_accuracy, val_* (pairs need both
    jobs done; others are counted in the note) or solved (both finished;
    diverged = not solved).  where: a pandas query on the jobs (e.g.
    "task == 'romo'"); a, b: level values (strings are parsed as by `level`).

    Per group: n_pairs, median_a, median_b, median_diff (median of b - a),
    ci_lo, ci_hi (percentile bootstrap of the median difference, n_boot
    resamples, seeded by `seed` and the group), p (Wilcoxon signed-rank,
    two-sided, scipy.stats.wilcoxon defaults), p_holm (Holm across groups),
    note.  For metric solved: median_a/median_b are the success rates, the
    difference and its CI are of the rate, and p is McNemar's exact test
    (binomial test on the discordant pairs).  A group with fewer than 5
    pairs gets a note and no CI or p."""
    keys = keys_of(jobs, keys)
    if factor not in keys:
        raise AnalysisError(f"--factor {factor}: not a config key (keys: {', '.join(keys)})")
    if factor == "seed":
        raise AnalysisError("--factor seed: pairs share the seed; compare another key")
    if metric not in METRICS:
        raise AnalysisError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    if lr not in ("matched", "best"):
        raise AnalysisError(f"--lr {lr}: expected matched or best")
    if lr == "best" and factor == "lr":
        raise AnalysisError("--lr best with --factor lr: each side would be its own best lr")
    if where:
        try:
            jobs = jobs.query(where)
        except Exception as e:  # pandas raises many types for a bad expression
            raise AnalysisError(f"where {where!r}: {str(e).splitlines()[0]}") from None
    a = level(jobs, factor, a) if isinstance(a, str) else a
    b = level(jobs, factor, b) if isinstance(b, str) else b
    if lr == "best":
        jobs = at_best_lr(jobs, keys=keys)
    jobs = jobs[jobs[factor].isin([a, b]) & jobs["status"].isin(FINISHED)]
    group = [k for k in keys if k not in (factor, "seed") and not (lr == "best" and k == "lr")]
    A, B = jobs[jobs[factor] == a], jobs[jobs[factor] == b]
    level_keys = [k for k in group if k != "lr" and len(A) and len(B)
                  and not set(A[k].dropna()) & set(B[k].dropna())]
    group = [k for k in group if k not in level_keys]
    res = pair_frames(A, B, group, metric, seed, n_boot)
    res.attrs.update(factor=factor, a=a, b=b, metric=metric, lr=lr, group=group,
                     level_keys={k: (sorted(set(A[k])), sorted(set(B[k]))) for k in level_keys})
    return res


def pair_frames(A, B, group, metric="test_loss", seed=0, n_boot=N_BOOT):
    """Paired comparison of the jobs of `A` (level a) with those of `B`
    (level b), per group of the columns `group` (a group present on one side
    only gets n_pairs 0); pairs share the seed.  The caller chooses the jobs
    (e.g. each side at its best lr); unfinished jobs are left out.  Columns
    and statistics as in `paired`; p_holm is across the groups returned."""
    if metric not in METRICS:
        raise AnalysisError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    A, B = (x[x["status"].isin(FINISHED)] for x in (A, B))
    both = pd.concat([A[list(group)], B[list(group)]], ignore_index=True)
    out = []
    for g, _ in groups(both, group):
        sides = []
        for side in (A, B):
            s = select(side, group, g)
            if s["seed"].duplicated().any():
                raise AnalysisError(
                    f"group {dict(zip(group, g))}: several jobs per seed on one side; a key "
                    "that differs between them must be fixed with --where")
            sides.append(s.set_index("seed")[[metric]])
        m = sides[0].join(sides[1], how="outer", lsuffix="_a", rsuffix="_b")
        ok = m.dropna()
        xa, xb = ok[f"{metric}_a"].to_numpy(float), ok[f"{metric}_b"].to_numpy(float)
        out.append(_compare_group(g, xa, xb, len(m) - len(ok), metric, seed, n_boot))
    cols = [*group, "n_pairs", "median_a", "median_b", "median_diff", "ci_lo", "ci_hi", "p", "note"]
    res = pd.DataFrame(out, columns=cols)
    res.insert(len(cols) - 1, "p_holm", holm(res["p"].to_numpy(float)) if len(res) else [])
    return res


def select(df, keys, values):
    """The rows of `df` whose columns `keys` equal `values` (NaN equals NaN)."""
    m = np.ones(len(df), bool)
    for k, v in zip(keys, values):
        m &= (df[k].isna() if v != v else df[k] == v).to_numpy()
    return df[m]


def _compare_group(g, xa, xb, n_excluded, metric, seed, n_boot):
    """One row of `paired`: statistics of the pairs (xa[i], xb[i])."""
    n = len(xa)
    d = xb - xa
    notes = []
    if n_excluded:
        why = "a side unfinished" if metric == "solved" else "a side diverged or unfinished"
        notes.append(f"{n_excluded} seed(s) unpaired ({why})")
    if metric == "solved":
        ma, mb, md = (xa.mean(), xb.mean(), d.mean()) if n else (math.nan,) * 3
    else:
        ma, mb, md = (np.median(xa), np.median(xb), np.median(d)) if n else (math.nan,) * 3
    lo = hi = p = math.nan
    if n < MIN_PAIRS:
        notes.append(f"fewer than {MIN_PAIRS} pairs ({n}): no CI or p-value")
    else:
        key = repr(g).encode()
        if metric == "solved":
            rng = np.random.default_rng([seed, zlib.crc32(key)])
            boot = d[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
            lo, hi = (float(x) for x in np.percentile(boot, [2.5, 97.5]))
            n01, n10 = int((d < 0).sum()), int((d > 0).sum())
            p = stats.binomtest(n10, n01 + n10, 0.5).pvalue if n01 + n10 else 1.0
            notes.append(f"McNemar exact: {n10} pair(s) only b solved, {n01} only a")
        else:
            lo, hi = median_ci(d, seed, n_boot, key)
            zeros = int((d == 0).sum())
            if zeros == n:
                p = 1.0
                notes.append("all differences are 0")
            else:
                with warnings.catch_warnings():  # "switching to normal approximation" for zeros/ties
                    warnings.simplefilter("ignore")
                    p = float(stats.wilcoxon(d).pvalue)
                if zeros:
                    notes.append(f"{zeros} zero difference(s) dropped by Wilcoxon")
    return (*g, n, ma, mb, md, lo, hi, p, "; ".join(notes))

__all__ = ['at_best_lr', 'best_lr', 'groups', 'holm', 'level', 'median_ci', 'pair_frames', 'paired', 'select', 'success', 'wilson']
