"""Settings of the OTLP sink, kept apart from the sink so that parsing flags (and a run
that sends no OTLP at all) does not import the exporters, the SDK and protobuf."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from otel_replay.model import Signal
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME

DEFAULT_BATCH_SIZE = 512
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
#: Requests in flight per sink (and per worker process); see sinks/inflight.py.
DEFAULT_CONCURRENCY = 2


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
