"""optim.distributed on this machine: Allreduce cost, tensor fusion, and data-parallel steps.

Run ``python benchmarks/bench_distributed.py``; it starts ``mpiexec -n N`` on itself (the
``--worker`` mode) and prints three tables (issue 12, point 5):

1. **Allreduce** of float64 arrays of 1e3, 1e5, 1e6 and 1e7 elements on 2 ranks:
   ``comm.Allreduce(IN_PLACE)`` on the buffer (the floor), ``hvd.allreduce`` (agreement
   check, copy, the same Allreduce, the division by ``size``) and mpi4py's pickle-based
   ``comm.allreduce`` (the baseline the buffer API avoids); ratios against the floor.
2. **Fusion**: 100 float64 tensors of 1000 elements on 2 ranks: one ``hvd.allreduce`` per
   tensor, one raw ``Allreduce`` per tensor, ``hvd.grouped_allreduce`` (one Allreduce on one
   fusion buffer), ``reduce_gradients`` (the optimizer's path: agreement + fused Allreduce) in
   the fusion buffer and in an Adam optimizer's flat gradient buffer (``into=``, the hand-off
   of ``DistributedOptimizer.minimize``), each of those two followed by Adam's apply, and
   the steady step of ``DistributedOptimizer`` (its ``GradientReducer`` after the first
   step: gradients and header in one Allreduce, in the arena). The rows take turns within
   each repetition, so their ratios are comparable on a loaded machine.
3. **mlp_digits** (64-64-10 MLP on the 8x8 digits, float64, Adam, batch 32 per rank) at 1, 2
   and 3 ranks: the step time, split into local gradients, the reduction over ranks and the
   update (what ``DistributedOptimizer.minimize`` does, timed piece by piece), the share of
   the step spent communicating, and the weak-scaling efficiency ``t(1 rank) / t(N ranks)``
   (each rank keeps its batch of 32, so N ranks process N times the examples per step).
   The machine has 2 cores: 3 ranks oversubscribe it, and their figures say so.

Timing: per repetition, every rank times the operation after a barrier and the slowest rank
counts (an Allreduce finishes when its last rank does); the median over repetitions is
printed. Nothing else of this benchmark runs meanwhile, but other processes on the machine
do affect the numbers: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


# -- the worker (runs under mpiexec) ---------------------------------------------------------
def _slowest(comm, seconds):
    from mpi4py import MPI

    out = np.array([seconds])
    comm.Allreduce(MPI.IN_PLACE, out, op=MPI.MAX)
    return float(out[0])


def _time(comm, fn, reps):
    """Median over ``reps`` of the slowest rank's time of ``fn()``."""
    fn()
    fn()  # warm-up
    times = []
    for _ in range(reps):
        comm.Barrier()
        start = time.perf_counter()
        fn()
        times.append(_slowest(comm, time.perf_counter() - start))
    return float(np.median(times))


def _time_interleaved(comm, fns, reps):
    """Medians over ``reps`` rounds of the slowest rank's time of each of ``fns`` (a dict),
    the functions taking turns within each round, so that a change of the machine's load
    weighs on all of them alike (their ratios are what to read)."""
    for fn in fns.values():
        fn()
        fn()  # warm-up
    times = {key: [] for key in fns}
    for _ in range(reps):
        for key, fn in fns.items():
            comm.Barrier()
            start = time.perf_counter()
            fn()
            times[key].append(_slowest(comm, time.perf_counter() - start))
    return {key: float(np.median(t)) for key, t in times.items()}


def worker_allreduce(reps):
    from mpi4py import MPI

    import optim.distributed as hvd

    hvd.init()
    comm = MPI.COMM_WORLD
    rows = []
    for n in (1_000, 100_000, 1_000_000, 10_000_000):
        buf = np.random.default_rng(0).normal(size=n)
        r = reps if n < 10_000_000 else max(3, reps // 4)
        raw = buf.copy()  # reduced in place by the floor's row
        row = _time_interleaved(comm, {
            "floor": lambda b=raw: comm.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM),
            "hvd": lambda b=buf: hvd.allreduce(b),
            "pickle": lambda b=buf: comm.allreduce(b, op=MPI.SUM),
        }, r)  # fmt: skip
        rows.append({"n": n, **row})
    return rows


