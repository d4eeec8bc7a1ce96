"""``replay --verify`` against the real Tempo and Loki: every span and log record sent is
read back; and the fakes' query APIs (tests/fakes/tempo_query.py, loki_query.py) answer
as the real ones do, asked the same questions after the same pushes."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.fakes.loki_query import LokiWithQueries
from tests.fakes.tempo_query import TempoWithQueries
from tests.helpers import EXAMPLE, log_doc, log_file, span_doc, trace_file
from tests.real.backends import Stack, http, require_binaries
from tests.real.inputs import replay

require_binaries()


def _verify_args(stack_or_fakes: tuple[str, str, str], run_id: str) -> list[str]:
    otlp, tempo_query, loki = stack_or_fakes
    return [
        "--otlp-endpoint", otlp, "--tempo-query-url", tempo_query, "--loki-url", loki,
        "--loki-label", f"run={run_id}",
    ]  # fmt: skip


def test_replay_verify_reads_back_every_span_and_log_record(stack: Stack, run_id: str) -> None:
    """examples/codemachine moved to now: every span (by id, with its name, parent,
    times, status, event and attribute counts) is read back from Tempo and every log
    record from Loki, counted by this run's replay_id."""
    run = replay(
        str(EXAMPLE), "--shift-to-now", "--signals", "traces,logs", "--verify", "--verify-timeout", "90s",
        *_verify_args((stack.otlp_url, stack.tempo_url, stack.loki_url), run_id),
    )  # fmt: skip
    checks = run.summary["verify"]["signals"]
    assert run.code == 0, (run.summary["verify"], run.stderr[-2000:])
    traces, logs = run.signal("traces"), run.signal("logs")
    assert checks["traces"]["sent"] == checks["traces"]["found"] == traces["sent"] > 0
    assert checks["logs"]["sent"] == checks["logs"]["found"] == logs["sent"] > 0
    assert checks["traces"]["different"] == checks["logs"]["different"] == 0
    assert run.summary["verify"]["replay_id"] == run.summary["replay_id"]


def _report(folder: Path, run_id: str) -> Path:
    now_ms = time.time() * 1000 - 60_000
    tid = run_id.rjust(32, "0")
    spans = [
        span_doc(trace_id=tid, span_id="00000000000000a1", startTime=now_ms, endTime=now_ms + 5.5, name="root",
                 status={"code": 2, "message": "boom"}, attributes={"k": "v", "n": 3},
                 events=[{"name": "e", "time": now_ms + 1.5, "attributes": {}}]),
        span_doc(trace_id=tid, span_id="00000000000000a2", parentSpanId="00000000000000a1", startTime=now_ms + 1,
                 endTime=now_ms + 2.25, name="child"),
    ]  # fmt: skip
    trace_file(folder / "spans.json", spans)
    sec = int(now_ms // 1000)
    log_file(folder / "logs.json", [log_doc(sec=sec, nanos=i * 1000, body=f"line {i}") for i in range(3)])
    return folder


def _tempo_answer(base: str, trace_id: str) -> tuple[int, Any]:
    status, body = http("GET", f"{base}/api/v2/traces/{trace_id}")
    return status, json.loads(body) if status == 200 else body


def _loki_answer(base: str, path: str, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    status, body = http("GET", f"{base}{path}?{urllib.parse.urlencode(params)}", headers=headers)
    assert status == 200, body
    doc = json.loads(body)
    doc["data"].pop("stats", None)
    return doc


def _spans(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in doc["trace"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def test_the_fakes_query_apis_answer_as_tempo_and_loki_do(stack: Stack, run_id: str, tmp_path: Path) -> None:
    report = _report(tmp_path / "report", run_id)
    with TempoWithQueries() as tempo, LokiWithQueries() as loki:
        fake = replay(str(report), "--verify", "--keep-times", *_verify_args((tempo.url, tempo.url, loki.url), run_id))
        real = replay(
            str(report), "--verify", "--keep-times", "--verify-timeout", "60s",
            *_verify_args((stack.otlp_url, stack.tempo_url, stack.loki_url), run_id),
        )  # fmt: skip
        assert fake.code == real.code == 0, (fake.summary.get("verify"), real.summary.get("verify"))
        # Tempo: a trace it has, field for field as verify reads them; an id it has not
        trace_id = run_id.rjust(32, "0")
        (fs, fdoc), (rs, rdoc) = _tempo_answer(tempo.url, trace_id), _tempo_answer(stack.tempo_url, trace_id)
        assert fs == rs == 200
        keys = ("spanId", "parentSpanId", "name", "startTimeUnixNano", "endTimeUnixNano", "status", "kind")
        for f, r in zip(
            sorted(_spans(fdoc), key=lambda s: s["spanId"]),
            sorted(_spans(rdoc), key=lambda s: s["spanId"]),
            strict=True,
        ):
            assert {k: f.get(k) for k in keys} == {k: r.get(k) for k in keys}
            assert (len(f.get("events", [])), len(f.get("attributes", []))) == (
                len(r.get("events", [])), len(r.get("attributes", [])),
            )  # fmt: skip
        unknown = "f" * 32
        assert _tempo_answer(tempo.url, unknown) == _tempo_answer(stack.tempo_url, unknown)
        # Loki: the counts verify asks for, an empty one, and a log query's shape
        selector = f'{{run="{run_id}"}}'
        at = str(time.time_ns())
        for query in (
            f"sum(count_over_time({selector} [1h]))",
            f'sum(count_over_time({selector} | replay_id="no" [1h]))',
        ):
            params = {"query": query, "time": at}
            f_doc = _loki_answer(loki.url, "/loki/api/v1/query", params)
            r_doc = _loki_answer(stack.loki_url, "/loki/api/v1/query", params)
            assert [r["value"][1] for r in f_doc["data"]["result"]] == [r["value"][1] for r in r_doc["data"]["result"]]
            assert [r["metric"] for r in f_doc["data"]["result"]] == [r["metric"] for r in r_doc["data"]["result"]]
            assert f_doc["status"] == r_doc["status"] and f_doc["data"]["resultType"] == r_doc["data"]["resultType"]
        params = {"query": selector, "start": str(int(at) - 3600 * 10**9), "end": at, "direction": "forward"}
        for headers in (None, {"X-Loki-Response-Encoding-Flags": "categorize-labels"}):
            f_doc = _loki_answer(loki.url, "/loki/api/v1/query_range", params, headers)
            r_doc = _loki_answer(stack.loki_url, "/loki/api/v1/query_range", params, headers)
            f_values = sorted(v[:2] for s in f_doc["data"]["result"] for v in s["values"])
            r_values = sorted(v[:2] for s in r_doc["data"]["result"] for v in s["values"])
            assert f_values == r_values and len(f_values) == 3
