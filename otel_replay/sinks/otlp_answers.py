"""What an OTLP/HTTP backend's answer says: the message of an error (JSON, a protobuf
``google.rpc.Status`` or text), the records a 2xx answer rejected (partial success), and
what one export came to (:func:`classify`), with the hints an answer calls for."""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_replay.model import Signal
from otel_replay.sinks.delivery import Delivered, Outcome, Partial, Permanent, Retryable, status_outcome
from otel_replay.sinks.http import describe_exception, one_line

#: Per signal: the Export*ServiceResponse message, and its partialSuccess field counting
#: refused records in OTLP/JSON and in protobuf.
_REJECTED = {
    Signal.TRACES: (ExportTraceServiceResponse, "rejectedSpans", "rejected_spans"),
    Signal.LOGS: (ExportLogsServiceResponse, "rejectedLogRecords", "rejected_log_records"),
    Signal.METRICS: (ExportMetricsServiceResponse, "rejectedDataPoints", "rejected_data_points"),
}


def describe_response(status: int, body: bytes, content_type: str) -> str:
    """``HTTP 400: <message>`` from a backend's answer (JSON, protobuf Status or text)."""
    message = ""
    if "json" in content_type:
        try:
            doc = json.loads(body)
            if isinstance(doc, dict):
                message = str(doc.get("message") or doc.get("error") or "")
            message = message or body.decode("utf-8", "replace")
        except ValueError:
            message = body.decode("utf-8", "replace")
    elif "protobuf" in content_type and body:
        message = _status_message(body) or ""
    else:
        message = body.decode("utf-8", "replace")
    message = one_line(message)
    return f"HTTP {status}: {message}" if message else f"HTTP {status}"


def _status_message(body: bytes) -> str | None:
    """The message of a google.rpc.Status body, as OTLP/HTTP sends on errors."""
    try:
        return Status.FromString(body).message or None
    except DecodeError:
        return None


def partial_rejections(body: bytes, content_type: str, signal: Signal = Signal.TRACES) -> tuple[int, str]:
    """Records a 2xx answer says it rejected (OTLP partial success), and why."""
    if not body:
        return 0, ""
    response, in_json, in_proto = _REJECTED[signal]
    try:
        if "json" in content_type:
            partial = json.loads(body).get("partialSuccess") or {}
            return int(partial.get(in_json) or 0), str(partial.get("errorMessage") or "")
        answer = response.FromString(body).partial_success
        return getattr(answer, in_proto), answer.error_message
    except (ValueError, AttributeError, TypeError, DecodeError):  # an unreadable body is not a rejection
        return 0, ""


#: Said once when an endpoint answers 404 (Tempo, for one, takes traces only).
_NO_SUCH_PATH = {
    Signal.LOGS: "{url} answered 404: it takes no OTLP logs; point --otlp-logs-endpoint at a backend that does "
    "(Loki 3: http://HOST:3100/otlp/v1/logs), or send logs to Loki's push API with --logs-to loki",
    Signal.METRICS: "{url} answered 404: it takes no OTLP metrics (Tempo takes traces only); point "
    "--otlp-metrics-endpoint at a metrics backend (Prometheus: http://HOST:9090/api/v1/otlp/v1/metrics, "
    "Mimir: http://HOST/otlp/v1/metrics), or leave metrics out with --signals traces,logs",
}


SPEAKS_GRPC = (
    "{url} answers as a gRPC server, not OTLP/HTTP: use --otlp-protocol grpc (or OTEL_EXPORTER_OTLP_PROTOCOL=grpc), "
    "or point the endpoint at the OTLP/HTTP port (4318)"
)


@dataclass(slots=True)
class Response:
    """An OTLP/HTTP answer as the exporter's session saw it (the body cut at 64 KiB)."""

    status: int
    body: bytes
    content_type: str


def classify(
    signal: Signal,
    succeeded: bool,
    last: Response | None,
    transport_error: BaseException | None,
    logged: str | None,
    url: str | None,
) -> Outcome:
    """What one export came to, from what the exporter returned, the last answer it got
    (from ``url``), its last transport error and its last complaint in the log."""
    if succeeded:
        rejected, why = partial_rejections(last.body, last.content_type, signal) if last else (0, "")
        if rejected:
            return Partial({f"partial success: {one_line(why) or 'no reason given'}": rejected})
        return Delivered()
    if last is not None and last.status >= 300:
        hint = _NO_SUCH_PATH[signal].format(url=url) if last.status == 404 and signal is not Signal.TRACES else None
        return status_outcome(last.status, describe_response(last.status, last.body, last.content_type), hint=hint)
    if transport_error is not None:  # what the exporter retries; still failing when it gave up
        return Retryable(describe_exception(transport_error))
    return Permanent(logged or "export failed (no answer from the backend)", refused=False)
