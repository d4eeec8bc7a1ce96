"""An OTLP/HTTP receiver that answers like Tempo 2.10's (see input-formats.md §4).

Every request is decoded with opentelemetry-proto; what is accepted is kept for the
test to read back. ``scripted`` answers (a list consumed one per request) let a test
make the backend throttle, fail or refuse.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.fakes.server import Answer, FakeServer, decompress

TEMPO_MAX_BODY = 20 * 1024 * 1024
_MESSAGES: dict[str, Any] = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
}


def _json(status: int, doc: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(doc).encode(), "application/json")


def tempo_error(message: str, status: int = 400) -> Answer:
    return _json(status, {"code": 3, "message": message})


class OtlpReceiver(FakeServer):
    def __init__(
        self,
        max_body_bytes: int = TEMPO_MAX_BODY,
        scripted: list[Answer] | None = None,
        respond: Callable[[int], Answer | None] | None = None,
        tls: ssl.SSLContext | None = None,
        accepts: tuple[str, ...] = tuple(_MESSAGES),
    ) -> None:
        """``accepts``: the signal paths served (Tempo: only ``/v1/traces``); a path is
        matched by its end, so ``/api/v1/otlp/v1/metrics`` (Prometheus) is metrics too."""
        super().__init__(tls)
        self.max_body_bytes = max_body_bytes
        self.scripted = list(scripted or [])
        self.respond = respond
        self.accepts = accepts
        self.requests: dict[str, list[Any]] = {path: [] for path in _MESSAGES}
        self.paths: list[str] = []  # the path of every request that reached decoding
        self.sizes: list[int] = []  # uncompressed bytes of every request that reached decoding
        self.headers: list[dict[str, str]] = []
        self.attempts = 0

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            self.attempts += 1
            attempt = self.attempts
            self.headers.append({k.lower(): v for k, v in headers.items()})
        signal_path = next((p for p in self.accepts if path.endswith(p)), None)
        if method != "POST" or signal_path is None:
            return Answer(404, b"404 page not found\n")
        if self.respond is not None and (answer := self.respond(attempt)) is not None:
            return answer
        with self.lock:
            if self.scripted:
                return self.scripted.pop(0)
        if len(body) > self.max_body_bytes:
            return tempo_error("http: request body too large")
        try:
            raw = decompress(body, headers.get("Content-Encoding"))
        except OSError as exc:
            return tempo_error(f"gzip: {exc}")
        if len(raw) > self.max_body_bytes:
            return tempo_error("http: request body too large")
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-protobuf":
            return tempo_error(f"unsupported content type {content_type!r}", 415)
        try:
            message = _MESSAGES[signal_path].FromString(raw)
        except DecodeError as exc:
            return tempo_error(f"proto: {exc}")
        with self.lock:
            self.requests[signal_path].append(message)
            self.paths.append(path)
            self.sizes.append(len(raw))
        return _json(200, {"partialSuccess": {}})

    # -- reading back -------------------------------------------------------------------------
    def spans(self) -> list[tuple[Any, Any, Any]]:
        """Every received span as (resource, scope, span) protobuf messages."""
        out = []
        for req in self.requests["/v1/traces"]:
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        out.append((rs.resource, ss.scope, span))
        return out
