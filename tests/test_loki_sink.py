"""Log records through the Loki adapter against a Loki-like loopback receiver."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from otel_replay.sinks.loki import fit_metadata_entries
from otel_replay.sinks.loki_answers import parse_rejections
from otel_replay.sinks.loki_entry import logfmt, metadata_key, sanitize_label_name
from tests.fakes.loki import LokiLimits, LokiReceiver, normalize_label
from tests.fakes.server import Answer
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS, line_counts, log_doc, log_file, problem_lines, replay, replay_json

SEC = 1795539600  # 2026-11-24T17:00:00Z, an hour before the fake Loki's clock


def logs(n: int, start: int = SEC, step_ms: int = 10, body_bytes: int = 0, **extra: object) -> list[dict]:
    return [
        log_doc(
            sec=start + (i * step_ms) // 1000,
            nanos=(i * step_ms % 1000) * 1_000_000,
            body=f"line {i}" + "b" * body_bytes,
            **extra,
        )
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


def test_pushes_without_compression_are_plain_json(loki: LokiReceiver, tmp_path: Path) -> None:
    """``--loki-compression none``: no Content-Encoding, and the body Loki parses as it
    came (gzip bytes would not be JSON: the receiver would refuse them)."""
    log_file(tmp_path / "l.json", logs(30))
    code, summary = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only", "--loki-compression", "none")
    assert code == 0, problem_lines(summary)
    assert loki.headers and all("content-encoding" not in h for h in loki.headers)
    assert len(loki.entries()) == summary["signals"]["logs"]["sent"] == 30


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


def test_parse_rejections_reads_lokis_grouped_answer() -> None:
    """Loki 3.4.6's answer to one push of three entries over a week old (one stream)."""
    body = "; ".join(
        '1 errors like: entry for stream \'{probe="old3", service_name="svc"}\' has timestamp too old: '
        f"2026-11-25T09:41:5{s}Z, oldest acceptable timestamp is: 2026-11-26T09:41:55Z"
        for s in (5, 4, 3)
    )
    assert parse_rejections(body + "\n") == {"too_old": 3}


def test_429_is_retried_honouring_retry_after(tmp_path: Path) -> None:
    """Our own first back-off is 0.8-1.2 s (the exporters' policy): a retry 2 s later or more means
    it waited for the hint."""
    log_file(tmp_path / "l.json", logs(4))
    busy = Answer(429, b"Ingestion rate limit exceeded", headers={"Retry-After": "2"})
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[busy, Answer(503, b"unavailable")]) as server:
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--max-retry-time", "30")
        assert server.answers == [429, 503, 204]
        assert len(server.entries()) == 4
        assert server.arrivals[1] - server.arrivals[0] >= 2.0
    assert code == 0, summary


def test_giving_up_reports_the_batch_failed(tmp_path: Path) -> None:
    log_file(tmp_path / "l.json", logs(4))
    later = Answer(503, b"ingester not ready", headers={"Retry-After": "60"})  # beyond the batch's retry time
    with LokiReceiver(scripted=[later] * 50) as server:
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--max-retry-time", "20")
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
    assert line == (
        "line 0 deployment_environment=development service_version=unknown"
        " trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331"
    )


def test_example_logs_land_in_one_stream_per_severity(loki: LokiReceiver) -> None:
    code, _ = replay_json(str(EXAMPLE), "--loki-url", loki.url, "--logs-only")
    assert code == 0
    severities = {labels["severity_text"] for labels, *_ in loki.entries()}
    assert len(loki.tenants["fake"]) == len(severities) >= 2


def test_unreachable_loki_is_reported_failed_not_a_crash(tmp_path: Path) -> None:
    """Gone after the check before the run (which a Loki down from the start fails:
    tests/test_preflight.py): a transient fault, retried, then reported failed."""
    log_file(tmp_path / "l.json", logs(3))
    with LokiReceiver() as server:
        server.outage_seconds = 60
        server.fault = lambda n: "down"  # stops listening at the first push
        code, summary = replay_json(str(tmp_path), "--loki-url", server.url, "--logs-only", "--max-retry-time", "2.5")
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
    assert "l.json[2]: log record of about" in problem_lines(summary)[0]


# -- what Loki 3.4 answered, and the sink's entries fit it -------------------------------------
def _push(loki: LokiReceiver, *streams: dict[str, Any]) -> requests.Response:
    body = json.dumps({"streams": list(streams)}).encode()
    return requests.post(
        loki.url + "/loki/api/v1/push", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )


def _entry(labels: dict[str, str], md: dict[str, str] | None = None, line: str = "x") -> dict[str, Any]:
    return {"stream": labels, "values": [[str(EXAMPLE_NOW_NS), line, *([md] if md is not None else [])]]}


