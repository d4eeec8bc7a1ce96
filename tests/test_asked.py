"""``interrupts.asked``: the questions a read-back, ``--resume``'s look at Tempo and the
check of the destinations ask, several at a time in threads of ours."""

from __future__ import annotations

import threading

import pytest

from otel_replay.interrupts import asked

CONCURRENCY = 8


def test_the_answers_come_in_the_order_of_the_questions() -> None:
    """Answers that come back in any order are given in the questions' order; every
    question is asked once, at most CONCURRENCY at a time."""
    items = list(range(50))
    lock, running, most, seen = threading.Lock(), [0], [0], []
    gate = threading.Barrier(CONCURRENCY, timeout=30)  # the first CONCURRENCY are asked at once

    def question(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            seen.append(n)
        if n < CONCURRENCY:
            gate.wait()
        with lock:
            running[0] -= 1
        return n * n

    assert asked(question, items, CONCURRENCY) == [n * n for n in items]
    assert sorted(seen) == items and most[0] == CONCURRENCY


def test_the_first_error_is_raised_and_nothing_more_is_asked() -> None:
    """Question 3 fails while the others wait for it: the error is raised, and the questions
    not yet handed to a thread are never asked."""
    asked_of: list[int] = []
    failed = threading.Event()

    def question(n: int) -> int:
        asked_of.append(n)
        if n == 3:
            failed.set()
            raise LookupError("no such trace")
        assert failed.wait(30)
        return n

    with pytest.raises(LookupError, match="no such trace"):
        asked(question, list(range(1000)), CONCURRENCY)
    assert 3 in asked_of and len(asked_of) < 1000
