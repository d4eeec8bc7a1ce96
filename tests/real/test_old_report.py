"""A report recorded ten days ago: with its times kept (--keep-times) the real Loki refuses
its entries as too old (7 days is its default reject_old_samples_max_age), and the run
says so before sending and in the summary; with --shift-to-now everything lands."""

from __future__ import annotations

import time
from pathlib import Path

from tests.real.backends import Stack, loki_entries, require_binaries, wait_for_count
from tests.real.expect import assert_codemachine_span, by_time, expected_entry, fetch_spans, served_entry
from tests.real.inputs import replay, replay_human, write_report

require_binaries()

DAY_MS = 86_400_000
HOUR_NS = 3600 * 10**9


def test_without_shift_loki_refuses_a_ten_day_old_report_and_the_summary_says_why(
    stack: Stack, run_id: str, tmp_path: Path
) -> None:
    """Every log record is counted rejected as too old, with a hint naming --shift-to-now.
    Tempo takes spans of any age: they are found by id at their recorded times."""
    report = write_report(tmp_path / "report", time.time() * 1000 - 10 * DAY_MS, seed=int(run_id, 16))
    run = replay(
        str(report.folder), "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url,
        "--loki-label", f"run={run_id}", "--keep-times",
    )  # fmt: skip
    assert run.stderr.startswith(f"otel-replay: --keep-times: Loki will refuse {len(report.logs)} log record(s)")
    assert run.code == 1
    logs = run.signal("logs")
    assert (logs["sent"], logs["rejected"], logs["failed"]) == (0, len(report.logs), 0)
    assert list(logs["rejected_reasons"].values()) == [len(report.logs)]
    (reason,) = logs["rejected_reasons"]
    assert "too old" in reason, reason
    assert any("--shift-to-now" in hint for hint in run.summary["hints"]), run.summary["hints"]
    # the summary a person reads says the same
    code, text = replay_human(
        str(report.folder), "--logs-only", "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}", "--keep-times"
    )
    assert code == 1
    assert f"rejected {len(report.logs)}: timestamp too old" in text and "hint:" in text and "--shift-to-now" in text, (
        text
    )

    assert run.signal("traces")["sent"] == len(report.spans)
    stored = fetch_spans(stack, report.spans_per_trace())
    for doc in report.spans:
        assert_codemachine_span(doc, stored[doc["spanId"]], 0)


def test_with_shift_to_now_a_ten_day_old_report_lands(stack: Stack, run_id: str, tmp_path: Path) -> None:
    """Moved by one offset so that its newest record is now: every span and every log
    record is there, at its recorded time plus that offset."""
    report = write_report(tmp_path / "report", time.time() * 1000 - 10 * DAY_MS, seed=int(run_id, 16))
    run = replay(
        str(report.folder), "--shift-to-now", "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url,
        "--loki-label", f"run={run_id}",
    )  # fmt: skip
    assert run.code == 0, run.summary
    offset = run.summary["time_offset_ns"]
    assert 10 * DAY_MS * 10**6 - HOUR_NS < offset < 10 * DAY_MS * 10**6 + HOUR_NS
    assert run.signal("logs")["sent"] == len(report.logs)
    assert run.signal("traces")["sent"] == len(report.spans)

    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, len(report.logs)) == len(report.logs)
    now = time.time_ns()
    served = [served_entry(e) for e in loki_entries(stack, selector, now - HOUR_NS, now + HOUR_NS)]
    assert by_time(served) == by_time([expected_entry(doc, offset, {"run": run_id}) for doc in report.logs])

    stored = fetch_spans(stack, report.spans_per_trace())
    for doc in report.spans:
        assert_codemachine_span(doc, stored[doc["spanId"]], offset)
