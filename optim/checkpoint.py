"""Checkpoints: variables, optimizer state, global step and loop state in one ``.npz`` file.

A checkpoint holds what a training run needs to resume bit-identically: every variable's value
(keyed by name), the optimizer's whole :meth:`~optim.Optimizer.state_dict` (slots, non-slot state
such as Adam's beta powers, counters such as :attr:`~optim.Optimizer.iterations`), the optimizer's
kind, the global step and an ``extra`` JSON-able dict for the training loop's own state (epoch,
position in the data, ``rng.bit_generator.state``).

File layout (format version 1): one uncompressed ``np.savez`` archive, readable with numpy alone
and never pickled (``np.load(path, allow_pickle=False)``)::

    metadata                     0-d unicode array: the JSON document below
    variables/<var name>         each variable's value
    slots/<slot>/<var name>      the optimizer's slots (e.g. "slots/m/dense/kernel")
    non_slot/<name>              the optimizer's non-slot state (e.g. "non_slot/beta1_power")

The JSON metadata::

    {
      "format": "optim.checkpoint",
      "format_version": 1,
      "optim_version": "0.1.0",
      "variables": {"<var name>": ARRAY, ...},
      "optimizer": null | {"kind": "AdamOptimizer", "version": 1, "iterations": 4,
                           "skipped_steps": 0, "consecutive_nonfinite": 0,
                           "slots": {"<slot>": {"<var name>": ARRAY}},
                           "non_slot": {"<name>": ARRAY}},
      "optimizer_training": null | true | false,
      "global_step": null | 4,
      "extra": {...}
    }

where ``ARRAY`` is ``{"__ndarray__": "<entry name>", "dtype": "float32", "shape": [3, 4]}``:
the archive entry holding the array, with its dtype and shape. The metadata, not the entry names,
is authoritative (a name containing "/" cannot make two entries collide: a clash gets a ``~1``
suffix). ``"optimizer"`` is the optimizer's ``state_dict()`` with its arrays replaced by ``ARRAY``
references, so a subclass that adds fields to its state has them saved too. Reading by hand::

    with np.load("ckpt-100.npz", allow_pickle=False) as f:
        meta = json.loads(f["metadata"].item())
        w = f["variables/w"]

Saving is atomic: the archive is written to a temporary file in the target's directory, flushed
and ``os.fsync``-ed, then ``os.replace``-d onto the target (and the directory is fsync-ed where
the platform allows). A crash or an error while saving leaves any previous checkpoint intact.

Restoring validates everything before it changes anything: a missing name, a shape, dtype,
optimizer kind or version that differs raises :class:`CheckpointError` (a ``ValueError``) naming
the variable or slot and the file, and leaves every variable, slot and counter as it was.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import zipfile
import zlib
from typing import Any

import numpy as np

from .modes import evaluation_mode, has_modes, set_training
from .optimizer import Optimizer
from .validation import check_global_step, resolve_var_list
from .variables import Variable, global_variables

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "restore_checkpoint",
    "read_checkpoint",
    "CheckpointManager",
    "Saver",
    "latest_checkpoint",
]

FORMAT = "optim.checkpoint"
FORMAT_VERSION = 1
_METADATA = "metadata"
_ARRAY = "__ndarray__"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not match what it is restored into.

    Its message names the file. Nothing was changed when it is raised.
    """


