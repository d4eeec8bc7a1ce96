"""``otel-replay inspect PATH...``: the flags, and nothing else (cli.py registers the
command; run.py does the work, imported only when the command runs)."""

from __future__ import annotations

import sys
from typing import Any

import click

from otel_replay.flags import SizeType
from otel_replay.options import ReplayOptions
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES


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

    Exit status: replay --dry-run's (0 nothing to complain about, 1 problems or
    nothing to replay), 2 usage.
    """
    from otel_replay.inspect.run import inspect  # the readers and renderers: only when inspecting

    sys.exit(inspect(ReplayOptions(dry_run=True, **flags), trace, as_json))
