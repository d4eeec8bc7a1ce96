"""Inputs the real-backend tests generate themselves, and the otel-replay command line."""

from __future__ import annotations

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
from tests.real import trace_maker

MS = 1_000_000


_MAKER = trace_maker


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
    folder: Path,
    start_ms: float,
    sessions: int = 2,
    traces_per_session: int = 3,
    gap_ms: float = 60_000,
    seed: int = 0,
    trace_gap_ms: float = 4000,
    traces_per_id: int = 1,
) -> Report:
    """A report as CodeMachine writes it: per session a trace file and a log file under
    YYYY-MM-DD/HH-MM-SS, the sessions ``gap_ms`` apart from ``start_ms`` on, plus the
    latest.json / latest-logs.json copies of the newest. Every trace (examples/
    make_example.py's: 4 spans over 1.6 s, every field the exporter writes, 4-5 log
    records) starts ``trace_gap_ms`` after the one before and gets ids of its own from
    ``seed``; with ``traces_per_id`` > 1 that many consecutive ones share one trace id
    (a trace of several roots: fewer, larger traces to read back). No two log records
    share time and line: Loki would serve only one of them (it collapses entries
    identical in stream, time and line, whatever their metadata)."""
    rng = random.Random(seed)
    report = Report(folder)
    engines = ["claude", "codex", "cursor", "opencode"]
    last: tuple[dict[str, Any], dict[str, Any], str] | None = None
    for s in range(sessions):
        t_session = start_ms + s * gap_ms
        spans: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        for t in range(traces_per_session):
            t0 = t_session + t * trace_gap_ms + 0.123
            sp, lg = _MAKER.make_trace(rng, t0, engines[(s + t) % 4], fail=(s + t) % 3 == 1)
            if t % traces_per_id == 0:
                shared_id = sp[0]["traceId"]
            for doc in sp:
                doc["traceId"] = shared_id
            for doc in lg:
                doc["attributes"]["trace.id"] = shared_id
            spans += sp
            logs += lg
        logs.sort(key=lambda r: (r["timestamp"][0], r["timestamp"][1]))
        when = stamp(t_session)
        base = f"{when:%Y-%m-%d}/{when:%H-%M-%S}"
        exported = _MAKER.iso(stamp(t_session + traces_per_session * trace_gap_ms + 2000))
        tdoc = {"version": 1, "service": "codemachine", "exportedAt": exported, "spanCount": len(spans), "spans": spans}
        ldoc = {"version": 1, "service": "codemachine", "exportedAt": exported, "logCount": len(logs), "logs": logs}
        write_json(folder / f"{base}.json", tdoc)
        write_json(folder / f"{base}-logs.json", ldoc)
        report.spans += spans
        report.logs += logs
        last = (tdoc, ldoc, base)
    assert last is not None
    instants = {(r["timestamp"][0], r["timestamp"][1], json.dumps(r["body"])) for r in report.logs}
    assert len(instants) == len(report.logs), "log records that Loki would collapse: sessions or traces overlap"
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


# -- large files -------------------------------------------------------------------------------
def write_big_trace_file(path: Path, target_bytes: int, start_ms: float, spans_per_trace: int = 500) -> Counter[str]:
    """One CodeMachine trace session of about ``target_bytes`` (~2 KB a span: attribute
    values under Tempo's 2048-byte cut, traces well under its 5 MB max_bytes_per_trace),
    written as it is built; returns its span count per trace id."""
    rng = random.Random(target_bytes)
    counts: Counter[str] = Counter()
    padding = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(600))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="ascii") as fh:
        written = fh.write(
            '{"version": 1, "service": "codemachine", "exportedAt": "2026-11-24T17:00:00.000Z", "spans": [\n'
        )
        i = 0
        trace_id = root = ""
        while written < target_bytes:
            if i % spans_per_trace == 0:
                trace_id, root = f"{rng.getrandbits(128) | 1:032x}", ""
            span_id = f"{rng.getrandbits(64) | 1:016x}"
            t = start_ms + i * 0.5
            span: dict[str, Any] = {
                "name": f"step {i % 97}",
                "traceId": trace_id,
                "spanId": span_id,
                "startTime": t,
                "endTime": t + 0.25,
                "duration": 0.25,
                "status": {"code": 1},
                "attributes": {"i": i, "a": padding, "b": padding[::-1], "c": padding.upper()},
                "events": [{"name": "tick", "time": t + 0.125, "attributes": {"n": i}}],
            }
            if root:
                span["parentSpanId"] = root
            else:
                root = span_id
            written += fh.write(("," if i else "") + json.dumps(span) + "\n")
            counts[trace_id] += 1
            i += 1
        fh.write("]}\n")
    return counts


def write_big_log_file(path: Path, target_bytes: int, start_ns: int, line_bytes: int = 1000) -> int:
    """One CodeMachine log session of about ``target_bytes`` (records of about
    ``line_bytes``, four severities: four Loki streams), written as it is built; returns
    its record count. Every record has a time (1 µs apart) and a line of its own."""
    rng = random.Random(target_bytes)
    padding = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(line_bytes))
    severities = [(9, "INFO"), (13, "WARN"), (17, "ERROR"), (5, "DEBUG")]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="ascii") as fh:
        written = fh.write(
            '{"version": 1, "service": "codemachine", "exportedAt": "2026-11-24T17:00:00.000Z", "logs": [\n'
        )
        i = 0
        while written < target_bytes:
            ts = start_ns + i * 1000
            number, text = severities[i % 4]
            record = {
                "timestamp": [ts // 10**9, ts % 10**9],
                "severityNumber": number,
                "severityText": text,
                "body": f"record {i} {padding}",
                "attributes": {"trace.id": f"{i + 1:032x}", "span.id": f"{i + 1:016x}"},
                "resource": {"service.name": "codemachine"},
            }
            written += fh.write(("," if i else "") + json.dumps(record) + "\n")
            i += 1
        fh.write("]}\n")
    return i
