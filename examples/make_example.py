#!/usr/bin/env python3
"""Write the small CodeMachine bug-report folder under examples/ (deterministic).

    python examples/make_example.py examples/codemachine [--start 2026-11-24T17:00:00Z]

It holds what a real report holds, in the shape CodeMachine CLI's own exporters write
(v0.8.0, OpenTelemetry JS SDK 2.5; see docs/mapping.md, "CodeMachine bug-report folders"): two CLI
runs (sessions) in a dated folder, each with a trace, a log and a metrics file, and the
``latest*.json`` copies of the newest session with its ``sessionFile``.

- Session 1, trace level 2 (every span): a workflow that succeeds and one that fails
  (ERROR spans with exception events, a ``workflow.cost_per_step`` of NaN, which
  ``JSON.stringify`` writes as ``null``).
- Session 2, trace level 1: only engine/agent/mcp/workflow spans are kept, each with
  ``sampler.reason``; ``workflow.run`` names its parent ``cli.boot``, which is in no
  file, and log records name spans that are in no file. Its log file is named a second
  before its trace file (at its first record).

Spans: integer ``startTime`` and float ``endTime`` (ms), no span kind, resource or scope.
Log records: whole-millisecond timestamps, string bodies, ``trace.id``/``span.id`` when
written inside a span (``{}`` otherwise), the three-key resource. Metrics: exports every
500 ms plus two at shutdown, the JS ``DataPointType`` as a string, histograms whose
``value`` is 0, counters, the up-down counter ``agent.active`` back at 0, gauges.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
from datetime import datetime, timezone
from typing import Any

RECORDED_DIR = "/home/dev/webapp/.codemachine/traces"  # where the recording machine wrote the files
LOG_RESOURCE = {"service.name": "codemachine", "service.version": "unknown", "deployment.environment": "development"}
INFO, DEBUG, WARN, ERROR = (9, "INFO"), (5, "DEBUG"), (13, "WARN"), (17, "ERROR")
KEPT_AT_LEVEL_1 = ("engine.", "agent.", "mcp.", "workflow.", "process.spawn")
AT = "\n    at <anonymous> (/home/dev/.bun/install/global/node_modules/codemachine/dist/index.js:100:23)"


def iso(ms: float) -> str:
    """``new Date(ms).toISOString()``: UTC, milliseconds truncated."""
    t = datetime.fromtimestamp(int(ms) // 1000, timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ms) % 1000:03d}Z"


def stamp(ms: float) -> tuple[str, str]:
    t = datetime.fromtimestamp(int(ms) // 1000, timezone.utc)
    return t.strftime("%Y-%m-%d"), t.strftime("%H-%M-%S")


def js(value: Any) -> Any:
    """``value`` as ``JSON.stringify`` writes it: NaN and ±Infinity as null, 3.0 as 3."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: js(v) for k, v in value.items()}
    if isinstance(value, list):
        return [js(v) for v in value]
    return value


class Span:
    def __init__(self, session: Session, name: str, parent: Span | None, t0: float, attrs: dict[str, Any]) -> None:
        self.name, self.t0, self.dur = name, t0, 1.0
        self.trace = parent.trace if parent else session.hexid(16)
        self.id, self.parent = session.hexid(8), parent.id if parent else None
        self.status: dict[str, Any] = {"code": 1}
        self.events: list[tuple[str, float, dict[str, Any]]] = []
        self.kept = session.level == 2 or name.startswith(KEPT_AT_LEVEL_1)
        self.attrs = {"sampler.reason": "important"} if session.level == 1 and self.kept else {}
        self.attrs.update(attrs)

    def fail(self, message: str, at: float, kind: str = "EngineError") -> None:
        self.status = {"code": 2, "message": message}
        stack = f"{kind}: {message}{AT}"
        self.events.append(("exception", at, {"exception.type": kind, "exception.message": message,
                                              "exception.stacktrace": stack}))  # fmt: skip

    def doc(self) -> dict[str, Any]:
        start = int(self.t0)  # Date.now() at start: an integer; the end adds the elapsed time
        end = start + self.dur
        out: dict[str, Any] = {"name": self.name, "traceId": self.trace, "spanId": self.id}
        if self.parent:
            out["parentSpanId"] = self.parent
        out.update(startTime=start, endTime=end, duration=end - start, status=self.status, attributes=self.attrs)
        out["events"] = [{"name": n, "time": start + (t - self.t0), "attributes": a} for n, t, a in self.events]
        return js(out)


