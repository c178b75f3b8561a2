#!/usr/bin/python3
"""test_cli.py — the rnnsweep command line end to end, against NumPy.

Runs the real binary: help texts, every bad-input case (exit code 2, a
one-line message naming the option, no output directory left behind), --out
replacing only an earlier dump of ours (never user files, a symlink, a
subdirectory; the mode kept), values never cut and -0 read as 0, a FIFO or
device as the sweep file refused at once, the
SPEC §6 dumps (file names, shapes, dtypes, config.txt), and recomputes the
dumped numbers independently in NumPy: forward pass, loss, BPTT gradient by
finite differences of the NumPy loss, and the Lyapunov exponents by a NumPy
QR iteration.  Usage: test_cli.py PATH/TO/rnnsweep
"""
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time

import numpy as np
from harness import check, failure_count, ENV  # noqa: E402

EXE = sys.argv[1]


def run(*args, **kw):
    return subprocess.run([EXE, *args], capture_output=True, text=True, **kw)


def load(d, name):
    return np.load(os.path.join(d, name))


def config_of(d):
    return dict(l.split("=", 1) for l in open(os.path.join(d, "config.txt")).read().split())


# ---- help -----------------------------------------------------------------
r = run("--help")
check("rnnsweep --help exits 0 and lists commands", r.returncode == 0 and "gradient" in r.stdout)
r = run("train", "--help")
keys = ["task", "rule", "gain", "lr", "seed", "hidden", "batch", "iters", "alpha", "activation",
        "log-every", "floss-iters", "floss-lr", "floss-k", "floss-mode", "floss-every", "lyap-k",
        "lyap-warmup", "lyap-every-qr", "lyap-every"]
missing = [k for k in keys if "--" + k not in r.stdout]
check("train --help documents every job option", r.returncode == 0 and not missing, str(missing))
for cmd in ("task", "gradient", "lyap"):
    r = run(cmd, "--help")
    check(f"{cmd} --help documents --out", r.returncode == 0 and "--out" in r.stdout)

# ---- bad input --------------------------------------------------------------
tmp = tempfile.mkdtemp(prefix="rnnsweep-cli-")
out = os.path.join(tmp, "out")
nonempty = os.path.join(tmp, "nonempty")
os.mkdir(nonempty)
open(os.path.join(nonempty, "keep"), "w").write("x")
bad = [
    (["train", "--hidden", "-5"], "hidden"),
    (["train", "--hidden", "0"], "hidden"),
    (["train", "--batch", "0"], "batch"),
    (["train", "--iters", "-1"], "iters"),
    (["train", "--gain", "nan"], "gain"),
    (["train", "--lr", "inf"], "lr"),
    (["train", "--lr", "0"], "lr"),
    (["train", "--lr", "abc"], "lr"),
    (["train", "--gain", "1.5x"], "gain"),
    (["train", "--iters", "1.5"], "iters"),
    (["train", "--task", "foo"], "task"),
    (["train", "--rule", "backprop"], "rule"),
    (["train", "--activation", "sigmoid"], "activation"),
    (["train", "--floss-mode", "global"], "floss-mode"),
    (["train", "--bogus", "1"], "bogus"),
    (["train", "--hidden"], "hidden"),
    (["train", "--alpha", "1.5"], "alpha"),
    (["train", "--lyap-k", "0"], "lyap-k"),
    (["train", "--lyap-k", "20", "--hidden", "10"], "lyap-k"),
    (["train", "--floss-k", "20", "--hidden", "10"], "floss-k"),
    (["train", "stray"], "stray"),
    (["lyap", "--lyap-warmup", "56", "--out", out], "lyap-warmup"),
    (["lyap", "--autonomous", "--steps", "10", "--lyap-warmup", "10", "--out", out], "lyap-warmup"),
    (["lyap", "--autonomous", "--steps", "-3", "--out", out], "steps"),
    (["lyap", "--steps", "30", "--out", out], "steps"),
    (["gradient", "--objective", "foo", "--out", out], "objective"),
    (["gradient", "--hidden", "nan", "--out", out], "hidden"),
    (["task", "--batch", "-2", "--out", out], "batch"),
    (["task"], "out"),
    (["task", "--out", "/proc/rnnsweep-cannot-write/x"], "out"),
    (["task", "--out", nonempty], "out"),
    (["frobnicate"], "frobnicate"),
]
for args, name in bad:
    r = run(*args)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode == 2 and len(lines) == 1 and name in lines[0] and not os.path.exists(out)
          and r.stdout.strip() in ("", "iter,loss,accuracy"))
    check("bad input exits 2 naming '%s': %s" % (name, " ".join(args[:4])), ok,
          f"rc={r.returncode} stderr={r.stderr.strip()!r}")
