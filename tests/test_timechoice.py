"""The time offset's decision table (docs/time.md): record ages × destinations × flags,
as pure functions; and the command line's first words about it, before anything is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_replay.model import LogRecord, Origin, SpanRecord
from otel_replay.options import ReplayOptions, build_plan
from otel_replay.plan import PlanError
from otel_replay.timechoice import (
    DAY_NS,
    HOUR_NS,
    KEEP_TIMES,
    KEPT,
    MINUTE_NS,
    RESUMED,
    SHIFT_TO_NOW,
    SHIFTED,
    TIME_OFFSET,
    Destinations,
    RecordTimes,
    Windows,
    choose,
    keep_times_lines,
    needs_counts,
)
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import FAKES_SHOW_EVERY_AGE, log_doc, log_file, replay, replay_json, span_doc, trace_file

NOW = 1_800_000_000 * 10**9
ORIGIN = Origin("f.json", 0)
LOKI = Destinations(loki=True)
OTLP = Destinations(otlp=True)
BOTH = Destinations(loki=True, otlp=True)
NOWHERE = Destinations()


def _log(t_ns: int, body: str = "x") -> LogRecord:
    return LogRecord(time_ns=t_ns, severity_number=9, severity_text="INFO", body=body, attributes={}, trace_id=0,
                     span_id=0, resource=(), origin=ORIGIN)  # fmt: skip


def _span(start_ns: int, end_ns: int) -> SpanRecord:
    return SpanRecord(trace_id=1, span_id=2, parent_span_id=0, name="n", kind=1, start_ns=start_ns,
                      end_ns=end_ns, status_code=0, status_message=None, attributes={}, events=[], resource=(),
                      origin=ORIGIN)  # fmt: skip


def times(*log_ages: int, span_age: int | None = None, windows: Windows | None = None) -> RecordTimes:
    t = RecordTimes(now_ns=NOW, windows=windows or Windows())
    for age in log_ages:
        t.add(_log(NOW - age))
    if span_age is not None:
        t.add(_span(NOW - span_age - 10**9, NOW - span_age))
    return t


# ages of the newest record × destinations × flags → how, and offset
CASES = [
    # a recording younger than every window keeps its times
    ("1m logs to Loki", times(MINUTE_NS), LOKI, {}, KEPT, 0),
    ("1m spans to OTLP", times(span_age=MINUTE_NS), OTLP, {}, KEPT, 0),
    # Loki shows 2 h old entries at once; Tempo's search does not show 30 min old traces
    ("2h logs to Loki", times(2 * HOUR_NS), LOKI, {}, KEPT, 0),
    (
        "30m logs to Loki, spans to Tempo",
        times(30 * MINUTE_NS, span_age=30 * MINUTE_NS),
        BOTH,
        {},
        SHIFTED,
        30 * MINUTE_NS,
    ),
    ("30m spans to OTLP", times(span_age=30 * MINUTE_NS), OTLP, {}, SHIFTED, 30 * MINUTE_NS),
    # older than Loki's ingester window: moved to now
    ("5h logs to Loki", times(6 * HOUR_NS, 5 * HOUR_NS), LOKI, {}, SHIFTED, 5 * HOUR_NS),
    ("2d logs to Loki", times(2 * DAY_NS), LOKI, {}, SHIFTED, 2 * DAY_NS),
    # some log records past Loki's 7-day limit, though the newest is recent
    ("8d and 1h logs to Loki", times(8 * DAY_NS, HOUR_NS), LOKI, {}, SHIFTED, HOUR_NS),
    # --output: files, no destination to see them in: times kept
    ("2d to files", times(2 * DAY_NS, span_age=2 * DAY_NS), NOWHERE, {}, KEPT, 0),
    # the flags
    ("--keep-times 5h", times(5 * HOUR_NS), BOTH, {"keep_times": True}, KEEP_TIMES, 0),
    ("--shift-to-now 1m", times(span_age=MINUTE_NS), OTLP, {"shift_to_now": True}, SHIFT_TO_NOW, MINUTE_NS),
    ("--shift-to-now to files", times(2 * DAY_NS), NOWHERE, {"shift_to_now": True}, SHIFT_TO_NOW, 2 * DAY_NS),
    ("--time-offset", times(5 * HOUR_NS), LOKI, {"offset_ns": -DAY_NS}, TIME_OFFSET, -DAY_NS),
    ("--time-offset 0 keeps the times", times(5 * HOUR_NS), LOKI, {"offset_ns": 0}, TIME_OFFSET, 0),
    ("--resume keeps 0", times(5 * HOUR_NS), LOKI, {"resumed_offset_ns": 0}, RESUMED, 0),
    ("--resume keeps its offset", None, LOKI, {"resumed_offset_ns": 7, "offset_ns": 9}, RESUMED, 7),
    # a Loki configured otherwise (--loki-visible-within 0: its query_ingesters_within is 0)
    ("5h logs, Loki shows any age", times(5 * HOUR_NS, windows=Windows(loki_visible_ns=0)), LOKI, {}, KEPT, 0),
    ("5h logs, Loki within 12h", times(5 * HOUR_NS, windows=Windows(loki_visible_ns=12 * HOUR_NS)), LOKI, {}, KEPT, 0),
    (
        "8d logs, no max age",
        times(8 * DAY_NS, windows=Windows(loki_visible_ns=0, loki_max_age_ns=0)),
        LOKI,
        {},
        KEPT,
        0,
    ),
    (
        "30m spans, search any age",
        times(span_age=30 * MINUTE_NS, windows=Windows(otlp_visible_ns=0)),
        OTLP,
        {},
        KEPT,
        0,
    ),
    # nothing found by the first pass: nothing to move
    ("no records", times(), BOTH, {}, KEPT, 0),
]


@pytest.mark.parametrize(("found", "dest", "flags", "how", "offset"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_decision_table(found: RecordTimes | None, dest: Destinations, flags: dict, how: str, offset: int) -> None:
    choice = choose(found, destinations=dest, **flags)
    assert (choice.how, choice.offset_ns) == (how, offset)
    assert (choice.how == SHIFTED) == bool(choice.reason)


def test_a_shard_is_not_moved_by_default_and_says_why() -> None:
    """Each --shard would find its own newest record: the times stay, and the reason is said."""
    choice = choose(times(5 * HOUR_NS), destinations=LOKI, shard=True)
    assert (choice.how, choice.offset_ns) == (KEPT, 0)
    assert choice.reason.startswith("not moved to now, as each --shard would move its share by its own offset")
    assert choice.reason.endswith("give every shard the same --time-offset")
    assert choose(times(5 * HOUR_NS), destinations=LOKI, shard=True, offset_ns=HOUR_NS).how == TIME_OFFSET
    assert choose(times(MINUTE_NS), destinations=LOKI, shard=True).reason == ""


def test_the_reason_names_the_destination_and_the_age() -> None:
    assert (
        "Loki shows entries older than 3h only once its ingester flushes them"
        in choose(times(5 * HOUR_NS), destinations=LOKI).reason
    )
    assert "Tempo's search finds traces older than 2m" in choose(times(span_age=HOUR_NS), destinations=OTLP).reason
    assert (
        "Loki refuses log records older than 7d (the oldest is 8d old)"
        in choose(times(8 * DAY_NS, HOUR_NS), destinations=LOKI).reason
    )


def test_the_first_pass_counts_what_loki_will_not_show_and_what_it_refuses() -> None:
    found = times(MINUTE_NS, 4 * HOUR_NS, 5 * HOUR_NS, 8 * DAY_NS, 9 * DAY_NS, 0 + NOW)  # the last: no time (0)
    found.add(_log(NOW - 4 * HOUR_NS))  # a copy (latest.json) of one already counted
    found.add(_log(NOW - 4 * HOUR_NS, "other"))  # another record at the same time
    assert (found.unserved, found.refused) == (3, 2)
    assert found.first == NOW - 9 * DAY_NS and found.last == NOW - MINUTE_NS
    merged = times(span_age=DAY_NS)
    merged.merge(found)
    merged.merge(None)
    merged.merge(found)  # another worker read the same records (a copy)
    assert (merged.unserved, merged.refused, merged.first, merged.last) == (3, 2, NOW - 9 * DAY_NS, NOW - MINUTE_NS)


def test_a_log_record_as_old_as_a_window_is_within_it_whether_converted_or_read_by_its_time() -> None:
    """Loki refuses what is older than its maximum age and shows at once what is not older
    than its window: one nanosecond decides, alike for a converted record (``add``) and for
    a document's times read alone (``add_logs``)."""
    w = Windows()
    ages = [w.loki_visible_ns - 1, w.loki_visible_ns, w.loki_visible_ns + 1,
            w.loki_max_age_ns - 1, w.loki_max_age_ns, w.loki_max_age_ns + 1]  # fmt: skip
    converted = times(*ages)
    read = RecordTimes(now_ns=NOW, windows=w)
    read.add_logs([NOW - age for age in ages], lambda indices: indices)
    for found in (converted, read):
        assert (found.unserved, found.refused) == (3, 1)
    off = RecordTimes(now_ns=NOW, windows=Windows(loki_visible_ns=0, loki_max_age_ns=0))
    off.add_logs([NOW - age for age in ages], lambda indices: indices)
    assert (off.unserved, off.refused, off.first) == (0, 0, NOW - ages[-1])