class Session:
    """The spans, log records and metric recordings of one CLI run."""

    def __init__(self, rng: random.Random, level: int, t_start: float, pid: int) -> None:
        self.rng, self.level, self.t_start, self.pid = rng, level, t_start, pid
        self.t_init = t_start + 171.0  # tracing starts: the trace and metrics files are named now
        self.spans: list[Span] = []
        self.logs: list[tuple[int, int, tuple[int, str], str, dict[str, Any]]] = []
        self.recorded: list[tuple[float, str, tuple[tuple[str, Any], ...], float]] = []

    def hexid(self, nbytes: int) -> str:
        return f"{self.rng.getrandbits(nbytes * 8) or 1:0{nbytes * 2}x}"

    def span(self, name: str, parent: Span | None, t0: float, dur: float, **attrs: Any) -> Span:
        s = Span(self, name, parent, t0, attrs)
        s.dur = dur
        self.spans.append(s)
        return s

    def log(self, at: float, sev: tuple[int, str], body: str, span: Span | None = None, **extra: Any) -> None:
        attrs = dict(extra)
        if span is not None:
            attrs.update({"trace.id": span.trace, "span.id": span.id})
        self.logs.append((int(at), len(self.logs), sev, body, attrs))

    def record(self, at: float, instrument: str, value: float, **attrs: Any) -> None:
        self.recorded.append((at, instrument, tuple(attrs.items()), value))

    def boot(self) -> Span:
        """The boot messages (logged before any span) and the ``cli.boot`` trace's start."""
        t = self.t_start
        self.log(t, INFO, "CLI boot continuing after OTel logging init")
        self.log(t + 1.25, INFO, "Initializing tracing...")
        self.log(
            self.t_init + 3, INFO, f"Tracing initialized in 3ms, enabled: true, level: {self.level}, exporter: file"
        )
        self.log(self.t_init + 4, INFO, "Initializing metrics...")
        self.log(self.t_init + 6, INFO, "Metrics initialized in 1ms, enabled: true")
        boot = self.span("cli.boot", None, self.t_init + 14, 23.418, **{
            "cli.boot.args": '["--dir","/home/dev/webapp"]', "cli.boot.cwd": "/home/dev/webapp",
            "cli.boot.duration_ms": 187.25})  # fmt: skip
        boot.status = {"code": 0}  # a manual span: its status is never set
        self.log(boot.t0 + 0.4, INFO, "CLI invoked with args: --dir /home/dev/webapp", boot)
        version = self.span("cli.boot.version", boot, boot.t0 + 0.6, 9.875, **{"cli.boot.version": "0.8.0"})
        self.log(version.t0 + 1.2, INFO, "CodeMachine v0.8.0", version)
        return boot

    def engine_call(self, parent: Span, t: float, engine: str, step: int, ok: bool) -> float:
        s = self.span(f"engine.{engine}.invoke", parent, t, 182.734 if ok else 96.2, **{
            "engine.name": engine, "engine.model": "claude-sonnet-4" if engine == "claude" else "gpt-5-codex",
            "workflow.step.index": step, "engine.temperature": 0.2, "engine.stream": True})  # fmt: skip
        self.log(t + 0.9, INFO, f"Invoking {engine} for step {step}", s)
        self.record(t + 0.9, "calls", 1, **{"engine.name": engine, "engine.model": s.attrs["engine.model"]})
        s.events.append(("first_token", t + s.dur * 0.6, {"engine.ttft_ms": 41.25}))
        end = t + s.dur
        if not ok:
            s.fail(f"{engine} exited with code 1: rate limited (429)", end - 0.02)
            self.log(end - 0.4, ERROR, f"Engine failure: EngineError: {s.status['message']}{AT}", s)
            self.record(end - 0.4, "duration", 0, **{"engine.name": engine, "outcome": "error"})
            return end
        tokens_in, tokens_out = 18234 + 1000 * step, 912 + 10 * step
        s.attrs.update({"tokens.input": tokens_in, "tokens.output": tokens_out, "tokens.cached": tokens_in // 3,
                        "cost.usd": round(tokens_in * 3e-6 + tokens_out * 15e-6, 6),
                        "engine.stop_reasons": ["end_turn"], "engine.tool_use_ids": [101, 102],
                        "engine.cache_hits": [True, False, True]})  # fmt: skip
        self.record(end - 0.5, "tokens", tokens_in, **{"engine.name": engine, "token.type": "input"})
        self.record(end + 0.3, "tokens", tokens_out, **{"engine.name": engine, "token.type": "output"})
        self.record(end, "duration", 0, **{"engine.name": engine, "outcome": "ok"})
        return end

    def tool_call(self, parent: Span, t: float, server: str, tool: str, args: list[str]) -> float:
        s = self.span("mcp.call", parent, t, 24.5, **{"mcp.server": server, "mcp.tool": tool, "mcp.args": args,
                                                      "mcp.args.count": len(args)})  # fmt: skip
        self.record(t, "tool", 1, **{"mcp.server": server, "mcp.tool": tool})
        self.log(t + 1.5, DEBUG, f"Calling {server}.{tool} with {len(args)} argument(s)", s)
        if server == "shell":
            spawn = self.span(
                "process.spawn",
                s,
                t + 3.25,
                12.625,
                **{"process.command": args[0], "process.args": args[1:], "process.pid": 31337, "process.exit_code": 0},
            )
            self.log(spawn.t0 + spawn.dur - 0.3, INFO, f"Spawned {args[0]} (pid 31337)", spawn)
            s.dur = spawn.t0 + spawn.dur + 0.25 - t  # fmt: skip
        s.attrs["mcp.result.bytes"] = 1041
        return t + s.dur

    def step(self, run: Span, t: float, index: int, agent: str, work: list[str], fail: bool = False) -> float:
        """One workflow step: an agent that calls an engine, then tools; ``work`` names them."""
        st = self.span("workflow.step", run, t, 1.0, **{"workflow.step.index": index, "workflow.step.agent": agent})
        st.events.append(("step.start", t + 0.125, {}))
        ag = self.span("agent.execute", st, t + 0.0625, 1.0, **{
            "agent.id": agent, "agent.unique_id": f"{agent}-{index}", "workflow.step.index": index,
            "agent.tools": ["read", "write", "bash"]})  # fmt: skip
        self.log(ag.t0 + 2, INFO, f"Agent {agent} starting step {index}", ag)
        self.record(ag.t0 + 2, "active", 1, **{"agent.id": agent})
        c = self.engine_call(ag, ag.t0 + 3.5, work[0], index, ok=not fail)
        for item in work[1:]:
            server, tool, *args = item.split()
            c = self.tool_call(ag, c + 0.75, server, tool, args)
        ag.dur = c + 1.25 - ag.t0
        self.record(c + 1.25, "active", -1, **{"agent.id": agent})
        if fail:
            for s in (ag, st):
                s.fail(f"{work[0]} exited with code 1: rate limited (429)", c + 1.0)
            self.log(c + 1.5, ERROR, f"Step {index} ({agent}) failed:\nEngineError: rate limited (429){AT}", st)
        else:
            self.log(c + 1.0, INFO, f"Agent {agent} finished step {index}", ag)
            self.record(c + 0.75, "ratio", round(0.25 + 0.125 * index, 3), **{"agent.id": agent})
            st.events.append(("step.end", c + 1.5, {"step.outcome": "ok"}))
        st.dur = c + 1.75 - t
        return c + 1.75

    def workflow(self, boot: Span, t: float, steps: list[tuple[str, list[str]]], fail_last: bool = False) -> float:
        wid = f"wf-{len(self.spans):d}-{self.hexid(2)}"
        run = self.span("workflow.run", boot, t, 1.0, **{
            "workflow.id": wid, "workflow.template": "codemachine/default", "workflow.steps.total": len(steps),
            "workflow.resumed": False, "workflow.budget.usd": 2.5, "workflow.warnings": [],
            "workflow.step.weights": [0.5, 1.0, 2.25], "workflow.priority": -1,
            "workflow.spec_preview": "# Feature: dark mode\n\nAdd a toggle to settings… «größer» — 設定"})  # fmt: skip
        self.log(t + 0.5, INFO, f"Workflow {wid} started with {len(steps)} steps", run)
        agents = [a for a, _ in steps]
        self.log(t + 0.75, INFO, "workflow config loaded", run, **{
            "workflow.template": "codemachine/default", "workflow.steps.total": len(steps),
            "workflow.dry_run": False, "workflow.agents": agents, "workflow.budget.usd": 2.5})  # fmt: skip
        c, done = t + 1.5, 0
        for i, (agent, work) in enumerate(steps):
            failing = fail_last and i == len(steps) - 1
            c = self.step(run, c + 0.25, i, agent, work, failing) + 0.5
            done += not failing
        cost = 0.06 * done
        run.attrs["workflow.cost_per_step"] = cost / done if done else math.nan  # 0/0: written as null
        if fail_last:
            run.fail("step failed: rate limited (429)", c + 0.5)
            self.log(c + 0.75, ERROR, f"Workflow {wid} failed: rate limited (429)", run)
        else:
            self.log(c + 0.75, INFO, f"Résumé: étape terminée ✓ — ステップ完了 ({done} steps)", run)
        run.dur = c + 2.0 - t
        return c + 2.0


