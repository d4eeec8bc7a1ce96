"""The page's data and document, without a browser: tree order, trace rows, log rows,
metric series, and the embedding (escaping, Content-Security-Policy hashes)."""

from __future__ import annotations

import json
import re

from otel_replay.model import LogRecord, Metric, MetricKind, MetricPoint, Origin, SpanEvent, SpanRecord
from otel_replay.view.data import build, severity_name, tree_order
from otel_replay.view.page import asset, render, script_json, sha256

RES = (("service.name", "svc"),)


def span(sid: int, parent: int = 0, name: str = "op", start: int = 0, end: int = 10, tid: int = 1, **kw) -> SpanRecord:
    return SpanRecord(
        trace_id=tid,
        span_id=sid,
        parent_span_id=parent,
        name=name,
        kind=kw.pop("kind", 1),
        start_ns=start,
        end_ns=end,
        status_code=kw.pop("status", 0),
        status_message=kw.pop("message", None),
        attributes=kw.pop("attributes", {}),
        events=kw.pop("events", []),
        resource=kw.pop("resource", RES),
        origin=Origin("t.json", sid),
    )


def log(body: object, time_ns: int = 5, trace: int = 1, span_id: int = 1, severity: int = 9) -> LogRecord:
    return LogRecord(time_ns, severity, None, body, {}, trace, span_id, RES, Origin("l.json", 0))


def test_tree_order_is_depth_first_with_children_by_start_and_orphans_as_roots() -> None:
    spans = [span(1, 0, "root"), span(3, 1, "late", start=5), span(2, 1, "early", start=1), span(4, 2, "leaf", 2)]
    spans.append(span(5, 99, "orphan", start=3))
    order = [(s.name, depth) for s, depth in tree_order(spans)]
    assert order == [("root", 0), ("early", 1), ("leaf", 2), ("late", 1), ("orphan", 0)]


def test_tree_order_shows_each_span_of_a_parent_cycle_once() -> None:
    spans = [span(1, 2, "a"), span(2, 1, "b", start=1), span(3, 3, "self", start=2)]
    order = [s.name for s, _ in tree_order(spans)]
    assert sorted(order) == ["a", "b", "self"]


def test_build_counts_errors_and_names_each_trace_by_its_root() -> None:
    doc = build(
        [
            span(1, 0, "root", start=1_000_000, end=9_000_000),
            span(2, 1, "child", start=2_000_000, end=3_000_000, status=2, message="boom"),
            span(7, 0, "other", tid=2, start=500_000),
            log("hello"),
        ],
        ["a.json"],
        [],
        0,
    )
    first, second = doc["traces"]
    assert (second["root"], second["errors"], len(second["spans"])) == ("root", 1, 2)
    assert second["duration"] == 8.0 and second["service"] == "svc"
    assert second["spans"][1] == second["spans"][1] | {
        "name": "child",
        "depth": 1,
        "status": "error",
        "message": "boom",
    }
    assert first["root"] == "other" and first["id"] == f"{2:032x}"
    assert doc["logs"][0]["span"] == f"{1:016x}" and doc["logs"][0]["level"] == "INFO"
    assert doc["counts"] == {"spans": 3, "logs": 1, "points": 0}


def test_values_that_json_cannot_hold_are_shown_as_text() -> None:
    doc = build([span(1, attributes={"b": b"\x01\xff", "nan": float("nan"), "list": ("x", 1)})], [], [], 0)
    assert doc["traces"][0]["spans"][0]["attributes"] == {"b": "01ff", "nan": "nan", "list": ["x", 1]}
    json.dumps(doc, allow_nan=False)


def test_metric_series_are_split_by_attributes_and_hold_their_points_in_time_order() -> None:
    gauge = Metric("queue", MetricKind.GAUGE, unit="1")
    points = [
        MetricPoint(gauge, {"q": "b"}, 0, 3_000_000, 7, RES, Origin("m", 0)),
        MetricPoint(gauge, {"q": "a"}, 0, 2_000_000, 5, RES, Origin("m", 1)),
        MetricPoint(gauge, {"q": "a"}, 0, 1_000_000, 4.5, RES, Origin("m", 2)),
    ]
    (metric,) = build(points, [], [], 0)["metrics"]
    assert (metric["name"], metric["type"], metric["unit"]) == ("queue", "gauge", "1")
    assert [(s["attributes"], s["points"]) for s in metric["series"]] == [
        ({"q": "a"}, [[1.0, 4.5], [2.0, 5.0]]),
        ({"q": "b"}, [[3.0, 7.0]]),
    ]


def test_severity_names() -> None:
    assert [severity_name(n) for n in (0, 1, 9, 10, 17, 24)] == ["", "TRACE", "INFO", "INFO2", "ERROR", "FATAL4"]


def test_script_json_cannot_end_the_script_block_or_a_line() -> None:
    hostile = {"name": "</script><script>alert(1)</script><!-- &amp; \u2028\u2029"}
    text = script_json(hostile)
    assert not re.search("[<>&\u2028\u2029]", text)
    assert json.loads(text) == hostile


def test_render_inlines_everything_under_a_policy_that_names_the_script_and_style() -> None:
    doc = build([span(1, name="</script><img src=x>")], ["in.json"], ["in.json: broken"], 1)
    page = render(doc)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "unsafe" not in csp
    assert f"script-src {sha256(asset('view.js'))}" in csp and f"style-src {sha256(asset('view.css'))}" in csp
    assert f"<script>{asset('view.js')}</script>" in page and f"<style>{asset('view.css')}</style>" in page
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    assert json.loads(data) == json.loads(json.dumps(doc))
    assert "<img" not in page and "</script><" not in data


def test_exception_events_keep_their_stack_trace() -> None:
    event = SpanEvent(
        "exception", 5, {"exception.message": "bad", "exception.stacktrace": "E: bad\n    at f (a.js:1:2)"}
    )
    doc = build([span(1, events=[event], status=2)], [], [], 0)
    (ev,) = doc["traces"][0]["spans"][0]["events"]
    assert ev["attributes"]["exception.stacktrace"].splitlines() == ["E: bad", "    at f (a.js:1:2)"]
