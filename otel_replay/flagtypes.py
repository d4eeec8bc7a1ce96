"""The click types of the replay command's flags: sizes (``8MiB``) and durations
(``90s``), converted once and refused with click's usual one-line error; and
:func:`option`, by which every flag is declared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from otel_replay.config import parse_duration, parse_size
from otel_replay.sinks.otlp_config import OTLP_ENV


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            size = parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if size < 1024:
            self.fail(f"{value} is too small (at least 1KiB)", param, ctx)
        return size


class DurationType(click.ParamType):
    """Seconds as a number (``2.5``) or a duration (``90s``, ``5m``)."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parse_duration(str(value)) / 1e9
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"{value} must be more than zero", param, ctx)
        return seconds


F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]


def pairs(*names: str, help: str) -> Decorator[Any]:
    """A repeatable ``KEY=VALUE`` flag."""
    return option(*names, multiple=True, metavar="KEY=VALUE", help=help)


class ReplayOption(click.Option):
    """An option whose help names the OTLP variable the exporter reads in its place
    (:data:`OTLP_ENV`) beside click's own ``env var``, and shows a default given as text
    (``show_default="CPU count"``) as it is, without parentheses."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self.name in OTLP_ENV:
            extra["envvars"] = (*extra.get("envvars", ()), OTLP_ENV[self.name])
        if isinstance(self.show_default, str):
            extra["default"] = self.show_default
        return extra


def option(*names: str, **attrs: Any) -> Decorator[Any]:
    """``click.option`` with :class:`ReplayOption`: every flag of the command is declared by it."""
    return click.option(*names, cls=ReplayOption, **attrs)
