"""Launching ``mpiexec -n N python <script>`` from tests: with timeouts, never left running.

Each MPI test runs its ranks in a subprocess (MPI stays out of the pytest process), with
``PYTHONPATH`` set to this repository, one thread per rank, ``MPIEXEC_TIMEOUT`` as hydra's own
bound and ``subprocess`` timeout as the last backstop (the whole process group is killed).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = pathlib.Path(__file__).resolve().parent / "mpi_scripts"


def find_mpiexec() -> str:
    """mpiexec next to this Python (the mpich wheel's), else on PATH; skips the test if
    mpi4py or mpiexec is missing."""
    pytest.importorskip("mpi4py", reason="the MPI tests need mpi4py: pip install 'optim[mpi]'")
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("the MPI tests need mpiexec (pip install mpich)")
    return found


def run(n: int, script: str, *args: str, timeout: float = 90, env: dict | None = None):
    """Runs ``script`` (in tests/mpi_scripts) on ``n`` ranks; returns (CompletedProcess,
    seconds). A run that outlives ``timeout`` is killed with its process group and fails the
    test."""
    mpiexec = find_mpiexec()
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MPIEXEC_TIMEOUT": str(int(timeout) - 5),
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **(env or {}),
    }
    command = [mpiexec, "-n", str(n), sys.executable, str(SCRIPTS / script), *args]
    start = time.monotonic()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mpiexec -n {n} {script} hung past {timeout} s\n{out}\n{err}")
    elapsed = time.monotonic() - start
    return subprocess.CompletedProcess(command, proc.returncode, out, err), elapsed