def worker_fusion(reps):
    from mpi4py import MPI

    import optim
    import optim.distributed as hvd
    from optim.distributed.gradients import GradientReducer, reduce_gradients

    hvd.init()
    comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    tensors = [rng.normal(size=1000) for _ in range(100)]
    raw_tensors = [t.copy() for t in tensors]  # reduced in place by the raw row
    variables = [optim.Variable(np.zeros(1000), name=f"v{i}") for i in range(100)]
    pairs = list(zip(tensors, variables))

    def per_tensor_raw():
        for t in raw_tensors:
            comm.Allreduce(MPI.IN_PLACE, t, op=MPI.SUM)

    inner = optim.train.AdamOptimizer(1e-9)  # tiny steps: the variables barely move
    inner.apply_gradients(pairs)  # its flat layout exists from now on
    into = inner.gradient_arena

    def step_fusion():  # the reduction in the fusion buffer, then the apply gathers a copy
        inner.apply_gradients(reduce_gradients(pairs))

    def step_handoff():  # the reduction in the optimizer's flat gradient buffer, read as is
        inner.apply_gradients(reduce_gradients(pairs, into=into))

    reducer = GradientReducer()  # DistributedOptimizer's: the steady steps skip the agreement

    def step_steady():  # DistributedOptimizer.minimize's reduction and apply, after step 1
        inner.apply_gradients(reducer(pairs, into=into))

    fns = {
        "per_tensor_hvd": lambda: [hvd.allreduce(t) for t in tensors],
        "per_tensor_raw": per_tensor_raw,
        "grouped": lambda: hvd.grouped_allreduce(tensors),
        "reduce_gradients": lambda: reduce_gradients(pairs),
        "reduce_into": lambda: reduce_gradients(pairs, into=into),
        "step_fusion": step_fusion,
        "step_handoff": step_handoff,
        "step_steady": step_steady,
    }
    return _time_interleaved(comm, fns, reps)


