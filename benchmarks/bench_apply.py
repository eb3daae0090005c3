"""Per-step cost of ``Optimizer.apply_gradients`` against a hand-written numpy loop.

What is measured: one ``opt.apply_gradients(grads_and_vars)`` call with a pre-built
``grads_and_vars`` list (gradients fixed, built once from ``np.random.default_rng(0)``), for
one tensor of 1e3, 1e5 and 1e7 parameters and for 1000 tensors of 1e3, in float32 and float64.
Beside it, in the same run and interleaved block by block, a plain in-place numpy loop does the
same math over the same gradient arrays, e.g. ``for w, g in zip(params, grads): w -= lr * g``.

Timing: a few warm-up steps (which also check that both sides compute the same numbers), then a
block of steps sized to take about ``--block-seconds``, repeated ``--repeats`` times with
``time.perf_counter``; the median block time divided by its step count is reported in
microseconds per step.

Reading the ratio (optim / numpy): for large tensors both sides are memory-bound and the ratio
shows the cost of optim's kernels themselves (in-place ufuncs with ``out=`` and a reused scratch
buffer, against numpy expressions that allocate temporaries), ideally <= 1. For small or many
tensors it shows optim's fixed Python overhead per call and per variable (validation, hooks,
slot and hyperparameter lookups); ~1 means no overhead, 3 means a step costs 3x the bare loop.

Usage::

    PYTHONPATH=. python benchmarks/bench_apply.py            # full table (~15 s on 2 cores)
    PYTHONPATH=. python benchmarks/bench_apply.py --quick    # smoke test, a few seconds
    PYTHONPATH=. python benchmarks/bench_apply.py --sizes 1000x1e3 --dtypes float32

There is no BLAS call here, so BLAS settings (OPENBLAS_CORETYPE, thread counts) do not matter.
To benchmark another optimizer, add a row to ``BENCHES``.
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import optim

LEARNING_RATE = 0.01
MOMENTUM = 0.9


# -- numpy references: state init and one in-place step over lists of arrays --------------------
def _no_state(params: list[np.ndarray]) -> None:
    return None


def _zeros_like_each(params: list[np.ndarray]) -> list[np.ndarray]:
    return [np.zeros_like(w) for w in params]


def _gd_step(params: list[np.ndarray], grads: list[np.ndarray], state: None) -> None:
    lr = LEARNING_RATE
    for w, g in zip(params, grads):
        w -= lr * g


def _momentum_step(params: list[np.ndarray], grads: list[np.ndarray], accums: list) -> None:
    lr, mu = LEARNING_RATE, MOMENTUM
    for w, g, a in zip(params, grads, accums):
        a *= mu
        a += g
        w -= lr * a


def _nesterov_step(params: list[np.ndarray], grads: list[np.ndarray], accums: list) -> None:
    lr, mu = LEARNING_RATE, MOMENTUM
    for w, g, a in zip(params, grads, accums):
        a *= mu
        a += g
        w -= lr * g + lr * mu * a


@dataclass(frozen=True)
class Bench:
    """One row of the benchmark table: an optim optimizer and its numpy twin."""

    name: str
    make: Callable[[], optim.Optimizer]
    init: Callable[[list[np.ndarray]], Any]
    step: Callable[[list[np.ndarray], list[np.ndarray], Any], None]


BENCHES: list[Bench] = [
    Bench(
        "GradientDescent",
        lambda: optim.GradientDescentOptimizer(LEARNING_RATE),
        _no_state,
        _gd_step,
    ),
    Bench(
        "Momentum",
        lambda: optim.MomentumOptimizer(LEARNING_RATE, MOMENTUM),
        _zeros_like_each,
        _momentum_step,
    ),
    Bench(
        "Nesterov",
        lambda: optim.MomentumOptimizer(LEARNING_RATE, MOMENTUM, use_nesterov=True),
        _zeros_like_each,
        _nesterov_step,
    ),
]

FULL_SIZES = ("1x1e3", "1x1e5", "1x1e7", "1000x1e3")
QUICK_SIZES = ("1x1e3", "100x1e3")
DTYPES = ("float32", "float64")


# -- command line --------------------------------------------------------------------------------
def _parse_layout(text: str) -> tuple[int, int]:
    """``"1000x1e3"`` -> (1000, 1000); a bare size ``"1e5"`` means one tensor."""
    count_text, _, size_text = text.lower().rpartition("x")
    try:
        count = _parse_int(count_text) if count_text else 1
        size = _parse_int(size_text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size must look like 1e5 or 1000x1e3, got {text!r}."
        ) from None
    return count, size


def _parse_int(text: str) -> int:
    value = float(text)
    if not value.is_integer() or value < 1:
        raise ValueError(text)
    return int(value)


def _layout_label(count: int, size: int) -> str:
    exponent = round(math.log10(size))
    size_text = f"1e{exponent}" if 10**exponent == size else str(size)
    return f"{count}x{size_text}"


def _split_commas(values: Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [item for value in values for item in value.split(",") if item]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Per-step time of Optimizer.apply_gradients against a numpy loop."
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small sizes ({', '.join(QUICK_SIZES)}) and few repeats: a smoke test",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        metavar="COUNTxSIZE",
        help=f"tensor layouts, e.g. 1e5 or 1000x1e3 (default: {' '.join(FULL_SIZES)})",
    )
    parser.add_argument("--dtypes", nargs="+", metavar="DTYPE", help=f"default: {' '.join(DTYPES)}")
    parser.add_argument(
        "--optimizers",
        nargs="+",
        metavar="NAME",
        help=f"rows of the table to run (default: all of {', '.join(b.name for b in BENCHES)})",
    )
    parser.add_argument("--repeats", type=int, help="timed blocks per side (default 7; quick 3)")
    parser.add_argument(
        "--block-seconds",
        type=float,
        help="target duration of one timed block (default 0.03; quick 0.002)",
    )
    args = parser.parse_args(argv)

    sizes = _split_commas(args.sizes) or list(QUICK_SIZES if args.quick else FULL_SIZES)
    try:
        args.layouts = [_parse_layout(s) for s in sizes]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--sizes: {exc}")
    dtypes = _split_commas(args.dtypes) or list(DTYPES)
    try:
        args.dtypes = [np.dtype(d) for d in dtypes]
    except TypeError:
        parser.error(f"--dtypes: unknown dtype in {dtypes!r}.")
    if any(d.kind != "f" for d in args.dtypes):
        parser.error(f"--dtypes: floating dtypes only, got {dtypes!r}.")
    names = _split_commas(args.optimizers)
    known = {b.name.lower(): b for b in BENCHES}
    if names is None:
        args.benches = list(BENCHES)
    else:
        unknown = [n for n in names if n.lower() not in known]
        if unknown:
            parser.error(f"--optimizers: unknown {unknown!r}; choose from {list(known)}.")
        args.benches = [known[n.lower()] for n in names]
    if args.repeats is None:
        args.repeats = 3 if args.quick else 7
    if args.block_seconds is None:
        args.block_seconds = 0.002 if args.quick else 0.03
    if args.repeats < 1 or args.block_seconds <= 0:
        parser.error("--repeats must be >= 1 and --block-seconds > 0.")
    return args


# -- timing --------------------------------------------------------------------------------------
def _time_block(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def _calibrate(step: Callable[[], None], block_seconds: float) -> int:
    """The number of steps that makes one block last about ``block_seconds``."""
    steps = 1
    while True:
        elapsed = _time_block(step, steps)
        if elapsed >= block_seconds / 8 or steps >= 1 << 20:
            return max(1, math.ceil(steps * block_seconds / max(elapsed, 1e-9)))
        steps *= 2


def _check_same_math(bench: Bench, variables: list, params: list[np.ndarray]) -> None:
    """After the warm-up, optim and the numpy loop must hold the same parameters."""
    tol = 100 * np.finfo(variables[0].dtype).eps
    for var, w in zip(variables, params):
        if not np.allclose(var._value, w, rtol=tol, atol=tol):
            raise RuntimeError(
                f"{bench.name}: optim and the numpy reference disagree on {var.name!r}; "
                "the benchmark would compare different math."
            )


def _run_case(
    bench: Bench,
    params: list[np.ndarray],
    grads: list[np.ndarray],
    repeats: int,
    block_seconds: float,
    warmup: int = 3,
) -> dict[str, Any]:
    with optim.Graph().as_default():
        variables = [optim.Variable(w, name=f"w{i}") for i, w in enumerate(params)]
    opt = bench.make()
    grads_and_vars = list(zip(grads, variables))
    state = bench.init(params)

    def optim_step() -> None:
        opt.apply_gradients(grads_and_vars)

    def numpy_step() -> None:
        bench.step(params, grads, state)

    for _ in range(warmup):
        optim_step()
        numpy_step()
    _check_same_math(bench, variables, params)

    optim_steps = _calibrate(optim_step, block_seconds)
    numpy_steps = _calibrate(numpy_step, block_seconds)
    optim_times, numpy_times = [], []
    for _ in range(repeats):  # interleaved, so drifting clocks affect both sides alike
        optim_times.append(_time_block(optim_step, optim_steps) / optim_steps)
        numpy_times.append(_time_block(numpy_step, numpy_steps) / numpy_steps)
    optim_us = statistics.median(optim_times) * 1e6
    numpy_us = statistics.median(numpy_times) * 1e6
    return {
        "optim_us": optim_us,
        "numpy_us": numpy_us,
        "ratio": optim_us / numpy_us,
        "optim_steps": optim_steps,
        "numpy_steps": numpy_steps,
        "repeats": repeats,
    }


# -- output --------------------------------------------------------------------------------------
_COLUMNS = (
    ("optimizer", "<16", "optimizer", "{}"),
    ("layout", "<9", "layout", "{}"),
    ("dtype", "<8", "dtype", "{}"),
    ("optim_us", ">14", "optim µs/step", "{:.1f}"),
    ("numpy_us", ">14", "numpy µs/step", "{:.1f}"),
    ("ratio", ">6", "ratio", "{:.2f}"),
)


def _format_row(row: dict[str, Any] | None) -> str:
    cells = []
    for key, align, title, fmt in _COLUMNS:
        text = title if row is None else fmt.format(row[key])
        cells.append(f"{text:{align}}")
    return "  ".join(cells).rstrip()


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Runs the benchmark, prints the table and returns its rows (one dict per line)."""
    args = _parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, optim {optim.__version__}")
    print(
        f"lr={LEARNING_RATE}, momentum={MOMENTUM}; median of {args.repeats} blocks of "
        f"~{args.block_seconds * 1e3:g} ms; ratio = optim / numpy"
    )
    header = _format_row(None)
    print(header)
    print("-" * len(header))
    rows = []
    rng = np.random.default_rng(0)
    for count, size in args.layouts:
        for dtype in args.dtypes:
            grads = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
            initial = [rng.standard_normal(size).astype(dtype) for _ in range(count)]
            for bench in args.benches:
                params = [w.copy() for w in initial]
                row = {
                    "optimizer": bench.name,
                    "layout": _layout_label(count, size),
                    "dtype": dtype.name,
                    **_run_case(bench, params, grads, args.repeats, args.block_seconds),
                }
                rows.append(row)
                print(_format_row(row), flush=True)
                del params
                gc.collect()
            del grads, initial
    return rows


if __name__ == "__main__":
    main()
