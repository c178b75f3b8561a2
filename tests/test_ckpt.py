#!/usr/bin/python3
"""test_ckpt.py — damaged and foreign checkpoints end to end, under real mpirun on real SQLite files.

A sweep of two jobs of several seconds each runs under `mpirun -n 1`; once its
running job has trained for a while (measured as CPU time of the launch's
processes, polled, never a fixed sleep) mpirun gets SIGUSR1, and the launch
exits 3 with the job's checkpoint in the database.  Then:

  * the checkpoint cut to half its length (`substr(data, 1, length(data)/2)`),
  * the checkpoint with one bit flipped mid-image,
each resumed: every curve and exponent equals a clean run of the sweep, the
job is `done`, its `error` note says the checkpoint was unusable and why, and
no checkpoint row is left;
  * the checkpoint intact, resumed under another OpenBLAS core
    (OPENBLAS_CORETYPE): the job is `done` and its `error` note names both
    cores ("results may differ in the last bits").
Usage: test_ckpt.py PATH/TO/rnnsweep
"""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
from harness import check, failure_count, results, wait_for, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="rnnsweep-ckpt-")
TICK = os.sysconf("SC_CLK_TCK")


def path(name):
    return os.path.join(TMP, name)


def mpirun(*args, wait=True, env=None):
    cmd = ["mpirun", "-n", "1", EXE, "sweep", *args, "--progress", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env or ENV, start_new_session=True)
    if wait:
        p.out, p.err = p.communicate(timeout=600)
    return p


def query(db, sql, args=()):
    """Rows of a query, [] while the database is missing, being created or locked."""
    try:
        c = sqlite3.connect(db, timeout=10)
        rows = c.execute(sql, args).fetchall()
        c.close()
        return rows
    except sqlite3.Error:
        return []


def cpu_seconds(root):
    """CPU time (user + system) of the rnnsweep processes descending from `root`."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            try:  # the program re-executes itself, so match the binary, not the name
                ours = os.path.realpath(f"/proc/{d}/exe") == os.path.realpath(EXE)
            except OSError:
                ours = False
            fields = s[s.rindex(")") + 2:].split()  # from field 3 (state) on
            procs[int(d)] = (int(fields[1]), ours,  # ppid; utime + stime:
                             (int(fields[11]) + int(fields[12])) / TICK)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in procs and procs[pid][1]:
            total += procs[pid][2]
        todo += [q for q, (pp, _, _) in procs.items() if pp == pid]
    return total


def interrupted_run(db, train_cpu=1.0):
    """Start the sweep into db; once a job is running and the launch has
    trained train_cpu CPU seconds more, SIGUSR1 to mpirun.  Returns (exit
    code, stderr, [(job_id, checkpoint iter)])."""
    p = mpirun(SWEEP, "--db", db, wait=False)
    running = wait_for(lambda: p.poll() is not None or
                       query(db, "select count(*) from jobs where status='running'") == [(1,)])
    cpu0 = cpu_seconds(p.pid)
    trained = wait_for(lambda: p.poll() is not None or cpu_seconds(p.pid) - cpu0 >= train_cpu)
    if p.poll() is None:
        p.send_signal(signal.SIGUSR1)
    _, err = p.communicate(timeout=300)
    ck = query(db, "select job_id, iter from checkpoints")
    if not (running and trained):
        err += "\n(the job never ran, or the launch ended before the signal)"
    return p.returncode, err, ck


def notes(db):
    return dict(query(db, "select id, error from jobs"))


# Two jobs of ~4 s each here; the signal lands ~1 CPU-second into the first.
SWEEP = os.path.join(TMP, "sweep.ini")
with open(SWEEP, "w") as f:
    f.write("""task = romo
rule = bptt, eprop
gain = 1.0
hidden = 32
batch = 16
iters = 15000
log_every = 250
lyap_every = 2500
""")

ref = mpirun(SWEEP, "--db", path("ref.db"))
ref_res = results(path("ref.db"))
check("clean run of the sweep: exit 0, 2 jobs done",
      ref.returncode == 0 and len(ref_res) == 2 and all(v[0] == "done" for v in ref_res.values()),
      ref.err[-300:])
core = re.search(r"OpenBLAS core (\S+),", subprocess.run([EXE, "--version"], capture_output=True,
                                                         text=True, env=ENV).stdout)
core = core.group(1) if core else "?"


def truncate(db):
    c = sqlite3.connect(db)
    c.execute("update checkpoints set data = substr(data, 1, length(data)/2)")
    c.commit()
    c.close()


def flip(db):
    c = sqlite3.connect(db)
    for jid, data in c.execute("select job_id, data from checkpoints").fetchall():
        b = bytearray(data)
        b[len(b) // 3] ^= 0x10
        c.execute("update checkpoints set data = ? where job_id = ?", (bytes(b), jid))
    c.commit()
    c.close()


for name, damage, why in (("cut to half its length", truncate, "truncated"),
                          ("with one bit flipped", flip, "CRC")):
    db = path(name.split()[0] + ".db")
    code, err, ck = interrupted_run(db)
    check(f"{name}: SIGUSR1 mid-job: exit 3, a checkpoint of iteration > 0 saved",
          code == 3 and len(ck) == 1 and ck[0][1] > 0, f"exit {code}, checkpoints {ck} {err[-300:]}")
    damage(db)
    p = mpirun(SWEEP, "--db", db)
    res = results(db)
    note = notes(db).get(ck[0][0] if ck else None) or ""
    left = query(db, "select count(*) from checkpoints")
    differ = sum(res.get(h) != v for h, v in ref_res.items())
    check(f"{name}: resumed run exits 0, every curve and exponent equals the clean run",
          p.returncode == 0 and differ == 0 and left == [(0,)],
          f"exit {p.returncode}, {differ} of {len(ref_res)} jobs differ, checkpoints left {left} "
          + p.err[-300:])
    check(f"{name}: the job's note says the checkpoint was unusable ({why}) and the job restarted",
          "checkpoint unusable" in note and why in note and "restarted" in note, note)

# Resumed under another OpenBLAS core: loads, with a note naming both.
other = "Prescott" if core != "Prescott" else "Core2"
db = path("core.db")
code, err, ck = interrupted_run(db)
check("another core: SIGUSR1 mid-job: exit 3, a checkpoint of iteration > 0 saved",
      code == 3 and len(ck) == 1 and ck[0][1] > 0, f"exit {code}, checkpoints {ck} {err[-300:]}")
p = mpirun(SWEEP, "--db", db, env=dict(ENV, OPENBLAS_CORETYPE=other))
note = notes(db).get(ck[0][0] if ck else None) or ""
done = query(db, "select count(*) from jobs where status='done'")
check(f"resumed on core {other} (written on {core}): exit 0, jobs done, the note names both cores",
      p.returncode == 0 and done == [(2,)] and f"BLAS core {other}" in note and
      f"written with {core}" in note and "may differ" in note, f"{note!r} {p.err[-300:]}")

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s); files in {TMP}")
sys.exit(1 if failure_count() else 0)
