"""What the summary says of a run as a whole: a run that replays nothing ends with exit
1 and a line saying why (for time filters, with the time the recording covers), and
``--dry-run`` / ``--output`` warn of records too old for what Loki and Tempo will do."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from otel_replay.model import Signal
from otel_replay.report import Report
from otel_replay.stats import RunStats, TimeSpan
from otel_replay.verdict import LOKI_MAX_AGE_NS, QUERY_WINDOW_NS, age_warnings, iso, nothing_replayed
from tests.fakes.loki import LokiReceiver
from tests.helpers import EXAMPLE, FAKES_SHOW_EVERY_AGE, log_doc, log_file, replay, replay_json, span_doc, trace_file

DAY_NS = 24 * 3600 * 10**9


def test_an_empty_folder_replays_nothing_and_says_so(tmp_path: Path) -> None:
    result = replay(str(tmp_path), "--dry-run")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "nothing replayed: no input files found"


def test_a_folder_without_telemetry_replays_nothing_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not telemetry")
    code, summary = replay_json(str(tmp_path), "--dry-run")
    assert code == 1 and summary["exit_status"] == 1
    assert summary["nothing_replayed"] == "nothing replayed: no telemetry found (1 file(s) passed over: not .json)"


def test_files_without_records_replay_nothing_and_say_so(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [])
    result = replay(str(tmp_path), "--dry-run")
    assert result.exit_code == 1
    assert "nothing replayed: the 1 file(s) read hold no telemetry records" in result.stdout.splitlines()


def test_time_filters_that_drop_everything_name_the_time_the_recording_covers(tmp_path: Path) -> None:
    result = replay(str(EXAMPLE), "--dry-run", "--since", "2020-01-01T00:00:00Z", "--until", "2020-01-02T00:00:00Z")
    assert result.exit_code == 1
    last = result.stdout.splitlines()[-1]
    assert last.startswith("nothing replayed: the filters dropped all 251 record(s) (251 outside --since/--until)")
    assert last.endswith("; the recording covers 2026-11-24T17:00:00Z to 2026-11-24T17:01:00Z")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_other_filters_that_drop_everything_say_which(workers: str) -> None:
    code, summary = replay_json(str(EXAMPLE), "--dry-run", "--service", "nobody", "--workers", workers)
    assert code == 1
    assert (
        summary["nothing_replayed"] == "nothing replayed: the filters dropped all 251 record(s) (251 not in --service)"
    )


def test_a_run_that_replays_something_says_nothing_of_the_kind(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc()])
    code, summary = replay_json(str(tmp_path), "--dry-run", "--shift-to-now")
    assert code == 0 and summary["nothing_replayed"] is None and summary["warnings"] == []


def test_a_resumed_run_with_everything_delivered_is_not_a_run_that_did_nothing() -> None:
    stats = RunStats()
    stats.read(Signal.LOGS, 3)
    for _ in range(3):
        stats.dropped(Signal.LOGS, "already delivered (--resume)")
    stats.file_read()
    assert nothing_replayed(stats) is None


def _stats_with_logs(first_ns: int, last_ns: int) -> RunStats:
    stats = RunStats()
    span = TimeSpan()
    span.add(first_ns, last_ns)
    stats.times(Signal.LOGS, span, span)
    return stats


def test_logs_older_than_loki_accepts_are_warned_of_and_shift_to_now_suggested() -> None:
    now = 1_800_000_000 * 10**9
    (warning,) = age_warnings(_stats_with_logs(now - LOKI_MAX_AGE_NS - DAY_NS, now - DAY_NS), 0, now)
    assert warning.startswith("the oldest log record is 8d 0h old: Loki refuses entries older than 7 days")
    assert "--shift-to-now" in warning
    # moved two days on, the same records are young enough
    assert age_warnings(_stats_with_logs(now - 8 * DAY_NS, now - 2 * DAY_NS), 2 * DAY_NS, now) == []
    assert age_warnings(_stats_with_logs(now - DAY_NS, now), 0, now) == []


def test_records_older_than_the_query_window_are_warned_of() -> None:
    now = 1_800_000_000 * 10**9
    (warning,) = age_warnings(_stats_with_logs(now - 2 * DAY_NS, now - QUERY_WINDOW_NS - 3600 * 10**9), 0, now)
    assert warning.startswith("the newest record is 4h old: Loki finds entries older than 3 hours only once")
    assert warning.endswith("add --shift-to-now to see them at once")
    assert age_warnings(_stats_with_logs(now - 3600 * 10**9, now - 60 * 10**9), 0, now) == []


@pytest.mark.parametrize("mode", [["--keep-times", "--dry-run"], ["--output", "OUT"]])
def test_dry_run_and_output_warn_of_an_old_recording(
    tmp_path: Path, mode: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--output keeps the recorded times (no destination to see them in, docs/time.md), as
    --keep-times does: both warn of what Loki will do with them, with Loki's defaults."""
    for name in FAKES_SHOW_EVERY_AGE:
        monkeypatch.delenv(name)
    ten_days_ago = int(time.time()) - 10 * 86400
    log_file(tmp_path / "in" / "l.json", [log_doc(sec=ten_days_ago)])
    args = [str(tmp_path / "in"), *(str(tmp_path / "out") if a == "OUT" else a for a in mode)]
    result = replay(*args)
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    if "--output" in mode:
        assert len(warnings) == 1 and "10d 0h old: Loki refuses entries older than 7 days" in warnings[0]
        assert "--shift-to-now" in warnings[0]
    else:
        assert warnings == [
            "warning: Loki will refuse 1 log record(s) as too old (older than 7d: --loki-max-age if it is "
            "configured otherwise)"
        ]
    again = [str(tmp_path / "out2") if a == str(tmp_path / "out") else a for a in args if a != "--keep-times"]
    code, summary = replay_json(*again, "--shift-to-now")
    assert code == 0 and summary["warnings"] == []


