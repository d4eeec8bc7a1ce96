"""One delivery path for every backend: an answer becomes an :data:`Outcome`, one
:class:`RetryPolicy` decides whether to try again, one :class:`Account` counts the outcome
and journals ``--resume``.

A sink only encodes a batch, sends it and *classifies* the answer. Our own HTTP sink
(Loki) is retried by :class:`RetryPolicy`; the official OTLP exporters run their own retry
loop, and the policy here is theirs, so that every backend is retried, and reported, alike:
the OTLP specification's retryable statuses (429, 502, 503, 504) and connection errors, at
most six attempts, waiting 1 s, 2 s, 4 s … (±20 %) or what ``Retry-After`` asks, and never
past the batch's deadline (``--max-retry-time``). Any other answer is final.

Retries in progress can be watched (the progress line, a notice on stderr): see
:func:`watch_retries`. Watching changes nothing in the policy.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from otel_replay.model import Signal
from otel_replay.resume import Journal
from otel_replay.stats import RunStats

#: What the OTLP specification (and so the official exporters) retries; every other
#: status is final.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 6
#: How long one batch may take, retries included, unless --max-retry-time (or for OTLP an
#: OTEL_EXPORTER_OTLP_*TIMEOUT variable) says otherwise.
DEFAULT_MAX_RETRY_TIME = 300.0


@dataclass(frozen=True, slots=True)
class Delivered:
    """The backend stored every record of the batch."""


@dataclass(frozen=True, slots=True)
class Partial:
    """The backend refused some records (``refused``: reason → count) and stored the rest."""

    refused: Mapping[str, int]
    hints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Retryable:
    """Not delivered this time; worth another attempt (``after``: the backend's Retry-After)."""

    reason: str
    after: float | None = None


@dataclass(frozen=True, slots=True)
class Permanent:
    """Not delivered, and trying again would not change that. ``refused``: the backend
    said no to the records (a 4xx: counted rejected); otherwise it failed (counted failed)."""

    reason: str
    refused: bool = True
    hint: str | None = None


Outcome = Delivered | Partial | Retryable | Permanent


@dataclass(frozen=True, slots=True)
class RetryNews:
    """A batch of ``subject`` (a signal) failed with ``reason`` and is tried again in
    ``wait`` seconds; ``reason`` None: its retries are over. ``key``: the batch's, until
    then (its thread's: one batch at a time per thread). Plain data: it crosses from a
    worker process."""

    key: int
    subject: str
    reason: str | None = None
    wait: float = 0.0


_watchers: list[Callable[[RetryNews], None]] = []


def watch_retries(watcher: Callable[[RetryNews], None] | None) -> None:
    """From now on ``watcher`` hears of every retry in this process (None: nobody does).
    It is called in the thread that retries: it must not block."""
    _watchers[:] = [] if watcher is None else [watcher]


def retrying(subject: str, reason: str, wait: float) -> None:
    """Tell the watcher that this thread's batch waits ``wait`` s to try again after ``reason``."""
    for watcher in _watchers:
        watcher(RetryNews(_batch_key(), subject, reason, wait))


def retries_over(subject: str) -> None:
    """Tell the watcher that this thread's batch is done retrying (delivered or given up)."""
    for watcher in _watchers:
        watcher(RetryNews(_batch_key(), subject))


def _batch_key() -> int:
    return hash((os.getpid(), threading.get_ident()))


def status_outcome(status: int, reason: str, retry_after: float | None = None, hint: str | None = None) -> Outcome:
    """A non-2xx answer: retryable when the specification says so, else final (a 4xx
    refuses the records; a 5xx fails them)."""
    if status in RETRYABLE_STATUS:
        return Retryable(reason, retry_after)
    return Permanent(reason, refused=400 <= status < 500, hint=hint)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as delay-seconds or an HTTP-date, in seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass(slots=True)
class RetryPolicy:
    deadline_seconds: float = DEFAULT_MAX_RETRY_TIME  # the whole batch, retries included (--max-retry-time)
    attempt_timeout: float = 10.0  # one attempt (--timeout)
    max_attempts: int = MAX_ATTEMPTS
    base_backoff: float = 1.0
    jitter: float = 0.2
    subject: str = ""  # what a retry is said to be of (a signal), to whoever watches (watch_retries)

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` + 1 (0-based), as the exporters wait."""
        return self.base_backoff * (2**retry) * random.uniform(1 - self.jitter, 1 + self.jitter)

    def run(self, attempt: Callable[[float], Outcome], stop: threading.Event | None = None) -> tuple[Outcome, int]:
        """Call ``attempt(timeout)`` until its outcome is not :class:`Retryable`, the attempts
        run out, the next one would start after the deadline, or ``stop`` is set; returns the
        last outcome and how many attempts were made."""
        outcome, attempts = self._run(attempt, stop)
        if attempts > 1:
            retries_over(self.subject)
        return outcome, attempts

    def _run(self, attempt: Callable[[float], Outcome], stop: threading.Event | None) -> tuple[Outcome, int]:
        start = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            remaining = self.deadline_seconds - (time.monotonic() - start)
            outcome = attempt(max(min(self.attempt_timeout, remaining), 0.05))
            if not isinstance(outcome, Retryable):
                return outcome, attempts
            wait = outcome.after if outcome.after is not None else self.backoff(attempts - 1)
            remaining = self.deadline_seconds - (time.monotonic() - start)
            if attempts >= self.max_attempts or wait >= remaining:
                return outcome, attempts
            retrying(self.subject, outcome.reason, wait)
            if stop is not None:
                if stop.wait(wait):
                    return outcome, attempts
            else:
                time.sleep(wait)


@dataclass(frozen=True, slots=True)
class Sent:
    """What sending one batch came to: its outcome, the attempts made, where it went and
    the last answer in a few words (for the verbose log)."""

    outcome: Outcome
    attempts: int
    url: str
    answer: str


def with_attempts(reason: str, attempts: int) -> str:
    return f"{reason} (after {attempts} attempt{'s' if attempts != 1 else ''})"


@dataclass(slots=True)
class Account:
    """The one place a batch's final outcome is counted and journalled: sent, rejected
    (the backend refused), failed (it could not be delivered). With ``--resume`` each
    batch is journalled before it is sent (:meth:`sending`), then as stored — what the
    backend refused too, which a resend would see refused again — or not."""

    signal: Signal
    stats: RunStats
    journal: Journal | None = None

    def sending(self, keys: Callable[[], Sequence[Any]]) -> int | None:
        """Journal a batch about to be sent (``keys``: its records'); its number for :meth:`settle`."""
        return None if self.journal is None else self.journal.sending(self.signal, keys())

    def settle(self, outcome: Outcome, attempts: int, n: int, where: str, batch: int | None = None) -> None:
        stored = self._count(outcome, attempts, n, where)
        if self.journal is not None and batch is not None:
            self.journal.answered(self.signal, batch, stored)

    def _count(self, outcome: Outcome, attempts: int, n: int, where: str) -> bool:
        """Count the outcome; whether the backend has the records (or refused some for good)."""
        stats, signal = self.stats, self.signal
        if isinstance(outcome, Delivered):
            stats.sent(signal, n)
        elif isinstance(outcome, Partial):
            left = n
            for reason, count in sorted(outcome.refused.items(), key=lambda kv: -kv[1]):
                taken = min(count, left)
                stats.rejected(signal, taken, reason)
                left -= taken
            stats.sent(signal, left)
            for hint in outcome.hints:
                stats.hint(hint)
        elif isinstance(outcome, Permanent):
            reason = outcome.reason if attempts <= 1 else with_attempts(outcome.reason, attempts)
            if outcome.refused:
                stats.rejected(signal, n, reason)
            else:
                stats.failed(signal, n, reason, where)
            if outcome.hint:
                stats.hint(outcome.hint)
            return False
        else:  # still retryable when the policy gave up
            stats.failed(signal, n, with_attempts(outcome.reason, attempts), where)
            return False
        return True
