"""An OTLP/HTTP receiver that answers as the OpenTelemetry Collector's OTLP receiver does
(Tempo 2.7 runs that receiver for its OTLP/HTTP port).

What Tempo 2.7.2 answered on its OTLP/HTTP port, and what this fake answers the same way:

- success: 200 with the signal's ``Export*ServiceResponse`` in the request's encoding —
  protobuf (``application/x-protobuf``, the bytes ``0a 00``: an empty ``partial_success``)
  or JSON (``{"partialSuccess":{}}``);
- an error: a ``google.rpc.Status`` in the request's encoding, e.g. a truncated protobuf
  body → 400 ``application/x-protobuf`` ``{code: 3, message: "unexpected EOF"}``, a body
  over 20 MiB → 400 ``http: request body too large``, a gzip body that is not gzip →
  400 ``gzip: invalid header``; for JSON requests ``{"code":3,"message":"…"}``;
- another content type → 415 ``text/plain`` ``415 unsupported media type, supported:
  [application/json, application/x-protobuf]``; another method → 405 ``405 method not
  allowed, supported: [POST]``;
- a path it does not serve (Tempo: ``/v1/logs``, ``/v1/metrics``) → 404
  ``text/plain; charset=utf-8`` ``404 page not found``.

A test scripts answers (``scripted``: one per request; ``respond``: asked for each) as
an :class:`OtlpStatus` or :class:`PartialSuccess`, written in the request's encoding like
the real thing, or as a plain :class:`Answer`, sent byte for byte (for tests about a
backend that answers JSON, say).
"""

from __future__ import annotations

import json
import ssl
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.fakes.server import Answer, FakeServer

TEMPO_MAX_BODY = 20 * 1024 * 1024
PROTOBUF, JSON = "application/x-protobuf", "application/json"
TRACES, LOGS, METRICS = "/v1/traces", "/v1/logs", "/v1/metrics"
_REQUESTS: dict[str, Any] = {
    TRACES: ExportTraceServiceRequest,
    LOGS: ExportLogsServiceRequest,
    METRICS: ExportMetricsServiceRequest,
}
_RESPONSES: dict[str, Any] = {
    TRACES: ExportTraceServiceResponse,
    LOGS: ExportLogsServiceResponse,
    METRICS: ExportMetricsServiceResponse,
}
#: partialSuccess's count of refused items: (protobuf field, OTLP/JSON name)
_REJECTED = {
    TRACES: ("rejected_spans", "rejectedSpans"),
    LOGS: ("rejected_log_records", "rejectedLogRecords"),
    METRICS: ("rejected_data_points", "rejectedDataPoints"),
}
#: the gRPC code the Collector puts in the Status for an HTTP status it answers
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 429: 8, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4}
NOT_FOUND = Answer(404, b"404 page not found\n", "text/plain; charset=utf-8", {"X-Content-Type-Options": "nosniff"})
NOT_POST = Answer(405, b"405 method not allowed, supported: [POST]")
UNSUPPORTED_TYPE = Answer(415, b"415 unsupported media type, supported: [application/json, application/x-protobuf]")


@dataclass(frozen=True)
class OtlpStatus:
    """An error answer: ``status`` with a google.rpc.Status body carrying ``message``."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, content_type: str, signal_path: str) -> Answer:
        code = GRPC_CODES.get(self.status, 2)
        if content_type == JSON:
            body = json.dumps({"code": code, "message": self.message}, separators=(",", ":")).encode()
        else:
            body = Status(code=code, message=self.message).SerializeToString()
        return Answer(self.status, body, JSON if content_type == JSON else PROTOBUF, self.headers)


@dataclass(frozen=True)
class PartialSuccess:
    """A 200 whose Export*ServiceResponse says ``rejected`` items were refused, and why.
    The items are not stored (the test decides which would have been)."""

    rejected: int
    message: str

    def render(self, content_type: str, signal_path: str) -> Answer:
        field_name, json_name = _REJECTED[signal_path]
        if content_type == JSON:
            doc = {"partialSuccess": {json_name: str(self.rejected), "errorMessage": self.message}}
            return Answer(200, json.dumps(doc).encode(), JSON)
        response = _RESPONSES[signal_path]()
        setattr(response.partial_success, field_name, self.rejected)
        response.partial_success.error_message = self.message
        return Answer(200, response.SerializeToString(), PROTOBUF)


Scripted = Answer | OtlpStatus | PartialSuccess


def tempo_error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> OtlpStatus:
    """An error as Tempo's OTLP receiver writes it (in the request's encoding)."""
    return OtlpStatus(status, message, headers or {})


def success(content_type: str, signal_path: str) -> Answer:
    if content_type == JSON:
        return Answer(200, b'{"partialSuccess":{}}', JSON)
    response = _RESPONSES[signal_path]()
    response.partial_success.SetInParent()  # as the Collector writes it: 0a 00
    return Answer(200, response.SerializeToString(), PROTOBUF)


def _decompress(body: bytes, encoding: str) -> bytes:
    """The body as the Collector's receiver decodes it; ValueError with its message."""
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        if len(body) < 10:
            raise ValueError("unexpected EOF")
        if body[:2] != b"\x1f\x8b":
            raise ValueError("gzip: invalid header")
        try:
            d = zlib.decompressobj(wbits=31)
            out = d.decompress(body)
        except zlib.error as exc:
            raise ValueError("flate: corrupt input") from exc
        if not d.eof:
            raise ValueError("unexpected EOF")
        return out
    if encoding in ("deflate", "zlib"):
        try:
            return zlib.decompress(body)
        except zlib.error as exc:
            raise ValueError("zlib: invalid header") from exc
    raise ValueError(f"unsupported Content-Encoding: {encoding}")


