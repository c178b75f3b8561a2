#!/usr/bin/python3
"""test_status.py — `rnnsweep status --json` and `--watch` on real databases made by real sweeps.

  * --json on a finished database (done and timeout jobs): one line that
    parses, counts, axes, totals, the last run and the mean job time equal
    the SQL ones;
  * while a sweep runs under mpirun (--flush 0.2): a running job with
    iters_done > 0 shows a rate (compared with the rate of iters_done
    measured from the outside) and a finite ETA from the running jobs; the
    text report shows iters_done/iters and the ETA; --watch ends with code 3
    on SIGINT;
  * a resumed job's rate counts only this attempt's iterations
    (resumed_from = its checkpoint's iteration);
  * --watch 0.2 (text and --json) on a database whose sweep completes in the
    background exits 0 by itself, with a separator between reports and no
    terminal codes when stdout is not a terminal;
  * bad --db or --watch values: exit 2 with one line on stderr, nothing on stdout.
Usage: test_status.py PATH/TO/rnnsweep
"""
import fcntl
import json
import math
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from harness import check, failure_count, ENV  # noqa: E402

EXE = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="rnnsweep-status-")
STATUSES = ["pending", "running", "done", "diverged", "failed", "timeout"]
FIXED = {"id", "config_hash", "config", "status", "attempts", "host", "rank", "run_id",
         "started_at", "finished_at", "wall_seconds", "final_loss", "final_accuracy", "iters_done",
         "error", "crashes", "suspect", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}


def path(name):
    return os.path.join(TMP, name)


