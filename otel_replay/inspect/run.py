"""What ``otel-replay inspect`` does: flags → the dry-run plan → collect → summarise (or
one trace's tree) → print as plain text, with rich on a terminal, or as JSON."""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

from otel_replay.collect import Collected, collect
from otel_replay.command import plan_or_usage_error
from otel_replay.inspect.complaints import Complaints, complaints
from otel_replay.inspect.layout import Block, problems, summary_blocks, trace_blocks
from otel_replay.inspect.summary import summarise
from otel_replay.inspect.tree import trace_view
from otel_replay.model import LogRecord, SpanRecord
from otel_replay.options import ReplayOptions

_encode = msgspec.json.Encoder(enc_hook=str).encode  # NaN and ±Infinity become null


def inspect(options: ReplayOptions, trace: str | None, as_json: bool) -> int:
    """Prints what the inputs hold; returns the exit status replay --dry-run would have."""
    plan = plan_or_usage_error(options, env={})
    found = collect(plan, sys.stdin.buffer if "-" in plan.paths else None)
    said = complaints(found.stats)
    if trace is None:
        summary = summarise(found)
        _print(summary.to_dict(), summary_blocks(summary), as_json)
    else:
        _print_trace(found, trace, said, as_json)
    return said.exit_status


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
