"""optim.plotting, and smoke tests of the examples that train with optim.fit or draw plots."""

import csv
import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

import optim
from optim.plotting import plot_history
from optim.training import History

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load(name):
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def make_history():
    history = History()
    for epoch in range(5):
        history.on_epoch_end(
            epoch,
            {
                "loss": 2.0 / (epoch + 1),
                "accuracy": 0.5 + 0.1 * epoch,
                "val_loss": 2.5 / (epoch + 1),
                "val_accuracy": 0.45 + 0.1 * epoch,
                "learning_rate": 0.1 * 0.5**epoch,
            },
        )
    return history


def test_plot_history_writes_a_png_with_a_panel_per_quantity(tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_history(make_history(), path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy", "learning_rate"]
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train", "validation"]
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_xdata(), [1, 2, 3, 4, 5])
    assert fig.axes[2].get_yscale() == "log"


def test_plot_history_accepts_a_dict_and_a_selection():
    fig = plot_history({"loss": [3.0, 2.0], "mae": [1.0, 0.5]}, metrics=["mae"])
    assert [ax.get_title() for ax in fig.axes] == ["mae"]
    fig = plot_history(make_history(), metrics="loss")
    assert [ax.get_title() for ax in fig.axes] == ["loss"]


def test_plot_history_of_a_real_fit(graph, tmp_path):
    import autograd.numpy as anp

    w = optim.Variable(np.zeros(2), name="w")
    x = np.random.default_rng(0).normal(size=(40, 2))
    y = x @ np.array([1.0, -1.0])
    history = optim.training.fit(
        lambda xb, yb: anp.mean((xb @ w.value - yb) ** 2),
        x,
        y,
        optimizer=optim.train.GradientDescentOptimizer(0.1),
        epochs=3,
        validation_data=(x[:10], y[:10]),
        verbose=0,
    )
    plot_history(history, tmp_path / "fit.svg")
    assert (tmp_path / "fit.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "history, metrics, error, match",
    [
        ([1, 2], None, TypeError, "`history` must be an optim.training.History or a dict"),
        ({}, None, ValueError, "`history` must hold at least one epoch"),
        ({"loss": []}, None, ValueError, "`history` must hold at least one epoch"),
        (
            {"loss": [1.0]},
            ["acc"],
            ValueError,
            r"`metrics` must be names in the history \['loss'\]",
        ),
    ],
    ids=["type", "empty", "no-epochs", "unknown-metric"],
)
def test_plot_history_bad_input(history, metrics, error, match):
    with pytest.raises(error, match=match):
        plot_history(history, metrics=metrics)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install \"optim\[examples\]\""):
        plot_history({"loss": [1.0]})


def test_importing_optim_plotting_does_not_import_matplotlib():
    code = "import sys, optim.plotting; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# -- examples/compare_optimizers.py ------------------------------------------------------------
def test_compare_optimizers_draws_both_problems(tmp_path, capsys):
    out = tmp_path / "compare.png"
    table = load("compare_optimizers")["main"](
        ["--out", str(out), "--steps", "60", "--mlp-epochs", "1"]
    )
    assert out.read_bytes()[:8] == PNG_MAGIC and out.stat().st_size > 50_000
    assert list(table) == ["Rosenbrock", "Beale", "MLP"]  # the MLP panel: test_examples.py
    table = {title: table[title] for title in ("Rosenbrock", "Beale")}
    expected = {"GD", "Momentum", "Nesterov"}
    for name, cls in [("Adam", "AdamOptimizer"), ("Lion", "LionOptimizer")]:
        if hasattr(optim.train, cls):
            expected.add(name)
    for results in table.values():
        assert expected <= set(results)
        for final, path in results.values():
            assert np.isfinite(final) and path.shape[1] == 2 and len(path) > 1
    start = {"Rosenbrock": 24.2, "Beale": 41.25}  # f at the common start point
    for title, results in table.items():
        assert results["Momentum"][0] < start[title] / 5
    assert "final f(x) after at most 60 steps" in capsys.readouterr().out


def test_compare_optimizers_runs_as_a_script(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "compare_optimizers.py"), "--steps", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "compare_optimizers.png").read_bytes()[:8] == PNG_MAGIC


# -- examples/mlp_digits.py ------------------------------------------------------------------
def test_mlp_digits_reaches_097_with_default_settings(graph, capsys):
    accuracy = load("mlp_digits")["main"]([])
    assert accuracy >= 0.97
    out = capsys.readouterr().out
    assert "test accuracy" in out and "best val_loss" in out


def test_mlp_digits_on_the_jax_backend(graph, capsys):
    pytest.importorskip("jax")
    accuracy = load("mlp_digits")["main"](["--backend", "jax", "--epochs", "3", "--verbose", "0"])
    out = capsys.readouterr().out
    assert "jax backend" in out and "trained 3 epochs (120 steps)" in out
    assert accuracy > 0.9
    assert optim.get_backend().name == "autograd"  # the example's block restored it


def test_mlp_digits_checkpoints_resume_csv_and_plot(graph, tmp_path, capsys):
    directory = tmp_path / "run"
    main = load("mlp_digits")["main"]
    common = ["--checkpoint-dir", str(directory), "--csv", str(tmp_path / "log.csv")]
    main([*common, "--epochs", "2", "--verbose", "0"])
    assert sorted(p.name for p in directory.iterdir()) == ["ckpt-40.npz", "ckpt-80.npz"]
    with optim.Graph().as_default():  # a fresh model, resumed from the checkpoint
        accuracy = main([*common, "--epochs", "4", "--resume", "--plot", str(tmp_path / "c.png")])
    out = capsys.readouterr().out
    assert f"resumed from {directory / 'ckpt-80.npz'}" in out
    assert "trained 4 epochs (160 steps)" in out
    assert accuracy > 0.8
    rows = list(csv.reader((tmp_path / "log.csv").open()))
    assert [r[0] for r in rows] == ["epoch", "0", "1", "2", "3"]
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG_MAGIC