check("a refused dump leaves the non-empty directory alone",
      os.listdir(nonempty) == ["keep"] and not [f for f in os.listdir(tmp) if ".tmp." in f])

# ---- --out replaces only an earlier dump of ours (issue 9 case 1) -----------


def snapshot(d):
    """Every path under d: type, mode and content (symlinks not followed)."""
    res = {}
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            body = (open(p, "rb").read() if stat.S_ISREG(st.st_mode)
                    else os.readlink(p) if stat.S_ISLNK(st.st_mode) else None)
            res[os.path.relpath(p, d)] = (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, body)
    return res


def leftovers(parent):
    return [f for f in os.listdir(parent) if ".tmp." in f]


def refused(what, args, target, guard=None):
    """args must exit 2 with one line naming --out and change nothing under guard."""
    guard = guard or target
    before = snapshot(guard)
    kind = os.lstat(target).st_mode if os.path.lexists(target) else None
    r = run(*args, env=ENV)
    lines = r.stderr.strip().splitlines()
    ok = (r.returncode == 2 and len(lines) == 1 and "--out" in lines[0] and snapshot(guard) == before
          and (os.lstat(target).st_mode if os.path.lexists(target) else None) == kind
          and not leftovers(os.path.dirname(target.rstrip("/"))))
    check(what, ok, f"rc={r.returncode} stderr={r.stderr.strip()!r}")


dd = os.path.join(tmp, "dumps")
os.mkdir(dd)
sweep_ini = os.path.join(dd, "one.ini")
open(sweep_ini, "w").write("iters = 1\nhidden = 4\nbatch = 2\nlyap_k = 1\n")
db = os.path.join(dd, "one.db")
r = run("sweep", sweep_ini, "--db", db, "--progress", "0", env=ENV)
check("a one-job sweep for export", r.returncode == 0, r.stderr[-300:])
DUMPS = {"task": ["task", "--task", "2af", "--batch", "2"],
         "gradient": ["gradient", "--hidden", "4", "--batch", "2"],
         "lyap": ["lyap", "--hidden", "4", "--batch", "2", "--lyap-k", "1"],
         "export": ["export", "--db", db, "--job", "1"]}
for cmd, args in DUMPS.items():
    p = os.path.join(dd, "p-" + cmd)
    os.mkdir(p)
    open(os.path.join(p, "notes.txt"), "w").write("x\n")
    open(os.path.join(p, "config.txt"), "w").write("a=1\n")
    refused(f"{cmd} --out: a directory with config.txt and notes.txt is left alone (exit 2)",
            args + ["--out", p], p)
    fresh = os.path.join(dd, "fresh-" + cmd)
    r = run(*args, "--out", fresh, env=ENV)
    marker = os.path.join(fresh, ".rnnsweep-dump")
    check(f"{cmd} --out: a new dump holds the .rnnsweep-dump marker",
          r.returncode == 0 and os.path.exists(marker)
          and open(marker).read().startswith("rnnsweep dump, format "), r.stderr)
    r = run(*args, "--out", fresh, env=ENV)
    check(f"{cmd} --out: a second dump into an earlier dump replaces it",
          r.returncode == 0 and os.path.exists(marker) and not leftovers(dd), r.stderr)

task2 = DUMPS["task"]
earlier = os.path.join(dd, "earlier")
r = run(*task2, "--out", earlier)
link = os.path.join(dd, "link")
os.symlink("earlier", link)
refused("task --out LINK (to an earlier dump) does not follow the symlink", task2 + ["--out", link],
        link, earlier)
