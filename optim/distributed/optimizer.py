"""``DistributedOptimizer``: any optim optimizer, its gradients reduced over the ranks.

Horovod's TF1 recipe, on :mod:`optim.distributed`::

    import optim.distributed as hvd
    hvd.init()
    opt = hvd.DistributedOptimizer(optim.train.AdamOptimizer(1e-3 * hvd.size()))
    hvd.broadcast_variables([w, b], root_rank=0)
    opt.minimize(lambda: loss(x_shard, y_shard), var_list=[w, b])
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..modes import has_modes, set_training
from ..optimizer import Optimizer
from ..sparse import IndexedSlices
from ..validation import check_bool, flatten
from ..variables import Variable, global_variables, match_by_name
from .collectives import Average, Compression, check_op
from .gradients import GradientReducer
from .training import MPIDistribution

__all__ = ["DistributedOptimizer"]


class DistributedOptimizer(Optimizer):
    """Wraps ``optimizer`` so that every update uses the gradients reduced over all ranks.

    With ``backward_passes_per_step = k = 1`` (the default):

    - :meth:`compute_gradients` computes this rank's gradients with the wrapped optimizer's
      gradient source, then reduces them over the ranks (``op``, by default the mean) in one
      fused Allreduce per dtype, and returns the reduced ``(gradient, variable)`` pairs;
    - :meth:`apply_gradients` is the wrapped optimizer's: it applies the pairs it is given
      (reduced already by :meth:`compute_gradients`);
    - :meth:`minimize` is the two in a row and returns this rank's loss value.

    Tensor fusion: all dense gradients of a step travel in one flat buffer and one Allreduce
    per dtype. Within :meth:`minimize` (and the ``k``-th apply below) that buffer is the wrapped
    optimizer's own flat gradient buffer once its flat layout exists
    (:meth:`optim.Optimizer.gradient_arena`, from its first fused step on): the gradients are
    gathered there, reduced in place, and its update reads them without another copy. Before
    that, and for an optimizer without a flat layout (no fused kernel, ``OPTIM_ENGINE=off``)
    or a step whose gradients do not cover its variables, they travel in a fusion buffer of
    this package. The results are the same to the bit either way. With ``Sum`` or ``Average``
    and variables of one dtype, a step after the first is that one Allreduce alone: the check
    that every rank still has the same variables rides in a header at the buffer's end
    (:class:`optim.distributed.gradients.GradientReducer`).

    With ``k > 1``, gradients are accumulated locally and reduced once every ``k`` passes, as
    Horovod's ``backward_passes_per_step``: :meth:`compute_gradients` returns this rank's
    gradients of this pass, unreduced; each :meth:`apply_gradients` adds them into local
    accumulators, and the ``k``-th reduces the accumulated sum over the ranks (divided by
    ``k`` with ``average_aggregated_gradients``) and applies it with the wrapped optimizer.
    So ``k`` passes per rank train like ``optim.GradientAccumulationOptimizer(opt, k,
    "sum")`` (or ``"mean"``) on the union of the ranks' micro-batches, with one Allreduce
    per ``k`` passes. ``global_step`` grows once per real update, as in
    ``GradientAccumulationOptimizer`` (Horovod's TF1 helper counts every pass).

    Gradients that are None, sparse or mismatched follow
    :func:`optim.distributed.gradients.reduce_gradients`: None stays None on every rank when
    no rank has a gradient for the variable, a gradient present on some ranks only counts as
    zero on the others, IndexedSlices are allgathered (densified with ``sparse_as_dense``),
    and ranks that disagree on the variables' names, shapes or dtypes raise ValueError naming
    the variable, before the first Allreduce. Every rank computes the same reduced gradients
    from the same bytes, so the wrapped optimizer's update, and the variables after it, are
    bit-identical on every rank that started from the same values
    (:func:`optim.distributed.broadcast_variables`).

    Args:
        optimizer: any :class:`optim.Optimizer`.
        name: default ``"Distributed" + optimizer's name``.
        use_locking, device_dense, device_sparse: accepted for Horovod compatibility; unused.
        compression: ``hvd.Compression.none`` (default) or ``hvd.Compression.fp16``.
        sparse_as_dense: densify IndexedSlices gradients before reducing them.
        backward_passes_per_step: ``k``, a positive int.
        op: ``hvd.Average`` (default), ``hvd.Sum``, ``hvd.Min``, ``hvd.Max``, ``hvd.Product``.
        gradient_predivide_factor: with ``Average``, gradients are multiplied by
            ``1 / factor`` before the sum and by ``factor / size()`` after it.
        average_aggregated_gradients: with ``k > 1``, divide the accumulated gradients by
            ``k`` (Horovod's default, False, sends their sum).

    Non-finite values:
        The wrapped optimizer's ``nonfinite=`` policy applies to the *reduced* gradients, so
        every rank takes the same decision (a NaN on one rank is a NaN everywhere after the
        Allreduce). A non-finite loss alone, with finite gradients, is not checked.

    Raises:
        TypeError: ``optimizer`` not an optim.Optimizer; a non-bool flag; a non-int ``k``.
        ValueError: ``k < 1``; an unknown ``op`` or ``compression``; a bad
            ``gradient_predivide_factor`` or one != 1 without ``Average``.

    Example:
        >>> opt = hvd.DistributedOptimizer(optim.train.MomentumOptimizer(0.1 * hvd.size(), 0.9))
        >>> opt.minimize(loss, var_list=[w])
    """

    sparse_updates = "custom"  # IndexedSlices are accepted, and reduced or accumulated here

    def __init__(
        self,
        optimizer: Optimizer,
        name: str | None = None,
        use_locking: bool = False,
        device_dense: str = "",
        device_sparse: str = "",
        compression: Any = Compression.none,
        sparse_as_dense: bool = False,
        backward_passes_per_step: int = 1,
        op: Any = Average,
        gradient_predivide_factor: float = 1.0,
        average_aggregated_gradients: bool = False,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"`optimizer` must be an optim.Optimizer, got {optimizer!r}.")
        op = check_op(op)
        if compression is not Compression.none and compression is not Compression.fp16:
            raise ValueError(
                "`compression` must be hvd.Compression.none or hvd.Compression.fp16, got "
                f"{compression!r}."
            )
        k = backward_passes_per_step
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"`backward_passes_per_step` must be a positive int, got {k!r}.")
        if k < 1:
            raise ValueError(f"`backward_passes_per_step` must be a positive int, got {k!r}.")
        factor = gradient_predivide_factor
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            raise TypeError(
                f"`gradient_predivide_factor` must be a positive finite number, got {factor!r}."
            )
        if not (np.isfinite(factor) and factor > 0):
            raise ValueError(
                f"`gradient_predivide_factor` must be a positive finite number, got {factor!r}."
            )
        if factor != 1.0 and op is not Average:
            raise ValueError(
                f"`gradient_predivide_factor` must be 1.0 unless op is hvd.Average, got {factor!r} "
                f"with op={op!r}."
            )
        sparse_as_dense = check_bool("sparse_as_dense", sparse_as_dense)
        average = check_bool("average_aggregated_gradients", average_aggregated_gradients)
        if name is None:
            name = "Distributed" + optimizer.get_name()
        super().__init__(use_locking, name, gradient=optimizer.gradient, nonfinite="propagate")
        self._optimizer = optimizer
        self._op = op
        self._compression = compression
        self._sparse_as_dense = bool(sparse_as_dense)
        self._k = int(k)
        self._predivide = float(factor)
        self._average_aggregated = bool(average)
        self._accumulators: dict[Variable, np.ndarray] = {}
        self._cycle: dict[Variable, None] = {}  # the variables met this cycle, in order
        self._passes = 0
        self._reducer = GradientReducer()  # one Allreduce per steady step (see its docs)

    # -- the wrapped optimizer and the options ----------------------------------------------
    @property
    def inner_optimizer(self) -> Optimizer:
        """The wrapped optimizer."""
        return self._optimizer

    @property
    def op(self) -> Any:
        return self._op

    @property
    def backward_passes_per_step(self) -> int:
        return self._k

    @property
    def passes(self) -> int:
        """Backward passes accumulated since the last update, 0 to ``k - 1``."""
        return self._passes

    @property
    def distribution(self) -> Any:
        """The :class:`optim.distributed.training.MPIDistribution` a
        :class:`~optim.training.Trainer` takes from this optimizer (shards, summed logs, rank
        0 writes)."""
        return MPIDistribution()

    @property
    def iterations(self) -> int:
        """The wrapped optimizer's count of updates."""
        return self._optimizer.iterations

    @property
    def learning_rate(self) -> Any:
        """The wrapped optimizer's learning rate (settable)."""
        return self._optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self._optimizer.learning_rate = value

    # -- train / eval modes, forwarded (see optim.modes) ------------------------------------
    @property
    def training(self) -> bool | None:
        """The wrapped optimizer's ``training`` when it has train/eval modes (Schedule-Free),
        else None (this wrapper has no modes then)."""
        return self._optimizer.training if has_modes(self._optimizer) else None

    def train(self) -> None:
        """The wrapped optimizer's ``train()``, when it has modes; nothing otherwise."""
        set_training(self._optimizer, True)

    def eval(self) -> None:
        """The wrapped optimizer's ``eval()``, when it has modes; nothing otherwise."""
        set_training(self._optimizer, False)

    def get_hyper(self, name: str) -> Any:
        return self._optimizer.get_hyper(name)

    def set_hyper(self, name: str, value: Any) -> None:
        self._optimizer.set_hyper(name, value)

    def get_slot(self, var: Variable, name: str) -> np.ndarray | None:
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return self._optimizer.get_slot_names()

    def variables(self) -> list[np.ndarray]:
        """The wrapped optimizer's state arrays, then the accumulators (by variable name)."""
        accumulators = sorted((v.name, a) for v, a in self._accumulators.items())
        return self._optimizer.variables() + [a for _, a in accumulators]

    # -- the reduction -----------------------------------------------------------------------
    def _reduce(self, pairs: list[tuple[Any, Variable]], scale: float = 1.0, *, apply=False):
        """The reduced pairs. With ``apply`` (the pairs go straight to the wrapped optimizer
        and are never handed to the caller), dense gradients are reduced in the wrapped
        optimizer's flat gradient buffer when it has one for them
        (:meth:`optim.Optimizer.gradient_arena`), which its apply then reads without a copy;
        else (the first step, an optimizer without a flat layout, the pairs that
        :meth:`compute_gradients` returns) in the fusion buffer, copied out."""
        return self._reducer(
            pairs,
            op=self._op,
            compression=self._compression,
            sparse_as_dense=self._sparse_as_dense,
            prescale_factor=1.0 / self._predivide,
            postscale_factor=self._predivide * scale,
            into=self._optimizer.gradient_arena if apply else None,
        )

    def compute_gradients(
        self,
        loss: Callable[[], Any],
        var_list: Any = None,
        gate_gradients: int = Optimizer.GATE_OP,
        aggregation_method: int | None = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: Any = None,
        *,
        gradient: Any = None,
    ) -> list[tuple[Any, Variable]]:
        """This rank's gradients of ``loss``, reduced over the ranks (``k = 1``) or not
        (``k > 1``: the reduction happens once per cycle, in :meth:`apply_gradients`).

        Arguments and errors as :meth:`optim.Optimizer.compute_gradients`, plus the
        disagreement errors of the reduction.
        """
        _, pairs = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        return self._reduce(pairs) if self._k == 1 else pairs

    def apply_gradients(
        self,
        grads_and_vars: Iterable[tuple[Any, Variable]],
        global_step: Variable | None = None,
        name: str | None = None,
    ) -> None:
        """``k = 1``: the wrapped optimizer's ``apply_gradients``. ``k > 1``: accumulates this
        pass's gradients; the ``k``-th call reduces the accumulated gradients over the ranks
        and applies them with the wrapped optimizer.

        Raises:
            As :meth:`optim.Optimizer.apply_gradients` (nothing is accumulated then).
        """
        if self._k == 1:
            self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)
            return
        try:
            pairs = tuple(grads_and_vars)
        except TypeError as exc:
            raise TypeError(
                f"`grads_and_vars` must be an iterable of (gradient, variable) pairs, "
                f"got {grads_and_vars!r}."
            ) from exc
        if not pairs:
            raise ValueError("No variables provided.")
        if all(isinstance(p, tuple) and len(p) == 2 and p[0] is None for p in pairs):
            # No gradient on this rank in this pass: it still counts (other ranks may have
            # some; the reduction at the cycle's end decides, the same on every rank).
            updates = []
            for i, (_, var) in enumerate(pairs):
                if not isinstance(var, Variable):
                    raise TypeError(
                        f"`grads_and_vars[{i}]` must hold an optim.Variable, got {var!r}."
                    )
        else:
            updates = self._check_pairs(pairs)
        if global_step is not None and not isinstance(global_step, Variable):
            raise TypeError(f"`global_step` must be an optim.Variable, got {global_step!r}.")
        for _, var in pairs:
            self._cycle.setdefault(var, None)
        for grad, var in updates:
            acc = self._accumulators.get(var)
            if acc is None:
                acc = self._accumulators[var] = np.zeros(var.shape, var.dtype)
            if isinstance(grad, IndexedSlices):
                np.add.at(acc, grad.indices, grad.values)
            else:
                np.add(acc, grad, out=acc)
        self._passes += 1
        if self._passes < self._k:
            return
        cycle = [(self._accumulators.get(var), var) for var in self._cycle]
        self._accumulators, self._cycle, self._passes = {}, {}, 0
        scale = 1.0 / self._k if self._average_aggregated else 1.0
        reduced = [(g, v) for g, v in self._reduce(cycle, scale, apply=True) if g is not None]
        self._optimizer.apply_gradients(reduced, global_step=global_step, name=name)

    def minimize(
        self,
        loss: Callable[[], Any],
        global_step: Variable | None = None,
        var_list: Any = None,
        gate_gradients: int = Optimizer.GATE_OP,
        aggregation_method: int | None = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: Any = None,
        *,
        gradient: Any = None,
    ) -> Any:
        """:meth:`compute_gradients` then :meth:`apply_gradients`; returns this rank's loss.

        Raises:
            ValueError: no rank has a gradient for any variable (on every rank alike; with
                ``k > 1``, in a whole cycle), plus what the two methods raise.
        """
        value, pairs = self._compute(
            loss, var_list, gate_gradients, aggregation_method, grad_loss, gradient
        )
        if self._k > 1:  # None-ness is decided over ranks and passes, at the cycle's end
            self.apply_gradients(pairs, global_step=global_step, name=name)
            return value
        pairs = self._reduce(pairs, apply=True)
        if all(g is None for g, _ in pairs):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[v.name for _, v in pairs]} "
                f"and loss {loss!r}."
            )
        self.apply_gradients(pairs, global_step=global_step, name=name)
        return value

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"kind", "version", "backward_passes_per_step", "passes", "accumulators":
        {variable_name: array}, "inner": optimizer.state_dict()}``."""
        return {
            "kind": type(self).__name__,
            "version": self.STATE_VERSION,
            "backward_passes_per_step": self._k,
            "passes": self._passes,
            "cycle": [v.name for v in self._cycle],
            "accumulators": {v.name: a.copy() for v, a in self._accumulators.items()},
            "inner": self._optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], var_list: Any = None) -> None:
        """Restores :meth:`state_dict` output (the wrapped optimizer's state included).

        Raises:
            ValueError: another kind, version or ``backward_passes_per_step``, an accumulator
                that matches no variable, or what the wrapped optimizer rejects. Nothing is
                changed then.
        """
        self._check_state_header(state)
        if state.get("backward_passes_per_step") != self._k:
            raise ValueError(
                "`state` was saved with backward_passes_per_step="
                f"{state.get('backward_passes_per_step')!r}; this optimizer has {self._k}."
            )
        passes = int(state["passes"])
        if not 0 <= passes < self._k:
            raise ValueError(f"`state['passes']` must be in [0, {self._k}), got {passes!r}.")
        candidates = global_variables() if var_list is None else list(flatten(var_list))
        accumulators = match_by_name(state["accumulators"], candidates, "accumulator")
        by_name = {v.name: v for v in candidates}
        missing = [n for n in state["cycle"] if n not in by_name]
        if missing:
            raise ValueError(f"`state['cycle']` names variables that do not exist: {missing}.")
        self._optimizer.load_state_dict(state["inner"], var_list)
        self._accumulators = accumulators
        self._cycle = {by_name[n]: None for n in state["cycle"]}
        self._passes = passes

    def __repr__(self) -> str:
        return (
            f"DistributedOptimizer({self._optimizer!r}, op={self._op!r}, "
            f"backward_passes_per_step={self._k}, name={self._name!r})"
        )
