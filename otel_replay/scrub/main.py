"""``otel-replay scrub``'s run: rules and plan from the flags (usage errors), the copy
(run.py), the manifest, OUT put in place or left untouched, the summary, the exit status."""

from __future__ import annotations

import sys

import click

from otel_replay.command import plan_or_usage_error
from otel_replay.options import ReplayOptions
from otel_replay.report import Report, problem_lines
from otel_replay.scrub.presets import build_scrubber
from otel_replay.scrub.rules import RulesError
from otel_replay.scrub.run import DEFAULT_RULES, manifest, scrub_inputs, summary_lines
from otel_replay.scrub.target import MANIFEST, Target, TargetError
from otel_replay.visible import visible


def scrub(
    paths: tuple[str, ...],
    output: str,
    overwrite: bool,
    rules: tuple[str, ...],
    salt: str | None,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
) -> int:
    """Writes the scrubbed copy of ``paths`` to ``output``; returns the exit status."""
    specs = rules or DEFAULT_RULES
    try:
        scrubber = build_scrubber(specs, salt)
    except RulesError as exc:
        raise click.BadParameter(str(exc), param_hint="'--scrub'") from None
    # discovery's settings as replay's (nothing is sent: the environment is not read)
    plan = plan_or_usage_error(ReplayOptions(paths=paths, dry_run=True, include=include, exclude=exclude), env={})
    try:
        target = Target(output, overwrite)
    except TargetError as exc:
        raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
    try:
        outcome = scrub_inputs(plan, scrubber, target, sys.stdin.buffer if "-" in plan.paths else None)
        if outcome.files:
            target.write(MANIFEST, manifest(scrubber, specs, salt is not None, outcome))
            target.commit()
        else:
            target.discard()
    except OSError as exc:
        target.discard()
        raise click.BadParameter(f"cannot write {output}: {exc.strerror or exc}", param_hint="'-o'") from None
    except BaseException:
        target.discard()
        raise
    report = Report(outcome.stats, "dry-run")
    lines = []
    if outcome.files:
        lines = summary_lines(output, target.kind, outcome, specs, sum(scrubber.counts.values()))
    lines += problem_lines(outcome.stats.problem_log, report.redact, None)
    lines += [f"hint: {h}" for h in outcome.stats.hints]
    if not outcome.files:
        lines.append(f"otel-replay scrub: nothing to scrub: no telemetry in the input; {output} not written")
    click.echo("\n".join(visible(line) for line in lines))
    return report.exit_status if outcome.files else max(report.exit_status, 1)