refused("task --out LINK/ does not follow the symlink either", task2 + ["--out", link + "/"], link,
        earlier)
os.mkdir(os.path.join(earlier, "sub"))
open(os.path.join(earlier, "sub", "data"), "w").write("keep")
refused("task --out: an earlier dump with a subdirectory is left alone", task2 + ["--out", earlier],
        earlier)
os.remove(os.path.join(earlier, "sub", "data"))
os.rmdir(os.path.join(earlier, "sub"))
victim = os.path.join(dd, "victim.txt")
open(victim, "w").write("victim")
os.symlink(victim, os.path.join(earlier, "y.npy"))
refused("task --out: an earlier dump holding a symlink is left alone (its target too)",
        task2 + ["--out", earlier], earlier)
check("the symlink's target is untouched", open(victim).read() == "victim")
os.remove(os.path.join(earlier, "y.npy"))
if os.path.exists(os.path.join(earlier, ".rnnsweep-dump")):
    os.remove(os.path.join(earlier, ".rnnsweep-dump"))
refused("task --out: dump files without the marker are left alone", task2 + ["--out", earlier],
        earlier)
open(os.path.join(earlier, ".rnnsweep-dump"), "w").write("something else\n")
refused("task --out: a marker without our format line is not ours", task2 + ["--out", earlier],
        earlier)
open(os.path.join(earlier, ".rnnsweep-dump"), "w").write("rnnsweep dump, format 1\n")
plain = os.path.join(dd, "plain-file")
open(plain, "w").write("plain")
refused("task --out FILE is left alone", task2 + ["--out", plain], plain)

os.chmod(earlier, 0o750)
r = run("task", "--task", "romo", "--batch", "2", "--out", earlier)
names = sorted(os.listdir(earlier))
check("task --out: replacing an earlier dump keeps the directory's mode (0750)",
      r.returncode == 0 and stat.S_IMODE(os.lstat(earlier).st_mode) == 0o750, oct(os.lstat(earlier).st_mode))
check("task --out: the replaced dump's files are gone (2af labels.npy -> romo target.npy)",
      "labels.npy" not in names and "target.npy" in names and not leftovers(dd), str(names))
os.chmod(earlier, 0o555)
r = run(*task2, "--out", earlier)
check("task --out: a read-only (0555) earlier dump is replaced and stays 0555",
      r.returncode == 0 and stat.S_IMODE(os.lstat(earlier).st_mode) == 0o555
      and "labels.npy" in os.listdir(earlier) and not leftovers(dd), r.stderr.strip())
os.chmod(earlier, 0o755)
r = subprocess.run([os.path.abspath(EXE), *task2, "--out", "."], cwd=earlier, capture_output=True,
                   text=True)
check("task --out . is refused (exit 2), the directory left as it was",
      r.returncode == 2 and "x.npy" in os.listdir(earlier) and not leftovers(earlier), r.stderr.strip())
empty = os.path.join(dd, "empty")
os.mkdir(empty, 0o700)
os.chmod(empty, 0o711)
r = run(*task2, "--out", empty)
check("task --out: an empty directory is filled and keeps its mode (0711)",
      r.returncode == 0 and stat.S_IMODE(os.lstat(empty).st_mode) == 0o711
      and "x.npy" in os.listdir(empty))
mask = os.umask(0o022)
os.umask(mask)
newdir = os.path.join(dd, "new")
r = run(*task2, "--out", newdir)
check("task --out: a new directory gets the umask's mode, like mkdir",
      r.returncode == 0 and stat.S_IMODE(os.lstat(newdir).st_mode) == 0o777 & ~mask)

# A status outside the table (forced past the CHECK constraint) must not be an index.
c = sqlite3.connect(db)
c.execute("PRAGMA ignore_check_constraints = ON")
c.execute("UPDATE jobs SET status = 'bogus' WHERE id = 1")
c.execute("DELETE FROM weights WHERE job_id = 1")
c.commit()
c.close()
r = run("export", "--db", db, "--job", "1", "--out", os.path.join(dd, "bogus"))
check("export of a job with an unknown status: no crash ('status unknown' or refused)",
      r.returncode == 2 or (r.returncode == 0 and "status unknown" in r.stderr), r.stderr.strip())

