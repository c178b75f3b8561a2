#!/usr/bin/python3
"""test_mpi.py — `rnnsweep sweep` end to end under real mpirun on real SQLite files.

  * -n 1 and -n 3 --oversubscribe give identical curves and exponents;
  * SIGKILL of the whole launch mid-sweep, then the same command: every job
    done exactly once, curves equal to the uninterrupted run;
  * SIGUSR1 to mpirun mid-job: exit code 3, checkpoints in the database,
    resumed curves bit-identical; SIGTERM to every process: same, nothing lost;
  * extending the grid adds only the new jobs; a job that always kills its
    launch is `failed` after --max-attempts launches;
  * bad sweep files and databases: exit code 2, database byte-for-byte
    unchanged; a database held by a live launch is refused;
  * status while a sweep runs, export of weights, the summary/best_lr views.
Usage: test_mpi.py PATH/TO/rnnsweep
"""
import csv
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
from harness import check, failure_count, results, wait_for, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
HOOKS = os.path.abspath(sys.argv[2])  # the same program with RNNSWEEP_TEST_CRASH_SEED compiled in
TMP = tempfile.mkdtemp(prefix="rnnsweep-mpi-")


def path(name):
    return os.path.join(TMP, name)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def mpirun(n, *args, wait=True, env=None, exe=None):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", exe or EXE, "sweep", *args, "--progress", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env or ENV, start_new_session=True)
    if not wait:
        return p
    try:
        out, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        dump_stacks(p)
        raise
    p.out, p.err = out, err
    return p


def dump_stacks(p):
    """A launch that hung: print every process of its session and their stacks, then kill it."""
    ps = subprocess.run(["ps", "-o", "pid=,stat=,etime=,args=", "-s", str(p.pid)],
                        capture_output=True, text=True).stdout
    print("hung launch, processes of its session:\n" + ps, file=sys.stderr)
    for line in ps.splitlines() if shutil.which("gdb") else []:
        pid = line.split()[0]
        try:
            bt = subprocess.run(["gdb", "-p", pid, "-batch", "-ex", "thread apply all bt"],
                                capture_output=True, text=True, timeout=120).stdout
        except subprocess.TimeoutExpired:
            bt = "(gdb did not answer in 120 s)"
        print("---- stacks of %s\n%s" % (pid, bt[-4000:]), file=sys.stderr)
    os.killpg(p.pid, signal.SIGKILL)


def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None


def count(db, where):
    """Jobs matching `where`, 0 while the database is missing or being created."""
    try:
        c = sqlite3.connect(db, timeout=10)
        n = c.execute("select count(*) from jobs where " + where).fetchone()[0]
        c.close()
        return n
    except sqlite3.Error:
        return 0


def running_jobs(db):
    return count(db, "status='running'")


# A small grid: 12 jobs of a fraction of a second each.
SMALL = """# a small grid for the tests
task = romo, 2af
rule = bptt, eprop, rflo
gain = 0.5, 1.5
hidden = 16
batch = 8
iters = 60
log_every = 10
lyap_k = 2
"""
small = write("small.ini", SMALL)

# ---- ranks do not change results ----------------------------------------------
p1 = mpirun(1, small, "--db", path("n1.db"))
p3 = mpirun(3, small, "--db", path("n3.db"))
check("-n 1 sweep completes with exit 0", p1.returncode == 0, p1.err[-400:])
check("-n 3 sweep completes with exit 0", p3.returncode == 0, p3.err[-400:])
r1, r3 = results(path("n1.db")), results(path("n3.db"))
check("12 jobs, all done", len(r1) == 12 and all(v[0] == "done" for v in r1.values()))
check("-n 1 and -n 3 give identical curves and exponents", r1 == r3)
c = sqlite3.connect(path("n3.db"))
ranks = {r for (r,) in c.execute("select distinct rank from jobs")}
nruns = c.execute("select count(*) from runs").fetchone()[0]
prov = c.execute("select version, git, compiler, mpi, blas, sqlite, hosts, ranks from runs").fetchone()
c.close()
check("-n 3 used every rank, rank 0 included", ranks == {0, 1, 2}, str(ranks))
check("runs row with provenance", nruns == 1 and all(prov) and prov[7] == 3, str(prov))

