"""optim.distributed: Horovod's API on mpi4py, tested across real ranks.

The MPI tests start ``mpiexec -n 1/2/3`` in subprocesses with timeouts (tests/mpi_launch.py);
the rank scripts in tests/mpi_scripts write what they saw, and the tests compare it with a
single-process oracle run here, without MPI. The tests of this module that need no ranks run
in the pytest process, which never initialises MPI.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import optim
import optim.distributed as hvd
from optim.distributed.faults import DEFAULT_TIMEOUT, resolve_timeout

from .mpi_launch import ROOT, run

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "mpi_scripts"))
import check_collectives  # noqa: E402
import problem  # noqa: E402

pytestmark = pytest.mark.mpi


# -- without ranks ---------------------------------------------------------------------------
def _python(code):
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_importing_optim_distributed_does_not_import_mpi4py():
    proc = _python("import sys, optim, optim.distributed; print('mpi4py' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_init_without_mpi4py_names_the_extra():
    proc = _python(
        "import sys; sys.modules['mpi4py'] = None\n"
        "import optim.distributed as hvd\n"
        "try:\n    hvd.init()\nexcept ImportError as exc:\n    print(exc)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "optim[mpi]"' in proc.stdout


def test_queries_before_init_raise():
    assert not hvd.is_initialized()
    for query in (hvd.size, hvd.rank, hvd.local_rank, hvd.local_size):
        with pytest.raises(ValueError, match="not been initialized; use hvd.init"):
            query()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(optimizer="sgd"), TypeError, "`optimizer` must be an optim.Optimizer"),
        (dict(op="mean"), ValueError, "`op` must be one of hvd.Average"),
        (dict(compression=None), ValueError, "`compression` must be hvd.Compression"),
        (dict(backward_passes_per_step=0), ValueError, "`backward_passes_per_step` must be"),
        (dict(backward_passes_per_step=2.0), TypeError, "`backward_passes_per_step` must be"),
        (dict(backward_passes_per_step=True), TypeError, "`backward_passes_per_step` must be"),
        (dict(gradient_predivide_factor=0.0), ValueError, "`gradient_predivide_factor` must"),
        (dict(gradient_predivide_factor="2"), TypeError, "`gradient_predivide_factor` must"),
        (dict(gradient_predivide_factor=2.0, op=hvd.Sum), ValueError, "unless op is hvd.Av"),
        (dict(sparse_as_dense=1), TypeError, "sparse_as_dense"),
    ],
    ids=lambda v: str(v)[:40] if not isinstance(v, type) else v.__name__,
)
def test_distributed_optimizer_bad_arguments(graph, kwargs, error, message):
    kwargs = {"optimizer": optim.train.GradientDescentOptimizer(0.1), **kwargs}
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(")):
        hvd.DistributedOptimizer(**kwargs)


def test_timeout_resolution(monkeypatch):
    monkeypatch.delenv("OPTIM_MPI_TIMEOUT", raising=False)
    assert resolve_timeout(None) == DEFAULT_TIMEOUT == 30.0
    assert resolve_timeout(2) == 2.0 and resolve_timeout(0) is None
    monkeypatch.setenv("OPTIM_MPI_TIMEOUT", "7.5")
    assert resolve_timeout(None) == 7.5
    monkeypatch.setenv("OPTIM_MPI_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="`OPTIM_MPI_TIMEOUT` must be a number of seconds"):
        resolve_timeout(None)
    with pytest.raises(ValueError, match="`timeout` must be a finite number of seconds >= 0"):
        resolve_timeout(-1)
    with pytest.raises(ValueError, match="`timeout` must be a finite"):
        resolve_timeout(float("inf"))
    with pytest.raises(TypeError, match="`timeout` must be a number of seconds"):
        resolve_timeout("3")


def test_accumulating_passes_check_first_and_keep_state(graph):
    """With k > 1 the passes before the k-th need no other rank: checks, state, sparse."""
    w = optim.Variable(np.zeros((3, 2)), name="w")
    opt = hvd.DistributedOptimizer(
        optim.train.GradientDescentOptimizer(0.1), backward_passes_per_step=3
    )
    with pytest.raises(ValueError, match="gradient for variable 'w' must have shape"):
        opt.apply_gradients([(np.ones(2), w)])
    assert opt.passes == 0 and opt.variables() == []  # nothing accumulated
    opt.apply_gradients([(np.ones((3, 2)), w)])
    opt.apply_gradients([(optim.IndexedSlices(np.ones((2, 2)), np.array([1, 1]), (3, 2)), w)])
    assert opt.passes == 2 and opt.iterations == 0
    np.testing.assert_array_equal(opt.variables()[0], [[1, 1], [3, 3], [1, 1]])
    assert np.all(w.numpy() == 0)  # no update before the k-th pass
    state = opt.state_dict()
    other = hvd.DistributedOptimizer(
        optim.train.GradientDescentOptimizer(0.1), backward_passes_per_step=3
    )
    other.load_state_dict(state)
    assert other.passes == 2
    np.testing.assert_array_equal(other.variables()[0], opt.variables()[0])
    wrong = hvd.DistributedOptimizer(
        optim.train.GradientDescentOptimizer(0.1), backward_passes_per_step=2
    )
    with pytest.raises(ValueError, match="saved with backward_passes_per_step=3"):
        wrong.load_state_dict(state)
    assert wrong.passes == 0 and wrong.variables() == []


def test_a_pass_without_gradients_still_counts(graph):
    """A rank whose loss reaches no variable in a pass does not stop there with k > 1: the
    other ranks may have gradients, and the cycle's reduction decides for all."""
    w = optim.Variable(np.zeros(2), name="w")
    opt = hvd.DistributedOptimizer(
        optim.train.GradientDescentOptimizer(0.1), backward_passes_per_step=2
    )
    with pytest.raises(TypeError, match=r"`grads_and_vars\[0\]` must hold an optim.Variable"):
        opt.apply_gradients([(None, "w")])
    assert opt.passes == 0
    opt.minimize(lambda: 1.0 + 0.0 * optim.numpy.sum(np.ones(2)), var_list=[w])
    assert opt.passes == 1 and opt.variables() == []


