"""An optimizer's learning rate, read and scaled between steps (for ReduceLROnPlateau)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..optimizer import Optimizer

__all__ = ["LearningRate"]


class _ScaledLearningRate:
    """A schedule times a factor: what ReduceLROnPlateau installs over a callable rate."""

    __slots__ = ("base", "scale")

    def __init__(self, base: Callable[[], Any], scale: float) -> None:
        self.base, self.scale = base, scale

    def __call__(self) -> float:
        return float(self.base()) * self.scale

    def __repr__(self) -> str:
        return f"{self.scale!r} * {self.base!r}"


class LearningRate:
    """Reads and scales an optimizer's ``learning_rate`` hyperparameter between steps.

    A float rate ``r`` becomes ``r * scale``; a schedule ``s`` becomes ``lambda: s() * scale``,
    set through :meth:`Optimizer.set_hyper` (which validates it).
    """

    def __init__(self, optimizer: Optimizer) -> None:
        inner = optimizer
        while hasattr(inner, "inner_optimizer"):
            inner = inner.inner_optimizer
        try:
            value = inner.get_hyper("learning_rate")
        except (AttributeError, ValueError):
            raise ValueError(
                f"`optimizer` must have a `learning_rate` hyperparameter to be changed, got "
                f"{optimizer!r}."
            ) from None
        self._optimizer = inner
        if isinstance(value, _ScaledLearningRate):  # installed by an earlier fit
            self._base, self.scale = value.base, value.scale
        else:
            self._base, self.scale = value, 1.0

    def value(self) -> float:
        """The learning rate in effect now."""
        rate = self._optimizer.get_hyper("learning_rate")
        return float(rate() if callable(rate) else rate)

    def base_value(self) -> float:
        """The unscaled learning rate: the original float, or the schedule's value now."""
        return float(self._base() if callable(self._base) else self._base)

    def set_scale(self, scale: float) -> None:
        """Sets the optimizer's rate to the base rate times ``scale`` (1.0: the base itself)."""
        if callable(self._base):
            rate = self._base if scale == 1.0 else _ScaledLearningRate(self._base, scale)
        else:
            rate = self._base * scale
        self._optimizer.set_hyper("learning_rate", rate)
        self.scale = scale