# ---- rerun of a complete sweep does nothing --------------------------------------
before = results(path("n1.db"))
p = mpirun(1, small, "--db", path("n1.db"))
check("rerunning a complete sweep exits 0 and changes no result", p.returncode == 0 and
      results(path("n1.db")) == before)

# ---- SIGKILL mid-sweep, then resume ------------------------------------------------
LONG = SMALL.replace("iters = 60", "iters = 3000").replace("log_every = 10", "log_every = 100").replace(
    "hidden = 16", "hidden = 32")  # ~1 s per job: the kill lands mid-sweep
long_ini = write("long.ini", LONG)
ref = mpirun(2, long_ini, "--db", path("ref.db"))
check("reference run of the longer grid", ref.returncode == 0, ref.err[-300:])
ref_res = results(path("ref.db"))

db = path("killed.db")
p = mpirun(2, long_ini, "--db", db, wait=False)
ok = wait_for(lambda: count(db, "status='done'") >= 3)
os.killpg(p.pid, signal.SIGKILL)
p.wait()
subprocess.run(["pkill", "-9", "-f", EXE + " sweep " + long_ini])
c = sqlite3.connect(db)
partial = c.execute("select count(*) from jobs where status='done'").fetchone()[0]
c.close()
check("SIGKILL mid-sweep left a partial database", ok and 0 < partial < 12, f"{partial} done")
p = mpirun(2, long_ini, "--db", db)
res = results(db)
c = sqlite3.connect(db)
attempts = c.execute("select max(attempts) from jobs").fetchone()[0]
dup = c.execute("select count(*) - count(distinct job_id || ':' || iter) from curves").fetchone()[0]
c.close()
check("resume after SIGKILL: exit 0, every job done once, curves equal the uninterrupted run",
      p.returncode == 0 and res == ref_res and dup == 0, p.err[-300:])
check("jobs killed mid-run were retried (attempts counted)", attempts >= 2, f"max attempts {attempts}")

# ---- SIGUSR1 to mpirun: checkpoint and exit 3 ---------------------------------------
SLOW = """task = romo
rule = bptt, eprop
gain = 1.0
hidden = 32
batch = 16
iters = 15000
log_every = 250
lyap_every = 2500
diag_every = 1000
"""
slow = write("slow.ini", SLOW)
ref = mpirun(2, slow, "--db", path("slow-ref.db"))
slow_ref = results(path("slow-ref.db"))
ndiag = sum(len(v[3]) for v in slow_ref.values())
check("diag_every fills the diagnostics table: bptt 3 and eprop 7 rows at 16 steps each",
      ref.returncode == 0 and ndiag == 16 * (3 + 7), f"{ndiag} rows")