def test_the_loki_fake_answers_what_loki_answered(loki: LokiReceiver) -> None:
    """Loki 3.4.6 with its default limits, sent the same pushes (see tests/fakes/loki.py)."""
    ok = _push(loki, _entry({"probe": "md128"}, {f"k{i}": "v" for i in range(128)}))
    assert ok.status_code == 204
    too_many = _push(loki, _entry({"probe": "md129"}, {f"k{i}": "v" for i in range(129)}))
    assert (too_many.status_code, too_many.headers["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert too_many.text == (
        'stream \'{probe="md129", service_name="unknown_service"}\' has too many structured metadata labels: '
        "'129', limit: '128'. Please see `limits_config.max_structured_metadata_entries_count` or contact your "
        "Loki administrator to increase it.\n"
    )
    sixteen = {f"l{i}": "v" for i in range(16)}
    assert _push(loki, _entry({f"l{i}": "v" for i in range(15)})).status_code == 204  # service_name not counted
    labels_text = ", ".join(f'l{i}="v"' for i in sorted(range(16), key=str))
    assert _push(loki, _entry(sixteen)).text == (
        f"entry for stream '{{{labels_text}, service_name=\"unknown_service\"}}' has 16 label names; limit 15\n"
    )
    assert _push(loki, _entry({"n" * 1025: "v"})).text == (
        f"stream '{{{'n' * 1025}=\"v\", service_name=\"unknown_service\"}}' has label name too long: '{'n' * 1025}'\n"
    )
    assert _push(loki, _entry({"probe": "v" * 2049})).text == (
        f'stream \'{{probe="{"v" * 2049}", service_name="unknown_service"}}\' has label value too long: '
        f"'{'v' * 2049}'\n"
    )
    large = _push(loki, _entry({"probe": "b", "service_name": "svc"}, {"k": "v" * 70000}))
    assert large.text == (
        "stream '{probe=\"b\", service_name=\"svc\"}' has structured metadata too large: '70001' bytes, limit: "
        "'65536' bytes. Please see `limits_config.max_structured_metadata_size` or contact your Loki "
        "administrator to increase it.\n"
    )
    # several refusals in one push: one line, grouped by message
    md129 = {f"k{i}": "v" for i in range(129)}
    two = _push(
        loki,
        {"stream": {"probe": "zz", "service_name": "svc"}, "values": [["1", "a"], [str(EXAMPLE_NOW_NS), "b", md129]]},
    )
    assert two.status_code == 400 and two.text.startswith('1 errors like: entry for stream \'{probe="zz"')
    assert two.text.endswith("; 1 errors like: stream '{probe=\"zz\", service_name=\"svc\"}' has too many "
                             "structured metadata labels: '129', limit: '128'. Please see "
                             "`limits_config.max_structured_metadata_entries_count` or contact your Loki "
                             "administrator to increase it.\n")  # fmt: skip


def test_loki_renames_metadata_names_and_cannot_read_some_back(loki: LokiReceiver) -> None:
    """Loki 3.4.6 stored ``a.b`` as ``a_b``, ``9x`` as ``key_9x``, ``_x`` as ``key_x`` and
    kept ``__x``; it stored ``é`` as it was, after which its queries of that stream fail."""
    names = {"a.b": "a_b", "c-d": "c_d", "9x": "key_9x", "_x": "key_x", "__x": "__x", "sp ace": "sp_ace"}
    assert _push(loki, _entry({"probe": "k"}, dict.fromkeys(names, "v"))).status_code == 204
    ((_, _, _, md),) = loki.entries()
    assert md == dict.fromkeys(names.values(), "v")
    assert _push(loki, _entry({"probe": "e"}, {"é": "v"})).status_code == 204
    with pytest.raises(AssertionError, match="could not write JSON response"):
        loki.entries()


def test_metadata_names_are_sent_as_loki_stores_them(loki: LokiReceiver, tmp_path: Path) -> None:
    attributes = {"a.b": "1", "9lives": "2", "_x": "3", "__x": "4", "é1": "5", "a-b c": "6", "": "7", "ok_Name1": "8"}
    log_file(
        tmp_path / "l.json", [log_doc(sec=SEC, attributes=attributes, resource={"service.name": "s", "k8s.pod": "p"})]
    )
    code, summary = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only")
    assert code == 0, summary
    sent = {"a_b", "key_9lives", "key_x", "__x", "key_1", "a_b_c", "key_", "ok_Name1", "k8s_pod", "replay_id"}
    assert loki.sent_metadata_names() == sent
    ((_, _, _, md),) = loki.entries()  # readable back: no name Loki keeps but cannot query
    ((_, _, sent_md),) = loki.pushes[0]["streams"][0]["values"]
    assert md == sent_md  # Loki renamed nothing


@pytest.mark.parametrize(
    "name",
    ["service.name", "9lives", "_x", "__x", "", "é", "a-b c", "ok_Name1", "٣a", "x" * 300, "_", "__", "a..b"],
)
def test_metadata_key_is_a_name_loki_keeps(name: str) -> None:
    key = metadata_key(name)
    assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", key), key
    assert normalize_label(key) == key


@pytest.mark.parametrize("value_bytes", [10, 400])
def test_a_record_over_128_metadata_entries_is_sent_with_128(
    loki: LokiReceiver, tmp_path: Path, value_bytes: int
) -> None:
    """200 attributes: trace_id, span_id, replay_id, the two resource entries and 122 of them
    as they are, the other 78 in one JSON entry; with large values that entry is then cut to Loki's
    64KB, and said so."""
    attributes = {f"attr.{i:03d}": f"{i}:" + "v" * value_bytes for i in range(200)}
    log_file(tmp_path / "l.json", [log_doc(sec=SEC, attributes={**log_doc()["attributes"], **attributes})])
    code, summary = replay_json(str(tmp_path), "--loki-url", loki.url, "--logs-only")
    assert set(loki.answers) == {204}
    ((_, _, _, md),) = loki.entries()
    assert len(md) == 128
    assert (md["trace_id"], md["span_id"]) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert (md["service_version"], md["deployment_environment"]) == ("unknown", "development")
    assert md["replay_id"] == summary["replay_id"]
    assert [k for k in md if k.startswith("attr_")] == [f"attr_{i:03d}" for i in range(122)]
    lg = summary["signals"]["logs"]
    assert code == 1 and (lg["sent"], lg["adjusted"]) == (1, 1)
    (problem,) = problem_lines(summary)
    assert "l.json[0]: log record changed to fit: structured metadata of 205 entries is over Loki's 128: " in problem
    assert "78 of them merged into one, more_attributes (JSON)" in problem
    if value_bytes == 10:
        merged = json.loads(md["more_attributes"])
        assert {**{k: v for k, v in md.items() if k.startswith("attr_")}, **merged} == {
            k.replace(".", "_"): v for k, v in attributes.items()
        }
    else:
        assert sum(len(k) + len(v.encode()) for k, v in md.items()) <= 65_536
        assert md["more_attributes"].endswith("bytes truncated]")
        assert "structured metadata more_attributes shortened to Loki's 64KB limit" in problem


def test_fit_metadata_entries_leaves_128_alone() -> None:
    md = {f"k{i}": "v" for i in range(128)}
    assert fit_metadata_entries(md) is None


def test_ingestion_rate_429_is_retried_until_the_bucket_refills(tmp_path: Path) -> None:
    """A token bucket of 3000 bytes refilled 1000 bytes a second (each check of it sees one
    second more, whatever the machine's speed): pushes of ~1 KiB, the fourth is refused."""
    log_file(tmp_path / "l.json", logs(60, body_bytes=90))
    ticks = iter(range(10**6))
    limits = LokiLimits(ingestion_rate_bytes=1000, ingestion_burst_bytes=3000)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, limits=limits, clock=lambda: float(next(ticks))) as server:
        code, summary = replay_json(
            str(tmp_path), "--loki-url", server.url, "--logs-only", "--loki-batch-bytes", "2KiB", "--concurrency", "1"
        )
        assert 429 in server.answers and server.answers[-1] == 204
        assert line_counts(server) == Counter(f"line {i}" + "b" * 90 for i in range(60))
    assert code == 0, summary
    assert summary["signals"]["logs"]["sent"] == 60


def test_the_rate_limit_answer_is_lokis() -> None:
    limits = LokiLimits(ingestion_rate_bytes=1, ingestion_burst_bytes=3000)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, limits=limits) as server:
        push = {
            "stream": {"probe": "rate"},
            "values": [[str(EXAMPLE_NOW_NS + i), "x" * 200, {"mdkey": "y"}] for i in range(10)],
        }
        assert _push(server, push).status_code == 204  # 10 x (200 + 6) = 2060 of 3000
        refused = _push(server, push)
        assert (refused.status_code, refused.headers["Content-Type"]) == (429, "text/plain; charset=utf-8")
        assert refused.text == (
            "Ingestion rate limit exceeded for user fake (limit: 1 bytes/sec) while attempting to ingest '10' lines "
            "totaling '2060' bytes, reduce log volume or contact your Loki administrator to see if the limit can be "
            "increased\n"
        )
        assert len(server.entries()) == 10
