"""Choosing the autodiff engine: set_backend, use_backend, minimize(backend=), lazy imports.

Also the layout rule of issue 11: no module of optim but the autograd engine imports autograd.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import optim

PACKAGE = pathlib.Path(optim.__file__).resolve().parent


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_importing_optim_does_not_import_jax():
    out = _run(
        """
        import sys
        import optim
        optim.minimize(lambda x: (x[0] - 1.0) ** 2, [0.0])
        print("jax" in sys.modules, optim.get_backend().name)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "autograd"]


def test_without_jax_the_error_says_how_to_install_it():
    out = _run(
        """
        import sys
        sys.modules["jax"] = None  # as if jax were not installed
        import optim
        for attempt in (lambda: optim.set_backend("jax"),
                        lambda: optim.minimize(lambda x: x[0] ** 2, [1.0], backend="jax"),
                        lambda: optim.use_backend("jax").__enter__()):
            try:
                attempt()
            except ImportError as exc:
                print("ImportError:", exc)
        print("active:", optim.get_backend().name)
        """
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 4
    for line in lines[:3]:
        assert line.startswith("ImportError:") and 'pip install "optim[jax]"' in line
    assert lines[3] == "active: autograd"


def test_only_the_autograd_engine_imports_autograd():
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name.split(".")[0] == "autograd" for name in names):
                importers.append(path.relative_to(PACKAGE).as_posix())
    assert sorted(set(importers)) == ["backends/autograd.py"]


def test_default_is_autograd():
    assert optim.get_backend().name == "autograd"
    assert optim.get_backend() is optim.get_backend("autograd")
    assert isinstance(optim.get_backend(), optim.AutogradBackend)


@pytest.mark.parametrize("bad", ["tensorflow", "Autograd", ""])
def test_bad_names_raise_value_error_naming_the_argument(bad):
    message = r"must be one of \('autograd', 'jax'\)"
    with pytest.raises(ValueError, match=r"^`name` " + message):
        optim.set_backend(bad)
    with pytest.raises(ValueError, match=r"^`name` " + message):
        with optim.use_backend(bad):
            pass
    with pytest.raises(ValueError, match=r"^`name` " + message):
        optim.get_backend(bad)
    with pytest.raises(ValueError, match=r"^`backend` " + message):
        optim.minimize(lambda x: x[0] ** 2, [1.0], backend=bad)
    assert optim.get_backend().name == "autograd"


def test_non_string_names_raise_type_error():
    with pytest.raises(TypeError, match="^`name` must be one of"):
        optim.set_backend(optim.get_backend())
    with pytest.raises(TypeError, match="^`backend` must be one of"):
        optim.minimize(lambda x: x[0] ** 2, [1.0], backend=1)


def test_set_backend_changes_the_default_of_every_thread():
    pytest.importorskip("jax")
    seen = []
    try:
        optim.set_backend("jax")
        assert optim.get_backend().name == "jax"
        worker = threading.Thread(target=lambda: seen.append(optim.get_backend().name))
        worker.start()
        worker.join()
        with optim.use_backend("autograd"):
            assert optim.get_backend().name == "autograd"
        assert optim.get_backend().name == "jax"
    finally:
        optim.set_backend("autograd")
    assert seen == ["jax"]
    assert optim.get_backend().name == "autograd"


@pytest.mark.autograd_only  # the suite's own default engine must be autograd
def test_set_backend_jax_keeps_float64_everywhere_and_restores_the_flag():
    """Outside any use_backend block too: a finite-difference gradient, evaluated eagerly with
    jax.numpy, is float64-accurate, and the thread that did not enter a block sees float64."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    before = bool(jax.config.jax_enable_x64)
    w = optim.Variable(np.array([0.3, -1.2]), name="w")
    loss = lambda: jnp.sum(jnp.exp(w.value) * jnp.sin(w.value))  # noqa: E731
    exact = np.exp(w.array) * (np.sin(w.array) + np.cos(w.array))
    seen = []
    try:
        optim.set_backend("jax")
        assert jax.config.jax_enable_x64
        ((g, _),) = optim.GradientDescentOptimizer(0.1).compute_gradients(
            loss, var_list=[w], gradient="3-point"
        )
        worker = threading.Thread(target=lambda: seen.append(jnp.asarray(w.array).dtype))
        worker.start()
        worker.join()
    finally:
        optim.set_backend("autograd")
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, exact, rtol=1e-8)  # float32 arithmetic would give ~1e-3
    assert seen == [np.float64]
    assert bool(jax.config.jax_enable_x64) == before


def test_use_backend_is_scoped_nested_and_per_thread():
    pytest.importorskip("jax")
    seen = []
    started, release = threading.Event(), threading.Event()

    def other_thread():
        started.wait()
        seen.append(optim.get_backend().name)
        release.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with optim.use_backend("jax") as backend:
        assert backend is optim.get_backend("jax") and optim.get_backend() is backend
        started.set()
        release.wait(30)
        with optim.use_backend("autograd"):
            assert optim.get_backend().name == "autograd"
        assert optim.get_backend().name == "jax"
    worker.join()
    assert seen == ["autograd"]  # the block belongs to this thread
    assert optim.get_backend().name == "autograd"


def test_use_backend_restores_on_error():
    pytest.importorskip("jax")
    with pytest.raises(RuntimeError, match="inside"):
        with optim.use_backend("jax"):
            raise RuntimeError("inside")
    assert optim.get_backend().name == "autograd"


def test_minimize_backend_is_active_inside_fun_and_only_there():
    jnp = pytest.importorskip("jax.numpy")
    seen = []

    def fun(x):
        seen.append(optim.get_backend().name)
        return jnp.sum((x - 3.0) ** 2)

    res = optim.minimize(fun, np.zeros(2), backend="jax")
    assert set(seen) == {"jax"}
    np.testing.assert_allclose(res.x, [3.0, 3.0])
    assert optim.get_backend().name == "autograd"


def test_minimize_follows_the_active_backend():
    jnp = pytest.importorskip("jax.numpy")

    def fun(x):
        return jnp.sum((x - 3.0) ** 2)

    with optim.use_backend("jax"):
        res = optim.minimize(fun, np.zeros(2), jac="autodiff")
    assert res.success and np.allclose(res.x, 3.0)
    with pytest.raises(TypeError, match="ArrayBox"):  # autograd cannot follow jax.numpy
        optim.minimize(fun, np.zeros(2), jac="autodiff")


@pytest.mark.parametrize("name", optim.backend.BACKEND_NAMES)
def test_every_engine_implements_the_whole_protocol(name):
    if name == "jax":
        pytest.importorskip("jax")
    backend = optim.get_backend(name)
    members = [
        m for m in dir(optim.backend.Backend) if not m.startswith("_")
    ] + list(optim.backend.Backend.__annotations__)
    assert set(members) >= {"trace", "second_order", "primitive", "name", "numpy"}
    missing = [m for m in members if not hasattr(backend, m)]
    assert missing == []
    assert backend.name == name