# ---- values: nothing cut, -0 is 0 (issue 9 cases 15 and 16) ------------------
zeros = "0" * 130
r = run("task", "--seed", zeros + "5", "--out", os.path.join(dd, "seed130"))
check("--seed with a 131-character value is refused, not cut to seed 0",
      r.returncode == 2 and "--seed" in r.stderr and "127" in r.stderr
      and not os.path.exists(os.path.join(dd, "seed130")), r.stderr.strip())
d = os.path.join(dd, "seed127")
r = run("task", "--seed", zeros[:126] + "5", "--batch", "2", "--out", d)
check("--seed with a 127-character value is read whole (seed 5)",
      r.returncode == 0 and os.path.isdir(d) and config_of(d)["seed"] == "5", r.stderr.strip())
r = run("task", "--gain", "1", "--bogus-" + "x" * 100, "1")
check("an unknown option of 106 characters is named whole",
      r.returncode == 2 and "--bogus-" + "x" * 100 + " " in r.stderr, r.stderr.strip())
d = os.path.join(dd, "negzero")
r = run("task", "--gain", "-0", "--batch", "2", "--out", d)
check("--gain -0 is gain 0 in config.txt", r.returncode == 0 and config_of(d)["gain"] == "0",
      r.stderr.strip())
ini = os.path.join(dd, "negzero.ini")
open(ini, "w").write("gain = 0, -0\n")
r = run("sweep", ini, "--db", os.path.join(dd, "nz.db"), "--check")
check("sweep --check: gain = 0, -0 is one job", r.returncode == 0 and ": 1 jobs" in r.stdout, r.stdout)

# ---- special files as the sweep file (issue 9 case 17) ------------------------
fifo = os.path.join(dd, "fifo.ini")
os.mkfifo(fifo)
for extra in (["--check"], []):
    try:
        t0 = time.monotonic()
        r = run("sweep", fifo, "--db", os.path.join(dd, "fifo.db"), *extra, env=ENV, timeout=60)
        ok = (r.returncode == 2 and "a FIFO, not a regular file" in r.stderr
              and len(r.stderr.strip().splitlines()) == 1 and not os.path.exists(os.path.join(dd, "fifo.db")))
        detail = f"rc={r.returncode} {time.monotonic() - t0:.2f} s {r.stderr.strip()!r}"
    except subprocess.TimeoutExpired:
        ok, detail = False, "hung for 60 s"
    check(f"sweep FIFO {' '.join(extra)}: refused at once with exit 2", ok, detail)
r = run("sweep", "/dev/zero", "--db", os.path.join(dd, "zero.db"), "--check", timeout=60)
check("sweep /dev/zero --check: refused (a character device)",
      r.returncode == 2 and "character device" in r.stderr, r.stderr.strip())

# ---- numpy reference ------------------------------------------------------


def act_fn(cfg):
    if cfg["activation"] == "tanh":
        return np.tanh
    return lambda h: np.maximum(h, 0.0)


def forward(P, x, cfg):
    """y (T,B,O) and h (T+1,B,N) of SPEC §1."""
    f, a = act_fn(cfg), float(cfg["alpha"])
    T, B, _ = x.shape
    N = P["W_rec"].shape[0]
    h = np.zeros((T + 1, B, N))
    for t in range(1, T + 1):
        h[t] = (1 - a) * h[t - 1] + a * (f(h[t - 1]) @ P["W_rec"].T + x[t - 1] @ P["W_in"].T + P["b"])
    y = f(h[1:]) @ P["W_out"].T + P["b_out"]
    return y, h


def loss_np(P, d, cfg):
    x = load(d, "x.npy")
    y, _ = forward(P, x, cfg)
    m = load(d, "mask.npy")
    if cfg["task"] == "romo":
        tg = load(d, "target.npy")
        return (m[..., None] * (y - tg) ** 2).sum() / (2 * m.sum())
    lab = load(d, "labels.npy")
    z = y - y.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, lab[..., None], -1)[..., 0]
    return (m * ce).sum() / m.sum()


