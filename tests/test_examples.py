"""Every example runs as shown (smoke tests, with their accuracy claims checked)."""

import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

import optim

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def test_mnist_softmax_reaches_095_on_digits(graph, capsys):
    accuracy = load("mnist_softmax")["main"]([])
    assert accuracy >= 0.95
    out = capsys.readouterr().out
    assert "test accuracy" in out and "trained 1000 steps" in out


def _fake_mnist(directory, n_train=60, n_test=20, gz=True):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, label in enumerate(labels):  # a learnable pattern: one bright row per class
            images[i, 2 * label + 4, 4:24] = 255
        suffix = ".gz" if gz else ""
        optim.datasets.write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
        optim.datasets.write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_mnist_softmax_reads_idx_files(graph, tmp_path, capsys, gz):
    _fake_mnist(tmp_path, gz=gz)
    accuracy = load("mnist_softmax")["main"](
        ["--data-dir", str(tmp_path), "--steps", "50", "--batch-size", "20"]
    )
    assert accuracy == 1.0
    assert f"MNIST from {tmp_path}" in capsys.readouterr().out


def test_mnist_softmax_missing_idx_file_is_a_clear_error(graph, tmp_path):
    _fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load("mnist_softmax")["main"](["--data-dir", str(tmp_path)])


def test_mnist_softmax_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "mnist_softmax.py"), "--steps", "20"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout


def test_autodiff_vs_numeric_small(tmp_path, capsys):
    out = tmp_path / "figure.png"
    table = load("autodiff_vs_numeric")["main"](["--sizes", "10,100", "--out", str(out)])
    assert out.stat().st_size > 10_000
    for rows in table.values():
        for _, results in rows:
            assert results["autodiff"][0] < 1e-13
            assert results["cs"][0] < 1e-13
            assert results["3-point"][0] < 1e-6
            assert results["2-point"][0] < 1e-4
    assert "relative error vs the hand-written gradient" in capsys.readouterr().out


def test_logistic_lbfgs_matches_scikit_learn(graph, capsys):
    ours, theirs = load("logistic_lbfgs")["main"]([])
    assert abs(ours - theirs) <= 0.01
    assert ours >= 0.95
    assert "CONVERGENCE" in capsys.readouterr().out


@pytest.mark.jax
def test_two_engines_trains_the_same_loss_on_both_backends(capsys):
    pytest.importorskip("jax")
    differences, losses = load("two_engines")["main"](["--steps", "30"])
    assert set(differences) == {"autograd", "jax", "jax, jit_closure"}
    assert max(differences.values()) < 1e-10  # the same run on both engines, to rounding
    assert losses["jax"] == pytest.approx(losses["autograd"], rel=1e-10)
    assert losses["autograd"] < np.log(10)  # it trained: below chance's cross entropy
    assert "ms/step" in capsys.readouterr().out


@pytest.mark.mpi
def test_mlp_digits_mpi_trains_on_two_ranks():
    from .mpi_launch import ROOT, run

    proc, _ = run(2, str(ROOT / "examples" / "mlp_digits_mpi.py"), "--epochs", "4", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.count("test accuracy") == 1  # printed by rank 0 only
    assert out.count("epoch 4/4 - step") == 1  # progress on rank 0 only
    assert "2 ranks x batch 32" in out
    accuracy = float(out.split("test accuracy:")[1].split()[0])
    assert accuracy >= 0.85  # 4 epochs of 23 steps each (5 epochs reach 0.93)


def test_compare_optimizers_small(graph, tmp_path, capsys):
    out = tmp_path / "compare.png"
    table = load("compare_optimizers")["main"](
        ["--steps", "40", "--mlp-epochs", "2", "--out", str(out)]
    )
    assert out.stat().st_size > 50_000
    assert set(table) == {"Rosenbrock", "Beale", "MLP"}
    curves = table["MLP"]
    assert set(curves) == {"Adam", "Muon", "Schedule-Free AdamW", "Prodigy"}
    for name, (val_loss, accuracy) in curves.items():
        assert len(val_loss) == 2, name
        assert val_loss[-1] < np.log(10), name  # it learned: below chance's cross entropy
        assert accuracy > 0.1, name
    assert "Schedule-Free AdamW" in capsys.readouterr().out
