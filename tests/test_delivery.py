"""One delivery path: the retry policy, the classification of answers, and how outcomes
are counted and journalled — for Loki (our own HTTP) and OTLP (the official exporter)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from otel_replay.model import Signal
from otel_replay.resume import ResumeState
from otel_replay.sinks import delivery
from otel_replay.sinks.delivery import (
    MAX_ATTEMPTS,
    Account,
    Delivered,
    Outcome,
    Partial,
    Permanent,
    Retryable,
    RetryPolicy,
    retry_after_seconds,
    status_outcome,
    with_attempts,
)
from otel_replay.sinks.loki_answers import classify, label_string, parse_rejections
from otel_replay.stats import RunStats
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver, tempo_error
from tests.fakes.server import Answer
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS, log_doc, log_file, replay_json, span_doc, trace_file

SEC = 1795539600
#: The labels of the stream the test records below go to (as Loki names it in errors).
STREAM = '{imported="true", service_name="codemachine", severity_text="INFO"}'
#: A 400 body as the real Loki 3.4 wrote it for a push with one entry over a week old
#: and two lines over max_line_size (the distributor groups its validation errors).
LOKI_MIXED = (
    f"1 errors like: entry for stream '{STREAM}' has timestamp too old: 2026-11-25T09:36:48Z, "
    "oldest acceptable timestamp is: 2026-11-26T09:36:48Z; 2 errors like: Max entry size '262144' bytes "
    f"exceeded for stream '{STREAM}' while adding an entry with length '300000' bytes"
)
TOO_OLD = "timestamp too old (older than Loki's reject_old_samples_max_age, 7 days by default)"
TOO_LONG = "line too long (over Loki's max_line_size)"


class _Waits(threading.Event):
    """A stop event that records the waits asked of it and never waits."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def _attempts(*outcomes: Outcome) -> tuple[list[float], object]:
    timeouts: list[float] = []
    queue = list(outcomes)

    def attempt(timeout: float) -> Outcome:
        timeouts.append(timeout)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return timeouts, attempt


def test_the_policy_stops_after_the_exporters_six_attempts() -> None:
    stop = _Waits()
    timeouts, attempt = _attempts(Retryable("HTTP 503"))
    outcome, attempts = RetryPolicy(deadline_seconds=1e6, attempt_timeout=7).run(attempt, stop)  # type: ignore[arg-type]
    assert isinstance(outcome, Retryable) and attempts == MAX_ATTEMPTS == 6
    assert timeouts == [7] * 6
    # 1 s, 2 s, 4 s, 8 s, 16 s, each within the exporters' ±20 % jitter
    assert len(stop.waits) == 5
    for i, wait in enumerate(stop.waits):
        assert 0.8 * 2**i <= wait <= 1.2 * 2**i


def test_the_policy_waits_what_retry_after_asks() -> None:
    stop = _Waits()
    _, attempt = _attempts(Retryable("HTTP 429", after=3.5), Retryable("HTTP 429", after=0.25), Delivered())
    outcome, attempts = RetryPolicy(deadline_seconds=60).run(attempt, stop)  # type: ignore[arg-type]
    assert outcome == Delivered() and attempts == 3
    assert stop.waits == [3.5, 0.25]


def test_the_policy_never_waits_past_the_deadline() -> None:
    stop = _Waits()
    _, attempt = _attempts(Retryable("HTTP 429", after=30))
    outcome, attempts = RetryPolicy(deadline_seconds=10).run(attempt, stop)  # type: ignore[arg-type]
    assert isinstance(outcome, Retryable) and attempts == 1 and stop.waits == []


def test_an_attempt_gets_what_is_left_of_the_deadline_and_never_less_than_50_ms() -> None:
    timeouts, attempt = _attempts(Delivered())
    RetryPolicy(deadline_seconds=3, attempt_timeout=10).run(attempt, _Waits())  # type: ignore[arg-type]
    assert 2 < timeouts[0] <= 3
    timeouts, attempt = _attempts(Delivered())
    RetryPolicy(deadline_seconds=0.001, attempt_timeout=10).run(attempt, _Waits())  # type: ignore[arg-type]
    assert timeouts == [0.05]


def test_a_wait_as_long_as_the_time_left_is_not_made() -> None:
    stop = _Waits()
    _, attempt = _attempts(Retryable("HTTP 429", after=100), Delivered())
    outcome, attempts = RetryPolicy(deadline_seconds=100).run(attempt, stop)  # type: ignore[arg-type]
    assert isinstance(outcome, Retryable) and attempts == 1 and stop.waits == []