def _varint(data: bytes, at: int) -> tuple[int, int] | None:
    value = shift = 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    return None


def go_decode_error(raw: bytes, first_field: str = "ResourceSpans") -> str:
    """What the Collector's (Go) decoder says of a body protobuf cannot read, judged on
    its top-level fields: ``unexpected EOF`` for a cut one (Tempo: ``0a 05 61 62``), the
    wire type for a field 1 that is not a message (``0f 01``)."""
    at = 0
    while at < len(raw):
        tag = _varint(raw, at)
        if tag is None:
            return "unexpected EOF"
        key, at = tag
        field_number, wire_type = key >> 3, key & 7
        if field_number == 1 and wire_type != 2:
            return f"proto: wrong wireType = {wire_type} for field {first_field}"
        if wire_type == 0:
            value = _varint(raw, at)
            if value is None:
                return "unexpected EOF"
            at = value[1]
        elif wire_type == 2:
            length = _varint(raw, at)
            if length is None or length[1] + length[0] > len(raw):
                return "unexpected EOF"
            at = length[1] + length[0]
        elif wire_type in (1, 5):
            at += 8 if wire_type == 1 else 4
            if at > len(raw):
                return "unexpected EOF"
        else:
            return f"proto: illegal wireType {wire_type}"
    return "proto: cannot parse invalid wire-format data"


class OtlpReceiver(FakeServer):
    def __init__(
        self,
        max_body_bytes: int = TEMPO_MAX_BODY,
        scripted: list[Scripted] | None = None,
        respond: Callable[[int], Scripted | None] | None = None,
        tls: ssl.SSLContext | None = None,
        accepts: tuple[str, ...] = tuple(_REQUESTS),
    ) -> None:
        """``accepts``: the signal paths served (a Collector: all three; Tempo: only
        ``/v1/traces``, see :meth:`tempo`); a path is matched by its end, so
        ``/api/v1/otlp/v1/metrics`` (Prometheus) is metrics too."""
        super().__init__(tls)
        self.max_body_bytes = max_body_bytes
        self.scripted: list[Scripted] = list(scripted or [])
        self.respond = respond
        self.accepts = accepts
        self.requests: dict[str, list[Any]] = {path: [] for path in _REQUESTS}
        self.paths: list[str] = []  # the path of every request that reached decoding
        self.sizes: list[int] = []  # uncompressed bytes of every request that reached decoding
        self.headers: list[dict[str, str]] = []
        self.answers: list[tuple[int, str]] = []  # (status, content type) of every answer it wrote
        self.attempts = 0

    @classmethod
    def tempo(cls, **kwargs: Any) -> OtlpReceiver:
        """Tempo's OTLP/HTTP port: traces only."""
        return cls(accepts=(TRACES,), **kwargs)

    def probe(self, method: str, path: str, headers: Any, body: bytes) -> Answer | None:
        """An empty export request (no telemetry), which Tempo 2.7 answers 200 (even before
        it is ready), and 404 on a path it does not serve."""
        if method != "POST":
            return None
        try:
            empty = _decompress(body, (headers.get("Content-Encoding") or "").strip().lower()) == b""
        except ValueError:
            return None
        if not empty:
            return None
        signal_path = next((p for p in self.accepts if path.endswith(p)), None)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        return NOT_FOUND if signal_path is None else success(content_type, signal_path)

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        answer = self._answer(method, path, headers, body)
        with self.lock:
            self.answers.append((answer.status, answer.content_type))
        return answer

    def _answer(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
            self.headers.append({k.lower(): v for k, v in headers.items()})
        signal_path = next((p for p in self.accepts if path.endswith(p)), None)
        if signal_path is None:
            return NOT_FOUND
        if method != "POST":
            return NOT_POST
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in (PROTOBUF, JSON):
            return UNSUPPORTED_TYPE
        scripted: Scripted | None = self.respond(attempt) if self.respond is not None else None
        if scripted is None:
            with self.lock:
                scripted = self.scripted.pop(0) if self.scripted else None
        if isinstance(scripted, Answer):
            return scripted
        if scripted is not None:
            return scripted.render(content_type, signal_path)
        if len(body) > self.max_body_bytes:
            return tempo_error("http: request body too large").render(content_type, signal_path)
        try:
            raw = _decompress(body, (headers.get("Content-Encoding") or "").strip().lower())
        except ValueError as exc:
            return tempo_error(str(exc)).render(content_type, signal_path)
        if len(raw) > self.max_body_bytes:
            return tempo_error("http: request body too large").render(content_type, signal_path)
        if content_type != PROTOBUF:  # the exporters send protobuf: JSON is only refused here
            return tempo_error("this fake decodes protobuf requests only").render(content_type, signal_path)
        try:
            message = _REQUESTS[signal_path].FromString(raw)
        except DecodeError:
            first_field = {TRACES: "ResourceSpans", LOGS: "ResourceLogs", METRICS: "ResourceMetrics"}[signal_path]
            return tempo_error(go_decode_error(raw, first_field)).render(content_type, signal_path)
        with self.lock:
            self.requests[signal_path].append(message)
            self.paths.append(path)
            self.sizes.append(len(raw))
        return success(content_type, signal_path)

    # -- reading back -------------------------------------------------------------------------
    def spans(self) -> list[tuple[Any, Any, Any]]:
        """Every received span as (resource, scope, span) protobuf messages."""
        out = []
        for req in self.requests[TRACES]:
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append((rs.resource, ss.scope, span))
        return out
