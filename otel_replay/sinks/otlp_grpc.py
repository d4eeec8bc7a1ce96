"""OTLP over gRPC: the official ``opentelemetry-exporter-otlp-proto-grpc`` exporters, fed
the same SDK objects as the HTTP path, answers classified into the one :data:`Outcome`.

The exporter does the transport — endpoint (``scheme://host:port``: ``http`` plaintext,
``https`` TLS), ``OTEL_EXPORTER_OTLP_INSECURE``, certificates, headers as metadata,
``gzip`` — and encodes the request. Its own retry loop is switched off (it is given no
status code to retry: it would retry ``RESOURCE_EXHAUSTED`` without ``RetryInfo``, which
the specification forbids, and stack on ours): each export is one attempt, and the one
:class:`~otel_replay.sinks.delivery.RetryPolicy` decides whether another follows. A client
interceptor on the exporter's channel sees every answer — status, details, trailers
(``RetryInfo``), the response (partial success) — and bounds each attempt by ``--timeout``.

Retryable, as the OTLP specification lists them: ``CANCELLED``, ``DEADLINE_EXCEEDED``,
``ABORTED``, ``OUT_OF_RANGE``, ``UNAVAILABLE``, ``DATA_LOSS``, and ``RESOURCE_EXHAUSTED``
only with ``RetryInfo`` (whose delay is waited for). Any other status is final.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.util.re import parse_env_headers

from otel_replay.config import DEFAULT_GRPC_BASE
from otel_replay.model import Signal
from otel_replay.sinks.delivery import (
    DEFAULT_MAX_RETRY_TIME,
    Delivered,
    Outcome,
    Partial,
    Permanent,
    Retryable,
    RetryPolicy,
    Sent,
)
from otel_replay.sinks.http import one_line
from otel_replay.sinks.otlp_config import OtlpConfig

#: What the OTLP specification retries ("RESOURCE_EXHAUSTED" only with RetryInfo).
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
#: Final statuses that are the backend saying no to the records (counted rejected, as an
#: HTTP 4xx is); the others (UNKNOWN, INTERNAL) are failures.
REFUSING_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
#: Given to the exporter as the codes it may retry: OK is never an error, so it retries none.
_NO_RETRY = (grpc.StatusCode.OK,)
_RETRY_INFO_KEYS = ("grpc-status-details-bin", "google.rpc.retryinfo-bin")
_COMPRESSION = {"gzip": grpc.Compression.Gzip, "none": grpc.Compression.NoCompression}
#: What gRPC says when the endpoint answered as an HTTP server, not a gRPC one.
_NOT_GRPC = ("http1.x server", "received http2 header with status", "failed parsing http/2", "expected settings frame")

_EXPORTERS = {Signal.TRACES: OTLPSpanExporter, Signal.LOGS: OTLPLogExporter, Signal.METRICS: OTLPMetricExporter}
_REJECTED_FIELD = {Signal.TRACES: "rejected_spans", Signal.LOGS: "rejected_log_records",
                   Signal.METRICS: "rejected_data_points"}  # fmt: skip
#: The module whose logger the exporters complain on.
LOGGER_MODULE = "opentelemetry.exporter.otlp.proto.grpc"


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _Observer(grpc.UnaryUnaryClientInterceptor):
    """Sees the one call of an export: bounds it by the attempt's timeout, keeps the call
    (status, details, trailers, response) and the request's size."""

    def __init__(self) -> None:
        self.call: Any = None
        self.timeout: float | None = None
        self.request_bytes = 0

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        timeout = details.timeout
        if self.timeout is not None:
            timeout = self.timeout if timeout is None else min(timeout, self.timeout)
        bounded = _CallDetails(
            details.method, timeout, details.metadata, details.credentials, details.wait_for_ready, details.compression
        )
        self.request_bytes = request.ByteSize()
        self.call = continuation(bounded, request)
        return self.call


def _observed(exporter_class: type) -> type:
    class Observed(exporter_class):  # type: ignore[misc, valid-type]
        """The official exporter, its channel wrapped by :class:`_Observer` (also when it
        reconnects after UNAVAILABLE)."""

        def __init__(self, observer: _Observer, **kwargs: Any) -> None:
            self.observer = observer
            super().__init__(**kwargs)

        def _initialize_channel_and_stub(self) -> None:
            super()._initialize_channel_and_stub()
            self._client = self._stub(grpc.intercept_channel(self._channel, self.observer))

    return Observed