# -- saving ------------------------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike,
    var_list: Any = None,
    optimizer: Optimizer | None = None,
    global_step: Variable | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Writes variables, optimizer state, global step and ``extra`` to ``path``, atomically.

    Args:
        path: the file to write (used as given: no suffix is added; ``.npz`` is customary). An
            existing file is replaced only once the new one is completely on disk.
        var_list: the variables to save (a list, tuple, nested lists or one Variable); default:
            every variable of the default graph (trainable or not, the global step included),
            as TF1's ``Saver``.
        optimizer: an optimizer whose whole state is saved, or None.
        global_step: an integer scalar Variable whose value is saved, or None.
        extra: a JSON-able dict for the training loop's state (numpy scalars and arrays are
            converted to numbers and lists; tuples come back as lists), or None.

    Returns:
        ``path``, as a string.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist.
        NotADirectoryError, PermissionError: the directory cannot hold files for this process.
        TypeError: a bad argument, or an ``extra`` that JSON cannot encode.
        ValueError: two different variables with the same name.

    Every argument is checked and the archive is built before the file system is touched, and
    any error while writing removes the temporary file: a previous checkpoint at ``path``
    survives every failure.

    An ``optimizer`` with train/eval modes (Schedule-Free, :mod:`optim.modes`) is put in eval
    mode while the file is written, and back in its mode after: the variables saved are its
    evaluation point ``x`` (the weights a reader of the file wants), with the optimizer's
    eval-mode state, which holds what its ``train()`` needs to recover the training point
    exactly, and the mode it was in (``"optimizer_training"``), which
    :func:`restore_checkpoint` puts back.

    Example:
        >>> save_checkpoint("ckpt.npz", [w, b], opt, step, extra={"epoch": 3})
        'ckpt.npz'
    """
    path = _fspath(path, "path")
    variables = _resolve_variables(var_list, "save_checkpoint")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"`optimizer` must be an optim.Optimizer or None, got {optimizer!r}.")
    check_global_step(global_step)
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise TypeError(f"`extra` must be a JSON-able dict or None, got {extra!r}.")

    training = optimizer.training if has_modes(optimizer) else None
    with evaluation_mode(optimizer):  # the variables written are the point to evaluate
        _build_and_write(path, variables, optimizer, training, global_step, extra)
    return path


def _build_and_write(
    path: str,
    variables: dict[str, Variable],
    optimizer: Optimizer | None,
    training: bool | None,
    global_step: Variable | None,
    extra: dict[str, Any],
) -> None:
    """The archive of :func:`save_checkpoint`, its arguments checked, written atomically."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "optim_version": _optim_version(),
        "variables": {
            name: _add_array(arrays, f"variables/{name}", var.array)
            for name, var in variables.items()
        },
        "optimizer": None,
        "optimizer_training": training,
        "global_step": None if global_step is None else int(global_step.array),
        "extra": extra,
    }
    if optimizer is not None:
        meta["optimizer"] = _encode_state(optimizer.state_dict(), arrays, "")
    try:
        text = json.dumps(meta, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"`extra` must be a JSON-able dict: {exc}") from exc
    arrays[_METADATA] = np.array(text)
    _atomic_write(path, arrays)


def _add_array(arrays: dict[str, np.ndarray], key: str, array: np.ndarray) -> dict[str, Any]:
    """Stores ``array`` under a unique entry name based on ``key``; returns its reference."""
    unique, n = key, 0
    while unique in arrays or unique == _METADATA:
        n += 1
        unique = f"{key}~{n}"
    arrays[unique] = array
    return {_ARRAY: unique, "dtype": array.dtype.name, "shape": list(array.shape)}


def _encode_state(state: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """``state`` with every array moved into ``arrays`` (entry name = its key path)."""
    if isinstance(state, np.ndarray):
        return _add_array(arrays, prefix, state)
    if isinstance(state, dict):
        return {
            str(k): _encode_state(v, arrays, f"{prefix}/{k}" if prefix else str(k))
            for k, v in state.items()
        }
    if isinstance(state, (list, tuple)):
        return [_encode_state(v, arrays, f"{prefix}/{i}") for i, v in enumerate(state)]
    return state


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{value!r} of type {type(value).__name__} is not JSON serializable")


def _write_npz(file: Any, arrays: dict[str, np.ndarray]) -> None:
    """Writes the archive's bytes to the open binary ``file`` (the one place bytes are written)."""
    np.savez(file, **arrays)


def _atomic_write(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Writes ``arrays`` to a temporary file beside ``path``, fsyncs it, renames it to ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Checkpoint path is a directory", path)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(
                errno.ENOTDIR, f"Cannot save checkpoint {path!r}: not a directory", directory
            )
        raise FileNotFoundError(
            errno.ENOENT,
            f"Cannot save checkpoint {path!r}: the directory does not exist",
            directory,
        )
    tmp, fd = _create_temp(path, directory)
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, Exception) and hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"While saving checkpoint {path!r}; any previous file there is intact.")
        raise
    _fsync_directory(directory)