def write(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def mpirun(n, ini, db, *args, wait=True):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", EXE, "sweep", ini, "--db", db,
           "--progress", "0", *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    if wait:
        p.out, p.err = p.communicate(timeout=600)
    return p


def status(*args):
    return subprocess.run([EXE, "status", *args], capture_output=True, text=True, timeout=120)


def rows(db, q, args=()):
    """Rows of q on a read-only connection; [] while the database is missing or being created."""
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return c.execute(q, args).fetchall()
        finally:
            c.close()
    except sqlite3.Error:
        return []


def wait_for(cond, timeout=300):
    t = time.time()
    while time.time() - t < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    return None


def as_json(p):
    """The one JSON object of a status --json run, or None."""
    lines = p.stdout.splitlines()
    if p.returncode != 0 or len(lines) != 1:
        return None
    try:
        return json.loads(lines[0])
    except ValueError:
        return None


def sql_counts(db):
    got = dict(rows(db, "select status, count(*) from jobs group by 1"))
    return {s: got.get(s, 0) for s in STATUSES}


def sql_axes(db):
    """{key: [{value, pending, ...}]} for the key columns with more than one value."""
    cols = [r[1] for r in rows(db, "select * from pragma_table_info('jobs')") if r[1] not in FIXED]
    out = {}
    for k in cols:
        if rows(db, f'select count(distinct "{k}") from jobs')[0][0] < 2:
            continue
        out[k] = []
        for v, st, n in rows(db, f'select "{k}", status, count(*) from jobs group by 1, 2 order by 1'):
            if not out[k] or out[k][-1]["value"] != v:
                out[k].append(dict({"value": v}, **{s: 0 for s in STATUSES}))
            out[k][-1][st] = n
    return out


def close(a, b, rel=1e-9):
    return a is not None and b is not None and abs(a - b) <= rel * max(abs(a), abs(b))


# ---- a finished database ---------------------------------------------------------
SMALL = """task = romo, 2af
rule = bptt, eprop
gain = 0.5, 1.5
hidden = 8
batch = 4
iters = 40
log_every = 10
lyap_k = 2
"""
LONG = "task = romo\nhidden = 16\nbatch = 8\niters = 1000000\nlog_every = 100\n"
db = path("done.db")
p1 = mpirun(1, write("small.ini", SMALL), db)
p2 = mpirun(1, write("long.ini", LONG), db, "--job-time-limit", "0.5")
check("a finished database: 8 jobs done, 1 timeout (made by rnnsweep sweep)",
      p1.returncode == 0 and p2.returncode == 0 and sql_counts(db)["done"] == 8
      and sql_counts(db)["timeout"] == 1, p1.err[-300:] + p2.err[-300:])
s = status("--db", db, "--json")
js = as_json(s)
check("status --json: exit 0, one line, parses", js is not None, s.stdout[:300] + s.stderr)
js = js or {}
check("status --json: counts by status equal SQL counts",
      js.get("counts") == sql_counts(db), f"{js.get('counts')} vs {sql_counts(db)}")
check("status --json: jobs, sweeps, schema version equal SQL",
      js.get("jobs") == rows(db, "select count(*) from jobs")[0][0]
      and js.get("sweeps") == rows(db, "select count(*) from sweeps")[0][0] == 2
      and js.get("schema_version") == rows(db, "pragma user_version")[0][0] == 2
      and js.get("database") == db, str({k: js.get(k) for k in ("jobs", "sweeps", "schema_version")}))
axes = sql_axes(db)
check("status --json: counts by status per swept key equal SQL (task, rule, gain, ...)",
      js.get("axes") == axes and {"task", "rule", "gain", "iters"} <= set(axes),
      f"{sorted(js.get('axes', {}))} vs {sorted(axes)}")
run = rows(db, "select * from runs order by id desc limit 1")
names = [r[1] for r in rows(db, "select * from pragma_table_info('runs')")]
check("status --json: last_run is the newest runs row, every column",
      run and js.get("last_run") == dict(zip(names, run[0])), str(js.get("last_run")))
mean = rows(db, "select avg(wall_seconds) from jobs where status in ('done', 'diverged')")[0][0]
check("status --json: nothing running, ETA 0, mean job time = SQL mean wall_seconds",
      js.get("running") == [] and js.get("eta_seconds") == 0 and close(js.get("mean_job_seconds"), mean),
      f"{js.get('running')} {js.get('eta_seconds')} {js.get('mean_job_seconds')} vs {mean}")

# ---- a running sweep ------------------------------------------------------------------
# A job must stay in its 2.5 s .. 80% window (progressing) long enough to be
# seen, both when it starts and after its resume from a checkpoint at ~5-25%,
# however fast the machine: 60000 iterations last >= 8 s at 7000 it/s, the
# fastest rate seen here (20000 did not: a resumed job once finished in 3 s).
ITERS = 60000
SLOW = f"""task = romo
rule = bptt, eprop
gain = 1.0
hidden = 32
batch = 16
iters = {ITERS}
log_every = 250
seed = 1, 2
"""
slow = write("slow.ini", SLOW)
db = path("live.db")
p = mpirun(2, slow, db, "--flush", "0.2", wait=False)
ELAPSED = "(julianday('now') - julianday(j.started_at)) * 86400"


def progressing(db, at_least=1, resumed=False):
    """(id, iters_done, elapsed) of a running job past `at_least` iterations in
    this attempt, claimed at least 2.5 s ago by started_at (1 s resolution),
    with a fifth of its iterations left for outside_rate to measure."""
    r = rows(db, f"select j.id, j.iters_done, {ELAPSED} from jobs j left join checkpoints c"
                 " on c.job_id = j.id where j.status = 'running' and"
                 f" j.iters_done >= coalesce(c.iter, 0) + ? and {ELAPSED} >= 2.5 and j.iters_done <= 0.8 * j.iters"
                 + (" and c.iter > 0" if resumed else "") + " order by j.id limit 1", (at_least,))
    return r[0] if r else None


def outside_rate(db, jid):
    """iters_done's rate of change of job jid, measured over >= 1 s by polling; None if it stalls."""
    def iters():
        return rows(db, "select iters_done from jobs where id = ?", (jid,))[0][0]
    t0, d0 = time.time(), iters()

    def moved():
        t, d = time.time(), iters()
        return (t, d) if t - t0 >= 1 and d > d0 else None
    got = wait_for(moved, timeout=120)
    return (got[1] - d0) / (got[0] - t0) if got else None


def finished(db):
    return rows(db, "select count(*) from jobs where status in ('done', 'diverged')")[0][0]


def running_checks(tag, db, resumed):
    seen = wait_for(lambda: progressing(db, 1, resumed))
    before = finished(db)
    js = as_json(status("--db", db, "--json"))
    after = finished(db)
    if not seen or not js:
        check(f"{tag}: a running job with iters_done > 0 is seen and status --json parses", False,
              f"{seen} {js}")
        return None
    jid = seen[0]
    job = [r for r in js["running"] if r["id"] == jid]
    job = job[0] if job else {}
    ck = rows(db, "select iter from checkpoints where job_id = ?", (jid,))
    base = ck[0][0] if ck else 0
    rate = job.get("rate")
    emp = outside_rate(db, jid)
    check(f"{tag}: status --json lists running job {jid} with iters_done, iters, resumed_from",
          job.get("iters_done", -1) >= seen[1] and job.get("iters") == ITERS and
          job.get("resumed_from") == base and (base > 0) == resumed and job.get("host"), str(job))
    check(f"{tag}: its rate is this attempt's iterations over its time and agrees with the rate "
          "of iters_done measured from outside (within 3x)",
          rate is not None and rate > 0 and emp and emp / 3 < rate < 3 * emp and
          close(rate, (job["iters_done"] - base) / job["elapsed_seconds"], 1e-9),
          f"rate {rate}, measured {emp}, job {job}")
    left = job.get("seconds_left")
    check(f"{tag}: seconds left = (iters - iters_done) / rate; the ETA is finite and covers it",
          rate and close(left, (ITERS - job["iters_done"]) / rate, 1e-9)
          and js.get("eta_seconds") is not None and math.isfinite(js["eta_seconds"])
          and js["eta_seconds"] >= left
          and (before != after or js.get("eta_from") == ("finished" if after else "running")),
          f"left {left}, eta {js.get('eta_seconds')} from {js.get('eta_from')}, {after} finished")
    check(f"{tag}: counts add up, every running job listed",
          sum(js["counts"].values()) == 4 and js["counts"]["running"] == len(js["running"]) >= 1,
          str(js["counts"]))
    return jid


jid = running_checks("live", db, False)
t = status("--db", db)
check("the text report shows iters_done/iters, the rate and the ETA of a running job",
      t.returncode == 0 and f"/{ITERS} at " in t.stdout and " it/s, " in t.stdout and
      ("from the running jobs' iteration rates" in t.stdout or "mean job" in t.stdout), t.stdout[-600:])

# Ctrl-C ends --watch cleanly.
w = subprocess.Popen([EXE, "status", "--db", db, "--watch", "0.2"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
first = w.stdout.readline()
w.send_signal(signal.SIGINT)
try:
    out, err = w.communicate(timeout=30)
except subprocess.TimeoutExpired:
    w.kill()
    out, err = w.communicate()
check("status --watch: SIGINT (Ctrl-C) ends it with exit code 3, nothing on stderr",
      first.startswith("---- ") and w.returncode == 3 and err == "", f"{w.returncode} {err!r}")

# Interrupt mid-job (checkpoints), then resume with watchers running.
wait_for(lambda: rows(db, "select 1 from jobs where status = 'running' and iters_done >= 3000"))
p.send_signal(signal.SIGUSR1)
p.communicate(timeout=300)
nck = rows(db, "select count(*) from checkpoints where iter > 0")[0][0]
js = as_json(status("--db", db, "--json"))
check("interrupted sweep: exit 3, checkpoints saved, status --json counts equal SQL, none running",
      p.returncode == 3 and nck >= 1 and js and js["counts"] == sql_counts(db) and js["running"] == [],
      f"{p.returncode} {nck} {js and js['counts']}")
p = mpirun(2, slow, db, "--flush", "0.2", wait=False)
# Watchers while the sweep completes: the text one writes into a pipe of one
# page that nobody reads until the sweep has ended (a slow terminal or a
# stuck `| less`): it must not hold the database open while it waits, or the
# sweep cannot switch the finished file back to a rollback journal.  The JSON
# one writes to a file.
rfd, wfd = os.pipe()
fcntl.fcntl(wfd, 1031, 4096)  # F_SETPIPE_SZ
jout_f, jerr_f, terr_f = (open(path(n), "w") for n in ("watch.json", "watch-json.err", "watch.err"))
wt = subprocess.Popen([EXE, "status", "--db", db, "--watch", "0.2"], stdout=wfd, stderr=terr_f)
wj = subprocess.Popen([EXE, "status", "--db", db, "--watch", "0.2", "--json"], stdout=jout_f,
                      stderr=jerr_f)
os.close(wfd)
running_checks("resumed", db, True)
p.out, p.err = p.communicate(timeout=600)
tout, deadline = b"", time.time() + 120
while time.time() < deadline:
    if select.select([rfd], [], [], 1)[0]:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        tout += chunk
os.close(rfd)
for w in (wt, wj):
    try:
        w.wait(timeout=60)
    except subprocess.TimeoutExpired:
        w.kill()
        w.wait()
tout = tout.decode()
terr, jout, jerr = (open(path(n)).read() for n in ("watch.err", "watch.json", "watch-json.err"))
check("resumed sweep completes; a watcher blocked on its output holds no connection, so the "
      "finished file leaves WAL", p.returncode == 0 and sql_counts(db)["done"] == 4 and
      "stays WAL" not in p.err and not os.path.exists(db + "-wal"), p.err[-300:])
reports = tout.split("---- ")
check("status --watch 0.2 exits 0 by itself once no job is pending or running; separators, "
      "no terminal codes on a pipe",
      wt.returncode == 0 and terr == "" and len(reports) >= 3 and "\x1b" not in tout
      and "pending 0 running 0 done 4" in reports[-1],
      f"{wt.returncode} {len(reports)} reports {terr!r} {reports[-1][:200]!r}")
lines = jout.splitlines()
try:
    objs = [json.loads(x) for x in lines]
except ValueError:
    objs = []
check("status --watch 0.2 --json: one JSON object per line, the last one with nothing left, exit 0",
      wj.returncode == 0 and jerr == "" and len(objs) == len(lines) >= 2 and
      objs[-1]["counts"] == sql_counts(db) and objs[-1]["counts"]["done"] == 4 and
      any(o["running"] for o in objs), f"{wj.returncode} {len(lines)} lines {jerr!r}")

# ---- bad input ---------------------------------------------------------------------------
text = write("notes.txt", "not a database\n")
for args, needle in ((["--db", path("missing.db"), "--json"], "missing.db"),
                     (["--db", path("missing.db"), "--watch", "0.2"], "missing.db"),
                     (["--db", text, "--json"], "notes.txt"),
                     (["--db", "", "--json"], "--db"),
                     (["--db", db, "--watch", "abc"], "--watch"),
                     (["--db", db, "--watch", "0"], "--watch"),
                     (["--db", db, "--json", "--bogus"], "--bogus")):
    r = status(*args)
    check(f"status {' '.join(args[2:]) or args[1]!r} ({needle}): exit 2, one line naming it, no output",
          r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1 and needle in r.stderr,
          f"{r.returncode} {r.stderr!r}")

print(f"{failure_count()} failed", flush=True)
if failure_count() == 0:
    subprocess.run(["rm", "-rf", TMP])
sys.exit(1 if failure_count() else 0)
