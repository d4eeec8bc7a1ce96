"""What a CodeMachine metrics file cannot say, judged from the whole file: histograms whose
points record nothing, and which sums are up-down counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from otel_replay.model import CUMULATIVE, FileProblem, Metric, MetricKind, MetricPoint, Notice, Origin, Scope
from otel_replay.sources import jsondoc
from otel_replay.sources.codemachine_metrics import sum_only_notice, unrecorded, unrecorded_notice
from otel_replay.sources.monotonic import goes_down, non_monotonic_streams, settle_monotonic
from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    EXAMPLE,
    NODE_RESOURCE,
    data_point,
    metric_doc,
    metrics_export,
    metrics_file,
    problem_lines,
    replay_json,
)
from tests.otlp_samples import T0, points_of
from tests.test_sources import read_all

T = "2026-11-24T17:00:0{}.{:03d}Z"


def _at(second: int, ms: int = 0) -> str:
    return T.format(second, ms)


# -- pure judgements ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("samples", "down"),
    [
        ([], False),
        ([(1, 0, 1), (2, 0, 2), (3, 0, 3)], False),  # a counter
        ([(1, 0, 5), (2, 0, 5)], False),  # flat
        ([(1, 0, 1), (2, 0, 0)], True),  # agent.active: back to 0
        ([(2, 0, 0), (1, 0, 1)], True),  # in any order
        ([(1, 0, 5), (2, 10, 1)], False),  # a new start time is a reset, not a decrease
        ([(1, 0, 5), (2, 10, 1), (3, 10, 0)], True),  # …but after the reset it went down
        ([(1, 0, -1)], True),  # a counter is never negative
        ([(1, 0, 0.5), (1, 0, 0.25)], True),  # the same time: in the order of the file
        ([(1, 0, 0.25), (1, 0, 0.5)], False),
    ],
)
def test_a_series_goes_down_when_its_value_drops_with_the_same_start(
    samples: list[tuple[int, int, Any]], down: bool
) -> None:
    assert goes_down(samples) is down


SUM = Metric("agent.active", MetricKind.SUM, temporality=CUMULATIVE, monotonic=True)
SCOPE = Scope("codemachine.agent")
RES_A = (("process.pid", 1), ("service.name", "codemachine"))
RES_B = (("process.pid", 2), ("service.name", "codemachine"))


def _point(value: int, time: int, attrs: dict[str, Any], resource: Any = RES_A, metric: Metric = SUM) -> MetricPoint:
    return MetricPoint(metric, attrs, 0, time, value, resource, Origin("f", time), SCOPE)


@pytest.mark.parametrize(
    ("points", "streams"),
    [
        ([_point(1, 1, {"agent.id": "a"}), _point(2, 2, {"agent.id": "a"})], set()),
        ([_point(1, 1, {"agent.id": "a"}), _point(0, 2, {"agent.id": "a"})], {(RES_A, SCOPE, "agent.active")}),
        # a drop between two series is no drop: each series is flat
        ([_point(1, 1, {"agent.id": "a"}), _point(0, 2, {"agent.id": "b"})], set()),
        # the same series under another resource (another process) is another stream
        ([_point(1, 1, {"agent.id": "a"}), _point(0, 2, {"agent.id": "a"}, RES_B)], set()),
        (
            [_point(1, 1, {}), _point(0, 2, {}), _point(1, 1, {}, RES_B), _point(2, 2, {}, RES_B)],
            {(RES_A, SCOPE, "agent.active")},
        ),
    ],
)
def test_the_streams_with_a_series_that_goes_down(points: list[MetricPoint], streams: set[Any]) -> None:
    assert non_monotonic_streams(points) == streams


def test_settling_clears_monotonic_on_every_point_of_a_stream_that_goes_down() -> None:
    calls = Metric("engine.llm.calls", MetricKind.SUM, temporality=CUMULATIVE, monotonic=True)
    points = [
        _point(1, 1, {"agent.id": "a"}),
        _point(0, 2, {"agent.id": "a"}),
        _point(0, 2, {"agent.id": "b"}),  # only ever seen at 0: the instrument is still an up-down counter
        _point(1, 1, {}, metric=calls),
        _point(3, 2, {}, metric=calls),
    ]
    settled = list(settle_monotonic(points))
    assert [(p.metric.name, p.metric.monotonic) for p in settled] == [
        ("agent.active", False), ("agent.active", False), ("agent.active", False),
        ("engine.llm.calls", True), ("engine.llm.calls", True),
    ]  # fmt: skip
    assert settled[0].metric is settled[2].metric  # one definition for the stream


@pytest.mark.parametrize(
    ("value", "nothing"),
    [(0, True), (0.0, True), (-0.0, True), (412.5, False), (False, False), (None, False), ("0", False), ({}, False)],
)
def test_a_histogram_value_of_zero_records_nothing(value: Any, nothing: bool) -> None:
    assert unrecorded(value) is nothing


# -- reading whole files ------------------------------------------------------------------------
def _session(path: Path, exports: int = 3) -> Path:
    """``exports`` exports 500 ms apart: an up-down counter back to 0, a counter, a
    histogram of zeros, a histogram with recorded sums and a gauge."""
    out = []
    for i in range(exports):
        end = _at(1 + i // 2, 500 * (i % 2))
        active = [data_point(1 if i == 0 else 0, _at(0, 300), end, **{"agent.id": "planner"})]
        if i:
            active.append(data_point(0, _at(1, 100), end, **{"agent.id": "coder"}))
        engine = [
            metric_doc("engine.llm.calls", "3", [data_point(i + 1, _at(0, 200), end, **{"engine.name": "claude"})]),
            metric_doc(
                "engine.llm.duration", "0", [data_point(0, _at(0, 200), end, **{"engine.name": "claude"})], "ms"
            ),
            metric_doc("engine.boot.duration", "0", [data_point(150.5 * (i + 1), _at(0, 200), end)], "ms"),
        ]
        scopes = {
            "codemachine.engine": engine,
            "codemachine.agent": [metric_doc("agent.active", "3", active)],
            "codemachine.process": [metric_doc("process.uptime", "2", [data_point(1.5 + i / 2, _at(0), end)], "s")],
        }
        out.append(metrics_export(scopes))
    return metrics_file(path, out)


def _points(items: list[object]) -> dict[str, list[MetricPoint]]:
    out: dict[str, list[MetricPoint]] = {}
    for item in items:
        if isinstance(item, MetricPoint):
            out.setdefault(item.metric.name, []).append(item)
    return out


def test_a_session_is_judged_whole(tmp_path: Path) -> None:
    items = read_all(_session(tmp_path / "17-00-00-metrics.json"))
    points = _points(items)
    assert {name: len(ps) for name, ps in points.items()} == {
        "engine.llm.calls": 3, "engine.llm.duration": 3, "engine.boot.duration.sum": 3, "agent.active": 5,
        "process.uptime": 3,
    }  # fmt: skip
    # the histogram of zeros: points with no recorded value (counted, deduplicated, never sent)
    assert {(p.metric.kind, p.value) for p in points["engine.llm.duration"]} == {(MetricKind.HISTOGRAM, None)}
    assert {p.metric.monotonic for p in points["agent.active"]} == {False}  # "coder" only ever showed 0
    assert {p.metric.monotonic for p in points["engine.llm.calls"]} == {True}
    assert {p.metric.monotonic for p in points["engine.boot.duration.sum"]} == {True}
    assert [p.value for p in points["engine.boot.duration.sum"]] == [150.5, 301.0, 451.5]
    assert dict(points["agent.active"][0].resource) == NODE_RESOURCE | {
        "process.command_args": tuple(NODE_RESOURCE["process.command_args"])
    }
    # the sum's hint is about each of its points (shown if one is sent), the zeros' about the file
    notices = [(i.text, i.origin) for i in items if isinstance(i, Notice)]
    sum_origins = [p.origin for p in points["engine.boot.duration.sum"]]
    assert notices == [(sum_only_notice("engine.boot.duration"), o) for o in sum_origins] + [
        (unrecorded_notice("engine.llm.duration"), None)
    ]
    assert [p.origin.index for p in points["engine.llm.duration"]] == [1, 6, 12]
    assert sorted(p.origin.index for ps in points.values() for p in ps) == list(range(17))


def test_a_histogram_of_zeros_alone_says_so_and_nothing_else(tmp_path: Path) -> None:
    export = metrics_export(
        {
            "codemachine.engine": [
                metric_doc(
                    "engine.llm.duration",
                    "0",
                    [data_point(0, _at(0), _at(1)), data_point(0.0, _at(0), _at(1), outcome="error")],
                    "ms",
                )
            ]
        }
    )
    items = read_all(metrics_file(tmp_path / "m-metrics.json", [export, export]))
    assert [type(i).__name__ for i in items[1:]] == ["FileStart", *["MetricPoint"] * 4, "Notice"]
    assert {i.value for i in items if isinstance(i, MetricPoint)} == {None}  # no recorded value: never sent
    assert items[-1] == Notice(unrecorded_notice("engine.llm.duration"))


def test_a_sum_the_file_calls_monotonic_or_not_is_taken_at_its_word_else_judged(tmp_path: Path) -> None:
    said = [
        {
            **metric_doc("queue.depth", "3", [data_point(2, _at(0), _at(1)), data_point(5, _at(0), _at(2))]),
            "isMonotonic": False,
        },
        {
            **metric_doc("odd.counter", "3", [data_point(5, _at(0), _at(1)), data_point(2, _at(0), _at(2))]),
            "isMonotonic": True,
        },
    ]
    unsaid = [metric_doc("balance", "3", [data_point(1, _at(0), _at(1)), data_point(-2, _at(0), _at(2))])]
    points = _points(read_all(metrics_file(tmp_path / "m-metrics.json", [metrics_export({"s": said + unsaid})])))
    assert [p.metric.monotonic for p in points["queue.depth"]] == [False, False]
    assert [p.metric.monotonic for p in points["odd.counter"]] == [True, True]
    assert [p.metric.monotonic for p in points["balance"]] == [False, False]  # negative: no counter


def test_a_truncated_session_still_sends_the_sums_it_read_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)  # streamed, so the break comes part-way
    path = _session(tmp_path / "m-metrics.json", exports=6)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    items = read_all(path)
    points = _points(items)
    assert 3 <= len(points["agent.active"]) < 11 and {p.metric.monotonic for p in points["agent.active"]} == {False}
    assert Notice(unrecorded_notice("engine.llm.duration")) in items
    assert isinstance(items[-1], FileProblem) and "truncated" in items[-1].reason


# -- the example folder over the wire ------------------------------------------------------------
def _by_session(reqs: list[ExportMetricsServiceRequest]) -> dict[tuple[int, str], list[tuple[Any, Any]]]:
    """(process.pid of the resource, metric name) → [(metric, point)] in the order received."""
    out: dict[tuple[int, str], list[tuple[Any, Any]]] = {}
    for req in reqs:
        for rm in req.resource_metrics:
            pid = next(a.value.int_value for a in rm.resource.attributes if a.key == "process.pid")
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault((pid, m.name), []).extend((m, p) for p in points_of(m))
    return out


EXAMPLE_METRICS = {
    "engine.llm.calls", "engine.llm.tokens", "agent.active", "session.context_window.used_ratio", "mcp.tool.calls",
    "process.memory.heap_used", "process.memory.heap_total", "process.memory.rss", "process.memory.external",
    "process.cpu.user", "process.cpu.system", "process.eventloop.lag", "process.uptime",
}  # fmt: skip
FIRST_EXPORT = T0 + 1_082_000_000  # session 1 (pid 4242): exports at 17:00:01.082, .581, .722, .728


def test_codemachine_metrics_arrive_as_otlp_metrics(collector: OtlpReceiver) -> None:
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 0, problem_lines(summary)
    stats = summary["signals"]["metrics"]
    # latest-metrics.json is a copy of session 2 (40 points); the dated sessions' 12 histogram
    # points (value 0) are read and not replayed, the copy's 2 are duplicates like the rest of it
    assert (stats["read"], stats["sent"], stats["duplicates"]) == (163, 111, 40)
    assert stats["dropped"] == {NO_RECORDED_VALUE: 12}
    reqs = collector.requests["/v1/metrics"]
    assert collector.requests["/v1/traces"] == [] and collector.requests["/v1/logs"] == []
    resources = {rm.resource.SerializeToString(): rm.resource for req in reqs for rm in req.resource_metrics}
    assert len(resources) == 2  # one Node resource per CLI run
    for resource in resources.values():
        attrs = {a.key: a.value for a in resource.attributes}
        assert (attrs["service.name"].string_value, attrs["service.version"].string_value) == ("codemachine", "unknown")
        assert attrs["telemetry.sdk.language"].string_value == "nodejs" and len(attrs) == 18
    scopes = {
        (sm.scope.name, sm.scope.version) for req in reqs for rm in req.resource_metrics for sm in rm.scope_metrics
    }
    assert scopes == {(f"codemachine.{s}", "") for s in ("engine", "agent", "session", "mcp", "process")}
    series = _by_session(reqs)
    assert {name for _, name in series} == EXAMPLE_METRICS  # engine.llm.duration recorded nothing: not sent
    heap = series[(4242, "process.memory.heap_used")]
    assert [p.as_int for _, p in heap] == [7_340_032 + 65_536 * i for i in range(4)] and heap[0][0].unit == "bytes"
    assert heap[0][1].time_unix_nano == FIRST_EXPORT and heap[0][1].start_time_unix_nano == 0
    calls = [(m, p) for m, p in series[(4242, "engine.llm.calls")] if p.attributes[0].value.string_value == "claude"]
    assert {(m.sum.is_monotonic, m.sum.aggregation_temporality) for m, _ in calls} == {
        (True, mpb.AGGREGATION_TEMPORALITY_CUMULATIVE)
    }
    assert [(p.start_time_unix_nano, p.as_int) for _, p in calls] == [(T0 + 889_000_000, n) for n in (1, 2, 2, 2)]
    active = series[(4242, "agent.active")]  # an up-down counter: planner 1, then back to 0
    assert {m.sum.is_monotonic for m, _ in active} | {
        m.sum.is_monotonic for m, _ in series[(5151, "agent.active")]
    } == {False}
    planner = [p.as_int for _, p in active if p.attributes[0].value.string_value == "planner"]
    assert planner == [1, 0, 0, 0]
    assert all(
        m.sum.is_monotonic
        for key, pts in series.items()
        if key[1] != "agent.active"
        for m, _ in pts
        if m.HasField("sum")
    )
    assert summary["hints"] == [unrecorded_notice("engine.llm.duration")]  # said once, for both sessions
