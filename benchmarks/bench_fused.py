"""One optimizer step with the gradients fixed: optim's paths against torch, optax, numpy and the
machine's memory floor, side by side in one run (issue 10, point 4).

What is measured, per row (optimizer x layout x dtype), in milliseconds per step:

* ``per-var``: optim's per-variable path, ``optim.train.XOptimizer(...).apply_gradients(gv)``
  with a pre-built ``gv`` list, run with ``OPTIM_ENGINE=off``.
* ``flat numba`` / ``flat numpy``: the same call with ``OPTIM_ENGINE=numba`` / ``numpy``, the
  environment variable read by the flat-layout engine (``optim/engine/``). These columns come
  from the optimizer itself, never from calling kernels directly. They print ``n/a`` until the
  optimizer really runs flat; this is checked, per optimizer and dtype, on two variables
  after one ``apply_gradients``: the flat layout re-homes every variable into one buffer, so both
  ``Variable.value`` arrays must be views of one base array. The numba column also needs numba
  in ``sys.modules`` afterwards; the numpy column needs it absent.
* ``numba nochk``: the numba column's optimizer with ``nonfinite="propagate"``: the step TF1
  and torch take, with no check for NaN or infinity before the update (optim's default,
  ``"raise"``, reads the gradient once more to leave everything unchanged on a bad step).
* ``np loop``: a hand-written in-place numpy loop over the same arrays, written here from the
  update rule (not from optim's kernels). Before timing, each optim column must agree with it
  after 3 steps on a small case (``np.allclose``, rtol 1e-5 float32 / 1e-10 float64). If it does
  not, the column prints ``n/a`` and the reason is printed.
* ``t loop`` / ``t foreach`` / ``t fused``: ``torch.optim.X(..., foreach=False)``,
  ``foreach=True`` and ``fused=True`` (``-`` where torch has no such optimizer or form), with
  ``torch.set_num_threads(--threads)`` and ``p.grad`` set once outside the timed loop.
* ``optax``: ``optax.X(...)`` under ``jax.jit`` with the parameters and state donated, over a
  list of ``jax.Array`` leaves (``jax_enable_x64`` on, so float64 stays float64), timed with
  ``block_until_ready``. XLA's compile time grows steeply with the number of leaves (minutes
  at 10000), so layouts above ``--optax-max-leaves`` are skipped, and say so.
* ``floor``: the memory floor of the step. A 2-thread numba ``prange`` kernel does the step's
  own loads and stores in place with one add per store and no other math (4 loads + 3 stores
  for Adam, AdamW and RMSProp with momentum; 3 + 2 for Momentum, Nesterov, Adagrad and Lion),
  over arrays of 1e7 elements (or the largest row's count), far past the caches. Its bandwidth
  (bytes moved / time) is printed; it is measured before and after the rows, and the faster of
  the two sets the floor of every row: the row's bytes at that bandwidth (rows of 1e6 elements
  partly fit in the last-level cache and can beat it). Without
  numba, torch's 2-thread in-place ``a.add_(b)`` (2 loads + 1 store) gives the bandwidth
  instead, and the floor is the step's bytes at that bandwidth (the header says which kernel
  was used). Single-threaded ``np.copyto`` would understate the machine by about 2x.

Ratios: ``/fused`` is a time over torch fused's on the same row; ``/floor`` over the floor.

Also measured: the numba path's first-step compile time (two fresh processes sharing a fresh
``NUMBA_CACHE_DIR``: the first compiles, the second loads the cache; the first two steps on
two variables of 40,015 elements minus twice the third, since the update kernel compiles on
the first step and the non-finite check's on the second), when the engine exists; and the
end-to-end time of ``examples/mlp_digits.py`` (fixed epochs, early stopping out of reach, the
script's own "trained ... in X s" figure and the process wall time; median of
``--mlp-runs``), with the engine off and, when it exists, on.

Timing: each column of a row runs 2 warm-up steps, then single steps timed with
``time.perf_counter`` until ``--budget`` seconds are spent (at least 3, at most 50 steps); the
median is reported. The optim columns run in one subprocess per ``OPTIM_ENGINE`` value (the
engine reads the variable, and numba's pool must not be loaded in the per-variable process),
the others in this process; nothing runs concurrently. Other processes on the machine do
affect the numbers: the load average is printed before and after.

Hyperparameters are matched across frameworks where the update rule allows; the benchmark
measures speed, not parity. Differences: Adam/AdamW's epsilon is added to ``sqrt(v)`` after the
bias correction in torch and optax, before it in optim (TF1's epsilon-hat form); RMSProp's
``ms`` starts at 1 with epsilon inside the root in optim and optax (``initial_scale=1``,
``eps_in_sqrt``), at 0 with epsilon outside in torch; Adagrad's epsilon is 0 in torch and optax
(TF1 has none); torch has no Lion.

Usage::

    PYTHONPATH=. python benchmarks/bench_fused.py                 # the full grid, ~10 min
    PYTHONPATH=. python benchmarks/bench_fused.py --quick         # a reduced run, ~1-2 min
    PYTHONPATH=. python benchmarks/bench_fused.py --optimizers Adam --shapes 1x1e7 1000x1e3 \\
        --dtypes float32 --json adam.json

The optim the script measures is the one importable from the repository that holds it (its
subprocesses get that directory first on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHAPES = ("1x1e7", "100x1e4", "1000x1e3", "10000x1e2")
QUICK_SHAPES = ("1x1e7", "100x1e4")
DTYPES = ("float32", "float64")
QUICK_DTYPES = ("float32",)
ENGINE_MODES = ("off", "numba", "numpy", "nocheck")
# "nocheck": the numba path with nonfinite="propagate", the step TF1 and torch take (no check
# for NaN or infinity before the update); the default policy ("raise") reads the gradient once
# more.
MODE_ENGINE = {"off": "off", "numba": "numba", "numpy": "numpy", "nocheck": "numba"}
MODE_KEYS = {
    "off": "per_var_ms",
    "numba": "flat_numba_ms",
    "numpy": "flat_numpy_ms",
    "nocheck": "flat_nocheck_ms",
}
TORCH_FORMS = (
    ("torch_loop", {"foreach": False}),
    ("torch_foreach", {"foreach": True}),
    ("torch_fused", {"fused": True}),
)
MIN_REPS, MAX_REPS, WARMUP = 3, 50, 2
FLOOR_ELEMENTS = 10**7  # per array: 40 MB float32, well past the 2 MiB of L2 per core
SEED = 0


# -- hand-written numpy steps, in place, from the update rules -----------------------------------
def _slots(params: list[np.ndarray], **initial: float) -> dict[str, Any]:
    state: dict[str, Any] = {k: [np.full_like(w, v) for w in params] for k, v in initial.items()}
    state["t"] = 0
    return state


def _np_adam(params, grads, s, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    s["t"] += 1
    alpha = lr * math.sqrt(1 - b2 ** s["t"]) / (1 - b1 ** s["t"])
    for w, g, m, v in zip(params, grads, s["m"], s["v"]):
        if wd:
            w -= (lr * wd) * w
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        w -= alpha * m / (np.sqrt(v) + eps)


def _np_adamw(params, grads, s):
    _np_adam(params, grads, s, wd=0.01)


def _np_momentum(params, grads, s, lr=0.01, mu=0.9, nesterov=False):
    for w, g, a in zip(params, grads, s["a"]):
        a *= mu
        a += g
        if nesterov:
            w -= lr * g + (lr * mu) * a
        else:
            w -= lr * a


def _np_nesterov(params, grads, s):
    _np_momentum(params, grads, s, nesterov=True)


def _np_rmsprop(params, grads, s, lr=0.01, decay=0.9, mu=0.9, eps=1e-10):
    for w, g, ms, mom in zip(params, grads, s["ms"], s["mom"]):
        ms *= decay
        ms += (1 - decay) * (g * g)
        mom *= mu
        mom += lr * g / np.sqrt(ms + eps)
        w -= mom


def _np_adagrad(params, grads, s, lr=0.01):
    for w, g, acc in zip(params, grads, s["acc"]):
        acc += g * g
        w -= lr * g / np.sqrt(acc)


def _np_lion(params, grads, s, lr=1e-4, b1=0.9, b2=0.99):
    for w, g, m in zip(params, grads, s["m"]):
        w -= lr * np.sign(b1 * m + (1 - b1) * g)
        m *= b2
        m += (1 - b2) * g


@dataclass(frozen=True)
class Algo:
    """One optimizer of the table, in every framework, and the memory traffic of its step."""

    name: str
    loads: int  # arrays read per element by the minimal one-pass step (params, grad, slots)
    stores: int  # arrays written per element (params, slots)
    optim: Callable[..., Any]  # (optim.train, **options) -> optimizer
    init: Callable[[list[np.ndarray]], dict[str, Any]]
    step: Callable[[list[np.ndarray], list[np.ndarray], dict[str, Any]], None]
    torch: tuple[str, dict[str, Any]] | None
    optax: Callable[[Any], Any]  # optax -> GradientTransformation


ALGOS: tuple[Algo, ...] = (
    Algo(
        "Adam", 4, 3,
        lambda t, **kw: t.AdamOptimizer(1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, **kw),
        lambda ps: _slots(ps, m=0.0, v=0.0), _np_adam,
        ("Adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}),
        lambda ox: ox.adam(1e-3, b1=0.9, b2=0.999, eps=1e-8),
    ),
    Algo(
        "AdamW", 4, 3,
        lambda t, **kw: t.AdamWOptimizer(
            weight_decay=0.01, learning_rate=1e-3, epsilon=1e-8, **kw
        ),
        lambda ps: _slots(ps, m=0.0, v=0.0), _np_adamw,
        ("AdamW", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}),
        lambda ox: ox.adamw(1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01),
    ),
    Algo(
        "Momentum", 3, 2,
        lambda t, **kw: t.MomentumOptimizer(0.01, 0.9, **kw),
        lambda ps: _slots(ps, a=0.0), _np_momentum,
        ("SGD", {"lr": 0.01, "momentum": 0.9}),
        lambda ox: ox.sgd(0.01, momentum=0.9),
    ),
    Algo(
        "Nesterov", 3, 2,
        lambda t, **kw: t.MomentumOptimizer(0.01, 0.9, use_nesterov=True, **kw),
        lambda ps: _slots(ps, a=0.0), _np_nesterov,
        ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        lambda ox: ox.sgd(0.01, momentum=0.9, nesterov=True),
    ),
    Algo(
        "RMSProp", 4, 3,
        lambda t, **kw: t.RMSPropOptimizer(
            0.01, decay=0.9, momentum=0.9, epsilon=1e-10, **kw
        ),
        lambda ps: _slots(ps, ms=1.0, mom=0.0), _np_rmsprop,
        ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-10, "momentum": 0.9}),
        lambda ox: ox.rmsprop(
            0.01, decay=0.9, eps=1e-10, initial_scale=1.0, eps_in_sqrt=True, momentum=0.9
        ),
    ),
    Algo(
        "Adagrad", 3, 2,
        lambda t, **kw: t.AdagradOptimizer(0.01, initial_accumulator_value=0.1, **kw),
        lambda ps: _slots(ps, acc=0.1), _np_adagrad,
        ("Adagrad", {"lr": 0.01, "initial_accumulator_value": 0.1, "eps": 0.0}),
        lambda ox: ox.adagrad(0.01, initial_accumulator_value=0.1, eps=0.0),
    ),
    Algo(
        "Lion", 3, 2,
        lambda t, **kw: t.LionOptimizer(1e-4, beta1=0.9, beta2=0.99, **kw),
        lambda ps: _slots(ps, m=0.0), _np_lion,
        None,
        lambda ox: ox.lion(1e-4, b1=0.9, b2=0.99, weight_decay=0.0),
    ),
)  # fmt: skip
ALGO_BY_NAME = {a.name.lower(): a for a in ALGOS}


# -- shared helpers -------------------------------------------------------------------------------
def _parse_layout(text: str) -> tuple[int, int]:
    """``"1000x1e3"`` -> ``(1000, 1000)``: COUNT tensors of SIZE elements."""
    match = re.fullmatch(r"\s*([0-9.e+]+)\s*[x*]\s*([0-9.e+]+)\s*", text, re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"`shape` must be COUNTxSIZE, like 1000x1e3, got {text!r}."
        )
    try:
        count, size = float(match.group(1)), float(match.group(2))
    except ValueError:
        raise argparse.ArgumentTypeError(f"`shape` must be COUNTxSIZE, got {text!r}.") from None
    if count < 1 or size < 1 or count != int(count) or size != int(size):
        raise argparse.ArgumentTypeError(f"`shape` must be positive integers, got {text!r}.")
    return int(count), int(size)


def _layout_label(count: int, size: int) -> str:
    exp = math.log10(size)
    return f"{count}x1e{int(exp)}" if exp == int(exp) else f"{count}x{size}"


def _make_data(count: int, size: int, dtype: np.dtype) -> tuple[list, list]:
    """Initial parameters and fixed gradients, the same in every process (seeded)."""
    rng = np.random.default_rng(SEED)
    params = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
    grads = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
    return params, grads


def _time_step(step: Callable[[], Any], budget: float) -> dict[str, Any]:
    """First-call time, then the median of single timed steps after ``WARMUP`` warm-up steps."""
    gc.collect()
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    for _ in range(WARMUP - 1):
        step()
    samples: list[float] = []
    spent_from = time.perf_counter()
    gc.disable()
    try:
        while len(samples) < MAX_REPS and (
            len(samples) < MIN_REPS or time.perf_counter() - spent_from < budget
        ):
            start = time.perf_counter()
            step()
            samples.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return {
        "ms": statistics.median(samples) * 1e3,
        "min_ms": min(samples) * 1e3,
        "reps": len(samples),
        "first_ms": first * 1e3,
    }


def _others_cpu(interval: float = 0.1) -> float | None:
    """The share of the machine's CPU time that other processes used over ``interval`` seconds.

    This process sleeps meanwhile, so whatever ran was someone else's. None where
    ``/proc/stat`` is missing (not Linux).
    """

    def read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    try:
        idle0, total0 = read()
        time.sleep(interval)
        idle1, total1 = read()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def _settle(wait: float, quiet: float = 0.2) -> float | None:
    """Waits up to ``wait`` seconds for other processes to use under ``quiet`` of the CPU;
    returns the share they used in the last 0.1 s."""
    deadline = time.perf_counter() + wait
    busy = _others_cpu()
    while busy is not None and busy >= quiet and time.perf_counter() < deadline:
        busy = _others_cpu()
    return busy


def _root(array: np.ndarray) -> Any:
    """The array that owns ``array``'s memory (the end of its ``.base`` chain)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


