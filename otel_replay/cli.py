"""The ``otel-replay`` command: flags → sinks and transforms → pipeline.run() → summary."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import click
from urllib3.exceptions import InsecureRequestWarning

from otel_replay import __version__
from otel_replay.config import (
    LOGS_PATH,
    METRICS_PATH,
    Redactor,
    basic_auth_secret,
    env_header_secrets,
    parse_duration,
    parse_instant,
    parse_pairs,
    parse_size,
    signal_endpoint,
    url_secrets,
)
from otel_replay.model import ResourceOverrides, Signal
from otel_replay.plan import PlanError, RunPlan, Selection
from otel_replay.report import EXIT_USAGE, Report
from otel_replay.resume import StateFileError
from otel_replay.runner import SetupError, execute
from otel_replay.sinks.loki import DEFAULT_BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, DEFAULT_URL, LokiConfig
from otel_replay.sinks.otlp_config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_RETRY_TIME,
    OtlpConfig,
)
from otel_replay.sources.common import parse_hex_id
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES, ArchiveLimits
from otel_replay.stats import RunStats


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


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    try:
        return parse_pairs(values, flag)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="otel-replay")
def main() -> None:
    """Replay recorded OpenTelemetry telemetry into Tempo, Loki or any OTLP backend."""


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option(
    "--otlp-endpoint",
    "--tempo-url",
    "otlp_endpoint",
    metavar="URL",
    help="OTLP/HTTP base URL; /v1/traces is appended. Default: OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318.",
)
@click.option("--otlp-traces-endpoint", metavar="URL", help="Full traces URL, used as it is.")
@click.option(
    "--logs-to",
    type=click.Choice(["loki", "otlp"]),
    default="loki",
    show_default=True,
    help="Log records to Loki's push API, or as OTLP logs through the official exporter "
    "(to --otlp-endpoint + /v1/logs: a Collector, Loki 3's /otlp, any OTLP backend).",
)
@click.option("--otlp-logs-endpoint", metavar="URL", help="Full OTLP logs URL for --logs-to otlp, used as it is.")
@click.option(
    "--otlp-metrics-endpoint",
    metavar="URL",
    help="Full OTLP metrics URL, used as it is (Tempo takes no metrics; Prometheus: "
    "http://HOST:9090/api/v1/otlp/v1/metrics). Default: --otlp-endpoint + /v1/metrics.",
)
@click.option("--header", "headers", multiple=True, metavar="KEY=VALUE", help="OTLP request header (repeatable).")
@click.option("--compression", type=click.Choice(["gzip", "none"]), help="OTLP compression.")
@click.option(
    "--timeout",
    type=DurationType(),
    default="10s",
    show_default=True,
    metavar="DURATION",
    help="How long one request attempt may take (OTLP and Loki).",
)
@click.option(
    "--max-retry-time",
    type=DurationType(),
    metavar="DURATION",
    help="How long one batch may be retried before it counts as failed. Default 5m "
    "(for OTLP: OTEL_EXPORTER_OTLP_TIMEOUT when set; the exporter stops after 6 attempts).",
)
@click.option(
    "--certificate",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle (PEM) to verify the backends' TLS certificates, for a private CA.",
)
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns; for test setups only).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Spans per OTLP request at most.",
)
@click.option(
    "--max-request-bytes",
    type=SizeType(),
    default=DEFAULT_MAX_REQUEST_BYTES,
    show_default=True,
    help="Encoded bytes per OTLP request at most (e.g. 4MiB).",
)
@click.option("--service-name", help="Override service.name (default: the file's service, else codemachine).")
@click.option(
    "--resource-attr",
    "resource_attrs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a resource attribute (repeatable).",
)
@click.option(
    "--loki-url",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="Loki base URL (user info in it is used for basic auth).",
)
@click.option("--loki-tenant", metavar="ID", help="Loki tenant (X-Scope-OrgID).")
@click.option(
    "--loki-header",
    "loki_headers",
    multiple=True,
    metavar="KEY=VALUE",
    help="Loki request header (repeatable).",
)
@click.option("--loki-user", help="Loki basic-auth user.")
@click.option(
    "--loki-password",
    envvar="OTEL_REPLAY_LOKI_PASSWORD",
    help="Loki basic-auth password (or OTEL_REPLAY_LOKI_PASSWORD).",
)
@click.option(
    "--loki-label",
    "loki_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra Loki stream label (repeatable; keep it low-cardinality).",
)
@click.option(
    "--no-structured-metadata",
    is_flag=True,
    help="Put trace_id/span_id and attributes in the line as logfmt (Loki 2.x).",
)
@click.option(
    "--loki-batch-bytes",
    type=SizeType(),
    default=DEFAULT_BATCH_BYTES,
    show_default=True,
    help="Uncompressed bytes per Loki push at most.",
)
@click.option(
    "--loki-max-line-bytes",
    type=SizeType(),
    default=DEFAULT_MAX_LINE_BYTES,
    show_default=True,
    help="Longer lines are cut to this with a marker (Loki refuses them otherwise; its max_line_size).",
)
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Write OTLP/JSON Lines (traces.jsonl, logs.jsonl, metrics.jsonl) here instead of sending.",
)
@click.option("--dry-run", is_flag=True, help="Read and validate everything, send nothing.")
@click.option(
    "--signals",
    "signal_list",
    metavar="LIST",
    help="Replay only these signals, comma-separated: traces, logs, metrics (default: all three).",
)
@click.option("--traces-only", is_flag=True, help="Replay spans only (--signals traces).")
@click.option("--logs-only", is_flag=True, help="Replay log records only (--signals logs).")
@click.option(
    "--shift-to-now",
    is_flag=True,
    help="Move all timestamps by one offset so the newest record lands now (Loki refuses old entries).",
)
@click.option("--time-offset", metavar="DURATION", help="Move all timestamps by this much (e.g. -3d, 90m, 1h30m).")
@click.option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h).")
@click.option("--until", metavar="TIME", help="Keep records before TIME.")
@click.option("--trace-id", "trace_ids", multiple=True, metavar="ID", help="Keep this trace and its logs (repeatable).")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Keep this service.name (repeatable).")
@click.option(
    "--max-archive-bytes",
    type=SizeType(),
    default=DEFAULT_MAX_ARCHIVE_BYTES,
    show_default=True,
    help="Stop reading an archive that expands beyond this (decompression bombs; also refused past 1000:1).",
)
@click.option(
    "--resume",
    type=click.Path(dir_okay=False),
    metavar="STATE_FILE",
    help="Journal acknowledged records here; a rerun with the same file sends only the rest.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help="Processes that read, convert and export inputs in parallel (one input at a time each; "
    "Loki still gets each stream oldest first). 1 = no worker processes.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Requests in flight per signal (and per worker): more hides a remote backend's latency. "
    "Loki pushes that share a stream still go one after another, oldest first.",
)
@click.option("-v", "--verbose", is_flag=True, help="Print each batch's outcome and the exporter's retries on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object on stdout.")
def replay(
    paths: tuple[str, ...],
    otlp_endpoint: str | None,
    otlp_traces_endpoint: str | None,
    logs_to: str,
    otlp_logs_endpoint: str | None,
    otlp_metrics_endpoint: str | None,
    headers: tuple[str, ...],
    compression: str | None,
    timeout: float,
    max_retry_time: float | None,
    certificate: str | None,
    insecure: bool,
    batch_size: int,
    max_request_bytes: int,
    service_name: str | None,
    resource_attrs: tuple[str, ...],
    loki_url: str,
    loki_tenant: str | None,
    loki_headers: tuple[str, ...],
    loki_user: str | None,
    loki_password: str | None,
    loki_labels: tuple[str, ...],
    no_structured_metadata: bool,
    loki_batch_bytes: int,
    loki_max_line_bytes: int,
    output_dir: str | None,
    dry_run: bool,
    signal_list: str | None,
    traces_only: bool,
    logs_only: bool,
    shift_to_now: bool,
    time_offset: str | None,
    since: str | None,
    until: str | None,
    trace_ids: tuple[str, ...],
    services: tuple[str, ...],
    max_archive_bytes: int,
    resume: str | None,
    workers: int,
    concurrency: int,
    verbose: bool,
    as_json: bool,
) -> None:
    """Replay CodeMachine sessions and OTLP/JSON (documents or JSON Lines) from folders,
    files, .zip/.tar archives, .gz/.zst files or - (stdin).

    Spans and metrics go to an OTLP/HTTP endpoint through the official exporters, log
    records to Loki (or, with --logs-to otlp, through the official OTLP log exporter).
    Exit status: 0 all delivered, 1 something invalid, rejected or failed, 2 usage.
    """
    signals = _signals(signal_list, traces_only, logs_only)
    missing = [p for p in paths if p != "-" and not os.path.lexists(p)]
    if missing:
        raise click.UsageError(f"no such file or folder: {missing[0]}")
    if insecure and certificate:
        raise click.UsageError("--insecure and --certificate exclude each other")
    if insecure and not (dry_run or output_dir):
        click.echo("otel-replay: warning: --insecure: TLS certificates are not verified", err=True)
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)  # said once above
    if shift_to_now and time_offset:
        raise click.UsageError("--shift-to-now and --time-offset exclude each other")
    selection = _selection(shift_to_now, time_offset, since, until, trace_ids, services)
    otlp_headers = _pairs(headers, "--header")
    loki_header_map = _pairs(loki_headers, "--loki-header")
    overrides = ResourceOverrides(service_name, _pairs(resource_attrs, "--resource-attr"))
    extra_labels = _pairs(loki_labels, "--loki-label")

    explicit_traces = signal_endpoint(otlp_endpoint, otlp_traces_endpoint)
    explicit_logs = signal_endpoint(otlp_endpoint, otlp_logs_endpoint, LOGS_PATH)
    explicit_metrics = signal_endpoint(otlp_endpoint, otlp_metrics_endpoint, METRICS_PATH)
    loki = LokiConfig(
        url=loki_url,
        tenant=loki_tenant,
        headers=loki_header_map,
        user=loki_user,
        password=loki_password,
        labels=extra_labels,
        structured_metadata=not no_structured_metadata,
        batch_bytes=loki_batch_bytes,
        max_line_bytes=loki_max_line_bytes,
        timeout=timeout,
        max_retry_time=max_retry_time or DEFAULT_MAX_RETRY_TIME,
        certificate=certificate,
        verify=not insecure,
        concurrency=concurrency,
    )
    loki_auth = loki.auth()
    redact = Redactor(
        [
            basic_auth_secret(*loki_auth) if loki_auth else None,
            *otlp_headers.values(),
            *loki_header_map.values(),
            loki_password,
            *env_header_secrets(),
            *url_secrets(loki_url),
            *url_secrets(otlp_endpoint),
            *url_secrets(otlp_traces_endpoint),
            *url_secrets(otlp_logs_endpoint),
            *url_secrets(otlp_metrics_endpoint),
        ]
    )
    otlp = OtlpConfig(
        explicit_traces,
        explicit_logs,
        explicit_metrics,
        otlp_headers or None,
        compression,
        timeout,
        max_retry_time,
        certificate,
        not insecure,
        batch_size,
        max_request_bytes,
        concurrency,
    )
    try:
        plan = RunPlan.from_options(
            paths=paths,
            signals=signals,
            otlp=otlp,
            loki=loki,
            selection=selection,
            overrides=overrides,
            redact=redact,
            dry_run=dry_run,
            output_dir=output_dir,
            resume_path=resume,
            limits=ArchiveLimits(max_archive_bytes),
            logs_to=logs_to,
            workers=workers,
        )
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None
    progress = _Progress() if sys.stderr.isatty() and not as_json else None

    def notify(message: str) -> None:
        if progress is not None:
            progress.clear()
        click.echo(f"otel-replay: {redact(message)}", err=True)

    try:
        report, status = execute(
            plan, sys.stdin.buffer if "-" in paths else None, progress, notify, notify if verbose else None
        )
    except (SetupError, StateFileError) as exc:
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:  # before the replay started (reading for --shift-to-now)
        click.echo("otel-replay: interrupted before anything was sent", err=True)
        sys.exit(130)
    finally:
        if progress is not None:
            progress.clear()
    _print_report(report, as_json)
    sys.exit(status)


def _signals(signal_list: str | None, traces_only: bool, logs_only: bool) -> list[Signal]:
    """The signals to replay, in pipeline order, from --signals / --traces-only / --logs-only."""
    given = (("--signals", signal_list), ("--traces-only", traces_only), ("--logs-only", logs_only))
    chosen = [flag for flag, on in given if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{chosen[0]} and {chosen[1]} exclude each other")
    if traces_only:
        return [Signal.TRACES]
    if logs_only:
        return [Signal.LOGS]
    if not signal_list:
        return list(Signal)
    names = {part.strip().lower() for part in signal_list.split(",") if part.strip()}
    unknown = sorted(names - {s.value for s in Signal})
    if unknown or not names:
        what = repr(unknown[0] if unknown else signal_list)
        raise click.BadParameter(f"{what} is not a signal (traces, logs, metrics)", param_hint="--signals")
    return [s for s in Signal if s.value in names]


def _selection(
    shift_to_now: bool,
    time_offset: str | None,
    since: str | None,
    until: str | None,
    trace_ids: tuple[str, ...],
    services: tuple[str, ...],
) -> Selection:
    now_ns = time.time_ns()

    def parse(flag: str, fn: Callable[[], int]) -> int:
        try:
            return fn()
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from None

    offset = parse("--time-offset", lambda: parse_duration(time_offset)) if time_offset else 0
    since_ns = parse("--since", lambda: parse_instant(since, now_ns)) if since else None
    until_ns = parse("--until", lambda: parse_instant(until, now_ns)) if until else None
    if since_ns is not None and until_ns is not None and until_ns <= since_ns:
        raise click.UsageError("--until must be later than --since")
    ids = [parse("--trace-id", lambda t=t: parse_hex_id(t.strip(), 16, "trace id")) for t in trace_ids]
    return Selection(
        now_ns=now_ns,
        offset_ns=offset,
        shift_to_now=shift_to_now,
        since_ns=since_ns,
        until_ns=until_ns,
        trace_ids=tuple(ids),
        services=services,
    )


def _print_report(report: Report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        click.echo(report.render_text(), err=False)


class _Progress:
    """A one-line status on stderr, rewritten after each file (only on a terminal)."""

    def __init__(self) -> None:
        self._shown = False

    def __call__(self, stats: RunStats) -> None:
        t, lg, m = (stats.signals[s] for s in (Signal.TRACES, Signal.LOGS, Signal.METRICS))
        text = (
            f"\r[otel-replay] files {stats.files_read}  spans {t.read} read / {t.sent} sent  "
            f"logs {lg.read} read / {lg.sent} sent" + (f"  points {m.read} read / {m.sent} sent" if m.read else "")
        )
        click.echo(text, err=True, nl=False)
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            click.echo("\r\x1b[2K", err=True, nl=False)


def run() -> None:  # pragma: no cover - console entry with a last-resort guard
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("OTEL_REPLAY_DEBUG"):
            raise
        click.echo(f"otel-replay: internal error (please report it): {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_USAGE + 1)
