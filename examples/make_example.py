#!/usr/bin/env python3
"""Write the small CodeMachine bug-report folder under examples/ (deterministic).

    python examples/make_example.py examples/codemachine [--start 2026-11-24T17:00:00Z]

It holds what a real report holds: two trace sessions and two log sessions in a dated
folder, one metrics session, and the ``latest*.json`` copies of the newest sessions.
Spans cover every field the exporter writes (root and child spans, OK/ERROR/UNSET
status, exception and plain events, attributes of every JSON type, ``span.kind``),
and every log record carries the trace and span ids of the span it was written in.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from datetime import datetime, timedelta

SERVICE = "codemachine"
RESOURCE = {
    "service.name": SERVICE,
    "service.version": "0.8.1",
    "host.name": "dev-laptop",
    "process.pid": 4242,
}


def hexid(rng: random.Random, nbytes: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(nbytes * 2))


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def make_trace(rng: random.Random, t0_ms: float, engine: str, fail: bool) -> tuple[list[dict], list[dict]]:
    trace_id = hexid(rng, 16)
    root_id, plan_id, invoke_id, tool_id = (hexid(rng, 8) for _ in range(4))
    spans, logs = [], []

    def span(
        name: str,
        sid: str,
        parent: str | None,
        start: float,
        dur: float,
        attrs: dict,
        status: dict,
        events: list[dict] | None = None,
    ) -> None:
        s = {
            "name": name,
            "traceId": trace_id,
            "spanId": sid,
            "startTime": start,
            "endTime": start + dur,
            "duration": dur,
            "status": status,
            "attributes": attrs,
            "events": events or [],
        }
        if parent:
            s["parentSpanId"] = parent
        spans.append(s)

    def log(at_ms: float, sid: str, sev: tuple[int, str], body: object, extra: dict | None = None) -> None:
        sec = int(at_ms // 1000)
        nanos = round((at_ms - sec * 1000) * 1_000_000)
        attrs = {"logger.name": "codemachine.agent", "trace.id": trace_id, "span.id": sid, **(extra or {})}
        logs.append(
            {
                "timestamp": [sec, nanos],
                "severityNumber": sev[0],
                "severityText": sev[1],
                "body": body,
                "attributes": attrs,
                "resource": dict(RESOURCE),
            }
        )

    tool_start = t0_ms + 240.125
    span(
        "mcp.call",
        tool_id,
        invoke_id,
        tool_start,
        88.5,
        {
            "mcp.server": "filesystem",
            "mcp.tool": "read",
            "span.kind": "client",
            "mcp.latency_ms": 88.5,
            "mcp.args": ["src/app.ts", "--limit", "200"],
        },
        {"code": 1},
    )
    log(tool_start + 10.25, tool_id, (9, "INFO"), "Tool call finished")
    invoke_status = {"code": 2, "message": "engine exited with code 1"} if fail else {"code": 1}
    invoke_events = [{"name": "checkpoint", "time": t0_ms + 200.5, "attributes": {"tokens.so_far": 1200}}]
    if fail:
        invoke_events.append(
            {
                "name": "exception",
                "time": t0_ms + 1490.75,
                "attributes": {
                    "exception.type": "EngineError",
                    "exception.message": "exit code 1",
                    "exception.stacktrace": "EngineError: exit code 1\n    at run (engine.ts:42:11)",
                },
            }
        )
    span(
        f"engine.{engine}.invoke",
        invoke_id,
        root_id,
        t0_ms + 150.0,
        1400.333,
        {
            "engine.name": engine,
            "engine.model": "model-3",
            "tokens.input": 18234,
            "tokens.output": 912,
            "cost.usd": 0.042117,
            "engine.cached": False,
            "span.kind": "client",
            "engine.flags": [True, False, True],
        },
        invoke_status,
        invoke_events,
    )
    log(
        t0_ms + 151.0,
        invoke_id,
        (5, "DEBUG"),
        {"event": "request", "model": "model-3", "files": ["a.ts", "b.ts"]},
    )
    if fail:
        log(t0_ms + 1491.0, invoke_id, (17, "ERROR"), "Engine failed: exit code 1", {"exit.code": 1})
    span(
        "agent.plan",
        plan_id,
        root_id,
        t0_ms + 12.5,
        120.0,
        {"workflow.step.index": 1, "plan.steps": 4},
        {"code": 0},
    )
    log(t0_ms + 60.0, plan_id, (9, "INFO"), "Überprüfung abgeschlossen ✓")
    span(
        "workflow.run",
        root_id,
        None,
        t0_ms,
        1600.0 + rng.random(),
        {"workflow.name": "fix-bug", "workflow.steps": 4, "span.kind": "server", "cli.version": "0.8.1"},
        {"code": 2, "message": "step failed"} if fail else {"code": 1},
    )
    log(t0_ms + 1.0, root_id, (9, "INFO"), "Starting workflow step")
    logs.sort(key=lambda r: (r["timestamp"][0], r["timestamp"][1]))
    return spans, logs


def metrics_doc(start: datetime, exports: int) -> list[dict]:
    out = []
    for i in range(exports):
        end = start + timedelta(seconds=15 * (i + 1))
        point = {"startTime": iso(start), "endTime": iso(end)}
        out.append(
            {
                "resource": {"service.name": SERVICE, "service.version": "0.8.1"},
                "scopeMetrics": [
                    {
                        "scope": {"name": "codemachine.process", "version": "0.8.1"},
                        "metrics": [
                            {
                                "name": "process.memory.heap_used",
                                "description": "Heap used",
                                "unit": "By",
                                "type": "2",
                                "dataPoints": [{"attributes": {}, "value": (100 + i) * 1048576, **point}],
                            },
                            {
                                "name": "codemachine.engine.calls",
                                "description": "Engine calls",
                                "unit": "{call}",
                                "type": "3",
                                "dataPoints": [{"attributes": {"engine.name": "claude"}, "value": i + 1, **point}],
                            },
                            {  # a histogram: CodeMachine keeps only its sum in "value"
                                "name": "codemachine.step.duration",
                                "description": "Step duration",
                                "unit": "ms",
                                "type": "0",
                                "dataPoints": [{"attributes": {}, "value": 412.5 * (i + 1), **point}],
                            },
                        ],
                    }
                ],
            }
        )
    return out


def write(path: str, doc: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--start", default="2026-11-24T17:00:00Z", help="time of the first trace (ISO 8601)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    t0 = start.timestamp() * 1000 + 0.123
    engines = ["claude", "codex", "cursor", "opencode"]
    sessions = []
    for s in range(2):
        spans, logs = [], []
        for t in range(3):
            sp, lg = make_trace(
                rng,
                t0 + (s * 3 + t) * 4000.0 + rng.random() * 900,
                engines[(s + t) % 4],
                fail=(s + t) % 3 == 1,
            )
            spans += sp
            logs += lg
        when = start + timedelta(minutes=s)
        exported = iso(when + timedelta(seconds=30))
        base = os.path.join(args.out, when.strftime("%Y-%m-%d"), when.strftime("%H-%M-%S"))
        tdoc = {
            "version": 1,
            "service": SERVICE,
            "exportedAt": exported,
            "spanCount": len(spans),
            "spans": spans,
        }
        ldoc = {"version": 1, "service": SERVICE, "exportedAt": exported, "logCount": len(logs), "logs": logs}
        write(base + ".json", tdoc)
        write(base + "-logs.json", ldoc)
        sessions.append((base, tdoc, ldoc))
    mdoc = {
        "version": 1,
        "service": SERVICE,
        "type": "metrics",
        "exportedAt": iso(start + timedelta(minutes=2)),
        "exportCount": 4,
        "metrics": metrics_doc(start, 4),
    }
    mbase = os.path.join(args.out, start.strftime("%Y-%m-%d"), start.strftime("%H-%M-%S"))
    write(mbase + "-metrics.json", mdoc)
    base, tdoc, ldoc = sessions[-1]
    rel = os.path.relpath(base, args.out)
    write(os.path.join(args.out, "latest.json"), {**tdoc, "sessionFile": rel + ".json"})
    write(os.path.join(args.out, "latest-logs.json"), {**ldoc, "sessionFile": rel + "-logs.json"})
    write(os.path.join(args.out, "latest-metrics.json"), {**mdoc, "sessionFile": rel + "-metrics.json"})
    n_spans = sum(len(t["spans"]) for _, t, _ in sessions)
    n_logs = sum(len(lg["logs"]) for _, _, lg in sessions)
    print(f"wrote {n_spans} spans, {n_logs} log records, 2 sessions + metrics + latest copies under {args.out}")


if __name__ == "__main__":
    main()
