"""The package's layout rule: no module of optim reads another module's ``_private`` names.

A name used across modules is public, with a docstring. The scan reads every ``optim/**/*.py``
with ``ast`` and fails on

- ``from <optim module> import _name`` (relative imports, or absolute ones from ``optim``);
- an attribute read ``<expr>._attr`` where ``<expr>`` is not ``self``, ``cls`` or ``super()``
  and no code in the same module defines ``_attr`` (as a function, method, class, an assigned
  attribute, a name or a ``__slots__`` entry).

Dunders (``__name__``, ``__all__``...) are not private. The only exceptions are listed in
``ALLOWED`` below, each with its reason.
"""

from __future__ import annotations

import ast
import pathlib
import textwrap

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "optim"

# (module path relative to optim/, attribute): why it is allowed.
ALLOWED = {
    ("backends/autograd.py", "_trace"): "autograd's ArrayBox attribute: the box's trace id",
    ("backends/autograd.py", "_value"): "autograd's ArrayBox attribute: the boxed value",
    ("backends/autograd.py", "_node"): "autograd's ArrayBox attribute: the box's VJP node",
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(tree: ast.AST) -> set[str]:
    """Every name the module itself defines: defs, classes, assigned names and attributes,
    and ``__slots__`` strings."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
        ):
            for const in ast.walk(node.value):
                if isinstance(const, ast.Constant) and isinstance(const.value, str):
                    names.add(const.value)
    return names


def _is_own(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: reads through the object's own class."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def violations(source: str, module: str) -> list[str]:
    """The layout rule's violations in one module's ``source`` (``module``: its path in optim)."""
    tree = ast.parse(source)
    defined = _defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").split(".")[0] == "optim"
        ):
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(
                        f"{module}:{node.lineno}: imports {alias.name} from "
                        f"{'.' * node.level}{node.module or ''}"
                    )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and _is_private(node.attr)
            and not _is_own(node.value)
            and node.attr not in defined
            and (module, node.attr) not in ALLOWED
        ):
            found.append(f"{module}:{node.lineno}: reads {ast.unparse(node)}")
    return found


def _modules() -> list[pathlib.Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_scan_sees_the_package():
    names = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {"optimizer.py", "variables.py", "validation.py", "algorithms/adam.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_reads_another_modules_private_names(path):
    module = path.relative_to(PACKAGE).as_posix()
    assert violations(path.read_text(encoding="utf-8"), module) == []


def test_allowlist_entries_are_still_needed():
    """An allowlisted read that no longer exists is removed from the list."""
    for module, attr in ALLOWED:
        source = (PACKAGE / module).read_text(encoding="utf-8")
        reads = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Load)
            and node.attr == attr
            and not _is_own(node.value)
        ]
        assert reads, f"{module} no longer reads .{attr}; drop it from ALLOWED"


# -- the rule itself catches what it should ------------------------------------------------------
@pytest.mark.parametrize(
    "source, expected",
    [
        ("from .optimizer import _check_real\n", "imports _check_real from .optimizer"),
        ("from ..adam import Adam, _hyper_value\n", "imports _hyper_value from ..adam"),
        ("from optim.optimizer import _flatten\n", "imports _flatten from optim.optimizer"),
        ("def f(var):\n    return var._value\n", "reads var._value"),
        ("def f(opt):\n    return opt._hyper_t.get('x')\n", "reads opt._hyper_t"),
        ("import optim\nx = optim.optimizer._flatten\n", "reads optim.optimizer._flatten"),
    ],
)
def test_the_rule_flags_private_reads(source, expected):
    found = violations(source, "m.py")
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        "from .optimizer import Optimizer, check_real\n",
        "from .algorithms import __all__ as _algorithms\n",
        "class A:\n    def f(self):\n        return self._x + type(self).__name__\n",
        "class A:\n    @classmethod\n    def f(cls):\n        return cls._registry\n",
        "class B(A):\n    def f(self):\n        return super()._prepare()\n",
        # defined in the same module: another instance of the module's own class
        "class T:\n    def __init__(self):\n        self._root = 1\n"
        "    def __eq__(self, other):\n        return self._root == other._root\n",
        "class S:\n    __slots__ = ('_a',)\n\ndef f(s):\n    return s._a\n",
    ],
)
def test_the_rule_allows_own_names(source):
    assert violations(textwrap.dedent(source), "m.py") == []
