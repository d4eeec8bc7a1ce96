"""The click types of the replay command's flags: sizes (``8MiB``) and durations
(``90s``), converted once and refused with click's usual one-line error."""

from __future__ import annotations

from typing import Any

import click

from otel_replay.config import parse_duration, parse_size


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
