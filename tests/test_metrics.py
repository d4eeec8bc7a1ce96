"""Metrics: CodeMachine metrics sessions and OTLP/JSON metrics → the official
OTLPMetricExporter → a loopback receiver that decodes every request with
opentelemetry-proto (ExportMetricsServiceRequest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from otel_replay.model import CUMULATIVE, MetricKind, Origin, Scope
from otel_replay.sources.codemachine_metrics import (
    exponential_value,
    histogram_value,
    iso_to_ns,
    metric_definition,
    point_from_codemachine,
)
from otel_replay.sources.common import InvalidInput
from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from tests.fakes.otlp import OtlpReceiver, PartialSuccess, tempo_error
from tests.helpers import EXAMPLE, metrics_export, metrics_file, problem_lines, replay_json, write_json
from tests.otlp_samples import (
    T0,
    flatten_points,
    metrics_of,
    metrics_request,
    points_of,
    to_otlp_json,
    write_lines,
)

T0_ISO = "2026-11-24T17:00:00"


def _points(reqs: list[ExportMetricsServiceRequest]) -> list[tuple[str, str, Any]]:
    """(metric name, kind, point) of every received data point."""
    return [(m.name, m.WhichOneof("data"), p) for m in metrics_of(reqs) for p in points_of(m)]


def _metrics(reqs: list[ExportMetricsServiceRequest]) -> dict[str, Any]:
    return {m.name: m for m in metrics_of(reqs)}


def _session(path: Path, metrics: list[dict[str, Any]]) -> Path:
    return metrics_file(path, [metrics_export({"codemachine.process": metrics})])


def _metric(name: str, kind: str, *values: Any, **extra: Any) -> dict[str, Any]:
    points = [
        {"attributes": {"n": i}, "value": v, "startTime": f"{T0_ISO}.000Z", "endTime": f"{T0_ISO}.{i + 1:03d}Z"}
        for i, v in enumerate(values)
    ]
    return {"name": name, "description": f"{name} desc", "unit": "1", "type": kind, "dataPoints": points, **extra}


# -- pure conversions ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T17:00:00Z", T0),
        ("2026-11-24T17:00:00.123Z", T0 + 123_000_000),
        ("2026-11-24T17:00:00.123456789Z", T0 + 123_456_789),  # no float on the way: exact ns
        ("2026-11-24T18:00:00.5+01:00", T0 + 500_000_000),
        ("2026-11-24T17:00:00", T0),  # no zone: UTC
        ([1795539600, 7], T0 + 7),  # a JS HrTime
        (1795539600000.25, T0 + 250_000),  # epoch milliseconds
    ],
)
def test_times_are_exact_to_the_nanosecond(text: Any, expected: int) -> None:
    assert iso_to_ns(text, "endTime") == expected


@pytest.mark.parametrize(
    "bad",
    ["yesterday", "2026-13-01T00:00:00Z", None, True, "1969-12-31T23:59:59Z", "9999-12-31T00:00:00Z", {}, [2**40, 0]],
)
def test_a_bad_time_is_refused_with_the_field_named(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="endTime"):
        iso_to_ns(bad, "endTime")


def test_gauge_and_sum_keep_their_kind_sums_are_monotonic_unless_the_file_says_not() -> None:
    # (a sum that goes down or is negative is judged over the whole file: test_codemachine_metrics.py)
    assert metric_definition(_metric("g", "2", 1), [1]).kind is MetricKind.GAUGE
    counter = metric_definition(_metric("c", "3", 1, 2), [1, 2])
    assert (counter.kind, counter.temporality, counter.monotonic) == (MetricKind.SUM, CUMULATIVE, True)
    assert metric_definition(_metric("f", "3", 1, isMonotonic=False), [1]).monotonic is False


def test_a_sum_only_histogram_becomes_a_named_cumulative_sum() -> None:
    metric = metric_definition(_metric("step.duration", "0", 412.5), [412.5])
    assert metric.name == "step.duration.sum" and metric.kind is MetricKind.SUM
    assert metric.monotonic and metric.temporality == CUMULATIVE
    assert "count and buckets were not recorded" in metric.description


def test_a_whole_js_histogram_is_kept_whole() -> None:
    raw = {"buckets": {"boundaries": [10, 100], "counts": [1, 2, 0]}, "sum": 150.5, "count": 3, "min": 1, "max": 90}
    metric = metric_definition(_metric("h", "0", raw), [raw])
    assert metric.name == "h" and metric.kind is MetricKind.HISTOGRAM
    value = histogram_value(raw)
    assert (value.count, value.sum, value.bucket_counts, value.explicit_bounds) == (3, 150.5, [1, 2, 0], [10.0, 100.0])
    with pytest.raises(InvalidInput, match="3 bucket counts for 1 boundaries"):
        histogram_value({**raw, "buckets": {"boundaries": [10], "counts": [1, 2, 0]}})


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"type": "2", "dataPoints": []}, "metric has no name"),
        ({"name": "x", "type": "7", "dataPoints": []}, "type '7' is not 0"),
        ({"name": "x", "type": "0", "dataPoints": [{"value": 1}, {"value": {"sum": 1}}]}, "some values are histograms"),
        ({"name": 5, "type": "2", "dataPoints": []}, "metric name is a number"),
        ({"name": "x", "type": ["2"], "dataPoints": []}, "type \\(an array\\) is not 0"),
        ({"name": "x", "type": True, "dataPoints": []}, "type True is not 0"),
        ({"name": "x", "type": "2", "unit": 5, "dataPoints": []}, "unit is a number, expected a string"),
        ({"name": "x", "type": "3", "isMonotonic": "true", "dataPoints": []}, "isMonotonic is a string"),
    ],
)
def test_a_broken_metric_definition_is_named(metric: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        metric_definition(metric, [p.get("value") for p in metric["dataPoints"]])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "missing value"),
        (5, "value is a number, expected an object"),
        ({"count": 0, "buckets": []}, "value buckets is an array, expected an object"),
        ({"count": 0, "buckets": {"boundaries": {}}}, "value buckets.boundaries is an object, expected an array"),
        ({"count": 0, "buckets": {"boundaries": [10**400], "counts": []}}, "value boundary is beyond the range of a"),
        ({"count": 2**64}, "value count 18446744073709551616 is not an integer in 0..2\\^64-1"),
        ({"count": "1"}, "value count '1' is not an integer"),
        ({"count": 1, "sum": 10**400}, "value sum is beyond the range of a double"),
    ],
)
def test_a_histogram_value_of_the_wrong_shape_is_named(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        histogram_value(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "value is an array, expected an object"),
        ({"count": 1, "positive": "x"}, "value positive is a string, expected an object"),
        ({"count": 1, "negative": {"offset": 2**40}}, "value negative.offset 1099511627776 is not a 32-bit integer"),
        ({"count": 1, "positive": {"bucketCounts": {}}}, "value positive.bucketCounts is an object"),
        ({"count": 1, "scale": [1]}, "value scale \\(an array\\) is outside -10..20"),
    ],
)
def test_an_exponential_value_of_the_wrong_shape_is_named(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        exponential_value(value)


def test_a_number_beyond_64_bits_is_the_double_javascript_wrote() -> None:
    metric = metric_definition(_metric("g", "2", 2**64), [2**64])
    raw = _metric("g", "2", 2**64)["dataPoints"][0]
    point = point_from_codemachine(raw, metric, (), Scope("s"), Origin("f", 0), [])
    assert point.value == 2.0**64 and isinstance(point.value, float)
    with pytest.raises(InvalidInput, match="value is beyond the range of a double"):
        point_from_codemachine({**raw, "value": 10**400}, metric, (), Scope("s"), Origin("f", 0), [])


def test_a_point_with_end_before_start_is_invalid() -> None:
    metric = metric_definition(_metric("g", "2", 1), [1])
    point = {"value": 1, "startTime": f"{T0_ISO}.500Z", "endTime": f"{T0_ISO}.100Z"}
    with pytest.raises(InvalidInput, match="endTime is before startTime"):
        point_from_codemachine(point, metric, (), Scope("s"), Origin("f", 0), [])


# -- CodeMachine sessions over the wire -------------------------------------------------------
def test_metrics_go_to_their_own_endpoint(collector: OtlpReceiver) -> None:
    with OtlpReceiver() as metrics_backend:
        url = metrics_backend.url + "/api/v1/otlp/v1/metrics"
        code, summary = replay_json(
            str(EXAMPLE), "--otlp-endpoint", collector.url, "--otlp-metrics-endpoint", url,
            "--signals", "traces,metrics",
        )  # fmt: skip
    assert code == 0, problem_lines(summary)
    assert summary["destinations"]["metrics"] == url
    assert collector.requests["/v1/metrics"] == [] and len(collector.spans()) == 21
    points = _points(metrics_backend.requests["/v1/metrics"])
    assert len(points) == summary["signals"]["metrics"]["sent"] == 111  # every point, and all of them here
    assert metrics_backend.paths == ["/api/v1/otlp/v1/metrics"] * len(metrics_backend.requests["/v1/metrics"])


def test_a_traces_only_backend_gets_a_hint_and_the_run_says_so() -> None:
    with OtlpReceiver.tempo() as tempo:  # Tempo: 404 on /v1/metrics
        code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", tempo.url, "--signals", "traces,metrics")
        assert code == 1
        assert summary["signals"]["metrics"]["rejected"] == 111 and summary["signals"]["traces"]["sent"] == 21
        assert any("takes no OTLP metrics" in h and "--otlp-metrics-endpoint" in h for h in summary["hints"])
        attempts, accepted = tempo.attempts, len(tempo.paths)
        code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", tempo.url, "--signals", "traces")
        assert code == 0 and tempo.attempts - attempts == len(tempo.paths) - accepted > 0  # no metrics request


def test_bad_metrics_are_named_and_the_rest_still_replays(tmp_path: Path, collector: OtlpReceiver) -> None:
    _session(
        tmp_path / "a-metrics.json",
        [
            _metric("good", "2", 1, 2),
            _metric("strange", "9", 1),
            {**_metric("half", "3", 5, 6), "dataPoints": [{"value": 5, "startTime": "x", "endTime": "y"}]},
        ],
    )
    write_json(tmp_path / "b-metrics.json", {"type": "metrics", "metrics": ["not an export"]})
    code, summary = replay_json(str(tmp_path), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 1
    assert summary["signals"]["metrics"]["sent"] == 2 and summary["signals"]["metrics"]["invalid"] == 3
    problems = "\n".join(problem_lines(summary))
    assert "a-metrics.json[2]: invalid metric data point: export 0: metric 'strange': type '9' is not 0" in problems
    assert "a-metrics.json[3]: invalid metric data point: startTime 'x' is not an ISO-8601 time" in problems
    assert "b-metrics.json[0]: invalid metric data point: export 0: export is a string" in problems
    assert [p.as_int for _, _, p in _points(collector.requests["/v1/metrics"])] == [1, 2]


def test_time_shift_moves_every_point_time() -> None:
    """Each point arrives as it does unshifted, with its times (and only they) an hour later."""
    hour = 3600 * 10**9
    runs = []
    for shift in ((), ("--time-offset", "1h")):
        with OtlpReceiver() as backend:
            code, _ = replay_json(str(EXAMPLE), "--otlp-endpoint", backend.url, "--signals", "metrics", *shift)
            assert code == 0
            points = _points(backend.requests["/v1/metrics"])
            runs.append(sorted(points, key=lambda p: (p[0], p[2].time_unix_nano, str(p[2].attributes))))
    unshifted, shifted = runs
    assert len(shifted) == len(unshifted) == 111
    for (name, kind, before), (name_after, kind_after, after) in zip(unshifted, shifted, strict=True):
        moved = type(before)()
        moved.CopyFrom(before)
        moved.time_unix_nano += hour
        if moved.start_time_unix_nano:  # gauges have none, and get none
            moved.start_time_unix_nano += hour
        assert (name_after, kind_after, after) == (name, kind, moved)
    assert any(p.start_time_unix_nano for _, _, p in shifted)  # sums keep their start, moved
    assert any(not p.start_time_unix_nano for _, _, p in shifted)  # gauges have none


def test_filters_apply_to_points(collector: OtlpReceiver) -> None:
    code, summary = replay_json(
        str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics", "--until", "2026-11-24T17:00:01.600Z"
    )
    assert code == 0
    assert summary["signals"]["metrics"]["sent"] == 33  # the exports at 17:00:01.082 and .581: 13 and 20 points
    code, summary = replay_json(
        str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics", "--trace-id", "a" * 32
    )
    assert summary["signals"]["metrics"]["sent"] == 0  # points belong to no trace


def test_resume_does_not_resend_points(tmp_path: Path, collector: OtlpReceiver) -> None:
    state = str(tmp_path / "state")
    args = (str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics", "--resume", state)
    code, _ = replay_json(*args)
    assert code == 0 and len(_points(collector.requests["/v1/metrics"])) == 111
    code, summary = replay_json(*args)
    assert code == 0 and len(_points(collector.requests["/v1/metrics"])) == 111
    # the 12 points with no recorded value were never sent: not delivered, not replayed again
    assert summary["signals"]["metrics"]["dropped"] == {"already delivered (--resume)": 111, NO_RECORDED_VALUE: 12}


def test_requests_stay_under_the_byte_limit(tmp_path: Path, collector: OtlpReceiver) -> None:
    values = list(range(3000))
    _session(tmp_path / "big-metrics.json", [{**_metric("many", "3", *values), "description": "d" * 200}])
    code, summary = replay_json(
        str(tmp_path), "--otlp-endpoint", collector.url, "--signals", "metrics", "--max-request-bytes", "16KiB"
    )
    assert code == 0, problem_lines(summary)
    assert len(collector.requests["/v1/metrics"]) > 6
    assert max(collector.sizes) <= 16 * 1024
    assert sorted(p.as_int for _, _, p in _points(collector.requests["/v1/metrics"])) == values


def test_partial_success_counts_rejected_points(collector: OtlpReceiver) -> None:
    collector.scripted = [PartialSuccess(2, "too old")]
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 1
    assert summary["signals"]["metrics"]["rejected"] == 2 and summary["signals"]["metrics"]["sent"] == 109
    assert "partial success: too old" in summary["signals"]["metrics"]["rejected_reasons"]


def test_output_writes_metrics_jsonl_that_replays_the_same(tmp_path: Path, collector: OtlpReceiver) -> None:
    code, _ = replay_json(str(EXAMPLE), "--output", str(tmp_path / "out"), "--signals", "metrics")
    assert code == 0
    code, summary = replay_json(
        str(tmp_path / "out" / "metrics.jsonl"), "--otlp-endpoint", collector.url, "--signals", "metrics"
    )
    assert code == 0 and summary["signals"]["metrics"]["sent"] == 111
    with OtlpReceiver() as direct:
        replay_json(str(EXAMPLE), "--otlp-endpoint", direct.url, "--signals", "metrics")
        assert flatten_points(collector.requests["/v1/metrics"]) == flatten_points(direct.requests["/v1/metrics"])


# -- OTLP/JSON metrics: lossless ----------------------------------------------------------------
@pytest.mark.parametrize("form", ["document", "lines"])
def test_otlp_metrics_round_trip_proto_for_proto(tmp_path: Path, collector: OtlpReceiver, form: str) -> None:
    req = metrics_request()
    if form == "document":
        path = tmp_path / "metrics.json"
        path.write_text(json.dumps(to_otlp_json(req), indent=2))
    else:
        path = write_lines(tmp_path / "metrics.jsonl", [req, req])  # OTLP input: not deduplicated
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 0, problem_lines(summary)
    expected = flatten_points([req] if form == "document" else [req, req])
    assert summary["signals"]["metrics"]["sent"] == len(expected) == (9 if form == "document" else 18)
    assert flatten_points(collector.requests["/v1/metrics"]) == expected


def test_otlp_metrics_time_offset_moves_only_times(tmp_path: Path, collector: OtlpReceiver) -> None:
    req = metrics_request()
    path = write_lines(tmp_path / "m.jsonl", [req])
    code, _ = replay_json(str(path), "--otlp-endpoint", collector.url, "--signals", "metrics", "--time-offset", "-90m")
    assert code == 0
    shift = -90 * 60 * 10**9
    for m in metrics_of([req]):
        for p in points_of(m):
            p.time_unix_nano += shift
            if p.start_time_unix_nano:
                p.start_time_unix_nano += shift
            for ex in p.exemplars:
                ex.time_unix_nano += shift
    assert flatten_points(collector.requests["/v1/metrics"]) == flatten_points([req])


def test_what_the_sdk_cannot_carry_is_reported(tmp_path: Path, collector: OtlpReceiver) -> None:
    req = ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    summary_metric = sm.metrics.add(name="rpc.latency")
    summary_metric.summary.data_points.add(time_unix_nano=T0, count=3, sum=1.5)
    summary_metric.summary.data_points.add(time_unix_nano=T0 + 1, count=4, sum=2.5)
    gauge = sm.metrics.add(name="temp")
    gauge.gauge.data_points.add(start_time_unix_nano=T0 - 5, time_unix_nano=T0, as_double=21.5)
    gauge.gauge.data_points.add(time_unix_nano=T0 + 1, flags=1)
    path = write_lines(tmp_path / "m.jsonl", [req])
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 1
    stats = summary["signals"]["metrics"]
    assert (stats["invalid"], stats["adjusted"], stats["sent"]) == (2, 1, 1)
    problems = "\n".join(problem_lines(summary))
    assert "m.jsonl[0]: invalid metric data point: metric 'rpc.latency' is a summary" in problems
    assert "2 data point(s) are not sent" in problems
    assert "m.jsonl[2]: metric data point changed to fit: gauge startTimeUnixNano dropped" in problems
    assert "m.jsonl[3]: invalid metric data point: data point has neither asInt nor asDouble" in problems
    [(name, _, point)] = _points(collector.requests["/v1/metrics"])
    assert (name, point.as_double, point.start_time_unix_nano) == ("temp", 21.5, 0)


def test_a_slow_metrics_backend_is_retried(collector: OtlpReceiver) -> None:
    collector.scripted = [tempo_error("busy", 503, {"Retry-After": "0"})]
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "metrics")
    assert code == 0, problem_lines(summary)
    assert summary["signals"]["metrics"]["sent"] == 111
    # the one refused request was sent again; the 111 points may go in one request or two (one per session)
    assert [status for status, _ in collector.answers].count(503) == 1
    assert collector.attempts == len(collector.requests["/v1/metrics"]) + 1
