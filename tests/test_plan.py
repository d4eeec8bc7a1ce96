"""RunPlan: built keyword-only through from_options, contradictions refused, the mode and
where each signal goes derived once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Signal
from otel_replay.plan import PlanError, RunPlan, Selection
from otel_replay.sinks.loki import LokiConfig
from otel_replay.sinks.otlp_config import OtlpConfig


def _plan(**options: Any) -> RunPlan:
    base: dict[str, Any] = {
        "paths": ["in"],
        "signals": list(Signal),
        "otlp": OtlpConfig("http://tempo:4318/v1/traces"),
        "loki": LokiConfig(url="http://loki:3100"),
        "selection": Selection(now_ns=1),
    }
    return RunPlan.from_options(**{**base, **options})


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        RunPlan.from_options(("in",), list(Signal))  # type: ignore[misc]
    with pytest.raises(TypeError):
        RunPlan(("in",))  # type: ignore[call-arg,misc]


def test_sending_derives_each_selected_signals_destination() -> None:
    plan = _plan(signals=[Signal.LOGS, Signal.TRACES])
    assert plan.mode == "send" and plan.signals == (Signal.TRACES, Signal.LOGS)  # pipeline order
    assert plan.destinations == {
        Signal.TRACES: "http://tempo:4318/v1/traces",
        Signal.LOGS: "http://loki:3100/loki/api/v1/push",
    }
    assert plan.ordered_logs and plan.sends_otlp
    otlp_logs = _plan(signals=[Signal.LOGS], logs_to="otlp", otlp=OtlpConfig(logs_endpoint="http://c:4318/v1/logs"))
    assert otlp_logs.destinations == {Signal.LOGS: "http://c:4318/v1/logs"}
    assert not otlp_logs.ordered_logs and otlp_logs.sends_otlp
    assert not _plan(signals=[Signal.LOGS]).sends_otlp


def test_output_writes_files_and_is_never_read_back(tmp_path: Path) -> None:
    plan = _plan(output_dir=str(tmp_path / "out"))
    assert plan.mode == "output" and not plan.ordered_logs and not plan.sends_otlp
    assert plan.destinations[Signal.METRICS] == os.path.join(str(tmp_path / "out"), "metrics.jsonl")
    assert os.path.realpath(tmp_path / "out") in plan.walk.exclude_dirs
    assert _plan(dry_run=True).mode == "dry-run"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dry_run": True, "output_dir": "out"}, "--dry-run and --output exclude each other"),
        ({"dry_run": True, "resume_path": "state"}, "--resume applies to sending"),
        ({"output_dir": "out", "resume_path": "state"}, "--resume applies to sending"),
        ({"signals": []}, "no signal selected"),
        ({"paths": []}, "no input given"),
        ({"logs_to": "kafka"}, "--logs-to must be one of loki, otlp"),
        ({"workers": 0}, "--workers must be at least 1"),
    ],
)
def test_contradictions_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        _plan(**options)
