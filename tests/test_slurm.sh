#!/usr/bin/env bash
# tests/test_slurm.sh RNNSWEEP — end to end on a real SLURM started here.
#
# Starts a single-node SLURM with tools/slurm-local in a temporary directory
# (exit 77 = skipped, only where SLURM cannot be installed or run as root),
# then through tools/submit and slurm/sweep.sbatch:
#   (c) bad input is refused before anything is queued: exit 2, squeue empty,
#       no database created, a foreign database left byte-for-byte unchanged;
#   (a) a sweep of more than two minutes of compute with a 1-minute time limit
#       (SIGUSR1 10-40 s before it) chains allocations until complete: every job
#       done exactly once (attempts = 1), every curve complete (rows
#       0, 10, ..., iters), one `runs` row per allocation, at least 3
#       allocations;
#   (b) a sweep cancelled with `scancel -n` mid-job is not chained, its
#       in-flight jobs leave checkpoints, and the same submit command resumes
#       it to completion; the resumed curve of an interrupted job equals the
#       curve of the same job run by `rnnsweep train` in one go.
# The job length is calibrated on this machine (about 24 s of training per
# job: (a) holds 12 x 24 s = 2.4 min of wall-clock compute on 2 ranks), so
# the test takes about 5 minutes anywhere.  SLURM is stopped at the end
# whatever happens.  KEEP=1 keeps the temporary directory.
set -u

here=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 RNNSWEEP" >&2; exit 2; }
bin=$(realpath -- "$1") || exit 1
export RNNSWEEP_BIN=$bin
. "$(dirname "$0")/../tools/lib/common.sh"
rs_mpi_env
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI not found (apt-get install sqlite3)"; exit 1; }

tmp=$(mktemp -d /tmp/rnnsweep-slurm.XXXXXX)
t_start=$(date +%s)
cleanup() {
  "$here/tools/slurm-local" stop "$tmp/slurm" >/dev/null 2>&1
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 1' INT TERM

elapsed() { echo "$(( $(date +%s) - t_start ))s"; }
say()  { echo "[$(elapsed)] $*"; }
fail() {
  echo "FAIL: $*"
  local f
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -40 "$f"; }; done
  [ -f "$tmp/slurm/log/slurmctld.log" ] && { echo "--- slurmctld.log (last 20)"; tail -20 "$tmp/slurm/log/slurmctld.log"; }
  exit 1
}
q() { sqlite3 "$1" "$2"; }    # q DB SQL: one query, values separated by |

# --- SLURM ------------------------------------------------------------------
say "starting SLURM in $tmp/slurm"
export SLURM_LOCAL_OWNER=$$
out=$("$here/tools/slurm-local" start "$tmp/slurm" 2>"$tmp/slurm-local.err")
rc=$?
if [ $rc -eq 77 ]; then
  echo "SKIP: $(cat "$tmp/slurm-local.err")"
  exit 77
fi
[ $rc -eq 0 ] || { cat "$tmp/slurm-local.err"; fail "tools/slurm-local start failed (exit $rc)"; }
eval "$out"
[ -n "${SLURM_CONF:-}" ] || fail "tools/slurm-local printed no SLURM_CONF"
jobcomp=$tmp/slurm/log/jobcomp.txt

# wait_chain NAME LIMIT: until no job of that name is queued or running.
wait_chain() {
  local name=$1 limit=$2 t0=$SECONDS last=$SECONDS db=${3:-}
  while [ -n "$(squeue -h -n "$name" -o %i 2>/dev/null)" ]; do
    [ $((SECONDS - t0)) -lt "$limit" ] || { squeue; fail "$name still queued after ${limit}s"; }
    if [ -n "$db" ] && [ $((SECONDS - last)) -ge 30 ] && [ -f "$db" ]; then
      say "  $name: $(squeue -h -n "$name" -o '%i %T' | tr '\n' ' ')| $(q "$db" "select group_concat(status || ' ' || n, ', ') from (select status, count(*) n from jobs group by status)")"
      last=$SECONDS
    fi
    sleep 2
  done
}
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }

