"""``make bench``'s inspect row: the wall time of ``otel-replay inspect`` on a 2,000-span
CodeMachine report (one log record per span), as a person runs it (a new process each
time: start-up counts), and how much of it is Python importing the program.

Not a test: figures depend on the machine and its load. The median of RUNS runs; the
import time is Python's own count (``-X importtime``, the top-level modules' cumulative
times, which overstates a little: importtime adds its own overhead). The runs may write
``.pyc`` files even where ``PYTHONDONTWRITEBYTECODE`` is set (as on the project's VMs): an
installed program has them (pip compiles at install), and without them every start
compiles otel_replay's sources again (about 0.2 s of CPU).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

SPANS = 2_000
RUNS = 5
TARGET_S = 1.0  # issue 15: "a 2,000-span report in well under a second"


def _folder() -> Path:
    folder = DATA / f"codemachine-{SPANS}"
    if not folder.exists():
        generate.codemachine(folder.with_suffix(".tmp"), SPANS, 1)
        folder.with_suffix(".tmp").rename(folder)
    return folder


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run: on a loaded machine the wall time is mostly waiting
    for a core, the CPU time much less so."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _import_s(cmd: list[str]) -> float:
    """The seconds Python spent importing, by its own count (top-level imports only)."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, check=True, env=ENV)
    total_us = 0
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        top_level = len(parts) == 3 and not parts[2].startswith("  ") and parts[1].strip().isdigit()
        if line.startswith("import time:") and top_level:
            total_us += int(parts[1])
    return total_us / 1e6


def main() -> None:
    cmd = [sys.executable, "-m", "otel_replay", "inspect", str(_folder())]
    _run(cmd)  # once to write the .pyc files and warm the page cache
    runs = [_run(cmd) for _ in range(RUNS)]
    imports = statistics.median(_import_s(cmd) for _ in range(3))
    wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    load = os.getloadavg()[0]
    print(f"{'run':<30}{'spans':>10}{'wall s':>9}{'CPU s':>8}{'imports s':>11}{'load':>7}")
    print(f"{'inspect (median of 5)':<30}{SPANS:>10}{wall:>9.2f}{cpu:>8.2f}{imports:>11.2f}{load:>7.1f}")
    print(f"target: inspect of {SPANS} spans < {TARGET_S:g} s wall")


if __name__ == "__main__":
    main()
