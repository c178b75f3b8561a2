"""rnnsweep_analysis — an rnnsweep results database as tidy pandas DataFrames,
and the evaluation protocol of SPEC §7 on them.

The one module that tools/plot, tools/study-report and tools/compare share.
Use it from your own code by putting rnnsweep's tools/ directory on the path:

    import sys; sys.path.insert(0, "/path/to/rnnsweep/tools")
    import rnnsweep_analysis as ra
    db = ra.Database("results.db")            # read-only; never writes
    jobs = db.jobs                              # one row per job
    best = ra.best_lr(jobs)                     # lr chosen on validation
    rates = ra.success(jobs, by=["task", "rule", "gain"])
    cmp = ra.paired(jobs, "gain", 0.5, 1.0, metric="test_loss", lr="best")

Tables (DataFrames, long format, joinable on `job_id`):
  jobs        job_id, every config key (typed), status, val_loss, val_accuracy,
              test_loss, test_accuracy, final_loss, final_accuracy, wall_seconds,
              iters_done, crashes, suspect, lambda_max per phase (lyap_init,
              lyap_floss, lyap_trained), diag_<name> (each diagnostic's value at
              the job's last diagnostic iteration), solved (1/0; NaN unless done
              or diverged; diverged counts as not solved)
  curves      job_id, iter, loss, accuracy + the job's keys and status
  lyapunov    job_id, phase, iter, idx, value, sd + the job's keys and status
  diagnostics job_id, iter, name, value + keys (empty if the table is absent)
  runs()      the launches (the database's runs table; empty if unknown)

The study's CSV export (write_csv_set, read by Results.from_csv_set) is
NAME.csv (jobs), NAME_lyapunov.csv (lambda_max through training: job_id,
iter, value), NAME_align.csv (job_id, iter, align_rec, drift_W_rec) and
NAME_runs.csv; from it every table and all but the curves and spectrum
figures regenerate.

Config keys are never hard-coded: they are the jobs columns between `config`
and `status` plus any later column named in a job's canonical `config` text
(columns the engine adds for new keys go at the end). A jobs DataFrame
remembers its keys in `jobs.attrs["keys"]`; a frame without them (after a
merge, or one you built) gets its keys by elimination: every column that is
not in NON_KEYS and not a diag_<name>.

Databases of schema 1 (no val_*/test_* columns) still load: test_* are then
their final_* (measured on the old evaluation batch), val_* are NaN, and the
best lr falls back to final_loss — with a warning on stderr that selection
and report use the same trials.  Jobs of an older version inside a newer
database (test_* NULL, final_* set) are treated the same way, per job.

Statistics (SPEC §7):
  wilson(k, n)                 95% Wilson interval (scipy binomtest)
  success(jobs, by)            n (done + diverged), n_solved, rate, wilson_lo/hi
  best_lr(jobs)                per every key but lr and seed: fewest diverged,
                               then lowest mean val_loss; test metrics, n_solved,
                               success rate, lr_at_edge
  at_best_lr(jobs)             the jobs at their group's best lr
  paired(jobs, factor, a, b)   paired comparison per group: medians, median
                               difference b - a with a seeded bootstrap 95% CI,
                               Wilcoxon signed-rank p (McNemar exact for
                               `solved`), Holm-adjusted p across groups
  pair_frames(A, B, group)     the same for two job sets chosen by the caller
  median_ci(values)            seeded bootstrap 95% CI of a median

Errors in the input (missing file, not an rnnsweep database, unknown key,
bad SQL) raise AnalysisError with a one-line message; the tools print it and
exit with code 2.
"""
import argparse
import math
import os
import sqlite3
import sys
import urllib.parse
import warnings
import zlib

import numpy as np
import pandas as pd
from scipy import stats

APPLICATION_ID = 0x524E5357
DEFAULT_THRESHOLDS = {"romo": 0.9, "dms": 0.9, "2af": 0.8}
FINISHED = ("done", "diverged")
PHASES = ("init", "floss", "trained")
METRICS = ("test_loss", "test_accuracy", "solved", "val_loss", "val_accuracy")
N_BOOT = 10_000
MIN_PAIRS = 5
NON_KEYS = frozenset({
    "id", "job_id", "config_hash", "config", "status", "attempts", "host", "rank", "run_id",
    "started_at", "finished_at", "wall_seconds", "final_loss", "final_accuracy", "val_loss",
    "val_accuracy", "test_loss", "test_accuracy", "iters_done", "error", "crashes", "suspect",
    "solved", "legacy", "lyap_init", "lyap_floss", "lyap_trained"})