def rank_pids(p):
    """{rank: pid} of the rnnsweep processes of launch p (read from /proc)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.getsid(int(d)) != p.pid:
                continue
            env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
            cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if not cmd or not cmd[0].endswith(b"rnnsweep"):
            continue
        for e in env:
            if e.startswith(b"OMPI_COMM_WORLD_RANK="):
                out[int(e.split(b"=")[1])] = int(d)
    return out


def progressed(db, n, iters):
    """n running jobs that have reported at least `iters` iterations (live progress)."""
    return count(db, f"status='running' and iters_done >= {iters}") >= n


def interrupt_and_resume(n, how, send, code_ok):
    """Launch the slow grid on n ranks with live progress, wait until every
    running job is well into training, send the signal(s), check that every
    job checkpointed mid-run without being charged, then resume and compare."""
    db = path(f"slow-{how.replace(' ', '-')}.db")
    p = mpirun(n, slow, "--db", db, "--flush", "0.2", wait=False)
    started = wait_for(lambda: os.path.exists(db) and progressed(db, 2, 500), timeout=300)
    send(p)
    out, err = p.communicate(timeout=300)
    c = sqlite3.connect(db)
    ck = c.execute("select count(*), min(iter) from checkpoints").fetchone()
    pending = c.execute("select count(*) from jobs where status='pending'").fetchone()[0]
    charged = c.execute("select count(*) from jobs where attempts > 0 or crashes > 0").fetchone()[0]
    c.close()
    check(f"{how} mid-job: exit code {p.returncode}, 2 checkpoints saved mid-run, jobs pending and "
          "not charged, no job abandoned",
          started and code_ok(p.returncode) and ck[0] == 2 and (ck[1] or 0) >= 500 and pending == 2
          and charged == 0 and "grace period over" not in err, f"{ck} {charged} " + err[-400:])
    p = mpirun(2, slow, "--db", db)
    c = sqlite3.connect(db)
    left = c.execute("select count(*) from checkpoints").fetchone()[0]
    c.close()
    check(f"{how}: resumed run completes bit-identical to an uninterrupted run, checkpoints cleared",
          p.returncode == 0 and results(db) == slow_ref and left == 0, p.err[-300:])


def to_ranks(sig, ranks):
    def send(p):
        pids = rank_pids(p)
        for r in ranks:
            os.kill(pids[r], sig)
    return send


interrupt_and_resume(2, "SIGUSR1 to mpirun", lambda p: p.send_signal(signal.SIGUSR1),
                     lambda rc: rc == 3)
interrupt_and_resume(2, "SIGTERM to every process", lambda p: os.killpg(p.pid, signal.SIGTERM),
                     lambda rc: rc != 0)
# A signal that reaches one worker rank only (a node's OOM killer warning, a
# user's kill) must stop the launch in order: grace period, every job checkpointed.
interrupt_and_resume(3, "SIGTERM to worker rank 1 only", to_ranks(signal.SIGTERM, [1]),
                     lambda rc: rc == 3)
# An ssh session that hangs up, and `| head` closing the output.
interrupt_and_resume(2, "SIGHUP to every rank", to_ranks(signal.SIGHUP, [0, 1]), lambda rc: rc == 3)
interrupt_and_resume(2, "SIGPIPE to every rank", to_ranks(signal.SIGPIPE, [0, 1]), lambda rc: rc == 3)

# ---- live progress: a running job can be watched ------------------------------------
db = path("live-progress.db")
p = mpirun(1, slow, "--db", db, "--flush", "0.5", wait=False)
seen = wait_for(lambda: count(db, "status='running' and iters_done > 0") >= 1, timeout=120)
c = sqlite3.connect(db)
rows = c.execute("select count(*), max(c.iter) from curves c join jobs j on j.id = c.job_id "
                 "where j.status = 'running'").fetchone()
c.close()
p.send_signal(signal.SIGUSR1)
p.communicate(timeout=120)
check("a running job's curve rows and iters_done reach the database within --flush seconds",
      seen and rows[0] >= 2 and rows[1] > 0, str(rows))
p = mpirun(1, slow, "--db", db, "--flush", "0.5")
c = sqlite3.connect(db)
dup = c.execute("select count(*) - count(distinct job_id || ':' || iter) from curves").fetchone()[0]
c.close()
check("with live progress, resume is bit-identical and curve rows never duplicate",
      p.returncode == 0 and results(db) == slow_ref and dup == 0, p.err[-300:])

# ---- extending a grid ---------------------------------------------------------------
db = path("extend.db")
open(db, "wb").write(open(path("n1.db"), "rb").read())
ext = write("ext.ini", SMALL.replace("gain = 0.5, 1.5", "gain = 0.5, 1.5, 2.5"))
h0 = sha(db)
q = subprocess.run([EXE, "sweep", ext, "--db", db, "--check"], capture_output=True, text=True)
lst = subprocess.run([EXE, "sweep", ext, "--db", db, "--list"], capture_output=True, text=True)
rows = [l for l in lst.stdout.splitlines() if l.startswith(("new ", "done "))]
check("--check counts the jobs new to the database (6 of 18), --list lists all 18, nothing written",
      q.returncode == 0 and "6 of the 18 jobs are new to the database; already in it: done 12" in q.stdout
      and lst.returncode == 0 and len(rows) == 18 and sum(l.startswith("new ") for l in rows) == 6
      and sha(db) == h0, q.stdout[-200:] + q.stderr)
p = mpirun(1, ext, "--db", db)
c = sqlite3.connect(db)
n = c.execute("select count(*) from jobs").fetchone()[0]
rows = c.execute("select count(*) from jobs where gain=2.5 and status='done'").fetchone()[0]
runs_ext = c.execute("select count(*) from runs").fetchone()[0]
c.close()
old_same = {h: v for h, v in results(db).items() if h in r1} == r1
check("extending a grid adds only the new jobs (6), old results untouched",
      p.returncode == 0 and n == 18 and rows == 6 and old_same and "6 new" in p.err, p.err[-300:])

# ---- a schema-1 database (rnnsweep 0.1.0) --------------------------------------------------
# tests/data/v1_sweep.sql is a database made by rnnsweep 0.1.0 (commit e9afea4).
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
db = path("v1.db")
c = sqlite3.connect(db)
c.executescript(open(os.path.join(DATA, "v1_sweep.sql")).read())
c.close()
before = results(db)
h0 = sha(db)
s = subprocess.run([EXE, "status", "--db", db], capture_output=True, text=True)
check("status reads a schema-1 database without changing it",
      s.returncode == 0 and "done 4" in s.stdout and sha(db) == h0, s.stderr + s.stdout[-300:])
v1ext = write("v1ext.ini", open(os.path.join(DATA, "v1_sweep.ini")).read().replace(
    "gain = 0.5, 1.5", "gain = 0.5, 1.5, 2.5"))
p = mpirun(1, v1ext, "--db", db)
c = sqlite3.connect(db)
ver = c.execute("pragma user_version").fetchone()[0]
cols = {r[1] for r in c.execute("pragma table_info(jobs)")}
n = c.execute("select count(*) from jobs").fetchone()[0]
new_metrics = c.execute("select count(*) from jobs where test_loss is not null").fetchone()[0]
thr = c.execute("select count(*) from thresholds").fetchone()[0]
c.close()
after = results(db)
check("a sweep on a schema-1 database migrates it to 2, runs only the 2 new jobs (with held-out "
      "metrics), keeps every old result",
      p.returncode == 0 and ver == 2 and {"crashes", "suspect", "val_loss", "test_loss"} <= cols and n == 6
      and new_metrics == 2 and thr == 3
      and {h: v[:5] for h, v in after.items() if h in before} == {h: v[:5] for h, v in before.items()}
      and "2 new" in p.err, p.err[-300:])

# ---- a job that always kills its launch ------------------------------------------------
crash = write("crash.ini", SMALL.replace("gain = 0.5, 1.5", "gain = 1").replace(
    "task = romo, 2af", "task = romo").replace("rule = bptt, eprop, rflo", "rule = bptt") +
    "seed = 0..2\n")
db = path("crash.db")
env = dict(ENV, RNNSWEEP_TEST_CRASH_SEED="1")
codes = [mpirun(1, crash, "--db", db, "--max-attempts", "2", env=env, exe=HOOKS).returncode
         for _ in range(4)]
c = sqlite3.connect(db)
st = dict(c.execute("select seed, status from jobs").fetchall())
att = c.execute("select attempts, error from jobs where seed=1").fetchone()
c.close()
check("a job that always kills its launch is failed after --max-attempts 2; others done",
      st == {0: "done", 1: "failed", 2: "done"} and codes[-1] == 0, f"{st} {att} codes {codes}")

# A job that kills its launch while other jobs run beside it: its neighbours are
# never charged; the suspects run alone until the culprit is found.
crash2 = write("crash2.ini", LONG.replace("task = romo, 2af", "task = romo").replace(
    "rule = bptt, eprop, rflo", "rule = bptt").replace("gain = 0.5, 1.5", "gain = 1") + "seed = 0..3\n")
db = path("crash2.db")
codes = []
for _ in range(12):
    codes.append(mpirun(2, crash2, "--db", db, "--max-attempts", "2", env=dict(ENV, RNNSWEEP_TEST_CRASH_SEED="2"),
                        exe=HOOKS).returncode)
    if codes[-1] == 0:
        break
c = sqlite3.connect(db)
st = dict(c.execute("select seed, status || ':' || crashes from jobs").fetchall())
c.close()
check("a job that kills a launch with neighbours running: only it is charged (failed after 2 "
      "deaths alone), every neighbour done with 0 crashes",
      st == {0: "done:0", 1: "done:0", 2: "failed:2", 3: "done:0"} and codes[-1] == 0,
      f"{st} codes {codes}")

# ---- a full disk is not the jobs' fault ------------------------------------------------
# A database on a 2 MB tmpfs fills up; four launches fail on it (exit 1, no
# abort); once the file system grows, the next launch completes every job:
# none is failed and none is charged a crash.
FULL = """task = romo
rule = bptt
gain = 0.5, 1, 1.5, 2
seed = 0..9
hidden = 64
batch = 8
iters = 200
log_every = 1
"""
full = write("full.ini", FULL)
mnt = path("tmpfs")
os.mkdir(mnt)
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                         capture_output=True).returncode == 0
if not mounted:
    print("SKIP full-disk case: cannot mount a tmpfs here (needs root)")
else:
    db = os.path.join(mnt, "full.db")
    codes = [mpirun(2, full, "--db", db).returncode for _ in range(4)]
    subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
    p = mpirun(2, full, "--db", db)
    c = sqlite3.connect(db)
    st = c.execute("select status, count(*), sum(crashes) from jobs group by 1").fetchall()
    c.close()
    subprocess.run(["umount", mnt])
    check("a full disk fails 4 launches (exit 1) without charging any job; after it grows, every job done",
          all(x == 1 for x in codes) and p.returncode == 0 and st == [("done", 40, 0)],
          f"codes {codes} then {p.returncode}: {st} " + p.err[-200:])

# ---- a launch that cannot record itself stops its workers ---------------------------
# The runs row is rank 0's first write after setup.  If it fails (a full
# disk; here a trigger that refuses it, so the failure is certain), rank 0
# must tell the workers to stop before MPI_Finalize: without the stop they
# waited for jobs and every rank waited in MPI_Finalize for ever.
norun = write("norun.ini", "task = romo\nrule = bptt\nhidden = 8\nbatch = 4\niters = 20\n"
                           "log_every = 10\nseed = 0..1\n")
db = path("norun.db")
p0 = mpirun(2, norun, "--db", db)
c = sqlite3.connect(db)
c.execute("create trigger no_runs before insert on runs begin "
          "select raise(abort, 'runs row refused by the test'); end")
c.commit()
c.close()
with open(norun, "a") as f:
    f.write("gain = 0.5, 1\n")
p = mpirun(2, norun, "--db", db)
c = sqlite3.connect(db)
st = c.execute("select status, count(*) from jobs group by 1 order by 1").fetchall()
c.close()
check("a launch whose runs row cannot be written ends with exit 1 on every rank (no hang), "
      "naming the failure, and leaves the new jobs pending",
      p0.returncode == 0 and p.returncode == 1 and "runs row refused by the test" in p.err
      and st == [("done", 2), ("pending", 2)], f"{p0.returncode} {p.returncode} {st} " + p.err[-300:])

# ---- divergence and the per-job time limit ------------------------------------------
odd = write("odd.ini", """[diverges]
activation = relu
alpha = 1
gain = 5
lr = 1000
hidden = 16
batch = 4
iters = 300

