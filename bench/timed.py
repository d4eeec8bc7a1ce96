"""The one line each floor script prints: how many records, its wall and CPU seconds."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path


def timed(run: Callable[[Path], int], what: str) -> None:
    """Run ``run`` on the folder named on the command line; print the count, wall and CPU."""
    folder = Path(sys.argv[1])
    start, cpu = time.perf_counter(), os.times()
    count = run(folder)
    wall, end = time.perf_counter() - start, os.times()
    used = end.user - cpu.user + end.system - cpu.system
    print(json.dumps({what: count, "wall_s": round(wall, 3), "cpu_s": round(used, 3)}))