def test_a_stop_during_the_wait_ends_the_retries() -> None:
    class Stopped(_Waits):
        def wait(self, timeout: float | None = None) -> bool:
            super().wait(timeout)
            return True  # set while waiting

    stop = Stopped()
    _, attempt = _attempts(Retryable("HTTP 503", after=2), Delivered())
    outcome, attempts = RetryPolicy(deadline_seconds=60).run(attempt, stop)  # type: ignore[arg-type]
    assert outcome == Retryable("HTTP 503", after=2) and attempts == 1 and stop.waits == [2]


def test_a_wait_that_would_end_at_the_deadline_is_not_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "time", SimpleNamespace(monotonic=lambda: 100.0))  # no time passes
    stop = _Waits()
    _, attempt = _attempts(Retryable("HTTP 429", after=10), Delivered())
    outcome, attempts = RetryPolicy(deadline_seconds=10).run(attempt, stop)  # type: ignore[arg-type]
    assert isinstance(outcome, Retryable) and attempts == 1 and stop.waits == []
    _, attempt = _attempts(Retryable("HTTP 429", after=9.99), Delivered())
    assert RetryPolicy(deadline_seconds=10).run(attempt, stop) == (Delivered(), 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(("draw", "factor"), [(min, 0.8), (max, 1.2)])
def test_the_backoff_is_jittered_20_percent_either_way(
    monkeypatch: pytest.MonkeyPatch, draw: Callable[[float, float], float], factor: float
) -> None:
    monkeypatch.setattr(delivery.random, "uniform", draw)  # the lowest or the highest draw
    policy = RetryPolicy(base_backoff=0.5)
    assert [policy.backoff(retry) for retry in range(3)] == pytest.approx([0.5 * factor, 1.0 * factor, 2.0 * factor])


def test_without_a_stop_event_the_policy_sleeps_and_tries_again() -> None:
    _, attempt = _attempts(Retryable("HTTP 503", after=0), Delivered())
    assert RetryPolicy(deadline_seconds=60).run(attempt) == (Delivered(), 2)  # type: ignore[arg-type]


def test_a_final_answer_is_never_retried() -> None:
    stop = _Waits()
    _, attempt = _attempts(Permanent("HTTP 500: boom", refused=False))
    outcome, attempts = RetryPolicy().run(attempt, stop)  # type: ignore[arg-type]
    assert outcome == Permanent("HTTP 500: boom", refused=False) and attempts == 1 and stop.waits == []


@pytest.mark.parametrize(("value", "seconds"), [("2", 2.0), ("0.5", 0.5), (None, None), ("soon", None), ("-3", 0.0)])
def test_retry_after_is_read_as_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412500.0) == 0.0  # already past
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT") == 0.0  # from the clock: long past
    assert retry_after_seconds("Fri, 21 Oct 2095 07:28:10 GMT", now=3970020480.0) == 10.0


@pytest.mark.parametrize("value", ["nan", "inf", "", "   "])
def test_a_retry_after_that_is_no_delay_is_no_hint(value: str) -> None:
    assert retry_after_seconds(value) is None


def test_retry_after_may_be_padded() -> None:
    assert retry_after_seconds(" 3 ") == 3.0
    assert retry_after_seconds(" Wed, 21 Oct 2015 07:28:10 GMT ", now=1445412480.0) == 10.0


@pytest.mark.parametrize(
    ("status", "refused"), [(300, False), (400, True), (401, True), (499, True), (500, False), (501, False)]
)
def test_a_final_status_refuses_the_records_only_when_it_is_a_4xx(status: int, refused: bool) -> None:
    assert status_outcome(status, "why", 7.0, "do this") == Permanent("why", refused=refused, hint="do this")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_the_retryable_statuses_carry_retry_after(status: int) -> None:
    assert status_outcome(status, "busy", 7.0, "ignored") == Retryable("busy", 7.0)


def test_attempts_are_said_in_the_singular_and_the_plural() -> None:
    assert with_attempts("HTTP 503", 1) == "HTTP 503 (after 1 attempt)"
    assert with_attempts("HTTP 503", 2) == "HTTP 503 (after 2 attempts)"