# -- the optim worker: one subprocess per OPTIM_ENGINE value -------------------------------------
def _probe(optim: Any, algo: Algo, dtype: np.dtype) -> dict[str, Any]:
    """Whether ``algo`` runs flat: two variables share one buffer after one apply.

    Also times the first three applies on these small variables: with numba, the first
    compiles or loads the update kernel and the second the non-finite check's (the first
    apply builds the flat layout and checks each gradient apart), the third is a steady step.
    """
    with optim.Graph().as_default():
        # 40,000 + 15 elements: above the engine's threshold for its multithreaded kernels
        a = optim.Variable(np.zeros(40_000, dtype), name="probe_a")
        b = optim.Variable(np.zeros((3, 5), dtype), name="probe_b")
        opt = algo.optim(optim.train)
    gv = [(np.ones(40_000, dtype), a), (np.ones((3, 5), dtype), b)]
    start = time.perf_counter()
    opt.apply_gradients(gv)
    first = time.perf_counter() - start
    start = time.perf_counter()
    opt.apply_gradients(gv)
    second = time.perf_counter() - start
    start = time.perf_counter()
    opt.apply_gradients(gv)
    third = time.perf_counter() - start
    return {
        "flat": _root(np.asarray(a.value)) is _root(np.asarray(b.value)),
        "numba_loaded": "numba" in sys.modules,
        "first_ms": first * 1e3,
        "second_ms": second * 1e3,
        "third_ms": third * 1e3,
        "compile_ms": (first + second - 2 * third) * 1e3,
    }


