"""Log records through the Loki adapter against a Loki-like loopback receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otel_replay.sinks.loki import logfmt, sanitize_label_name
from otel_replay.sinks.loki_answers import parse_rejections
from tests.fakes.loki import LokiLimits, LokiReceiver
from tests.fakes.server import Answer
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS, log_doc, log_file, replay, replay_json

SEC = 1795539600  # 2026-11-24T17:00:00Z, an hour before the fake Loki's clock


def logs(n: int, start: int = SEC, step_ms: int = 10, **extra: object) -> list[dict]:
    return [
        log_doc(sec=start + (i * step_ms) // 1000, nanos=(i * step_ms % 1000) * 1_000_000, body=f"line {i}", **extra)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("name", "clean"),
    [("service.name", "service_name"), ("9lives", "_9lives"), ("ok_Name1", "ok_Name1"), ("", "_"), ("a-b c", "a_b_c")],
)
def test_label_names_are_sanitised(name: str, clean: str) -> None:
    assert sanitize_label_name(name) == clean


def test_logfmt_quotes_what_needs_quoting() -> None:
    assert logfmt({"a": "b", "c": "two words", "d": 'q"x', "e": ""}) == 'a=b c="two words" d="q\\"x" e=""'


def test_entries_sorted_and_pushes_under_batch_bytes(loki: LokiReceiver, tmp_path: Path) -> None:
    records = logs(400)
    records.reverse()  # written newest first: the adapter must sort
    log_file(tmp_path / "l.json", records)
    code, summary = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only", "--loki-batch-bytes", "16KiB")
    assert code == 0, summary
    assert len(loki.raw_sizes) > 1 and max(loki.raw_sizes) <= 16 * 1024
    for push in loki.pushes:
        for stream in push["streams"]:
            ts = [int(v[0]) for v in stream["values"]]
            assert ts == sorted(ts)
    assert len(loki.entries()) == 400
    assert [e[1] for e in loki.entries()] == sorted(e[1] for e in loki.entries())


def test_pushes_are_gzip_json_with_tenant_and_auth(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(3))
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, basic_auth=("u", "p@ss w0rd")) as server:
        url = server.url.replace("http://", "http://u:p%40ss%20w0rd@")
        result = replay(
            str(tmp_path),
            "--loki-url",
            url,
            "--logs-only",
            "--loki-tenant",
            "team-a",
            "--loki-header",
            "X-Extra=hdr-value",
        )
        assert result.exit_code == 0, result.output
        h = server.headers[0]
        assert (h["content-encoding"], h["content-type"], h["x-scope-orgid"], h["x-extra"]) == (
            "gzip",
            "application/json",
            "team-a",
            "hdr-value",
        )
        assert len(server.entries("team-a")) == 3
    assert "p@ss" not in result.output and "w0rd" not in result.output and "hdr-value" not in result.output


def test_wrong_password_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(2))
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, basic_auth=("u", "right")) as server:
        code, summary = replay_json(
            str(tmp_path),
            "--loki-url",
            server.url,
            "--logs-only",
            "--loki-user",
            "u",
            "--loki-password",
            "wrong-secret",
        )
    assert code == 1
    assert summary["signals"]["logs"]["rejected_reasons"] == {"HTTP 401: Unauthorized": 2}
    assert "wrong-secret" not in json.dumps(summary)


def test_too_old_entries_are_a_partial_success(tmp_path: Path) -> None:
    old = logs(3, start=SEC - 8 * 24 * 3600)
    fresh = logs(5, start=SEC)
    log_file(tmp_path / "l.json", old + fresh)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only")
        assert len(server.entries()) == 5
        assert 400 in server.answers
    assert code == 1
    lg = summary["signals"]["logs"]
    assert (lg["sent"], lg["rejected"]) == (5, 3)
    assert list(lg["rejected_reasons"]) == [
        "timestamp too old (older than Loki's reject_old_samples_max_age, 7 days by default)"
    ]
    assert len(summary["hints"]) == 1 and "--shift-to-now" in summary["hints"][0]


def test_old_entries_all_arrive_with_shift_to_now(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(8, start=SEC - 8 * 24 * 3600))
    with LokiReceiver() as server:  # the real clock: every entry is over a week old unshifted
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--shift-to-now")
        assert len(server.entries()) == 8 and set(server.answers) == {204}
    assert code == 0 and summary["hints"] == []


def test_sessions_hours_apart_with_a_latest_copy_all_arrive(tmp_path: Path) -> None:
    """CodeMachine's latest-logs.json copies the newest session; read first, it would put
    the older session hours behind the stream's newest entry, and Loki would refuse it."""
    log_file(tmp_path / "2026-11-24" / "14-00-00-logs.json", logs(10, start=SEC - 3 * 3600))
    newest = log_file(tmp_path / "2026-11-24" / "17-00-00-logs.json", logs(10, start=SEC, step_ms=7))
    (tmp_path / "latest-logs.json").write_bytes(newest.read_bytes())
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        code, summary = replay_json(
            str(tmp_path), "--loki-url", server.url, "--logs-only", "--loki-batch-bytes", "1KiB"
        )
        assert len(server.answers) > 2 and set(server.answers) == {204}
        assert len(server.entries()) == 20
    assert code == 0 and summary["signals"]["logs"]["duplicates"] == 10


