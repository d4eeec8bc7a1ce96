"""How the ``otel-replay`` command behaves as a command line, apart from its flags
(flags.py) and what a replay does (cli.py): the help layout, ``--version``, the hint when
``replay`` is forgotten, and which flags the user typed (or set in the environment)."""

from __future__ import annotations

import os
import platform
import shlex
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import click
import cloup
from click.core import ParameterSource

from otel_replay import __version__
from otel_replay.interrupts import RunPhase
from otel_replay.options import FlagError, PlanError, ReplayOptions, build_plan
from otel_replay.plan import RunPlan

#: The help of every command: -h too, option groups aligned, up to 100 columns on a wide
#: terminal (the terminal's width on a narrower one; 80 when not a terminal), no colour.
CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "align_option_groups": True,
    "formatter_settings": cloup.HelpFormatter.settings(max_width=100, col1_max_width=32, col2_min_width=30),
}

#: The distributions whose versions ``--version`` names, besides otel-replay's.
VERSIONED = ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-proto", "click")


def version_text() -> str:
    """otel-replay's version, then the OpenTelemetry SDK's and exporter's, and Python's."""
    lines = [f"otel-replay, version {__version__}"]
    for name in VERSIONED:
        try:
            lines.append(f"  {name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            lines.append(f"  {name} (not installed)")
    lines.append(f"  Python {platform.python_version()} ({platform.python_implementation()})")
    return "\n".join(lines)


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(version_text())
    ctx.exit()


class ReplayGroup(cloup.Group):
    """The top-level group; an unknown command that looks like a path (``otel-replay
    bug.zip``) is answered with the command to type instead."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None and not ctx.resilient_parsing:
            typed = shlex.join(["otel-replay", "replay", *args])
            if os.path.lexists(name) or any(c in name for c in "./\\") or name == "-":
                ctx.fail(f"{name!r} is not a command. To replay it, type:\n\n    {typed}")
            commands = ", ".join(f"`{c}`" for c in self.list_commands(ctx))
            ctx.fail(f"no such command {name!r}; the commands are {commands} (otel-replay --help).")
        return super().resolve_command(ctx, args)


def long_name(param: click.Parameter) -> str:
    """The flag as the user writes it (``--otlp-endpoint``), or the parameter's name."""
    return next((opt for opt in param.opts if opt.startswith("--")), param.name or "")


def flags_given() -> tuple[set[str], dict[str, str]]:
    """The current command's parameters that were given on the command line (not defaults,
    not the environment), and each parameter's flag as the user writes it."""
    ctx = click.get_current_context()
    given = {name for name in ctx.params if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE}
    return given, {p.name: long_name(p) for p in ctx.command.params if p.name}


def flag_hint(flag: str) -> str:
    """``flag`` for an error message, or the environment variable its value came from
    (``LOKI_ADDR (--loki-url)``): the user must know where to correct it."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return flag
    for param in ctx.command.params:
        if flag in param.opts and param.name and ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT:
            names = [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or ())
            return next((f"{name} ({flag})" for name in names if os.environ.get(name)), flag)
    return flag


def plan_or_usage_error(options: ReplayOptions, env: Mapping[str, str] | None = None) -> RunPlan:
    """The plan for these flags, or a usage error (exit 2) with its one-line reason, naming
    the flag (or the variable its value came from). ``env={}``: a command that sends nothing
    reads no OTLP or Loki settings from the environment (a wrong one is no reason not to look)."""
    try:
        return build_plan(options, env=env)
    except FlagError as exc:
        raise click.BadParameter(exc.reason, param_hint=flag_hint(exc.flag)) from None
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None


def run_phase() -> RunPhase:
    """The phase of this command's run: the process's own when otel-replay's command line
    runs it (cli.run: its SIGINT handler follows it, interrupts.py), else a new one (a
    program that calls the command in its own process keeps its handlers)."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, RunPhase) else RunPhase()
