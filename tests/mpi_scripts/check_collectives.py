"""Rank script: DistributedOptimizer and the collectives, checked on every rank.

Usage: ``mpiexec -n N python check_collectives.py OUTDIR``. Every rank writes
``OUTDIR/rank<r>.json`` (its observations); rank 0 also writes ``OUTDIR/final.npz``, the
variables after each training configuration, which the test compares with one process
training on the union of the ranks' batches.
"""

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import problem  # noqa: E402

import optim  # noqa: E402
import optim.distributed as hvd  # noqa: E402
from optim.distributed import gradients as gradients_module  # noqa: E402
from optim.distributed.basics import context  # noqa: E402
from optim.distributed.gradients import reduce_gradients  # noqa: E402
from optim.training import Callback, Trainer  # noqa: E402

BATCH = 4  # examples per rank and pass
UPDATES = 6
CONFIGS = [  # (optimizer, backward_passes_per_step, average_aggregated_gradients)
    ("gd", 1, False),
    ("momentum", 1, False),
    ("adam", 1, False),
    ("gd", 2, False),
    ("momentum", 2, True),
    ("adam", 3, True),
]


def identical_everywhere(arrays):
    """Whether ``arrays`` hold the same bytes on every rank (an allgather of their bytes)."""
    flat = np.concatenate([np.ascontiguousarray(a).reshape(-1) for a in arrays])
    raw = flat.view(np.uint8)[None, :]
    gathered = hvd.allgather(raw)
    return all(row.tobytes() == gathered[0].tobytes() for row in gathered)


def error_of(fn):
    try:
        fn()
    except Exception as exc:  # recorded for the test to check its type and message
        return [type(exc).__name__, str(exc)]
    return None


def training(record, finals):
    x, y = problem.data()
    rank, size = hvd.rank(), hvd.size()
    for name, k, average in CONFIGS:
        key = f"{name}_k{k}_avg{int(average)}"
        with optim.Graph().as_default():
            variables = problem.make_variables()
            if rank != 0:  # a different start everywhere else: broadcast_variables must fix it
                for v in variables:
                    v.assign(v.array + rank)
            hvd.broadcast_variables(variables, root_rank=0)
            step = optim.Variable(0, name="global_step", trainable=False, dtype=np.int64)
            opt = hvd.DistributedOptimizer(
                problem.OPTIMIZERS[name](),
                backward_passes_per_step=k,
                average_aggregated_gradients=average,
            )
            same = []
            for p in range(UPDATES * k):
                rows = problem.shard(problem.step_rows(p, size * BATCH), rank, size)
                opt.minimize(
                    lambda rows=rows, vs=variables: problem.loss(vs, x[rows], y[rows]),
                    global_step=step,
                    var_list=variables,
                )
                same.append(identical_everywhere([v.array for v in variables]))
            record[key] = {
                "identical_after_every_pass": same,
                "global_step": int(step.array),
                "iterations": opt.iterations,
            }
            for v in variables:
                finals[f"{key}/{v.name}"] = v.array.copy()