NAMES = ["W_in", "W_rec", "b", "W_out", "b_out"]

# ---- task dumps -----------------------------------------------------------
for task, (T, I, O) in {"romo": (56, 1, 2), "2af": (22, 3, 3), "dms": (32, 3, 3)}.items():
    d = os.path.join(tmp, "task-" + task)
    r = run("task", "--task", task, "--batch", "5", "--seed", "3", "--out", d)
    x, m = load(d, "x.npy"), load(d, "mask.npy")
    ok = r.returncode == 0 and x.shape == (T, 5, I) and m.shape == (T, 5) and x.dtype == "<f8"
    if task == "romo":
        tg = load(d, "target.npy")
        ok = ok and tg.shape == (T, 5, O) and not os.path.exists(os.path.join(d, "labels.npy"))
    else:
        lab = load(d, "labels.npy")
        ok = ok and lab.shape == (T, 5) and lab.dtype == "<i8" and lab.max() <= O - 1
    cfg = config_of(d)
    ok = ok and cfg["task"] == task and cfg["batch"] == "5" and cfg["alpha"] == "0.5"
    check(f"task dump {task}: files, shapes, dtypes, config.txt", ok, r.stderr.strip())
    r2 = run("task", "--task", task, "--batch", "5", "--seed", "3", "--out", d)
    check(f"task dump {task}: rerun replaces an earlier dump with the same batch",
          r2.returncode == 0 and np.array_equal(load(d, "x.npy"), x))

# ---- gradient dumps, checked in numpy --------------------------------------
for task in ("romo", "2af", "dms"):
    for rule in ("bptt", "eprop", "rflo"):
        for act in ("tanh", "relu") if rule == "bptt" else ("tanh",):
            d = os.path.join(tmp, f"grad-{task}-{rule}-{act}")
            r = run("gradient", "--task", task, "--rule", rule, "--activation", act,
                    "--hidden", "8", "--batch", "3", "--gain", "1.3", "--out", d)
            if r.returncode != 0:
                check(f"gradient dump {task} {rule} {act}", False, r.stderr)
                continue
            cfg = config_of(d)
            P = {n: load(d, n + ".npy") for n in NAMES}
            G = {n: load(d, "grad_" + n + ".npy") for n in NAMES}
            y, _ = forward(P, load(d, "x.npy"), cfg)
            L = loss_np(P, d, cfg)
            ok = (np.abs(y - load(d, "y.npy")).max() < 1e-12 and load(d, "loss.npy").shape == ()
                  and abs(L - load(d, "loss.npy")) < 1e-12 * max(1, abs(L))
                  and all(G[n].shape == P[n].shape for n in NAMES)
                  and P["W_in"].shape == (8, {"romo": 1}.get(task, 3)) and P["b"].shape == (8,)
                  and os.path.exists(os.path.join(d, "B_fb.npy")) == (rule == "rflo")
                  and cfg["objective"] == "task" and cfg["rule"] == rule)
            check(f"gradient dump {task} {rule} {act}: files, shapes, y and loss == numpy", ok)
            if rule != "bptt":
                continue
            # Central differences of the numpy loss, every element (N=8: a few hundred).
            # relu is smooth only between kinks: a difference whose +-eps runs put a
            # unit on the other side of 0 is redone with a smaller step.  Romo starts
            # with zero input and b = 0, so units sit exactly at relu's kink (h = 0)
            # where the loss has no derivative: such elements are left out (the C
            # test checks relu with nonzero biases).
            base_sign = forward(P, load(d, "x.npy"), cfg)[1] > 0
            worst, at_kink = 0.0, 0
            for n in NAMES:
                fd = np.zeros_like(P[n])
                skip = np.zeros(P[n].shape, bool)
                for idx in np.ndindex(P[n].shape):
                    keep = P[n][idx]
                    for eps in (1e-6, 1e-7, 1e-8):
                        vals, same = [], True
                        for s in (1, -1):
                            P[n][idx] = keep + s * eps
                            vals.append(loss_np(P, d, cfg))
                            if act == "relu":
                                same &= np.array_equal(forward(P, load(d, "x.npy"), cfg)[1] > 0, base_sign)
                        fd[idx] = (vals[0] - vals[1]) / (2 * eps)
                        if same:
                            break
                    skip[idx] = not same
                    P[n][idx] = keep
                at_kink += skip.sum()
                fd[skip] = G[n][skip]
                scale = max(np.linalg.norm(fd), np.linalg.norm(G[n]), 1e-300)
                worst = max(worst, np.linalg.norm(fd - G[n]) / scale)
            total = sum(P[n].size for n in NAMES)
            check(f"gradient dump {task} bptt {act}: grad == numpy finite differences", worst < 1e-6
                  and at_kink < total / 4, f"worst rel err {worst:.2e}, {at_kink} of {total} at a kink")

