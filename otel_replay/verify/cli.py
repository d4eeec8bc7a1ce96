"""``otel-replay verify PATH...``: the same flags as ``replay`` (the command line of the run
to check, with ``verify`` in place of ``replay``) plus the read-back's; the time offset
comes from ``--resume STATE`` (with the replay id) or ``--time-offset``."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
import cloup

from otel_replay.command import CONTEXT_SETTINGS, plan_or_usage_error, run_phase
from otel_replay.flags import replay_flags
from otel_replay.options import ReplayOptions
from otel_replay.plan import RunPlan
from otel_replay.report import EXIT_INTERRUPTED
from otel_replay.resume import ResumeState, StateFileError
from otel_replay.verify import flags as verify_flags
from otel_replay.verify.settings import VerifySettings
from otel_replay.visible import say

if TYPE_CHECKING:
    from otel_replay.verify.result import VerifyResult

EPILOG = """\\b
Examples:
  otel-replay replay bug.zip --resume bug.state --verify
  otel-replay verify bug.zip --resume bug.state
  otel-replay verify bug.zip --time-offset 2d --replay-id 3f2a9c0b71d4

\\b
Exit status: 0 everything sent was read back, 1 something missing or different (or a
backend could not be asked), 2 usage error, 130 interrupted (Ctrl-C)."""


def _notify(message: str) -> None:
    say(message)


def read_back(plan: RunPlan, offset_ns: int, replay_id: str | None, settings: VerifySettings) -> VerifyResult | None:
    """The read-back of a run, or a usage error (exit 2) with its one-line reason; None
    when a Ctrl-C stopped it (said on stderr: the caller exits 130)."""
    from otel_replay.verify.run import VerifyError, verify  # the readers: only when reading back

    phase = run_phase()
    try:
        with phase.read_back():
            return verify(plan, offset_ns, replay_id, settings, lambda m: _notify(plan.redact(m)))
    except VerifyError as exc:
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:  # from now on a Ctrl-C changes nothing (the phase is settled)
        _notify("interrupted: nothing more is read back")
        return None


@cloup.command(
    "verify",
    context_settings=CONTEXT_SETTINGS,
    short_help="Check that a previous replay's spans and log records can be read back.",
    epilog=EPILOG,
)
@replay_flags
@verify_flags.verify_flags
def verify_command(*, verbose: bool, as_json: bool, **flags: Any) -> None:
    """Read back from Tempo and Loki what an earlier `otel-replay replay` sent, and compare:
    give the same PATH... and flags as that run, and its --resume state file (which has
    its time offset and replay id) or --time-offset and --replay-id."""
    _, replay_id, settings = verify_flags.take(flags)
    plan = plan_or_usage_error(ReplayOptions(**flags))
    offset, replay_id = _previous_run(plan, replay_id)
    result = read_back(plan, offset, replay_id, settings)
    if result is None:
        sys.exit(EXIT_INTERRUPTED)
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False) if as_json else result.render_text())
    sys.exit(result.exit_status)


def _previous_run(plan: RunPlan, replay_id: str | None) -> tuple[int, str | None]:
    """The checked run's time offset and replay id: from --resume's state file, else
    --time-offset and --replay-id."""
    if plan.resume_path is None:
        if plan.selection.shift_to_now:
            raise click.UsageError(
                "verify cannot work out an earlier run's --shift-to-now offset: give its --resume STATE "
                "or the offset it printed (--time-offset)"
            )
        if plan.selection.offset_ns is None and not plan.selection.keep_times:
            _notify(
                "verify: reading back the recorded times; if the run moved them (its first line said by how "
                "much: docs/time.md), give that offset with --time-offset, or the run's --resume STATE"
            )
        return plan.selection.offset_ns or 0, replay_id
    try:
        state = ResumeState(plan.resume_path)
    except StateFileError as exc:
        raise click.UsageError(str(exc)) from None
    if state.header is None:
        raise click.UsageError(f"--resume: {plan.resume_path} is not there or empty: no run to verify")
    return state.time_offset_ns or 0, replay_id or state.replay_id
