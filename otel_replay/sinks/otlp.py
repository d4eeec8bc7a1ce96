"""Spans and log records → the official OTLP/HTTP exporters (protobuf), batched by count
and bytes.

The exporter does the transport: endpoint, headers, TLS, compression and timeout come
from our flags when given and from the ``OTEL_EXPORTER_OTLP_*`` variables otherwise, and
its own retry logic handles 429/502/503/504 and ``Retry-After``. We only watch what it
did: a ``requests`` session hook records each response, and a logging handler keeps the
exporter's last error (connection refused, timeout) so the summary can say it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_replay.model import Record, Signal, record_key
from otel_replay.report import Report, batch_span
from otel_replay.resume import Acknowledge
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.http import VerifyingSession, describe_exception, one_line
from otel_replay.sinks.inflight import InFlight, InFlightSink
from otel_replay.sinks.otlp_config import OtlpConfig, export_deadline
from otel_replay.sinks.sdk import ResourceCache, estimate_bytes, request_group

REQUEST_OVERHEAD = 64
RETRYABLE = frozenset({429, 502, 503, 504})
_COMPRESSION = {"gzip": Compression.Gzip, "none": Compression.NoCompression, "deflate": Compression.Deflate}


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


#: Said once when an endpoint answers 404 (Tempo, for one, takes traces only).
_NO_SUCH_PATH = {
    Signal.LOGS: "{url} answered 404: it takes no OTLP logs; point --otlp-logs-endpoint at a backend that does "
    "(Loki 3: http://HOST:3100/otlp/v1/logs), or send logs to Loki's push API with --logs-to loki",
    Signal.METRICS: "{url} answered 404: it takes no OTLP metrics (Tempo takes traces only); point "
    "--otlp-metrics-endpoint at a metrics backend (Prometheus: http://HOST:9090/api/v1/otlp/v1/metrics, "
    "Mimir: http://HOST/otlp/v1/metrics), or leave metrics out with --signals traces,logs",
}


@dataclass(frozen=True, slots=True)
class _SignalParts:
    """What differs between exporting spans and exporting log records."""

    exporter: Any  # the official exporter class
    success: Any  # its export result meaning success
    response: Any  # the OTLP Export*ServiceResponse message
    rejected_json: str  # partialSuccess field counting refused records, in OTLP/JSON …
    rejected_proto: str  # … and in protobuf


_PARTS = {
    Signal.TRACES: _SignalParts(
        OTLPSpanExporter, SpanExportResult.SUCCESS, ExportTraceServiceResponse, "rejectedSpans", "rejected_spans"
    ),
    Signal.LOGS: _SignalParts(
        OTLPLogExporter, LogRecordExportResult.SUCCESS, ExportLogsServiceResponse,
        "rejectedLogRecords", "rejected_log_records",
    ),
    Signal.METRICS: _SignalParts(
        OTLPMetricExporter, MetricExportResult.SUCCESS, ExportMetricsServiceResponse,
        "rejectedDataPoints", "rejected_data_points",
    ),
}  # fmt: skip


def partial_rejections(body: bytes, content_type: str, signal: Signal = Signal.TRACES) -> tuple[int, str]:
    """Records a 2xx answer says it rejected (OTLP partial success), and why."""
    if not body:
        return 0, ""
    parts = _PARTS[signal]
    try:
        if "json" in content_type:
            partial = json.loads(body).get("partialSuccess") or {}
            return int(partial.get(parts.rejected_json) or 0), str(partial.get("errorMessage") or "")
        answer = parts.response.FromString(body).partial_success
        return getattr(answer, parts.rejected_proto), answer.error_message
    except (ValueError, AttributeError, TypeError, DecodeError):  # an unreadable body is not a rejection
        return 0, ""


class _ExporterLog(logging.Handler):
    """Keeps the exporter's last error message instead of letting it reach stderr
    (transport errors themselves are seen by :class:`_ObservedSession`). Per thread: with
    ``--concurrency``, each request runs its exporter in a thread of its own."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()
        self._report = report

    @property
    def last_error(self) -> str | None:
        return getattr(self._local, "last_error", None)

    @last_error.setter
    def last_error(self, value: str | None) -> None:
        self._local.last_error = value

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self._report.note(f"exporter: {one_line(message)}")
        if record.levelno >= logging.ERROR or str(record.msg).startswith("Dropping"):
            self.last_error = describe_exception(message)


class _ObservedSession(VerifyingSession):
    """A plain session that remembers its last transport error (the exporter, which owns
    the retry loop, does not always log it) and bounds each attempt by ``--timeout`` (the
    exporter gives each attempt all the time left before its deadline)."""

    last_error: BaseException | None = None
    attempt_timeout: float | None = None

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        cap = self.attempt_timeout
        if cap is not None:
            given = kwargs.get("timeout")
            kwargs["timeout"] = cap if given is None else min(given, cap)
        try:
            return super().request(*args, **kwargs)
        except requests.RequestException as exc:
            self.last_error = exc
            raise


def add_to_request(batcher: Batcher[Record], record: Record, report: Report, signal: Signal) -> None:
    """Batch a record for an OTLP request, bounded by its encoded size; a record that
    cannot fit in a request even alone is refused here (the exporter would drop it)."""
    size = estimate_bytes(record)
    group, group_bytes = request_group(record)
    if batcher.fits_alone(size, group_bytes):
        batcher.add(record, size, group, group_bytes)
    else:
        report.too_large(signal, str(record.origin), size + group_bytes, "--max-request-bytes", batcher.max_bytes)


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str


