"""A Keras-shaped training loop for losses written over Variables.

``optim.fit(loss, x, y, optimizer=opt, epochs=5)`` draws mini-batches and calls ``opt.minimize``
once per batch; callbacks run between steps. One module per job:

- :mod:`~optim.training.trainer`: :class:`Trainer` (data order, steps, state) and :func:`fit`.
- :mod:`~optim.training.callbacks`: the :class:`Callback` base and the callbacks.
- :mod:`~optim.training.checkpointing`: :class:`ModelCheckpoint`, resumable checkpoints.
- :mod:`~optim.training.progress`: the progress bar or lines.
- :mod:`~optim.training.data`: checking the arrays and drawing a batch's rows.
- :mod:`~optim.training.interrupts`: Ctrl-C delivered between steps, never inside one.
- :mod:`~optim.training.learning_rate`: an optimizer's learning rate, scaled between steps.
- :mod:`~optim.training.state_codec`: arrays as JSON-able data for checkpoint ``extra``.
- :mod:`~optim.training.checks`, :mod:`~optim.training.monitor`: shared argument checks.
"""

from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    MovingAverage,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .checkpointing import ModelCheckpoint
from .trainer import STATE_VERSION as STATE_VERSION  # as before the split; not in __all__
from .trainer import Trainer, fit

__all__ = [
    "fit",
    "Trainer",
    "Callback",
    "History",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "CSVLogger",
    "ModelCheckpoint",
    "MovingAverage",
    "LambdaCallback",
]
