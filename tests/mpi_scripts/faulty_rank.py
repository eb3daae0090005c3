"""Rank script: the last rank fails at pass 3 of training; the job must end, never hang.

Usage: ``mpiexec -n N python faulty_rank.py MODE`` with MODE one of ``raise`` (an exception
in the loss), ``kill`` (SIGKILL to itself), ``hang`` (stops calling collectives), ``exit``
(``sys.exit(3)``) or ``none`` (trains to the end). Rank 0 prints ``step <p>`` after every
pass, so the test sees how far the others got.
"""

import os
import pathlib
import signal
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import problem  # noqa: E402

import optim.distributed as hvd  # noqa: E402


class InjectedFault(RuntimeError):
    pass


def main(mode):
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    x, y = problem.data()
    variables = problem.make_variables()
    hvd.broadcast_variables(variables)
    opt = hvd.DistributedOptimizer(problem.OPTIMIZERS["adam"]())
    faulty = rank == size - 1 and mode != "none"

    def loss(rows, p):
        if faulty and p == 3:
            if mode == "raise":
                raise InjectedFault(f"injected failure in the loss of rank {rank} at pass {p}")
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if mode == "hang":
                time.sleep(3600)
            if mode == "exit":
                sys.exit(3)
        return problem.loss(variables, x[rows], y[rows])

    for p in range(8):
        rows = problem.shard(problem.step_rows(p, size * 4), rank, size)
        opt.minimize(lambda rows=rows, p=p: loss(rows, p), var_list=variables)
        if rank == 0:
            print(f"step {p}", flush=True)
    print(f"rank {rank} done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
