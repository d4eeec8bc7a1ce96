"""Two checkouts side by side: the same replay, timed in turn (A B A B …), ratio pair by pair.

python bench/ab.py BASE_CHECKOUT [--rounds N] -- REPLAY ARGS…

A is this checkout, B is ``BASE_CHECKOUT`` (e.g. ``git worktree add --detach /tmp/base
main``); both run with this Python (``python -m otel_replay`` from each checkout's folder
imports that checkout's package). The sink is a loopback one that accepts and discards:
``{sink}`` in the arguments is its URL. Prints wall and CPU seconds of each run and the
median of the A/B ratios: on a shared machine, the pair is what holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as table  # noqa: E402


def timed(checkout: Path, args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "otel_replay", "replay", *args]
    proc = subprocess.Popen(cmd, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise SystemExit(f"{checkout}: exit {os.waitstatus_to_exitcode(status)}: {cmd}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    opts = parser.parse_args(sys.argv[1:split])
    for checkout in (HERE.parent, opts.base.resolve()):
        table.compiled(checkout)
    server, url = table.serve(table.Discard)
    args = [a.replace("{sink}", url) for a in sys.argv[split + 1 :]]
    args = [str(Path(a).resolve()) if Path(a).exists() else a for a in args]
    walls, cpus = [], []
    for n in range(opts.rounds):
        a, b = timed(HERE.parent, args), timed(opts.base.resolve(), args)
        walls.append(a[0] / b[0])
        cpus.append(a[1] / b[1])
        print(f"round {n + 1}: A {a[0]:.2f}s wall {a[1]:.2f}s CPU   B {b[0]:.2f}s wall {b[1]:.2f}s CPU", flush=True)
    server.shutdown()
    print(f"A/B median of {opts.rounds}: wall {statistics.median(walls):.3f}, CPU {statistics.median(cpus):.3f}")


if __name__ == "__main__":
    main()