def test_a_send_leaves_records_too_old_to_loki_s_answer_but_warns_of_the_query_window() -> None:
    now = 1_800_000_000 * 10**9
    stats = _stats_with_logs(now - 10 * DAY_NS, now - 9 * DAY_NS)
    (dry,) = Report(stats, mode="dry-run", now_ns=now).warnings
    assert "Loki refuses entries older than 7 days" in dry
    assert Report(stats, mode="send", now_ns=now).warnings == []  # nothing was sent
    stats.sent(Signal.TRACES, 1)
    (sent,) = Report(stats, mode="send", now_ns=now).warnings
    assert sent.startswith("the newest record is 9d 0h old: Loki finds entries older than 3 hours only once")


def test_times_are_shown_in_utc() -> None:
    assert iso(1795539600 * 10**9 + 999_999_999) == "2026-11-24T17:00:00Z"


def test_a_send_of_records_hours_old_warns_that_they_show_up_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the recorded times kept (by default they move to now: tests/test_timechoice.py)."""
    for name in FAKES_SHOW_EVERY_AGE:
        monkeypatch.delenv(name)
    five_hours_ago = int(time.time()) - 5 * 3600
    log_file(tmp_path / "l.json", [log_doc(sec=five_hours_ago)])
    with LokiReceiver() as loki:  # on this machine's clock (the fixture's is the example's)
        code, summary = replay_json(str(tmp_path), "--logs-only", "--loki-url", loki.url, "--keep-times")
        assert code == 0 and summary["signals"]["logs"]["sent"] == 1
        (warning,) = summary["warnings"]
        assert warning.startswith("Loki will not show 1 log record(s) until its ingester flushes them (older than 3h")
        code, summary = replay_json(str(tmp_path), "--logs-only", "--loki-url", loki.url, "--shift-to-now")
        assert code == 0 and summary["warnings"] == []
