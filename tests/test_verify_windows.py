"""Loki refuses a query over a longer time range than its ``max_query_length`` (721h by
default): the read-back of a report that spans more asks in windows under the limit, and
learns a lower limit from Loki's own refusal (tests/fakes/loki_query.py answers as Loki)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.verify.loki import MAX_QUERY_NS, SECOND, windows
from tests.fakes.loki import LokiLimits
from tests.fakes.loki_query import LokiWithQueries, go_duration, model_duration
from tests.helpers import log_doc, log_file

DAY_S = 86400
FIRST_S = 1795539600  # 2026-11-24T17:00:00Z
LAST_S = FIRST_S + 40 * DAY_S  # 40 days later: longer than 721h
OLD_OK = LokiLimits(reject_old_samples_max_age_ns=60 * DAY_S * SECOND)  # Loki configured to take them


def spread(tmp_path: Path, n: int) -> Path:
    """``n`` log records spread evenly over the 40 days."""
    step = (LAST_S - FIRST_S) // (n - 1)
    docs = [log_doc(sec=FIRST_S + i * step, body=f"day {i * step // DAY_S} record {i}") for i in range(n)]
    return log_file(tmp_path / "logs.json", docs)


def verify_logs(path: Path, loki: LokiWithQueries) -> tuple[int, str]:
    args = ["replay", str(path), "--signals", "logs", "--loki-url", loki.url, "--verify", "--verify-timeout", "1s"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return result.exit_code, result.stdout


@pytest.fixture
def loki() -> Iterator[LokiWithQueries]:
    with LokiWithQueries(limits=OLD_OK, now_ns=lambda: (LAST_S + 60) * SECOND) as server:
        yield server  # type: ignore[misc]


def test_windows_cover_the_range_once_each_under_the_limit() -> None:
    hour = 3600 * SECOND
    got = windows(0, 50 * hour + 7, 20 * hour)
    assert got == [(0, 10 * hour + 7), (10 * hour + 7, 30 * hour + 7), (30 * hour + 7, 50 * hour + 7)]
    assert windows(5, 9, 20 * hour) == [(5, 9)]
    assert all(b - a <= MAX_QUERY_NS for a, b in windows(0, 100 * 24 * hour, MAX_QUERY_NS))


def test_the_fake_words_the_refusal_as_loki_does() -> None:
    # pkg/validation ErrQueryTooLong: the length as Go's time.Duration, the limit as model.Duration
    assert model_duration(721 * 3600) == "30d1h"  # what Loki 3.4 answers (tests/real/test_verify_otlp_logs.py)
    assert model_duration(7 * 86400) == "1w"
    assert model_duration(1) == "1s"
    assert go_duration(800 * 3600 * SECOND) == "800h0m0s"
    assert go_duration(240 * 3600 * SECOND + 1) == "240h0m0.000000001s"


def test_a_report_over_40_days_is_counted_in_windows_loki_accepts(tmp_path: Path, loki: LokiWithQueries) -> None:
    code, out = verify_logs(spread(tmp_path, 41), loki)
    assert code == 0, out
    assert "logs    41 entries sent: 41 found" in out
    assert len(loki.queries) == 2  # one stream, 40 days + 2 s: two windows of at most 720 h


def test_the_missing_records_of_a_long_report_are_named_across_windows(tmp_path: Path) -> None:
    with LokiWithQueries(drop_every=10, limits=OLD_OK, now_ns=lambda: (LAST_S + 60) * SECOND) as lossy:
        code, out = verify_logs(spread(tmp_path, 41), lossy)
        lost = lossy.dropped()
    assert code == 1, out
    assert len(lost) == 4
    assert "logs    41 entries sent: 37 found, 4 missing" in out
    for _, ts, line, _ in lost:
        assert f'at {ts} "{line}"' in out


def test_a_loki_with_a_lower_limit_is_asked_again_in_windows_under_the_limit_it_names(tmp_path: Path) -> None:
    with LokiWithQueries(
        drop_every=10, max_query_length_s=7 * DAY_S, limits=OLD_OK, now_ns=lambda: (LAST_S + 60) * SECOND
    ) as strict:
        code, out = verify_logs(spread(tmp_path, 41), strict)
        refused = strict.too_long
    assert code == 1, out
    assert "logs    41 entries sent: 37 found, 4 missing" in out  # the entries were read, in 7-day windows
    assert refused == 1  # the first 720h window, once


def test_a_limit_that_cannot_be_worked_around_is_one_clear_line(tmp_path: Path) -> None:
    with LokiWithQueries(
        drop_every=2, max_query_length_s=1, limits=OLD_OK, now_ns=lambda: (LAST_S + 60) * SECOND
    ) as refusing:
        code, out = verify_logs(spread(tmp_path, 5), refusing)
    assert code == 1, out
    assert (
        "error: Loki refused the query's time range: 'the query time range exceeds the limit "
        "(query length: 240h0m0.000000001s, limit: 1s)' (verify asked over at most 720h at a time)"
    ) in out
    assert "Traceback" not in out
