"""The default of ``--workers``: the CPUs the process may use, under its cgroup's CPU quota
(a container's limit), not the machine's count (otel_replay/cpus.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_replay import cpus, runner
from otel_replay.cli import main
from otel_replay.cpus import cpu_limit, usable_cpus
from otel_replay.execute import Executor
from otel_replay.plan import RunPlan
from tests.helpers import EXAMPLE

V2_SELF = "0::/kubepods/pod1/ctr\n"
V1_SELF = "4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n"


def _v2(root: Path, at: str, text: str) -> None:
    (root / at).mkdir(parents=True, exist_ok=True)
    (root / at / "cpu.max").write_text(text)


def _v1(root: Path, quota: str, period: str = "100000\n", mount: str = "cpu,cpuacct") -> None:
    (root / mount).mkdir(parents=True)
    (root / mount / "cpu.cfs_quota_us").write_text(quota)
    (root / mount / "cpu.cfs_period_us").write_text(period)


@pytest.mark.parametrize(
    ("files", "self_cgroup", "limit"),
    [
        ({}, V2_SELF, None),
        ({".": "max 100000\n"}, V2_SELF, None),
        ({".": "150000 100000\n"}, "0::/\n", 1.5),  # a container's own cgroup (cgroupns): Kubernetes' 1500m
        ({"kubepods/pod1/ctr": "max 100000\n", "kubepods/pod1": "50000 100000\n"}, V2_SELF, 0.5),  # a parent's
        ({"kubepods/pod1/ctr": "300000 100000\n", "kubepods": "200000 100000\n"}, V2_SELF, 2.0),  # the tightest
        ({"elsewhere": "50000 100000\n"}, V2_SELF, None),  # not above this process
        ({".": "lots 100000\n"}, V2_SELF, None),
        ({".": "100000 0\n"}, V2_SELF, None),
        ({".": ""}, V2_SELF, None),
    ],
    ids=["no file", "max", "root", "parent", "tightest", "another cgroup", "not a number", "no period", "empty"],
)
def test_a_cgroup_v2_quota_is_read_where_it_applies(
    tmp_path: Path, files: dict[str, str], self_cgroup: str, limit: float | None
) -> None:
    for at, text in files.items():
        _v2(tmp_path, at, text)
    assert cpu_limit(tmp_path, self_cgroup) == limit


@pytest.mark.parametrize(
    ("quota", "period", "mount", "limit"),
    [("-1\n", "100000\n", "cpu,cpuacct", None), ("250000\n", "100000\n", "cpu", 2.5), ("x", "100000", "cpu", None)],
    ids=["none", "docker --cpus 2.5", "not a number"],
)
def test_a_cgroup_v1_quota_is_read_where_the_cpu_controller_is_mounted(
    tmp_path: Path, quota: str, period: str, mount: str, limit: float | None
) -> None:
    _v1(tmp_path, quota, period, mount)
    assert cpu_limit(tmp_path, V1_SELF) == limit


@pytest.mark.parametrize(
    ("quota", "expected"), [("50000", 1), ("150000", 2), (None, None)], ids=["half", "1.5", "none"]
)
def test_the_default_is_the_cpus_it_may_run_on_under_its_quota_rounded_up(
    tmp_path: Path, quota: str | None, expected: int | None
) -> None:
    own = tmp_path / "self"
    own.write_text("0::/\n")
    if quota is not None:
        _v2(tmp_path, ".", f"{quota} 100000\n")
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path, own) == (affinity if expected is None else min(affinity, expected))


def test_without_cgroups_it_is_the_cpus_it_may_run_on(tmp_path: Path) -> None:
    assert usable_cpus(tmp_path / "none", tmp_path / "none") == len(os.sched_getaffinity(0)) >= 1


@pytest.mark.parametrize("usable", [1, 3])
def test_workers_default_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch, usable: int) -> None:
    """Not the machine's count: a container limited to one CPU on a large machine replays in one process."""
    seen: list[int] = []
    real = runner.choose

    def choose(plan: RunPlan, *args: Any, **kwargs: Any) -> Executor:
        seen.append(plan.workers)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(cpus, "usable_cpus", lambda: usable)
    monkeypatch.setattr(runner, "choose", choose)
    result = CliRunner().invoke(main, ["replay", str(EXAMPLE), "--dry-run", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert seen == [usable]