def test_train_and_eval_modes_are_forwarded(graph):
    w = optim.Variable(np.ones(2), name="w")
    plain = hvd.DistributedOptimizer(optim.train.GradientDescentOptimizer(0.1))
    assert not optim.modes.has_modes(plain) and plain.training is None
    inner = optim.train.ScheduleFreeSGDOptimizer(0.1)
    opt = hvd.DistributedOptimizer(inner)
    assert optim.modes.has_modes(opt)
    for _ in range(3):  # local steps (no rank needed), so that x and y differ
        inner.apply_gradients([(np.ones(2), w)])
    training_point = w.numpy()
    opt.eval()
    assert not inner.training and not opt.training
    assert not np.array_equal(w.numpy(), training_point)
    opt.train()
    assert inner.training and opt.training
    np.testing.assert_array_equal(w.numpy(), training_point)


# -- across ranks ----------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"{n}ranks")
def ranks(request, tmp_path_factory):
    """Runs check_collectives.py on n ranks once; yields (n, per-rank records, finals)."""
    n = request.param
    out = tmp_path_factory.mktemp(f"mpi{n}")
    proc, _ = run(n, "check_collectives.py", str(out), timeout=120,
                  env={"OPTIM_MPI_TIMEOUT": "60"})  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads((out / f"rank{r}.json").read_text()) for r in range(n)]
    with np.load(out / "final.npz") as data:
        finals = dict(data)
    return n, records, finals


def _oracle(name, k, average, size):
    """One process, batch size * BATCH per pass (GradientAccumulationOptimizer for k > 1)."""
    x, y = problem.data()
    with optim.Graph().as_default():
        variables = problem.make_variables()
        opt = problem.OPTIMIZERS[name]()
        if k > 1:
            opt = optim.GradientAccumulationOptimizer(opt, k, "mean" if average else "sum")
        for p in range(check_collectives.UPDATES * k):
            rows = problem.step_rows(p, size * check_collectives.BATCH)
            opt.minimize(
                lambda rows=rows: problem.loss(variables, x[rows], y[rows]), var_list=variables
            )
        return {v.name: v.array.copy() for v in variables}


def test_ranks_see_their_places(ranks):
    n, records, _ = ranks
    assert [r["rank"] for r in records] == list(range(n))
    assert {r["size"] for r in records} == {n} == {r["local_size"] for r in records}
    assert [r["local_rank"] for r in records] == list(range(n))


def _config_id(config):
    return f"{config[0]}-k{config[1]}-avg{int(config[2])}"


@pytest.mark.parametrize("config", check_collectives.CONFIGS, ids=_config_id)
def test_ranks_equal_one_big_batch(ranks, config):
    n, records, finals = ranks
    name, k, average = config
    key = f"{name}_k{k}_avg{int(average)}"
    expected = _oracle(name, k, average, n)
    for var_name, value in expected.items():
        np.testing.assert_allclose(finals[f"{key}/{var_name}"], value, rtol=0, atol=1e-12)
    assert not np.allclose(expected["W1"], problem.make_variables()[0].array)  # it trained
    for record in records:
        assert all(record[key]["identical_after_every_pass"])  # bytes equal on every rank
        assert len(record[key]["identical_after_every_pass"]) == check_collectives.UPDATES * k
        assert record[key]["global_step"] == record[key]["iterations"] == check_collectives.UPDATES


