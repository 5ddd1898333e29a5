"""Whole-process measures for the benches: wall time, CPU time and peak memory of a command."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import NamedTuple


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds
    peak: float  # peak resident set size, MB


def measure(command: list[str], stdout_path: Path | None = None) -> Run:
    """One run of ``command`` (its standard output to ``stdout_path``, else discarded).

    The peak comes from ``os.wait4``; a child's peak counts the memory of the parent it was forked
    from, so the benches keep their own process small (large work in child processes)."""
    with open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE)
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    error_output = process.stderr.read().decode("utf-8", "replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{error_output}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)  # ru_maxrss: KiB on Linux


def best_of(runs: int, command: list[str], stdout_path: Path | None = None) -> Run:
    """The best wall and CPU times of ``runs`` runs, and their highest peak."""
    results = [measure(command, stdout_path) for _ in range(runs)]
    return Run(min(run.wall for run in results), min(run.cpu for run in results), max(run.peak for run in results))