def worker_mlp(steps):
    import autograd.numpy as anp
    from mpi4py import MPI

    import optim
    import optim.distributed as hvd
    from optim.distributed.gradients import GradientReducer

    hvd.init()
    comm = MPI.COMM_WORLD
    rank, size = hvd.rank(), hvd.size()
    (x, y), _ = optim.datasets.load_digits(seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    variables = [
        optim.Variable(rng.uniform(-0.2, 0.2, (64, 64)), name="W1"),
        optim.Variable(np.zeros(64), name="b1"),
        optim.Variable(rng.uniform(-0.2, 0.2, (64, 10)), name="W2"),
        optim.Variable(np.zeros(10), name="b2"),
    ]
    hvd.broadcast_variables(variables)
    inner = optim.train.AdamOptimizer(1e-3 * size)
    reducer = GradientReducer()
    batch = 32

    def loss(rows):
        w1, b1, w2, b2 = variables
        hidden = anp.maximum(x[rows] @ w1.value + b1.value, 0.0)
        logits = hidden @ w2.value + b2.value
        return anp.mean(
            optim.nn.sparse_softmax_cross_entropy_with_logits(labels=y[rows], logits=logits)
        )

    parts = {"compute": [], "reduce": [], "apply": [], "step": []}
    order = np.random.default_rng(1).permutation(len(x))
    for s in range(steps + 3):
        start_row = ((s * size + rank) * batch) % (len(x) - batch)
        rows = order[start_row : start_row + batch]
        comm.Barrier()
        t0 = time.perf_counter()
        local = inner.compute_gradients(lambda rows=rows: loss(rows), var_list=variables)
        t1 = time.perf_counter()
        reduced = reducer(local, into=inner.gradient_arena)  # as minimize reduces
        t2 = time.perf_counter()
        inner.apply_gradients(reduced)
        t3 = time.perf_counter()
        if s >= 3:  # after warm-up
            for key, value in (("compute", t1 - t0), ("reduce", t2 - t1), ("apply", t3 - t2),
                               ("step", t3 - t0)):  # fmt: skip
                parts[key].append(_slowest(comm, value))
    # One DistributedOptimizer.minimize step as a whole, for comparison.
    opt = hvd.DistributedOptimizer(optim.train.AdamOptimizer(1e-3 * size))
    rows = order[rank * batch : (rank + 1) * batch]
    whole = _time(comm, lambda: opt.minimize(lambda: loss(rows), var_list=variables), steps)
    out = {key: float(np.median(v)) for key, v in parts.items()}
    out["minimize"] = whole
    return out


# -- the driver ------------------------------------------------------------------------------
def _mpiexec():
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        sys.exit("bench_distributed needs mpiexec: pip install 'optim[mpi]'")
    return found


def _launch(n, part, count, timeout=600):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "MPIEXEC_TIMEOUT": str(timeout - 10),
    }
    command = [_mpiexec(), "-n", str(n), sys.executable, __file__, "--worker", part,
               "--count", str(count)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _us(seconds):
    return f"{seconds * 1e6:10.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=40, help="repetitions per Allreduce row")
    parser.add_argument("--steps", type=int, default=60, help="timed mlp_digits steps")
    parser.add_argument(
        "--only",
        choices=["allreduce", "fusion", "mlp"],
        action="append",
        help="run only these tables (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        result = {"allreduce": worker_allreduce, "fusion": worker_fusion,
                  "mlp": worker_mlp}[args.worker](args.count)  # fmt: skip
        from mpi4py import MPI

        if MPI.COMM_WORLD.Get_rank() == 0:
            print(json.dumps(result))
        return

    import mpi4py

    print(f"load average before: {os.getloadavg()}; cores: {os.cpu_count()}; mpi4py "
          f"{mpi4py.__version__}; medians of the slowest rank")  # fmt: skip
    wanted = args.only or ["allreduce", "fusion", "mlp"]
    if "allreduce" in wanted:
        print("\n1. Allreduce of float64 arrays, 2 ranks (microseconds)")
        print(f"{'elements':>10} {'raw IN_PLACE':>12} {'hvd.allreduce':>14} {'pickle API':>11}"
              f" {'hvd/raw':>8} {'pickle/raw':>11} {'GB/s raw':>9}")  # fmt: skip
        for row in _launch(2, "allreduce", args.reps):
            gbs = row["n"] * 8 / row["floor"] / 1e9
            print(f"{row['n']:>10.0e} {_us(row['floor']):>12} {_us(row['hvd']):>14} "
                  f"{_us(row['pickle']):>11} {row['hvd'] / row['floor']:>8.2f} "
                  f"{row['pickle'] / row['floor']:>11.2f} {gbs:>9.2f}")  # fmt: skip

    if "fusion" in wanted:
        print("\n2. 100 float64 tensors of 1000 elements, 2 ranks (microseconds per step)")
        fusion = _launch(2, "fusion", args.reps)
        base = fusion["grouped"]
        for key, label in (
            ("per_tensor_hvd", "one hvd.allreduce per tensor"),
            ("per_tensor_raw", "one raw Allreduce per tensor"),
            ("grouped", "hvd.grouped_allreduce (fused)"),
            ("reduce_gradients", "reduce_gradients, fusion buffer"),
            ("reduce_into", "reduce_gradients into the arena"),
            ("step_fusion", "reduce + Adam apply, fusion buffer"),
            ("step_handoff", "reduce + Adam apply, arena hand-off"),
            ("step_steady", "the same, steady step (no agreement)"),
        ):
            print(f"  {label:<38} {_us(fusion[key])}   x{fusion[key] / base:.2f} of fused")

    if "mlp" in wanted:
        print("\n3. mlp_digits step (64-64-10 MLP, Adam, float64, batch 32 per rank), ms")
        print(f"{'ranks':>5} {'step':>8} {'gradients':>10} {'reduce':>8} {'apply':>8} "
              f"{'comm share':>11} {'minimize':>9} {'efficiency':>11}")  # fmt: skip
        one = None
        for n in (1, 2, 3):
            r = _launch(n, "mlp", args.steps)
            one = one or r["step"]
            note = "  (3 ranks on 2 cores: oversubscribed)" if n > (os.cpu_count() or 1) else ""
            print(f"{n:>5} {r['step'] * 1e3:>8.3f} {r['compute'] * 1e3:>10.3f} "
                  f"{r['reduce'] * 1e3:>8.3f} {r['apply'] * 1e3:>8.3f} "
                  f"{r['reduce'] / r['step']:>10.1%} {r['minimize'] * 1e3:>9.3f} "
                  f"{one / r['step']:>10.1%}{note}")  # fmt: skip
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