# ---- the readout control's dump: zeros where it does not reach, BPTT's readout gradient
for task in ("romo", "2af", "dms"):
    d = os.path.join(tmp, f"grad-{task}-readout")
    r = run("gradient", "--task", task, "--rule", "readout", "--hidden", "8", "--batch", "3",
            "--gain", "1.3", "--out", d)
    ref = os.path.join(tmp, f"grad-{task}-bptt-tanh")
    ok = r.returncode == 0 and config_of(d)["rule"] == "readout"
    if ok:
        G = {n: load(d, "grad_" + n + ".npy") for n in NAMES}
        R = {n: load(ref, "grad_" + n + ".npy") for n in NAMES}
        ok = (all(not G[n].any() for n in ("W_in", "W_rec", "b"))
              and all(np.abs(G[n] - R[n]).max() <= 1e-14 * max(1, np.abs(R[n]).max()) for n in ("W_out", "b_out"))
              and np.abs(G["W_out"]).max() > 0)
    check(f"gradient --rule readout {task}: W_in, W_rec, b gradients exactly 0, readout's == bptt's",
          ok, r.stderr[-200:])

# ---- lyap dumps, checked in numpy ------------------------------------------


def lyap_np(P, h, Q0, cfg, warmup=0):
    """Per-trial QR exponents along the states h (T+1,B,N)."""
    a = float(cfg["alpha"])
    fp = (lambda v: 1 - np.tanh(v) ** 2) if cfg["activation"] == "tanh" else (lambda v: (v > 0) * 1.0)
    T1, B, N = h.shape
    k = Q0.shape[1]
    lam = np.zeros((B, k))
    for b in range(B):
        Q = Q0.copy()
        for t in range(1, T1):
            J = (1 - a) * np.eye(N) + a * P["W_rec"] * fp(h[t - 1, b])[None, :]
            Q, R = np.linalg.qr(J @ Q)
            if t > warmup:
                lam[b] += np.log(np.abs(np.diag(R)))
    return lam / (T1 - 1 - warmup)


d = os.path.join(tmp, "lyap-driven")
r = run("lyap", "--hidden", "20", "--batch", "3", "--gain", "1.8", "--lyap-k", "5", "--out", d)
if r.returncode == 0:
    cfg = config_of(d)
    P = {n: load(d, n + ".npy") for n in NAMES}
    Q0, lam, x = load(d, "Q0.npy"), load(d, "lyap.npy"), load(d, "x.npy")
    _, h = forward(P, x, cfg)
    ref = lyap_np(P, h, Q0, cfg)
    ok = (Q0.shape == (20, 5) and lam.shape == (3, 5) and np.abs(Q0.T @ Q0 - np.eye(5)).max() < 1e-12
          and all(k in cfg for k in ("lyap_k", "lyap_warmup", "alpha", "activation")))
    check("lyap dump (driven): files, shapes, orthonormal Q0, config.txt", ok)
    check("lyap dump (driven) == numpy QR iteration", np.abs(lam - ref).max() < 1e-10,
          f"max diff {np.abs(lam - ref).max():.2e}")