DIAG_KINDS = ("align_", "drift_")  # SPEC §8's diagnostic names start with these


def is_diag(column):
    """True for a jobs column diag_<name> holding a job's last diagnostic value."""
    return column.startswith("diag_") and column[5:].startswith(DIAG_KINDS)


def is_key(column):
    """True for a column that can be a config key: not in NON_KEYS, not diag_<name>."""
    return column not in NON_KEYS and not is_diag(column)


class AnalysisError(Exception):
    """Bad input to the analysis: a one-line message for the user (exit code 2)."""


_warned = set()


def warn(msg):
    """Print `msg` on stderr once per process."""
    if msg not in _warned:
        _warned.add(msg)
        print(f"rnnsweep_analysis: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- opening

def connect(path):
    """A read-only sqlite3 connection to the rnnsweep database at `path`.

    Opens with URI mode=ro; where that fails because the directory is
    read-only (a WAL database needs its -shm file), with immutable=1.
    Raises AnalysisError if the file is missing, not SQLite or not ours."""
    if not os.path.isfile(path):
        raise AnalysisError(f"{path}: no such database")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path))
    last = None
    for mode in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True)
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as e:
            if "not a database" in str(e):
                raise AnalysisError(f"{path}: not an SQLite database") from None
            last = e
            continue
        if app != APPLICATION_ID:
            conn.close()
            raise AnalysisError(f"{path}: not an rnnsweep database")
        return conn
    raise AnalysisError(f"{path}: cannot open read-only: {last}")


def has_table(conn, name):
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def parse_config(text):
    """The canonical `key=value` lines of a job as a dict of strings."""
    out = {}
    for line in (text or "").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def config_keys(conn):
    """The config keys of the database, in jobs column order (see module doc)."""
    cols = [r[1] for r in conn.execute("PRAGMA table_info(jobs)")]
    if "config" not in cols or "status" not in cols:
        raise AnalysisError("jobs table lacks its config or status column")
    named = set()
    for (text,) in conn.execute("SELECT DISTINCT config FROM jobs"):
        named.update(parse_config(text))
    lo, hi = cols.index("config"), cols.index("status")
    return [c for i, c in enumerate(cols) if lo < i < hi or (i > hi and c in named and is_key(c))]


def keys_of(jobs, keys=None):
    """Config keys of a jobs DataFrame: `keys` if given, else its attrs, else
    by elimination (every column not in NON_KEYS)."""
    if keys is not None:
        missing = [k for k in keys if k not in jobs.columns]
        if missing:
            raise AnalysisError(f"not a config key here: {', '.join(missing)}")
        return list(keys)
    if "keys" in jobs.attrs:
        return [k for k in jobs.attrs["keys"] if k in jobs.columns]
    return [c for c in jobs.columns if is_key(c)]


def thresholds(conn=None, overrides=None):
    """Solve thresholds per task: SPEC §7's defaults, the database's
    `thresholds` table where present, then `overrides` ({task: accuracy})."""
    out = dict(DEFAULT_THRESHOLDS)
    if conn is not None and has_table(conn, "thresholds"):
        out.update({t: a for t, a in conn.execute("SELECT task, accuracy FROM thresholds")})
    out.update(overrides or {})
    return out


def parse_thresholds(items):
    """['romo=0.95', ...] (command-line form) -> {'romo': 0.95}; AnalysisError if malformed."""
    out = {}
    for it in items or []:
        task, sep, acc = it.partition("=")
        try:
            if not sep or not task:
                raise ValueError
            out[task] = float(acc)
        except ValueError:
            raise AnalysisError(f"--threshold {it}: expected TASK=ACCURACY, e.g. romo=0.9") from None
    return out


# ---------------------------------------------------------------- loading