# -- the two runs -----------------------------------------------------------------------------
def session_one(rng: random.Random, t_start: float) -> tuple[Session, float]:
    """Trace level 2: a workflow that succeeds, then one whose engine fails."""
    s = Session(rng, 2, t_start, 4242)
    boot = s.boot()
    s.workflow(boot, s.t_init + 300, [
        ("planner", ["claude", "filesystem read src/app.ts"]),
        ("coder", ["codex", "shell bash git diff --stat"]),
    ])  # fmt: skip
    end = s.workflow(boot, s.t_init + 780, [("planner", ["claude"])], fail_last=True)
    return s, end + 251.5  # the user quits the TUI


def session_two(rng: random.Random, t_start: float) -> tuple[Session, float]:
    """Trace level 1: the sampler keeps engine/agent/mcp/workflow spans only."""
    s = Session(rng, 1, t_start, 5151)
    pre = s.span("cli.preBoot", None, t_start + 1.5, 6.5)
    s.log(pre.t0 + 0.5, INFO, "Home directory check: targetCwd=/home/dev/webapp, home=/home/dev", pre)
    lazy = s.span("cli.lazy", None, t_start + 60.25, 104.375, **{"cli.lazy.workspace.path": "/home/dev/webapp"})
    s.log(lazy.t0 + 0.5, INFO, "Checking for updates...", lazy)
    s.log(lazy.t0 + 101, WARN, f"Update check error: Error: getaddrinfo ENOTFOUND api.github.com{AT}", lazy)
    boot = s.boot()
    end = s.workflow(boot, s.t_init + 350, [("reviewer", ["claude", "search grep TODO src"])])
    t_end = end + 312.25
    s.log(t_end - 2, INFO, f"TUI session ended, total duration: {round(t_end - t_start)}ms", boot)
    return s, t_end


