"""How many CPUs this process may use: the default of ``--workers``.

``os.cpu_count()`` counts the machine's. A process may run on fewer (its affinity:
``taskset``, a cpuset) and, in a container, get the time of fewer still (a cgroup CPU
quota: Docker's ``--cpus``, Kubernetes' ``resources.limits.cpu``, systemd's
``CPUQuota=``). As many workers as the machine has cores would then share that quota,
each holding its own memory, and be throttled in turn.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup")) -> int:
    """The CPUs this process may run on, no more than its cgroup's CPU quota (rounded up), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    own = ""
    with contextlib.suppress(OSError):
        own = self_cgroup.read_text()
    limit = cpu_limit(root, own)
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


def cpu_limit(root: Path, self_cgroup: str) -> float | None:
    """The tightest CPU quota over this process, in CPUs (quota ÷ period); None: none.

    cgroup v2: ``cpu.max`` (``"max 100000"``: none; ``"150000 100000"``: 1.5) at ``root``
    (a container's own cgroup) and in this process's cgroup (``0::PATH`` in
    ``/proc/self/cgroup``) and each one above it. cgroup v1: ``cpu.cfs_quota_us`` (-1: none)
    over ``cpu.cfs_period_us`` where the cpu controller is mounted."""
    found: list[float] = []
    places = [root]
    own = next((line[3:].strip() for line in self_cgroup.splitlines() if line.startswith("0::")), "")
    here = root / own.lstrip("/")
    while here != root and root in here.parents:
        places.append(here)
        here = here.parent
    for place in places:
        with contextlib.suppress(OSError, ValueError):
            quota, period = (place / "cpu.max").read_text().split()
            if quota != "max" and int(quota) > 0 and int(period) > 0:
                found.append(int(quota) / int(period))
    for mount in ("cpu", "cpu,cpuacct"):
        with contextlib.suppress(OSError, ValueError):
            quota_us = int((root / mount / "cpu.cfs_quota_us").read_text())
            period_us = int((root / mount / "cpu.cfs_period_us").read_text())
            if quota_us > 0 and period_us > 0:
                found.append(quota_us / period_us)
    return min(found) if found else None
