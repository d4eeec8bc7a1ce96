"""The flags of ``otel-replay replay``, declared in groups; their values are interpreted
by :mod:`otel_replay.options` (each flag's destination name is a field of
:class:`~otel_replay.options.ReplayOptions`).

To add a flag: add its ``option(...)`` to the list of its group below (``--help`` and
docs/cli.md list the groups of :data:`GROUPS` in order; ``tests/cli_reference.py``
rewrites docs/cli.md), and a field of the same name to ``ReplayOptions``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import cloup

from otel_replay.config import DEFAULT_OTLP_BASE, format_size
from otel_replay.flagtypes import DurationType, SizeType
from otel_replay.options import DEFAULT_COMPRESSION
from otel_replay.plan import LOGS_TO
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME
from otel_replay.sinks.loki import DEFAULT_BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, DEFAULT_URL
from otel_replay.sinks.otlp_config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_REQUEST_BYTES,
    OTLP_ENV,
    PROTOCOLS,
)
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


def _pairs(*names: str, help: str) -> Decorator[Any]:
    """A repeatable ``KEY=VALUE`` flag."""
    return option(*names, multiple=True, metavar="KEY=VALUE", help=help)


class ReplayOption(click.Option):
    """An option whose help names the OTLP variable the exporter reads in its place
    (:data:`OTLP_ENV`) beside click's own ``env var``, and shows a default given as text
    (``show_default="CPU count"``) as it is, without parentheses."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.name in OTLP_ENV:
            extra["envvars"] = (*extra.get("envvars", ()), OTLP_ENV[self.name])
        if isinstance(self.show_default, str):
            extra["default"] = self.show_default
        return extra


def option(*names: str, **attrs: Any) -> Decorator[Any]:
    """``click.option`` with :class:`ReplayOption`: every flag of the command is declared by it."""
    return click.option(*names, cls=ReplayOption, **attrs)


INPUTS: list[Decorator[Any]] = [
    cloup.argument(
        "paths",
        nargs=-1,
        required=True,
        metavar="PATH...",
        help="Folders, files, .zip/.tar(.gz) archives, .gz/.zst files, or - for stdin.",
    )
]

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
    _pairs("--header", "headers", help="OTLP request header (repeatable), over those of the variable."),
    option(
        "--compression",
        type=click.Choice(["gzip", "none"]),
        show_default=DEFAULT_COMPRESSION,
        help="OTLP request body compression; without the flag an OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION "
        "variable, when set, decides. Loki pushes are always gzip.",
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

RESOURCE: list[Decorator[Any]] = [
    option(
        "--service-name", metavar="NAME", help="Override service.name (default: the file's service, else codemachine)."
    ),
    _pairs("--resource-attr", "resource_attrs", help="Add a resource attribute (repeatable)."),
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
    _pairs("--loki-header", "loki_headers", help="Loki request header (repeatable)."),
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
    _pairs("--loki-label", "loki_labels", help="Extra Loki stream label (repeatable; keep it low-cardinality)."),
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
        "--loki-max-line-bytes",
        type=SizeType(),
        default=format_size(DEFAULT_MAX_LINE_BYTES),
        show_default=True,
        help="Longer lines are cut to this with a marker (Loki refuses them otherwise; its max_line_size).",
    ),
]

MODE: list[Decorator[Any]] = [
    option(
        "--output",
        "output_dir",
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Write OTLP/JSON Lines (traces.jsonl, logs.jsonl, metrics.jsonl) here instead of sending.",
    ),
    option(
        "--overwrite",
        is_flag=True,
        help="With --output: replace an earlier run's files in DIR (all three; without it such a DIR is refused).",
    ),
    option("--dry-run", is_flag=True, help="Read and validate everything (and the URLs), send nothing."),
]

SELECTION: list[Decorator[Any]] = [
    option(
        "--include",
        multiple=True,
        metavar="GLOB",
        help="Also read the files of folders and archives that match, though skipped by default "
        "(packaging noise such as node_modules/; see docs/input-rules.md). Repeatable.",
    ),
    option(
        "--exclude",
        multiple=True,
        metavar="GLOB",
        help="Skip the files and folders that match (their path in the folder or archive, or their name). Repeatable.",
    ),
    option(
        "--signals",
        "signal_list",
        metavar="LIST",
        help="Replay only these signals, comma-separated: traces, logs, metrics (default: all three).",
    ),
    option("--traces-only", is_flag=True, help="Replay spans only (--signals traces)."),
    option("--logs-only", is_flag=True, help="Replay log records only (--signals logs)."),
    option("--trace-id", "trace_ids", multiple=True, metavar="ID", help="Keep this trace and its logs (repeatable)."),
    option("--service", "services", multiple=True, metavar="NAME", help="Keep this service.name (repeatable)."),
    option(
        "--max-archive-bytes",
        type=SizeType(),
        default=format_size(DEFAULT_MAX_ARCHIVE_BYTES),
        show_default=True,
        help="Stop reading an archive that expands beyond this (decompression bombs; also refused past 1000:1).",
    ),
]