def test_deferred_records_are_identified_only_when_read_again() -> None:
    """With ``defer``, an old log record (one Loki would not show at once or would refuse)
    costs no identity: its input is noted, what is known without counting is said (whether
    there are any of each kind, the oldest), and the counts are asked of nobody until the
    second look brings the identities. A record of no known input is identified at once."""
    asked: list[list[int]] = []

    def identities(indices: list[int]) -> list[int]:
        asked.append(indices)
        return [NOW - 4 * HOUR_NS + i for i in indices]

    stamps = [NOW - 4 * HOUR_NS, NOW - 8 * DAY_NS, NOW - MINUTE_NS, NOW - 5 * HOUR_NS]

    def first_look(defer: bool) -> RecordTimes:
        found = RecordTimes(now_ns=NOW, windows=Windows(), defer=defer)
        found.begin(7)
        found.add_logs(stamps, identities, whole=True)
        found.begin(8)
        found.add(_log(NOW - 6 * HOUR_NS))
        found.begin(9)
        found.add_logs([NOW - MINUTE_NS], identities, whole=True)  # shown at once: nothing to defer
        return found

    deferring = first_look(defer=True)
    assert asked == [] and deferring.deferred == {7, 8}
    assert deferring.any_unserved and deferring.any_refused and deferring.first_log == NOW - 8 * DAY_NS
    for count in ("unserved", "refused"):
        with pytest.raises(ValueError, match="not counted yet"):
            getattr(deferring, count)
    merged = RecordTimes(now_ns=NOW, windows=Windows())
    merged.merge(deferring)
    assert merged.deferred == {7, 8} and merged.any_unserved and merged.any_refused
    merged.add_identified(first_look(defer=False))  # the second look
    assert (merged.unserved, merged.refused, merged.deferred) == (3, 1, set())
    only_refused = RecordTimes(now_ns=NOW, windows=Windows(), defer=True)
    only_refused.begin(1)
    only_refused.add_logs([NOW - 8 * DAY_NS, NOW - 9 * DAY_NS], identities)
    assert only_refused.any_refused and not only_refused.any_unserved and only_refused.deferred == {1}
    asked.clear()
    unknown = RecordTimes(now_ns=NOW, windows=Windows(), defer=True)
    unknown.begin(None)
    unknown.add_logs(stamps, identities)
    assert asked and (unknown.unserved, unknown.refused, unknown.deferred) == (2, 1, set())


