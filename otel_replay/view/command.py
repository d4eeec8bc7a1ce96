"""``otel-replay view PATH... -o report.html``: the flags, then collect → data → page → file.
Nothing else lives here (cli.py registers the command)."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import click

from otel_replay.collect import collect
from otel_replay.command import plan_or_usage_error
from otel_replay.flagtypes import SizeType
from otel_replay.options import ReplayOptions
from otel_replay.report import Report
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES
from otel_replay.view.data import build
from otel_replay.view.page import render


@click.command("view", short_help="Write one self-contained HTML page to look at a bug report offline.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", required=True, metavar="FILE", help="Write the page here (- for stdout).")
@click.option(
    "--include", multiple=True, metavar="GLOB", help="Also read matching files skipped by default (as replay)."
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip the files and folders that match (as replay).")
@click.option("--signals", "signal_list", metavar="LIST", help="Only these signals: traces, logs, metrics.")
@click.option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h).")
@click.option("--until", metavar="TIME", help="Keep records before TIME.")
@click.option("--trace-id", "trace_ids", multiple=True, metavar="ID", help="Keep this trace and its logs (repeatable).")
@click.option("--service", "services", multiple=True, metavar="NAME", help="Keep this service.name (repeatable).")
@click.option("--scrub", multiple=True, metavar="RULES", help="Scrub every record first: a preset or a rules file.")
@click.option("--scrub-salt", metavar="SECRET", envvar="OTEL_REPLAY_SCRUB_SALT", help="Key of hashed values.")
@click.option(
    "--max-archive-bytes",
    type=SizeType(),
    default=DEFAULT_MAX_ARCHIVE_BYTES,
    show_default=True,
    help="Stop reading an archive that expands beyond this.",
)
def view_command(*, output: str, **flags: Any) -> None:
    """Write one HTML page showing a bug report: the traces (a list, and a waterfall of
    each with its spans' attributes, events and logs), every log record, and a chart per
    metric series. The page needs no server and makes no request: open it in a browser,
    offline. Reads the inputs as replay does (same filters, same dedup of latest* copies).

    Exit status: 0 written, 1 written but replay would report problems (listed in the
    page), 2 usage error or the page could not be written.
    """
    plan = plan_or_usage_error(ReplayOptions(dry_run=True, **flags))
    found = collect(plan, sys.stdin.buffer if "-" in plan.paths else None)
    stats = found.stats
    doc = build(found.records, found.inputs, [p.line() for p in stats.problems], stats.problem_count)
    _write(output, render(doc))
    counts = doc["counts"]
    where = "stdout" if output == "-" else output
    click.echo(
        f"wrote {where}: {len(doc['traces'])} traces, {counts['spans']} spans, {counts['logs']} log records, "
        f"{counts['points']} metric points, {stats.problem_count} problems",
        err=True,
    )
    for problem in stats.problems[:5]:
        click.echo(f"  {problem.line()}", err=True)
    if stats.problem_count > 5:
        click.echo(f"  … {stats.problem_count - 5} more in the page", err=True)
    sys.exit(Report(found.stats, "dry-run").exit_status)


def _write(output: str, page: str) -> None:
    """The page to ``output`` whole or not at all (a temporary file renamed into place)."""
    if output == "-":
        sys.stdout.write(page)
        sys.stdout.flush()
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=".otel-replay-view-", suffix=".html", dir=os.path.dirname(os.path.abspath(output))
        )
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # as a plain open() would create it (mkstemp makes it 0600)
        os.replace(tmp, output)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise click.BadParameter(f"cannot write {output}: {exc.strerror or exc}", param_hint="'-o'") from None
