#!/usr/bin/python3
"""test_crash.py — crash consistency: rank 0 killed at each of its database writes.

A short sweep runs as a singleton MPI process (rank 0 alone, which is also
the only database writer) under strace, which kills it with SIGKILL at the
N-th call of one kind of write to the database or its side files (pwrite64,
fdatasync, fsync, ftruncate, unlink, rename; `-P` limits both tracing and
the injection to those paths).  After each kill the next launch must open
the database, finish every job exactly once, and store curves and
exponents equal to a clean run.  About 12 calls of each kind are hit, the
first and the last included, at a stride spread over the whole run
(opening, schema, every transaction, the switch of journal mode); with
--journal delete as well as WAL.

Usage: test_crash.py PATH/TO/rnnsweep
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from harness import check, failure_count, results, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="rnnsweep-crash-")
KINDS = ["pwrite64", "fdatasync", "fsync", "ftruncate", "unlink", "rename"]


if not shutil.which("strace"):
    print("SKIP: strace is not installed (apt-get install strace)")
    sys.exit(77)

SWEEP = os.path.join(TMP, "tiny.ini")
open(SWEEP, "w").write("""task = 2af
rule = bptt, eprop
gain = 0.5, 1.5
hidden = 8
batch = 4
iters = 20
log_every = 5
lyap_k = 2
""")


def sweep(db, *extra, strace=None):
    cmd = [EXE, "sweep", SWEEP, "--db", db, "--progress", "0", *extra]
    if strace:
        cmd = strace + cmd
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


def strace_cmd(db, inject=None, log=None):
    cmd = ["strace", "-f", "-qq", "-o", log or os.devnull]
    for suffix in ("", "-wal", "-shm", "-journal"):
        cmd += ["-P", db + suffix]
    cmd += ["-e", "trace=" + ",".join(KINDS)]
    if inject:
        cmd += ["-e", f"inject={inject[0]}:signal=KILL:when={inject[1]}"]
    return cmd


for journal in ("wal", "delete"):
    ref_db = os.path.join(TMP, f"ref-{journal}.db")
    p = sweep(ref_db, "--journal", journal)
    ref = results(ref_db)
    check(f"[{journal}] clean run: 4 jobs done", p.returncode == 0 and len(ref) == 4 and
          all(v[0] == "done" for v in ref.values()), p.stderr[-300:])

    # How many writes of each kind a whole run makes.
    db = os.path.join(TMP, f"count-{journal}.db")
    log = os.path.join(TMP, f"count-{journal}.log")
    sweep(db, "--journal", journal, strace=strace_cmd(db, log=log))
    calls = {k: 0 for k in KINDS}
    for line in open(log):
        name = line.split(None, 1)[1].split("(", 1)[0] if " " in line else ""
        if name in calls:
            calls[name] += 1
    check(f"[{journal}] strace sees the database writes", calls["pwrite64"] > 20, str(calls))

    points = []
    for kind, n in calls.items():
        step = max(1, n // 12)  # ~12 points of each kind: the suite's time budget
        points += [(kind, i) for i in sorted(set(range(1, n + 1, step)) | {n})]
    bad = []
    for kind, i in points:
        db = os.path.join(TMP, f"kill-{journal}-{kind}-{i}.db")
        k = sweep(db, "--journal", journal, strace=strace_cmd(db, inject=(kind, i)))
        killed = k.returncode != 0
        r = sweep(db, "--journal", journal)
        ok = r.returncode == 0
        if ok:
            got = results(db)
            c = sqlite3.connect(db)
            dup = c.execute("select count(*) - count(distinct job_id || ':' || iter) from curves").fetchone()[0]
            c.close()
            ok = got == ref and dup == 0
        if not ok or not killed:
            bad.append(f"{kind}#{i}: killed={killed} resume rc={r.returncode} {r.stderr.strip()[-160:]}")
        for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
    check(f"[{journal}] killed at each of {len(points)} database writes: the next launch finishes "
          "every job once with curves equal to a clean run", not bad, "; ".join(bad[:5]))

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
shutil.rmtree(TMP, ignore_errors=True)
sys.exit(1 if failure_count() else 0)
