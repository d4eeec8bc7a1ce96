"""The flags of ``otel-replay replay``, declared in groups; their values are interpreted
by :mod:`otel_replay.options` (each flag's destination name is a field of
:class:`~otel_replay.options.ReplayOptions`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from otel_replay.config import parse_duration, parse_size
from otel_replay.plan import LOGS_TO
from otel_replay.sinks.loki import DEFAULT_BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, DEFAULT_URL
from otel_replay.sinks.otlp_config import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, DEFAULT_MAX_REQUEST_BYTES
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            size = parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if size < 1024:
            self.fail(f"{value} is too small (at least 1KiB)", param, ctx)
        return size


class DurationType(click.ParamType):
    """Seconds as a number (``2.5``) or a duration (``90s``, ``5m``)."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parse_duration(str(value)) / 1e9
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"{value} must be more than zero", param, ctx)
        return seconds


def _pairs(*names: str, help: str) -> Decorator[Any]:
    """A repeatable ``KEY=VALUE`` flag."""
    return click.option(*names, multiple=True, metavar="KEY=VALUE", help=help)


INPUTS: list[Decorator[Any]] = [click.argument("paths", nargs=-1, required=True, metavar="PATH...")]

OTLP: list[Decorator[Any]] = [
    click.option(
        "--otlp-endpoint",
        "--tempo-url",
        "otlp_endpoint",
        metavar="URL",
        help="OTLP/HTTP base URL; /v1/traces is appended. Default: OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318.",
    ),
    click.option("--otlp-traces-endpoint", metavar="URL", help="Full traces URL, used as it is."),
    click.option(
        "--logs-to",
        type=click.Choice(LOGS_TO),
        default="loki",
        show_default=True,
        help="Log records to Loki's push API, or as OTLP logs through the official exporter "
        "(to --otlp-endpoint + /v1/logs: a Collector, Loki 3's /otlp, any OTLP backend).",
    ),
    click.option("--otlp-logs-endpoint", metavar="URL", help="Full OTLP logs URL for --logs-to otlp, used as it is."),
    click.option(
        "--otlp-metrics-endpoint",
        metavar="URL",
        help="Full OTLP metrics URL, used as it is (Tempo takes no metrics; Prometheus: "
        "http://HOST:9090/api/v1/otlp/v1/metrics). Default: --otlp-endpoint + /v1/metrics.",
    ),
    _pairs("--header", "headers", help="OTLP request header (repeatable)."),
    click.option("--compression", type=click.Choice(["gzip", "none"]), help="OTLP compression."),
]

TRANSPORT: list[Decorator[Any]] = [
    click.option(
        "--timeout",
        type=DurationType(),
        default="10s",
        show_default=True,
        metavar="DURATION",
        help="How long one request attempt may take (OTLP and Loki).",
    ),
    click.option(
        "--max-retry-time",
        type=DurationType(),
        metavar="DURATION",
        help="How long one batch may be retried before it counts as failed. Default 5m "
        "(for OTLP: OTEL_EXPORTER_OTLP_TIMEOUT when set; the exporter stops after 6 attempts).",
    ),
    click.option(
        "--certificate",
        type=click.Path(exists=True, dir_okay=False),
        help="CA bundle (PEM) to verify the backends' TLS certificates, for a private CA.",
    ),
    click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns; for test setups only)."),
]

OTLP_REQUESTS: list[Decorator[Any]] = [
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=DEFAULT_BATCH_SIZE,
        show_default=True,
        help="Spans per OTLP request at most.",
    ),
    click.option(
        "--max-request-bytes",
        type=SizeType(),
        default=DEFAULT_MAX_REQUEST_BYTES,
        show_default=True,
        help="Encoded bytes per OTLP request at most (e.g. 4MiB).",
    ),
]

RESOURCE: list[Decorator[Any]] = [
    click.option("--service-name", help="Override service.name (default: the file's service, else codemachine)."),
    _pairs("--resource-attr", "resource_attrs", help="Add a resource attribute (repeatable)."),
]