class _Lane:
    """One official exporter with its own session, which remembers the answer to the
    request it sent last (one request at a time: see :mod:`otel_replay.sinks.inflight`)."""

    def __init__(self, parts: _SignalParts, endpoint: str | None, config: OtlpConfig, signal: Signal) -> None:
        self.last: _Response | None = None
        session = self.session = _ObservedSession()
        session.attempt_timeout = config.timeout
        session.hooks["response"].append(self._on_response)
        self.exporter = parts.exporter(
            endpoint=endpoint,
            certificate_file=config.certificate,
            headers=config.headers,
            timeout=export_deadline(config.max_retry_time, signal=signal),
            compression=_COMPRESSION[config.compression] if config.compression else None,
            session=session,
            max_request_size=config.max_request_bytes,
        )
        if not config.verify:
            session.verify = False  # --insecure: the exporter has no switch for it, the session does

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last = _Response(response.status_code, response.content[:65536], response.headers.get("content-type", ""))


class OtlpSink(InFlightSink):
    """One signal through its official exporter: spans (``OTLPSpanExporter``), log
    records (``OTLPLogExporter``, for ``--logs-to otlp``) or metric data points
    (``OTLPMetricExporter``); ``config.concurrency`` requests in flight, each through
    an exporter of its own."""

    def __init__(
        self,
        config: OtlpConfig,
        report: Report,
        on_delivered: Acknowledge | None = None,
        signal: Signal = Signal.TRACES,
        stop: threading.Event | None = None,
    ) -> None:
        """Once ``stop`` is set, no request starts (the ones in flight finish)."""
        self.signal = signal
        self._stop = stop
        self._config = config
        self._report = report
        self._on_delivered = on_delivered
        self._resources = ResourceCache()
        self._parts = _PARTS[signal]
        endpoint = {
            Signal.TRACES: config.traces_endpoint,
            Signal.LOGS: config.logs_endpoint,
            Signal.METRICS: config.metrics_endpoint,
        }[signal]
        self._inflight = InFlight(_Lane(self._parts, endpoint, config, signal) for _ in range(config.concurrency))
        self._log = _ExporterLog(report)
        self._otel_logger = logging.getLogger("opentelemetry")
        self._saved = (self._otel_logger.propagate, self._otel_logger.level)
        self._otel_logger.addHandler(self._log)
        self._otel_logger.propagate = False
        self._batcher: Batcher[Record] = Batcher(
            self._export, config.batch_size, config.max_request_bytes, REQUEST_OVERHEAD
        )

    def write(self, record: Record) -> None:
        add_to_request(self._batcher, record, self._report, self.signal)

    def _export(self, batch: list[Record]) -> None:
        items = self._resources.export_items(batch)  # here: the cache is not shared with the lanes
        self._inflight.submit(lambda lane: self._send(lane, batch, items))

    def _send(self, lane: _Lane, batch: list[Record], items: Any) -> None:
        if self._stop is not None and self._stop.is_set():  # stopped while it waited for a lane: not sent
            return
        lane.last = None
        self._log.last_error = None
        lane.session.last_error = None
        result = lane.exporter.export(items)
        if self._inflight.abandoned:  # the run quit without waiting: counted as not sent
            return
        n = len(batch)
        last = lane.last
        endpoint = lane.exporter._endpoint
        where = batch_span(batch[0].origin, batch[-1].origin)
        self._report.note(
            f"{self.signal.value} {where}: {n} records → {endpoint}: "
            + (f"HTTP {last.status}" if last else describe_exception(lane.session.last_error or "no answer"))
        )
        if result is self._parts.success:
            rejected, why = partial_rejections(last.body, last.content_type, self.signal) if last else (0, "")
            rejected = min(rejected, n)
            self._report.rejected(self.signal, rejected, f"partial success: {one_line(why) or 'no reason given'}")
            self._report.sent(self.signal, n - rejected)
            if self._on_delivered is not None:
                # partly rejected records are not identified; resending would be refused again
                self._on_delivered(self.signal, [record_key(r) for r in batch])
            return
        if last is not None and last.status >= 300:
            reason = describe_response(last.status, last.body, last.content_type)
            if last.status == 404 and self.signal is not Signal.TRACES:
                self._report.hint(_NO_SUCH_PATH[self.signal].format(url=endpoint))
            if 400 <= last.status < 500 and last.status not in RETRYABLE:
                self._report.rejected(self.signal, n, reason)
            else:
                self._report.failed(self.signal, n, reason + " (after retries)", where)
            return
        if lane.session.last_error is not None:
            reason = describe_exception(lane.session.last_error) + " (retries exhausted)"
        else:
            reason = self._log.last_error or "export failed (no answer from the backend)"
        self._report.failed(self.signal, n, reason, where)

    def interrupt(self) -> None:
        """Cut short the retry back-offs in progress (the exporter's own shutdown signal;
        those batches are then reported failed and stay unacknowledged for --resume)."""
        for lane in self._inflight.lanes:
            client = getattr(lane.exporter, "_client", None)
            event = getattr(client, "_shutdown_event", None)
            if event is not None:
                event.set()

    def _release(self) -> None:
        for lane in self._inflight.lanes:
            lane.exporter.shutdown()
        self._otel_logger.removeHandler(self._log)
        self._otel_logger.propagate = self._saved[0]
