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

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExportResult

from otel_replay.model import Record, Signal, record_key
from otel_replay.resume import Journal
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.delivery import (
    Account,
    Permanent,
    Sent,
    retries_over,
    retrying,
)
from otel_replay.sinks.http import (
    VerifyingSession,
    WrongProtocol,
    cut_short,
    describe_exception,
    gzipped,
    one_line,
    speaks_grpc,
)
from otel_replay.sinks.inflight import InFlight, InFlightSink
from otel_replay.sinks.otlp_answers import SPEAKS_GRPC, Response, classify, describe_response
from otel_replay.sinks.otlp_config import OtlpConfig, export_deadline
from otel_replay.sinks.sdk import ResourceCache
from otel_replay.sinks.sizes import REQUEST_OVERHEAD, add_to_request
from otel_replay.stats import RunStats

_COMPRESSION = {"gzip": Compression.Gzip, "none": Compression.NoCompression, "deflate": Compression.Deflate}


@dataclass(frozen=True, slots=True)
class _SignalParts:
    """What differs between exporting spans, log records and metric points."""

    exporter: Any  # the official exporter class
    success: Any  # its export result meaning success


_PARTS = {
    Signal.TRACES: _SignalParts(OTLPSpanExporter, SpanExportResult.SUCCESS),
    Signal.LOGS: _SignalParts(OTLPLogExporter, LogRecordExportResult.SUCCESS),
    Signal.METRICS: _SignalParts(OTLPMetricExporter, MetricExportResult.SUCCESS),
}


_EXPORTER_MODULES = tuple(parts.exporter.__module__ for parts in _PARTS.values())


class _ExporterLog(logging.Handler):
    """Keeps the exporter's last complaint instead of letting it reach stderr (transport
    errors themselves are seen by :class:`_ObservedSession`). Per thread: with
    ``--concurrency``, each request runs its exporter in a thread of its own."""

    def __init__(self, stats: RunStats, module: str, signal: Signal) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()
        self._stats = stats
        self._module = module  # its exporter's: another sink's exporter is that sink's business
        self._signal = signal

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
            if str(record.msg).startswith(_RETRYING) and len(record.args or ()) == 3:  # type: ignore[arg-type]
                cause, _, wait = record.args  # type: ignore[misc]
                retrying(self._signal.value, _cause(cause), float(wait))


#: How the exporter says it waits to try again ("Transient error %s encountered while
#: exporting %s batch, retrying in %.2fs."): the cause and the wait, for whoever watches.
_RETRYING = "Transient error"


#: The status of the answer this thread's exporter got last (its log gives only the phrase).
_answered = threading.local()


def _cause(cause: object) -> str:
    """The exporter's cause of a retry (a transport error, or an answer's reason phrase:
    ``HTTP 429 Too Many Requests``), in a few words."""
    if isinstance(cause, BaseException):
        return describe_exception(cause)
    status = getattr(_answered, "status", None)
    return one_line(f"HTTP {status} {cause}" if status else str(cause))


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
    one_attempt: bool = False  # a probe: end the exporter's retry loop after the first attempt
    #: gzip the body here (http.gzipped), the exporter having been told to send it as it is.
    gzip: bool = False

    #: Set once the endpoint turned out to speak gRPC: every later request ends at once.
    wrong_protocol: str | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        cap = self.attempt_timeout
        if cap is not None:
            given = kwargs.get("timeout")
            kwargs["timeout"] = cap if given is None else min(given, cap)
        self.attempts += 1
        self.last_url = url.decode() if isinstance(url, bytes) else url
        if self.gzip and isinstance(kwargs.get("data"), bytes):
            kwargs["data"] = gzipped(kwargs["data"])
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Content-Encoding": "gzip"}
        if self.wrong_protocol:
            raise WrongProtocol(self.wrong_protocol)
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.ConnectionError as exc:
            self.last_error = exc
            if cut_short(exc) and speaks_grpc(self.last_url, min(2.0, cap or 2.0)):
                self.wrong_protocol = "no OTLP/HTTP answer: the endpoint speaks gRPC (HTTP/2)"
                raise WrongProtocol(self.wrong_protocol) from exc  # not a connection error: not retried
            if self.one_attempt:
                raise _OneAttempt from exc
            raise
        except requests.RequestException as exc:
            self.last_error = exc
            if self.one_attempt:
                raise _OneAttempt from exc
            raise
        if self.one_attempt:
            raise _OneAttempt
        return response


class _OneAttempt(Exception):
    """Raised by a probe's session after its attempt: not a transport error, so the
    exporter neither retries nor waits."""