else:
    check("lyap dump (driven)", False, r.stderr)

d = os.path.join(tmp, "lyap-auto")
r = run("lyap", "--autonomous", "--steps", "300", "--hidden", "20", "--batch", "2", "--gain", "2",
        "--lyap-k", "3", "--lyap-warmup", "50", "--out", d)
if r.returncode == 0:
    cfg = config_of(d)
    P = {n: load(d, n + ".npy") for n in NAMES}
    h0, x = load(d, "h0.npy"), load(d, "x.npy")
    a, f = float(cfg["alpha"]), act_fn(cfg)
    h = np.zeros((301, 2, 20))
    h[0] = h0
    for t in range(1, 301):
        h[t] = (1 - a) * h[t - 1] + a * (f(h[t - 1]) @ P["W_rec"].T + P["b"])
    ref = lyap_np(P, h, load(d, "Q0.npy"), cfg, warmup=50)
    lam = load(d, "lyap.npy")
    ok = h0.shape == (2, 20) and x.shape == (300, 2, 1) and not x.any() and lam.shape == (2, 3)
    check("lyap dump (autonomous): h0.npy, zero x.npy, shapes", ok)
    check("lyap dump (autonomous) == numpy QR iteration", np.abs(lam - ref).max() < 1e-9,
          f"max diff {np.abs(lam - ref).max():.2e}")
else:
    check("lyap dump (autonomous)", False, r.stderr)

d = os.path.join(tmp, "grad-floss")
r = run("gradient", "--objective", "floss", "--hidden", "12", "--batch", "2", "--floss-k", "3",
        "--floss-mode", "local", "--out", d)
if r.returncode == 0:
    cfg = config_of(d)
    ok = (load(d, "Q0.npy").shape == (12, 3) and load(d, "lyap.npy").shape == (2, 3)
          and cfg["objective"] == "floss" and cfg["floss_mode"] == "local"
          and all(k in cfg for k in ("floss_k", "lyap_warmup", "alpha", "activation"))
          and not load(d, "grad_W_out.npy").any())
    lam = load(d, "lyap.npy")
    ok = ok and abs(load(d, "loss.npy") - (lam ** 2).mean()) < 1e-12
    check("gradient --objective floss: Q0, lyap, F = mean lambda^2, zero readout gradient", ok)
else:
    check("gradient --objective floss", False, r.stderr)

# ---- train ----------------------------------------------------------------
r = run("train", "--iters", "20", "--log-every", "5", "--hidden", "16", "--batch", "4")
rows = r.stdout.strip().splitlines()
check("train prints the CSV curve: header, rows at 0,5,..,20",
      r.returncode == 0 and rows[0] == "iter,loss,accuracy"
      and [int(l.split(",")[0]) for l in rows[1:]] == [0, 5, 10, 15, 20], r.stderr[-300:])
check("train reports BLAS core and exponents on stderr",
      "OpenBLAS core" in r.stderr and "lyapunov init" in r.stderr and "lyapunov trained" in r.stderr)
r2 = run("train", "--iters=20", "--log_every=5", "--hidden", "16", "--batch", "4")
check("train accepts --key=value and snake_case keys; same seed, same curve",
      r2.returncode == 0 and r2.stdout == r.stdout)

r = run("train", "--iters", "10", "--hidden", "16", "--batch", "4", "--floss-iters", "5", "--floss-k", "2",
        "--floss-mode", "local", "--lyap-every", "5")
phases = [p for p in ("init", "floss", "train", "trained") if f"lyapunov {p} " in r.stderr]
check("train --floss-iters: flossing, then training; exponents at every phase",
      r.returncode == 0 and phases == ["init", "floss", "train", "trained"] and "floss 5/5" in r.stderr,
      str(phases))
for cmd in ("sweep", "status", "export", "bench"):
    r = run(cmd, "--help")
    check(f"{cmd} --help exits 0 with a usage line", r.returncode == 0 and r.stdout.startswith("usage:"))

print(f"{'FAILED' if failure_count() else 'passed'}: {failure_count()} failure(s)")
sys.exit(1 if failure_count() else 0)