def _finish_jobs(jobs, keys, source, thr):
    """Common part of loading jobs from SQLite or CSV: metric columns of both
    schemas, `solved`, key attrs."""
    if "id" in jobs.columns and "job_id" not in jobs.columns:
        jobs = jobs.rename(columns={"id": "job_id"})
    if "test_loss" not in jobs.columns:
        warn(f"{source}: written by an older rnnsweep (no val_*/test_* columns): test_loss and "
             "test_accuracy are its final_loss and final_accuracy, and there are no validation metrics")
        jobs["test_loss"] = jobs.get("final_loss", np.nan)
        jobs["test_accuracy"] = jobs.get("final_accuracy", np.nan)
        jobs["legacy"] = True
    else:
        old = jobs["test_loss"].isna() & jobs.get("final_loss", pd.Series(np.nan, jobs.index)).notna()
        if old.any():
            warn(f"{source}: {int(old.sum())} job(s) were run by an older rnnsweep: their test_* are "
                 "their final_* (old evaluation batch), and they have no validation metrics")
            jobs.loc[old, "test_loss"] = jobs.loc[old, "final_loss"]
            jobs.loc[old, "test_accuracy"] = jobs.loc[old, "final_accuracy"]
        jobs["legacy"] = old
    for c in ("val_loss", "val_accuracy", "test_loss", "test_accuracy"):
        if c not in jobs.columns:
            jobs[c] = np.nan
        jobs[c] = pd.to_numeric(jobs[c], errors="coerce")
    thr = thr or {}
    limit = jobs["task"].map(thr) if "task" in jobs.columns else pd.Series(np.nan, jobs.index)
    if "task" in jobs.columns:
        unknown = sorted(set(jobs["task"]) - set(thr))
        if unknown:
            warn(f"{source}: no solve threshold for task(s) {', '.join(map(str, unknown))}: "
                 "their `solved` is NaN (set one with --threshold TASK=ACC)")
    solved = pd.Series(np.nan, jobs.index)
    solved[jobs["status"] == "diverged"] = 0.0
    done = (jobs["status"] == "done") & jobs["test_accuracy"].notna() & limit.notna()
    solved[done] = (jobs.loc[done, "test_accuracy"] >= limit[done]).astype(float)
    solved[limit.isna()] = np.nan
    jobs["solved"] = solved
    jobs = jobs.sort_values("job_id").reset_index(drop=True)
    jobs.attrs["keys"] = list(keys)
    jobs.attrs["source"] = source
    return jobs


def load_jobs(conn, where=None, thresholds_=None, source="database"):
    """Jobs of an open database as a DataFrame (see the module doc).

    where: an SQL condition on jobs columns (`task = 'romo' and gain > 1`);
    AnalysisError if SQLite rejects it.  thresholds_: {task: accuracy}
    overriding the database's thresholds."""
    keys = config_keys(conn)
    if where:
        check_where(conn, where)
    jobs = pd.read_sql_query("SELECT * FROM jobs" + (f" WHERE ({where})" if where else ""), conn)
    jobs = jobs.drop(columns=["config"])
    for extra in (_lambda_max(conn), _final_diagnostics(conn)):
        jobs = jobs.merge(extra, how="left", left_on="id", right_index=True)
    for p in PHASES:
        if f"lyap_{p}" not in jobs.columns:
            jobs[f"lyap_{p}"] = np.nan
    return _finish_jobs(jobs, keys, source, thresholds(conn, thresholds_))


def _lambda_max(conn):
    """lambda_max (idx 1) per job at the last iteration of each phase in PHASES,
    as columns lyap_<phase> indexed by job id."""
    rows = pd.read_sql_query(
        "SELECT job_id, phase, iter, value FROM lyapunov WHERE idx = 1 AND phase IN "
        f"({','.join('?' * len(PHASES))})", conn, params=PHASES)
    if rows.empty:
        return pd.DataFrame({f"lyap_{p}": pd.Series(dtype=float) for p in PHASES},
                            index=pd.Index([], dtype="int64"))
    last = rows.sort_values("iter").groupby(["job_id", "phase"]).tail(1)
    wide = last.pivot(index="job_id", columns="phase", values="value")
    return wide.rename(columns=lambda p: f"lyap_{p}")


def _final_diagnostics(conn):
    """Each diagnostic's value at its job's last diagnostic iteration, as
    columns diag_<name> (sorted) indexed by job id; none without the table."""
    rows = pd.DataFrame({"job_id": [], "name": [], "value": []})
    if has_table(conn, "diagnostics"):
        rows = pd.read_sql_query(
            "SELECT d.job_id, d.name, d.value FROM diagnostics d JOIN (SELECT job_id, name, "
            "max(iter) AS it FROM diagnostics GROUP BY job_id, name) m ON d.job_id = m.job_id "
            "AND d.name = m.name AND d.iter = m.it", conn)
    wide = rows.pivot(index="job_id", columns="name", values="value").astype(float)
    return wide.rename(columns=lambda n: f"diag_{n}").sort_index(axis=1)


