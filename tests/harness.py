"""harness.py — what the Python end-to-end tests share: the check line they
print, the failure count that becomes their exit code, and waiting for a
condition (a row, a file, a counter) instead of sleeping a fixed time.

    from harness import check, failure_count, wait_for, ENV, holm_loop
    check("what is true", ok, detail)      # "ok   ..." or "FAIL ...  [detail]"
    wait_for(lambda: rows(db) > 0)          # polls every 50 ms, up to 300 s
    results(db) == results(reference_db)    # every job's stored numbers, by config hash
    holm_loop(ps)                           # the textbook Holm loop, a reference for the analysis tests
    sys.exit(1 if failure_count() else 0)

ENV lets Open MPI run as root and oversubscribe the cores (tests start
more ranks than this machine has).
"""
import os
import sqlite3
import time

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

_failures = 0


def check(what, ok, detail=""):
    """Print one result line; a false `ok` counts as a failure."""
    global _failures
    print(("ok   " if ok else "FAIL ") + what + (f"  [{detail}]" if detail else ""), flush=True)
    _failures += not ok


def failure_count():
    return _failures


def wait_for(cond, timeout=300):
    """True as soon as cond() is, False after `timeout` seconds."""
    t = time.time()
    while time.time() - t < timeout:
        if cond():
            return True
        time.sleep(0.05)
    return False


def holm_loop(ps):
    """Holm step-down written out as the textbook loop, the reference the
    analysis tests hold rnnsweep_analysis against: sort, multiply by
    (m - rank), running maximum, cap at 1."""
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out, run = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        run = max(run, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = run
    return out


def results(db):
    """{config_hash: (status, curve rows, lyapunov rows, diagnostic rows, final_loss,
    held-out metrics or None before schema 2)}."""
    c = sqlite3.connect(db)
    res = {}
    has_diag = c.execute("select count(*) from sqlite_master where name='diagnostics'").fetchone()[0]
    cols = {r[1] for r in c.execute("pragma table_info(jobs)")}
    metrics = "val_loss, val_accuracy, test_loss, test_accuracy" if "val_loss" in cols else None
    for jid, h, st in c.execute("select id, config_hash, status from jobs"):
        curve = c.execute("select iter, loss, accuracy from curves where job_id=? order by iter",
                          (jid,)).fetchall()
        lyap = c.execute("select phase, iter, idx, value, sd from lyapunov where job_id=? "
                         "order by phase, iter, idx", (jid,)).fetchall()
        diag = c.execute("select iter, name, value from diagnostics where job_id=? order by iter, name",
                         (jid,)).fetchall() if has_diag else []
        final = c.execute("select final_loss from jobs where id=?", (jid,)).fetchone()[0]
        held = c.execute(f"select {metrics} from jobs where id=?", (jid,)).fetchone() if metrics else None
        res[h] = (st, curve, lyap, diag, final, held)
    c.close()
    return res