# -- metrics ------------------------------------------------------------------------------------
APP_METRICS = [  # scope, instrument, name, description, unit, type
    ("codemachine.engine", "calls", "engine.llm.calls", "LLM requests sent", "{call}", "3"),
    ("codemachine.engine", "tokens", "engine.llm.tokens", "Tokens used", "{token}", "3"),
    ("codemachine.engine", "duration", "engine.llm.duration", "LLM request latency", "ms", "0"),
    ("codemachine.agent", "active", "agent.active", "Agents currently running", "", "3"),
    ("codemachine.session", "ratio", "session.context_window.used_ratio", "Share of context window used", "1", "2"),
    ("codemachine.mcp", "tool", "mcp.tool.calls", "MCP tool invocations", "", "3"),
]
PROCESS_GAUGES = [
    ("process.memory.heap_used", "Process heap memory used", "bytes"),
    ("process.memory.heap_total", "Process total heap memory allocated", "bytes"),
    ("process.memory.rss", "Process resident set size (total memory allocated)", "bytes"),
    ("process.memory.external", "Memory used by C++ objects bound to JavaScript", "bytes"),
    ("process.cpu.user", "User CPU time", "us"),
    ("process.cpu.system", "System CPU time", "us"),
    ("process.eventloop.lag", "Event loop lag (delay between scheduled and actual callback execution)", "ms"),
    ("process.uptime", "Process uptime", "s"),
]