def test_too_far_behind_counted_from_ingester_totals(tmp_path: Path) -> None:
    # two files: the second is 2h older than the first, in the same stream
    log_file(tmp_path / "a.json", logs(40, start=SEC))
    log_file(tmp_path / "b.json", logs(15, start=SEC - 2 * 3600))
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as server:
        code, summary = replay_json(
            str(tmp_path), "--loki-url", server.url, "--logs-only", "--loki-batch-bytes", "2KiB"
        )
        stored = len(server.entries())
    lg = summary["signals"]["logs"]
    assert code == 1
    assert lg["sent"] == stored == 40 and lg["rejected"] == 15
    assert all("too far behind" in r for r in lg["rejected_reasons"])


def test_parse_rejections_reads_both_formats() -> None:
    body = (
        "entry with timestamp 2026-11-24 15:00:00 +0000 UTC ignored, reason: 'entry too far behind, entry timestamp is:"
        " 2026-11-24T15:00:00Z, oldest acceptable timestamp is: 2026-11-24T16:00:00Z',\n"
        "user 'fake', total ignored: 37 out of 40 for stream: {a=\"b\"}\n"
        "entry for stream '{a=\"b\"}' has timestamp too old: 2026-11-14T19:33:50Z, oldest acceptable timestamp is: "
        "2026-11-17T19:33:50Z\n"
        "Max entry size '262144' bytes exceeded for stream '{a=\"b\"}' while adding an entry with length '300000' bytes"
    )
    assert parse_rejections(body) == {"too_far_behind": 37, "too_old": 1, "line_too_long": 1}


def test_429_is_retried_honouring_retry_after(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(4))
    busy = Answer(429, b"Ingestion rate limit exceeded", headers={"Retry-After": "0"})
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[busy, Answer(503, b"unavailable")]) as server:
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--max-retry-time", "5")
        assert server.answers == [429, 503, 204]
        assert len(server.entries()) == 4
    assert code == 0, summary


def test_giving_up_reports_the_batch_failed(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(4))
    with LokiReceiver(scripted=[Answer(503, b"ingester not ready")] * 50) as server:
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--max-retry-time", "0.3")
    assert code == 1
    assert summary["signals"]["logs"]["failed"] == 4
    reason = next(iter(summary["signals"]["logs"]["failed_reasons"]))
    assert reason.startswith("HTTP 503: ingester not ready (after ")


def test_stream_limit_is_not_hit_by_trace_ids(tmp_path: Path) -> None:
    # 300 records with 300 distinct trace ids stay in one stream per severity.
    records = [
        log_doc(sec=SEC, nanos=i, attributes={"trace.id": f"{i + 1:032x}", "span.id": f"{i + 1:016x}"})
        for i in range(300)
    ]
    log_file(tmp_path / "l.json", records)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, limits=LokiLimits(max_streams_per_tenant=3)) as server:
        code, _ = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only")
        assert code == 0 and len(server.tenants["fake"]) == 1
        assert {md["trace_id"] for *_, md in server.entries()} == {f"{i + 1:032x}" for i in range(300)}


def test_no_structured_metadata_puts_logfmt_in_the_line(loki: LokiReceiver, tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(1))
    code, _ = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only", "--no-structured-metadata")
    assert code == 0
    ((_, _, line, md),) = loki.entries()
    assert md == {}
    assert line == "line 0 trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331"


def test_example_logs_land_in_one_stream_per_severity(loki: LokiReceiver) -> None:
    code, _ = replay_json(str(EXAMPLE), "--loki-url", loki.url, "--logs-only")
    assert code == 0
    severities = {labels["severity_text"] for labels, *_ in loki.entries()}
    assert len(loki.tenants["fake"]) == len(severities) >= 2


def test_unreachable_loki_is_reported_failed_not_a_crash(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(3))
    with LokiReceiver() as server:
        url = server.url  # closed once the server stops
    code, summary = replay_json(str(tmp_path), "--loki-url", url, "--logs-only", "--max-retry-time", "0.5")
    assert code == 1
    lg = summary["signals"]["logs"]
    assert lg["failed"] == 3 and lg["sent"] == 0
    assert next(iter(lg["failed_reasons"])).startswith("connection refused (after ")


def test_a_line_too_large_for_any_push_is_refused_alone(loki: LokiReceiver, tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", [*logs(2), log_doc(sec=SEC + 5, body="y" * 5000)])
    code, summary = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only", "--loki-batch-bytes", "2KiB")
    assert code == 1
    lg = summary["signals"]["logs"]
    assert (lg["sent"], lg["rejected"]) == (2, 1) and len(loki.entries()) == 2
    assert lg["rejected_reasons"] == {"log record larger than --loki-batch-bytes on its own": 1}
    assert "l.json[2]: log record of about" in summary["problems"][0]