def load_jobs_csv(path, thresholds_=None):
    """Jobs from a CSV with one row per job (every config key, status,
    val/test metrics, optionally lyap_init/lyap_floss/lyap_trained), as
    written by write_jobs_csv or `rnnsweep export --csv`.  Keys are those of
    a `config` column if present, else every column not in NON_KEYS."""
    if not os.path.isfile(path):
        raise AnalysisError(f"{path}: no such file")
    try:
        jobs = pd.read_csv(path, float_precision="round_trip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise AnalysisError(f"{path}: not a CSV table: {str(e).splitlines()[0]}") from None
    if "status" not in jobs.columns or not ({"id", "job_id"} & set(jobs.columns)):
        raise AnalysisError(f"{path}: not a jobs table (needs job_id and status columns)")
    if "config" in jobs.columns:
        named = set()
        for t in jobs["config"].dropna():
            named.update(parse_config(t))
        keys = [c for c in jobs.columns if c in named]
        jobs = jobs.drop(columns=["config"])
    else:
        keys = [c for c in jobs.columns if is_key(c)]
    for p in PHASES:
        if f"lyap_{p}" not in jobs.columns:
            jobs[f"lyap_{p}"] = np.nan
    return _finish_jobs(jobs, keys, path, thresholds(None, thresholds_))


JOB_COLUMNS = ("status", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "final_loss",
               "final_accuracy", "wall_seconds", "crashes")


def write_jobs_csv(jobs, path):
    """Write a jobs DataFrame as the one-row-per-job CSV that load_jobs_csv
    reads back: job_id, every key, JOB_COLUMNS, lyap_<phase>, diag_<name>,
    floats as their shortest text that reads back to the same double."""
    cols = ["job_id", *keys_of(jobs), *JOB_COLUMNS, *(f"lyap_{p}" for p in PHASES),
            *sorted(c for c in jobs.columns if is_diag(c))]
    jobs[[c for c in cols if c in jobs.columns]].to_csv(path, index=False)


def _with_keys(rows, jobs):
    """`rows` (with a job_id column) joined with their jobs' keys and status."""
    cols = ["job_id", *keys_of(jobs), "status"]
    out = rows.merge(jobs[cols], on="job_id", how="inner")
    return out[[*rows.columns, *cols[1:]]]


def load_curves(conn, jobs):
    """Curve rows (job_id, iter, loss, accuracy) of the jobs in `jobs`, with their keys."""
    rows = pd.read_sql_query("SELECT job_id, iter, loss, accuracy FROM curves", conn)
    return _with_keys(rows, jobs).sort_values(["job_id", "iter"]).reset_index(drop=True)


def load_lyapunov(conn, jobs):
    """Exponent rows (job_id, phase, iter, idx, value, sd) of `jobs`, with their keys."""
    rows = pd.read_sql_query("SELECT job_id, phase, iter, idx, value, sd FROM lyapunov", conn)
    return _with_keys(rows, jobs).sort_values(["job_id", "phase", "iter", "idx"]).reset_index(drop=True)


def load_diagnostics(conn, jobs):
    """Diagnostic rows (job_id, iter, name, value) of `jobs`; empty if the table is absent."""
    if not has_table(conn, "diagnostics"):
        rows = pd.DataFrame({"job_id": pd.Series(dtype="int64"), "iter": pd.Series(dtype="int64"),
                             "name": pd.Series(dtype="object"), "value": pd.Series(dtype="float64")})
    else:
        rows = pd.read_sql_query("SELECT job_id, iter, name, value FROM diagnostics", conn)
    return _with_keys(rows, jobs).sort_values(["job_id", "iter", "name"]).reset_index(drop=True)


def check_where(conn, where):
    """AnalysisError unless `where` is a valid SQL condition on jobs."""
    try:
        conn.execute(f"SELECT 1 FROM jobs WHERE ({where}) LIMIT 0")
    except (sqlite3.Error, sqlite3.Warning) as e:
        raise AnalysisError(f"--where {where!r}: {e}") from None


class Results:
    """Jobs and (possibly empty) curves, lyapunov, diagnostics and runs tables
    of one sweep.  .jobs is a property; the others are methods.  Built from
    a database (Database) or from CSV files (from_csv, from_csv_set); .path
    names the source, .partial says that tables are incomplete (a CSV set)."""
    partial = False

    def __init__(self, jobs, curves=None, lyapunov=None, diagnostics=None, runs=None, source="results"):
        self.source = self.path = source
        self._jobs, self._runs = jobs, runs
        self._tables = {"curves": curves, "lyapunov": lyapunov, "diagnostics": diagnostics}

    @classmethod
    def from_csv(cls, jobs_csv, curves_csv=None, lyapunov_csv=None, diagnostics_csv=None,
                 thresholds_=None, runs_csv=None):
        """Jobs from `jobs_csv` (load_jobs_csv); the long tables from their CSVs
        where given and present, joined with the jobs' keys.  The export's
        compact forms are accepted: lyapunov without a phase column (phase
        train, idx 1; the init, floss and trained rows at iterations 0, 0 and
        `iters` are rebuilt from the jobs' lyap_* columns) and diagnostics
        wide (job_id, iter, one column per name)."""
        jobs = load_jobs_csv(jobs_csv, thresholds_)
        tables = {}
        for name, path in (("curves", curves_csv), ("lyapunov", lyapunov_csv),
                           ("diagnostics", diagnostics_csv), ("runs", runs_csv)):
            if not (path and os.path.isfile(path)):
                continue
            try:
                t = pd.read_csv(path, float_precision="round_trip")
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
                raise AnalysisError(f"{path}: not a CSV table: {str(e).splitlines()[0]}") from None
            if name == "runs":
                tables[name] = t
                continue
            if name == "lyapunov" and "phase" not in t.columns:
                t = _lyapunov_from_compact(t, jobs)
            if name == "diagnostics" and "name" not in t.columns:
                t = t.melt(id_vars=["job_id", "iter"], var_name="name").dropna(subset=["value"])
            tables[name] = _with_keys(t, jobs)
        return cls(jobs, source=jobs_csv, **tables)

    @classmethod
    def from_csv_set(cls, directory, name, thresholds_=None):
        """The export of write_csv_set: DIRECTORY/NAME.csv and its companions."""
        base = os.path.join(directory, name)
        res = cls.from_csv(base + ".csv", lyapunov_csv=base + "_lyapunov.csv",
                           diagnostics_csv=base + "_align.csv", runs_csv=base + "_runs.csv",
                           thresholds_=thresholds_)
        res.partial = True
        return res

    @property
    def jobs(self):
        return self._jobs

    def runs(self):
        """The launches (one row each: run_id, started_at, finished_at, ranks, ...)."""
        return self._runs if self._runs is not None else pd.DataFrame(
            {c: [] for c in ("run_id", "started_at", "finished_at", "ranks")})

    def _table(self, name, columns):
        t = self._tables.get(name)
        if t is None:
            t = _with_keys(pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns}), self.jobs)
            self._tables[name] = t
        return t

    def curves(self):
        return self._table("curves", (("job_id", "int64"), ("iter", "int64"), ("loss", float),
                                      ("accuracy", float)))

    def lyapunov(self):
        return self._table("lyapunov", (("job_id", "int64"), ("phase", object), ("iter", "int64"),
                                        ("idx", "int64"), ("value", float), ("sd", float)))

    def diagnostics(self):
        return self._table("diagnostics", (("job_id", "int64"), ("iter", "int64"), ("name", object),
                                           ("value", float)))


