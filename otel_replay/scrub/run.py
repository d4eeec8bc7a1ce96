"""What ``otel-replay scrub PATH... -o OUT`` does: every input, found as replay finds it,
copied scrubbed in its own format (copy.py) into OUT (target.py), with ``SCRUBBED.json``
beside it. The inputs are also read by replay's own readers and dedup (into a sink that
only counts), so the problem lines, the counts and the exit status are replay's
``--dry-run``'s for the same input."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from otel_replay import __version__
from otel_replay.assemble import stages
from otel_replay.model import FileProblem, Signal
from otel_replay.pipeline import Pipeline
from otel_replay.plan import RunPlan
from otel_replay.scrub.check import check_dict
from otel_replay.scrub.copy import ARCHIVE, Copy, relative_name, scrub_bytes
from otel_replay.scrub.engine import Scrubber
from otel_replay.scrub.target import MANIFEST, Target
from otel_replay.sinks.dryrun import DryRunSink
from otel_replay.sources.discover import Discovered, InputFile, SkippedFile, discover
from otel_replay.stages.dedup import SeenCheck
from otel_replay.stats import RunStats

#: Without ``--scrub``: every preset, in the order that keeps paths whole for the
#: CodeMachine rules (docs/scrub.md).
DEFAULT_RULES = ("codemachine", "secrets", "pii")
NOUNS = {Signal.TRACES: "spans", Signal.LOGS: "log_records", Signal.METRICS: "metric_points"}


@dataclass
class Outcome:
    """What a scrub wrote, left out and counted (the manifest and the summary say it)."""

    stats: RunStats = field(default_factory=RunStats)
    files: list[dict[str, str]] = field(default_factory=list)
    left_out: list[dict[str, str]] = field(default_factory=list)
    lines_left_out: int = 0

    def records(self) -> dict[str, int]:
        """What a replay of the copy sends (the latest* copies counted once, as replay does)."""
        return {NOUNS[s]: st.sent for s, st in self.stats.signals.items()}


def scrub_inputs(plan: RunPlan, scrubber: Scrubber, target: Target, stdin: BinaryIO | None) -> Outcome:
    """Every input of ``plan`` scrubbed into ``target`` (not yet committed), read by
    replay's pipeline on the way."""
    out = Outcome()
    seen = SeenCheck()
    sinks = {s: DryRunSink(s, out.stats) for s in Signal}
    pipeline = Pipeline(
        sinks=sinks,  # type: ignore[arg-type]
        stages=stages(plan, 0, lambda signal, records, as_recorded: seen.records(signal, records, as_recorded)),
        stats=out.stats,
    )
    walk = dataclasses.replace(
        plan.walk,
        exclude_dirs=plan.walk.exclude_dirs | {os.path.realpath(target.out), os.path.realpath(target.tmp)},
        exclude_files=plan.walk.exclude_files | {os.path.realpath(target.out), os.path.realpath(target.tmp)},
    )
    prefix = len(plan.paths) > 1
    for path in plan.paths:
        found = discover([path], stdin, plan.limits, walk)
        pipeline.run(_copying(found, path, prefix, scrubber, target, out))
    return out


def _copying(
    found: Iterator[Discovered], path: str, prefix: bool, scrubber: Scrubber, target: Target, out: Outcome
) -> Iterator[Discovered]:
    """The inputs as found, each copied scrubbed first, then handed on (from memory) to the
    replay's readers."""
    for item in found:
        # with several PATHs, a folder's or an archive's files go under its name (a file: as it is)
        top = ARCHIVE.sub("", relative_name(path, path)) + "/" if prefix and item.name != path else ""
        if isinstance(item, SkippedFile):
            name = top + relative_name(path, item.name)
            out.left_out.append({"path": scrubber.text(name, "file.name"), "reason": f"not read: {item.reason}"})
        if not isinstance(item, InputFile):
            yield item
            continue
        try:
            with item.open() as stream:
                raw = stream.read()
        except Exception as exc:  # as the replay's reading says it (sources.read_input)
            yield FileProblem(item.name, f"cannot read: {exc}", key="cannot read")
            continue
        name = top + relative_name(path, item.name)
        copy = scrub_bytes(raw, scrubber, name)
        _keep(copy, name, scrubber, target, out)
        yield InputFile(item.name, lambda raw=raw: nullcontext(io.BufferedReader(io.BytesIO(raw))), len(raw))  # type: ignore[misc]


def _keep(copy: Copy, name: str, scrubber: Scrubber, target: Target, out: Outcome) -> None:
    if copy.data is None:
        out.left_out.append({"path": scrubber.text(name, "file.name"), "reason": copy.left_out})
        return
    name = target.unique(name)
    target.write(name, copy.data)
    out.files.append({"path": name, "format": copy.format})
    if copy.salvaged:
        out.files[-1]["note"] = f"cut short: the {copy.salvaged} records before the cut"
    out.lines_left_out += copy.lines_left_out


def manifest(scrubber: Scrubber, specs: tuple[str, ...], salt_given: bool, out: Outcome) -> bytes:
    """``SCRUBBED.json``: the rules and what each changed where, the salt's fingerprint,
    the files written and left out, the records a replay of the copy sends. Never a value."""
    doc: dict[str, Any] = {
        "scrubbed_by": f"otel-replay {__version__}",
        "rules_from": [os.path.basename(s) for s in specs],
        "salt": {
            "given": salt_given,
            "fingerprint": scrubber.fingerprint,
            "note": "the same fingerprint means the same salt, so the same tokens"
            if salt_given
            else "a random salt for this copy only: its tokens match no other run's",
        },
        "rules": check_dict(scrubber)["scrub_check"],
        "values_changed": sum(scrubber.counts.values()),
        "records": out.records(),
        "files": out.files,
        "left_out": out.left_out,
        "json_lines_left_out": out.lines_left_out,
        "problems": out.stats.problem_count,
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def summary_lines(out: str, kind: str, outcome: Outcome, specs: tuple[str, ...], changed: int) -> list[str]:
    """What the command prints after the copy is in place (names from input are shown by the caller as text)."""
    formats = Counter(f["format"] for f in outcome.files)
    shown = ", ".join(f"{fmt} {n}" for fmt, n in sorted(formats.items()))
    records = outcome.records()
    lines = [
        f"otel-replay scrub: wrote {out} ({kind}): {len(outcome.files)} file(s) ({shown}) and {MANIFEST}",
        f"  a replay of it sends {records.get('spans', 0)} spans, {records.get('log_records', 0)} log records, "
        f"{records.get('metric_points', 0)} metric points",
        f"  rules {', '.join(os.path.basename(s) for s in specs)}: {changed} value(s) changed "
        f"(per rule and key in {MANIFEST}; values are never shown)",
    ]
    lines += [f"  left out: {f['path']} ({f['reason']})" for f in outcome.left_out]
    if outcome.lines_left_out:
        lines.append(f"  left out: {outcome.lines_left_out} JSON Lines line(s) that are not OTLP/JSON")
    return lines