def test_none_gradients_are_decided_together(ranks):
    n, records, _ = ranks
    for record in records:
        none = record["none"]
        assert none["d_is_none"] and none["identical"]
        assert none["a"] == [sum(r + 1.0 for r in range(n)) / n] * 3  # the mean of r + 1
        assert none["c"] == [2.0 / n] * 2  # rank 0's gradient, zero elsewhere, averaged
        assert max(record["predivide"]) <= 1e-15  # 1/4 before the sum, 4/size after it
        expected = (2.0 + sum(r + 1.0 for r in range(1, n))) / n  # rank 0: 1 + 1; r: r + 1
        assert record["k2_partial"] == pytest.approx([-expected] * 3, rel=1e-15)  # x (1/n)
        assert record["summed"] == [[sum(r + 1.0 for r in range(n))] * 3, [2.0] * 2]


def test_sparse_gradients_are_allgathered(ranks):
    n, records, _ = ranks
    for record in records:
        sparse = record["sparse"]
        assert sparse["e_indices"] == [r % 6 for r in range(n)]
        assert sparse["e_values"] == [[(r + 1.0) / n] * 2 for r in range(n)]
        assert sparse["f_indices"] == [0] and sparse["f_values"] == [[1.0 / n] * 2]
        dense = np.zeros((6, 2))
        for r in range(n):
            dense[r % 6] += r + 1.0
        np.testing.assert_allclose(sparse["as_dense"], dense / n, rtol=1e-15)
        assert sparse["g_dense"]
        g = np.ones((6, 2))
        for r in range(1, n):
            g[r % 6] += r + 1.0
        np.testing.assert_allclose(sparse["g"], g / n, rtol=1e-15)
        kind, message = sparse["min_refused"]
        assert kind == "ValueError" and "'e'" in message and "sparse_as_dense=True" in message


def test_gradients_are_reduced_in_the_inner_optimizers_flat_buffer(ranks):
    """The hand-off: from the second step on, minimize reduces in the wrapped optimizer's
    flat gradient buffer (per dtype), with the same bits as the fusion buffer's path; an
    optimizer without a flat layout keeps the fusion buffer."""
    _, records, _ = ranks
    for record in records:
        adam, adafactor = record["handoff"]["adam"], record["handoff"]["adafactor"]
        assert adam["same_as_fusion_path"] and adafactor["same_as_fusion_path"]
        assert adam["identical"] and adafactor["identical"]
        assert adam["arenas"] == [False, True, True, True]
        assert adam["fusion_buffer_uses"] == [2, 0, 0, 0]  # then float64 and float32 handed
        assert adafactor["fusion_buffer_uses"] == [2] * 4
        assert adam["into_are_views"] and adam["into_equals_plain"]
        assert adam["kept_owned"]  # compute_gradients' results are not the buffer's views
        assert adafactor["arenas"] == [False] * 4 and not adafactor["into_are_views"]
        assert adafactor["into_equals_plain"]


def test_steady_steps_take_one_allreduce_with_the_full_paths_bits(ranks):
    n, records, _ = ranks
    for record in records:
        steady = record["steady"]
        # step 0 agrees in full (the agreement, then the data); then one Allreduce a step,
        # also when b1's gradient is None on rank 0 (step 3) or on every rank (step 4)
        assert steady["calls"] == [["Allreduce", "Allreduce"]] + [["Allreduce"]] * 5
        assert steady["same_as_full_path"]  # variables and Adam's m after every step
        assert steady["handed_off"]  # in the wrapped optimizer's flat gradient buffer
        assert steady["identical"]
        # fit: the step's one Allreduce, then the logged sums' (one process: the same calls)
        assert steady["fit_calls"][1:] == [["Allreduce", "Allreduce"]] * 3
        if n > 1:
            kind, message = steady["mismatch"]
            assert kind == "ValueError" and "the ranks disagree on tensor 'W2'" in message
            assert steady["unchanged"]
            assert steady["after_mismatch"] == ["Allreduce", "Allreduce"]  # agreed anew


