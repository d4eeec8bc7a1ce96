"""``otel-replay scrub PATH... -o OUT``: the flags, then run.py's copy, the manifest, the
summary and the exit status (cli.py registers the command; docs/scrub.md)."""

from __future__ import annotations

import sys

import cloup

from otel_replay.flags import inputs
from otel_replay.flagtypes import option

EXAMPLES = """\b
Examples:
  otel-replay scrub bug-report/ -o shareable.zip
  otel-replay scrub spans.jsonl.gz -o scrubbed/ --scrub secrets --scrub rules.toml
  OTEL_REPLAY_SCRUB_SALT=… otel-replay scrub bug.zip -o shareable.tar.gz

\b
Exit status: 0 written, 1 written (or nothing to write) with problems replay would also
report, 2 usage error or OUT could not be written. Details: docs/scrub.md."""

_RULES_HELP = "A preset (secrets, pii, codemachine) or a TOML rules file (repeatable; default: all three presets)."
_SALT_HELP = "Key of hashed values: equal values give equal tokens across runs (default: random for each run)."


@cloup.command(
    "scrub",
    short_help="Write a copy of a bug report without secrets, paths and names, in its own format.",
    epilog=EXAMPLES,
)
@inputs
@cloup.option_group(
    "Output",
    option(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="Write the copy here: a folder, a .zip or a .tar.gz (with SCRUBBED.json beside the files).",
    ),
    option("--overwrite", is_flag=True, help="Replace OUT (a folder only if otel-replay scrub wrote it)."),
)
@cloup.option_group(
    "Scrub",
    option("--scrub", "rules", multiple=True, metavar="RULES", help=_RULES_HELP),
    option("--scrub-salt", metavar="SECRET", envvar="OTEL_REPLAY_SCRUB_SALT", show_envvar=True, help=_SALT_HELP),
)
@cloup.option_group(
    "Inputs",
    option("--include", multiple=True, metavar="GLOB", help="Also read matching files skipped by default (as replay)."),
    option("--exclude", multiple=True, metavar="GLOB", help="Skip the files and folders that match (as replay)."),
)
def scrub_command(
    *,
    paths: tuple[str, ...],
    output: str,
    overwrite: bool,
    rules: tuple[str, ...],
    scrub_salt: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> None:
    """Write a scrubbed copy of CodeMachine folders, OTLP/JSON documents and JSON Lines
    files, each in its own format and layout, so that whatever reads the original reads
    the copy (otel-replay replay included): credentials replaced, user names, paths,
    hosts and e-mail addresses hashed (equal values, equal tokens), previews of the
    user's spec deleted. Ids, times, structure, severities and numbers stay. SCRUBBED.json
    beside the files lists the rules, what each changed where, and the salt's fingerprint,
    never a value. Files that are not telemetry are left out (listed in SCRUBBED.json).
    """
    from otel_replay.scrub.main import scrub  # the readers and writers: only when scrubbing

    sys.exit(scrub(paths, output, overwrite, rules, scrub_salt, include, exclude))
