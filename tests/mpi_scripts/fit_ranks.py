"""Rank script: ``optim.fit``'s Trainer under MPI, interrupted by a kill and resumed.

Usage: ``mpiexec -n N python fit_ranks.py OUTDIR CKPTDIR MODE`` with MODE ``full`` (train to
the end), ``killed`` (rank N-1 SIGKILLs itself after step 11; checkpoints every 4 steps) or
``resume`` (resume from CKPTDIR's latest checkpoint and train to the end). Rank 0 writes
``OUTDIR/<MODE>.npz`` (final variables) and ``OUTDIR/<MODE>.json`` (history, steps); every
rank writes ``OUTDIR/<MODE>-rank<r>.json`` (what it saw).
"""

import json
import os
import pathlib
import signal
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import problem  # noqa: E402

import optim.distributed as hvd  # noqa: E402
from optim.training import Callback, ModelCheckpoint, Trainer  # noqa: E402

BATCH = 4
EPOCHS = 3
KILL_AFTER = 11
EXAMPLES = 117  # not a multiple of 2 or of the batch: the last shard is padded, batches short
SEED = 3


class KillAt(Callback):
    def on_train_batch_end(self, step, logs=None):
        if self.trainer.step == KILL_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)


def main(outdir, ckptdir, mode):
    outdir = pathlib.Path(outdir)
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    x, y = problem.data()
    x, y = x[:EXAMPLES], y[:EXAMPLES]
    x_val, y_val = x[:30] + 0.5, y[:30]
    variables = problem.make_variables()
    for v in variables:  # each rank starts elsewhere: the callback makes rank 0's everyone's
        v.assign(v.array + rank)
    opt = hvd.DistributedOptimizer(problem.OPTIMIZERS["adam"]())
    trainer = Trainer(
        lambda xb, yb: problem.loss(variables, xb, yb),
        x,
        y,
        optimizer=opt,
        var_list=variables,
        batch_size=BATCH,
        metrics={"mae": lambda xb, yb: float(np.mean(np.abs(problem.predict(variables, xb) - yb)))},
        seed=SEED,
    )
    checkpoints = ModelCheckpoint(ckptdir, save_freq=4, max_to_keep=2, resume=mode == "resume")
    callbacks = [hvd.BroadcastGlobalVariablesCallback(0), checkpoints]
    if mode == "killed" and rank == size - 1:
        callbacks.append(KillAt())
    history = trainer.fit(
        epochs=EPOCHS, validation_data=(x_val, y_val), callbacks=callbacks, verbose=2
    )
    seen = {
        "steps_per_epoch": trainer.steps_per_epoch,
        "step": trainer.step,
        "history": history.history,
        "restored_from": checkpoints.restored_from,
        "last_saved": checkpoints.last_saved,
        "files": sorted(os.listdir(ckptdir)),
    }
    (outdir / f"{mode}-rank{rank}.json").write_text(json.dumps(seen))
    if rank == 0:
        np.savez(outdir / f"{mode}.npz", **{v.name: v.array for v in variables})


if __name__ == "__main__":
    main(*sys.argv[1:4])