def nones_and_sparse(record):
    rank = hvd.rank()
    with optim.Graph().as_default():
        a = optim.Variable(np.zeros(3), name="a")
        c = optim.Variable(np.zeros(2), name="c")
        d = optim.Variable(np.zeros(2), name="d")
        opt = hvd.DistributedOptimizer(optim.train.GradientDescentOptimizer(1.0))

        def loss():
            value = optim.numpy.sum(a.value * (rank + 1.0))
            if rank == 0:
                value = value + optim.numpy.sum(c.value * 2.0)
            return value

        grads = opt.compute_gradients(loss, var_list=[a, c, d])
        record["none"] = {
            "a": grads[0][0].tolist(),
            "c": grads[1][0].tolist(),
            "d_is_none": grads[2][0] is None,
            "identical": identical_everywhere([grads[0][0], grads[1][0]]),
        }
        predivided = hvd.DistributedOptimizer(
            optim.train.GradientDescentOptimizer(1.0), gradient_predivide_factor=4.0
        ).compute_gradients(loss, var_list=[a, c, d])
        record["predivide"] = [
            float(np.max(np.abs(p[0] - g[0]))) for p, g in zip(predivided[:2], grads[:2])
        ]
        summed = hvd.DistributedOptimizer(
            optim.train.GradientDescentOptimizer(1.0), op=hvd.Sum
        ).compute_gradients(loss, var_list=[a, c, d])
        record["summed"] = [summed[0][0].tolist(), summed[1][0].tolist()]
        k2 = hvd.DistributedOptimizer(
            optim.train.GradientDescentOptimizer(1.0), backward_passes_per_step=2
        )
        first = (lambda: optim.numpy.sum(a.value)) if rank == 0 else (lambda: 1.0)
        k2.minimize(first, var_list=[a])  # no gradient on ranks > 0 in this pass
        k2.minimize(lambda: optim.numpy.sum(a.value * (rank + 1.0)), var_list=[a])
        record["k2_partial"] = a.numpy().tolist()
        e = optim.Variable(np.zeros((6, 2)), name="e")
        f = optim.Variable(np.zeros((6, 2)), name="f")
        g = optim.Variable(np.zeros((6, 2)), name="g")
        mine = optim.IndexedSlices(np.full((1, 2), rank + 1.0), np.array([rank % 6]), (6, 2))
        pairs = [
            (mine, e),  # sparse on every rank: allgathered
            (mine if rank == 0 else None, f),  # sparse on rank 0, None elsewhere
            (np.ones((6, 2)) if rank == 0 else mine, g),  # dense on rank 0: dense everywhere
        ]
        out = reduce_gradients(pairs)
        dense = reduce_gradients([(mine, e)], sparse_as_dense=True)[0][0]
        record["sparse"] = {
            "e_indices": out[0][0].indices.tolist(),
            "e_values": out[0][0].values.tolist(),
            "f_indices": out[1][0].indices.tolist(),
            "f_values": out[1][0].values.tolist(),
            "g_dense": isinstance(out[2][0], np.ndarray),
            "g": out[2][0].tolist(),
            "as_dense": dense.tolist(),
            "min_refused": error_of(lambda: reduce_gradients([(mine, e)], op=hvd.Min)),
        }


def _same_bytes(xs, ys):
    return all(np.asarray(x).tobytes() == np.asarray(y).tobytes() for x, y in zip(xs, ys))


FUSED_CALLS = []


def _counting_fused_allreduce(*args, original=gradients_module.fused_allreduce, **kwargs):
    FUSED_CALLS.append(1)
    return original(*args, **kwargs)


