"""Settings of the OTLP sink, kept apart from the sink so that parsing flags (and a run
that sends no OTLP at all) does not import the exporters, the SDK and protobuf."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from otel_replay.config import TRACES_PATH, signal_endpoint
from otel_replay.model import Signal
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME

DEFAULT_BATCH_SIZE = 512
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: Requests in flight per sink (and per worker process); see sinks/inflight.py.
DEFAULT_CONCURRENCY = 2

GRPC = "grpc"
HTTP_PROTOBUF = "http/protobuf"
#: The protocols a run can send with (the OpenTelemetry specification's default first).
PROTOCOLS = (HTTP_PROTOBUF, GRPC)
#: The OTLP variables the exporter reads where a flag is not given (named in --help and docs/cli.md).
OTLP_ENV = {
    "otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "otlp_traces_endpoint": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "otlp_logs_endpoint": "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "otlp_metrics_endpoint": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "otlp_protocol": "OTEL_EXPORTER_OTLP_PROTOCOL",
    "headers": "OTEL_EXPORTER_OTLP_HEADERS",
    "compression": "OTEL_EXPORTER_OTLP_COMPRESSION",
    "certificate": "OTEL_EXPORTER_OTLP_CERTIFICATE",
}


@dataclass(slots=True)
class OtlpConfig:
    traces_endpoint: str | None = None  # full URL; None lets OTEL_EXPORTER_OTLP_* decide
    logs_endpoint: str | None = None  # the same, for --logs-to otlp
    metrics_endpoint: str | None = None  # the same, for metrics
    headers: dict[str, str] | None = None
    compression: str | None = None
    timeout: float = 10.0  # one attempt (capped by our session)
    max_retry_time: float | None = None  # the exporter's deadline for a batch, retries included
    certificate: str | None = None
    verify: bool = True
    batch_size: int = DEFAULT_BATCH_SIZE
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    concurrency: int = 1  # requests in flight (--concurrency)
    #: Each signal's protocol (:func:`resolve_protocol`); a signal not named sends http/protobuf.
    protocols: dict[Signal, str] | None = None

    def protocol(self, signal: Signal) -> str:
        return (self.protocols or {}).get(signal, HTTP_PROTOBUF)

    def endpoint(self, signal: Signal) -> str | None:
        """The signal's URL from our flags (None lets OTEL_EXPORTER_OTLP_* decide)."""
        return {
            Signal.TRACES: self.traces_endpoint,
            Signal.LOGS: self.logs_endpoint,
            Signal.METRICS: self.metrics_endpoint,
        }[signal]


class ProtocolError(ValueError):
    """A protocol named by --otlp-protocol or an OTEL_EXPORTER_OTLP_*PROTOCOL variable that
    no exporter here speaks; the message names where it came from and what to use."""


def resolve_protocol(flag: str | None, signal: Signal, env: Mapping[str, str] | None = None) -> str:
    """The protocol one signal is sent with: ``--otlp-protocol``, else
    ``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else
    ``http/protobuf`` (the specification's precedence and default). :class:`ProtocolError`
    for ``http/json`` (the Python SDK has no exporter for it) or any other value."""
    env = os.environ if env is None else env
    where, value = "--otlp-protocol", flag
    if not value:
        for name in (f"OTEL_EXPORTER_OTLP_{signal.name}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
            if env.get(name, "").strip():
                where, value = name, env[name]
                break
    if not value:
        return HTTP_PROTOBUF
    given = value.strip()
    if given.lower() in PROTOCOLS:
        return given.lower()
    if given.lower() == "http/json":
        raise ProtocolError(
            f"{where}=http/json: OTLP/JSON has no exporter in the OpenTelemetry Python SDK; "
            f"use http/protobuf (same port, 4318) or grpc (port 4317)"
        )
    raise ProtocolError(f"{where}={given!r} is not an OTLP protocol (grpc or http/protobuf)")


def resolve_protocols(
    flag: str | None, sent: set[Signal], env: Mapping[str, str], insecure: bool = False
) -> dict[Signal, str]:
    """Each signal's protocol; a signal not ``sent`` as OTLP (logs to Loki) keeps the
    default, whatever its variable says. :class:`ProtocolError` for a protocol no exporter
    speaks, or ``--insecure`` with gRPC (it has no way to skip certificate checks)."""
    out = {s: resolve_protocol(flag, s, env) if s in sent else HTTP_PROTOBUF for s in Signal}
    if insecure and GRPC in {out[s] for s in sent}:
        raise ProtocolError(
            "--insecure: a gRPC exporter cannot skip certificate checks; pass the CA with --certificate, "
            "or use http:// for a backend without TLS"
        )
    return out


def protocol_endpoint(base: str | None, explicit: str | None, protocol: str, path: str = TRACES_PATH) -> str | None:
    """One signal's endpoint from our flags (None: the variables decide): gRPC takes
    ``scheme://host:port`` as it is, OTLP/HTTP gets ``/v1/<signal>`` appended to the base."""
    if protocol == GRPC:
        return explicit or base
    return signal_endpoint(base, explicit, path)


def check_grpc_endpoints(config: OtlpConfig, env: Mapping[str, str]) -> None:
    """A gRPC endpoint is ``scheme://host:port``: a path (``/v1/traces``, an OTLP/HTTP
    habit) would be dropped by the exporter without a word, so it is refused here."""
    for signal in Signal:
        if config.protocol(signal) != GRPC:
            continue
        given = config.endpoint(signal)
        names = [f"OTEL_EXPORTER_OTLP_{signal.name}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]
        where = "--otlp-endpoint" if given else next((n for n in names if env.get(n)), None)
        url = given or (env[where] if where else "")
        path = urlsplit(url.strip()).path if "://" in url else ""
        if path not in ("", "/"):
            raise ProtocolError(
                f"{where}: a gRPC endpoint is scheme://host:port with no path ({path!r}): "
                f"drop the path, or use --otlp-protocol http/protobuf for an OTLP/HTTP URL"
            )


def export_deadline(
    flag: float | None, env: Mapping[str, str] | None = None, signal: Signal = Signal.TRACES
) -> float | None:
    """The exporter's per-batch deadline: ``--max-retry-time``, else the OTEL_EXPORTER_OTLP
    timeout variables (None lets the exporter read them), else our 5-minute default."""
    if flag is not None:
        return flag
    env = os.environ if env is None else env
    if env.get(f"OTEL_EXPORTER_OTLP_{signal.name}_TIMEOUT") or env.get("OTEL_EXPORTER_OTLP_TIMEOUT"):
        return None
    return DEFAULT_MAX_RETRY_TIME
