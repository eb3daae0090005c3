"""Checkpoints: bit-identical resume for every case, atomic saves, validation before change."""

from __future__ import annotations

import errno
import io
import json
import os
import pathlib
import stat
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import optim
from optim import checkpoint
from optim.checkpoint import (
    CheckpointError,
    CheckpointManager,
    Saver,
    read_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from tests.cases import CASES, Case

SHAPES = [(3, 4), (5,)]


# -- bit-identical resume, every optimizer case --------------------------------------------------
def _problem(dtype, steps=10, seed=42):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return inits, grads


def _run(case: Case, variables, grads, opt=None, step=None):
    opt = case.make() if opt is None else opt
    step = optim.train.get_or_create_global_step() if step is None else step
    for g in grads:
        opt.apply_gradients(zip(g, variables), global_step=step)
    return opt, step


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_resume_from_file_is_bit_identical(graph, tmp_path, case, dtype):
    """N steps straight equal k steps, save, restore into fresh objects, N-k steps."""
    inits, grads = _problem(dtype)
    straight = [optim.Variable(x.copy(), name=f"v{i}") for i, x in enumerate(inits)]
    opt, step = _run(case, straight, grads)

    path = tmp_path / "ckpt.npz"
    with optim.Graph().as_default():
        first = [optim.Variable(x.copy(), name=f"v{i}") for i, x in enumerate(inits)]
        opt1, step1 = _run(case, first, grads[:4])
        save_checkpoint(path, first, opt1, step1, extra={"position": 4})
    with optim.Graph().as_default():
        second = [optim.Variable(np.zeros(s, dtype), name=f"v{i}") for i, s in enumerate(SHAPES)]
        opt2 = case.make()
        step2 = optim.train.get_or_create_global_step()
        extra = restore_checkpoint(path, second, opt2, step2)
        _run(case, second, grads[extra["position"] :], opt2, step2)

    assert int(step2.value) == int(step.value) == len(grads)
    assert opt2.iterations == opt.iterations
    assert opt2.get_slot_names() == opt.get_slot_names()
    for a, b in zip(straight, second):
        assert np.array_equal(a.value, b.value), a.name
        assert b.dtype == dtype
        for slot in opt.get_slot_names():
            assert np.array_equal(opt.get_slot(a, slot), opt2.get_slot(b, slot)), (slot, a.name)
    state, state2 = opt.state_dict(), opt2.state_dict()
    assert sorted(state["non_slot"]) == sorted(state2["non_slot"])
    for name, array in state["non_slot"].items():
        assert np.array_equal(array, state2["non_slot"][name]), name
        assert array.dtype == state2["non_slot"][name].dtype


# -- a small trained model to save, and targets to restore into ---------------------------------
def _trained(steps=3, nonfinite="raise"):
    """w (3, 4) and b (5,) float64, Momentum with its slots, the global step: in a new graph."""
    with optim.Graph().as_default():
        rng = np.random.default_rng(0)
        w = optim.Variable(rng.normal(size=(3, 4)), name="w")
        b = optim.Variable(rng.normal(size=5), name="b")
        opt = optim.train.MomentumOptimizer(0.1, 0.9, nonfinite=nonfinite)
        step = optim.train.get_or_create_global_step()
        for _ in range(steps):
            opt.apply_gradients(
                [(rng.normal(size=(3, 4)), w), (rng.normal(size=5), b)], global_step=step
            )
    return [w, b], opt, step


def _save(path, optimizer=True, global_step=True, extra=None):
    variables, opt, step = _trained()
    save_checkpoint(
        path, variables, opt if optimizer else None, step if global_step else None, extra
    )
    return variables, opt, step


class _Target:
    """Fresh objects with state of their own (one step taken), to restore into."""

    def __init__(self, w_shape=(3, 4), w_dtype=np.float64, opt_cls=None, step_dtype=np.int64):
        with optim.Graph().as_default():
            self.w = optim.Variable(np.full(w_shape, 7.0, w_dtype), name="w")
            self.b = optim.Variable(np.full(5, 7.0), name="b")
            self.extra_var = optim.Variable(np.ones(2), name="c")
            self.opt = (opt_cls or (lambda: optim.train.MomentumOptimizer(0.5, 0.5)))()
            self.step = optim.Variable(0, name="global_step", trainable=False, dtype=step_dtype)
            self.opt.apply_gradients(
                [(np.ones(w_shape, w_dtype), self.w), (np.ones(5), self.b)], global_step=self.step
            )
        self.var_list = [self.w, self.b]
        self.before = self.snapshot()

    def snapshot(self):
        state = self.opt.state_dict()
        arrays = [self.w.numpy(), self.b.numpy(), self.step.numpy()]
        arrays += [
            a for _, slots in sorted(state["slots"].items()) for _, a in sorted(slots.items())
        ]
        arrays += [a for _, a in sorted(state["non_slot"].items())]
        return arrays, (state["iterations"], state["skipped_steps"], sorted(state["slots"]))

    def assert_unchanged(self):
        arrays, counters = self.snapshot()
        assert counters == self.before[1]
        assert len(arrays) == len(self.before[0])
        for a, b in zip(arrays, self.before[0]):
            assert a.dtype == b.dtype and np.array_equal(a, b)

    def restore(self, path, **overrides):
        kwargs = {"var_list": self.var_list, "optimizer": self.opt, "global_step": self.step}
        return restore_checkpoint(path, **{**kwargs, **overrides})


def _rewrite(path, edit):
    """Rewrites a checkpoint after ``edit(meta, arrays)`` changed its metadata or entries."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays.pop("metadata").item())
    edit(meta, arrays)
    arrays["metadata"] = np.array(json.dumps(meta))
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _slot_shape(meta, arrays):
    ref = meta["optimizer"]["slots"]["momentum"]["w"]
    arrays[ref["__ndarray__"]] = np.zeros((2, 2))
    ref["shape"] = [2, 2]


# -- the file ---------------------------------------------------------------------------------
def test_round_trip_restores_values_slots_counters_and_extra(tmp_path):
    path = tmp_path / "ckpt.npz"
    (w, b), opt, step = _save(path, extra={"epoch": 2, "position": np.int64(17)})
    target = _Target()
    extra = target.restore(path)
    assert extra == {"epoch": 2, "position": 17}
    assert np.array_equal(target.w.value, w.value) and np.array_equal(target.b.value, b.value)
    assert int(target.step.value) == 3 and target.opt.iterations == 3
    for mine, theirs in ((target.w, w), (target.b, b)):
        assert np.array_equal(
            target.opt.get_slot(mine, "momentum"), opt.get_slot(theirs, "momentum")
        )
    assert target.extra_var.numpy().tolist() == [1.0, 1.0]  # not in var_list: untouched


def test_layout_is_readable_with_numpy_alone(tmp_path):
    path = tmp_path / "ckpt.npz"
    (w, b), opt, step = _save(path, extra={"epoch": 2})
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == [
            "metadata",
            "slots/momentum/b",
            "slots/momentum/w",
            "variables/b",
            "variables/w",
        ]
        assert np.array_equal(f["variables/w"], w.value)
        assert np.array_equal(f["slots/momentum/b"], opt.get_slot(b, "momentum"))
        meta = json.loads(f["metadata"].item())
    assert meta["format"] == "optim.checkpoint" and meta["format_version"] == 1
    assert meta["optim_version"] == optim.__version__
    assert meta["global_step"] == 3 and meta["extra"] == {"epoch": 2}
    assert meta["variables"]["w"] == {
        "__ndarray__": "variables/w",
        "dtype": "float64",
        "shape": [3, 4],
    }
    state = meta["optimizer"]
    assert state["kind"] == "MomentumOptimizer"
    assert (state["iterations"], state["skipped_steps"], state["version"]) == (3, 0, 1)
    assert state["slots"]["momentum"]["b"]["shape"] == [5]
    assert state["non_slot"] == {}


def test_non_slot_state_and_skip_counters_are_saved(graph, tmp_path):
    """A subclass with non-slot state; a name with '/' in both a slot and a variable."""

    class Counting(optim.Optimizer):
        def __init__(self):
            super().__init__(False, "Counting", nonfinite="skip")

        def _create_slots(self, var_list):
            first = min(var_list, key=lambda v: v.name)
            self._create_non_slot_variable(0.5, "power", colocate_with=first)
            for v in var_list:
                self._zeros_slot(v, "s", self._name)
                self._zeros_slot(v, "s/x", self._name)

        def _apply_dense(self, grad, var):
            self.get_slot(var, "s")[...] += grad
            self.get_slot(var, "s/x")[...] -= grad
            var._value[...] -= self._get_non_slot_variable("power") * grad

        def _finish(self, update_ops, name_scope):
            self._get_non_slot_variable("power")[...] *= 0.5

    # ("s", "x/v") and ("s/x", "v") would both be "slots/s/x/v": the metadata tells them apart.
    variables = [optim.Variable(np.ones(3, np.float32), name=n) for n in ("x/v", "v")]
    opt, step = Counting(), optim.train.get_or_create_global_step()
    opt.apply_gradients([(np.arange(3, dtype=np.float32), v) for v in variables], step)
    opt.apply_gradients([(np.full(3, np.nan, np.float32), v) for v in variables], step)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, variables, opt, step)
    with np.load(path, allow_pickle=False) as f:
        assert {"slots/s/x/v", "slots/s/x/v~1", "non_slot/power"} <= set(f.files)
    with optim.Graph().as_default():
        fresh = [optim.Variable(np.zeros(3, np.float32), name=n) for n in ("x/v", "v")]
        opt2, step2 = Counting(), optim.train.get_or_create_global_step()
        restore_checkpoint(path, fresh, opt2, step2)
    assert (opt2.iterations, opt2.skipped_steps, int(step2.value)) == (2, 1, 2)
    assert opt2._get_non_slot_variable("power").dtype == np.float32
    assert float(opt2._get_non_slot_variable("power")) == 0.25
    for a, b in zip(variables, fresh):
        assert np.array_equal(a.value, b.value)
        for slot in ("s", "s/x"):
            assert np.array_equal(opt.get_slot(a, slot), opt2.get_slot(b, slot))
    assert not np.array_equal(opt2.get_slot(fresh[0], "s"), opt2.get_slot(fresh[1], "s/x"))


def test_generator_state_in_extra_resumes_the_data_order(tmp_path):
    rng = np.random.default_rng(123)
    rng.permutation(10)
    path = tmp_path / "ckpt.npz"
    variables, _, _ = _trained()
    save_checkpoint(path, variables, extra={"rng": rng.bit_generator.state, "epoch": 1})
    expected = rng.permutation(10)
    fresh = np.random.default_rng()
    fresh.bit_generator.state = restore_checkpoint(path, variables)["rng"]
    assert np.array_equal(fresh.permutation(10), expected)


def test_default_var_list_is_the_graph_with_its_global_step(graph, tmp_path):
    w = optim.Variable(np.arange(3.0), name="w")
    step = optim.train.get_or_create_global_step()
    step.assign(9)
    path = save_checkpoint(tmp_path / "ckpt.npz")
    assert sorted(read_checkpoint(path)["variables"]) == ["global_step", "w"]
    with optim.Graph().as_default():
        w2 = optim.Variable(np.zeros(3), name="w")
        step2 = optim.train.get_or_create_global_step()
        assert restore_checkpoint(path) == {}
    assert np.array_equal(w2.value, w.value) and int(step2.value) == 9


def test_read_checkpoint_returns_a_loadable_state(tmp_path):
    path = tmp_path / "ckpt.npz"
    (w, b), opt, _ = _save(path)
    data = read_checkpoint(path)
    assert data["global_step"] == 3 and data["extra"] == {} and data["format_version"] == 1
    assert np.array_equal(data["variables"]["w"], w.value)
    target = _Target()
    target.opt.load_state_dict(data["optimizer"], target.var_list)
    assert np.array_equal(target.opt.get_slot(target.b, "momentum"), opt.get_slot(b, "momentum"))


# -- save: bad arguments, atomicity, unwritable places --------------------------------------------
def test_save_rejects_bad_arguments_and_writes_nothing(graph, tmp_path):
    w = optim.Variable(np.ones(2), name="w")
    path = tmp_path / "ckpt.npz"
    with pytest.raises(TypeError, match="`extra` must be a JSON-able dict: .*object"):
        save_checkpoint(path, [w], extra={"f": object()})
    with pytest.raises(TypeError, match="`extra` must be a JSON-able dict or None"):
        save_checkpoint(path, [w], extra=[1, 2])
    with pytest.raises(TypeError, match="`optimizer` must be an optim.Optimizer"):
        save_checkpoint(path, [w], optimizer="adam")
    with pytest.raises(TypeError, match="`global_step` must be an integer scalar"):
        save_checkpoint(path, [w], global_step=w)
    with pytest.raises(TypeError, match=r"`var_list\[1\]` must be an optim.Variable"):
        save_checkpoint(path, [w, np.ones(2)])
    with optim.Graph().as_default():
        twin = optim.Variable(np.ones(2), name="w")
    with pytest.raises(ValueError, match="two different variables named 'w'"):
        save_checkpoint(path, [w, twin])
    assert os.listdir(tmp_path) == []


def _half_writer(exc):
    def write(file, arrays):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        file.write(data[: len(data) // 2])
        file.flush()
        raise exc

    return write


@pytest.mark.parametrize(
    "exc",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "interrupt"],
)
def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, exc):
    path = tmp_path / "ckpt.npz"
    (w, b), opt, step = _save(path, extra={"epoch": 1})
    saved = w.numpy()
    opt.apply_gradients([(np.ones((3, 4)), w), (np.ones(5), b)], global_step=step)
    monkeypatch.setattr(checkpoint, "_write_npz", _half_writer(exc))
    with pytest.raises(type(exc)):
        save_checkpoint(path, [w, b], opt, step, extra={"epoch": 2})
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    target = _Target()
    assert target.restore(path) == {"epoch": 1}
    assert np.array_equal(target.w.value, saved) and int(target.step.value) == 3
    if isinstance(exc, OSError):
        assert "previous file there is intact" in " ".join(getattr(exc, "__notes__", []))


def test_killed_during_save_leaves_the_previous_checkpoint(tmp_path):
    """A real SIGKILL half-way through writing: only a stray hidden temporary file remains."""
    manager = CheckpointManager(tmp_path)
    variables, opt, step = _trained()
    first = manager.save(var_list=variables, optimizer=opt, global_step=step)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        import numpy as np
        sys.path.insert(0, {str(pathlib.Path(__file__).parents[1])!r})
        import optim
        from optim import checkpoint

        def write(file, arrays):
            file.write(b"PK" + bytes(1000))
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        checkpoint._write_npz = write
        w = optim.Variable(np.zeros((3, 4)), name="w")
        checkpoint.save_checkpoint({first!r}, [w])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt-3.npz"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt-3.npz.tmp-")
    assert manager.checkpoints == [first]
    target = _Target()
    manager.restore_latest(target.var_list, target.opt, target.step)
    assert np.array_equal(target.w.value, variables[0].value)


def test_saved_file_is_fsynced_and_gets_the_usual_permissions(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    path = tmp_path / "ckpt.npz"
    _save(path)
    assert len(synced) == 2  # the file, then its directory
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def test_save_into_a_missing_directory_names_it(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError, match="directory does not exist") as info:
        _save(missing / "ckpt.npz")
    assert info.value.filename == str(missing)
    assert os.listdir(tmp_path) == []


def test_save_under_a_regular_file_names_it(tmp_path):
    parent = tmp_path / "file"
    parent.write_bytes(b"keep me")
    with pytest.raises(NotADirectoryError, match="not a directory") as info:
        _save(parent / "ckpt.npz")
    assert info.value.filename == str(parent)
    assert parent.read_bytes() == b"keep me"


def test_save_into_an_unwritable_directory_names_it(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    _save(path, extra={"epoch": 1})
    real_open = os.open

    def deny(name, *args, **kwargs):  # what a read-only directory does to a non-root user
        if ".tmp-" in os.fspath(name):
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    with pytest.raises(PermissionError, match="cannot create a file in the directory") as info:
        _save(path, extra={"epoch": 2})
    monkeypatch.undo()
    assert info.value.filename == str(tmp_path)
    assert read_checkpoint(path)["extra"] == {"epoch": 1}


def test_save_onto_a_directory_raises(tmp_path):
    with pytest.raises(IsADirectoryError):
        _save(tmp_path)


# -- restore: every mismatch raises, naming the culprit and the file, and changes nothing ----------
MISMATCHES = {
    # id: (save kwargs, file edit, target kwargs, restore overrides, message regex)
    "variable-missing": ({}, None, {}, {"extra_var": True}, r"Variable 'c' is not in checkpoint"),
    "variable-shape": ({}, None, {"w_shape": (4, 3)}, {}, r"Variable 'w' has shape \(3, 4\)"),
    "variable-dtype": (
        {},
        None,
        {"w_dtype": np.float32},
        {},
        r"Variable 'w' has shape \(3, 4\) and dtype float64 .* float32",
    ),
    "optimizer-kind": (
        {},
        None,
        {"opt_cls": lambda: optim.train.GradientDescentOptimizer(0.1)},
        {},
        r"state of a 'MomentumOptimizer' optimizer, not of a 'GradientDescentOptimizer'",
    ),
    "state-version": (
        {},
        lambda meta, arrays: meta["optimizer"].update(version=99),
        {},
        {},
        r"`state` has version 99",
    ),
    "format-version": (
        {},
        lambda meta, arrays: meta.update(format_version=2),
        {},
        {},
        r"format version 2; this optim reads versions 1 to 1",
    ),
    "slot-variable-not-restored": (
        {},
        None,
        {},
        {"only_w": True},
        r"slot 'momentum' for variable 'b', which is not among the variables \['w'\]",
    ),
    "slot-shape": (
        {},
        _slot_shape,
        {},
        {},
        r"Slot 'momentum' of variable 'w' has shape \(2, 2\)",
    ),
    "no-optimizer-state": ({"optimizer": False}, None, {}, {}, r"holds no optimizer state"),
    "no-global-step": ({"global_step": False}, None, {}, {}, r"holds no global step"),
    "global-step-overflow": (
        {},
        lambda meta, arrays: meta.update(global_step=300),
        {"step_dtype": np.int8},
        {},
        r"global step 300 .* does not fit the int8 variable 'global_step'",
    ),
}


@pytest.mark.parametrize("mismatch", list(MISMATCHES), ids=str)
def test_restore_mismatch_raises_and_changes_nothing(tmp_path, mismatch):
    save_kwargs, edit, target_kwargs, overrides, message = MISMATCHES[mismatch]
    path = tmp_path / "ckpt.npz"
    _save(path, **save_kwargs)
    if edit is not None:
        _rewrite(path, edit)
    target = _Target(**target_kwargs)
    var_list = target.var_list
    if overrides.get("extra_var"):
        var_list = var_list + [target.extra_var]
    if overrides.get("only_w"):
        var_list = [target.w]
    with pytest.raises(CheckpointError, match=message) as info:
        target.restore(path, var_list=var_list)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    target.assert_unchanged()


def _zip_without_metadata(path):
    with open(path, "wb") as file:
        np.savez(file, **{"variables/w": np.zeros((3, 4))})


def _plain_zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first array's data
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "cut-in-half": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "corrupted"),
    "random-bytes": (lambda p: p.write_bytes(np.random.default_rng(1).bytes(4096)), "corrupted"),
    "empty": (lambda p: p.write_bytes(b""), "corrupted"),
    "flipped-byte": (_flip_a_byte, "corrupted"),
    "zip-without-metadata": (_zip_without_metadata, "has no 'metadata' entry"),
    "plain-zip": (_plain_zip, "has no 'metadata' entry"),
    "npy-file": (lambda p: np.save(open(p, "wb"), np.zeros(3)), "single .npy array"),
    "metadata-not-json": (
        lambda p: _rewrite_raw_metadata(p, np.array("{not json")),
        "corrupted",
    ),
    "metadata-not-ours": (
        lambda p: _rewrite_raw_metadata(p, np.array("{}")),
        "no 'optim.checkpoint'",
    ),
    "metadata-bytes-array": (
        lambda p: _rewrite_raw_metadata(p, np.frombuffer(b"{}", np.uint8)),
        "malformed 'metadata'",
    ),
    "variable-not-an-array": (
        lambda p: _rewrite(p, lambda meta, arrays: meta["variables"].update(w=5)),
        "malformed metadata for variable 'w'",
    ),
    "slots-not-a-dict": (
        lambda p: _rewrite(p, lambda meta, arrays: meta["optimizer"].update(slots=[1])),
        "Checkpoint .*ckpt.npz",
    ),
    "entry-missing": (
        lambda p: _rewrite(p, lambda meta, arrays: arrays.pop("variables/b")),
        "entry 'variables/b' of variable 'b' is missing",
    ),
    "entry-disagrees-with-index": (
        lambda p: _rewrite(p, lambda meta, arrays: arrays.update({"variables/b": np.zeros(4)})),
        r"entry 'variables/b' of variable 'b' has dtype float64 and shape \(4,\)",
    ),
}


def _rewrite_raw_metadata(path, entry):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["metadata"] = entry
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("corruption", list(CORRUPTIONS), ids=str)
def test_corrupted_file_raises_naming_it_and_changes_nothing(tmp_path, corruption):
    corrupt, message = CORRUPTIONS[corruption]
    path = tmp_path / "ckpt.npz"
    _save(path)
    corrupt(path)
    target = _Target()
    with pytest.raises(CheckpointError, match=message) as info:
        target.restore(path)
    assert repr(str(path)) in str(info.value)
    target.assert_unchanged()


def test_restore_of_a_missing_file_raises_file_not_found(tmp_path):
    target = _Target()
    with pytest.raises(FileNotFoundError):
        target.restore(tmp_path / "nothing.npz")
    target.assert_unchanged()


# -- CheckpointManager --------------------------------------------------------------------------
def test_manager_keeps_the_last_n_and_a_new_manager_finds_them(tmp_path):
    directory = tmp_path / "run"
    manager = CheckpointManager(directory, max_to_keep=3)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    target = _Target()
    assert manager.restore_latest(target.var_list, target.opt, target.step) is None
    target.assert_unchanged()

    (w, b), opt, step = _trained(steps=0)
    for epoch in range(1, 12):
        opt.apply_gradients([(np.ones((3, 4)), w), (np.ones(5), b)], global_step=step)
        path = manager.save(var_list=[w, b], optimizer=opt, global_step=step, extra={"e": epoch})
        assert path == os.path.join(directory, f"ckpt-{epoch}.npz")
    names = ["ckpt-9.npz", "ckpt-10.npz", "ckpt-11.npz"]  # numeric, not lexicographic, order
    assert manager.checkpoints == [os.path.join(directory, n) for n in names]
    assert sorted(os.listdir(directory)) == sorted(names)

    (directory / "ckpt-99.npz.bak").write_bytes(b"")
    (directory / "other-50.npz").write_bytes(b"")
    (directory / "ckpt-x.npz").write_bytes(b"")
    again = CheckpointManager(directory, max_to_keep=3)
    assert again.latest_checkpoint == os.path.join(directory, "ckpt-11.npz")
    assert again.restore_latest(target.var_list, target.opt, target.step) == {"e": 11}
    assert np.array_equal(target.w.value, w.value) and int(target.step.value) == 11
    assert target.opt.iterations == opt.iterations


def test_manager_numbers_without_a_global_step(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=None, checkpoint_name="model")
    variables, _, _ = _trained(steps=1)
    paths = [manager.save(var_list=variables) for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["model-1.npz", "model-2.npz", "model-3.npz"]
    assert manager.save(7, var_list=variables).endswith("model-7.npz")
    assert manager.save(var_list=variables).endswith("model-8.npz")
    assert len(manager.checkpoints) == 5  # max_to_keep=None keeps all
    assert manager.save(2, var_list=variables, extra={"again": True}).endswith("model-2.npz")
    assert len(manager.checkpoints) == 5 and read_checkpoint(paths[1])["extra"] == {"again": True}


def test_manager_never_deletes_the_checkpoint_it_just_wrote(tmp_path):
    manager = CheckpointManager(tmp_path, max_to_keep=1)
    variables, _, _ = _trained(steps=1)
    manager.save(10, var_list=variables)
    written = manager.save(3, var_list=variables)
    assert os.path.exists(written)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_to_keep": 0}, "`max_to_keep` must be a positive integer or None, got 0"),
        ({"max_to_keep": True}, "`max_to_keep` must be a positive integer or None, got True"),
        ({"checkpoint_name": ""}, "`checkpoint_name` must be a non-empty string"),
        ({"checkpoint_name": "a/b"}, "without a path separator"),
    ],
    ids=["max-0", "max-bool", "name-empty", "name-sep"],
)
def test_manager_rejects_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CheckpointManager(tmp_path, **kwargs)


def test_manager_rejects_a_bad_number(tmp_path):
    variables, _, _ = _trained(steps=1)
    with pytest.raises(ValueError, match="`checkpoint_number` must be a non-negative integer"):
        CheckpointManager(tmp_path).save(-1, var_list=variables)
    assert os.listdir(tmp_path) == []


# -- TF1's Saver ------------------------------------------------------------------------------
def test_saver_save_and_restore(graph, tmp_path):
    w = optim.Variable(np.arange(3.0), name="w")
    step = optim.train.get_or_create_global_step()
    opt = optim.train.MomentumOptimizer(0.1, 0.9)
    opt.minimize(lambda: (w.value**2).sum(), global_step=step, var_list=[w])
    saver = Saver(optimizer=opt)  # every variable of the graph, the global step included
    path = saver.save(str(tmp_path / "model.ckpt"), global_step=step)
    assert path == str(tmp_path / "model.ckpt-1")
    assert saver.save(tmp_path / "plain.npz").endswith("plain.npz")
    saved = w.numpy()
    opt.minimize(lambda: (w.value**2).sum(), global_step=step, var_list=[w])
    saver.restore(path)
    assert np.array_equal(w.value, saved) and int(step.value) == 1 and opt.iterations == 1
    with optim.Graph().as_default(), pytest.raises(ValueError, match="No variables to save"):
        Saver()


# -- latest_checkpoint (TF1's tf.train.latest_checkpoint) ----------------------------------------
def test_latest_checkpoint_finds_the_managers_newest(tmp_path):
    directory = tmp_path / "run"
    manager = CheckpointManager(directory, max_to_keep=2)
    (w, b), opt, step = _trained(steps=0)
    for _ in range(11):
        opt.apply_gradients([(np.ones((3, 4)), w), (np.ones(5), b)], global_step=step)
        written = manager.save(var_list=[w, b], optimizer=opt, global_step=step)
        assert optim.train.latest_checkpoint(directory) == written
        assert optim.latest_checkpoint(str(directory)) == manager.latest_checkpoint
    assert written == os.path.join(directory, "ckpt-11.npz")  # 11 > 9: numbers, not text
    # Not checkpoints: other names, hidden saves in progress, and files that only look like one.
    (directory / "final.npz").write_bytes(b"")
    (directory / ".ckpt-12.npz.tmp-123456").write_bytes(b"")
    (directory / "events-99.npz").write_bytes(b"not a zip")
    np.savez(directory / "data-98.npz", x=np.zeros(2))
    assert optim.train.latest_checkpoint(directory) == written
    target = _Target()
    restore_checkpoint(optim.train.latest_checkpoint(directory), target.var_list, target.opt)
    assert np.array_equal(target.w.value, w.value) and target.opt.iterations == 11


def test_latest_checkpoint_finds_what_a_saver_writes(tmp_path):
    variables, opt, step = _trained(steps=2)
    saver = Saver(variables, opt)
    for n in (5, 40, 300):
        step.assign(n)
        saver.save(tmp_path / "model.ckpt", global_step=step)
    assert optim.train.latest_checkpoint(tmp_path) == os.path.join(tmp_path, "model.ckpt-300")


def test_latest_checkpoint_of_an_empty_or_missing_directory_is_none(tmp_path):
    assert optim.train.latest_checkpoint(tmp_path) is None
    assert optim.train.latest_checkpoint(tmp_path / "missing") is None
    (tmp_path / "a-file-1.npz").write_bytes(b"")
    assert optim.train.latest_checkpoint(tmp_path / "a-file-1.npz") is None  # not a directory
    with pytest.raises(TypeError, match=r"`checkpoint_dir` must be a str or os.PathLike"):
        optim.train.latest_checkpoint(3)
