"""rnnsweep_analysis — an rnnsweep results database as tidy pandas DataFrames,
and the evaluation protocol of SPEC §7 on them.

The one package that tools/plot, tools/compare, tools/dashboard and
tools/study-report share: data.py (opening, loading, the CSV export) and
stats.py (the protocol's statistics); everything is importable from the
package itself.
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

from .data import *  # noqa: F401,F403
from .stats import *  # noqa: F401,F403
from .data import __all__ as _data_all
from .stats import __all__ as _stats_all

__all__ = _data_all + _stats_all