TIME: list[Decorator[Any]] = [
    option(
        "--shift-to-now",
        is_flag=True,
        help="Move all timestamps by one offset so the newest record lands now (Loki refuses old entries).",
    ),
    option("--time-offset", metavar="DURATION", help="Move all timestamps by this much (e.g. -3d, 90m, 1h30m)."),
    option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h)."),
    option("--until", metavar="TIME", help="Keep records before TIME."),
]

RUN: list[Decorator[Any]] = [
    option(
        "--resume",
        type=click.Path(dir_okay=False),
        metavar="STATE_FILE",
        help="Journal acknowledged records here; a rerun with the same file sends only the rest.",
    ),
    option(
        "--resume-elsewhere",
        is_flag=True,
        help="Use a --resume state file written for other destinations (what it lists is still skipped).",
    ),
]

PERFORMANCE: list[Decorator[Any]] = [
    option(
        "--workers",
        type=click.IntRange(min=1),
        metavar="N",
        default=lambda: os.cpu_count() or 1,
        show_default="CPU count",
        help="Processes that read, convert and export inputs in parallel (one input at a time each; "
        "Loki still gets each stream oldest first). 1 = no worker processes.",
    ),
    option(
        "--concurrency",
        type=click.IntRange(min=1),
        metavar="N",
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Requests in flight per signal (and per worker): more hides a remote backend's latency. "
        "Loki pushes that share a stream still go one after another, oldest first.",
    ),
]

_SCRUB_HELP = "Scrub every record before any sink: a preset (secrets, pii, codemachine) or a TOML rules file"
_SALT_HELP = "Key of hashed values: equal values give equal tokens across runs (default: random for each run)."
SCRUB: list[Decorator[Any]] = [
    option("--scrub", multiple=True, metavar="RULES", help=f"{_SCRUB_HELP} (repeatable; docs/scrub.md)."),
    option("--scrub-salt", metavar="SECRET", envvar="OTEL_REPLAY_SCRUB_SALT", show_envvar=True, help=_SALT_HELP),
    option("--scrub-check", is_flag=True, help="List per rule the keys and counts of values --scrub would change."),
]

#: What the command prints; not part of the plan.
PRINTING: list[Decorator[Any]] = [
    option("-v", "--verbose", is_flag=True, help="Print each batch's outcome and the exporter's retries on stderr."),
    option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout."),
    option(
        "--problems",
        type=click.Path(dir_okay=False),
        metavar="FILE",
        help="Write every problem here, one JSON object per line (the summary groups them when there are many).",
    ),
]

#: Every group as ``--help`` and docs/cli.md list them: (title, its options).
GROUPS: list[tuple[str, list[Decorator[Any]]]] = [
    ("Inputs and selection", SELECTION),
    ("Time", TIME),
    ("OTLP (spans, metric points; log records with --logs-to otlp)", OTLP + OTLP_REQUESTS),
    ("Loki (log records)", LOKI),
    ("Resource (every record)", RESOURCE),
    ("Scrub (what leaves the machine)", SCRUB),
    ("Output", MODE + PRINTING),
    ("Reliability (OTLP and Loki)", TRANSPORT + RUN),
    ("Performance", PERFORMANCE),
]

#: Shown after the options in ``replay --help`` (``\b``: keep the lines as they are).
EXAMPLES = """\b
Examples:
  otel-replay replay bug-report.zip --shift-to-now
  otel-replay replay ./session --dry-run
  otel-replay replay spans.jsonl.gz --otlp-endpoint https://otlp.example.com \\
      --header "Authorization=Bearer $TOKEN"
  LOKI_ADDR=http://loki:3100 otel-replay replay bug.zip --logs-only
  otel-replay replay bug.zip --output ./replayed

\b
Exit status: 0 all delivered, 1 something invalid, rejected or failed,
2 usage error or nothing could be sent. Full reference: docs/cli.md."""


def replay_flags(command: F) -> F:
    """``PATH...`` and every flag of ``otel-replay replay``, in their groups, as one decorator."""
    for title, options in reversed(GROUPS):
        command = cloup.option_group(title, *options)(command)
    for argument in reversed(INPUTS):
        command = argument(command)
    return command
