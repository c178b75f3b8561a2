#!/usr/bin/python3
"""bench_torch.py — the PyTorch reference for `rnnsweep bench`'s training rows.

The same leaky RNN (SPEC §1), float64, one thread, on romo-shaped inputs
(T=56, B=32, I=1, O=2, masked MSE), trained with torch.optim.Adam:

  bptt   plain autograd through the whole sequence;
  eprop  autograd with the recurrent input detached, W_rec f(h_{t-1}).detach()
         (SPEC §3: gradient to W_rec kept, none to h_{t-1}; the leak path kept);
  rflo   as eprop, and the readout passes dL/dy back through a fixed random
         B_fb (N,O) instead of W_out^T (the W_out gradient stays exact).

One timed iteration = a fresh random batch + forward + backward + Adam step,
as rnnsweep times task batch + rule gradient + Adam step.  Times are medians
of --reps runs of wall-clock time, each run about --seconds long.

OpenBLAS (PyTorch's BLAS on Debian) reads its core type and thread count when
it loads, so they are set here before torch is imported, the way rnnsweep's
blasenv chooses them (AVX-512 F/BW/DQ/VL -> SkylakeX, AVX2+FMA -> Haswell;
values already in the environment are kept).

With --rnnsweep-json FILE (written by `rnnsweep bench --json FILE`) the
rnnsweep times are printed next to PyTorch's with the ratio torch/rnnsweep.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def choose_blas_env():
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    core = None
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        core = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        core = "Haswell"
    if core and "OPENBLAS_CORETYPE" not in os.environ:
        os.environ["OPENBLAS_CORETYPE"] = core
    if "OPENBLAS_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


choose_blas_env()
import torch  # noqa: E402  (after the environment is set)

T, B, I, O = 56, 32, 1, 2
ALPHA = 0.5
RULES = ("bptt", "eprop", "rflo")


class Model:
    """Parameters as SPEC §1 initialises them (gain 1), float64."""

    def __init__(self, N, gen):
        f64 = torch.float64
        self.W_in = ((2 * torch.rand(N, I, dtype=f64, generator=gen) - 1) / I ** 0.5).requires_grad_()
        self.W_rec = (torch.randn(N, N, dtype=f64, generator=gen) / N ** 0.5).requires_grad_()
        self.b = torch.zeros(N, dtype=f64, requires_grad=True)
        self.W_out = ((2 * torch.rand(O, N, dtype=f64, generator=gen) - 1) / N ** 0.5).requires_grad_()
        self.b_out = torch.zeros(O, dtype=f64, requires_grad=True)
        self.B_fb = torch.randn(N, O, dtype=f64, generator=gen) / O ** 0.5

    def params(self):
        return [self.W_in, self.W_rec, self.b, self.W_out, self.b_out]

    def loss(self, rule, x, target, mask):
        """Masked MSE of SPEC §2 for x (T,B,I), target (T,B,O), mask (T,B).

        Written the way one would for speed in PyTorch: the input drive of all
        steps in one product, per step one addmm, a lerp for the leak and a
        tanh, and the readout of all steps in one product after the loop."""
        N = self.W_rec.shape[0]
        drive = (x @ self.W_in.t() + self.b).unbind(0)        # T x (B,N); unbind, not
                                                              # drive[t]: its backward is one stack
        Wt = self.W_rec.t()
        h = torch.zeros(B, N, dtype=x.dtype)
        r = torch.zeros(B, N, dtype=x.dtype)
        rs = []
        for t in range(T):
            rec = r if rule == "bptt" else r.detach()
            h = torch.lerp(h, torch.addmm(drive[t], rec, Wt), ALPHA)  # (1-a) h + a (...)
            r = torch.tanh(h)
            rs.append(r)
        R = torch.stack(rs)                                   # (T,B,N)
        if rule == "rflo":
            fb = R @ self.B_fb
            y = R.detach() @ self.W_out.t() + (fb - fb.detach()) + self.b_out
        else:
            y = R @ self.W_out.t() + self.b_out
        return (mask.unsqueeze(-1) * (y - target) ** 2).sum() / (2 * mask.sum())


def verify(rnnsweep, N=16, Bv=4):
    """The model above against rnnsweep's own gradients: for each rule, dump one
    batch, the weights and the gradient with `rnnsweep gradient`, recompute
    loss and gradient here, and return the worst norm-wise relative difference."""
    import tempfile
    import numpy as np
    global B
    worst = 0.0
    keep = B
    try:
        B = Bv
        for rule in RULES:
            with tempfile.TemporaryDirectory() as d:
                subprocess.run([rnnsweep, "gradient", "--task", "romo", "--rule", rule, "--hidden", str(N),
                                "--batch", str(Bv), "--gain", "1.5", "--seed", "7", "--out", d],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ld = lambda n: torch.from_numpy(np.load(f"{d}/{n}.npy"))
                m = Model(N, torch.Generator().manual_seed(0))
                shapes = {"W_in": (N, I), "W_rec": (N, N), "b": (N,), "W_out": (O, N), "b_out": (O,)}
                for name, shape in shapes.items():
                    setattr(m, name, ld(name).reshape(shape).clone().requires_grad_())
                if rule == "rflo":
                    m.B_fb = ld("B_fb")
                loss = m.loss(rule, ld("x"), ld("target"), ld("mask"))
                loss.backward()
                diffs = [abs(float(loss) - float(ld("loss"))) / abs(float(ld("loss")))]
                for name, shape in shapes.items():
                    g, ref = getattr(m, name).grad, ld("grad_" + name).reshape(shape)
                    diffs.append(float((g - ref).norm() / max(float(ref.norm()), 1e-300)))
                worst = max(worst, max(diffs))
    finally:
        B = keep
    return worst


def romo_like_batch(gen):
    """Random inputs with romo's shapes and a romo-like mask (values do not matter for speed)."""
    f64 = torch.float64
    x = torch.rand(T, B, I, dtype=f64, generator=gen)
    target = 0.5 * torch.rand(T, B, O, dtype=f64, generator=gen)
    mask = (torch.rand(T, B, dtype=f64, generator=gen) < 0.6).to(f64)
    return x, target, mask


