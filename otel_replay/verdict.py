"""What the summary says of a run as a whole, beyond its counts: that it replayed nothing
(no input, no telemetry in it, or filters that dropped every record — then the run exits
1), and that its records are too old for what the backends will do with them.

Pure functions of the run's statistics, so that they are the same with one process and
with worker processes."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from otel_replay import timechoice
from otel_replay.model import Signal
from otel_replay.stages.filters import TimeWindow
from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from otel_replay.stats import DELIVERED, DUPLICATES, RunStats, TimeSpan

HOUR_NS = 3600 * 10**9
#: Loki refuses entries older than this (limits_config.reject_old_samples_max_age, 168h
#: by default): "400 timestamp too old".
LOKI_MAX_AGE_NS = timechoice.LOKI_MAX_AGE_NS
#: Loki's queriers ask its ingesters only about the last 3 hours (query_ingesters_within);
#: older entries are found only once an ingester flushes them (30 minutes to 2 hours).
QUERY_WINDOW_NS = timechoice.LOKI_VISIBLE_WITHIN_NS
DEFAULT_WINDOWS = timechoice.Windows()


#: Records dropped for what they are, not by a filter the user chose.
_NOT_FILTERS = (DELIVERED, DUPLICATES, NO_RECORDED_VALUE)


def nothing_replayed(stats: RunStats) -> str | None:
    """Why a run that handed no record to a sink replayed nothing, or None when it did
    something (sent, refused, or found records invalid: those are told already)."""
    signals = stats.signals.values()
    if any(s.sent or s.rejected or s.failed or s.unsent or s.invalid or s.adjusted for s in signals):
        return None
    read = sum(s.read for s in signals)
    if stats.files_read == 0:
        if stats.files_ignored:
            return f"nothing replayed: no telemetry found ({stats.files_ignored} file(s) passed over: not .json)"
        if stats.problem_count:
            return "nothing replayed: no input could be read"
        return "nothing replayed: no input files found"
    if read == 0:
        passed_over = sum(s.not_selected_files for s in signals)
        if passed_over:
            return f"nothing replayed: the files read hold no records of the selected signals ({passed_over} not)"
        return f"nothing replayed: the {stats.files_read} file(s) read hold no telemetry records"
    dropped: Counter[str] = sum((s.dropped for s in signals), start=Counter())
    by_filter = {label: n for label, n in dropped.items() if label not in _NOT_FILTERS}
    if not by_filter:
        if dropped.get(DELIVERED, 0):
            return None  # an earlier run delivered them (--resume): nothing left to do is success
        return f"nothing replayed: the {read} record(s) read recorded no values ({_counts(dict(dropped))})"
    line = f"nothing replayed: the filters dropped all {read} record(s) (" + _counts(by_filter) + ")"
    if TimeWindow.drop_label in by_filter:
        covered = TimeSpan()
        for span in stats.recorded.values():
            covered.update(span)
        if covered.first is not None and covered.last is not None:
            line += f"; the recording covers {iso(covered.first)} to {iso(covered.last)}"
    return line


def age_warnings(
    stats: RunStats,
    offset_ns: int,
    now_ns: int,
    sent: bool = False,
    windows: timechoice.Windows = DEFAULT_WINDOWS,
) -> list[str]:
    """What the summary says of records that a send puts where nobody finds them (the
    times as they are sent: after any shift; see timechoice.py for the windows). A run
    that ``sent`` them has Loki's own answer for those it refused as too old: only the
    query window is left to say."""
    logs = stats.kept[Signal.LOGS]
    max_age = windows.loki_max_age_ns
    if not sent and max_age and logs.first is not None and now_ns - (logs.first + offset_ns) > max_age:
        age = now_ns - (logs.first + offset_ns)
        limit = _spelled(max_age)
        return [
            f"the oldest log record is {_days(age)} old: Loki refuses entries older than {limit} "
            "(its reject_old_samples_max_age, 168h by default); add --shift-to-now to move the recording to now"
        ]
    newest = max((s.last for s in stats.kept.values() if s.last is not None), default=None)
    within = windows.loki_visible_ns
    if newest is not None and within and now_ns - (newest + offset_ns) > within:
        age = now_ns - (newest + offset_ns)
        return [
            f"the newest record is {_days(age)} old: Loki finds entries older than {_spelled(within)} "
            "only once it flushes them (up to 2 hours later) and Tempo's search finds old traces only later; "
            "add --shift-to-now to see them at once"
        ]
    return []


def recorded_range(stats: RunStats) -> tuple[int, int] | None:
    """The first and last instants of the records the filters kept, as recorded."""
    covered = TimeSpan()
    for span in stats.kept.values():
        covered.update(span)
    if covered.first is None or covered.last is None:
        return None
    return covered.first, covered.last


def iso(ns: int) -> str:
    """An instant as ISO 8601 UTC to the second: ``2026-11-24T17:00:00Z``."""
    return datetime.fromtimestamp(ns // 10**9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spelled(ns: int) -> str:
    """A window in words: ``7 days``, ``3 hours``, else ``90m``."""
    day = 24 * HOUR_NS
    if ns % day == 0:
        return f"{ns // day} day" + ("s" if ns != day else "")
    if ns % HOUR_NS == 0:
        return f"{ns // HOUR_NS} hour" + ("s" if ns != HOUR_NS else "")
    return timechoice.duration(ns)


def _days(ns: int) -> str:
    hours = ns // HOUR_NS
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


def _counts(labels: dict[str, int]) -> str:
    return ", ".join(f"{n} {label}" for label, n in sorted(labels.items(), key=lambda kv: -kv[1]))