[slow]
hidden = 64
iters = 1000000
log_every = 100
""")
db = path("odd.db")
p = mpirun(1, odd, "--db", db, "--job-time-limit", "2")
c = sqlite3.connect(db)
st = dict(c.execute("select activation, status from jobs").fetchall())
err = dict(c.execute("select activation, error from jobs").fetchall())
rows = dict(c.execute("select j.activation, count(c.iter) from jobs j left join curves c on c.job_id = j.id "
                      "group by j.id").fetchall())
c.close()
check("a non-finite loss is status 'diverged' with its curve up to it",
      st.get("relu") == "diverged" and rows.get("relu", 0) >= 1 and "non-finite" in (err.get("relu") or ""),
      f"{st} {rows} {err}")
check("--job-time-limit ends a long job with status 'timeout' and its partial curve",
      p.returncode == 0 and st.get("tanh") == "timeout" and rows.get("tanh", 0) > 2
      and "time limit" in (err.get("tanh") or ""), f"{st} {rows}")

# ---- bad input: exit 2, database unchanged ------------------------------------------------
good_db = path("n1.db")
bad_files = {
    "malformed.ini": ("task = romo\nthis line is not a key value pair\n", "malformed.ini:2"),
    "unknown.ini": ("task = romo\nfoo = 3\n", "unknown.ini:2"),
    "badtask.ini": ("task = romo, frobnicate\n", "badtask.ini:1"),
    "nan.ini": ("gain = 1, nan\n", "nan.ini:1"),
    "negsize.ini": ("hidden = -4\n", "negsize.ini:1"),
    "reversed.ini": ("seed = 9..3\n", "reversed.ini:1"),
    "emptylist.ini": ("gain = 1,,2\n", "emptylist.ini:1"),
}
for name, (text, where) in bad_files.items():
    f = write(name, text)
    h0 = sha(good_db)
    p = mpirun(2, f, "--db", good_db)
    check(f"bad sweep file {name}: exit 2, message names {where}, database unchanged",
          p.returncode == 2 and where in p.err and sha(good_db) == h0, p.err.strip()[-200:])
# Exactly one line of ours, from rank 0 only; with `mpirun -q` nothing else at all.
f = write("oneline.ini", "task = romo\nfoo = 3\n")
p = mpirun(2, f, "--db", path("never.db"))
ours = [l for l in p.err.splitlines() if l.startswith("rnnsweep")]
q = subprocess.run(["mpirun", "-q", "-n", "2", "--oversubscribe", EXE, "sweep", f, "--db", path("never.db")],
                   capture_output=True, text=True, env=ENV)
check("a bad sweep file under mpirun -n 2 prints exactly one error line (with -q: and nothing else)",
      p.returncode == 2 and len(ours) == 1 and q.returncode == 2 and q.stderr.strip().count("\n") == 0
      and "oneline.ini:2" in q.stderr and not os.path.exists(path("never.db")), q.stderr + "|" + " / ".join(ours))
binf = path("binary.ini")
open(binf, "wb").write(bytes(range(256)) * 4)
p = mpirun(1, binf, "--db", path("never.db"))
check("binary sweep file: exit 2, no database created",
      p.returncode == 2 and "binary" in p.err and not os.path.exists(path("never.db")), p.err[-200:])
p = mpirun(1, path("missing.ini"), "--db", path("never.db"))
check("missing sweep file: exit 2", p.returncode == 2 and "missing.ini" in p.err)

foreign = path("foreign.db")
c = sqlite3.connect(foreign)
c.execute("create table notes(x)")
c.execute("insert into notes values ('precious')")
c.commit()
c.close()
newer = path("newer.db")
open(newer, "wb").write(open(good_db, "rb").read())
c = sqlite3.connect(newer)
c.execute("pragma user_version = 999")
c.commit()
c.close()
textfile = write("text.db", "this is not a database\n" * 100)
for db, what in ((foreign, "another application's database"), (newer, "a newer schema"),
                 (textfile, "a text file")):
    h0 = sha(db)
    p = mpirun(1, small, "--db", db)
    check(f"database that is {what}: exit 2, byte-for-byte unchanged",
          p.returncode == 2 and sha(db) == h0 and os.path.basename(db) in p.err, p.err.strip()[-200:])

# ---- a live launch holds the database; status while running; export -------------------------
db = path("live.db")
p = mpirun(1, slow, "--db", db, wait=False)
wait_for(lambda: os.path.exists(db) and running_jobs(db) >= 1)
q = mpirun(1, small, "--db", db)
check("a second launch on a database in use is refused with exit 2",
      q.returncode == 2 and "in use" in q.err, q.err.strip()[-200:])
s = subprocess.run([EXE, "status", "--db", db], capture_output=True, text=True)
check("status works while the sweep runs", s.returncode == 0 and "running" in s.stdout, s.stderr)
p.send_signal(signal.SIGUSR1)
p.communicate(timeout=120)
check("interrupted launch exits 3", p.returncode == 3)

out = path("export")
c = sqlite3.connect(path("n1.db"))
jid, N = c.execute("select id, hidden from jobs where rule='rflo' limit 1").fetchone()
c.close()
e = subprocess.run([EXE, "export", "--db", path("n1.db"), "--job", str(jid), "--out", out],
                   capture_output=True, text=True)
ok = e.returncode == 0
if ok:
    wi, wf = np.load(os.path.join(out, "init_W_rec.npy")), np.load(os.path.join(out, "final_W_rec.npy"))
    ok = wi.shape == (N, N) and wf.shape == (N, N) and not np.array_equal(wi, wf) and \
        os.path.exists(os.path.join(out, "B_fb.npy"))
check("export writes initial and final weights (.npy, trained != initial)", ok, e.stderr)
e = subprocess.run([EXE, "export", "--db", path("n1.db"), "--job", "99999", "--out", out + "2"],
                   capture_output=True, text=True)
check("export of a missing job: exit 2, nothing written", e.returncode == 2 and not os.path.exists(out + "2"))

# ---- export --csv: the whole database in long format -----------------------------------
cdir = path("csv")
e = subprocess.run([EXE, "export", "--db", path("slow-ref.db"), "--csv", cdir], capture_output=True, text=True)
c = sqlite3.connect(path("slow-ref.db"))
want = {t: c.execute(f"select count(*) from {t}").fetchone()[0]
        for t in ("jobs", "curves", "lyapunov", "diagnostics")}
test_losses = dict(c.execute("select id, test_loss from jobs").fetchall())
c.close()
got, same = {}, e.returncode == 0
for t in want:
    f = os.path.join(cdir, t + ".csv")
    rows = list(csv.DictReader(open(f))) if os.path.exists(f) else []
    got[t] = len(rows)
    if t == "jobs":
        same = same and all(float(r["test_loss"]) == test_losses[int(r["job_id"])] for r in rows) \
            and {"task", "gain", "lr", "seed", "status", "val_loss", "test_accuracy"} <= set(rows[0])
check("export --csv: jobs, curves, lyapunov, diagnostics .csv with the tables' row counts; reals read back exactly",
      same and got == want and want["diagnostics"] > 0, f"{got} vs {want} {e.stderr[-200:]}")

c = sqlite3.connect(path("n1.db"))
summ = c.execute("select count(*) from summary").fetchone()[0]
best = c.execute("select count(*) from best_lr").fetchone()[0]
c.close()
check("summary and best_lr views readable by Python's sqlite3", summ == 12 and best == 12,
      f"{summ} {best}")

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
sys.exit(1 if failure_count() else 0)