# --- (c) bad input: refused, nothing queued, nothing written ------------------
say "(c) bad input is refused before anything is queued"
printf 'task = romo\nrule = bptt\nbogus_key = 3\n' > "$tmp/bad-key.sweep"
printf 'task = romo\nthis line is not key value\n' > "$tmp/bad-line.sweep"
printf 'task = romo\nhidden = -5\n' > "$tmp/bad-value.sweep"
for f in bad-key bad-line bad-value; do
  "$here/tools/submit" "$tmp/$f.sweep" --db "$tmp/$f.db" --ntasks 1 --time 1 >"$tmp/$f.out" 2>&1
  rc=$?
  [ $rc -eq 2 ] || { cat "$tmp/$f.out"; fail "tools/submit $f.sweep: exit $rc, expected 2"; }
  grep -q "$f.sweep" "$tmp/$f.out" || { cat "$tmp/$f.out"; fail "no message naming $f.sweep"; }
  [ ! -e "$tmp/$f.db" ] || fail "tools/submit $f.sweep created its database"
  queue_empty || { squeue; fail "tools/submit $f.sweep queued a job"; }
done
printf 'task = romo\nseed = 1..2\niters = 10\n' > "$tmp/ok.sweep"
echo "not a database" > "$tmp/foreign.db"
cp "$tmp/foreign.db" "$tmp/foreign.orig"
"$here/tools/submit" "$tmp/ok.sweep" --db "$tmp/foreign.db" --ntasks 1 --time 1 >"$tmp/foreign.out" 2>&1
rc=$?
[ $rc -eq 2 ] || { cat "$tmp/foreign.out"; fail "tools/submit with a foreign --db: exit $rc, expected 2"; }
cmp -s "$tmp/foreign.db" "$tmp/foreign.orig" || fail "the foreign database was modified"
queue_empty || fail "tools/submit with a foreign --db queued a job"
"$here/tools/submit" "$tmp/ok.sweep" --db "$tmp/ok.db" --dry-run >"$tmp/dry.out" 2>&1 ||
  { cat "$tmp/dry.out"; fail "tools/submit --dry-run failed"; }
grep -q 'sbatch .*--dependency=singleton' "$tmp/dry.out" || fail "--dry-run printed no sbatch command"
# Every cluster option reaches the sbatch line (or, for mail and setup, the
# allocation's environment).
"$here/tools/submit" "$tmp/ok.sweep" --db "$tmp/ok.db" --dry-run --time 1-02:03:04 --mem 4G \
  --account proj42 --qos short --partition part1 --constraint avx512 --mail-user a@b.org \
  --mail-type FAIL --setup 'module load openmpi' >"$tmp/dry2.out" 2>&1 ||
  { cat "$tmp/dry2.out"; fail "tools/submit --dry-run with every option failed"; }
for want in --time=1-02:03:04 --mem=4G --account=proj42 --qos=short --partition=part1 \
            --constraint=avx512 RNNSWEEP_MAIL_USER=a@b.org RNNSWEEP_MAIL_TYPE=FAIL \
            'RNNSWEEP_SETUP=module\\ load\\ openmpi'; do
  grep -q -- "$want" "$tmp/dry2.out" || { cat "$tmp/dry2.out"; fail "--dry-run does not show $want"; }
done
"$here/tools/submit" "$tmp/ok.sweep" --db "$tmp/ok.db" --dry-run --mem-per-cpu 500M >"$tmp/dry3.out" 2>&1 &&
  grep -q -- --mem-per-cpu=500M "$tmp/dry3.out" || fail "--dry-run does not show --mem-per-cpu"
for badopt in "--time 25:99:00" "--time abc" "--mem 4Q" "--mail-type END" "--mem 1G --mem-per-cpu 1G"; do
  # shellcheck disable=SC2086
  "$here/tools/submit" "$tmp/ok.sweep" --db "$tmp/ok.db" --dry-run $badopt >"$tmp/bad.out" 2>&1
  rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/bad.out")" -eq 1 ] ||
    { cat "$tmp/bad.out"; fail "tools/submit $badopt: exit $rc, expected 2 with one line"; }
done
queue_empty && [ ! -e "$tmp/ok.db" ] || fail "--dry-run queued a job or created the database"
say "(c) ok"

# --- calibration: iterations for ~24 s of training per job -------------------
# Two runs, so start-up and the Lyapunov measurements cancel out of the rate.
timed_train() {   # timed_train ITERS: prints the wall seconds of one job
  local a b
  a=$(date +%s.%N)
  "$bin" train --task romo --rule bptt --hidden 128 --iters "$1" --log-every 100 >/dev/null 2>"$tmp/calib.err" ||
    { cat "$tmp/calib.err"; fail "rnnsweep train failed"; }
  b=$(date +%s.%N)
  awk -v a="$a" -v b="$b" 'BEGIN { print b - a }'
}
c1=$(timed_train 100)
c2=$(timed_train 500)
iters=$(awk -v a="$c1" -v b="$c2" 'BEGIN { d = b - a; if (d < 0.01) d = 0.01
  n = int(400 / d * 24 / 10) * 10; if (n < 200) n = 200; print n }')
