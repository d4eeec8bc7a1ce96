"""Realistic CodeMachine traces for the real-backend suite: 4 spans over 1.6 s with every
field the exporter writes and 4-5 log records each (the generator examples/make_example.py
used before it was rewritten for the whole genuine folder; kept here for the reports that
tests/real/inputs.py builds at any size)."""

from __future__ import annotations

import random
from datetime import datetime

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
