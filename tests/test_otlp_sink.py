"""Spans through the official exporter against a Tempo-like loopback receiver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource

from otel_replay.model import Origin, Signal
from otel_replay.sinks.otlp_answers import partial_rejections
from otel_replay.sinks.sdk import ResourceCache, log_trace_flags, to_readable_span
from otel_replay.sinks.sizes import estimate_resource_bytes, estimate_span_bytes
from otel_replay.sources.codemachine import span_from_codemachine
from tests.fakes.otlp import OtlpReceiver, PartialSuccess, tempo_error
from tests.fakes.server import Answer
from tests.helpers import problem_lines, replay, replay_json, span_doc, trace_file


def many_spans(n: int, attr_bytes: int = 0) -> list[dict]:
    return [span_doc(spanId=f"{i + 1:016x}", attributes={"payload": "x" * attr_bytes, "i": i}) for i in range(n)]


def test_batches_stay_under_max_request_bytes(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", many_spans(200, attr_bytes=2000))
    code, summary = replay_json(
        str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only", "--max-request-bytes", "64KiB"
    )
    assert code == 0, summary
    assert len(tempo.spans()) == 200
    assert max(tempo.sizes) <= 64 * 1024
    assert len(tempo.sizes) >= 200 * 2000 // (64 * 1024)


def test_batches_stay_under_batch_size(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", many_spans(25))
    code, _ = replay_json(str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only", "--batch-size", "10")
    assert code == 0
    sizes = [
        sum(len(ss.spans) for rs in r.resource_spans for ss in rs.scope_spans) for r in tempo.requests["/v1/traces"]
    ]
    assert sorted(sizes) == [5, 10, 10]  # in any order: two requests may be in flight at once


@pytest.mark.parametrize(
    ("flags", "sent"),
    [(None, 0), (0, 0), (1, 1), (0x101, 1), (0xFFFF_FF00, 0)],  # None: not recorded (CodeMachine)
)
def test_a_log_record_carries_the_trace_flags_it_recorded_and_no_others(flags: int | None, sent: int) -> None:
    assert int(log_trace_flags(flags)) == sent


def test_size_estimate_is_an_upper_bound() -> None:
    docs = [
        span_doc(
            name="ü" * 50,
            attributes={"s": "é" * 300, "n": 2**62, "f": 0.1, "arr": [1, "a", None], "obj": {"k": {"j": [True]}}},
            events=[{"name": "e", "time": 1795539600001, "attributes": {"a": "b" * 40}}],
            status={"code": 2, "message": "m" * 99},
        ),
        span_doc(),
    ]
    cache = ResourceCache()
    res = (("service.name", "codemachine"), ("x", "y" * 100))
    for doc in docs:
        rec = span_from_codemachine(doc, res, Origin("f", 0))
        actual = encode_spans([to_readable_span(rec, cache.get(res))]).ByteSize()
        estimate = estimate_span_bytes(rec) + estimate_resource_bytes(res)
        assert actual <= estimate <= actual * 3 + 400


def test_a_shared_resource_is_the_sdks_resource_with_its_hash_taken_once() -> None:
    """The cache's resources hash and compare as the SDK's own, and a batch encodes to
    the same bytes: only the cost of hashing (once per span in the encoder) differs."""
    cache = ResourceCache()
    res = (("service.name", "codemachine"), ("n", 3), ("x", "y"))
    shared, plain = cache.get(res), Resource({"service.name": "codemachine", "n": 3, "x": "y"})
    assert cache.get(res) is shared and shared == plain and hash(shared) == hash(plain)
    assert shared != Resource({"service.name": "other", "n": 3, "x": "y"})
    recs = [span_from_codemachine(span_doc(span_id=f"{i + 1:016x}"), res, Origin("f", i)) for i in range(3)]
    encoded = encode_spans([to_readable_span(r, shared) for r in recs]).SerializeToString()
    assert encoded == encode_spans([to_readable_span(r, plain) for r in recs]).SerializeToString()
    assert len(ExportTraceServiceRequest.FromString(encoded).resource_spans) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        tempo_error("ID.UnmarshalJSONIter: length mismatch"),  # a google.rpc.Status in protobuf, as Tempo answers
        Answer(400, b'{"code":3,"message":"ID.UnmarshalJSONIter: length mismatch"}', "application/json"),
    ],
    ids=["protobuf Status", "JSON"],
)
def test_a_backend_refusing_everything_exits_1_with_its_reason(tmp_path: Path, refusal: Any) -> None:
    trace_file(tmp_path / "t.json", many_spans(3))
    with OtlpReceiver.tempo(respond=lambda _: refusal) as server:
        result = replay(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
        expected_type = "application/json" if isinstance(refusal, Answer) else "application/x-protobuf"
        assert server.answers == [(400, expected_type)]
    assert result.exit_code == 1
    assert "rejected 3: HTTP 400: ID.UnmarshalJSONIter: length mismatch" in result.stdout
    assert "Traceback" not in result.output


def test_unreachable_backend_is_reported_failed(tmp_path: Path) -> None:
    """Gone after the check before the run (which a backend down from the start fails:
    tests/test_preflight.py): a transient fault, retried, then reported failed."""
    trace_file(tmp_path / "t.json", many_spans(2))
    with OtlpReceiver.tempo() as server:
        server.outage_seconds = 60
        server.fault = lambda n: "down"  # stops listening at the first request that carries spans
        code, summary = replay_json(
            str(tmp_path), "--otlp-endpoint", server.url, "--traces-only", "--max-retry-time", "1"
        )
    assert code == 1
    traces = summary["signals"]["traces"]
    assert traces["failed"] == 2 and traces["sent"] == 0
    assert any("refused" in reason for reason in traces["failed_reasons"]), traces["failed_reasons"]


def test_throttled_then_accepted_is_retried_honouring_retry_after(tmp_path: Path) -> None:
    """The exporter's own first back-off is 0.8-1.2 s: a retry 2 s later or more means it
    waited for the hint."""
    trace_file(tmp_path / "t.json", many_spans(4))
    slow_down = tempo_error("rate limited", 429, {"Retry-After": "2"})
    with OtlpReceiver.tempo(scripted=[slow_down, tempo_error("rate limited", 429, {"Retry-After": "0"})]) as server:
        code, summary = replay_json(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
        assert code == 0, summary
        assert server.attempts == 3 and len(server.spans()) == 4
        assert server.arrivals[1] - server.arrivals[0] >= 2.0


def test_too_large_for_tempo_is_rejected_with_tempos_message(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", many_spans(20, attr_bytes=1000))
    with OtlpReceiver.tempo(max_body_bytes=8 * 1024) as server:
        code, summary = replay_json(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
    assert code == 1
    assert set(server.answers) == {(400, "application/x-protobuf")}
    assert summary["signals"]["traces"]["rejected_reasons"] == {"HTTP 400: http: request body too large": 20}


@pytest.mark.parametrize(
    "answer",
    [
        PartialSuccess(2, "spans too old"),  # an ExportTraceServiceResponse in protobuf, as Tempo answers
        Answer(200, b'{"partialSuccess": {"rejectedSpans": "2", "errorMessage": "spans too old"}}', "application/json"),
    ],
    ids=["protobuf", "JSON"],
)
def test_partial_success_counts_the_rejected_spans(tmp_path: Path, answer: Any) -> None:
    trace_file(tmp_path / "t.json", many_spans(5))
    with OtlpReceiver.tempo(scripted=[answer]) as server:
        code, summary = replay_json(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
    assert code == 1
    t = summary["signals"]["traces"]
    assert (t["sent"], t["rejected"]) == (3, 2)
    assert t["rejected_reasons"] == {"partial success: spans too old": 2}


def test_headers_compression_and_traces_endpoint(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", many_spans(2))
    code, summary = replay_json(
        str(tmp_path),
        "--otlp-traces-endpoint",
        tempo.url + "/v1/traces",
        "--traces-only",
        "--header",
        "Authorization=Bearer s3cr3t-token",
        "--compression",
        "gzip",
    )
    assert code == 0
    assert tempo.headers[0]["authorization"] == "Bearer s3cr3t-token"
    assert tempo.headers[0]["content-encoding"] == "gzip"
    assert "s3cr3t-token" not in json.dumps(summary)


def test_otel_exporter_env_vars_apply_when_flags_are_absent(
    tempo: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_file(tmp_path / "t.json", many_spans(2))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", tempo.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme,x-api-key=k3y-value")
    result = replay(str(tmp_path), "--traces-only")
    assert result.exit_code == 0, result.output
    assert len(tempo.spans()) == 2
    assert tempo.headers[0]["x-tenant"] == "acme"
    assert f"{tempo.url}/v1/traces" in result.stdout
    assert "k3y-value" not in result.output


def test_what_is_on_the_wire_is_protobuf(tempo: OtlpReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", many_spans(1))
    replay(str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only")
    assert tempo.headers[0]["content-type"] == "application/x-protobuf"
    assert tempo.headers[0]["content-encoding"] == "gzip"  # the default (docs/cli.md, "Compression")
    req = tempo.requests["/v1/traces"][0]
    assert isinstance(req, ExportTraceServiceRequest)
    assert req.resource_spans[0].scope_spans[0].spans[0].name == "op"


def test_a_span_too_large_for_any_request_is_refused_alone(tempo: OtlpReceiver, tmp_path: Path) -> None:
    spans = [*many_spans(3), span_doc(spanId="00000000000000ff", attributes={"blob": "x" * 10_000})]
    trace_file(tmp_path / "t.json", spans)
    code, summary = replay_json(
        str(tmp_path), "--otlp-endpoint", tempo.url, "--traces-only", "--max-request-bytes", "4KiB"
    )
    assert code == 1
    t = summary["signals"]["traces"]
    assert (t["sent"], t["rejected"]) == (3, 1) and len(tempo.spans()) == 3
    assert t["rejected_reasons"] == {"span larger than --max-request-bytes on its own": 1}
    assert "t.json[3]: span of about" in problem_lines(summary)[0] and "(4096); not sent" in problem_lines(summary)[0]


@pytest.mark.parametrize("signal", [Signal.TRACES, Signal.LOGS])
def test_partial_success_is_read_for_each_signal_in_json_and_protobuf(signal: Signal) -> None:
    field = "rejectedSpans" if signal is Signal.TRACES else "rejectedLogRecords"
    doc = {"partialSuccess": {field: "3", "errorMessage": "too old"}}
    assert partial_rejections(json.dumps(doc).encode(), "application/json", signal) == (3, "too old")
    if signal is Signal.TRACES:
        answer: Any = ExportTraceServiceResponse()
        answer.partial_success.rejected_spans = 2
    else:
        answer = ExportLogsServiceResponse()
        answer.partial_success.rejected_log_records = 2
    answer.partial_success.error_message = "bad"
    assert partial_rejections(answer.SerializeToString(), "application/x-protobuf", signal) == (2, "bad")


# -- the fakes answer as the real servers did --------------------------------------------------
def _post(url: str, body: bytes, content_type: str = "application/x-protobuf") -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": content_type}, timeout=30)


def test_the_tempo_fake_answers_what_tempo_answered(tempo: OtlpReceiver) -> None:
    """Tempo 2.7.2's OTLP/HTTP port, asked the same (see tests/fakes/otlp.py)."""
    ok = _post(tempo.url + "/v1/traces", b"")
    assert (ok.status_code, ok.headers["Content-Type"], ok.content) == (200, "application/x-protobuf", b"\x0a\x00")
    truncated = _post(tempo.url + "/v1/traces", b"\x0a\x05ab")
    assert (truncated.status_code, truncated.headers["Content-Type"]) == (400, "application/x-protobuf")
    assert Status.FromString(truncated.content) == Status(code=3, message="unexpected EOF")
    wrong_wire_type = _post(tempo.url + "/v1/traces", b"\x0f\x01")
    assert Status.FromString(wrong_wire_type.content).message == "proto: wrong wireType = 7 for field ResourceSpans"
    as_json = _post(tempo.url + "/v1/traces", b"\x0a\x05ab", "application/json")
    assert as_json.status_code == 400 and as_json.headers["Content-Type"] == "application/json"
    assert as_json.json()["code"] == 3
    for path in ("/v1/logs", "/v1/metrics"):
        missing = _post(tempo.url + path, b"")
        assert (missing.status_code, missing.headers["Content-Type"], missing.content) == (
            404, "text/plain; charset=utf-8", b"404 page not found\n"
        )  # fmt: skip
    wrong_type = _post(tempo.url + "/v1/traces", b"x", "text/plain")
    assert (wrong_type.status_code, wrong_type.text) == (
        415, "415 unsupported media type, supported: [application/json, application/x-protobuf]"
    )  # fmt: skip
    assert requests.get(tempo.url + "/v1/traces", timeout=30).status_code == 405


def test_the_collector_fake_takes_every_signal(collector: OtlpReceiver) -> None:
    responses = {
        "/v1/traces": ExportTraceServiceResponse,
        "/v1/logs": ExportLogsServiceResponse,
        "/v1/metrics": ExportMetricsServiceResponse,
    }
    for path, response in responses.items():
        ok = _post(collector.url + path, b"")
        assert ok.status_code == 200 and response.FromString(ok.content).HasField("partial_success")
    # an empty request carries no telemetry: answered (it is otel-replay's check), not stored
    assert [p for _, p, _ in collector.probes] == list(responses) and collector.paths == []
