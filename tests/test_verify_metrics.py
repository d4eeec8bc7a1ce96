"""Metric series read back from Prometheus's query API (tests/fakes/prometheus.py: its OTLP
receiver and ``/api/v1/query``), named as Prometheus's OTLP translation names them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.model import Metric, MetricKind
from otel_replay.verify.prometheus import presence_query, series_selector
from otel_replay.verify.promnames import label_name, metric_name, series_labels, series_name
from otel_replay.verify.sent import SentSeries
from tests.fakes.loki_query import LokiWithQueries
from tests.fakes.prometheus import PrometheusWithQueries
from tests.helpers import EXAMPLE

OTLP_PATH = "/api/v1/otlp/v1/metrics"
EXAMPLE_SERIES = 23  # examples/codemachine: 13 metrics, 23 attribute sets (inspect's SERIES column)


@pytest.fixture
def prom() -> Iterator[PrometheusWithQueries]:
    with PrometheusWithQueries() as server:
        yield server  # type: ignore[misc]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def replay_metrics(prom: PrometheusWithQueries, *more: str) -> tuple[int, str, str]:
    return run("replay", str(EXAMPLE), "--signals", "metrics", "--otlp-metrics-endpoint", prom.url + OTLP_PATH, *more)


@pytest.mark.parametrize(
    ("name", "unit", "kind", "monotonic", "expected"),
    [
        # the examples of otlptranslator's README and metric_namer.go
        ("http.server.request.duration", "s", MetricKind.HISTOGRAM, False, "http_server_request_duration_seconds"),
        ("requests.count", "1", MetricKind.SUM, True, "requests_count_total"),
        ("memory.usage", "By", MetricKind.GAUGE, False, "memory_usage_bytes"),
        ("cpu.utilization", "1", MetricKind.GAUGE, False, "cpu_utilization_ratio"),
        ("agent.active", "", MetricKind.SUM, False, "agent_active"),
        ("engine.llm.calls", "{call}", MetricKind.SUM, True, "engine_llm_calls_total"),
        ("net.io", "By/s", MetricKind.SUM, True, "net_io_bytes_per_second_total"),
        ("queue.wait_seconds", "s", MetricKind.GAUGE, False, "queue_wait_seconds"),
        ("hits_total", "", MetricKind.SUM, True, "hits_total"),
        ("2xx..answers", "", MetricKind.GAUGE, False, "_2xx_answers"),
    ],
)
def test_metric_names_are_prometheus_s(name: str, unit: str, kind: MetricKind, monotonic: bool, expected: str) -> None:
    assert metric_name(Metric(name, kind, unit=unit, monotonic=monotonic)) == expected


def test_a_histogram_is_asked_for_by_its_count_series() -> None:
    assert series_name(Metric("rpc.duration", MetricKind.HISTOGRAM, unit="ms")) == "rpc_duration_milliseconds_count"
    assert series_name(Metric("rpc.size", MetricKind.EXPONENTIAL_HISTOGRAM, unit="By")) == "rpc_size_bytes"


def test_labels_are_prometheus_s() -> None:
    assert label_name("http.method") == "http_method"
    assert label_name("123invalid") == "key_123invalid"
    assert label_name("_private") == "key_private"
    assert label_name("__reserved__") == "__reserved__"
    assert label_name("a..b") == "a__b"  # multiple underscores are kept (Prometheus 3's default)
    resource = {"service.name": "api", "service.namespace": "shop", "service.instance.id": "i-1", "host.name": "h"}
    attributes: dict[str, Any] = {"a.b": "x", "a_b": 1, "ok": True, "ratio": 0.5, "tags": ["t"]}
    # colliding names join their values with ";"; floats and arrays are not matched on
    assert series_labels(attributes, resource) == (
        ("a_b", "x;1"),
        ("instance", "i-1"),
        ("job", "shop/api"),
        ("ok", "true"),
    )


def test_the_query_covers_the_series_time_range_in_milliseconds() -> None:
    series = SentSeries("up", (("job", 'a"b'),), "up", False, 1_000_123_456, 61_000_999_999, 3, "f[0]")
    query, at = presence_query(series)
    assert query == 'count_over_time({__name__="up", job="a\\"b"}[60002ms])'
    assert at == "61.001"
    assert series_selector("x", ()) == '{__name__="x"}'


def test_replay_verify_reads_back_every_series_from_prometheus(prom: PrometheusWithQueries) -> None:
    code, out, err = replay_metrics(prom, "--verify", "--json")
    doc = json.loads(out)["verify"]["signals"]["metrics"]
    assert code == 0, (out, err)
    assert doc["sent"] == doc["found"] == EXAMPLE_SERIES
    assert doc["missing"] == 0 and doc["not_checked"] is None
    assert len(prom.samples()) >= EXAMPLE_SERIES  # the fake stores every series verify asked for
    assert len(prom.queries) == EXAMPLE_SERIES
    assert all(q.startswith('count_over_time({__name__="') for q in prom.queries)


def test_a_prometheus_that_drops_a_series_makes_verify_fail_and_name_it() -> None:
    with PrometheusWithQueries(drop_every=10) as lossy:
        code, out, err = replay_metrics(lossy, "--verify", "--verify-timeout", "1s")
        lost = lossy.dropped()
    assert lost, "the fake drops at least one series"
    assert code == 1, (out, err)
    assert f"metrics {EXAMPLE_SERIES} series sent: {EXAMPLE_SERIES - len(lost)} found, {len(lost)} missing" in out
    for series in lost:
        labels = dict(series)
        assert f'missing series {{__name__="{labels["__name__"]}"' in out
    assert "NOT all read back" in out
    assert f"waiting up to 1 s for Prometheus to serve {len(lost)} series" in err


def test_verify_of_another_time_range_finds_no_series(prom: PrometheusWithQueries) -> None:
    code, out, _ = replay_metrics(prom)
    assert code == 0, out
    url = prom.url + OTLP_PATH
    code, out, _ = run(
        "verify", str(EXAMPLE), "--signals", "metrics", "--otlp-metrics-endpoint", url,
        "--time-offset", "1h", "--verify-timeout", "1s",
    )  # fmt: skip
    assert code == 1, out
    assert f"metrics {EXAMPLE_SERIES} series sent: 0 found, {EXAMPLE_SERIES} missing" in out


def test_metrics_sent_elsewhere_are_not_checked_and_say_why(prom: PrometheusWithQueries) -> None:
    code, out, _ = run("replay", str(EXAMPLE), "--signals", "metrics", "--otlp-endpoint", prom.url, "--verify")
    assert code == 0, out
    line = next(line for line in out.splitlines() if line.startswith("  metrics ") and "series sent" in line)
    assert line == (
        f"  metrics {EXAMPLE_SERIES} series sent: not checked ({prom.url}/v1/metrics is not Prometheus's OTLP "
        f"receiver (…{OTLP_PATH}): give --prometheus-url to read them back from a Prometheus query API)"
    )


def test_a_url_that_is_not_prometheus_is_one_line_and_exit_1(prom: PrometheusWithQueries) -> None:
    with LokiWithQueries() as not_prometheus:
        code, out, _ = replay_metrics(prom, "--verify", "--prometheus-url", not_prometheus.url)
    assert code == 1, out
    assert "error: Prometheus answered 404 to /api/v1/query: '404 page not found'" in out
    assert "Traceback" not in out


def test_prometheus_s_error_answer_is_one_line_and_exit_1() -> None:
    too_many = "query processing would load too many samples into memory in query execution"
    with PrometheusWithQueries(query_error=(422, "execution", too_many)) as refusing:
        code, out, _ = replay_metrics(refusing, "--verify")
    assert code == 1, out
    assert f"error: Prometheus answered 422 to /api/v1/query: execution: {too_many}" in out
    assert "NOT all read back" in out


def test_the_fake_answers_what_it_does_not_understand_as_prometheus_does(prom: PrometheusWithQueries) -> None:
    import requests

    answer = requests.post(prom.url + "/api/v1/query", data={"query": "up"}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["status"] == "error" and answer.json()["errorType"] == "bad_data"
    assert answer.json()["error"].startswith('invalid parameter "query": ')
    answer = requests.get(prom.url + "/api/v1/query", params={"query": "up", "time": "x"}, timeout=5)
    assert answer.json()["error"] == 'invalid parameter "time": cannot parse "x" to a valid timestamp'


def test_a_password_in_the_query_url_is_sent_as_basic_auth_and_never_shown(prom: PrometheusWithQueries) -> None:
    with_user = prom.url.replace("://", "://reader:s3cret-pw@")
    code, out, _ = replay_metrics(prom, "--verify", "--json", "--prometheus-url", with_user)
    assert code == 0, out
    assert prom.query_headers[0]["authorization"] == "Basic " + base64.b64encode(b"reader:s3cret-pw").decode()
    code, out, _ = replay_metrics(prom, "--verify", "--prometheus-url", "http://reader:s3cret-pw@127.0.0.1:9")
    assert code == 1, out
    assert "error: cannot ask Prometheus at http://127.0.0.1:9: ConnectionError" in out
    assert "s3cret" not in out


def test_label_values_are_quoted_as_go_reads_them() -> None:
    from otel_replay.verify.quoting import quoted

    # an emoji as itself (Go refuses JSON's surrogate pair \ud83d\ude00), escapes for the rest
    assert quoted('😀 "a"\\\n\x01') == '"😀 \\"a\\"\\\\\\n\\u0001"'
    assert series_selector("x", (("agent_id", "😀"),)) == '{__name__="x", agent_id="😀"}'
