"""One flag's value at a time → a typed value, or a :class:`FlagError` naming the flag
and the reason (the CLI shows it as a usage error, exit 2)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from otel_replay.config import parse_duration, parse_pairs
from otel_replay.model import Signal
from otel_replay.plan import PlanError
from otel_replay.shard import Shard, parse_shard
from otel_replay.sources.common import parse_hex_id

T = TypeVar("T")


class FlagError(PlanError):
    """One flag's value is wrong: ``flag`` names it, ``reason`` says why (one line)."""

    def __init__(self, flag: str, reason: str) -> None:
        super().__init__(f"invalid value for {flag}: {reason}")
        self.flag = flag
        self.reason = reason


def parse_signals(signal_list: str | None, *, traces_only: bool = False, logs_only: bool = False) -> tuple[Signal, ...]:
    """The signals to replay, in pipeline order, from ``--signals`` / ``--traces-only`` /
    ``--logs-only`` (all three when none is given)."""
    exclusive(("--signals", signal_list is not None), ("--traces-only", traces_only), ("--logs-only", logs_only))
    if traces_only:
        return (Signal.TRACES,)
    if logs_only:
        return (Signal.LOGS,)
    if signal_list is None:
        return tuple(Signal)
    names = {part.strip().lower() for part in signal_list.split(",") if part.strip()}
    unknown = sorted(names - {s.value for s in Signal})
    if not names:
        raise FlagError("--signals", f"{signal_list!r} names no signal: give one or more of traces, logs, metrics")
    if unknown:
        raise FlagError("--signals", f"{unknown[0]!r} is not a signal (traces, logs, metrics)")
    return tuple(s for s in Signal if s.value in names)


def check_paths(paths: Iterable[str]) -> None:
    missing = [p for p in paths if p != "-" and not os.path.lexists(p)]
    if missing:
        raise PlanError(f"no such file or folder: {missing[0]}")


def exclusive(*given: tuple[str, object]) -> None:
    """Refuses more than one of these flags being given (set, or true)."""
    chosen = [flag for flag, value in given if value]
    if len(chosen) > 1:
        raise PlanError(f"{chosen[0]} and {chosen[1]} exclude each other")


def parsed(flag: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except ValueError as exc:
        raise FlagError(flag, str(exc)) from None


def pairs(values: Iterable[str], flag: str) -> dict[str, str]:
    try:
        return parse_pairs(values)
    except ValueError as exc:
        raise FlagError(flag, str(exc)) from None


def trace_id(text: str) -> int:
    return parse_hex_id(text.strip(), 16, "trace id")


def shard(text: str | None, env: Mapping[str, str]) -> Shard | None:
    """``--shard I/N`` or ``auto/N`` (the share from JOB_COMPLETION_INDEX in ``env``)."""
    if text is None:
        return None
    try:
        return parse_shard(text, dict(env))
    except ValueError as exc:
        raise FlagError("--shard", str(exc)) from None


def window(flag: str, text: str | None, default: int) -> int:
    """A time window flag (``--loki-visible-within 3h``): a duration not below 0, where 0
    means no limit; ``default`` when not given."""
    if text is None:
        return default
    if text.strip() == "0":
        return 0
    value = parsed(flag, parse_duration, text)
    if value < 0:
        raise FlagError(flag, "must not be negative (0: no limit)")
    return value
