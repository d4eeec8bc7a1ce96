"""What an OTLP/HTTP backend's answer says: the message of an error (JSON, a protobuf
``google.rpc.Status`` or text) and the records a 2xx answer rejected (partial success)."""

from __future__ import annotations

import json

from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_replay.model import Signal
from otel_replay.sinks.http import one_line

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