def _same_math(optim: Any, algo: Algo, dtype: np.dtype) -> str | None:
    """None if optim and the numpy loop agree after 3 steps on a small case, else why not."""
    params, grads = _make_data(3, 1001, dtype)
    with optim.Graph().as_default():
        variables = [optim.Variable(w, name=f"check{i}") for i, w in enumerate(params)]
        opt = algo.optim(optim.train)
    gv = list(zip(grads, variables))
    state = algo.init(params)
    for _ in range(3):
        opt.apply_gradients(gv)
        algo.step(params, grads, state)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for var, w in zip(variables, params):
        got = np.asarray(var.value)
        if got.dtype != dtype or not np.allclose(got, w, rtol=rtol, atol=rtol / 10):
            worst = float(np.max(np.abs(got.astype(np.float64) - w)))
            return f"differs from the numpy loop after 3 steps (max abs difference {worst:.3g})"
    return None


def _worker(args: argparse.Namespace) -> dict[str, Any]:
    mode = args.worker
    engine = MODE_ENGINE[mode]
    if os.environ.get("OPTIM_ENGINE") != engine:
        raise SystemExit(f"worker {mode}: OPTIM_ENGINE is {os.environ.get('OPTIM_ENGINE')!r}")
    options = {"nonfinite": "propagate"} if mode == "nocheck" else {}
    import optim

    result: dict[str, Any] = {
        "mode": mode,
        "optim_file": optim.__file__,
        "optim_version": getattr(optim, "__version__", "?"),
        "engine_module": importlib.util.find_spec("optim.engine") is not None,
        "probes": {},
        "rows": [],
    }
    usable: dict[tuple[str, str], str | None] = {}  # (algo, dtype) -> None or why not usable
    for algo in args.algos:
        for dtype in args.dtypes:
            probe = _probe(optim, algo, dtype)
            result["probes"][f"{algo.name}/{dtype.name}"] = probe
            why = None
            if engine == "off" and probe["flat"]:
                why = "OPTIM_ENGINE=off still re-homed the variables into one buffer"
            elif engine != "off" and not probe["flat"]:
                why = "the optimizer does not run flat (its variables keep their own buffers)"
            elif engine == "numba" and not probe["numba_loaded"]:
                why = "it ran flat without importing numba"
            elif engine == "numpy" and probe["numba_loaded"]:
                why = "numba was imported under OPTIM_ENGINE=numpy"
            if why is None and not args.compile_only:
                why = _same_math(optim, algo, dtype)
            usable[algo.name, dtype.name] = why
    result["usable"] = {f"{k[0]}/{k[1]}": v for k, v in usable.items()}
    if args.compile_only:
        return result
    for count, size in args.layouts:
        for dtype in args.dtypes:
            if all(usable[a.name, dtype.name] for a in args.algos):
                continue
            initial, grads = _make_data(count, size, dtype)
            for algo in args.algos:
                if usable[algo.name, dtype.name]:
                    continue
                busy = _settle(args.wait_idle)
                with optim.Graph().as_default():
                    variables = [optim.Variable(w, name=f"w{i}") for i, w in enumerate(initial)]
                    opt = algo.optim(optim.train, **options)
                gv = list(zip(grads, variables))
                timing = _time_step(partial(opt.apply_gradients, gv), args.budget)
                result["rows"].append(
                    {"optimizer": algo.name, "shape": _layout_label(count, size),
                     "dtype": dtype.name, "busy": busy, **timing}
                )  # fmt: skip
                print(
                    f"  [{mode}] {algo.name} {_layout_label(count, size)} {dtype.name}: "
                    f"{timing['ms']:.3g} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return result


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def _run_worker(
    args: argparse.Namespace, mode: str, compile_only: bool = False, **env: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "--_worker", mode, "--_out", str(out),
            "--optimizers", *[a.name for a in args.algos],
            "--shapes", *[f"{c}x{s}" for c, s in args.layouts],
            "--dtypes", *[d.name for d in args.dtypes], "--budget", str(args.budget),
            "--wait-idle", str(args.wait_idle),
        ]  # fmt: skip
        if compile_only:
            cmd.append("--_compile-only")
        proc = subprocess.run(
            cmd, env=_subprocess_env(OPTIM_ENGINE=MODE_ENGINE[mode], **env), check=False
        )
        if proc.returncode != 0 or not out.exists():
            return {"mode": mode, "error": f"the worker exited with code {proc.returncode}"}
        return json.loads(out.read_text())


# -- the floor ------------------------------------------------------------------------------------
def _numba_rw_kernels() -> tuple[Any, dict[tuple[int, int], Callable]] | None:
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(parallel=True, fastmath=False, error_model="numpy")

    def rw5(p, g, a):  # 3 loads + 2 stores
        for i in numba.prange(p.shape[0]):
            gi = g[i]
            a[i] = a[i] + gi
            p[i] = p[i] + gi

    def rw7(p, g, m, v):  # 4 loads + 3 stores
        for i in numba.prange(p.shape[0]):
            gi = g[i]
            m[i] = m[i] + gi
            v[i] = v[i] + gi
            p[i] = p[i] + gi

    return numba, {(3, 2): jit(rw5), (4, 3): jit(rw7)}


def _measure_floor(
    patterns: set[tuple[int, int]], total: int, dtypes: Sequence[np.dtype], budget: float
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Bandwidth in GB/s per (loads, stores, dtype) over arrays of ``total`` elements, and the
    kernel that measured it."""
    found = _numba_rw_kernels()
    results: dict[str, dict[str, Any]] = {}
    if found is not None:
        numba, kernels = found
        kernel = (
            f"numba {numba.__version__} prange, {numba.get_num_threads()} threads "
            f"({numba.config.THREADING_LAYER} layer), in place, one add per store"
        )
        for (loads, stores), dtype in ((p, d) for p in sorted(patterns) for d in dtypes):
            arrays = [np.full(total, 0.5 if i == 1 else 1.0, dtype) for i in range(loads)]
            fn = kernels[loads, stores]
            timing = _time_step(partial(fn, *arrays), budget)
            moved = (loads + stores) * total * dtype.itemsize
            results[_floor_key(loads, stores, dtype)] = {
                "ms": timing["ms"], "gbps": moved / timing["ms"] / 1e6, "reps": timing["reps"],
            }  # fmt: skip
            del arrays
        return kernel, results
    torch = _import("torch")
    if torch is None:
        return "none (neither numba nor torch is importable)", {}
    kernel = (
        f"torch {torch.__version__} a.add_(b), {torch.get_num_threads()} threads (2 loads + "
        "1 store; numba is not installed, so the step's own pattern was not measured)"
    )
    for dtype in dtypes:
        a, b = (
            torch.ones(total, dtype=_torch_dtype(torch, dtype)),
            torch.full((total,), 0.5, dtype=_torch_dtype(torch, dtype)),
        )
        timing = _time_step(partial(a.add_, b), budget)
        gbps = 3 * total * dtype.itemsize / timing["ms"] / 1e6
        for loads, stores in patterns:
            results[_floor_key(loads, stores, dtype)] = {"ms": None, "gbps": gbps}
    return kernel, results


def _floor_key(loads: int, stores: int, dtype: np.dtype) -> str:
    return f"{loads}+{stores}/{dtype.name}"


# -- baselines in this process -------------------------------------------------------------------
def _import(name: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return __import__(name)
    except ImportError:
        return None


def _torch_dtype(torch: Any, dtype: np.dtype) -> Any:
    return {"float32": torch.float32, "float64": torch.float64}[dtype.name]


def _torch_columns(
    torch: Any, algo: Algo, initial: list, grads: list, budget: float, notes: set[str]
) -> dict[str, Any]:
    row: dict[str, Any] = {key: None for key, _ in TORCH_FORMS}
    if torch is None:
        return row
    if algo.torch is None or getattr(torch.optim, algo.torch[0], None) is None:
        notes.add(f"torch {torch.__version__} has no {algo.name}: its torch columns print '-'.")
        return row
    cls_name, kwargs = algo.torch
    for key, form in TORCH_FORMS:
        params = [torch.tensor(w, requires_grad=True) for w in initial]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        try:
            opt = getattr(torch.optim, cls_name)(params, **kwargs, **form)
            opt.step()
        except (TypeError, ValueError, RuntimeError, NotImplementedError) as exc:
            notes.add(f"torch.optim.{cls_name}({form}): unavailable ({type(exc).__name__}).")
            continue
        row[key] = _time_step(opt.step, budget)
        del params, opt
    return row


def _optax_column(
    ox: Any, algo: Algo, initial: list, grads: list, budget: float, max_leaves: int
) -> dict[str, Any] | str:
    if len(initial) > max_leaves:
        return f"skipped above {max_leaves} leaves (XLA compile time; --optax-max-leaves)"
    jax = sys.modules["jax"]
    params = [jax.numpy.asarray(w) for w in initial]
    jgrads = [jax.numpy.asarray(g) for g in grads]
    transform = algo.optax(ox)
    state = transform.init(params)

    def update(p, s, g):
        updates, s = transform.update(g, s, p)
        return ox.apply_updates(p, updates), s

    jitted = jax.jit(update, donate_argnums=(0, 1))
    box = [params, state]

    def step() -> None:
        box[0], box[1] = jitted(box[0], box[1], jgrads)
        jax.block_until_ready(box[0])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "donated buffers were not usable", where they are not
        timing = _time_step(step, budget)
    if box[0][0].dtype != initial[0].dtype:
        return f"computed in {box[0][0].dtype}, not {initial[0].dtype}"
    return timing


# -- examples/mlp_digits.py end to end ------------------------------------------------------------
MLP_ARGS = ("--epochs", "30", "--patience", "1000", "--verbose", "0", "--seed", "0")
_TRAINED = re.compile(r"\((\d+) steps\) in ([0-9.]+) s")
_ACCURACY = re.compile(r"test accuracy: ([0-9.]+)")


def _run_mlp(mode: str, runs: int) -> dict[str, Any]:
    script = REPO / "examples" / "mlp_digits.py"
    fit_s, wall_s, steps, accuracy = [], [], None, None
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(script), *MLP_ARGS],
            env=_subprocess_env(OPTIM_ENGINE=mode),
            capture_output=True,
            text=True,
            check=False,
        )
        wall_s.append(time.perf_counter() - start)
        trained = _TRAINED.search(proc.stdout)
        if proc.returncode != 0 or trained is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            return {"mode": mode, "error": f"exit {proc.returncode}: {' '.join(tail)}"}
        steps, fit_s = int(trained.group(1)), [*fit_s, float(trained.group(2))]
        found = _ACCURACY.search(proc.stdout)
        accuracy = float(found.group(1)) if found else None
    return {
        "mode": mode,
        "fit_s": statistics.median(fit_s),
        "wall_s": statistics.median(wall_s),
        "steps": steps,
        "test_accuracy": accuracy,
        "runs": runs,
    }


# -- arguments ------------------------------------------------------------------------------------
def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run (~1-2 min)")
    parser.add_argument(
        "--optimizers",
        nargs="+",
        metavar="NAME",
        help=f"default: all of {', '.join(a.name for a in ALGOS)}",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        metavar="COUNTxSIZE",
        help=f"default: {' '.join(SHAPES)}; quick: {' '.join(QUICK_SHAPES)}",
    )
    parser.add_argument(
        "--dtypes",
        nargs="+",
        metavar="DTYPE",
        help=f"default: {' '.join(DTYPES)}; quick: {' '.join(QUICK_DTYPES)}",
    )
    parser.add_argument(
        "--budget", type=float, help="seconds of timed steps per cell (default 0.25; quick 0.05)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--optax-max-leaves",
        type=int,
        help="skip optax above this many tensors (default 1000; quick 100)",
    )
    parser.add_argument(
        "--mlp-runs",
        type=int,
        help="runs of mlp_digits.py per mode (default 3; quick 1; 0 skips it)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each row, wait up to this long for other processes to use under 20%% of "
        "the CPU (default 0: measure at once; the busy column shows what they used)",
    )
    parser.add_argument("--json", metavar="FILE", help="also save the raw numbers here")
    parser.add_argument("--_worker", dest="worker", choices=ENGINE_MODES, help=argparse.SUPPRESS)
    parser.add_argument("--_out", dest="out", help=argparse.SUPPRESS)
    parser.add_argument(
        "--_compile-only", dest="compile_only", action="store_true", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)  # fmt: skip

    names = args.optimizers or [a.name for a in ALGOS]
    unknown = [n for n in names if n.lower() not in ALGO_BY_NAME]
    if unknown:
        parser.error(f"--optimizers: unknown {unknown!r}; choose from {[a.name for a in ALGOS]}.")
    args.algos = [ALGO_BY_NAME[n.lower()] for n in dict.fromkeys(names)]
    try:
        args.layouts = [
            _parse_layout(s) for s in args.shapes or (QUICK_SHAPES if args.quick else SHAPES)
        ]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--shapes: {exc}")
    try:
        args.dtypes = [np.dtype(d) for d in args.dtypes or (QUICK_DTYPES if args.quick else DTYPES)]
    except TypeError:
        parser.error(f"--dtypes: unknown dtype in {args.dtypes!r}.")
    if any(d.name not in DTYPES for d in args.dtypes):
        parser.error(f"--dtypes: choose from {list(DTYPES)}, got {[d.name for d in args.dtypes]}.")
    if args.budget is None:
        args.budget = 0.05 if args.quick else 0.25
    if args.optax_max_leaves is None:
        args.optax_max_leaves = 100 if args.quick else 1000
    if args.mlp_runs is None:
        args.mlp_runs = 1 if args.quick else 3
    if args.budget <= 0 or args.threads < 1 or args.mlp_runs < 0 or args.wait_idle < 0:
        parser.error("--budget must be > 0, --threads >= 1, --mlp-runs and --wait-idle >= 0.")
    return args


# -- output ---------------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _ratio(num: float | None, den: float | None) -> str:
    if num is None or den is None:
        return "-"
    return f"{num / den:.2f}x"


COLUMNS = (
    ("floor", "floor_ms"),
    ("per-var", "per_var_ms"),
    ("flat numba", "flat_numba_ms"),
    ("numba nochk", "flat_nocheck_ms"),
    ("flat numpy", "flat_numpy_ms"),
    ("np loop", "numpy_loop_ms"),
    ("t loop", "torch_loop_ms"),
    ("t foreach", "torch_foreach_ms"),
    ("t fused", "torch_fused_ms"),
    ("optax jit", "optax_ms"),
)
RATIOS = (
    ("per-var /fused", "per_var_ms", "torch_fused_ms"),
    ("numba /fused", "flat_numba_ms", "torch_fused_ms"),
    ("nochk /fused", "flat_nocheck_ms", "torch_fused_ms"),
    ("per-var /floor", "per_var_ms", "floor_ms"),
    ("numba /floor", "flat_numba_ms", "floor_ms"),
    ("nochk /floor", "flat_nocheck_ms", "floor_ms"),
    ("numpy /floor", "flat_numpy_ms", "floor_ms"),
    ("fused /floor", "torch_fused_ms", "floor_ms"),
)


def _markdown(rows: list[dict[str, Any]], na: dict[str, str]) -> str:
    head = ["optimizer", "shape", "dtype", "busy", *(c for c, _ in COLUMNS)]
    head += [r for r, _, _ in RATIOS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for row in rows:
        busy = "-" if row["busy"] is None else f"{100 * row['busy']:.0f}%"
        cells = [row["optimizer"], row["shape"], row["dtype"], busy]
        for _, key in COLUMNS:
            cells.append(na[key] if key in na and row[key] is None else _fmt(row[key]))
        cells += [_ratio(row[num], row[den]) for _, num, den in RATIOS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ms(cell: Any) -> float | None:
    return cell["ms"] if isinstance(cell, dict) else None


# -- the run --------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Runs the benchmark, prints its tables and returns the raw numbers."""
    args = _parse_args(argv)
    if args.worker:
        result = _worker(args)
        Path(args.out).write_text(json.dumps(result))
        return result

    load_before = os.getloadavg()
    notes: set[str] = set()
    torch = _import("torch")
    if torch is not None:
        torch.set_num_threads(args.threads)
    else:
        notes.add("torch is not installed: the torch columns print '-'.")
    ox = _import("optax")
    if ox is not None:
        sys.modules["jax"].config.update("jax_enable_x64", True)
    else:
        notes.add("optax/jax are not installed (pip install jax optax): the optax column is '-'.")

    floor_elements = max(FLOOR_ELEMENTS, *(c * s for c, s in args.layouts))
    patterns = {(a.loads, a.stores) for a in args.algos}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)} "
          f"({os.cpu_count()} cores)", file=sys.stderr, flush=True)  # fmt: skip
    print("measuring the floor ...", file=sys.stderr, flush=True)
    floor_kernel, bw_start = _measure_floor(patterns, floor_elements, args.dtypes, args.budget)

    workers: dict[str, dict[str, Any]] = {}
    for mode in ENGINE_MODES:
        print(f"optim, OPTIM_ENGINE={mode} ...", file=sys.stderr, flush=True)
        workers[mode] = _run_worker(args, mode)

    compile_info: dict[str, Any] = {}
    engine_on = any(v is None for v in workers["numba"].get("usable", {}).values())
    if engine_on:
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold", "cached"):
                print(f"numba compile time ({label}) ...", file=sys.stderr, flush=True)
                compile_info[label] = _run_worker(args, "numba", True, NUMBA_CACHE_DIR=cache)

    rows: list[dict[str, Any]] = []
    for count, size in args.layouts:
        for dtype in args.dtypes:
            initial, grads = _make_data(count, size, dtype)
            for algo in args.algos:
                label = _layout_label(count, size)
                print(f"baselines: {algo.name} {label} {dtype.name} ...", file=sys.stderr,
                      flush=True)  # fmt: skip
                row: dict[str, Any] = {"optimizer": algo.name, "shape": label, "dtype": dtype.name}
                row["busy"] = _settle(args.wait_idle)
                params = [w.copy() for w in initial]
                state = algo.init(params)
                row["numpy_loop"] = _time_step(
                    partial(algo.step, params, grads, state), args.budget
                )
                row.update(_torch_columns(torch, algo, initial, grads, args.budget, notes))
                if ox is not None:
                    optax_cell = _optax_column(
                        ox, algo, initial, grads, args.budget, args.optax_max_leaves
                    )
                    if isinstance(optax_cell, str):
                        notes.add(f"optax: {optax_cell}.")
                        optax_cell = None
                    row["optax"] = optax_cell
                rows.append(row)
                gc.collect()
            del initial, grads

    print("measuring the floor again ...", file=sys.stderr, flush=True)
    _, bw_end = _measure_floor(patterns, floor_elements, args.dtypes, args.budget)
    mlp = []
    if args.mlp_runs:
        for mode in ("off", "numba", "numpy") if engine_on else ("off",):
            print(f"examples/mlp_digits.py, OPTIM_ENGINE={mode} ...", file=sys.stderr, flush=True)
            mlp.append(_run_mlp(mode, args.mlp_runs))
    load_after = os.getloadavg()

    # Assemble: optim columns from the workers, the floor from the faster bandwidth.
    na: dict[str, str] = {}
    for mode, result in workers.items():
        key = MODE_KEYS[mode]
        if "error" in result:
            na[key] = "error"
            notes.add(f"OPTIM_ENGINE={mode}: {result['error']}.")
            continue
        by_reason: dict[str, list[str]] = {}
        for cell_key, why in result["usable"].items():
            if why:
                by_reason.setdefault(why, []).append(cell_key)
        if by_reason:
            na[key] = "n/a"
        for why, cells in by_reason.items():
            which = "every row" if len(cells) == len(result["usable"]) else ", ".join(cells)
            notes.add(f"OPTIM_ENGINE={mode}: n/a for {which}: {why}.")
        by_cell = {(r["optimizer"], r["shape"], r["dtype"]): r for r in result["rows"]}
        for row in rows:
            cell = by_cell.get((row["optimizer"], row["shape"], row["dtype"]))
            row[key.removesuffix("_ms")] = cell
            if cell is not None and cell.get("busy") is not None:
                row["busy"] = max(row["busy"] or 0.0, cell["busy"])
    bandwidth = {}
    for key in bw_start:
        bandwidth[key] = max(bw_start[key]["gbps"], bw_end.get(key, bw_start[key])["gbps"])
    for row in rows:
        algo = ALGO_BY_NAME[row["optimizer"].lower()]
        count, size = _parse_layout(row["shape"])
        dtype = np.dtype(row["dtype"])
        gbps = bandwidth.get(_floor_key(algo.loads, algo.stores, dtype))
        moved = (algo.loads + algo.stores) * count * size * dtype.itemsize
        row["floor_ms"] = moved / gbps / 1e6 if gbps else None
        row["floor_gbps"] = gbps
        for _, key in COLUMNS[1:]:
            row[key] = _ms(row.get(key.removesuffix("_ms")))

    optim_file = workers["off"].get("optim_file", "?")
    header = [
        f"python {platform.python_version()}, numpy {np.__version__}, "
        + ", ".join(
            f"{name} {mod.__version__}"
            for name, mod in (("torch", torch), ("jax", sys.modules.get("jax")), ("optax", ox))
            if mod is not None
        )
        + f"; optim from {optim_file}",
        f"{os.cpu_count()} cores; torch threads {args.threads}; load average before "
        f"{' / '.join(f'{x:.2f}' for x in load_before)}, after "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} (1/5/15 min; other processes "
        "on the machine slow every column)",
        f"ms per step, gradients fixed; median of {MIN_REPS}-{MAX_REPS} steps (~{args.budget} s) "
        f"after {WARMUP} warm-up steps",
        f"floor kernel: {floor_kernel}",
        "busy: the share of the machine's CPU that other processes used in the 0.1 s before "
        "the row (the most seen by any of its processes); /fused and /floor: time over torch "
        "fused's and over the floor",
    ]
    print("\n".join(header))
    print(
        f"\nMeasured bandwidth, GB/s, over arrays of {floor_elements:.0e} elements, at the start "
        "and the end of the run (the faster sets every row's floor: the step's bytes at that "
        "bandwidth; rows whose arrays fit in cache can beat it):\n"
    )
    print("| loads+stores | dtype | start | end |\n|---|---|---:|---:|")
    for key, start in bw_start.items():
        pattern, dtype_name = key.split("/")
        end = bw_end.get(key, {}).get("gbps")
        print(f"| {pattern} | {dtype_name} | {_fmt(start['gbps'])} | {_fmt(end)} |")
    print("\n" + _markdown(rows, na))
    if compile_info:
        print(
            "\nnumba first-step time (two variables, 40,015 elements; the first two applies "
            "minus twice the third, which is a steady step; a fresh NUMBA_CACHE_DIR; the first "
            "row also carries numba's one-time start-up):\n"
        )
        print("| optimizer/dtype | cold compile ms | cached load ms |\n|---|---:|---:|")
        cold = compile_info["cold"].get("probes", {})
        cached = compile_info["cached"].get("probes", {})
        for key, probe in cold.items():
            warm = cached.get(key)
            print(f"| {key} | {_fmt(probe['compile_ms'])} | "
                  f"{_fmt(warm['compile_ms']) if warm else '-'} |")  # fmt: skip
    else:
        notes.add("numba compile time: n/a, the optimizers do not use the flat engine yet.")
    if mlp:
        print(f"\nexamples/mlp_digits.py {' '.join(MLP_ARGS)} (median of {args.mlp_runs}):\n")
        print("| OPTIM_ENGINE | fit s (script's own) | process wall s | steps | test accuracy |")
        print("|---|---:|---:|---:|---:|")
        for m in mlp:
            if "error" in m:
                print(f"| {m['mode']} | error: {m['error']} | | | |")
            else:
                print(f"| {m['mode']} | {m['fit_s']:.2f} | {m['wall_s']:.2f} | {m['steps']} | "
                      f"{m['test_accuracy']} |")  # fmt: skip
    if notes:
        print("\nNotes:")
        for note in sorted(notes):
            print(f"- {note}")

    raw = {
        "header": header,
        "floor_kernel": floor_kernel,
        "bandwidth_start": bw_start,
        "bandwidth_end": bw_end,
        "rows": rows,
        "workers": workers,
        "compile": compile_info,
        "mlp_digits": mlp,
        "notes": sorted(notes),
        "load_before": load_before,
        "load_after": load_after,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return raw


if __name__ == "__main__":
    main()