def test_the_counts_are_needed_unless_the_recording_moves_to_now_or_no_log_goes_to_loki() -> None:
    old = times(5 * HOUR_NS)
    assert not needs_counts(choose(old, destinations=LOKI), LOKI)  # shifted
    assert not needs_counts(choose(old, destinations=LOKI, shift_to_now=True), LOKI)
    assert needs_counts(choose(times(0, 5 * HOUR_NS), destinations=LOKI, shift_to_now=True), LOKI)  # moved by nothing
    assert needs_counts(choose(old, destinations=LOKI, keep_times=True), LOKI)
    assert needs_counts(choose(times(MINUTE_NS, 5 * HOUR_NS), destinations=LOKI), LOKI)  # kept
    assert needs_counts(choose(old, destinations=LOKI, shard=True), LOKI)  # kept, with a warning
    assert not needs_counts(choose(old, destinations=LOKI, offset_ns=0), LOKI)  # no first pass asked
    # the log records go to an OTLP backend: nothing of Loki's to count
    assert not needs_counts(choose(old, destinations=OTLP, keep_times=True), OTLP)
    assert not needs_counts(choose(times(MINUTE_NS, 5 * HOUR_NS), destinations=OTLP), OTLP)


def test_keep_times_lines_give_the_numbers() -> None:
    lines = keep_times_lines(times(MINUTE_NS, 4 * HOUR_NS, 8 * DAY_NS, span_age=5 * HOUR_NS), BOTH)
    assert lines[0].startswith("Loki will not show 1 log record(s) until its ingester flushes them")
    assert lines[1].startswith("Loki will refuse 1 log record(s) as too old (older than 7d")
    # the newest record is a log 1 min old, but the spans (to Tempo) are 5 h old
    assert lines[2].startswith("the newest record is 5h old: Tempo finds these traces by id at once")
    assert len(lines) == 3
    assert len(keep_times_lines(times(MINUTE_NS, 4 * HOUR_NS, 8 * DAY_NS, span_age=MINUTE_NS), BOTH)) == 2
    assert keep_times_lines(times(8 * DAY_NS), OTLP) == [
        "the newest record is 8d old: Tempo finds these traces by id at once, by search only once it flushes "
        "its block (--otlp-visible-within if it shows them sooner)"
    ]
    assert keep_times_lines(times(MINUTE_NS), BOTH) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--keep-times", "--shift-to-now"], "--keep-times"),
        (["--keep-times", "--time-offset", "1h"], "--keep-times"),
        (["--loki-visible-within", "soon"], "--loki-visible-within"),
        (["--loki-max-age", "-1d"], "--loki-max-age"),
    ],
)
def test_contradicting_or_wrong_time_flags_are_refused(flags: list[str], message: str, tmp_path: Path) -> None:
    """(build_plan reads no environment: the flags' values as given.)"""
    keys = {
        "--keep-times": ("keep_times", True),
        "--shift-to-now": ("shift_to_now", True),
    }
    values: dict[str, object] = {}
    it = iter(flags)
    for flag in it:
        if flag in keys:
            values[keys[flag][0]] = keys[flag][1]
        else:
            values[flag[2:].replace("-", "_")] = next(it)
    with pytest.raises(PlanError, match=message):
        build_plan(ReplayOptions(paths=(str(tmp_path),), **values))  # type: ignore[arg-type]


