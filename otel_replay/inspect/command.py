"""``otel-replay inspect PATH...``: the flags, and nothing else (cli.py registers the
command; run.py does the work, imported only when the command runs). The inputs and the
selection are replay's own flags (flags.py), read by the same code."""

from __future__ import annotations

import sys
from typing import Any

import cloup

from otel_replay.flags import SCRUB, SELECTION, inputs
from otel_replay.flagtypes import option
from otel_replay.options import ReplayOptions

#: Shown after the options in ``inspect --help``.
EXAMPLES = """\b
Examples:
  otel-replay inspect bug-report.zip
  otel-replay inspect bug-report.zip --trace db5b5fab
  otel-replay inspect spans.jsonl --json | jq '.traces[0]'

\b
Exit status: the one replay --dry-run would have (0 nothing to complain about,
1 problems or nothing to replay), 2 usage error. Details: docs/inspect.md."""


@cloup.command(
    "inspect",
    short_help="Show what a bug report holds: sessions, traces, metrics, problems (sends nothing).",
    epilog=EXAMPLES,
)
@inputs
@cloup.option_group("Inputs and selection", *SELECTION)
@cloup.option_group(
    "Time",
    option("--since", metavar="TIME", help="Keep records from TIME on (ISO 8601, epoch, or a duration ago: 2h)."),
    option("--until", metavar="TIME", help="Keep records before TIME."),
)
@cloup.option_group("Scrub (what is shown)", *SCRUB[:2])
@cloup.option_group(
    "Output",
    option("--trace", "trace", metavar="ID", help="Show this trace (its id, or the start of it) as a span tree."),
    option("--json", "as_json", is_flag=True, help="Print everything as one JSON object on stdout."),
)
def inspect_command(*, trace: str | None, as_json: bool, **flags: Any) -> None:
    """What is in a bug report, with nothing running: sessions and files, the recorded
    time range, services, counts, every trace (errors first), the metrics, and what replay
    would complain about. Reads the inputs as replay does (same filters, same dedup of
    latest* copies); sends nothing.
    """
    from otel_replay.inspect.run import inspect  # the readers and renderers: only when inspecting

    sys.exit(inspect(ReplayOptions(dry_run=True, **flags), trace, as_json))
