"""The flags of ``otel-replay replay``, declared in groups; their values are interpreted
by :mod:`otel_replay.options`; the destination groups (OTLP, Loki) are in
:mod:`otel_replay.destflags` (each flag's destination name is a field of
:class:`~otel_replay.options.ReplayOptions`).

To add a flag: add its ``option(...)`` to the list of its group (``--help`` and
docs/cli.md list the groups of :data:`GROUPS` in order; ``tests/cli_reference.py``
rewrites docs/cli.md), and a field of the same name to ``ReplayOptions``."""

from __future__ import annotations

from typing import Any

import click
import cloup

from otel_replay import cpus
from otel_replay.config import format_size
from otel_replay.destflags import LOKI, OTLP, OTLP_REQUESTS, TRANSPORT
from otel_replay.flagtypes import Decorator, F, SizeType, option, pairs
from otel_replay.sinks.otlp_config import DEFAULT_CONCURRENCY
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES

INPUTS: list[Decorator[Any]] = [
    cloup.argument(
        "paths",
        nargs=-1,
        required=True,
        metavar="PATH...",
        help="Folders, files, .zip/.tar(.gz) archives, .gz/.zst files, or - for stdin.",
    )
]

RESOURCE: list[Decorator[Any]] = [
    option(
        "--service-name", metavar="NAME", help="Override service.name (default: the file's service, else codemachine)."
    ),
    pairs("--resource-attr", "resource_attrs", help="Add a resource attribute (repeatable)."),
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
        help="Move all timestamps by one offset so the newest record lands now. By default this is done when "
        "the destinations would not show the records at once (docs/time.md).",
    ),
    option("--time-offset", metavar="DURATION", help="Move all timestamps by this much (e.g. -3d, 90m, 1h30m)."),
    option(
        "--keep-times",
        is_flag=True,
        help="Keep the recorded times, however old (the run says first what Loki will not show yet or refuse).",
    ),
    option(
        "--loki-visible-within",
        metavar="DURATION",
        envvar="OTEL_REPLAY_LOKI_VISIBLE_WITHIN",
        show_envvar=True,
        help="Loki shows entries this old at once (its query_ingesters_within; 0: any age). Default 3h.",
    ),
    option(
        "--loki-max-age",
        metavar="DURATION",
        envvar="OTEL_REPLAY_LOKI_MAX_AGE",
        show_envvar=True,
        help="Loki refuses entries older than this (its reject_old_samples_max_age; 0: none). Default 7d.",
    ),
    option(
        "--otlp-visible-within",
        metavar="DURATION",
        envvar="OTEL_REPLAY_OTLP_VISIBLE_WITHIN",
        show_envvar=True,
        help="The OTLP backend's search finds records this old at once (Tempo: 2m; 0: any age). Default 2m.",
    ),
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
        default=lambda: cpus.usable_cpus(),
        show_default="the CPUs it may use",
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
    option(
        "--shard",
        metavar="I/N",
        help="Replay only share I of N of the inputs (files, archive members, parts of large JSON Lines "
        "files and trace documents), for N machines given the same PATHs: 1/3, 2/3 and 3/3 "
        "take each input once. auto/N: the share of a Kubernetes Indexed Job's pod "
        "(JOB_COMPLETION_INDEX + 1). docs/sharding.md.",
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


def inputs(command: F) -> F:
    """``PATH...``, as every command that reads a bug report takes it."""
    for argument in reversed(INPUTS):
        command = argument(command)
    return command


def replay_flags(command: F) -> F:
    """``PATH...`` and every flag of ``otel-replay replay``, in their groups, as one decorator."""
    for title, options in reversed(GROUPS):
        command = cloup.option_group(title, *options)(command)
    return inputs(command)