def _lyapunov_from_compact(t, jobs):
    """Long lyapunov rows from the export's (job_id, iter, value) of phase
    train, idx 1, plus the init/floss/trained rows of the jobs' lyap_* columns."""
    parts = [t.assign(phase="train", idx=1, sd=np.nan)]
    ends = {"init": 0, "floss": 0, "trained": jobs["iters"] if "iters" in jobs.columns else np.nan}
    for ph, it in ends.items():
        e = pd.DataFrame({"job_id": jobs["job_id"], "iter": it, "value": jobs[f"lyap_{ph}"]})
        parts.append(e.dropna().assign(phase=ph, idx=1, sd=np.nan))
    out = pd.concat(parts, ignore_index=True)
    out["iter"] = out["iter"].astype("int64")
    return out[["job_id", "phase", "iter", "idx", "value", "sd"]]


class Database(Results):
    """An rnnsweep database opened read-only; its tables load on first use.

    keys (config keys) and the check of `where` (an SQL condition on jobs
    columns restricting every table to those jobs) are done at once, before
    any warning about the data.  .values(key) gives a key's distinct values;
    .execute(sql, params) runs a query on the read-only connection."""

    def __init__(self, path, where=None, thresholds_=None):
        self.path = path
        self.conn = connect(path)
        self.keys = config_keys(self.conn)
        if where:
            check_where(self.conn, where)
        self.where, self.thresholds = where, thresholds_
        super().__init__(None, source=path)

    @property
    def jobs(self):
        if self._jobs is None:
            self._jobs = load_jobs(self.conn, self.where, self.thresholds, source=self.path)
        return self._jobs

    def values(self, key):
        """The distinct values of config key `key` (in the jobs `where` selects)
        as a one-column DataFrame."""
        if key not in self.keys:
            raise AnalysisError(f"{key}: not a config key of {self.path} (keys: {', '.join(self.keys)})")
        cond = f" WHERE ({self.where})" if self.where else ""
        return pd.read_sql_query(f'SELECT DISTINCT "{key}" FROM jobs{cond}', self.conn)

    def execute(self, sql, params=()):
        return self.conn.execute(sql, params)

    def has_table(self, name):
        return has_table(self.conn, name)

    def runs(self):
        if self._runs is None:
            self._runs = pd.read_sql_query("SELECT * FROM runs", self.conn).rename(
                columns={"id": "run_id"}) if has_table(self.conn, "runs") else super().runs()
        return self._runs

    def _table(self, name, columns):
        if self._tables.get(name) is None:
            self._tables[name] = {"curves": load_curves, "lyapunov": load_lyapunov,
                                  "diagnostics": load_diagnostics}[name](self.conn, self.jobs)
        return self._tables[name]


