"""Benchmark inputs: a CodeMachine folder and an OTLP JSON Lines file, deterministic.

python bench/generate.py codemachine OUT --spans 200000 --logs-per-span 1
python bench/generate.py otlp-jsonl OUT.jsonl --spans 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path
from typing import Any

NAMES = ["workflow.run", "engine.claude.invoke", "agent.execute", "mcp.call", "process.spawn", "tui.render"]
MESSAGES = ["Starting workflow step", "Tool call finished", "Agent produced patch", "Überprüfung ✓", "エージェント完了"]
SEVERITIES = [(5, "DEBUG"), (9, "INFO"), (9, "INFO"), (13, "WARN"), (17, "ERROR")]
T0_MS = 1_795_539_600_000.0  # 2026-11-24T17:00:00Z
SESSION = 1000  # records per CodeMachine session file, as CodeMachine writes them


def _hex(rng: random.Random, nbytes: int) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def _attrs(rng: random.Random, name: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {"code.function": name.rsplit(".", 1)[-1], "workflow.step.index": rng.randint(0, 40)}
    if name.startswith("engine"):
        attrs |= {"engine.name": "claude", "tokens.input": rng.randint(100, 200_000), "cost.usd": rng.random() * 3}
    if name.startswith("process"):
        attrs |= {"process.command": "git", "process.args": ["diff", "--stat"], "process.exit_code": 0}
    return attrs


def codemachine(out: Path, spans: int, logs_per_span: int, seed: int = 7, session_size: int = SESSION) -> None:
    rng = random.Random(seed)
    span_buf: list[dict[str, Any]] = []
    log_buf: list[dict[str, Any]] = []
    session = 0
    t = T0_MS
    trace_id, parent = _hex(rng, 16), None

    def flush(force: bool = False) -> None:
        nonlocal session, span_buf, log_buf
        if len(span_buf) < session_size and not (force and span_buf):
            return
        stamp = f"{session // 3600:02d}-{session // 60 % 60:02d}-{session % 60:02d}"
        day = out / "2026-11-24"
        day.mkdir(parents=True, exist_ok=True)
        header = {"version": 1, "service": "codemachine", "exportedAt": "2026-11-24T18:00:00.000Z"}
        (day / f"{stamp}.json").write_text(json.dumps({**header, "spanCount": len(span_buf), "spans": span_buf}))
        log_buf.sort(key=lambda r: r["timestamp"])
        (day / f"{stamp}-logs.json").write_text(json.dumps({**header, "logCount": len(log_buf), "logs": log_buf}))
        session += 1
        span_buf, log_buf = [], []

    for i in range(spans):
        if i % 20 == 0:
            trace_id, parent = _hex(rng, 16), None
        span_id = _hex(rng, 8)
        name = rng.choice(NAMES)
        start, dur = t, rng.random() * 3000 + 0.125
        t += 7.5
        span: dict[str, Any] = {
            "name": name, "traceId": trace_id, "spanId": span_id, "startTime": start, "endTime": start + dur,
            "duration": dur, "status": {"code": 1}, "attributes": _attrs(rng, name), "events": [],
        }  # fmt: skip
        if parent:
            span["parentSpanId"] = parent
        parent = parent or span_id
        span_buf.append(span)
        for k in range(logs_per_span):
            ms = start + (k + 1) * dur / (logs_per_span + 1)
            sev, text = rng.choice(SEVERITIES)
            log_buf.append({
                "timestamp": [int(ms // 1000), int(ms % 1000 * 1_000_000)], "severityNumber": sev,
                "severityText": text, "body": rng.choice(MESSAGES),
                "attributes": {"logger.name": "codemachine.engine", "trace.id": trace_id, "span.id": span_id},
                "resource": {"service.name": "codemachine", "service.version": "0.8.1", "host.name": "dev"},
            })  # fmt: skip
        flush()
    flush(force=True)


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def otlp_jsonl(out: Path, spans: int, per_line: int = 500, seed: int = 11) -> None:
    """Collector file-exporter style: one ExportTraceServiceRequest per line."""
    rng = random.Random(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_ns = int(T0_MS) * 1_000_000
    resource = {"attributes": [_kv("service.name", "checkout"), _kv("host.name", "node-1")]}
    with out.open("w") as fh:
        for first in range(0, spans, per_line):
            batch = []
            for i in range(first, min(first + per_line, spans)):
                if i % 20 == 0:
                    trace_id, parent = _hex(rng, 16), ""
                span_id = _hex(rng, 8)
                name = rng.choice(NAMES)
                start = t_ns + i * 7_500_000
                batch.append({
                    "traceId": trace_id, "spanId": span_id, "parentSpanId": parent, "name": name,
                    "kind": 2, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + 1_234_567),
                    "attributes": [_kv(k, v) for k, v in _attrs(rng, name).items()],
                    "status": {"code": 1}, "flags": 256,
                })  # fmt: skip
                parent = parent or span_id
            request = {"resourceSpans": [{"resource": resource, "scopeSpans": [
                {"scope": {"name": "checkout-service", "version": "2.1.0"}, "spans": batch}]}]}  # fmt: skip
            fh.write(json.dumps(request, separators=(",", ":")) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["codemachine", "otlp-jsonl"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--spans", type=int, required=True)
    parser.add_argument("--logs-per-span", type=int, default=1)
    args = parser.parse_args()
    if args.kind == "codemachine":
        codemachine(args.out, args.spans, args.logs_per_span)
    else:
        otlp_jsonl(args.out, args.spans)
    print(f"wrote {args.out} ({sum(f.stat().st_size for f in _files(args.out)) / 1e6:.0f} MB)")


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else [Path(d) / f for d, _, fs in os.walk(path) for f in fs]


if __name__ == "__main__":
    main()
