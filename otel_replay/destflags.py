"""The flags of ``otel-replay replay`` that say where records go and how they are
delivered: OTLP, its requests and transport, and Loki. Grouped in
:data:`otel_replay.flags.GROUPS`; interpreted by :mod:`otel_replay.options`."""

from __future__ import annotations

from typing import Any

import click

from otel_replay.config import DEFAULT_OTLP_BASE, format_size
from otel_replay.flagtypes import Decorator, DurationType, SizeType, option, pairs
from otel_replay.options import DEFAULT_COMPRESSION
from otel_replay.plan import LOGS_TO
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME
from otel_replay.sinks.loki import DEFAULT_BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, DEFAULT_URL
from otel_replay.sinks.otlp_config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_REQUEST_BYTES,
    PROTOCOLS,
)

OTLP: list[Decorator[Any]] = [
    option(
        "--otlp-endpoint",
        "--tempo-url",
        "otlp_endpoint",
        metavar="URL",
        show_default=DEFAULT_OTLP_BASE,
        help="OTLP/HTTP base URL, /v1/traces, /v1/metrics, /v1/logs appended (gRPC: scheme://host:port as is).",
    ),
    option(
        "--otlp-protocol",
        type=click.Choice(PROTOCOLS),
        show_default="http/protobuf",
        help="OTLP transport; without it OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL decides (see docs/transports.md).",
    ),
    option(
        "--otlp-traces-endpoint",
        metavar="URL",
        help="Full traces URL, used as it is.",
    ),
    option(
        "--logs-to",
        type=click.Choice(LOGS_TO),
        default="loki",
        show_default=True,
        help="Log records to Loki's push API, or as OTLP logs through the official exporter "
        "(to --otlp-endpoint + /v1/logs: a Collector, Loki 3's /otlp, any OTLP backend).",
    ),
    option(
        "--otlp-logs-endpoint",
        metavar="URL",
        help="Full OTLP logs URL for --logs-to otlp, used as it is.",
    ),
    option(
        "--otlp-metrics-endpoint",
        metavar="URL",
        help="Full OTLP metrics URL, used as it is (Tempo takes no metrics; Prometheus: "
        "http://HOST:9090/api/v1/otlp/v1/metrics).",
    ),
    pairs("--header", "headers", help="OTLP request header (repeatable), over those of the variable."),
    option(
        "--compression",
        type=click.Choice(["gzip", "none"]),
        show_default=DEFAULT_COMPRESSION,
        help="OTLP request body compression; without the flag an OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION "
        "variable, when set, decides (Loki pushes: --loki-compression).",
    ),
]

TRANSPORT: list[Decorator[Any]] = [
    option(
        "--timeout",
        type=DurationType(),
        default="10s",
        show_default=True,
        metavar="DURATION",
        help="How long one request attempt may take (OTLP and Loki).",
    ),
    option(
        "--max-retry-time",
        type=DurationType(),
        metavar="DURATION",
        show_default=f"{DEFAULT_MAX_RETRY_TIME / 60:g}m",
        help="How long one batch may be retried before it counts as failed "
        "(for OTLP, without the flag: OTEL_EXPORTER_OTLP_TIMEOUT when set; the exporter stops after 6 attempts).",
    ),
    option(
        "--certificate",
        type=click.Path(exists=True, dir_okay=False),
        help="CA bundle (PEM) to verify the backends' TLS certificates, for a private CA. "
        "Without it OTLP follows OTEL_EXPORTER_OTLP_CERTIFICATE.",
    ),
    option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns; for test setups only)."),
]

OTLP_REQUESTS: list[Decorator[Any]] = [
    option(
        "--batch-size",
        type=click.IntRange(min=1),
        metavar="N",
        default=DEFAULT_BATCH_SIZE,
        show_default=True,
        help="Spans per OTLP request at most.",
    ),
    option(
        "--max-request-bytes",
        type=SizeType(),
        default=format_size(DEFAULT_MAX_REQUEST_BYTES),
        show_default=True,
        help="Encoded bytes per OTLP request at most (before compression).",
    ),
]

LOKI: list[Decorator[Any]] = [
    option(
        "--loki-url",
        default=DEFAULT_URL,
        show_default=True,
        envvar="LOKI_ADDR",
        show_envvar=True,
        metavar="URL",
        help="Loki base URL (user info in it is used for basic auth).",
    ),
    option(
        "--loki-tenant",
        envvar="LOKI_ORG_ID",
        show_envvar=True,
        metavar="ID",
        help="Loki tenant (X-Scope-OrgID).",
    ),
    pairs("--loki-header", "loki_headers", help="Loki request header (repeatable)."),
    option("--loki-user", metavar="USER", envvar="LOKI_USERNAME", show_envvar=True, help="Loki basic-auth user."),
    option(
        "--loki-password",
        metavar="PASSWORD",
        envvar=["LOKI_PASSWORD", "OTEL_REPLAY_LOKI_PASSWORD"],
        show_envvar=True,
        help="Loki basic-auth password (better from the environment than on the command line).",
    ),
    option(
        "--loki-bearer-token",
        envvar="LOKI_BEARER_TOKEN",
        show_envvar=True,
        metavar="TOKEN",
        help="Send Authorization: Bearer TOKEN to Loki (instead of basic auth).",
    ),
    pairs("--loki-label", "loki_labels", help="Extra Loki stream label (repeatable; keep it low-cardinality)."),
    option(
        "--no-structured-metadata",
        is_flag=True,
        help="Put trace_id/span_id and attributes in the line as logfmt (Loki 2.x).",
    ),
    option(
        "--loki-batch-bytes",
        type=SizeType(),
        default=format_size(DEFAULT_BATCH_BYTES),
        show_default=True,
        help="Uncompressed bytes per Loki push at most.",
    ),
    option(
        "--loki-compression",
        type=click.Choice(["gzip", "none"]),
        default="gzip",
        show_default=True,
        help="Loki push body compression (none: for a Loki on this machine, where gzip costs CPU at both ends "
        "and saves nothing).",
    ),
    option(
        "--loki-max-line-bytes",
        type=SizeType(),
        default=format_size(DEFAULT_MAX_LINE_BYTES),
        show_default=True,
        help="Longer lines are cut to this with a marker (Loki refuses them otherwise; its max_line_size).",
    ),
]