# ---------------------------------------------------------------- the study's CSV export

CSV_SET = {"": "job_id,", "_lyapunov": "job_id,iter,value", "_align": "job_id,iter,align_rec,drift_W_rec",
           "_runs": "run_id,"}  # file suffix -> how its header starts
THROUGH_TRAINING_FORMAT = "%.6g"  # exponents and diagnostics through training: figures only


def csv_set_paths(directory, name):
    """The four paths of NAME's export in `directory`; AnalysisError if one of
    them exists but is not an earlier export (its header says otherwise)."""
    paths = [os.path.join(directory, name + suffix + ".csv") for suffix in CSV_SET]
    for path, head in zip(paths, CSV_SET.values()):
        if os.path.lexists(path):
            try:
                with open(path, encoding="utf-8") as f:
                    first = f.readline()
            except (OSError, UnicodeDecodeError):
                first = ""
            if not os.path.isfile(path) or os.path.islink(path) or not first.startswith(head):
                raise AnalysisError(f"{path}: exists and is not an rnnsweep CSV export; not overwritten")
    return paths


def write_csv_set(res, directory, name):
    """Write the study's export of `res` (module doc): NAME.csv (write_jobs_csv,
    full precision: every table regenerates exactly), NAME_lyapunov.csv
    (lambda_max through training: phase train, idx 1), NAME_align.csv
    (align_rec and drift_W_rec at every diagnostic iteration; both at 6
    significant digits, for figures) and NAME_runs.csv.  Each file is
    written beside its place and renamed over it.  Returns the paths."""
    paths = csv_set_paths(directory, name)
    ly = res.lyapunov()
    ly = ly.loc[(ly["phase"] == "train") & (ly["idx"] == 1), ["job_id", "iter", "value"]]
    d = res.diagnostics()
    d = d[d["name"].isin(["align_rec", "drift_W_rec"])]
    wide = d.pivot(index=["job_id", "iter"], columns="name", values="value")
    wide = wide.reindex(columns=["align_rec", "drift_W_rec"]).reset_index()
    wide.columns.name = None
    writers = [lambda f: write_jobs_csv(res.jobs, f),
               lambda f: ly.to_csv(f, index=False, float_format=THROUGH_TRAINING_FORMAT),
               lambda f: wide.to_csv(f, index=False, float_format=THROUGH_TRAINING_FORMAT),
               lambda f: res.runs().to_csv(f, index=False)]
    for path, write in zip(paths, writers):
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return paths


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


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2), for the tools."""

    def error(self, message):
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def varying(df, keys):
    """The keys of `keys` that take more than one value in `df`."""
    return [k for k in keys if k in df.columns and df[k].nunique(dropna=False) > 1]
