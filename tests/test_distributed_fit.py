"""optim.fit across ranks: sharded epochs, averaged logs, rank-0 checkpoints, exact resume.

Two ranks train with ``hvd.DistributedOptimizer`` through a Trainer (tests/mpi_scripts/
fit_ranks.py): once to the end, once killed (SIGKILL) mid-epoch, then resumed from the
checkpoint rank 0 wrote. The tests compare the runs with each other and with one process
running the same steps on the union of the ranks' batches.
"""

import json
import pathlib
import sys

import numpy as np
import pytest

import optim

from .mpi_launch import run

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "mpi_scripts"))
import fit_ranks  # noqa: E402
import problem  # noqa: E402

pytestmark = pytest.mark.mpi
RANKS = 2


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The full run, the killed run and its resumption; their outputs by mode."""
    out = tmp_path_factory.mktemp("fit")
    full_dir, ckpt_dir = out / "ckpt_full", out / "ckpt"
    results = {}
    for mode, directory in (("full", full_dir), ("killed", ckpt_dir), ("resume", ckpt_dir)):
        proc, _ = run(RANKS, "fit_ranks.py", str(out), str(directory), mode, timeout=90,
                      env={"OPTIM_MPI_TIMEOUT": "30"})  # fmt: skip
        results[mode] = {"proc": proc}
        if mode == "killed":
            results[mode]["files"] = sorted(p.name for p in ckpt_dir.iterdir())
            continue
        assert proc.returncode == 0, proc.stdout + proc.stderr
        results[mode]["ranks"] = [
            json.loads((out / f"{mode}-rank{r}.json").read_text()) for r in range(RANKS)
        ]
        with np.load(out / f"{mode}.npz") as data:
            results[mode]["variables"] = dict(data)
    return results


def _one_process_oracle():
    """One process, one optimizer, batches of RANKS * BATCH rows of the padded order."""
    x, y = problem.data()
    x, y = x[: fit_ranks.EXAMPLES], y[: fit_ranks.EXAMPLES]
    n = fit_ranks.EXAMPLES
    padded_n = -(-n // RANKS) * RANKS
    big = RANKS * fit_ranks.BATCH
    with optim.Graph().as_default():
        variables = problem.make_variables()
        opt = problem.OPTIMIZERS["adam"]()
        for epoch in range(fit_ranks.EPOCHS):
            order = np.random.default_rng([fit_ranks.SEED, epoch]).permutation(n)
            padded = np.concatenate([order, order[: padded_n - n]])
            for start in range(0, padded_n, big):
                rows = padded[start : start + big]
                opt.minimize(
                    lambda rows=rows: problem.loss(variables, x[rows], y[rows]),
                    var_list=variables,
                )
        return {v.name: v.array.copy() for v in variables}


def test_ranks_train_like_one_process_on_their_union(runs):
    full = runs["full"]
    for name, value in _one_process_oracle().items():
        np.testing.assert_allclose(full["variables"][name], value, rtol=0, atol=1e-12)
    per_rank = -(-fit_ranks.EXAMPLES // RANKS)
    for seen in full["ranks"]:
        assert seen["steps_per_epoch"] == -(-per_rank // fit_ranks.BATCH)
        assert seen["step"] == fit_ranks.EPOCHS * seen["steps_per_epoch"]


def test_logs_are_averaged_over_ranks_and_progress_is_shown_once(runs):
    full = runs["full"]
    histories = [seen["history"] for seen in full["ranks"]]
    assert histories[0] == histories[1]  # the same means on every rank, to the bit
    assert set(histories[0]) == {"loss", "mae", "val_loss", "val_mae"}
    assert len(histories[0]["loss"]) == fit_ranks.EPOCHS
    stdout = full["proc"].stdout
    for epoch in range(1, fit_ranks.EPOCHS + 1):
        assert stdout.count(f"epoch {epoch}/{fit_ranks.EPOCHS} - step") == 1


def test_only_rank_0_writes_checkpoints(runs):
    ranks = runs["full"]["ranks"]
    assert ranks[0]["last_saved"] is not None and ranks[0]["last_saved"].endswith(".npz")
    assert ranks[1]["last_saved"] is None


def test_resume_after_a_kill_is_bit_identical(runs):
    killed, resumed, full = runs["killed"], runs["resume"], runs["full"]
    assert killed["proc"].returncode == 9, killed["proc"].stderr
    assert killed["files"] == ["ckpt-4.npz", "ckpt-8.npz"]  # killed after step 11
    restored = {seen["restored_from"] for seen in resumed["ranks"]}
    assert len(restored) == 1 and restored.pop().endswith("ckpt-8.npz")  # the same on all
    for name, value in full["variables"].items():
        assert resumed["variables"][name].tobytes() == value.tobytes()
    assert resumed["ranks"][0]["history"] == full["ranks"][0]["history"]


def test_trainer_distribution_must_be_a_distribution(graph):
    w = optim.Variable(np.zeros(2), name="w")
    with pytest.raises(TypeError, match="`distribution` must be an optim.training.data.Distri"):
        optim.training.Trainer(
            lambda xb, yb: optim.numpy.sum(w.value * xb[0]),
            np.ones((4, 2)),
            optimizer=optim.train.GradientDescentOptimizer(0.1),
            distribution="mpi",
        )


def test_trainer_with_a_distributed_optimizer_needs_init(graph):
    import optim.distributed as hvd

    w = optim.Variable(np.zeros(2), name="w")
    opt = hvd.DistributedOptimizer(optim.train.GradientDescentOptimizer(0.1))
    with pytest.raises(ValueError, match="not been initialized; use hvd.init"):
        optim.training.Trainer(
            lambda xb, yb: optim.numpy.sum(w.value * xb[0]), np.ones((4, 2)), optimizer=opt
        )
