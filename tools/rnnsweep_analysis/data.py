"""rnnsweep_analysis.data — an rnnsweep results database (or the study's CSV
export) opened read-only and loaded into tidy pandas DataFrames; see the
package's docstring."""
import argparse
import os
import sqlite3
import sys
import urllib.parse

import numpy as np
import pandas as pd

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


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2), for the tools."""

    def error(self, message):
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def varying(df, keys):
    """The keys of `keys` that take more than one value in `df`."""
    return [k for k in keys if k in df.columns and df[k].nunique(dropna=False) > 1]

__all__ = ['APPLICATION_ID', 'LATEST_SWEEP', 'AnalysisError', 'ArgumentParser', 'CSV_SET', 'DEFAULT_THRESHOLDS', 'DIAG_KINDS', 'Database', 'FINISHED', 'JOB_COLUMNS', 'METRICS', 'MIN_PAIRS', 'NON_KEYS', 'N_BOOT', 'PHASES', 'Results', 'THROUGH_TRAINING_FORMAT', 'check_where', 'config_keys', 'connect', 'csv_set_paths', 'has_table', 'is_diag', 'is_key', 'keys_of', 'load_curves', 'load_diagnostics', 'load_jobs', 'load_jobs_csv', 'load_lyapunov', 'parse_config', 'parse_thresholds', 'thresholds', 'varying', 'warn', 'write_csv_set', 'write_jobs_csv']


# The jobs of the sweep file added last to a database (an edited sweep file
# leaves the jobs of its earlier text in the database; they are not its grid):
# a --where condition, for tools/plot and tools/study-report --latest-sweep.
LATEST_SWEEP = "id IN (SELECT job_id FROM sweep_jobs WHERE sweep_id = (SELECT max(id) FROM sweeps))"
