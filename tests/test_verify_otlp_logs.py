"""Log records sent with ``--logs-to otlp`` read back from Loki, when Loki's native OTLP
endpoint took them (the fake Loki serves ``/otlp/v1/logs`` as Loki 3.4 does) or when
``--loki-url`` says where they land; else "not checked" and why."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.verify.lokiotlp import entry_of, label_name, stream_of, text
from tests.fakes.loki_query import LokiWithQueries
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS
from tests.otlp_samples import logs_request, write_lines

EXAMPLE_LOGS = 44  # examples/codemachine: log records after the latest* copies are skipped


@pytest.fixture
def loki() -> Iterator[LokiWithQueries]:
    with LokiWithQueries(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        yield server  # type: ignore[misc]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def otlp_logs(endpoint: str, *more: str) -> tuple[int, str, str]:
    return run(
        "replay", str(EXAMPLE), "--signals", "logs", "--logs-to", "otlp", "--otlp-logs-endpoint", endpoint,
        "--verify", "--verify-timeout", "1s", *more,
    )  # fmt: skip


def test_values_and_streams_are_written_as_loki_stores_them() -> None:
    assert text({"b": "<x>", "a": 1}) == '{"a":1,"b":"\\u003cx\\u003e"}'  # Loki 3.4 stored exactly this
    assert text(["x", True]) == '["x",true]'
    assert (text(True), text(3), text("é")) == ("true", "3", "é")
    assert label_name("k8s.pod.name") == "k8s_pod_name"
    assert stream_of({"host.name": "h", "k8s.pod.name": "p"}) == (
        ("k8s_pod_name", "p"),
        ("service_name", "unknown_service"),
    )
    # what Loki 3.4 made of an empty service.name and an empty k8s.pod.name
    assert stream_of({"service.name": "", "service.namespace": "nsx", "k8s.pod.name": ""}) == (
        ("service_name", "unknown_service"),
        ("service_namespace", "nsx"),
    )
    assert stream_of({"service.name": "api", "service.namespace": "shop"}) == (
        ("service_name", "api"),
        ("service_namespace", "shop"),
    )


def test_records_sent_to_loki_s_otlp_endpoint_are_read_back(loki: LokiWithQueries) -> None:
    code, out, err = otlp_logs(loki.url + "/otlp/v1/logs")
    assert code == 0, (out, err)
    assert f"logs    {EXAMPLE_LOGS} entries sent: {EXAMPLE_LOGS} found" in out
    assert "note: no replay id: every entry of these streams in the time range is counted" in out
    assert all('service_name="codemachine"' in q for q in loki.queries)


def test_a_loki_that_drops_records_sent_over_otlp_makes_verify_fail_and_name_them() -> None:
    with LokiWithQueries(drop_every=20, now_ns=lambda: EXAMPLE_NOW_NS) as lossy:
        code, out, _ = otlp_logs(lossy.url + "/otlp/v1/logs")
        lost = lossy.dropped()
    assert len(lost) == 2
    assert code == 1, out
    assert f"logs    {EXAMPLE_LOGS} entries sent: {EXAMPLE_LOGS - 2} found, 2 missing" in out
    for _, ts, line, _ in lost:
        assert re.search(rf"missing log record \S+\[\d+\] \{{.*\}} at {ts} {re.escape(json.dumps(line))}", out), out


def test_records_sent_elsewhere_are_not_checked_and_say_why() -> None:
    with OtlpReceiver() as collector:
        code, out, _ = otlp_logs(collector.url + "/v1/logs")
    assert code == 0, out
    assert (
        f"  logs    {EXAMPLE_LOGS} records sent: not checked (sent over OTLP to {collector.url}/v1/logs, which is "
        "not Loki's OTLP endpoint (…/otlp/v1/logs): give --loki-url where they land to read them back)"
    ) in out


def test_loki_url_says_where_records_sent_to_a_collector_land(loki: LokiWithQueries) -> None:
    with OtlpReceiver() as collector:  # forwards nothing: Loki has none of them
        code, out, _ = otlp_logs(collector.url + "/v1/logs", "--loki-url", loki.url)
    assert code == 1, out
    assert f"logs    {EXAMPLE_LOGS} entries sent: 0 found, {EXAMPLE_LOGS} missing" in out
    assert loki.queries  # asked there


def test_a_map_body_and_resource_attributes_land_as_the_fake_loki_stores_them(
    tmp_path: Path, loki: LokiWithQueries
) -> None:
    path = write_lines(tmp_path / "logs.jsonl", [logs_request()])
    code, out, err = run(
        "replay", str(path), "--signals", "logs", "--logs-to", "otlp",
        "--otlp-logs-endpoint", loki.url + "/otlp/v1/logs", "--verify", "--verify-timeout", "1s",
    )  # fmt: skip
    assert code == 0, (out, err)
    assert re.search(r"logs    (\d+) entries sent: \1 found", out), out


def test_entry_of_uses_the_observed_time_when_the_record_has_none() -> None:
    from otel_replay.model import LogRecord

    rec = LogRecord(0, 9, "INFO", {"k": 1}, {}, 0, 0, (("service.name", "s"),), "f[0]", observed_ns=5)  # type: ignore[arg-type]
    assert entry_of(rec) == ((("service_name", "s"),), 5, '{"k":1}')
