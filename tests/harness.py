"""harness.py — what the Python end-to-end tests share: the check line they
print, the failure count that becomes their exit code, and waiting for a
condition (a row, a file, a counter) instead of sleeping a fixed time.

    from harness import check, failure_count, wait_for, ENV
    check("what is true", ok, detail)      # "ok   ..." or "FAIL ...  [detail]"
    wait_for(lambda: rows(db) > 0)          # polls every 50 ms, up to 300 s
    sys.exit(1 if failure_count() else 0)

ENV lets Open MPI run as root and oversubscribe the cores (tests start
more ranks than this machine has).
"""
import os
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