def test_windows_flags_reach_the_plan(tmp_path: Path) -> None:
    plan = build_plan(
        ReplayOptions(paths=(str(tmp_path),), loki_visible_within="0", loki_max_age="30d", otlp_visible_within="1h")
    )
    assert plan.selection.windows == Windows(loki_visible_ns=0, loki_max_age_ns=30 * DAY_NS, otlp_visible_ns=HOUR_NS)


@pytest.fixture
def real_loki(monkeypatch: pytest.MonkeyPatch) -> Iterator[LokiReceiver]:
    """A fake Loki on the real clock (the shared fixture's is the example's), and replays
    that assume the backends' defaults (not that the fakes show any age at once)."""
    for name in FAKES_SHOW_EVERY_AGE:
        monkeypatch.delenv(name)
    with LokiReceiver() as server:
        yield server  # type: ignore[misc]


def _old_report(folder: Path, age_ns: int) -> tuple[int, int]:
    """Two spans and two log records, the newest ``age_ns`` old; their first and last instants."""
    last = time.time_ns() - age_ns
    first = last - 60 * 10**9
    trace_file(folder / "t.json", [span_doc(start=first // 10**6, end=last // 10**6)])
    sec = first // 10**9
    log_file(folder / "l.json", [log_doc(sec=sec, body="a"), log_doc(sec=last // 10**9, body="b")])
    return first, last


def test_a_five_hour_old_report_is_moved_to_now_and_the_first_line_says_so_before_sending(
    tmp_path: Path, collector: OtlpReceiver, real_loki: LokiReceiver
) -> None:
    _old_report(tmp_path, 5 * HOUR_NS)
    result = replay(str(tmp_path), "--otlp-endpoint", collector.url, "--loki-url", real_loki.url)
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("otel-replay: moving the recording to now: every timestamp +5h"), first
    assert "Loki shows entries older than 3h only once its ingester flushes them" in first
    out = result.stdout.splitlines()
    assert ", times moved by +5h" in out[0]
    assert any(line.startswith("  times   recorded ") and "replayed " in line for line in out), out


def test_a_time_offset_of_zero_is_obeyed_and_keeps_the_recorded_times(
    tmp_path: Path, collector: OtlpReceiver, real_loki: LokiReceiver
) -> None:
    """``--time-offset 0s`` is given (not the default shift that an absent flag leaves)."""
    _, last = _old_report(tmp_path, 2 * DAY_NS)
    code, summary = replay_json(
        str(tmp_path), "--otlp-endpoint", collector.url, "--loki-url", real_loki.url, "--time-offset", "0s"
    )
    assert code == 0
    assert summary["time_offset_ns"] == 0 and summary["time"]["how"] == TIME_OFFSET
    assert sorted(ts for (ts, _line) in _entries(real_loki))[-1] // 10**9 == last // 10**9


def test_json_gives_the_offset_and_both_time_ranges(
    tmp_path: Path, collector: OtlpReceiver, real_loki: LokiReceiver
) -> None:
    _, last = _old_report(tmp_path, 2 * DAY_NS)
    code, summary = replay_json(str(tmp_path), "--otlp-endpoint", collector.url, "--loki-url", real_loki.url)
    assert code == 0
    t = summary["time"]
    assert t["how"] == "shifted" and t["offset_ns"] == summary["time_offset_ns"]
    assert 2 * DAY_NS - 60 * 10**9 < t["offset_ns"] < 2 * DAY_NS + 60 * 10**9
    assert t["recorded"]["last_ns"] // 10**9 == last // 10**9
    assert t["replayed"]["last_ns"] == t["recorded"]["last_ns"] + t["offset_ns"]
    assert t["replayed"]["first_ns"] == t["recorded"]["first_ns"] + t["offset_ns"]
    assert "Loki shows entries older than 3h" in t["reason"]
    # what reached Loki is at the replayed times
    times_sent = sorted(ts for (ts, _line) in _entries(real_loki))
    assert times_sent[-1] // 10**9 == t["replayed"]["last_ns"] // 10**9


def _entries(loki: LokiReceiver) -> list[tuple[int, str]]:
    from tests.helpers import entry_counts

    return list(entry_counts(loki))


def test_keep_times_says_first_what_loki_will_not_show_yet(
    tmp_path: Path, collector: OtlpReceiver, real_loki: LokiReceiver
) -> None:
    _old_report(tmp_path, 5 * HOUR_NS)
    result = replay(str(tmp_path), "--keep-times", "--otlp-endpoint", collector.url, "--loki-url", real_loki.url)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("otel-replay: --keep-times: Loki will not show 2 log record(s) until its ingester")
    assert "by search only once it flushes its block" in lines[1]
    assert "warning: Loki will not show 2 log record(s)" in result.stdout
    assert "replayed at those times (--keep-times)" in result.stdout