def test_collectives(ranks):
    n, records, _ = ranks
    values = [r + 1.0 for r in range(n)]
    for record in records:
        ops = record["ops"]
        assert ops["Average"] == [sum(values) / n] * 3
        assert ops["Sum"] == [sum(values)] * 3
        assert ops["Min"] == [1.0] * 3 and ops["Max"] == [float(n)] * 3
        assert ops["Product"] == [float(np.prod(values))] * 3
        assert record["results_kept"] == [[sum(values)] * 3, [0.0] * 3]  # not aliased
        assert record["scaled"] == [sum(values)] * 3  # 2x before, 0.5x after
        expected16 = np.float16(np.float32(sum(np.float16(v / 3) for v in values)) / n)
        np.testing.assert_allclose(record["fp16"], float(expected16), rtol=1e-3)
        assert record["grouped"] == [
            ["float32", [3], [sum(values)] * 3],
            ["float64", [2, 2], [float(sum(range(n)))] * 4],
            ["float64", [3], [sum(values)] * 3],
        ]
        assert record["allgather"] == [[float(r)] * 2 for r in range(n) for _ in range(r + 1)]
        assert record["broadcast"] == [float(n)] * 3
        assert record["object"] == {"from": n - 1}
        assert record["global_variables"] == [[n - 1.0] * 2, [n - 1.0] * 3, n - 1 + 5]
        assert record["objects"] == [10 * r for r in range(n)]
        assert record["optimizer_state"] == {"iterations": 3, "identical": True}


@pytest.mark.parametrize("case", ["shape", "name", "dtype"])
def test_mismatched_ranks_raise_naming_the_variable(ranks, case):
    n, records, _ = ranks
    if n == 1:
        pytest.skip("a mismatch needs two ranks")
    for record in records:
        for where in ("", "_broadcast"):
            kind, message = record[f"mismatch_{case}{where}"]
            assert kind == "ValueError"
            assert "the ranks disagree on tensor 'W'" in message
            assert "rank 0: 'W' ((3,), '<f8')" in message
        assert record[f"mismatch_{case}_unchanged"]
        assert record[f"mismatch_{case}_broadcast_unchanged"]
        kind, message = record["allgather_mismatch"]
        assert kind == "ValueError" and "rank 1: 'allgather' ((2,)" in message


def test_bad_input_inside_ranks(ranks):
    n, records, _ = ranks
    bad = records[0]["bad"]
    assert bad["root_value"] == ["ValueError", f"`root_rank` must be an int in [0, {n}), got {n}."]
    assert bad["root_type"][0] == "TypeError" and "`root_rank`" in bad["root_type"][1]
    assert bad["op"][0] == "ValueError" and "got 'sum'" in bad["op"][1]
    assert bad["compression"][0] == "ValueError" and "`compression`" in bad["compression"][1]
    assert bad["prescale"] == [
        "ValueError", "`prescale_factor` must be a positive finite number, got -1.0."
    ]  # fmt: skip
    assert bad["scalar_allgather"][0] == "ValueError"
    assert bad["string_tensor"][0] == "TypeError" and "numeric" in bad["string_tensor"][1]
    assert bad["not_variable"][0] == "TypeError" and "`variables[0]`" in bad["not_variable"][1]
    kind, message = bad["wrong_gradient_shape"]
    assert kind == "ValueError" and "'z'" in message and "shape (2,)" in message


# -- faults: no hang, ever -------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode, n, rc, cause",
    [
        ("raise", 2, 1, "rank 1 raised InjectedFault: injected failure in the loss"),
        ("raise", 3, 1, "rank 2 raised InjectedFault: injected failure in the loss"),
        ("kill", 2, 9, "Killed (signal 9)"),
        ("hang", 2, 70, "did not complete within 2 s"),
        ("exit", 2, 70, "did not complete within 2 s"),
    ],
)
def test_a_failing_rank_ends_the_job(mode, n, rc, cause):
    proc, elapsed = run(n, "faulty_rank.py", mode, timeout=60, env={"OPTIM_MPI_TIMEOUT": "2"})
    assert proc.returncode == rc, proc.stdout + proc.stderr
    assert cause in proc.stdout + proc.stderr
    assert "step 2" in proc.stdout and "done" not in proc.stdout  # it failed mid-training
    assert elapsed < 30  # the bound: the fault's own time plus the 2 s timeout, loaded machine


def test_a_healthy_job_ends_cleanly():
    proc, _ = run(2, "faulty_rank.py", "none", timeout=60, env={"OPTIM_MPI_TIMEOUT": "2"})
    assert proc.returncode == 0, proc.stderr
    assert "rank 0 done" in proc.stdout and "rank 1 done" in proc.stdout