def time_rule(N, rule, reps, seconds, clock):
    """Median, min and max seconds per training iteration, and iterations per run."""
    gen = torch.Generator().manual_seed(1)
    m = Model(N, gen)
    opt = torch.optim.Adam(m.params(), lr=1e-3)

    def step():
        x, target, mask = romo_like_batch(gen)
        opt.zero_grad(set_to_none=True)
        loss = m.loss(rule, x, target, mask)
        loss.backward()
        opt.step()
        return loss

    step()
    t0 = clock()
    step()
    one = clock() - t0
    calls = max(3, int(seconds / max(one, 1e-9) + 0.999))
    v = []
    for _ in range(reps):
        t0 = clock()
        for _ in range(calls):
            step()
        v.append((clock() - t0) / calls)
    return statistics.median(v), min(v), max(v), calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=7, help="runs per measurement (median reported)")
    ap.add_argument("--seconds", type=float, default=0.2, help="target length of one run")
    ap.add_argument("--quick", action="store_true", help="3 runs of ~0.05 s: a smoke test")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with this process's CPU time instead of wall time (busy machines)")
    ap.add_argument("--rnnsweep-json", metavar="FILE", help="rnnsweep bench --json output to compare with")
    ap.add_argument("--json", metavar="FILE", help="write PyTorch's times as JSON to FILE")
    ap.add_argument("--verify-with", metavar="RNNSWEEP",
                    help="first check this model's loss and gradients against `RNNSWEEP gradient`")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.seconds = 3, 0.05
    if a.reps < 1 or not a.seconds > 0:
        ap.error("--reps must be >= 1 and --seconds > 0")
    torch.set_num_threads(1)

    clock = time.process_time if a.cpu_time else time.perf_counter
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ours = {}
    if a.rnnsweep_json:
        with open(a.rnnsweep_json) as f:
            for row in json.load(f)["train"]:
                ours[(row["N"], row["rule"])] = row["ms"]

    print(f"PyTorch {torch.__version__}: float64, {torch.get_num_threads()} thread(s), "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}; "
          f"medians of {a.reps} runs of ~{a.seconds:g} s ({'CPU' if a.cpu_time else 'wall'} time)")
    if a.verify_with:
        try:
            worst = verify(a.verify_with)
        except (OSError, subprocess.CalledProcessError, ValueError) as e:
            print(f"bench_torch.py: cannot check the model against {a.verify_with}: {e}", file=sys.stderr)
            return 1
        print(f"same model: loss and gradients of every rule agree with rnnsweep's to {worst:.1e} "
              f"(norm-wise relative, romo N=16 B=4)")
        if not worst < 1e-10:
            print("bench_torch.py: the PyTorch model does not compute rnnsweep's gradients", file=sys.stderr)
            return 1
    print(f"training iteration, romo-shaped T={T} B={B} I={I} O={O} (batch + forward/backward + Adam)")
    head = f"{'rule':<6} {'N':>5} {'torch ms':>10} {'(min .. max)':>19}"
    if ours:
        head += f" {'rnnsweep ms':>12} {'torch/rnnsweep':>15}"
    print(head)
    rows = []
    for N in (64, 256):
        for rule in RULES:
            med, lo, hi, calls = time_rule(N, rule, a.reps, a.seconds, clock)
            line = f"{rule:<6} {N:>5} {1e3 * med:>10.3f} {f'({1e3 * lo:.3f} .. {1e3 * hi:.3f})':>19}"
            row = {"N": N, "rule": rule, "ms": 1e3 * med, "ms_min": 1e3 * lo, "ms_max": 1e3 * hi,
                   "iters_per_run": calls}
            if (N, rule) in ours:
                row["rnnsweep_ms"] = ours[(N, rule)]
                row["ratio"] = 1e3 * med / ours[(N, rule)]
                line += f" {ours[(N, rule)]:>12.3f} {row['ratio']:>14.2f}x"
            print(line, flush=True)
            rows.append(row)
    busy = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    print(f"\nthis process was on a CPU {100 * busy:.0f}% of the wall time" +
          (": the machine is busy, wall times include waiting (see --cpu-time)" if busy < 0.9 else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "reps": a.reps, "seconds": a.seconds,
                       "clock": "cpu" if a.cpu_time else "wall", "cpu_share": busy,
                       "train": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