LOKI: list[Decorator[Any]] = [
    click.option(
        "--loki-url",
        default=DEFAULT_URL,
        show_default=True,
        metavar="URL",
        help="Loki base URL (user info in it is used for basic auth).",
    ),
    click.option("--loki-tenant", metavar="ID", help="Loki tenant (X-Scope-OrgID)."),
    _pairs("--loki-header", "loki_headers", help="Loki request header (repeatable)."),
    click.option("--loki-user", help="Loki basic-auth user."),
    click.option(
        "--loki-password",
        envvar="OTEL_REPLAY_LOKI_PASSWORD",
        help="Loki basic-auth password (or OTEL_REPLAY_LOKI_PASSWORD).",
    ),
    _pairs("--loki-label", "loki_labels", help="Extra Loki stream label (repeatable; keep it low-cardinality)."),
    click.option(
        "--no-structured-metadata",
        is_flag=True,
        help="Put trace_id/span_id and attributes in the line as logfmt (Loki 2.x).",
    ),
    click.option(
        "--loki-batch-bytes",
        type=SizeType(),
        default=DEFAULT_BATCH_BYTES,
        show_default=True,
        help="Uncompressed bytes per Loki push at most.",
    ),
    click.option(
        "--loki-max-line-bytes",
        type=SizeType(),
        default=DEFAULT_MAX_LINE_BYTES,
        show_default=True,
        help="Longer lines are cut to this with a marker (Loki refuses them otherwise; its max_line_size).",
    ),
]

MODE: list[Decorator[Any]] = [
    click.option(
        "--output",
        "output_dir",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Write OTLP/JSON Lines (traces.jsonl, logs.jsonl, metrics.jsonl) here instead of sending.",
    ),
    click.option(
        "--overwrite",
        is_flag=True,
        help="With --output: replace an earlier run's files in DIR (all three; without it such a DIR is refused).",
    ),
    click.option("--dry-run", is_flag=True, help="Read and validate everything, send nothing."),
]

SELECTION: list[Decorator[Any]] = [
    click.option(
        "--signals",
        "signal_list",
        metavar="LIST",
        help="Replay only these signals, comma-separated: traces, logs, metrics (default: all three).",
    ),
    click.option("--traces-only", is_flag=True, help="Replay spans only (--signals traces)."),
    click.option("--logs-only", is_flag=True, help="Replay log records only (--signals logs)."),
    click.option(
        "--shift-to-now",
        is_flag=True,
        help="Move all timestamps by one offset so the newest record lands now (Loki refuses old entries).",
    ),
    click.option("--time-offset", metavar="DURATION", help="Move all timestamps by this much (e.g. -3d, 90m, 1h30m)."),
    click.option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h)."),
    click.option("--until", metavar="TIME", help="Keep records before TIME."),
    click.option(
        "--trace-id", "trace_ids", multiple=True, metavar="ID", help="Keep this trace and its logs (repeatable)."
    ),
    click.option("--service", "services", multiple=True, metavar="NAME", help="Keep this service.name (repeatable)."),
]

RUN: list[Decorator[Any]] = [
    click.option(
        "--max-archive-bytes",
        type=SizeType(),
        default=DEFAULT_MAX_ARCHIVE_BYTES,
        show_default=True,
        help="Stop reading an archive that expands beyond this (decompression bombs; also refused past 1000:1).",
    ),
    click.option(
        "--resume",
        type=click.Path(dir_okay=False),
        metavar="STATE_FILE",
        help="Journal acknowledged records here; a rerun with the same file sends only the rest.",
    ),
    click.option(
        "--resume-elsewhere",
        is_flag=True,
        help="Use a --resume state file written for other destinations (what it lists is still skipped).",
    ),
    click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=lambda: os.cpu_count() or 1,
        show_default="CPU count",
        help="Processes that read, convert and export inputs in parallel (one input at a time each; "
        "Loki still gets each stream oldest first). 1 = no worker processes.",
    ),
    click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight per signal (and per worker): more hides a remote backend's latency. "
        "Loki pushes that share a stream still go one after another, oldest first.",
    ),
]

#: What the command prints; not part of the plan.
PRINTING: list[Decorator[Any]] = [
    click.option(
        "-v", "--verbose", is_flag=True, help="Print each batch's outcome and the exporter's retries on stderr."
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout."),
]

#: Every group, in the order ``--help`` lists them.
GROUPS: list[list[Decorator[Any]]] = [
    INPUTS,
    OTLP,
    TRANSPORT,
    OTLP_REQUESTS,
    RESOURCE,
    LOKI,
    MODE,
    SELECTION,
    RUN,
    PRINTING,
]


def apply(groups: Sequence[Sequence[Decorator[F]]]) -> Decorator[F]:
    """Applies these option decorators as if written one above the other, first on top."""

    def decorate(command: F) -> F:
        for decorator in reversed([d for group in groups for d in group]):
            command = decorator(command)
        return command

    return decorate


replay_flags: Decorator[Any] = apply(GROUPS)
"""``PATH...`` and every flag of ``otel-replay replay``, as one decorator."""
