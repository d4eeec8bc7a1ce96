"""How a value from the input is shown: one line, control characters as visible escapes,
ids as hex, times in UTC, durations short. Pure functions; every renderer uses them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from otel_replay.visible import visible


def trace_hex(trace_id: int) -> str:
    return f"{trace_id:032x}"


def span_hex(span_id: int) -> str:
    return f"{span_id:016x}"


def format_time(ns: int) -> str:
    """UTC with milliseconds: ``2026-11-24 17:00:00.597Z``."""
    try:
        t = datetime.fromtimestamp(ns // 10**9, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{ns}ns"
    return t.strftime("%Y-%m-%d %H:%M:%S") + f".{ns % 10**9 // 10**6:03d}Z"


def format_span(ns: int) -> str:
    """A duration, short: ``950µs``, ``182.7ms``, ``2.35s``, ``3m 12s``, ``2h 5m``."""
    if ns < 0:
        return "-" + format_span(-ns)
    if ns < 10**6:
        return f"{ns / 1e3:.0f}µs"
    if ns < 10**9:
        return f"{ns / 1e6:.1f}ms"
    if ns < 60 * 10**9:
        return f"{ns / 1e9:.2f}s"
    secs = ns // 10**9
    if secs < 3600:
        return f"{secs // 60}m {secs % 60}s"
    if secs < 86400:
        return f"{secs // 3600}h {secs % 3600 // 60}m"
    return f"{secs // 86400}d {secs % 86400 // 3600}h"


def format_number(value: Any) -> str:
    """A metric value: integers as they are, floats with up to 6 significant digits."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return visible(value)
