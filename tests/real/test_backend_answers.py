"""What the real Loki 3.4 and Tempo 2.7 answer, pushed to directly (no otel-replay): the
ground truth the loopback fakes in tests/fakes/ imitate, with their default limits. A
difference from a fake is a fact about the fake; a failure here means the backend changed."""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from typing import Any

from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.real.backends import Stack, http_answer, loki_count, require_binaries, wait_for_trace

require_binaries()

JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}
RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
GO_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC"
HOUR = 3600 * 10**9


# -- Loki --------------------------------------------------------------------------------------
def push(
    stack: Stack, streams: list[dict[str, Any]], headers: dict[str, str] = JSON, raw: bytes | None = None
) -> tuple[int, str]:
    body = raw if raw is not None else json.dumps({"streams": streams}).encode()
    status, _, text = http_answer("POST", f"{stack.loki_url}/loki/api/v1/push", body, headers)
    return status, text.decode()


def labels(run_id: str, case: str) -> dict[str, str]:
    return {"probe": f"{run_id}-{case}", "service_name": "probe"}


def stream_key(run_id: str, case: str) -> str:
    return re.escape(f'{{probe="{run_id}-{case}", service_name="probe"}}')


def test_loki_refuses_an_entry_older_than_7_days_and_stores_the_rest_of_the_push(stack: Stack, run_id: str) -> None:
    now = time.time_ns()
    status, text = push(
        stack, [{"stream": labels(run_id, "old"), "values": [[str(now - 8 * 24 * HOUR), "old"], [str(now), "fine"]]}]
    )
    assert status == 400
    assert re.fullmatch(
        f"entry for stream '{stream_key(run_id, 'old')}' has timestamp too old: {RFC3339}, "
        f"oldest acceptable timestamp is: {RFC3339}\n",
        text,
    ), text
    assert loki_count(stack, f'{{probe="{run_id}-old"}}', "9d") == 1