_OBSERVED = {signal: _observed(cls) for signal, cls in _EXPORTERS.items()}


def grpc_headers(flags: Mapping[str, str] | None, signal: Signal, env: Mapping[str, str] | None = None) -> Any:
    """The metadata sent: ``--header`` pairs over those of OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS
    (as the HTTP path merges them), keys lower-cased as gRPC requires; None when no flag
    is given (the exporter reads the variables itself)."""
    if not flags:
        return None
    env = os.environ if env is None else env
    raw = env.get(f"OTEL_EXPORTER_OTLP_{signal.name}_HEADERS") or env.get("OTEL_EXPORTER_OTLP_HEADERS") or ""
    merged = {k.lower(): v for k, v in parse_env_headers(raw, liberal=True).items()}
    merged.update({k.strip().lower(): v for k, v in flags.items()})
    return tuple(merged.items())


def retry_deadline(config: OtlpConfig, signal: Signal, env: Mapping[str, str] | None = None) -> float:
    """How long one batch may be retried: ``--max-retry-time``, else
    OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT (seconds, as the Python exporters read it), else
    the default."""
    if config.max_retry_time is not None:
        return config.max_retry_time
    env = os.environ if env is None else env
    for name in (f"OTEL_EXPORTER_OTLP_{signal.name}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        try:
            return float(env[name])
        except (KeyError, ValueError):
            continue
    return DEFAULT_MAX_RETRY_TIME


def exporter_arguments(config: OtlpConfig, signal: Signal, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What the official exporter is built with (None: it reads its OTEL_EXPORTER_OTLP_* variable)."""
    credentials = None
    if config.certificate:
        with open(config.certificate, "rb") as pem:
            credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
    return {
        "endpoint": config.endpoint(signal),
        "credentials": credentials,
        "headers": grpc_headers(config.headers, signal, env),
        "timeout": config.timeout,
        "compression": _COMPRESSION[config.compression] if config.compression else None,
        "retryable_error_codes": _NO_RETRY,
    }


def retry_delay(trailers: Iterable[tuple[str, Any]] | None) -> float | None:
    """The delay a RetryInfo in the trailers asks for (a google.rpc.Status's details, as
    gRPC servers send it, or the bare key the Python exporter reads); None without one."""
    for key, value in trailers or ():
        if key not in _RETRY_INFO_KEYS or not isinstance(value, bytes):
            continue
        try:
            if key == "google.rpc.retryinfo-bin":
                info = RetryInfo.FromString(value)
            else:
                found = [d for d in Status.FromString(value).details if d.Is(RetryInfo.DESCRIPTOR)]
                if not found:
                    continue
                info = RetryInfo()
                found[0].Unpack(info)
        except DecodeError:
            continue
        return info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return None


def speaks_http(details: str) -> bool:
    """Whether a failed call's details say the endpoint answered as an HTTP server."""
    lowered = details.lower()
    return any(words in lowered for words in _NOT_GRPC)


def status_outcome(signal: Signal, code: Any, details: str, trailers: Any, endpoint: str) -> Outcome:
    """A call that ended in an error status → its outcome."""
    reason = f"gRPC {code.name}" + (f": {one_line(details)}" if details else "")
    if speaks_http(details):
        reason = f"no gRPC answer: the endpoint speaks HTTP/1.1 (gRPC {code.name})"
        hint = (
            f"{endpoint} answers as an HTTP server, not gRPC: use --otlp-protocol http/protobuf "
            "(OTLP/HTTP, port 4318), or point the endpoint at the gRPC port (4317)"
        )
        return Permanent(reason, refused=False, hint=hint)
    after = retry_delay(trailers)
    if code in RETRYABLE_CODES or (code is grpc.StatusCode.RESOURCE_EXHAUSTED and after is not None):
        return Retryable(reason, after)
    hint = None
    if code is grpc.StatusCode.UNIMPLEMENTED and signal is not Signal.TRACES:
        hint = (
            f"{endpoint} has no OTLP {signal.value} service (Tempo takes traces only): point "
            f"--otlp-{signal.value}-endpoint at a backend that takes them, or leave {signal.value} out with --signals"
        )
    elif code is grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details.lower():
        hint = "the receiver takes smaller messages (max_recv_msg_size_mib): lower --max-request-bytes"
    return Permanent(reason, refused=code in REFUSING_CODES, hint=hint)


def call_outcome(signal: Signal, call: Any, endpoint: str) -> tuple[Outcome, str]:
    """One finished call → its outcome, and its status in a few words."""
    if call is None:
        return Permanent("not sent: the exporter was stopped", refused=False), "not sent"
    code = call.code()
    if code is grpc.StatusCode.OK:
        partial = call.result().partial_success
        rejected = getattr(partial, _REJECTED_FIELD[signal])
        if rejected:
            why = one_line(partial.error_message) or "no reason given"
            return Partial({f"partial success: {why}": rejected}), "gRPC OK"
        return Delivered(), "gRPC OK"
    details = call.details() or ""
    return status_outcome(signal, code, details, call.trailing_metadata(), endpoint), f"gRPC {code.name}"


class GrpcLane:
    """One official gRPC exporter; one request at a time (see sinks/inflight.py)."""

    module = LOGGER_MODULE

    def __init__(self, signal: Signal, config: OtlpConfig) -> None:
        self.signal = signal
        self.url = config.endpoint(signal) or _env_endpoint(signal)
        self._observer = _Observer()
        self._stop = threading.Event()
        self._shut = False
        self._policy = RetryPolicy(retry_deadline(config, signal), config.timeout, subject=signal.value)
        self.exporter = _OBSERVED[signal](self._observer, **exporter_arguments(config, signal))

    def attempt(self, items: Any, timeout: float) -> tuple[Outcome, str]:
        """One export, one call: its outcome and answer."""
        self._observer.call = None
        self._observer.timeout = timeout
        self.exporter.export(items)
        return call_outcome(self.signal, self._observer.call, self.url)

    def send(self, items: Any, log: Any = None) -> Sent:
        """Export with the one retry policy."""
        answers: list[str] = []

        def attempt(timeout: float) -> Outcome:
            if self._stop.is_set():
                answers.append("not sent")
                return Permanent("not sent: the run was stopped", refused=False)
            outcome, answer = self.attempt(items, timeout)
            answers.append(answer)
            return outcome

        outcome, attempts = self._policy.run(attempt, self._stop)
        return Sent(outcome, attempts, self.url, answers[-1] if answers else "not sent")

    def interrupt(self) -> None:
        """Ends a retry back-off in progress, and no attempt starts after it (from a signal
        handler: the channel, which the call in flight may hold, is closed by :meth:`shutdown`)."""
        self._stop.set()

    def shutdown(self) -> None:
        """Stops retrying and closes the channel."""
        self._stop.set()
        if not self._shut:
            self._shut = True
            self.exporter.shutdown()


def _env_endpoint(signal: Signal) -> str:
    return (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.name}_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or DEFAULT_GRPC_BASE
    )


#: A gRPC status as the HTTP status that means the same to a start-up check (OK: any
#: answer from a receiver; UNAUTHENTICATED/PERMISSION_DENIED: 401/403; UNAVAILABLE: not ready).
_AS_HTTP = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
}


