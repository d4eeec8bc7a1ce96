"""Inputs the real-backend tests generate themselves, and the otel-replay command line."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, write_json

MS = 1_000_000


def _load_example_maker() -> Any:
    """examples/make_example.py (not a package): its make_trace writes realistic traces."""
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "examples" / "make_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_MAKER = _load_example_maker()


@dataclass
class Report:
    """A CodeMachine report folder and the records its dated sessions hold."""

    folder: Path
    spans: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)

    def spans_per_trace(self) -> Counter[str]:
        return Counter(s["traceId"] for s in self.spans)


def stamp(t_ms: float) -> datetime:
    return datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc)


def write_report(
    folder: Path, start_ms: float, sessions: int = 2, traces_per_session: int = 3, gap_ms: float = 60_000, seed: int = 0
) -> Report:
    """A report as CodeMachine writes it: per session a trace file and a log file under
    YYYY-MM-DD/HH-MM-SS, the sessions ``gap_ms`` apart from ``start_ms`` on, plus the
    latest.json / latest-logs.json copies of the newest. Every trace (examples/
    make_example.py's: 4 spans, every field the exporter writes, 4-5 log records each)
    gets ids of its own from ``seed``."""
    rng = random.Random(seed)
    report = Report(folder)
    engines = ["claude", "codex", "cursor", "opencode"]
    last: tuple[dict[str, Any], dict[str, Any], str] | None = None
    for s in range(sessions):
        t_session = start_ms + s * gap_ms
        spans: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        for t in range(traces_per_session):
            sp, lg = _MAKER.make_trace(rng, t_session + t * 4000.0 + 0.123, engines[(s + t) % 4], fail=(s + t) % 3 == 1)
            spans += sp
            logs += lg
        logs.sort(key=lambda r: (r["timestamp"][0], r["timestamp"][1]))
        when = stamp(t_session)
        base = f"{when:%Y-%m-%d}/{when:%H-%M-%S}"
        exported = _MAKER.iso(stamp(t_session + traces_per_session * 4000.0 + 2000))
        tdoc = {"version": 1, "service": "codemachine", "exportedAt": exported, "spanCount": len(spans), "spans": spans}
        ldoc = {"version": 1, "service": "codemachine", "exportedAt": exported, "logCount": len(logs), "logs": logs}
        write_json(folder / f"{base}.json", tdoc)
        write_json(folder / f"{base}-logs.json", ldoc)
        report.spans += spans
        report.logs += logs
        last = (tdoc, ldoc, base)
    assert last is not None
    tdoc, ldoc, base = last
    write_json(folder / "latest.json", {**tdoc, "sessionFile": f"{base}.json"})
    write_json(folder / "latest-logs.json", {**ldoc, "sessionFile": f"{base}-logs.json"})
    return report


# -- the command line --------------------------------------------------------------------------
def otel_replay() -> list[str]:
    """The installed ``otel-replay`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "otel-replay"
    return [str(script)] if script.exists() else [sys.executable, "-m", "otel_replay"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}


@dataclass
class Run:
    code: int
    summary: dict[str, Any]
    stderr: str

    def signal(self, name: str) -> dict[str, Any]:
        return self.summary["signals"][name]


def replay_command(*args: str) -> list[str]:
    return [*otel_replay(), "replay", *args, "--json"]


def replay(*args: str, timeout: float = 300) -> Run:
    """``otel-replay replay ARGS --json`` as a subprocess; its exit status and summary."""
    proc = subprocess.run(replay_command(*args), cwd=ROOT, env=clean_env(), capture_output=True, timeout=timeout)
    stderr = proc.stderr.decode(errors="replace")
    try:
        summary = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"no JSON summary (exit {proc.returncode}); stderr:\n{stderr[-3000:]}") from None
    return Run(proc.returncode, summary, stderr)


def replay_human(*args: str, timeout: float = 300) -> tuple[int, str]:
    """``otel-replay replay ARGS`` without --json: its exit status and what it printed."""
    proc = subprocess.run(
        [*otel_replay(), "replay", *args], cwd=ROOT, env=clean_env(), capture_output=True, timeout=timeout
    )
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")