def handoff(record):
    """DistributedOptimizer reduces in its inner optimizer's flat gradient buffer (a float64
    arena and a float32 one here) once it exists; the updates equal those of the fusion
    buffer's path (reduce_gradients without it, then the inner apply) to the bit."""
    x, y = problem.data()
    rank, size = hvd.rank(), hvd.size()
    gradients_module.fused_allreduce = _counting_fused_allreduce  # counts the fallbacks
    makers = {
        "adam": lambda: optim.train.AdamOptimizer(0.01),
        "adafactor": lambda: optim.train.AdafactorOptimizer(0.05),  # no flat layout
    }
    out = {}
    for name, make in makers.items():
        runs = {}
        for mode in ("handoff", "fusion"):
            with optim.Graph().as_default():
                variables = problem.make_variables()
                s32 = optim.Variable(np.full(3, 0.5, np.float32), name="s32")
                allvars = variables + [s32]

                def loss(rows, vs=variables, s=s32):
                    return problem.loss(vs, x[rows], y[rows]) + optim.numpy.sum(
                        s.value**2 * np.float32(rank + 1.0)
                    )

                inner = make()
                opt = hvd.DistributedOptimizer(inner)
                arenas, trajectory, fused = [], [], []
                for p in range(4):
                    rows = problem.shard(problem.step_rows(p, size * BATCH), rank, size)
                    arenas.append(inner.gradient_arena(variables) is not None)
                    if mode == "handoff":
                        before = len(FUSED_CALLS)
                        opt.minimize(lambda rows=rows: loss(rows), var_list=allvars)
                        fused.append(len(FUSED_CALLS) - before)
                    else:
                        pairs = inner.compute_gradients(lambda rows=rows: loss(rows),
                                                        var_list=allvars)  # fmt: skip
                        inner.apply_gradients(reduce_gradients(pairs))
                    trajectory.append([v.array.copy() for v in allvars])
                rows = problem.shard(problem.step_rows(9, size * BATCH), rank, size)
                pairs = inner.compute_gradients(lambda r=rows: loss(r), var_list=allvars)
                kept = opt.compute_gradients(lambda r=rows: loss(r), var_list=allvars)
                plain = reduce_gradients(pairs)
                into = reduce_gradients(pairs, into=inner.gradient_arena)
                a64, a32 = inner.gradient_arena(variables), inner.gradient_arena([s32])
                views = (a64.grad_views() if a64 else []) + (a32.grad_views() if a32 else [])
                runs[mode] = {
                    "trajectory": trajectory,
                    "arenas": arenas,
                    "fusion_buffer_uses": fused,
                    "into_equals_plain": _same_bytes([g for g, _ in into], [g for g, _ in plain]),
                    "into_are_views": len(views) == 4
                    and all(g is v for (g, _), v in zip(into, views)),
                    "kept_owned": not any(np.shares_memory(g, v) for (g, _) in kept for v in views),
                    "identical": identical_everywhere([v.array for v in allvars]),
                }
        same = all(_same_bytes(a, b) for a, b in zip(runs["handoff"]["trajectory"],
                                                     runs["fusion"]["trajectory"]))  # fmt: skip
        out[name] = {
            "same_as_fusion_path": same,
            **{k: v for k, v in runs["handoff"].items() if k != "trajectory"},
        }
    record["handoff"] = out
    gradients_module.fused_allreduce = _counting_fused_allreduce.__kwdefaults__["original"]


class CountingComm:
    """Forwards to a communicator and records the collectives called on it."""

    COLLECTIVES = ("Allreduce", "Allgather", "Allgatherv", "Bcast", "Barrier")

    def __init__(self, comm):
        self.comm, self.calls = comm, []

    def __getattr__(self, name):
        attr = getattr(self.comm, name)
        if name not in self.COLLECTIVES:
            return attr

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return counted


def _steady_run(mode, counting, out):
    x, y = problem.data()
    rank, size = hvd.rank(), hvd.size()
    variables = problem.make_variables()
    w1, b1, w2 = variables
    inner = optim.train.AdamOptimizer(0.01)
    opt = hvd.DistributedOptimizer(inner)

    def loss(rows, skip_b1=False):
        hidden = optim.numpy.tanh(x[rows] @ w1.value + (0.0 if skip_b1 else b1.value))
        return optim.numpy.mean((hidden @ w2.value - y[rows]) ** 2)

    counts, trajectory = [], []
    for p in range(6):
        rows = problem.shard(problem.step_rows(p, size * BATCH), rank, size)
        skip = (p == 3 and rank == 0) or p == 4  # b1: None on rank 0, then on every rank
        step_loss = lambda rows=rows, skip=skip: loss(rows, skip)  # noqa: E731
        before = len(counting.calls)
        if mode == "optimizer":
            opt.minimize(step_loss, var_list=variables)
        else:
            pairs = inner.compute_gradients(step_loss, var_list=variables)
            inner.apply_gradients([(g, v) for g, v in reduce_gradients(pairs) if g is not None])
        counts.append(counting.calls[before:])
        trajectory.append([v.array.copy() for v in variables])
        trajectory.append([inner.get_slot(v, "m").copy() for v in variables])
    if mode == "optimizer":
        out["calls"] = counts
        arena = inner.gradient_arena(variables)  # the header rode in its buffer's tail
        total = sum(v.size for v in variables)
        out["handed_off"] = arena is not None and arena.grad_buffer.base.size == total + 1 + len(
            variables
        )
        # rank 1 leaves W2 out: every rank raises, naming it; nothing changes
        mine = variables if rank != 1 else variables[:2]
        kept = [v.array.copy() for v in variables]
        out["mismatch"] = error_of(lambda: opt.minimize(lambda: loss(rows), var_list=mine))
        out["unchanged"] = all(np.array_equal(v.array, k) for v, k in zip(variables, kept))
        before = len(counting.calls)
        opt.minimize(lambda: loss(rows), var_list=variables)  # agreed anew
        out["after_mismatch"] = counting.calls[before:]
        out["identical"] = identical_everywhere([v.array for v in variables])
    return trajectory


