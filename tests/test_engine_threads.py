"""optim.engine.threads: the numpy kernels' blocks in threads, with the same bits."""

from __future__ import annotations

import numpy as np
import pytest

from optim.engine import numpy_kernels, threads

BLOCK = numpy_kernels.DEFAULT_BLOCK
THREADED = numpy_kernels.THREADED_MIN_BLOCKS * BLOCK  # the smallest buffer that takes threads


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5, 10**6 + 3])
@pytest.mark.parametrize("chunks", [1, 2, 3, 8])
def test_chunk_bounds_cover_the_range_on_block_boundaries(size, chunks):
    bounds = threads.chunk_bounds(size, chunks, BLOCK)
    assert bounds[0][0] == 0 and bounds[-1][1] == size
    assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))
    assert all(a % BLOCK == 0 for a, _ in bounds)
    assert 1 <= len(bounds) <= chunks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("count", ["2", "3", "5"])
@pytest.mark.parametrize("size", [THREADED - 1, THREADED, THREADED + 17])
def test_threaded_kernels_are_bit_identical_to_one_thread(size, count, dtype, monkeypatch):
    rng = np.random.default_rng(size)
    grad = (rng.normal(size=size) * 10.0 ** rng.uniform(-6, 2, size=size)).astype(dtype)
    grad[::1001] = np.nan
    grad[5::7919] = np.inf
    start = [rng.normal(size=size).astype(dtype), np.zeros(size, dtype), np.zeros(size, dtype)]
    scalars = [dtype(1e-3), dtype(0.9), dtype(0.999), dtype(1e-8)]
    runs = {}
    for threads_env in ("1", count):
        monkeypatch.setenv("OPTIM_NUM_THREADS", threads_env)
        arrays = [a.copy() for a in start]
        for _ in range(3):
            numpy_kernels.adam(arrays[0], arrays[1], arrays[2], None, grad, *scalars)
            numpy_kernels.rmsprop(arrays[0], arrays[1], None, arrays[2], grad, *scalars)
        runs[threads_env] = arrays
    for a, b in zip(runs["1"], runs[count]):
        np.testing.assert_array_equal(a, b, strict=True)


def test_the_chunks_really_run_in_threads(monkeypatch):
    seen = set()

    def call(start, stop):
        import threading

        seen.add(threading.get_ident())

    threads.run_chunks(call, 4 * BLOCK, 2, BLOCK)
    assert len(seen) == 2


def test_an_error_in_any_chunk_is_raised_after_all_chunks_finish():
    done = []

    def call(start, stop):
        done.append(start)
        if start > 0:
            raise RuntimeError(f"chunk {start}")

    with pytest.raises(RuntimeError, match=f"chunk {BLOCK}"):
        threads.run_chunks(call, 3 * BLOCK, 3, BLOCK)
    assert sorted(done) == [0, BLOCK, 2 * BLOCK]


def test_a_bad_call_raises_and_changes_nothing(monkeypatch):
    monkeypatch.setenv("OPTIM_NUM_THREADS", "2")
    var, accum = np.ones(THREADED, np.float32), np.zeros(THREADED, np.float32)
    with pytest.raises(TypeError, match="dtype"):
        numpy_kernels.momentum(var, accum, np.ones(THREADED, np.float64), 0.1, 0.9)
    np.testing.assert_array_equal(var, 1.0)
    np.testing.assert_array_equal(accum, 0.0)


def test_thread_count_reads_the_environment(monkeypatch):
    monkeypatch.setenv("OPTIM_NUM_THREADS", "3")
    assert threads.thread_count() == 3
    monkeypatch.delenv("OPTIM_NUM_THREADS")
    assert threads.thread_count() >= 1
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv("OPTIM_NUM_THREADS", bad)
        with pytest.raises(ValueError, match=r"\$OPTIM_NUM_THREADS must be a positive integer"):
            threads.thread_count()


def test_the_callers_floating_point_settings_reach_every_chunk(monkeypatch):
    monkeypatch.setenv("OPTIM_NUM_THREADS", "2")
    var, accum = np.ones(THREADED, np.float32), np.zeros(THREADED, np.float32)
    grad = np.ones(THREADED, np.float32)
    grad[-1] = np.inf  # in the last chunk, run by a pool thread: inf * 0 is invalid
    with np.errstate(invalid="raise"):
        with pytest.raises(FloatingPointError):
            numpy_kernels.momentum(var, accum, grad, np.float32(0.0), np.float32(0.0))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            numpy_kernels.momentum(var, accum, grad, np.float32(0.0), np.float32(0.0))


def test_a_forked_child_gets_a_pool_of_its_own(monkeypatch):
    import multiprocessing

    monkeypatch.setenv("OPTIM_NUM_THREADS", "2")
    threads.run_chunks(lambda a, b: None, 4 * BLOCK, 2, BLOCK)  # the parent's pool exists

    context = multiprocessing.get_context("fork")
    child = context.Process(target=threads.run_chunks, args=(_noop, 4 * BLOCK, 2, BLOCK))
    child.start()
    child.join(timeout=30)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0  # it finished instead of waiting on dead threads


def _noop(start, stop):
    return None
