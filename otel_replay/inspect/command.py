"""``otel-replay inspect PATH...``: the flags, then collect → summarise → print. Nothing
else lives here (cli.py registers the command)."""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

from otel_replay.flags import SizeType
from otel_replay.inspect.collect import Collected, collect
from otel_replay.inspect.complaints import Complaints, complaints
from otel_replay.inspect.layout import Block, problems, summary_blocks, trace_blocks
from otel_replay.inspect.summary import summarise
from otel_replay.inspect.tree import trace_view
from otel_replay.model import LogRecord, SpanRecord
from otel_replay.options import FlagError, PlanError, ReplayOptions, build_plan
from otel_replay.plan import RunPlan
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES

_encode = msgspec.json.Encoder(enc_hook=str).encode  # NaN and ±Infinity become null


@click.command(
    "inspect", short_help="Show what a bug report holds: sessions, traces, metrics, problems (sends nothing)."
)
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--trace", "trace", metavar="ID", help="Show this trace (its id, or the start of it) as a span tree.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object on stdout.")
@click.option("--signals", "signal_list", metavar="LIST", help="Only these signals: traces, logs, metrics.")
@click.option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h).")
@click.option("--until", metavar="TIME", help="Keep records before TIME.")
@click.option("--trace-id", "trace_ids", multiple=True, metavar="ID", help="Keep this trace and its logs (repeatable).")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Keep this service.name (repeatable).")
@click.option(
    "--max-archive-bytes",
    type=SizeType(),
    default=DEFAULT_MAX_ARCHIVE_BYTES,
    show_default=True,
    help="Stop reading an archive that expands beyond this.",
)
def inspect_command(*, trace: str | None, as_json: bool, **flags: Any) -> None:
    """What is in a bug report, with nothing running: sessions and files, the recorded
    time range, services, counts, every trace (errors first), the metrics, and the
    problems replay would report. Reads the inputs as replay does (same filters, same
    dedup of latest* copies).

    Exit status: 0 nothing to complain about, 1 replay would report problems, 2 usage.
    """
    plan = _plan(ReplayOptions(dry_run=True, **flags))
    found = collect(plan, sys.stdin.buffer if "-" in plan.paths else None)
    said = complaints(found.stats)
    if trace is None:
        summary = summarise(found)
        _print(summary.to_dict(), summary_blocks(summary), as_json)
    else:
        _print_trace(found, trace, said, as_json)
    sys.exit(said.exit_status)


def _plan(options: ReplayOptions) -> RunPlan:
    """The dry-run plan for these flags. Nothing is sent, so the environment's OTLP and
    Loki settings are not read (a wrong ``OTEL_EXPORTER_OTLP_ENDPOINT`` is no reason not
    to look)."""
    try:
        return build_plan(options, env={})
    except FlagError as exc:
        raise click.BadParameter(exc.reason, param_hint=exc.flag) from None
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None


def _print_trace(found: Collected, wanted: str, said: Complaints, as_json: bool) -> None:
    spans = [r for r in found.records if isinstance(r, SpanRecord)]
    trace_id = _find_trace(wanted, {s.trace_id for s in spans})
    view = trace_view(trace_id, spans, [r for r in found.records if isinstance(r, LogRecord)])
    _print({"trace": view.to_dict()} | said.to_dict(), [trace_blocks(view), problems(said)], as_json)


def _find_trace(wanted: str, trace_ids: set[int]) -> int:
    """The one trace whose hex id starts with ``wanted``; a usage error otherwise."""
    prefix = wanted.strip().lower()
    matches = sorted(t for t in trace_ids if f"{t:032x}".startswith(prefix)) if prefix else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise click.BadParameter(f"no trace {wanted!r} in the input ({len(trace_ids)} traces)", param_hint="--trace")
    raise click.BadParameter(f"{len(matches)} traces start with {wanted!r}: give more of the id", param_hint="--trace")


def _print(doc: dict[str, Any], blocks: list[Block], as_json: bool) -> None:
    if as_json:
        click.echo(_encode(doc).decode())
    elif sys.stdout.isatty():
        from rich.console import Console  # only on a terminal

        from otel_replay.inspect import fancy

        fancy.show(Console(highlight=False, markup=False, emoji=False), blocks)
    else:
        from otel_replay.inspect import plain

        click.echo(plain.render(blocks))