def node_resource(pid: int) -> dict[str, Any]:
    return {
        "host.name": "dev-laptop", "host.arch": "amd64", "host.id": "4d1f0c2a9b7e4e0f8a3c6d5b2e1f7a90",
        "process.pid": pid, "process.executable.name": "bun", "process.executable.path": "/home/dev/.bun/bin/bun",
        "process.command_args": ["/home/dev/.bun/bin/bun",
                                 "/home/dev/.bun/install/global/node_modules/codemachine/dist/index.js"],
        "process.runtime.version": "24.3.0", "process.runtime.name": "nodejs", "process.runtime.description": "Node.js",
        "process.command": "/home/dev/.bun/install/global/node_modules/codemachine/dist/index.js",
        "process.owner": "dev", "service.name": "codemachine", "service.version": "unknown",
        "deployment.environment": "development", "telemetry.sdk.language": "nodejs",
        "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "2.5.0",
    }  # fmt: skip


def export_times(s: Session, t_end: float) -> list[float]:
    """Every 500 ms from tracing init while the CLI runs, then the final flush and the SDK's shutdown."""
    times, x = [], s.t_init
    while x + 499.375 < t_end:
        x += 499.375
        times.append(x)
    return [*times, t_end + 2.125, t_end + 8.5]


def app_metrics(s: Session, at: float) -> dict[str, list[dict[str, Any]]]:
    """The cumulative state of the app's instruments at export time ``at``, by scope."""
    series: dict[str, dict[tuple[tuple[str, Any], ...], list[float]]] = {}
    for t, instrument, key, value in sorted(s.recorded):
        if t > at:
            break
        state = series.setdefault(instrument, {}).setdefault(key, [t, 0])
        state[1] = value if instrument in ("ratio", "duration") else state[1] + value
    scopes: dict[str, list[dict[str, Any]]] = {}
    for scope, instrument, name, description, unit, kind in APP_METRICS:
        if instrument not in series:
            continue  # the SDK leaves out instruments (and scopes) without data points
        points = [{"attributes": dict(key), "value": 0 if kind == "0" else value, "startTime": iso(first),
                   "endTime": iso(at)} for key, (first, value) in series[instrument].items()]  # fmt: skip
        metric = {"name": name, "description": description, "unit": unit, "type": kind, "dataPoints": points}
        scopes.setdefault(scope, []).append(metric)
    return scopes


