"""--resume's journal of batches in flight: each batch is journalled before it is sent
and settled once answered, so after SIGKILL the rerun knows which requests may have been
stored without an answer. It asks Tempo's query API about their spans and sends only the
ones it does not have: every span exactly once. Where nothing can be asked, they are sent
again and the summary says how many may now be there twice."""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Signal
from otel_replay.resume import FORMAT, ResumeState, StateFileError, parse
from tests.fakes.server import Answer
from tests.fakes.tempo_query import TempoWithQueries
from tests.helpers import Children, assert_each_once, replay_command, span_counts
from tests.test_faults import N_SPANS, write_input

SPAN_A, SPAN_B, SPAN_C = (1 << 64) | 2, (3 << 64) | 4, (5 << 64) | 6


# -- the journal -------------------------------------------------------------------------------
def _journal(tmp_path: Path) -> ResumeState:
    state = ResumeState(str(tmp_path / "state"))
    state.start(0, {"traces": "http://x/v1/traces"})
    return state


def test_a_batch_is_pending_from_before_it_is_sent_until_it_is_answered(tmp_path: Path) -> None:
    state = _journal(tmp_path)
    stored = state.sending(Signal.TRACES, [SPAN_A])
    refused = state.sending(Signal.LOGS, [b"\x01" * 16])
    in_flight = state.sending(Signal.TRACES, [SPAN_B, SPAN_C])
    state.answered(Signal.TRACES, stored, True)
    state.answered(Signal.LOGS, refused, False)
    state.close()  # killed with the third batch unanswered
    again = ResumeState(state.path)
    assert again.spans == {SPAN_A} and again.logs == set()
    assert again.pending == {in_flight: (Signal.TRACES, [SPAN_B, SPAN_C])}
    assert again.delivered(Signal.TRACES, SPAN_A) and not again.delivered(Signal.TRACES, SPAN_B)


def test_a_rerun_numbers_its_batches_after_the_earlier_ones_and_settles_what_it_read_back(tmp_path: Path) -> None:
    state = _journal(tmp_path)
    first = state.sending(Signal.TRACES, [SPAN_A, SPAN_B])
    state.close()
    rerun = ResumeState(state.path)
    rerun.start(0, {})
    rerun.acknowledge(Signal.TRACES, [SPAN_A])  # the backend had it
    rerun.settle_pending([first])
    second = rerun.sending(Signal.TRACES, [SPAN_B])  # sent again, and killed again
    rerun.close()
    assert second > first
    third = ResumeState(state.path)
    assert third.spans == {SPAN_A} and third.pending == {second: (Signal.TRACES, [SPAN_B])}


def test_a_pending_record_stored_by_a_later_batch_is_no_longer_pending(tmp_path: Path) -> None:
    state = _journal(tmp_path)
    state.sending(Signal.TRACES, [SPAN_A])
    again = state.sending(Signal.TRACES, [SPAN_A])
    state.answered(Signal.TRACES, again, True)
    state.close()
    assert ResumeState(state.path).pending == {}


def test_a_format_1_state_file_is_read_and_continued_as_format_2(tmp_path: Path) -> None:
    path = tmp_path / "state"
    header = {"otel_replay_resume": 1, "time_offset_ns": 7, "destinations": {"traces": "http://x"}}
    path.write_bytes(json.dumps(header).encode() + b"\ns %048x\n" % SPAN_A)
    state = ResumeState(str(path))
    assert state.spans == {SPAN_A} and state.time_offset_ns == 7
    state.start(0, {"traces": "http://x"})
    state.answered(Signal.TRACES, state.sending(Signal.TRACES, [SPAN_B]), True)
    state.close()
    parsed, _ = parse(path.read_bytes(), "state")
    assert parsed.header == {**header, "otel_replay_resume": FORMAT}
    assert parsed.stored[Signal.TRACES] == {SPAN_A, SPAN_B}


def test_a_state_file_of_a_newer_format_is_refused_saying_so(tmp_path: Path) -> None:
    (tmp_path / "state").write_bytes(b'{"otel_replay_resume": 9}\n')
    with pytest.raises(StateFileError, match=r"newer otel-replay \(state file format 9\).*another state file"):
        ResumeState(str(tmp_path / "state"))


@pytest.mark.parametrize("line", [b"d 1", b"p 1 q 00", b"p x s", b"s " + b"0" * 47])
def test_a_damaged_batch_line_is_refused(tmp_path: Path, line: bytes) -> None:
    (tmp_path / "state").write_bytes(b'{"otel_replay_resume": 2}\n' + line + b"\n")
    with pytest.raises(StateFileError, match="line 2 is damaged"):
        ResumeState(str(tmp_path / "state"))


