"""The ``otel-replay`` command: flags → a :class:`RunPlan` (options.py) → runner.execute() → summary.

This layer only declares flags (flags.py), turns a refused plan into a usage error, shows
progress and messages on stderr, prints the report and exits with its status.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import click
import cloup

from otel_replay.command import (
    CONTEXT_SETTINGS,
    ReplayGroup,
    flags_given,
    plan_or_usage_error,
    print_version,
    run_phase,
)
from otel_replay.flags import EXAMPLES, replay_flags
from otel_replay.inspect.command import inspect_command
from otel_replay.interrupts import RunPhase
from otel_replay.malloc import keep_freed_memory
from otel_replay.options import ReplayOptions
from otel_replay.plan import RunPlan
from otel_replay.progress import Meter, ProgressLine, RetryNotices
from otel_replay.report import EXIT_INTERRUPTED, EXIT_USAGE, Report
from otel_replay.resume import StateFileError
from otel_replay.scrub.command import scrub_command
from otel_replay.unused import unused_flags
from otel_replay.verify import flags as verify_flags
from otel_replay.verify.cli import read_back, verify_command
from otel_replay.view.command import view_command
from otel_replay.visible import say, visible

if TYPE_CHECKING:
    from otel_replay.verify.result import VerifyResult


@cloup.group(cls=ReplayGroup, context_settings=CONTEXT_SETTINGS, epilog="Example:  otel-replay replay bug-report.zip")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=print_version,
    help="Show the version of otel-replay and of the OpenTelemetry SDK and exporter it uses.",
)
def main() -> None:
    """Replay recorded OpenTelemetry telemetry (CodeMachine bug reports, OTLP/JSON) into
    Tempo, Loki or any OTLP backend. See `otel-replay replay --help`."""


main.add_command(inspect_command)
main.add_command(view_command)
main.add_command(scrub_command)


@main.command(
    short_help="Replay files, folders or archives into OTLP and Loki (or check them, or write OTLP/JSON).",
    epilog=EXAMPLES,
)
@replay_flags
@verify_flags.replay_verify_flags
def replay(*, verbose: bool, as_json: bool, **flags: Any) -> None:
    """Replay CodeMachine sessions and OTLP/JSON (documents or JSON Lines) from folders,
    files, .zip/.tar archives, .gz/.zst files or - (stdin).

    Spans and metrics go to an OTLP/HTTP endpoint through the official exporters, log
    records to Loki (or, with --logs-to otlp, through the official OTLP log exporter).
    """
    check, _, settings = verify_flags.take(flags)
    options = ReplayOptions(**flags)
    plan = plan_or_usage_error(options)
    _check_unused(options, plan, verify_flags.LOKI_FOR_OTLP_LOGS if check else ())
    _warn_if_insecure(plan)
    if check and plan.mode != "send":
        raise click.UsageError("--verify reads back what was sent: not with --dry-run or --output")
    report, status = _execute(plan, verbose=verbose, as_json=as_json, tempo_query_url=settings.tempo_query_url)
    if options.scrub_check and plan.scrub is not None:
        _print_scrub_check(plan, as_json)
        sys.exit(0)
    if not check or report.interrupted:  # an interrupted run is not read back
        _print_report(report, as_json)
        sys.exit(status)
    result = read_back(plan, report.time_offset_ns, report.replay_id, settings)
    if result is None:  # Ctrl-C while reading back: what was sent is still said
        _print_report(report, as_json, read_back=True)
        sys.exit(EXIT_INTERRUPTED)
    _print_report(report, as_json, read_back=True, verify=result)
    sys.exit(status or result.exit_status)


main.add_command(verify_command, "verify")


def _print_scrub_check(plan: RunPlan, as_json: bool) -> None:
    """What --scrub would change (counted by the run's one process), never a value."""
    from otel_replay.scrub.check import check_dict, check_lines

    assert plan.scrub is not None
    if as_json:
        click.echo(plan.redact(json.dumps(check_dict(plan.scrub), ensure_ascii=False)))
    else:
        click.echo("\n".join(visible(plan.redact(line)) for line in check_lines(plan.scrub)))


def _check_unused(options: ReplayOptions, plan: RunPlan, used: Collection[str] = ()) -> None:
    """Refuses a flag that contradicts another, warns about one idle in this run (unused.py);
    not the flags in ``used`` (those the read-back uses)."""
    given, names = flags_given()
    found = [u for u in unused_flags(options, plan.signals, names, given) if u.flag not in used]
    for refused in (u for u in found if u.refuse):
        raise click.UsageError(refused.message())
    for unused in found:
        click.echo(f"otel-replay: warning: {unused.message()}", err=True)


def _warn_if_insecure(plan: RunPlan) -> None:
    if plan.mode == "send" and not (plan.otlp.verify and plan.loki.verify):
        from urllib3.exceptions import InsecureRequestWarning

        click.echo("otel-replay: warning: --insecure: TLS certificates are not verified", err=True)
        warnings.filterwarnings("ignore", category=InsecureRequestWarning)  # said once above


def _execute(plan: RunPlan, *, verbose: bool, as_json: bool, tempo_query_url: str | None = None) -> tuple[Report, int]:
    """Runs the plan with a progress line (on a terminal; elsewhere a notice per retry
    cause) and redacted messages on stderr."""
    # the run's machinery (workers, multiprocessing): imported only to replay, not to inspect
    from otel_replay.runner import SetupError, execute
    from otel_replay.sinks.preflight import Unreachable

    meter = Meter()
    line = None
    if sys.stderr.isatty() and not as_json:
        paths = None if plan.shard else list(plan.paths)  # a shard's share is not sized up front
        line = ProgressLine(meter, sys.stderr, _said(plan), paths, plan.walk)

    def notify(message: str) -> None:
        if line is not None:
            line.message(f"otel-replay: {visible(plan.redact(message))}")
        else:
            say(plan.redact(message))

    if line is None:
        RetryNotices(meter, notify)
    stdin = sys.stdin.buffer if "-" in plan.paths else None
    phase = run_phase()
    try:
        return execute(plan, stdin, meter, notify, notify if verbose else None, tempo_query_url, phase)
    except Unreachable as exc:  # not a usage mistake: no usage text, one line per destination
        for text in exc.lines:
            notify(text)
        notify("nothing was sent")
        sys.exit(EXIT_USAGE)
    except (SetupError, StateFileError) as exc:
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:  # before the replay started (checks, discovery, --shift-to-now's first pass)
        if line is not None:  # the run has ended: a second Ctrl-C changes nothing (run's handler, interrupts.py)
            line.close()
        click.echo("otel-replay: interrupted before anything was sent", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        phase.settle()
        if line is not None:
            line.close()


def _said(plan: RunPlan) -> Callable[[str], str]:
    """What the progress line shows of a name or an answer: redacted, and with --scrub
    after its rules (an input's path names the user's home)."""
    scrub = plan.scrub
    if scrub is None:
        return plan.redact
    return lambda text: plan.redact(scrub.said(text))


def _print_report(report: Report, as_json: bool, read_back: bool = False, verify: VerifyResult | None = None) -> None:
    """The run's summary; with ``read_back``, the read-back's too (``verify``; None: it was
    interrupted, ``"verify": null`` in JSON)."""
    if as_json:
        doc = report.to_dict()
        if read_back:
            doc["verify"] = verify.to_dict() if verify is not None else None
        click.echo(json.dumps(doc, ensure_ascii=False))
    else:
        click.echo("\n".join([report.render_text(), *([verify.render_text()] if verify is not None else [])]))


def run() -> None:  # pragma: no cover - console entry with a last-resort guard
    keep_freed_memory()  # the process and the workers it forks (malloc.py)
    phase = RunPhase()  # the process's: once its run has ended, a Ctrl-C changes nothing it says
    phase.own_sigint()
    try:
        main(standalone_mode=True, prog_name="otel-replay", obj=phase)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("OTEL_REPLAY_DEBUG"):
            raise
        click.echo(f"otel-replay: internal error (please report it): {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_USAGE + 1)