say "calibration: 100 iterations in ${c1}s, 500 in ${c2}s -> iters = $iters per job (~24 s)"

# check_complete DB ITERS: every job done once with a complete curve.
check_complete() {
  local db=$1 it=$2 total done bad
  total=$(q "$db" "select count(*) from jobs")
  done=$(q "$db" "select count(*) from jobs where status = 'done'")
  [ "$total" -gt 0 ] && [ "$done" = "$total" ] ||
    fail "$db: $done of $total jobs done ($(q "$db" "select group_concat(status || ' ' || n) from (select status, count(*) n from jobs group by status)"))"
  bad=$(q "$db" "select count(*) from jobs where attempts != 1")
  [ "$bad" = 0 ] || fail "$db: $bad job(s) with attempts != 1: $(q "$db" "select group_concat(id || ':' || attempts) from jobs where attempts != 1")"
  # Rows 0, 10, ..., iters (iters is a multiple of 10): count, range, spacing.
  bad=$(q "$db" "select count(*) from jobs j where
        (select count(*) from curves c where c.job_id = j.id) != $it / 10 + 1 or
        (select min(iter) from curves c where c.job_id = j.id) != 0 or
        (select max(iter) from curves c where c.job_id = j.id) != $it or
        (select count(*) from curves c where c.job_id = j.id and c.iter % 10 != 0) != 0")
  [ "$bad" = 0 ] || fail "$db: $bad job(s) with an incomplete curve: $(q "$db" "select group_concat(job_id || ':' || n || ' rows ' || lo || '..' || hi, ', ') from (select job_id, count(*) n, min(iter) lo, max(iter) hi from curves group by job_id)")"
}

# --- (a) time limits: a chain of allocations completes the sweep ---------------
say "(a) 12 jobs x $iters iterations on 2 ranks, 1-minute time limit"
cat > "$tmp/a.sweep" <<EOF
# tests/test_slurm.sh (a): more compute than one 1-minute allocation holds
task = romo
rule = bptt
hidden = 128
seed = 1..12
iters = $iters
log_every = 10
EOF
"$here/tools/submit" "$tmp/a.sweep" --db "$tmp/a.db" --ntasks 2 --time 00:01:00 --signal-lead 10 \
  --name rs-test-a --progress 10 --mail-user rnnsweep-test@localhost \
  --setup "echo \$SLURM_JOB_ID >> $tmp/setup-ran" >"$tmp/submit-a.out" 2>&1 ||
  { cat "$tmp/submit-a.out"; fail "tools/submit (a) failed"; }
grep -q '^submitted: SLURM job [0-9]' "$tmp/submit-a.out" || { cat "$tmp/submit-a.out"; fail "no job id printed"; }
wait_chain rs-test-a 720 "$tmp/a.db"
loga=$tmp/rs-test-a.log
grep -q 'sweep complete' "$loga" || fail "(a) the chain ended without 'sweep complete'"
launches=$(grep -c '): launch: ' "$loga")
allocs=$(grep 'Name=rs-test-a ' "$jobcomp" | grep -vc 'JobState=CANCELLED')
runs=$(q "$tmp/a.db" "select count(*) from runs")
warned=$(grep -c 'SIGUSR1: time limit near' "$loga")
say "(a) $allocs allocations ($launches launches, $warned warned), $runs runs rows"
[ "$allocs" -ge 3 ] || fail "(a) only $allocs allocation(s): the sweep did not cross time limits"
[ "$launches" = "$allocs" ] || fail "(a) $launches launches in the log, $allocs allocations in SLURM's record"
[ "$runs" = "$allocs" ] || fail "(a) $runs runs rows for $allocs allocations"
[ "$warned" -ge 2 ] || fail "(a) the time-limit warning reached only $warned allocation(s)"
ids=$(grep 'Name=rs-test-a ' "$jobcomp" | grep -v 'JobState=CANCELLED' | sed 's/^JobId=\([0-9]*\).*/\1/' | sort -n | tr '\n' ' ')
rids=$(q "$tmp/a.db" "select slurm_job from runs order by id" | tr '\n' ' ')
[ "$ids" = "$rids" ] || fail "(a) runs.slurm_job ($rids) are not the allocations' job ids ($ids)"
check_complete "$tmp/a.db" "$iters"
queue_empty || fail "(a) jobs left in the queue"
setups=$(sort -u "$tmp/setup-ran" | tr '\n' ' ')
[ "$setups" = "$(echo "$ids" | tr ' ' '\n' | grep . | sort -u | tr '\n' ' ')" ] ||
  fail "(a) --setup ran in allocations $setups, expected every allocation: $ids"
mails=$(grep -c 'SLURM mails rnnsweep-test@localhost' "$loga")
[ "$mails" = 1 ] || fail "(a) the chain asked for mail $mails time(s), expected once at its end"
say "(a) ok"

# --- (b) scancel mid-job, then resubmit ----------------------------------------
say "(b) 4 jobs x $iters iterations, cancelled mid-job, resubmitted"
sed -e 's/^seed = .*/seed = 21..24/' -e 's/^# .*/# tests\/test_slurm.sh (b)/' "$tmp/a.sweep" > "$tmp/b.sweep"
subb=("$here/tools/submit" "$tmp/b.sweep" --db "$tmp/b.db" --ntasks 2 --time 10 --name rs-test-b)
"${subb[@]}" >"$tmp/submit-b1.out" 2>&1 || { cat "$tmp/submit-b1.out"; fail "tools/submit (b) failed"; }
# Midway: the first two jobs done, the next two a few seconds into training.
t0=$SECONDS
until [ -f "$tmp/b.db" ] && [ "$(q "$tmp/b.db" "select count(*) from jobs where status = 'done'" 2>/dev/null)" -ge 1 ] 2>/dev/null; do
  [ $((SECONDS - t0)) -lt 180 ] || fail "(b) no job done after 180 s"
  [ -n "$(squeue -h -n rs-test-b -o %i)" ] || fail "(b) the job ended before it could be cancelled"
  sleep 1
done
sleep 6
scancel -n rs-test-b
say "(b) cancelled"
wait_chain rs-test-b 60
logb=$tmp/rs-test-b.log
grep -q 'not chaining' "$logb" || fail "(b) no 'not chaining' after scancel"
grep -q 'queued allocation' "$logb" && fail "(b) scancel queued a successor"
doneb=$(q "$tmp/b.db" "select count(*) from jobs where status = 'done'")
ckpt=$(q "$tmp/b.db" "select group_concat(job_id) from checkpoints")
say "(b) after scancel: $doneb of 4 done, checkpoints for job(s) ${ckpt:-none}"
[ "$doneb" -lt 4 ] || fail "(b) all jobs done before the cancel: not midway"
[ -n "$ckpt" ] || fail "(b) no checkpoint saved on scancel (SIGTERM)"
running=$(q "$tmp/b.db" "select count(*) from jobs where status = 'running'")
[ "$running" = 0 ] || fail "(b) $running job(s) left running after SIGTERM (checkpoint not within KillWait?)"
seed=$(q "$tmp/b.db" "select seed from jobs where id = ${ckpt%%,*}")

"${subb[@]}" >"$tmp/submit-b2.out" 2>&1 || { cat "$tmp/submit-b2.out"; fail "tools/submit (b) resubmit failed"; }
wait_chain rs-test-b 300 "$tmp/b.db"
grep -q 'sweep complete' "$logb" || fail "(b) the resubmitted sweep did not complete"
runs=$(q "$tmp/b.db" "select count(*) from runs")
[ "$runs" = 2 ] || fail "(b) $runs runs rows, expected 2"
check_complete "$tmp/b.db" "$iters"
[ "$(q "$tmp/b.db" "select count(*) from checkpoints")" = 0 ] || fail "(b) checkpoints left after completion"

# The interrupted job's curve equals an uninterrupted run of the same job.
"$bin" train --task romo --rule bptt --hidden 128 --seed "$seed" --iters "$iters" --log-every 10 \
  >"$tmp/train.csv" 2>"$tmp/train.err" || { cat "$tmp/train.err"; fail "rnnsweep train (reference) failed"; }
python3 - "$tmp/b.db" "${ckpt%%,*}" "$tmp/train.csv" <<'PY' || fail "(b) resumed curve differs from an uninterrupted run"
import sqlite3, sys
db, job, csv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = sqlite3.connect(db).execute(
    "select iter, loss from curves where job_id = ? order by iter", (job,)).fetchall()
ref = [l.split(",") for l in open(csv) if l.strip() and l[0].isdigit()]
got = [(str(i), "%.10g" % loss) for i, loss in rows]
want = [(r[0], r[1]) for r in ref]
if got != want:
    bad = [(g, w) for g, w in zip(got, want) if g != w][:3]
    print(f"job {job}: {len(got)} rows vs {len(want)} reference rows; first differences {bad}")
    sys.exit(1)
print(f"job {job}: {len(got)} curve rows equal to the uninterrupted run")
PY
say "(b) ok"

say "all SLURM tests passed"
exit 0
