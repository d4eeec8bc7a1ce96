"""docs/cli.md, written from the command itself so that it cannot drift from ``--help``:
``python -m tests.cli_reference`` rewrites it; tests/test_command_line.py fails when the
file differs from what this prints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from otel_replay.cli import main, replay
from otel_replay.command import long_name
from otel_replay.options import DEFAULT_COMPRESSION
from otel_replay.sinks.otlp_config import OTLP_ENV
from otel_replay.unused import RULES

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEAD = """# otel-replay command line

<!-- Written by `python -m tests.cli_reference` from the command's own flags; a test fails
when this file differs from the command. Change the flags (otel_replay/flags.py, destflags.py), then
rerun it. -->

The one reference of every flag of `otel-replay replay`, grouped as `otel-replay replay
--help` groups them. `otel-replay --version` names otel-replay's version and those of the
OpenTelemetry SDK and exporter it uses.

## Install

From a clone: `pipx install .` puts the `otel-replay` command on your PATH in an
environment of its own (or `pip install .` into a virtual environment of yours; Python
3.10 or later). `make install` makes the development environment in `.venv`.

## Shell completion

Click completes the command, its flags and the values of `--logs-to` and `--compression`:

| shell | add this line to | line |
| --- | --- | --- |
| bash | `~/.bashrc` | `eval "$(_OTEL_REPLAY_COMPLETE=bash_source otel-replay)"` |
| zsh | `~/.zshrc` | `eval "$(_OTEL_REPLAY_COMPLETE=zsh_source otel-replay)"` |
| fish | `~/.config/fish/completions/otel-replay.fish` | `_OTEL_REPLAY_COMPLETE=fish_source otel-replay \\| source` |

## Environment variables

A flag on the command line wins over its variable, and the variable over the default.
Loki's are the ones Grafana's `logcli` reads (`LOKI_ADDR`, `LOKI_USERNAME`, `LOKI_PASSWORD`,
`LOKI_ORG_ID`, `LOKI_BEARER_TOKEN`), so a shell set up for `logcli` replays into the same
Loki. The `OTEL_EXPORTER_OTLP_*` variables are read by the OpenTelemetry exporter itself
where no flag is given, as every OpenTelemetry SDK reads them (also the `_TRACES_`, `_LOGS_`
and `_METRICS_` forms, `OTEL_EXPORTER_OTLP_TIMEOUT` and `OTEL_EXPORTER_OTLP_CLIENT_*`).

Every URL, from a flag or a variable that this run would send to, must start with
`http://` or `https://` and name a host: anything else is a usage error (exit 2) naming
the flag or variable, before anything is read or sent, also with `--dry-run`.

## Compression

OTLP requests are gzip-compressed unless `--compression none` is given or an
`OTEL_EXPORTER_OTLP_[SIGNAL_]COMPRESSION` variable is set (the exporter then follows the
variable); Loki pushes unless `--loki-compression none` is given. Why gzip: recorded
telemetry compresses 5 to 8 times, which is what matters when the backend is remote (a
company Collector, Grafana Cloud). Against the local stack it saves nothing and costs CPU
at both ends. Both are compressed at level 1 by Intel's ISA-L (the `isal` package): an
OTLP/HTTP request in the exporter's own session, the exporter being told to send it as it
is (its own gzip is zlib's highest level: 16 times the time, for a body about a sixth
smaller); a Loki push in its own thread (a fifth of zlib's time at level 1, and a little
smaller). A gzip asked for by an `OTEL_EXPORTER_OTLP_*COMPRESSION` variable is the
exporter's. With the bench's spans, one worker spends 0.90 of the CPU it spent with the
exporter's gzip (bench/RESULTS.md).

## Flags that do nothing in a run

A flag given on the command line that does nothing in this run is refused (exit 2) when
it contradicts another flag of the same command, and warned about on stderr when the run
leaves its signal out (the same command narrowed with `--signals` is an everyday thing to
do). Values from the environment are never refused or warned about, and `--dry-run` and
`--output` keep the destination flags (a dry run checks them as a real run would).

| flags | when | |
| --- | --- | --- |
"""


def _flag(option: click.Parameter) -> str:
    return ", ".join(f"`{opt}`" for opt in [*option.opts, *option.secondary_opts])


def _default(option: click.Option, ctx: click.Context) -> str:
    if isinstance(option.show_default, str):
        return option.show_default
    if option.is_flag or option.multiple:
        return ""
    value = option.get_default(ctx, call=False)
    if value is None or callable(value) or type(value).__name__ == "Sentinel":
        return ""
    return f"`{value}`"


def _env(option: click.Option) -> str:
    names = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or ())
    if option.name in OTLP_ENV:
        names.append(OTLP_ENV[option.name])
    return ", ".join(f"`{name}`" for name in names)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The whole of docs/cli.md."""
    ctx = click.Context(replay, info_name="replay", parent=click.Context(main, info_name="otel-replay"))
    names = {p.name: long_name(p) for p in replay.params if p.name}
    out = [HEAD]
    for fields, _, refuse, when in RULES:
        flags = ", ".join(f"`{names[f]}`" for f in fields)
        out.append(f"| {flags} | {when} | {'refused' if refuse else 'warning'} |\n")
    out.append("\n## Arguments\n\n")
    for argument in (p for p in replay.params if isinstance(p, click.Argument)):
        text = getattr(argument, "help", "") or ""
        out.append(f"`{argument.make_metavar(ctx)}`: {text}\n")
    for group in replay.option_groups:
        out.append(f"\n## {group.title}\n\n| flag | value | default | environment | what it does |\n")
        out.append("| --- | --- | --- | --- | --- |\n")
        for option in group.options:
            metavar = "" if option.is_flag else _cell(f"`{option.make_metavar(ctx)}`")
            text = _cell(option.help or "")
            out.append(f"| {_flag(option)} | {metavar} | {_default(option, ctx)} | {_env(option)} | {text} |\n")
    out.append(f"\nThe default OTLP compression is `{DEFAULT_COMPRESSION}` (see above).\n")
    out += _other_commands()
    return "".join(out)


def _other_commands() -> list[str]:
    """Every command besides ``replay``: what it does and its flags, as its ``--help`` has them."""
    out = ["\n## Other commands\n\nThey read the inputs as `replay` does (`otel-replay COMMAND --help`).\n"]
    for name in sorted(main.commands):
        command = main.commands[name]
        if name == "replay":
            continue
        ctx = click.Context(command, info_name=name, parent=click.Context(main, info_name="otel-replay"))
        args = " ".join(p.make_metavar(ctx) for p in command.params if isinstance(p, click.Argument))
        out.append(f"\n### otel-replay {name}\n\n{command.get_short_help_str(limit=300)}\n\n")
        out.append(f"Usage: `otel-replay {name} [OPTIONS] {args}`".rstrip() + "\n\n")
        out.append("| flag | value | default | environment | what it does |\n| --- | --- | --- | --- | --- |\n")
        for option in command.params:
            if not isinstance(option, click.Option) or option.hidden:
                continue
            metavar = "" if option.is_flag else _cell(f"`{option.make_metavar(ctx)}`")
            text = _cell(option.help or "")
            out.append(f"| {_flag(option)} | {metavar} | {_default(option, ctx)} | {_env(option)} | {text} |\n")
    return out


if __name__ == "__main__":
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC}\n")
