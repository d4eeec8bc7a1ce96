"""``make bench``'s inspect row: the wall time of ``otel-replay inspect`` on a 2,000-span
CodeMachine report (one log record per span), as a person runs it (a new process each
time: start-up counts), and how much of it is Python importing the program.

Not a test: figures depend on the machine and its load. The median of RUNS runs; the
import time is Python's own count (``-X importtime``, the top-level modules' cumulative
times, which overstates a little: importtime adds its own overhead).
"""

from __future__ import annotations

import os
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


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _import_s(cmd: list[str]) -> float:
    """The seconds Python spent importing, by its own count (top-level imports only)."""
    proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True, text=True, check=True)
    total_us = 0
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        top_level = len(parts) == 3 and not parts[2].startswith("  ") and parts[1].strip().isdigit()
        if line.startswith("import time:") and top_level:
            total_us += int(parts[1])
    return total_us / 1e6


def main() -> None:
    cmd = [sys.executable, "-m", "otel_replay", "inspect", str(_folder())]
    _wall(cmd)  # once to write the .pyc files and warm the page cache
    walls = [_wall(cmd) for _ in range(RUNS)]
    imports = statistics.median(_import_s(cmd) for _ in range(3))
    wall = statistics.median(walls)
    load = os.getloadavg()[0]
    print(f"{'run':<30}{'spans':>10}{'wall s':>9}{'imports s':>11}{'min s':>8}{'load':>7}")
    print(f"{'inspect (median of 5)':<30}{SPANS:>10}{wall:>9.2f}{imports:>11.2f}{min(walls):>8.2f}{load:>7.1f}")
    print(f"target: inspect of {SPANS} spans < {TARGET_S:g} s wall")


if __name__ == "__main__":
    main()
