"""Spans and log records → the official OTLP/HTTP exporters (protobuf), batched by count
and bytes.

The exporter does the transport: endpoint, headers, TLS, compression and timeout come
from our flags when given and from the ``OTEL_EXPORTER_OTLP_*`` variables otherwise, and
its own retry logic handles 429/502/503/504, connection errors and ``Retry-After`` (the
policy :mod:`otel_replay.sinks.delivery` describes). We only watch what it did — our
``requests`` session records each attempt and its answer, a logging handler keeps the
exporter's last complaint — classify that into an outcome, and let the one account count it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

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
from otel_replay.resume import Acknowledge
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.delivery import Account, Delivered, Outcome, Partial, Permanent, Retryable, Sent, status_outcome
from otel_replay.sinks.http import VerifyingSession, WrongProtocol, cut_short, describe_exception, one_line, speaks_grpc
from otel_replay.sinks.inflight import InFlight, InFlightSink
from otel_replay.sinks.otlp_config import OtlpConfig, export_deadline
from otel_replay.sinks.sdk import ResourceCache
from otel_replay.sinks.sizes import REQUEST_OVERHEAD, add_to_request
from otel_replay.stats import RunStats, batch_span

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


_SPEAKS_GRPC = (
    "{url} answers as a gRPC server, not OTLP/HTTP: use --otlp-protocol grpc (or OTEL_EXPORTER_OTLP_PROTOCOL=grpc), "
    "or point the endpoint at the OTLP/HTTP port (4318)"
)


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


_EXPORTER_MODULES = tuple(parts.exporter.__module__ for parts in _PARTS.values())


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
    """Keeps the exporter's last complaint instead of letting it reach stderr (transport
    errors themselves are seen by :class:`_ObservedSession`). Per thread: with
    ``--concurrency``, each request runs its exporter in a thread of its own."""

    def __init__(self, stats: RunStats, module: str) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()
        self._stats = stats
        self._module = module  # its exporter's: another sink's exporter is that sink's business

    @property
    def last_error(self) -> str | None:
        return getattr(self._local, "last_error", None)

    @last_error.setter
    def last_error(self, value: str | None) -> None:
        self._local.last_error = value

    def emit(self, record: logging.LogRecord) -> None:
        mine = record.name.startswith(self._module)
        if not mine and record.name.startswith(_EXPORTER_MODULES):
            return
        message = record.getMessage()
        self._stats.note(f"exporter: {one_line(message)}")
        if mine:
            self.last_error = describe_exception(message)


class _QuietLogger:
    """The exporter's logger, kept from printing to stderr while any sink of this process
    listens to it (counted: two sinks of one signal leave it as they found it)."""

    _lock = threading.Lock()
    _users: ClassVar[dict[str, tuple[int, bool]]] = {}

    @classmethod
    def attach(cls, logger: logging.Logger, handler: logging.Handler) -> None:
        with cls._lock:
            count, saved = cls._users.get(logger.name, (0, logger.propagate))
            cls._users[logger.name] = (count + 1, saved)
            logger.addHandler(handler)
            logger.propagate = False

    @classmethod
    def detach(cls, logger: logging.Logger, handler: logging.Handler) -> None:
        with cls._lock:
            logger.removeHandler(handler)
            count, saved = cls._users.pop(logger.name, (1, logger.propagate))
            if count > 1:
                cls._users[logger.name] = (count - 1, saved)
            else:
                logger.propagate = saved


class _ObservedSession(VerifyingSession):
    """A plain session that counts the attempts of an export, remembers where they went
    and their last transport error (the exporter, which owns the retry loop, does not always
    log it), and bounds each attempt by ``--timeout`` (the exporter gives each attempt all
    the time left before its deadline)."""

    last_error: BaseException | None = None
    last_url: str | None = None
    attempts: int = 0
    attempt_timeout: float | None = None

    #: Set once the endpoint turned out to speak gRPC: every later request ends at once.
    wrong_protocol: str | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        cap = self.attempt_timeout
        if cap is not None:
            given = kwargs.get("timeout")
            kwargs["timeout"] = cap if given is None else min(given, cap)
        self.attempts += 1
        self.last_url = url.decode() if isinstance(url, bytes) else url
        if self.wrong_protocol:
            raise WrongProtocol(self.wrong_protocol)
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as exc:
            self.last_error = exc
            if cut_short(exc) and speaks_grpc(self.last_url, min(2.0, cap or 2.0)):
                self.wrong_protocol = "no OTLP/HTTP answer: the endpoint speaks gRPC (HTTP/2)"
                raise WrongProtocol(self.wrong_protocol) from exc  # not a connection error: not retried
            raise
        except requests.RequestException as exc:
            self.last_error = exc
            raise


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str


class _Lane:
    """One official exporter with its own session, which remembers the answer to the
    request it sent last (one request at a time: see :mod:`otel_replay.sinks.inflight`)."""

    def __init__(self, parts: _SignalParts, endpoint: str | None, config: OtlpConfig, signal: Signal) -> None:
        self.signal = signal
        self.module = parts.exporter.__module__
        self.last: _Response | None = None
        self._success = parts.success
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
        self.shut = False
        if not config.verify:
            session.verify = False  # --insecure: the exporter has no switch for it, the session does

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last = _Response(response.status_code, response.content[:65536], response.headers.get("content-type", ""))

    def export(self, items: Any) -> bool:
        """Export through the official exporter (its own retries included); True on success."""
        self.last = None
        self.session.last_error = None
        self.session.attempts = 0
        return self.exporter.export(items) is self._success

    def send(self, items: Any, log: _ExporterLog) -> Sent:
        """Export (the exporter's retries included) and classify what it did."""
        log.last_error = None
        succeeded = self.export(items)
        session, last = self.session, self.last
        outcome = classify(self.signal, succeeded, last, session.last_error, log.last_error, session.last_url)
        if session.wrong_protocol and not succeeded:
            outcome = Permanent(session.wrong_protocol, refused=False, hint=_SPEAKS_GRPC.format(url=session.last_url))
        answer = f"HTTP {last.status}" if last else describe_exception(session.last_error or "no answer")
        return Sent(outcome, session.attempts, str(session.last_url), answer)

    def interrupt(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """The exporter's own shutdown (it also cuts short a retry back-off in progress)."""
        if not self.shut:
            self.shut = True
            self.exporter.shutdown()


def classify(
    signal: Signal,
    succeeded: bool,
    last: _Response | None,
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


class OtlpSink(InFlightSink):
    """One signal through its official exporter: spans (``OTLPSpanExporter``), log
    records (``OTLPLogExporter``, for ``--logs-to otlp``) or metric data points
    (``OTLPMetricExporter``); ``config.concurrency`` requests in flight, each through
    an exporter of its own."""

    def __init__(
        self,
        config: OtlpConfig,
        stats: RunStats,
        on_delivered: Acknowledge | None = None,
        signal: Signal = Signal.TRACES,
        stop: threading.Event | None = None,
    ) -> None:
        """Once ``stop`` is set, no request starts (the ones in flight finish)."""
        self.signal = signal
        self._stop = stop
        self._config = config
        self._stats = stats
        self._resources = ResourceCache()
        self._parts = _PARTS[signal]
        self._inflight = InFlight(_lane(config, signal) for _ in range(config.concurrency))
        self._account = Account(signal, stats, on_delivered)
        self._log = _ExporterLog(stats, self._inflight.lanes[0].module)
        self._exporter_logger = logging.getLogger("opentelemetry")
        _QuietLogger.attach(self._exporter_logger, self._log)
        self._batcher: Batcher[Record] = Batcher(
            self._export, config.batch_size, config.max_request_bytes, REQUEST_OVERHEAD
        )

    def write(self, record: Record) -> None:
        add_to_request(self._batcher, record, self._stats, self.signal)

    def _export(self, batch: list[Record]) -> None:
        items = self._resources.export_items(batch)  # here: the cache is not shared with the lanes
        self._inflight.submit(lambda lane: self._send(lane, batch, items))

    def _send(self, lane: Any, batch: list[Record], items: Any) -> None:
        if self._stop is not None and self._stop.is_set():  # stopped while it waited for a lane: not sent
            return
        sent = lane.send(items, self._log)
        if self._inflight.abandoned:  # the run quit without waiting: counted as not sent
            return
        n = len(batch)
        where = batch_span(batch[0].origin, batch[-1].origin)
        self._stats.note(
            f"{self.signal.value} {where}: {n} records → {sent.url}: {sent.answer} ({sent.attempts} attempt(s))"
        )
        self._account.settle(sent.outcome, sent.attempts, n, where, lambda: [record_key(r) for r in batch])

    def interrupt(self) -> None:
        """Cut short the retry back-offs in progress: the exporters are shut down (their own
        signal to stop retrying; those batches are reported failed and stay unacknowledged
        for --resume). Nothing is exported after an interrupt."""
        for lane in self._inflight.lanes:
            lane.interrupt()

    def _release(self) -> None:
        for lane in self._inflight.lanes:
            lane.shutdown()
        _QuietLogger.detach(self._exporter_logger, self._log)


def _lane(config: OtlpConfig, signal: Signal) -> Any:
    """One exporter lane of the signal's protocol: the gRPC one (sinks/otlp_grpc.py, loaded
    only when used) or OTLP/HTTP's."""
    if config.protocol(signal) == "grpc":
        from otel_replay.sinks.otlp_grpc import GrpcLane

        return GrpcLane(signal, config)
    return _Lane(_PARTS[signal], config.endpoint(signal), config, signal)