def metric_exports(s: Session, t_end: float) -> list[dict[str, Any]]:
    times = export_times(s, t_end)
    out = []
    for n, at in enumerate(times):
        scopes = app_metrics(s, at)
        elapsed = at - times[0]
        values = [7_340_032 + 65_536 * n, 10_485_760, 78_643_200 + 4096 * n, 2_871_145, 301_250 + 5_500 * n,
                  90_125 + 1_250 * n, 0 if n % 2 else 1.25, 0.871 + elapsed / 1000]  # fmt: skip
        scopes["codemachine.process"] = [
            {"name": name, "description": description, "unit": unit, "type": "2",
             "dataPoints": [{"attributes": {}, "value": v, "startTime": iso(times[0]), "endTime": iso(at)}]}
            for (name, description, unit), v in zip(PROCESS_GAUGES, values, strict=True)
        ]  # fmt: skip
        blocks = [{"scope": {"name": name, "version": ""}, "metrics": metrics} for name, metrics in scopes.items()]
        out.append({"resource": node_resource(s.pid), "scopeMetrics": blocks})
    return js(out)


# -- files ----------------------------------------------------------------------------------------
def write(path: str, doc: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False)


def session_docs(s: Session, t_end: float) -> dict[str, tuple[str, dict[str, Any]]]:
    """The session's three documents by kind, each with its file name (relative, dated)."""
    day, init = stamp(s.t_init)
    logs = sorted(s.logs)
    spans = sorted((sp for sp in s.spans if sp.kept), key=lambda sp: sp.t0 + sp.dur)  # written as they end
    trace = {"version": 1, "service": "codemachine", "exportedAt": iso(t_end + 9.25), "spanCount": len(spans),
             "spans": [sp.doc() for sp in spans]}  # fmt: skip
    log_records = [{"timestamp": [ms // 1000, ms % 1000 * 1_000_000], "severityNumber": sev[0],
                    "severityText": sev[1], "body": body, "attributes": js(attrs), "resource": dict(LOG_RESOURCE)}
                   for ms, _, sev, body, attrs in logs]  # fmt: skip
    log = {"version": 1, "service": "codemachine", "exportedAt": iso(t_end + 1.5), "logCount": len(log_records),
           "logs": log_records}  # fmt: skip
    exports = metric_exports(s, t_end)
    metrics = {"version": 1, "service": "codemachine", "type": "metrics", "exportedAt": iso(t_end + 10.5),
               "exportCount": len(exports), "metrics": exports}  # fmt: skip
    log_day, log_stamp = stamp(logs[0][0])  # the log file is named at its first record
    return {
        "trace": (f"{day}/{init}.json", trace),
        "logs": (f"{log_day}/{log_stamp}-logs.json", log),
        "metrics": (f"{day}/{init}-metrics.json", metrics),
    }


def with_session_file(doc: dict[str, Any], after: str, path: str) -> dict[str, Any]:
    """A ``latest*`` copy: the document with ``sessionFile`` (the recording machine's path) after ``after``."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out[key] = value
        if key == after:
            out["sessionFile"] = path
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--start", default="2026-11-24T17:00:00Z", help="time of the first CLI run (ISO 8601)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00")).timestamp() * 1000
    runs = [session_one(rng, start + 412.0), session_two(rng, start + 59_874.0)]
    counts = [0, 0]
    for s, t_end in runs:
        docs = session_docs(s, t_end)
        for rel, doc in docs.values():
            write(os.path.join(args.out, rel), doc)
        counts[0] += docs["trace"][1]["spanCount"]
        counts[1] += docs["logs"][1]["logCount"]
    latest = (("trace", "latest.json", "spanCount"), ("logs", "latest-logs.json", "logCount"),
              ("metrics", "latest-metrics.json", "exportedAt"))  # fmt: skip
    for kind, name, after in latest:
        rel, doc = docs[kind]
        write(os.path.join(args.out, name), with_session_file(doc, after, f"{RECORDED_DIR}/{rel}"))
    print(f"wrote {counts[0]} spans, {counts[1]} log records, 2 sessions and the latest copies under {args.out}")


if __name__ == "__main__":
    main()