def test_loki_refuses_an_entry_more_than_10_minutes_ahead(stack: Stack, run_id: str) -> None:
    status, text = push(stack, [{"stream": labels(run_id, "new"), "values": [[str(time.time_ns() + HOUR // 3), "x"]]}])
    assert status == 400
    assert re.fullmatch(f"entry for stream '{stream_key(run_id, 'new')}' has timestamp too new: {RFC3339}\n", text), (
        text
    )


def test_loki_refuses_entries_more_than_an_hour_behind_their_streams_newest(stack: Stack, run_id: str) -> None:
    """Per entry, in the ingester's grouped words: ten listed, then the total."""
    now = time.time_ns()
    stream = labels(run_id, "behind")
    assert push(stack, [{"stream": stream, "values": [[str(now), "newest"]]}]) == (204, "")
    older = [[str(now - 2 * HOUR + i), f"older {i}"] for i in range(12)]
    status, text = push(stack, [{"stream": stream, "values": [*older, [str(now + 1), "after"]]}])
    assert status == 400
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 11
    for line in lines[:10]:
        assert re.fullmatch(
            f"entry with timestamp {GO_TIME} ignored, reason: 'entry too far behind, entry timestamp is: {RFC3339}, "
            f"oldest acceptable timestamp is: {RFC3339}',",
            line,
        ), line
    assert (
        lines[10]
        == f'user \'fake\', total ignored: 12 out of 13 for stream: {{probe="{run_id}-behind", service_name="probe"}}'
    )
    assert loki_count(stack, f'{{probe="{run_id}-behind"}}') == 2


def test_loki_label_names_and_empty_label_sets(stack: Stack, run_id: str) -> None:
    """A dotted label name is refused with the parser's words; an empty label set is
    taken (Loki adds service_name="unknown_service")."""
    now = time.time_ns()
    assert push(stack, [{"stream": {"a.b": "c"}, "values": [[str(now), "x"]]}]) == (
        400,
        "couldn't parse labels: 1:3: parse error: unexpected character inside braces: '.'\n",
    )
    assert push(stack, [{"stream": {}, "values": [[str(now), f"no labels {run_id}"]]}]) == (204, "")
    assert loki_count(stack, f'{{service_name="unknown_service"}} |= "no labels {run_id}"') == 1


def test_loki_answers_to_bodies_it_cannot_read(stack: Stack, run_id: str) -> None:
    body = json.dumps(
        {"streams": [{"stream": labels(run_id, "body"), "values": [[str(time.time_ns()), "x"]]}]}
    ).encode()
    # any Content-Type but JSON is read as snappy-compressed protobuf
    assert push(stack, [], {"Content-Type": "text/plain"}, body) == (400, "snappy: corrupt input\n")
    assert push(stack, [], {**JSON, "Content-Encoding": "gzip"}, b"not gzip") == (400, "unexpected EOF\n")
    status, text = push(stack, [], JSON, b'{"streams": [{"stream": {"a": "b"}, "values": [["1", "x", {"k": 1}]]}]}')
    assert status == 400 and text.startswith("loghttp.PushRequest"), text  # a non-string metadata value: parse error


def test_loki_refuses_a_push_over_4_mib_with_a_500(stack: Stack, run_id: str) -> None:
    """The distributor's gRPC message to the ingester is capped at 4 MiB: the whole push
    is refused with a 500 (not retried by otel-replay, which pushes at most 1 MiB)."""
    now = time.time_ns()
    values = [[str(now + i), f"{i} " + "g" * 1000] for i in range(5000)]
    status, text = push(stack, [{"stream": labels(run_id, "big"), "values": values}])
    assert status == 500
    assert re.fullmatch(
        r"rpc error: code = ResourceExhausted desc = grpc: received message larger than max \(\d+ vs\. 4194304\)\n",
        text,
    ), text


def test_loki_serves_an_entry_pushed_twice_once(stack: Stack, run_id: str) -> None:
    """Identical in stream, time and line, not one after the other: one entry is served."""
    now = time.time_ns() - 60 * 10**9
    stream = labels(run_id, "dup")
    assert push(stack, [{"stream": stream, "values": [[str(now), "a"], [str(now + 1), "b"]]}]) == (204, "")
    assert push(stack, [{"stream": stream, "values": [[str(now), "a"], [str(now + 2), "c"]]}]) == (204, "")
    assert loki_count(stack, f'{{probe="{run_id}-dup"}}') == 3


# -- Tempo -------------------------------------------------------------------------------------
def trace_request(spans: int = 1, attribute: str = "", trace_id: bytes | None = None) -> tuple[bytes, bytes]:
    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()
    trace_id = trace_id or os.urandom(16)
    now = time.time_ns()
    for _ in range(spans):
        span = scope.spans.add(
            trace_id=trace_id, span_id=os.urandom(8), name="probe", start_time_unix_nano=now, end_time_unix_nano=now + 1
        )
        if attribute:
            span.attributes.add(key="a").value.string_value = attribute
    return req.SerializeToString(), trace_id


def test_tempo_answers_protobuf_with_protobuf_and_json_with_json(stack: Stack) -> None:
    body, _ = trace_request()
    status, ctype, payload = http_answer("POST", f"{stack.otlp_url}/v1/traces", body, PROTOBUF)
    assert (status, ctype) == (200, "application/x-protobuf")
    answer = ExportTraceServiceResponse.FromString(payload)  # an empty partial_success, as the collector's receiver
    assert answer.HasField("partial_success") and answer.partial_success.ByteSize() == 0
    assert http_answer("POST", f"{stack.otlp_url}/v1/traces", b'{"resourceSpans": []}', JSON) == (
        200,
        "application/json",
        b'{"partialSuccess":{}}',
    )


def test_tempo_refuses_what_it_does_not_take(stack: Stack) -> None:
    body, _ = trace_request()
    for path in ("/v1/metrics", "/v1/logs"):
        status, _, payload = http_answer("POST", f"{stack.otlp_url}{path}", body, PROTOBUF)
        assert (status, payload) == (404, b"404 page not found\n"), path
    status, _, payload = http_answer("POST", f"{stack.otlp_url}/v1/traces", body, {"Content-Type": "text/plain"})
    assert (status, payload) == (
        415,
        b"415 unsupported media type, supported: [application/json, application/x-protobuf]",
    )


def test_tempo_refuses_a_body_over_20_mib_even_gzip_compressed(stack: Stack) -> None:
    """400 with a google.rpc.Status in protobuf (code 3), not JSON; the limit is on the
    decompressed body."""
    body, _ = trace_request(spans=21 * 1024, attribute="x" * 1000)
    assert len(body) > 20 * 2**20
    for data, headers in ((body, PROTOBUF), (gzip.compress(body), {**PROTOBUF, "Content-Encoding": "gzip"})):
        status, ctype, payload = http_answer("POST", f"{stack.otlp_url}/v1/traces", data, headers)
        assert (status, ctype) == (400, "application/x-protobuf")
        assert Status.FromString(payload) == Status(code=3, message="http: request body too large")


def test_tempo_cuts_attribute_values_to_2048_bytes(stack: Stack) -> None:
    body, trace_id = trace_request(attribute="y" * 5000)
    assert http_answer("POST", f"{stack.otlp_url}/v1/traces", body, PROTOBUF)[0] == 200
    trace = wait_for_trace(stack, trace_id.hex(), 1)
    value = trace["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"]["stringValue"]
    assert value == "y" * 2048


def test_tempo_answers_200_to_spans_past_5_mb_of_a_trace_and_drops_them(stack: Stack) -> None:
    """max_bytes_per_trace (5 MB): a push that takes a trace past it is answered 200, and
    its spans of that trace are discarded (logged as TRACE_TOO_LARGE); what the trace had
    stays. A sender cannot tell."""
    first, trace_id = trace_request(spans=3000, attribute="z" * 1000)
    second, _ = trace_request(spans=3000, attribute="z" * 1000, trace_id=trace_id)
    assert http_answer("POST", f"{stack.otlp_url}/v1/traces", first, PROTOBUF)[0] == 200
    assert http_answer("POST", f"{stack.otlp_url}/v1/traces", second, PROTOBUF)[0] == 200
    trace = wait_for_trace(stack, trace_id.hex(), 3000)
    assert sum(len(ss["spans"]) for rs in trace["resourceSpans"] for ss in rs["scopeSpans"]) == 3000