# -- Account: the one place a batch's outcome is counted and journalled ----------------------
class _Journal:
    """A journal that keeps what it is told: each batch sent, then how it was settled."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def sending(self, signal: Signal, keys: Any) -> int:
        self.events.append(("sending", signal, list(keys)))
        return len(self.events)

    def answered(self, signal: Signal, batch: int, stored: bool) -> None:
        self.events.append(("answered", signal, batch, stored))


def _account() -> tuple[Account, RunStats, _Journal]:
    journal = _Journal()
    stats = RunStats()
    return Account(Signal.LOGS, stats, journal), stats, journal


def _settle(account: Account, outcome: Outcome, attempts: int, keys: list[str], where: str = "f[0]") -> None:
    """One batch through the account as a sink sends it: journalled, sent, settled."""
    account.settle(outcome, attempts, len(keys), where, account.sending(lambda: keys))


def test_delivered_is_counted_sent_and_journalled_before_and_after() -> None:
    account, stats, journal = _account()
    _settle(account, Delivered(), 1, ["a", "b", "c"])
    logs = stats.signals[Signal.LOGS]
    assert (logs.sent, logs.rejected, logs.failed) == (3, 0, 0)
    assert journal.events == [("sending", Signal.LOGS, ["a", "b", "c"]), ("answered", Signal.LOGS, 1, True)]


def test_a_partial_success_is_counted_reason_by_reason_largest_first_and_journalled() -> None:
    account, stats, journal = _account()
    partial = Partial({"too old": 2, "too long": 5, "labels": 4}, hints=("use --shift-to-now",))
    _settle(account, partial, 1, list("abcdefgh"))
    logs = stats.signals[Signal.LOGS]
    # 5 and then 3 of the 4 fill the 8 records; none is left for the 2 nor sent
    assert logs.rejected_reasons == {"too long": 5, "labels": 3}
    assert (logs.sent, logs.rejected) == (0, 8)
    assert stats.hints == ["use --shift-to-now"]
    assert journal.events[-1] == ("answered", Signal.LOGS, 1, True)  # refused for good: not sent again
    _settle(account, Partial({"too old": 1}), 1, list("wxyz"))
    assert (logs.sent, logs.rejected, logs.rejected_reasons["too old"]) == (3, 9, 1)


@pytest.mark.parametrize(("attempts", "reason"), [(1, "HTTP 400: bad"), (2, "HTTP 400: bad (after 2 attempts)")])
def test_a_refusal_is_counted_rejected_with_its_hint_and_journalled_not_stored(attempts: int, reason: str) -> None:
    account, stats, journal = _account()
    _settle(account, Permanent("HTTP 400: bad", refused=True, hint="try this"), attempts, ["a", "b"])
    logs = stats.signals[Signal.LOGS]
    assert (logs.sent, logs.rejected, logs.failed, dict(logs.rejected_reasons)) == (0, 2, 0, {reason: 2})
    assert stats.hints == ["try this"] and stats.problems == []
    assert journal.events[-1] == ("answered", Signal.LOGS, 1, False)


def test_a_failure_is_counted_failed_naming_its_batch_and_journalled_not_stored() -> None:
    account, stats, journal = _account()
    _settle(account, Permanent("HTTP 500: boom", refused=False), 1, ["a", "b"], "f[0] … f[1]")
    _settle(account, Retryable("HTTP 503: busy"), 6, ["c", "d", "e"], "g[0] … g[2]")
    logs = stats.signals[Signal.LOGS]
    assert (logs.sent, logs.rejected, logs.failed) == (0, 0, 5)
    assert logs.failed_reasons == {"HTTP 500: boom": 2, "HTTP 503: busy (after 6 attempts)": 3}
    assert [p.line() for p in stats.problems] == [
        "f[0] … f[1]: 2 log record(s) not delivered: HTTP 500: boom",
        "g[0] … g[2]: 3 log record(s) not delivered: HTTP 503: busy (after 6 attempts)",
    ]
    assert stats.hints == []
    assert [e for e in journal.events if e[0] == "answered"] == [
        ("answered", Signal.LOGS, 1, False),
        ("answered", Signal.LOGS, 3, False),
    ]


def test_without_a_journal_nothing_is_journalled() -> None:
    stats = RunStats()
    account = Account(Signal.TRACES, stats)
    assert account.sending(lambda: ["a"]) is None
    account.settle(Delivered(), 1, 2, "f[0] … f[1]")
    assert stats.signals[Signal.TRACES].sent == 2


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (429, Retryable("HTTP 429: slow down", None)),
        (502, Retryable("HTTP 502: slow down", None)),
        (500, Permanent("HTTP 500: slow down", refused=False)),
        (401, Permanent("HTTP 401: slow down", refused=True)),
    ],
)
def test_loki_answers_are_classified_like_the_exporters(status: int, outcome: Outcome) -> None:
    assert classify(status, b"slow down", None, dict) == outcome


def test_the_label_string_is_lokis() -> None:
    labels = (("service_name", "codemachine"), ("imported", "true"), ("severity_text", "INFO"))
    assert label_string(labels) == STREAM


def test_grouped_errors_are_counted_by_their_counts() -> None:
    assert parse_rejections(LOKI_MIXED) == {"too_old": 1, "line_too_long": 2}


def test_a_label_refusal_counts_every_entry_of_its_stream() -> None:
    body = f"1 errors like: entry for stream '{STREAM}' has 16 label names; limit 15\n"
    assert parse_rejections(body, {STREAM: 7}) == {"labels": 7}


def _logs(tmp_path: Path, n: int) -> Path:
    log_file(tmp_path / "in" / "l.json", [log_doc(sec=SEC, nanos=i, body=f"line {i}") for i in range(n)])
    return tmp_path / "in"


def _journalled_logs(state: Path) -> int:
    return len(ResumeState(str(state)).logs)


def test_a_mixed_400_counts_each_refused_entry_and_journals_the_push(tmp_path: Path) -> None:
    folder, state = _logs(tmp_path, 5), tmp_path / "state"
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[Answer(400, LOKI_MIXED.encode())]) as server:
        code, summary = replay_json(str(folder), "--loki-url", server.url, "--logs-only", "--resume", str(state))
        assert server.answers == [400]  # a partial success is not retried
    logs = summary["signals"]["logs"]
    assert code == 1
    assert (logs["sent"], logs["rejected"], logs["failed"]) == (2, 3, 0)
    assert logs["rejected_reasons"] == {TOO_OLD: 1, TOO_LONG: 2}
    assert _journalled_logs(state) == 5  # stored, or refused for good: a rerun sends none of them


def test_unrecognised_reasons_are_counted_as_refused_and_the_rest_as_stored(tmp_path: Path) -> None:
    body = (
        f"1 errors like: stream '{STREAM}' has a shiny new problem: 'x'; "
        f"1 errors like: entry for stream '{STREAM}' has another one"
    )
    folder, state = _logs(tmp_path, 5), tmp_path / "state"
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[Answer(400, body.encode())]) as server:
        code, summary = replay_json(str(folder), "--loki-url", server.url, "--logs-only", "--resume", str(state))
    logs = summary["signals"]["logs"]
    assert code == 1
    assert (logs["sent"], logs["rejected"]) == (3, 2)
    assert logs["rejected_reasons"] == {
        "refused by Loki: stream '{…}' has a shiny new problem: 'x'": 1,
        "refused by Loki: entry for stream '{…}' has another one": 1,
    }
    assert _journalled_logs(state) == 5


def test_a_push_whose_labels_loki_cannot_parse_is_refused_whole(tmp_path: Path) -> None:
    body = b"couldn't parse labels: 1:3: parse error: unexpected character inside braces: '-'\n"
    folder, state = _logs(tmp_path, 5), tmp_path / "state"
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[Answer(400, body)]) as server:
        code, summary = replay_json(str(folder), "--loki-url", server.url, "--logs-only", "--resume", str(state))
    logs = summary["signals"]["logs"]
    assert code == 1 and (logs["sent"], logs["rejected"]) == (0, 5)
    assert _journalled_logs(state) == 0


def test_a_loki_500_is_final_and_said_as_it_was(tmp_path: Path) -> None:
    folder = _logs(tmp_path, 3)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, scripted=[Answer(500, b"rpc error: too large")] * 3) as server:
        code, summary = replay_json(str(folder), "--loki-url", server.url, "--logs-only")
        assert server.answers == [500]
    assert code == 1
    assert summary["signals"]["logs"]["failed_reasons"] == {"HTTP 500: rpc error: too large": 3}


def test_an_otlp_500_is_tried_once_and_said_as_it_was(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc(span_id=f"{i + 1:016x}") for i in range(3)])
    fail = tempo_error("internal", 500)
    with OtlpReceiver(scripted=[fail] * 3) as server:
        code, summary = replay_json(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
        assert server.attempts == 1
    assert code == 1
    assert summary["signals"]["traces"]["failed_reasons"] == {"HTTP 500: internal": 3}


def test_an_otlp_503_that_stays_is_said_with_its_attempts(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", [span_doc()])
    busy = tempo_error("unavailable", 503, {"Retry-After": "0"})
    with OtlpReceiver(scripted=[busy] * 10) as server:
        code, summary = replay_json(str(tmp_path), "--otlp-endpoint", server.url, "--traces-only")
        assert server.attempts == MAX_ATTEMPTS
    assert code == 1
    assert summary["signals"]["traces"]["failed_reasons"] == {"HTTP 503: unavailable (after 6 attempts)": 1}


def test_the_opentelemetry_logger_is_left_as_found(collector: OtlpReceiver, tmp_path: Path) -> None:
    logger = logging.getLogger("opentelemetry")
    before = (logger.propagate, list(logger.handlers))
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--signals", "traces,metrics")
    assert code == 0, summary
    assert summary["signals"]["traces"]["sent"] > 0 and summary["signals"]["metrics"]["sent"] > 0
    assert (logger.propagate, list(logger.handlers)) == before