def probe(signal: Signal, config: OtlpConfig, timeout: float) -> tuple[str, int | None, str]:
    """One empty export request (the specification asks servers to answer it with
    success), through the official exporter as the sink sends, once — the shape of the
    OTLP/HTTP probe of a start-up check: where it went, the answer as the HTTP status
    that means the same (None: no answer from a gRPC receiver — nothing listening, TLS,
    or the port speaks HTTP/1.1, which the answer then says) and the answer in a few words."""
    lane = GrpcLane(signal, config)
    try:
        from opentelemetry.sdk.metrics.export import MetricsData

        empty = MetricsData(resource_metrics=[]) if signal is Signal.METRICS else []
        outcome, answer = lane.attempt(empty, timeout)
        call = lane._observer.call
        if call is None:
            return lane.url, None, answer
        details = one_line(call.details() or "")
        if speaks_http(details):
            hint = outcome.hint if isinstance(outcome, Permanent) else None
            return lane.url, None, hint or details
        status = _AS_HTTP.get(call.code(), 503 if call.code() is grpc.StatusCode.UNAVAILABLE else 500)
        if call.code() is grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
            status = None  # nothing there: the connection itself failed
        return lane.url, status, answer + (f": {details}" if details else "")
    finally:
        lane.shutdown()
