"""Helpers shared by the tests: running the CLI and writing CodeMachine documents."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from otel_replay.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "codemachine"
#: The example was recorded on 2026-11-24 from 17:00Z; Loki's clock is set an hour later.
EXAMPLE_NOW_NS = int(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc).timestamp()) * 10**9


def replay(*args: str, input: bytes | None = None) -> Result:
    """Run ``otel-replay replay ARGS`` in-process (real sockets, real exporter)."""
    return CliRunner().invoke(main, ["replay", *args], input=input, catch_exceptions=False)


def replay_json(*args: str, input: bytes | None = None) -> tuple[int, dict[str, Any]]:
    result = replay(*args, "--json", input=input)
    return result.exit_code, json.loads(result.stdout)


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def span_doc(
    trace_id: str = "0af7651916cd43dd8448eb211c80319c", span_id: str = "b7ad6b7169203331", **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "op",
        "traceId": trace_id,
        "spanId": span_id,
        "startTime": 1795539600000.5,
        "endTime": 1795539600100.25,
        "duration": 99.75,
        "status": {"code": 0},
        "attributes": {},
        "events": [],
    }
    doc.update(extra)
    return doc


def trace_file(path: Path, spans: list[dict[str, Any]], service: str = "codemachine") -> Path:
    return write_json(
        path,
        {
            "version": 1,
            "service": service,
            "exportedAt": "2026-11-24T17:00:00.000Z",
            "spanCount": len(spans),
            "spans": spans,
        },
    )


def log_doc(sec: int = 1795539600, nanos: int = 5, body: Any = "hello", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "timestamp": [sec, nanos],
        "severityNumber": 9,
        "severityText": "INFO",
        "body": body,
        "attributes": {"trace.id": "0af7651916cd43dd8448eb211c80319c", "span.id": "b7ad6b7169203331"},
        "resource": {"service.name": "codemachine"},
    }
    doc.update(extra)
    return doc


def log_file(path: Path, logs: list[dict[str, Any]]) -> Path:
    return write_json(
        path,
        {
            "version": 1,
            "service": "codemachine",
            "exportedAt": "2026-11-24T17:00:00.000Z",
            "logCount": len(logs),
            "logs": logs,
        },
    )