class _Lane:
    """One official exporter with its own session, which remembers the answer to the
    request it sent last (one request at a time: see :mod:`otel_replay.sinks.inflight`)."""

    def __init__(self, parts: _SignalParts, endpoint: str | None, config: OtlpConfig, signal: Signal) -> None:
        self.signal = signal
        self.module = parts.exporter.__module__
        self.last: Response | None = None
        self._success = parts.success
        session = self.session = _ObservedSession()
        session.attempt_timeout = config.timeout
        # --compression gzip (the default): this session's, not the exporter's level 9 (http.gzipped);
        # a gzip the OTEL_EXPORTER_OTLP_*COMPRESSION variables ask for is left to the exporter
        session.gzip = config.compression == "gzip"
        session.hooks["response"].append(self._on_response)
        self.exporter = parts.exporter(
            endpoint=endpoint,
            certificate_file=config.certificate,
            headers=config.headers,
            timeout=export_deadline(config.max_retry_time, signal=signal),
            compression=Compression.NoCompression if session.gzip else _COMPRESSION.get(config.compression or ""),
            session=session,
            max_request_size=config.max_request_bytes,
        )
        self.shut = False
        if not config.verify:
            session.verify = False  # --insecure: the exporter has no switch for it, the session does

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        _answered.status = response.status_code
        self.last = Response(response.status_code, response.content[:65536], response.headers.get("content-type", ""))

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
        if session.attempts > 1:
            retries_over(self.signal.value)
        outcome = classify(self.signal, succeeded, last, session.last_error, log.last_error, session.last_url)
        if session.wrong_protocol and not succeeded:
            outcome = Permanent(session.wrong_protocol, refused=False, hint=SPEAKS_GRPC.format(url=session.last_url))
        answer = f"HTTP {last.status}" if last else describe_exception(session.last_error or "no answer")
        return Sent(outcome, session.attempts, str(session.last_url), answer)

    def interrupt(self) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """The exporter's own shutdown (it also cuts short a retry back-off in progress)."""
        if not self.shut:
            self.shut = True
            self.exporter.shutdown()


class OtlpSink(InFlightSink):
    """One signal through its official exporter: spans (``OTLPSpanExporter``), log
    records (``OTLPLogExporter``, for ``--logs-to otlp``) or metric data points
    (``OTLPMetricExporter``); ``config.concurrency`` requests in flight, each through
    an exporter of its own."""

    def __init__(
        self,
        config: OtlpConfig,
        stats: RunStats,
        on_delivered: Journal | None = None,
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
        self._log = _ExporterLog(stats, self._inflight.lanes[0].module, signal)
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
        number = self._account.sending(lambda: [record_key(r) for r in batch])
        sent = lane.send(items, self._log)
        self._settle(batch, "records", f"{sent.url}: {sent.answer}", sent.outcome, sent.attempts, number)

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


def probe(signal: Signal, config: OtlpConfig, timeout: float) -> tuple[str | None, int | None, str]:
    """One empty export request, which OTLP/HTTP servers answer with success ("If the
    server receives an empty request … the server SHOULD respond with success"), sent by
    the official exporter as the sink's would be (endpoint, headers, TLS, compression, the
    OTEL_EXPORTER_OTLP_* variables) but once, without retries: where it went, the HTTP
    status (None: no answer) and the answer or the transport error in a few words. A
    signal sent over gRPC is asked by :func:`otel_replay.sinks.otlp_grpc.probe`; a port that
    speaks the other protocol is answered with what to change."""
    if config.protocol(signal) == "grpc":
        from otel_replay.sinks.otlp_grpc import probe as grpc_probe

        return grpc_probe(signal, config, timeout)
    lane = _Lane(_PARTS[signal], config.endpoint(signal), replace(config, timeout=timeout), signal)
    lane.session.one_attempt = True
    quiet, logger = logging.NullHandler(), logging.getLogger("opentelemetry")
    _QuietLogger.attach(logger, quiet)  # the exporter's complaint about the stopped loop
    try:
        lane.export(MetricsData(resource_metrics=[]) if signal is Signal.METRICS else [])
    except _OneAttempt:  # an exporter that does not catch its session's errors
        pass
    finally:
        lane.shutdown()
        _QuietLogger.detach(logger, quiet)
    url, last, error = lane.session.last_url, lane.last, lane.session.last_error
    if lane.session.wrong_protocol:
        return url, None, SPEAKS_GRPC.format(url=url)
    if last is not None:
        return url, last.status, describe_response(last.status, last.body, last.content_type)
    return url, None, describe_exception(error) if error is not None else "no answer"