def _create_temp(path: str, directory: str) -> tuple[str, int]:
    base = os.path.basename(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.tmp-{secrets.token_hex(6)}")
        try:
            return tmp, os.open(tmp, flags, 0o666)  # 0o666: the umask applies, as for open()
        except FileExistsError:
            continue
        except OSError as exc:
            raise type(exc)(
                exc.errno,
                f"Cannot save checkpoint {path!r}: cannot create a file in the directory "
                f"({exc.strerror})",
                directory,
            ) from exc


def _fsync_directory(directory: str) -> None:
    """Makes the rename durable where the platform allows opening a directory (not Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading -----------------------------------------------------------------------------------
def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Reads a checkpoint without restoring it.

    Returns:
        ``{"variables": {name: array}, "optimizer": state_dict or None, "global_step": int or
        None, "extra": dict, "optimizer_training": bool, "format_version": int,
        "optim_version": str}``; ``"optimizer"`` is what the saved optimizer's ``state_dict()``
        returned (arrays included), ready for ``load_state_dict``; ``"optimizer_training"`` is
        True when it was saved from train mode (see :mod:`optim.modes`).

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: a truncated, corrupted or foreign file, or a newer format version.
    """
    path = _fspath(path, "path")
    try:
        with open(path, "rb") as file:
            npz = np.load(file, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise CheckpointError(
                    f"{path!r} is not an optim checkpoint: it holds a single .npy array, not an "
                    ".npz archive."
                )
            with npz:
                if _METADATA not in npz.files:
                    raise CheckpointError(
                        f"{path!r} is not an optim checkpoint: its .npz archive has no "
                        f"{_METADATA!r} entry (it holds {sorted(npz.files)[:10]})."
                    )
                meta = _parse_metadata(path, npz[_METADATA])
                arrays = {name: npz[name] for name in npz.files if name != _METADATA}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"Checkpoint {path!r} is truncated or corrupted and cannot be read: {exc}"
        ) from exc

    def decode(node: Any, where: str) -> Any:
        if isinstance(node, dict) and _ARRAY in node:
            return _resolve_array(path, arrays, node, where)
        if isinstance(node, dict):
            return {k: decode(v, f"{where}/{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [decode(v, f"{where}/{i}") for i, v in enumerate(node)]
        return node

    variables = meta.get("variables")
    optimizer = meta.get("optimizer")
    global_step = meta.get("global_step")
    extra = meta.get("extra")
    if (
        not isinstance(variables, dict)
        or not (optimizer is None or isinstance(optimizer, dict))
        or not (global_step is None or (isinstance(global_step, int) and global_step >= 0))
        or not isinstance(extra, dict)
    ):
        raise CheckpointError(f"Checkpoint {path!r} has malformed metadata.")
    for name, ref in variables.items():
        if not (isinstance(ref, dict) and _ARRAY in ref):
            raise CheckpointError(
                f"Checkpoint {path!r} has malformed metadata for variable {name!r}."
            )
    return {
        "variables": {name: decode(ref, f"variable {name!r}") for name, ref in variables.items()},
        "optimizer": None if optimizer is None else decode(optimizer, "optimizer state"),
        "global_step": global_step,
        "extra": extra,
        "optimizer_training": meta.get("optimizer_training") is True,
        "format_version": meta["format_version"],
        "optim_version": meta.get("optim_version"),
    }


def _parse_metadata(path: str, entry: np.ndarray) -> dict[str, Any]:
    if entry.ndim != 0 or entry.dtype.kind not in "US":
        raise CheckpointError(f"Checkpoint {path!r} has a malformed {_METADATA!r} entry.")
    text = entry.item()
    meta = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not an optim checkpoint (no {FORMAT!r} marker).")
    version = meta.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"Checkpoint {path!r} has format version {version!r}; this optim reads versions "
            f"1 to {FORMAT_VERSION} (it was written by optim {meta.get('optim_version')})."
        )
    return meta


def _resolve_array(
    path: str, arrays: dict[str, np.ndarray], ref: dict[str, Any], where: str
) -> np.ndarray:
    key = ref.get(_ARRAY)
    array = arrays.get(key) if isinstance(key, str) else None
    if array is None:
        raise CheckpointError(
            f"Checkpoint {path!r} is corrupted: the entry {key!r} of {where} is missing."
        )
    if array.dtype.name != ref.get("dtype") or list(array.shape) != ref.get("shape"):
        raise CheckpointError(
            f"Checkpoint {path!r} is corrupted: the entry {key!r} of {where} has dtype "
            f"{array.dtype.name} and shape {array.shape}; the metadata says {ref.get('dtype')} "
            f"and {ref.get('shape')}."
        )
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return array


# -- restoring ---------------------------------------------------------------------------------
def restore_checkpoint(
    path: str | os.PathLike,
    var_list: Any = None,
    optimizer: Optimizer | None = None,
    global_step: Variable | None = None,
) -> dict[str, Any]:
    """Restores what :func:`save_checkpoint` wrote, matching everything by name.

    Args:
        path: the checkpoint file.
        var_list: the variables to restore, each found in the file by name; default: every
            variable of the default graph. ``global_step`` is left out of it (it is restored
            from the saved global step). Variables in the file but not in ``var_list`` are
            ignored, as TF1's ``Saver`` does with a ``var_list``.
        optimizer: an optimizer of the saved kind, whose whole state is replaced (its slots are
            matched to ``var_list`` by variable name), or None.
        global_step: an integer scalar Variable set to the saved global step, or None.

    Returns:
        The ``extra`` dict that was saved (``{}`` if none was).

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError (a ``ValueError``): an unreadable file, a variable missing from it, a
            shape or dtype that differs, another optimizer kind or state version, a missing
            optimizer state or global step; the message names the variable or slot and the file.
        TypeError: a bad argument.

    Everything is checked before anything changes: when it raises, every variable, slot,
    counter and the global step are as they were.

    An optimizer with train/eval modes (:mod:`optim.modes`) is put back in the mode it was in
    when saved. Saved in train mode, its variables get the training point back bit for bit
    (the file holds the evaluation point and what recovers the training point from it); saved
    in eval mode, they hold the evaluation point, and its ``train()`` (which ``optim.fit``
    calls before a step) recovers the training point exactly. Either way a resumed run is
    bit-identical to an uninterrupted one.
    """
    path = _fspath(path, "path")
    variables = _resolve_variables(var_list, "restore_checkpoint")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"`optimizer` must be an optim.Optimizer or None, got {optimizer!r}.")
    check_global_step(global_step)
    if global_step is not None:
        variables = {name: v for name, v in variables.items() if v is not global_step}
    data = read_checkpoint(path)
    for name, var in variables.items():
        if var.is_substituted:
            raise RuntimeError(
                f"Variable {name!r} cannot be restored while a gradient is being computed."
            )
        array = data["variables"].get(name)
        if array is None:
            raise CheckpointError(
                f"Variable {name!r} is not in checkpoint {path!r}, which holds "
                f"{_names(data['variables'])}."
            )
        if array.shape != var.shape or array.dtype != var.dtype:
            raise CheckpointError(
                f"Variable {name!r} has shape {array.shape} and dtype {array.dtype} in checkpoint "
                f"{path!r}; the variable has {var.shape} and {var.dtype}."
            )
    step_value = None
    if global_step is not None:
        step_value = data["global_step"]
        if step_value is None:
            raise CheckpointError(f"Checkpoint {path!r} holds no global step.")
        info = np.iinfo(global_step.dtype)
        if not info.min <= step_value <= info.max:
            raise CheckpointError(
                f"The global step {step_value} of checkpoint {path!r} does not fit the "
                f"{global_step.dtype} variable {global_step.name!r}."
            )
    if optimizer is not None:
        state = data["optimizer"]
        if state is None:
            raise CheckpointError(f"Checkpoint {path!r} holds no optimizer state.")
        if state.get("kind") != type(optimizer).__name__:
            raise CheckpointError(
                f"Checkpoint {path!r} holds the state of a {state.get('kind')!r} optimizer, not "
                f"of a {type(optimizer).__name__!r}."
            )
        try:  # validates everything before it changes anything
            optimizer.load_state_dict(state, list(variables.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a malformed state
            raise CheckpointError(f"Checkpoint {path!r}: {exc}") from exc
    # Nothing below can fail: every check is done.
    for name, var in variables.items():
        np.copyto(var.array, data["variables"][name])
    if global_step is not None:
        global_step.array[...] = step_value
    if optimizer is not None and data["optimizer_training"] is True:
        set_training(optimizer, True)
    return data["extra"]


def _names(mapping: dict[str, Any], limit: int = 20) -> str:
    names = sorted(mapping)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{names[:limit]}{more}"


# -- a directory of numbered checkpoints ---------------------------------------------------------
class CheckpointManager:
    """Numbered checkpoints ``<checkpoint_name>-<n>.npz`` in a directory, keeping the last few.

    The checkpoints are found by scanning the directory, so a new manager (a restarted process)
    sees those an earlier one wrote. They are ordered by number: the latest is the highest.

    Args:
        directory: where the checkpoints live; created by the first :meth:`save` if missing.
        max_to_keep: how many checkpoints to keep (older ones are deleted after each save), or
            None to keep all. Default 5.
        checkpoint_name: the file name prefix. Default ``"ckpt"``.

    Raises:
        ValueError: ``max_to_keep`` not a positive integer or None; an empty
            ``checkpoint_name`` or one with a path separator.

    Example:
        >>> manager = CheckpointManager("run1", max_to_keep=3)
        >>> extra = manager.restore_latest([w, b], opt, step)  # None: nothing saved yet
        >>> manager.save(var_list=[w, b], optimizer=opt, global_step=step, extra={"epoch": 2})
        'run1/ckpt-100.npz'
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        max_to_keep: int | None = 5,
        checkpoint_name: str = "ckpt",
    ) -> None:
        if max_to_keep is not None and (
            isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1
        ):
            raise ValueError(
                f"`max_to_keep` must be a positive integer or None, got {max_to_keep!r}."
            )
        if not isinstance(checkpoint_name, str) or not checkpoint_name:
            raise ValueError(
                f"`checkpoint_name` must be a non-empty string, got {checkpoint_name!r}."
            )
        if os.sep in checkpoint_name or (os.altsep and os.altsep in checkpoint_name):
            raise ValueError(
                f"`checkpoint_name` must be a file name prefix without a path separator, "
                f"got {checkpoint_name!r}."
            )
        self._directory = _fspath(directory, "directory")
        self._max_to_keep = max_to_keep
        self._name = checkpoint_name
        self._pattern = re.compile(rf"{re.escape(checkpoint_name)}-(\d+)\.npz")

    @property
    def directory(self) -> str:
        return self._directory

    @property
    def max_to_keep(self) -> int | None:
        return self._max_to_keep

    def _numbered(self) -> list[tuple[int, str]]:
        try:
            names = os.listdir(self._directory)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = self._pattern.fullmatch(name)
            if match:
                found.append((int(match.group(1)), os.path.join(self._directory, name)))
        return sorted(found)

    @property
    def checkpoints(self) -> list[str]:
        """The paths of the checkpoints in the directory, oldest (lowest number) first."""
        return [path for _, path in self._numbered()]

    @property
    def latest_checkpoint(self) -> str | None:
        """The path of the highest-numbered checkpoint, or None if there is none."""
        numbered = self._numbered()
        return numbered[-1][1] if numbered else None

    def save(
        self,
        checkpoint_number: int | None = None,
        var_list: Any = None,
        optimizer: Optimizer | None = None,
        global_step: Variable | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Saves a checkpoint (see :func:`save_checkpoint`), then deletes the oldest extra ones.

        Args:
            checkpoint_number: the file's number; default: the global step's value if
                ``global_step`` is given, else one more than the latest checkpoint's (1 first).
                Saving a number that exists replaces that checkpoint atomically.
            var_list, optimizer, global_step, extra: as :func:`save_checkpoint`.

        Returns:
            The path written.
        """
        if checkpoint_number is None:
            if global_step is not None:
                check_global_step(global_step)
                checkpoint_number = int(global_step.array)
            else:
                numbered = self._numbered()
                checkpoint_number = numbered[-1][0] + 1 if numbered else 1
        if (
            isinstance(checkpoint_number, (bool, np.bool_))
            or not isinstance(checkpoint_number, (int, np.integer))
            or checkpoint_number < 0
        ):
            raise ValueError(
                f"`checkpoint_number` must be a non-negative integer, got {checkpoint_number!r}."
            )
        os.makedirs(self._directory, exist_ok=True)
        path = os.path.join(self._directory, f"{self._name}-{int(checkpoint_number)}.npz")
        save_checkpoint(path, var_list, optimizer, global_step, extra)
        if self._max_to_keep is not None:
            numbered = self._numbered()
            for _, old in numbered[: max(0, len(numbered) - self._max_to_keep)]:
                if old != path:  # never the one just written
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(old)
        return path

    def restore_latest(
        self,
        var_list: Any = None,
        optimizer: Optimizer | None = None,
        global_step: Variable | None = None,
    ) -> dict[str, Any] | None:
        """Restores :attr:`latest_checkpoint` (see :func:`restore_checkpoint`).

        Returns:
            The saved ``extra`` dict (``{}`` if none was saved), or None when the directory
            holds no checkpoint (nothing is changed then).
        """
        latest = self.latest_checkpoint
        if latest is None:
            return None
        return restore_checkpoint(latest, var_list, optimizer, global_step)

    def __repr__(self) -> str:
        return (
            f"CheckpointManager({self._directory!r}, max_to_keep={self._max_to_keep!r}, "
            f"checkpoint_name={self._name!r})"
        )


# -- the newest checkpoint of a directory ------------------------------------------------------
_NUMBERED = re.compile(r"[^.].*-(\d+)(?:\.npz)?")


def _is_checkpoint_file(path: str) -> bool:
    """Whether ``path`` is a file laid out as :func:`save_checkpoint` writes (cheap: the zip's
    table of contents only, the arrays are not read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{_METADATA}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def latest_checkpoint(checkpoint_dir: str | os.PathLike) -> str | None:
    """The path of the newest checkpoint in ``checkpoint_dir``, or None (TF1's function).

    optim keeps no index file: the directory is scanned. The checkpoints are the files named
    ``<prefix>-<number>`` or ``<prefix>-<number>.npz`` that :func:`save_checkpoint` wrote:
    what :class:`CheckpointManager` (``ckpt-100.npz``) and ``Saver.save(path,
    global_step=...)`` (``model.ckpt-100``) write. The newest is the one with the highest
    number, as :attr:`CheckpointManager.latest_checkpoint`; between equal numbers, the most
    recently modified. Files of other names (``save_checkpoint("final.npz")``), hidden files
    (a save in progress) and files that are not optim checkpoints are not considered.

    Args:
        checkpoint_dir: the directory to look in.

    Returns:
        ``os.path.join(checkpoint_dir, name)`` of the newest checkpoint; None when the directory
        holds none, or does not exist, or is not a directory (as TF returns None).

    Raises:
        TypeError: ``checkpoint_dir`` is not a str or os.PathLike.

    Example:
        >>> manager = optim.train.CheckpointManager("run1")
        >>> manager.save(var_list=[w], global_step=step)
        'run1/ckpt-100.npz'
        >>> optim.train.latest_checkpoint("run1")
        'run1/ckpt-100.npz'
    """
    directory = _fspath(checkpoint_dir, "checkpoint_dir")
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    found = []
    for name in names:
        match = _NUMBERED.fullmatch(name)
        if match is None:
            continue
        path = os.path.join(directory, name)
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:  # deleted meanwhile (an older checkpoint being pruned)
            continue
        found.append((int(match.group(1)), mtime, name, path))
    for *_, path in sorted(found, reverse=True):
        if _is_checkpoint_file(path):
            return path
    return None


# -- TF1's name --------------------------------------------------------------------------------
class Saver:
    """TF1's ``tf.train.Saver`` on :func:`save_checkpoint` / :func:`restore_checkpoint`.

    There is no session: ``saver.save(path)`` and ``saver.restore(path)``.

    Args:
        var_list: the variables to save and restore; default: every variable of the default
            graph when the Saver is created (the global step included), as in TF1.
        optimizer: an optimizer whose state is saved and restored too (in TF1 its slots are
            global variables, so a default Saver holds them), or None.

    Raises:
        ValueError: no variables to save.

    Example:
        >>> saver = optim.train.Saver()
        >>> saver.save("model.ckpt", global_step=step)
        'model.ckpt-1000'
        >>> saver.restore("model.ckpt-1000")
    """

    def __init__(self, var_list: Any = None, optimizer: Optimizer | None = None) -> None:
        self._variables = list(_resolve_variables(var_list, "Saver").values())
        if not self._variables:
            raise ValueError("No variables to save")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer or None, got {optimizer!r}.")
        self._optimizer = optimizer

    def save(
        self,
        save_path: str | os.PathLike,
        global_step: Variable | int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Saves to ``save_path``, or to ``"<save_path>-<step>"`` when ``global_step`` is given.

        Returns:
            The path written.
        """
        path = _fspath(save_path, "save_path")
        step_var = global_step if isinstance(global_step, Variable) else None
        if global_step is not None:
            step = int(global_step.array) if step_var is not None else global_step
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
                raise TypeError(
                    f"`global_step` must be an integer or an optim.Variable, got {global_step!r}."
                )
            path = f"{path}-{int(step)}"
        return save_checkpoint(path, self._variables, self._optimizer, step_var, extra)

    def restore(self, save_path: str | os.PathLike) -> dict[str, Any]:
        """Restores the Saver's variables (and optimizer) from ``save_path``; returns ``extra``."""
        return restore_checkpoint(save_path, self._variables, self._optimizer)


# -- helpers -----------------------------------------------------------------------------------
def _fspath(path: Any, arg: str) -> str:
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"`{arg}` must be a str or os.PathLike, got {path!r}.") from None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"`{arg}` must be a non-empty path, got {path!r}.")
    return path


def _resolve_variables(var_list: Any, where: str) -> dict[str, Variable]:
    """``var_list`` (default: every variable of the default graph) keyed by unique name."""
    by_name: dict[str, Variable] = {}
    for var in resolve_var_list(var_list, global_variables, where=where, allow_empty=True):
        other = by_name.setdefault(var.name, var)
        if other is not var:
            raise ValueError(
                f"`var_list` holds two different variables named {var.name!r}; checkpoints "
                "match variables by name."
            )
    return by_name


def _optim_version() -> str:
    from . import __version__

    return __version__