# -- SIGKILL with a request stored and unanswered ----------------------------------------------
def free_port() -> int:
    """A loopback port nothing listens on (bound and closed at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BATCH = 50
HELD = 3  # the request Tempo stores and never answers


class TempoThatHolds(TempoWithQueries):
    """Stores the HELD-th push of spans, then keeps its answer until released: the backend
    has the batch, the replay never learns it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.held = threading.Event()
        self.release = threading.Event()
        self._pushes = 0

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        answer = super().handle(method, path, headers, body)
        if method == "POST":
            with self.lock:
                self._pushes += 1
                hold = self._pushes == HELD
            if hold:
                self.held.set()
                self.release.wait(60)
        return answer


def _killed_with_a_batch_held(tmp_path: Path, children: Children, tempo: TempoThatHolds, workers: str) -> list[str]:
    """Starts a traces-only replay, SIGKILLs it once Tempo holds a stored batch; the args to rerun it."""
    args = [
        str(write_input(tmp_path / "in")), "--json", "--traces-only", "--otlp-endpoint", tempo.url,
        "--resume", str(tmp_path / "state"), "--batch-size", str(BATCH), "--workers", workers, "--concurrency", "1",
    ]  # fmt: skip
    proc = children.start(replay_command(*args))
    assert tempo.held.wait(60)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    state = ResumeState(str(tmp_path / "state"))
    pending = [k for _, keys in state.pending.values() for k in keys]
    stored = {int.from_bytes(s.trace_id + s.span_id, "big") for _, _, s in tempo.spans()}
    # journalled means stored; the held batch is pending and stored (with two workers the other
    # one's request may be pending too, stored or not)
    assert state.spans <= stored and len(set(pending) & (stored - state.spans)) >= BATCH
    return args


@pytest.mark.parametrize("workers", ["1", "2"])
def test_after_sigkill_the_rerun_asks_tempo_and_sends_each_span_exactly_once(
    tmp_path: Path, children: Children, workers: str
) -> None:
    with TempoThatHolds() as tempo:
        try:
            args = _killed_with_a_batch_held(tmp_path, children, tempo, workers)
            stored_before = len(span_counts(tempo))
            rerun = children.run(replay_command(*args, "--tempo-query-url", tempo.url))
        finally:
            tempo.release.set()
        assert rerun.returncode == 0, rerun.stderr
        assert_each_once(span_counts(tempo), N_SPANS)
    traces = json.loads(rerun.stdout)["signals"]["traces"]
    # What Tempo had when the rerun asked: with two workers the other one's request (one in
    # flight each, --concurrency 1) may still have been on its way in when the kill came,
    # and stored after stored_before was counted (as the fakes' latency run shows).
    stored_when_asked = traces["dropped"].pop("already delivered (--resume)")
    late = 0 if workers == "1" else BATCH
    assert stored_before <= stored_when_asked <= stored_before + late and traces["dropped"] == {}
    assert traces["sent"] == N_SPANS - stored_when_asked
    assert b"--resume: asking Tempo at" in rerun.stderr and b"the other" in rerun.stderr
    assert json.loads(rerun.stdout)["hints"] == []


def test_when_tempo_cannot_be_asked_the_rerun_sends_the_batch_again_and_says_it_may_be_there_twice(
    tmp_path: Path, children: Children
) -> None:
    with TempoThatHolds() as tempo:
        try:
            args = _killed_with_a_batch_held(tmp_path, children, tempo, "1")
            pending = sum(len(keys) for _, keys in ResumeState(str(tmp_path / "state")).pending.values())
            nowhere = f"http://127.0.0.1:{free_port()}"
            rerun = children.run(replay_command(*args, "--tempo-query-url", nowhere))
        finally:
            tempo.release.set()
        assert rerun.returncode == 0, rerun.stderr
        counts = span_counts(tempo)
    assert len(counts) == N_SPANS and sum(counts.values()) == N_SPANS + pending
    summary = json.loads(rerun.stdout)
    assert summary["hints"] == [
        f"--resume: {pending} span(s) in requests that were in flight when an earlier run stopped are sent again "
        f"unchecked (cannot ask Tempo at {nowhere}: ConnectionError; --tempo-query-url names Tempo's query API): "
        "they may now be there twice"
    ]