def _fit_calls(counting):
    x, y = problem.data()
    variables = problem.make_variables()
    per_step = []

    class Count(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = len(counting.calls)

        def on_train_batch_end(self, batch, logs=None):
            per_step.append(counting.calls[self.start :])

    trainer = Trainer(
        lambda xb, yb: problem.loss(variables, xb, yb),
        x,
        y,
        optimizer=hvd.DistributedOptimizer(optim.train.AdamOptimizer(0.01)),
        var_list=variables,
        batch_size=BATCH,
        seed=0,
    )
    trainer.fit(steps=4, callbacks=[Count()], verbose=0)
    return per_step


def steady(record):
    """After one step agreed in full, each step of DistributedOptimizer.minimize is one
    Allreduce (gradients and header together), with the bits of the full path; Nones on some
    or all ranks, a mismatch, and fit's steps (one more collective: the logged sums)."""
    ctx = context()
    counting = ctx.comm = CountingComm(ctx.comm)
    out = {}
    try:
        runs = {}
        for mode in ("optimizer", "full"):
            with optim.Graph().as_default():
                runs[mode] = _steady_run(mode, counting, out)
        out["same_as_full_path"] = all(
            _same_bytes(a, b) for a, b in zip(runs["optimizer"], runs["full"])
        )
        with optim.Graph().as_default():
            out["fit_calls"] = _fit_calls(counting)
    finally:
        ctx.comm = counting.comm
    record["steady"] = out


def collectives(record):
    rank, size = hvd.rank(), hvd.size()
    mine = np.full(3, rank + 1.0)
    record["ops"] = {
        op_name: hvd.allreduce(mine, op=op).tolist()
        for op_name, op in (
            ("Average", hvd.Average),
            ("Sum", hvd.Sum),
            ("Min", hvd.Min),
            ("Max", hvd.Max),
            ("Product", hvd.Product),
        )
    }
    first = hvd.allreduce(mine, op=hvd.Sum)
    second = hvd.allreduce(mine * 0.0, op=hvd.Sum)  # the same fusion buffer, reused
    record["results_kept"] = [first.tolist(), second.tolist()]
    record["scaled"] = hvd.allreduce(mine, op=hvd.Sum, prescale_factor=2.0,
                                     postscale_factor=0.5).tolist()  # fmt: skip
    record["fp16"] = hvd.allreduce(mine / 3, compression=hvd.Compression.fp16).tolist()
    grouped = hvd.grouped_allreduce(
        [mine.astype(np.float32), np.full((2, 2), float(rank)), mine], op=hvd.Sum
    )
    record["grouped"] = [[str(g.dtype), list(g.shape), g.ravel().tolist()] for g in grouped]
    record["allgather"] = hvd.allgather(np.full((rank + 1, 2), float(rank))).tolist()
    record["broadcast"] = hvd.broadcast(mine, root_rank=size - 1).tolist()
    record["object"] = hvd.broadcast_object({"from": rank}, root_rank=size - 1)
    with optim.Graph().as_default():
        g1 = optim.Variable(np.full(2, float(rank)), name="g1")
        g2 = optim.Variable(np.full(3, rank, dtype=np.float32), name="g2")
        gs = optim.train.get_or_create_global_step()
        gs.assign(rank + 5)
        hvd.broadcast_global_variables(root_rank=size - 1)
        record["global_variables"] = [g1.numpy().tolist(), g2.numpy().tolist(), int(gs.numpy())]
    record["objects"] = hvd.allgather_object(rank * 10)
    # broadcast_optimizer_state: rank 0 has stepped, the others have not.
    with optim.Graph().as_default():
        w = optim.Variable(np.arange(3.0), name="w")
        adam = optim.train.AdamOptimizer(0.1)
        if rank == 0:
            for _ in range(3):
                adam.minimize(lambda: optim.numpy.sum(w.value**2), var_list=[w])
        hvd.broadcast_variables([w])
        hvd.broadcast_optimizer_state(adam, root_rank=0)
        record["optimizer_state"] = {
            "iterations": adam.iterations,
            "identical": identical_everywhere(adam.variables()),
        }


def mismatches(record):
    rank, size = hvd.rank(), hvd.size()
    if size == 1:
        return
    cases = {
        "shape": dict(name="W", shape=(4,) if rank == 1 else (3,), dtype=np.float64),
        "name": dict(name="V" if rank == 1 else "W", shape=(3,), dtype=np.float64),
        "dtype": dict(name="W", shape=(3,), dtype=np.float32 if rank == 1 else np.float64),
    }
    for case, spec in cases.items():
        with optim.Graph().as_default():
            record.update(_mismatch(case, spec))
    record["allgather_mismatch"] = error_of(
        lambda: hvd.allgather(np.zeros((1, 3 if rank == 0 else 2)))
    )


def _mismatch(case, spec):
    u = optim.Variable(np.ones(2), name="u")
    w = optim.Variable(np.ones(spec["shape"], spec["dtype"]), name=spec["name"])
    opt = hvd.DistributedOptimizer(optim.train.GradientDescentOptimizer(0.1))
    before = w.array.copy()
    out = {}
    out[f"mismatch_{case}"] = error_of(
        lambda: opt.minimize(
            lambda: optim.numpy.sum(w.value**2) + optim.numpy.sum(u.value), var_list=[u, w]
        )
    )
    out[f"mismatch_{case}_unchanged"] = bool(np.array_equal(w.array, before))
    if hvd.rank() == 1:
        w.assign(w.array + 1)  # rank 1 differs: a broadcast that ran would change it
    mine = w.array.copy()
    out[f"mismatch_{case}_broadcast"] = error_of(lambda: hvd.broadcast_variables([w]))
    out[f"mismatch_{case}_broadcast_unchanged"] = bool(np.array_equal(w.array, mine))
    return out


def bad_input(record):
    size = hvd.size()
    record["bad"] = {
        "root_value": error_of(lambda: hvd.broadcast(np.zeros(2), root_rank=size)),
        "root_type": error_of(lambda: hvd.broadcast_object(1, root_rank=0.5)),
        "op": error_of(lambda: hvd.allreduce(np.zeros(2), op="sum")),
        "compression": error_of(lambda: hvd.allreduce(np.zeros(2), compression="fp16")),
        "prescale": error_of(lambda: hvd.allreduce(np.zeros(2), prescale_factor=-1.0)),
        "scalar_allgather": error_of(lambda: hvd.allgather(np.float64(1.0))),
        "string_tensor": error_of(lambda: hvd.allreduce(np.array(["a"]))),
        "not_variable": error_of(lambda: hvd.broadcast_variables([np.zeros(2)])),
        "wrong_gradient_shape": error_of(
            lambda: reduce_gradients([(np.zeros(3), optim.Variable(np.zeros(2), name="z"))])
        ),
    }


def main(outdir):
    outdir = pathlib.Path(outdir)
    hvd.init()
    record = {"rank": hvd.rank(), "size": hvd.size(), "local_rank": hvd.local_rank(),
              "local_size": hvd.local_size(), "initialized": hvd.is_initialized()}  # fmt: skip
    finals = {}
    training(record, finals)
    nones_and_sparse(record)
    handoff(record)
    steady(record)
    collectives(record)
    mismatches(record)
    bad_input(record)
    (outdir / f"rank{hvd.rank()}.json").write_text(json.dumps(record))
    if hvd.rank() == 0:
        np.savez(outdir / "final.npz", **finals)
    hvd.shutdown()
    record_after = hvd.is_initialized()
    assert not record_after


if __name__ == "__main__":
    main(sys.argv[1])
