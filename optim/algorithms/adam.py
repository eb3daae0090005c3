"""Adam and AMSGrad (TF1 ``AdamOptimizer``), and Adam with decoupled weight decay (AdamW)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.numpy_kernels import adam_step, adam_update
from ..optimizer import Optimizer
from ..sparse import IndexedSlices
from ..validation import BETA, check_bool
from ..variables import Variable

__all__ = ["AdamOptimizer", "AdamWOptimizer"]


class AdamOptimizer(Optimizer):
    """Adam: steps from bias-corrected running moments of the gradient (TF1's form).

    The update at step ``t`` (1 at the first ``apply_gradients``), with slots ``m`` and ``v``
    (zero) and the non-slot ``beta1_power``, ``beta2_power`` (``beta1**t``, ``beta2**t``)::

        alpha = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        m     = beta1 * m + (1 - beta1) * grad
        v     = beta2 * v + (1 - beta2) * grad**2
        vhat  = max(vhat, v)                                  # amsgrad=True only
        var  -= alpha * m / (sqrt(v) + epsilon)               # sqrt(vhat) with amsgrad

    The beta powers are created with the variable whose name sorts first (in its dtype),
    shared by all variables, and advanced once per ``apply_gradients`` in ``_finish``. They
    are state, not a step counter: TF1's float32 results depend on the rounding of the running
    products ``beta**t``, so they are kept (and saved in checkpoints and ``state_dict``) rather
    than recomputed from the base's step count.

    Args:
        learning_rate: a float >= 0 or a zero-argument callable (a schedule). Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        epsilon: a float >= 0 (the paper's "epsilon hat", see the note). Default 1e-8.
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"Adam"``.
        amsgrad: AMSGrad (TF's ``ApplyAdamWithAmsgrad``, Keras ``amsgrad=True``): adds the
            slot ``vhat``, the running maximum of ``v`` (not of a bias-corrected ``v``), and
            divides by ``sqrt(vhat)``. Default False.
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type, or ``amsgrad`` not a bool.
        ValueError: a hyperparameter out of range, NaN or infinite.

    Example:
        >>> opt = optim.train.AdamOptimizer(learning_rate=0.01)
        >>> opt.minimize(loss, var_list=[w, b])

    Sparse gradients are dense-equivalent, as TF's ``AdamOptimizer._apply_sparse``: ``m`` and
    ``v`` decay on the whole tensor before the rows in ``indices`` are added, and every row
    with a non-zero ``m`` moves. The result equals dense Adam with zero rows (use
    :class:`optim.IndexedSlices` for memory, not for laziness).

    .. note::
        ``epsilon`` is added to the *uncorrected* ``sqrt(v)`` (TF1, Keras 2 and 3). PyTorch,
        optax and Algorithm 1 of the paper add it to ``sqrt(v / (1 - beta2**t))``: the two
        agree when TF's epsilon equals PyTorch's times ``sqrt(1 - beta2**t)``, so TF's
        effective epsilon is ~31.6 times larger at ``t = 1`` with ``beta2 = 0.999``. Default
        epsilons differ too: 1e-8 here, in TF1 and PyTorch; 1e-7 in Keras.

    .. note::
        TF1 stores the beta powers as float32 whatever the variables' dtype; here they take
        the dtype of the first variable by name, so float64 runs use exact float64 powers
        (float32 runs are unchanged).

    References:
        Kingma and Ba, "Adam: A Method for Stochastic Optimization", 2014.
        Reddi, Kale and Kumar, "On the Convergence of Adam and Beyond", 2018 (AMSGrad).
    """

    flat_kernel = "adam"  # optim.engine: one call over every variable of a dtype
    flat_decay_kernel = "adamw"  # the base's weight decay and the Adam step, in one pass

    # Its own sparse rule, TF's AdamOptimizer._apply_sparse: decay m and v on the whole tensor,
    # scatter-add the rows, step the whole tensor. Dense-equivalent in meaning, but it rounds
    # differently from the dense kernel on zero rows (m * beta1, not m + (0 - m) * (1 - beta1)).
    sparse_updates = "custom"
    kernel_slots = ("m", "v", "vhat")  # no "vhat" slot without amsgrad: None
    kernel_scratch = 2

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-8,
        use_locking: bool = False,
        name: str = "Adam",
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(use_locking, name, **kwargs)
        self._set_hyper("learning_rate", learning_rate)
        self._set_hyper("beta1", beta1, BETA)
        self._set_hyper("beta2", beta2, BETA)
        self._set_hyper("epsilon", epsilon)
        self._amsgrad = check_bool("amsgrad", amsgrad)

    def _create_slots(self, var_list: list[Variable]) -> None:
        first_var = min(var_list, key=lambda var: var.name)
        for power, beta in (("beta1_power", "beta1"), ("beta2_power", "beta2")):
            initial = self._current_hyper(beta)
            self._create_non_slot_variable(initial, power, colocate_with=first_var)
        for var in var_list:
            self._zeros_slot(var, "m", self._name)
            self._zeros_slot(var, "v", self._name)
            if self._amsgrad:
                self._zeros_slot(var, "vhat", self._name)

    def _step_scalars(self, dtype: np.dtype) -> tuple[Any, ...]:
        """``(alpha, beta1, beta2, epsilon, 1 - beta1, 1 - beta2)`` in ``dtype``, with TF's
        kernel's ``alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power)``; the first four
        are the fused kernel's arguments."""
        one = dtype.type(1)
        beta1_power = dtype.type(self._get_non_slot_variable("beta1_power"))
        beta2_power = dtype.type(self._get_non_slot_variable("beta2_power"))
        lr = self._get_hyper("learning_rate", dtype)
        beta1 = self._get_hyper("beta1", dtype)
        beta2 = self._get_hyper("beta2", dtype)
        return (
            lr * np.sqrt(one - beta2_power) / (one - beta1_power),
            beta1,
            beta2,
            self._get_hyper("epsilon", dtype),
            one - beta1,
            one - beta2,
        )

    def _flat_arguments(self, scalars: tuple[Any, ...]) -> tuple[Any, ...]:
        return scalars[:4]

    def _kernel(self, var, slots, grad, scalars, scratch, *, rows=False) -> None:
        m, v, vhat = slots
        alpha, _, _, epsilon, one_minus_beta1, one_minus_beta2 = scalars[:6]
        adam_update(
            var, m, v, vhat, grad, scratch, alpha, one_minus_beta1, one_minus_beta2, epsilon
        )

    def _apply_sparse(self, grad: IndexedSlices, var: Variable) -> None:
        # TF's Python sparse path (see sparse_updates above).
        scalars = self._scalars(var.dtype)
        alpha, beta1, beta2, epsilon, one_minus_beta1, one_minus_beta2 = scalars[:6]
        m, v, vhat = self._kernel_slot_arrays(var)
        rows, values = grad.indices, grad.values
        np.multiply(m, beta1, out=m)
        m[rows] += values * one_minus_beta1
        np.multiply(v, beta2, out=v)
        v[rows] += (values * values) * one_minus_beta2
        adam_step(var.array, m, v, vhat, self._scratch(var, 2), alpha, epsilon)

    def _finish(self, update_ops: list[Variable], name_scope: str) -> None:
        for power, beta in (("beta1_power", "beta1"), ("beta2_power", "beta2")):
            state = self._get_non_slot_variable(power)
            np.multiply(state, self._get_hyper(beta, state.dtype), out=state)


_DECAY_SCALES = ("learning_rate", "none")


class AdamWOptimizer(AdamOptimizer):
    """Adam with decoupled weight decay (AdamW): the base's decay, then the Adam step.

    For each variable whose weight decays, then the :class:`AdamOptimizer` update::

        var -= var * weight_decay * learning_rate      # weight_decay_scale="learning_rate"
        var -= var * weight_decay                      # weight_decay_scale="none"

    The decay is :class:`optim.Optimizer`'s, which every optimizer takes (``weight_decay=``
    and :meth:`~optim.Optimizer.exclude_from_weight_decay`); AdamW differs from
    ``AdamOptimizer(weight_decay=...)`` only by its defaults, its positional order and its two
    TF contrib options (``weight_decay_scale``, ``decay_var_list``).

    Args:
        weight_decay: a float >= 0 or a zero-argument callable; None or 0 is off.
            Default 0.004 (Keras 3).
        learning_rate: a float >= 0 or a zero-argument callable. Default 0.001.
        beta1: decay of the first moment, in [0, 1). Default 0.9.
        beta2: decay of the second moment, in [0, 1). Default 0.999.
        epsilon: a float >= 0, TF's "epsilon hat" as in :class:`AdamOptimizer`.
            Default 1e-7 (Keras 3's AdamW).
        use_locking: accepted for TF1 compatibility.
        name: defaults to ``"AdamW"``.
        amsgrad: AMSGrad, as in :class:`AdamOptimizer`. Default False.
        weight_decay_scale: ``"learning_rate"`` (default) multiplies the decay by the learning
            rate, as Keras 3 and PyTorch; ``"none"`` decays by ``weight_decay`` alone, as TF1
            ``tf.contrib.opt.AdamWOptimizer`` and TF Addons (then a learning-rate schedule
            does not reach the decay: schedule ``weight_decay`` too).
        exclude_from_weight_decay: a shortcut for calling
            :meth:`~optim.Optimizer.exclude_from_weight_decay` once: variables whose weights
            never decay, given as :class:`optim.Variable` objects and/or name patterns (each
            string a regular expression searched in the variable's name, so ``"bias"``
            matches every name containing it). Default None (every variable decays).
        **kwargs: base-class options (``gradient=``), see :class:`optim.Optimizer`.

    Raises:
        TypeError: a hyperparameter of the wrong type, ``weight_decay_scale`` not a string,
            or ``exclude_from_weight_decay`` holding something other than Variables and
            strings.
        ValueError: a hyperparameter out of range, NaN or infinite, an unknown
            ``weight_decay_scale``, or an invalid regular expression.

    Example:
        >>> opt = optim.train.AdamWOptimizer(weight_decay=0.01, learning_rate=1e-3,
        ...                                  exclude_from_weight_decay=["bias"])
        >>> opt.minimize(loss, var_list=[w, bias], decay_var_list=[w])

    :meth:`apply_gradients` and :meth:`minimize` also take ``decay_var_list`` (TF contrib):
    when given, only those variables decay (minus the excluded ones).

    Sparse gradients are dense-equivalent, as :class:`AdamOptimizer`; the decay applies to
    the whole variable.

    The positional order ``(weight_decay, learning_rate, ...)`` is TF contrib's
    ``AdamWOptimizer``; the numeric defaults are Keras 3's ``AdamW``.

    .. note::
        Keras 3 (``var - var * wd * lr``) and PyTorch (``var * (1 - lr * wd)``) scale the
        decay by the learning rate; TF contrib and TF Addons do not. With ``learning_rate=1``
        the two agree. Default decays: 0.004 here and in Keras 3, 0.01 in PyTorch, none in
        TF contrib (a required argument). The Adam step keeps TF's epsilon-hat placement
        (see :class:`AdamOptimizer`), which PyTorch's AdamW does not.

    References:
        Loshchilov and Hutter, "Decoupled Weight Decay Regularization", 2019.
    """

    def __init__(
        self,
        weight_decay: Any = 0.004,
        learning_rate: Any = 0.001,
        beta1: Any = 0.9,
        beta2: Any = 0.999,
        epsilon: Any = 1e-7,
        use_locking: bool = False,
        name: str = "AdamW",
        amsgrad: bool = False,
        weight_decay_scale: str = "learning_rate",
        exclude_from_weight_decay: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate, beta1, beta2, epsilon, use_locking, name, amsgrad,
            weight_decay=weight_decay, **kwargs,
        )  # fmt: skip
        if not isinstance(weight_decay_scale, str):
            raise TypeError(f"`weight_decay_scale` must be a string, got {weight_decay_scale!r}.")
        if weight_decay_scale not in _DECAY_SCALES:
            raise ValueError(
                "`weight_decay_scale` must be 'learning_rate' or 'none', "
                f"got {weight_decay_scale!r}."
            )
        self._scale_by_lr = weight_decay_scale == "learning_rate"
        if exclude_from_weight_decay is not None:
            self.exclude_from_weight_decay(*_split_exclusions(exclude_from_weight_decay))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restores a pickle; one made before weight decay moved to the base class keeps its
        exclusions (its excluded Variables by name, as the base pickles them)."""
        pattern = state.pop("_excluded_pattern", None)
        excluded = state.pop("_excluded_vars", None) or set()
        state.pop("_decay_vars", None)
        super().__setstate__(state)
        if pattern is not None:
            self._decay_pattern = pattern
        if excluded:
            self._decay_excluded_names = self._decay_excluded_names | {v.name for v in excluded}

    def _decay_scalars(self, dtype: np.dtype) -> tuple[Any, Any]:
        """``(weight_decay, learning_rate)``, the rate None for ``weight_decay_scale="none"``."""
        lr = self._get_hyper("learning_rate", dtype) if self._scale_by_lr else None
        return self._get_hyper("weight_decay", dtype), lr

    def apply_gradients(
        self,
        grads_and_vars: Any,
        global_step: Variable | None = None,
        name: str | None = None,
        decay_var_list: Any = None,
    ) -> None:
        """:meth:`optim.Optimizer.apply_gradients`, decaying only ``decay_var_list`` if given.

        Args:
            decay_var_list: a list of variables to decay (TF contrib); ``None`` decays every
                variable that is not excluded. Unlike TF contrib, an empty list decays none.

        Raises:
            TypeError: ``decay_var_list`` is not a list of Variables, plus everything the base
                method raises.
        """
        with self._weight_decay_only(decay_var_list):
            super().apply_gradients(grads_and_vars, global_step=global_step, name=name)

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
        decay_var_list: Any = None,
        *,
        gradient: Any = None,
    ) -> Any:
        """:meth:`optim.Optimizer.minimize`, decaying only ``decay_var_list`` if given."""
        with self._weight_decay_only(decay_var_list):
            return super().minimize(
                loss,
                global_step,
                var_list,
                gate_gradients,
                aggregation_method,
                colocate_gradients_with_ops,
                name,
                grad_loss,
                gradient=gradient,
            )


def _split_exclusions(exclude: Any) -> tuple[list[Variable], list[str]]:
    """Splits AdamW's ``exclude_from_weight_decay`` into ``(var_list, var_names)`` for
    :meth:`optim.Optimizer.exclude_from_weight_decay`, checking it under its own name."""
    if isinstance(exclude, (Variable, str)):
        exclude = [exclude]
    if not isinstance(exclude, (list, tuple, set, frozenset)):
        raise TypeError(
            "`exclude_from_weight_decay` must be a list of optim.Variable objects and/or name "
            f"patterns, got {exclude!r}."
        )
    variables, patterns = [], []
    for item in exclude:
        if isinstance(item, Variable):
            variables.append(item)
        elif isinstance(item, str):
            try:
                re.compile(item)
            except re.error as exc:
                raise ValueError(
                    "`exclude_from_weight_decay` patterns must be valid regular expressions, "
                    f"got {item!r}."
                ) from exc
            patterns.append(item)
        else:
            raise TypeError(
                "`exclude_from_weight_decay` must hold optim.Variable objects or name "
                f"patterns (str), got {item!r}."
            )
    return variables, patterns
