"""OTLP/JSON input replays losslessly: what the receiver decodes equals the file, proto for
proto (resource, scope, span), for every field the SDK data model carries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, problem_lines, replay_json
from tests.otlp_samples import (
    flatten_logs,
    flatten_spans,
    logs_request,
    renumbered,
    spans_in,
    to_otlp_json,
    trace_request,
    write_lines,
)


def _replay_traces(path: Path, otlp: OtlpReceiver, *extra: str) -> tuple[int, dict]:
    return replay_json(str(path), "--otlp-endpoint", otlp.url, "--traces-only", *extra)


def test_pretty_printed_request_round_trips(tmp_path: Path, tempo: OtlpReceiver) -> None:
    req = trace_request()
    path = tmp_path / "request.json"
    path.write_text(json.dumps(to_otlp_json(req), indent=2))
    code, summary = _replay_traces(path, tempo)
    assert code == 0, problem_lines(summary)
    assert summary["signals"]["traces"]["sent"] == 12
    assert flatten_spans(tempo.requests["/v1/traces"]) == flatten_spans([req])


@pytest.mark.parametrize("compress", [False, True])
def test_json_lines_round_trip(tmp_path: Path, tempo: OtlpReceiver, compress: bool) -> None:
    reqs = [trace_request(1, 2), renumbered(trace_request(2, 1), 1)]  # distinct span ids per line
    path = write_lines(tmp_path / "traces.jsonl", reqs)
    if compress:
        path = tmp_path / "traces.jsonl.gz"
        path.write_bytes(gzip.compress((tmp_path / "traces.jsonl").read_bytes()))
        (tmp_path / "traces.jsonl").unlink()
    code, summary = _replay_traces(path, tempo)
    assert code == 0, problem_lines(summary)
    assert flatten_spans(tempo.requests["/v1/traces"]) == flatten_spans(reqs)


def test_int64_as_numbers_and_enums_as_ints_are_read(tmp_path: Path, tempo: OtlpReceiver) -> None:
    req = trace_request(1, 1)
    doc = to_otlp_json(req)
    for ss in doc["resourceSpans"][0]["scopeSpans"]:
        for span in ss["spans"]:
            span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
            span["kind"] = {"SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3}[span["kind"]]
            span["status"]["code"] = 2 if span["status"].get("code") == "STATUS_CODE_ERROR" else 1
            span["someFutureField"] = {"ignored": True}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    code, summary = _replay_traces(path, tempo)
    assert code == 0, problem_lines(summary)
    assert flatten_spans(tempo.requests["/v1/traces"]) == flatten_spans([req])


def test_time_shift_moves_only_the_times(tmp_path: Path, tempo: OtlpReceiver) -> None:
    req = trace_request(1, 2)
    path = write_lines(tmp_path / "t.jsonl", [req])
    code, _ = _replay_traces(path, tempo, "--time-offset", "1h")
    assert code == 0
    hour = 3600 * 10**9
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.start_time_unix_nano += hour
                span.end_time_unix_nano += hour
                for ev in span.events:
                    ev.time_unix_nano += hour
    assert flatten_spans(tempo.requests["/v1/traces"]) == flatten_spans([req])


def test_base64_ids_are_refused_with_the_reason(tmp_path: Path, tempo: OtlpReceiver) -> None:
    doc = to_otlp_json(trace_request(1, 1))
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "AAAAAAAAAAAAAAAAAAAAoA=="
    path = tmp_path / "b64.json"
    path.write_text(json.dumps(doc))
    code, summary = _replay_traces(path, tempo)
    assert code == 1 and summary["signals"]["traces"]["invalid"] == 1
    (line,) = problem_lines(summary)
    assert line.startswith(f"{path}[0]: invalid span: traceId") and "looks like base64" in line
    assert summary["signals"]["traces"]["sent"] == 1


def test_bad_line_is_reported_and_the_other_lines_replay(tmp_path: Path, tempo: OtlpReceiver) -> None:
    path = write_lines(tmp_path / "t.jsonl", [trace_request(1, 1)])
    with path.open("a") as fh:
        fh.write('{"resourceSpans": [ truncated\n')
        fh.write('{"somethingElse": 1}\n')
    code, summary = _replay_traces(path, tempo)
    assert code == 1 and summary["signals"]["traces"]["sent"] == 2
    assert [p.split(": ")[0] for p in problem_lines(summary)] == [f"{path}:2", f"{path}:3"]


def test_what_the_sdk_cannot_carry_is_reported(tmp_path: Path, tempo: OtlpReceiver) -> None:
    doc = to_otlp_json(trace_request(1, 1))
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["kind"] = "SPAN_KIND_UNSPECIFIED"
    span["status"] = {"code": "STATUS_CODE_OK", "message": "fine"}
    span["links"][0]["traceState"] = "k=v"
    path = tmp_path / "lossy.json"
    path.write_text(json.dumps(doc))
    code, summary = _replay_traces(path, tempo)
    assert code == 1 and summary["signals"]["traces"]["adjusted"] == 1
    (line,) = problem_lines(summary)
    assert "kind UNSPECIFIED sent as INTERNAL" in line and "status message dropped" in line
    assert "link 0 traceState dropped" in line


def test_otlp_logs_round_trip_through_the_log_exporter(tmp_path: Path, collector: OtlpReceiver) -> None:
    req = logs_request()
    path = write_lines(tmp_path / "logs.jsonl", [req])
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--logs-to", "otlp")
    assert code == 0, problem_lines(summary)
    assert summary["destinations"]["logs"] == f"{collector.url}/v1/logs"
    assert summary["signals"]["logs"]["sent"] == 4
    assert flatten_logs(collector.requests["/v1/logs"]) == flatten_logs([req])


def test_codemachine_logs_as_otlp_keep_severity_body_ids_and_resource(tmp_path: Path, collector: OtlpReceiver) -> None:
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--logs-to", "otlp", "--logs-only")
    assert code == 0, problem_lines(summary)
    records = [
        (rl.resource, rec) for req in collector.requests["/v1/logs"] for rl in req.resource_logs
        for sl in rl.scope_logs for rec in sl.log_records
    ]  # fmt: skip
    assert len(records) == summary["signals"]["logs"]["sent"] == 44
    resource, first = records[0]
    assert {kv.key: kv.value.string_value for kv in resource.attributes} == {
        "service.name": "codemachine", "service.version": "unknown", "deployment.environment": "development"
    }  # fmt: skip
    assert first.severity_number > 0 and first.severity_text and first.body.WhichOneof("value")
    correlated = [rec for _, rec in records if rec.trace_id]
    assert len(correlated) == 34 and all(len(r.trace_id) == 16 and len(r.span_id) == 8 for r in correlated)
    assert all(kv.key not in ("trace.id", "span.id") for _, r in records for kv in r.attributes)
    assert {r.flags for _, r in records} == {0}  # the file records no trace flags: none is claimed (not SAMPLED)


def test_a_json_lines_file_may_mix_signals(tmp_path: Path, collector: OtlpReceiver) -> None:
    path = write_lines(tmp_path / "mixed.jsonl", [trace_request(1, 1), logs_request()])
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--logs-to", "otlp")
    assert code == 0, problem_lines(summary)
    assert summary["signals"]["traces"]["sent"] == 2 and summary["signals"]["logs"]["sent"] == 4
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--traces-only")
    assert code == 0 and summary["signals"]["logs"]["read"] == 0
    assert summary["signals"]["traces"]["sent"] == 2


def test_otlp_input_is_not_deduplicated(tmp_path: Path, tempo: OtlpReceiver) -> None:
    # Lossless: the file's records go out as they are, a repeated span included (and no
    # per-span memory is kept for a many-GB dump).
    path = write_lines(tmp_path / "twice.jsonl", [trace_request(1, 1), trace_request(1, 1)])
    code, summary = _replay_traces(path, tempo)
    assert code == 0 and summary["signals"]["traces"]["sent"] == 4
    assert summary["signals"]["traces"]["duplicates"] == 0


# -- what the SDK path cannot carry exactly (docs/lossless.md's table) ---------------------
SPAN_FLAGS = [  # (span flags in the file, span flags on the wire): bit 8 always, bit 9 kept, bits 0-7 not encoded
    (0, 0x100),  # no flags at all (a root span, or a writer that predates the field)
    (0x001, 0x100),
    (0x100, 0x100),
    (0x301, 0x300),
    (0x200, 0x300),
]
LINK_FLAGS = [(0, 0x100), (0x001, 0x100), (0x201, 0x300)]
LOG_FLAGS = [(0, 0), (0x01, 0x01), (0x101, 0x01)]  # log flags: bits 0-7 kept, reserved bits 8-31 dropped


def test_span_and_link_flags_come_out_as_the_lossless_table_says(tmp_path: Path, tempo: OtlpReceiver) -> None:
    req = trace_request(1, len(SPAN_FLAGS))
    spans = spans_in([req])[: len(SPAN_FLAGS)]
    for span, (flags, _) in zip(spans, SPAN_FLAGS, strict=True):
        span.flags = flags
        del span.links[:]
        for i, (link_flags, _) in enumerate(LINK_FLAGS):
            span.links.add(trace_id=span.trace_id, span_id=(0xE0 + i).to_bytes(8, "big"), flags=link_flags)
    code, summary = _replay_traces(write_lines(tmp_path / "flags.jsonl", [req]), tempo)
    assert code == 0, problem_lines(summary)
    for span, (_, wire) in zip(spans, SPAN_FLAGS, strict=True):  # what the table says comes out
        span.flags = wire
        for link, (_, link_wire) in zip(span.links, LINK_FLAGS, strict=True):
            link.flags = link_wire
    assert flatten_spans(tempo.requests["/v1/traces"]) == flatten_spans([req])


def test_log_flags_come_out_as_the_lossless_table_says(tmp_path: Path, collector: OtlpReceiver) -> None:
    req = logs_request()
    records = [r for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records]
    for rec, (flags, _) in zip(records, LOG_FLAGS, strict=False):
        rec.flags = flags
        rec.trace_id, rec.span_id = (
            (0xA0).to_bytes(16, "big"),
            (0xB0).to_bytes(8, "big"),
        )  # correlated: no SAMPLED added
    path = write_lines(tmp_path / "logs.jsonl", [req])
    code, summary = replay_json(str(path), "--otlp-endpoint", collector.url, "--logs-to", "otlp")
    assert code == 0, problem_lines(summary)
    for rec, (_, wire) in zip(records, LOG_FLAGS, strict=False):
        rec.flags = wire
    assert flatten_logs(collector.requests["/v1/logs"]) == flatten_logs([req])
