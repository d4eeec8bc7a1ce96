"""--concurrency: several requests in flight per sink; Loki pushes that share a stream
still go one after another, oldest first."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.inflight import InFlight, InFlightSink
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.server import Answer, decompress
from tests.helpers import EXAMPLE_NOW_NS, log_doc, log_file, replay_json, span_doc, trace_file

WAIT = 30  # seconds: only reached when the behaviour under test is broken


# -- InFlight -------------------------------------------------------------------------------
def test_one_lane_runs_each_request_in_the_callers_thread() -> None:
    ran: list[tuple[str, threading.Thread]] = []
    inflight = InFlight(["lane"])
    for n in (1, 2):
        inflight.submit(lambda lane: ran.append((lane, threading.current_thread())))
        assert ran == [("lane", threading.current_thread())] * n  # done when submit returns
    inflight.wait()


def test_a_request_waits_for_a_free_lane() -> None:
    inflight = InFlight(["a", "b"])
    release = {1: threading.Event(), 2: threading.Event()}
    started = {n: threading.Event() for n in (1, 2, 3)}
    finished = {1: threading.Event(), 2: threading.Event()}
    seen: dict[str, Any] = {}

    def held(n: int) -> Any:
        def request(lane: str) -> None:
            started[n].set()
            assert release[n].wait(WAIT)
            finished[n].set()

        return request

    def third(lane: str) -> None:
        seen["lane"], seen["first done"] = lane, finished[1].is_set()
        started[3].set()

    inflight.submit(held(1))
    inflight.submit(held(2))
    assert started[1].wait(WAIT) and started[2].wait(WAIT)  # two lanes: both run at once
    submitter = threading.Thread(target=inflight.submit, args=(third,))
    submitter.start()
    release[1].set()
    assert started[3].wait(WAIT)
    assert seen["first done"], "a third request ran while both lanes were busy"
    assert seen["lane"] == "a"  # the lane the first one gave back
    release[2].set()
    submitter.join(WAIT)
    inflight.wait()


def test_requests_sharing_a_key_run_in_order_others_overtake() -> None:
    inflight = InFlight(["a", "b", "c"])
    release_first = threading.Event()
    first_done, other_ran = threading.Event(), threading.Event()
    order: list[str] = []

    def first(lane: str) -> None:
        assert release_first.wait(WAIT)
        order.append("first")
        first_done.set()

    inflight.submit(first, frozenset({"stream-a"}))
    inflight.submit(lambda lane: (order.append("other"), other_ran.set()), frozenset({"stream-b"}))
    assert other_ran.wait(WAIT)  # overtook the held request: no stream in common
    assert not first_done.is_set()
    submitter = threading.Thread(
        target=inflight.submit, args=(lambda lane: order.append("second"), frozenset({"stream-a"}))
    )
    submitter.start()
    release_first.set()
    submitter.join(WAIT)
    inflight.wait()
    assert order == ["other", "first", "second"]
    inflight.wait()


def test_abandon_leaves_requests_in_flight_behind() -> None:
    inflight = InFlight(["a", "b"])
    release, started = threading.Event(), threading.Event()

    def held(lane: str) -> None:
        started.set()
        assert release.wait(WAIT)

    inflight.submit(held)
    assert started.wait(WAIT)
    inflight.abandon()  # returns at once: the held request is still running
    assert inflight.abandoned and not release.is_set()
    inflight.wait()  # nothing left to wait for
    release.set()


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_failing_request_raises_in_the_caller_and_gives_its_lane_back(lanes: int) -> None:
    inflight = InFlight(range(lanes))

    def boom(lane: int) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        inflight.submit(boom)
        inflight.wait()
    inflight.wait()
    used: list[int] = []
    for _ in range(3):  # each of them needs a lane from the idle ones: the failed one's is among them
        inflight.submit(used.append)
        inflight.wait()
    assert len(used) == 3 and set(used) <= set(range(lanes))


def test_requests_run_in_daemon_threads_named_for_them() -> None:
    """Daemon threads: a second Ctrl-C exits the process without waiting for them."""
    inflight = InFlight(["a", "b"])
    seen: list[tuple[str, bool]] = []
    inflight.submit(lambda lane: seen.append((threading.current_thread().name, threading.current_thread().daemon)))
    inflight.wait()
    assert seen == [("otel-replay-send", True)] and inflight.abandoned is False


def test_there_is_at_least_one_lane() -> None:
    with pytest.raises(ValueError, match=r"^at least one lane$"):
        InFlight([])


def _once_waiting_on_a_future(thread: threading.Thread, then: Callable[[], None]) -> None:
    """Calls ``then`` (in a thread of its own) once ``thread`` is blocked waiting for a
    request's future: its stack, not the clock, says when."""

    def watch() -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(thread.ident)  # type: ignore[arg-type]
            while frame is not None:
                if frame.f_code.co_filename.endswith("concurrent/futures/_base.py"):
                    then()
                    return
                frame = frame.f_back
            time.sleep(0.001)  # polls the stack; the outcome does not depend on this delay
        then()  # never blocked there: let the test go on (and fail on what it asserts)

    threading.Thread(target=watch, daemon=True).start()


def test_a_request_on_another_stream_still_in_flight_is_waited_for_and_its_error_raised() -> None:
    inflight = InFlight(["a", "b"])
    release = threading.Event()

    def held(lane: str) -> None:
        assert release.wait(WAIT)
        raise RuntimeError("held one failed")

    inflight.submit(held, frozenset({"stream-a"}))
    inflight.submit(lambda lane: release.set(), frozenset({"stream-b"}))  # no stream in common: runs at once
    with pytest.raises(RuntimeError, match=r"^held one failed$"):
        inflight.wait()


def test_an_error_is_raised_once_by_the_request_that_waited_for_it() -> None:
    inflight = InFlight(["a", "b"])
    release = threading.Event()
    ran: list[str] = []

    def held(lane: str) -> None:
        assert release.wait(WAIT)
        raise RuntimeError("held one failed")

    inflight.submit(held, frozenset({"stream-a"}))
    _once_waiting_on_a_future(threading.current_thread(), release.set)  # released while the next one waits
    with pytest.raises(RuntimeError, match=r"^held one failed$"):
        inflight.submit(ran.append, frozenset({"stream-a"}))
    inflight.wait()  # raised once: nothing left to raise
    inflight.submit(ran.append, frozenset({"stream-a"}))
    inflight.wait()
    assert len(ran) == 1


class _Sink(InFlightSink):
    def __init__(self, inflight: InFlight[str]) -> None:
        self.sent: list[list[str]] = []
        self._batcher = Batcher(self.sent.append, max_items=10, max_bytes=100)
        self._inflight = inflight
        self.released = False

    def _release(self) -> None:
        self.released = True


@pytest.mark.parametrize("wait", [True, False])
def test_a_sink_abandoned_sends_nothing_more_and_waits_for_its_requests_unless_told(wait: bool) -> None:
    inflight = InFlight(["a", "b"])
    sink = _Sink(inflight)
    release, finished = threading.Event(), threading.Event()

    def held(lane: str) -> None:
        assert release.wait(WAIT)
        finished.set()

    sink._batcher.add("pending", 1)
    inflight.submit(held)
    if wait:
        _once_waiting_on_a_future(threading.current_thread(), release.set)
        sink.abandon()  # the default: waits
    else:
        sink.abandon(wait=False)
    assert (finished.is_set(), sink.sent, sink.released, inflight.abandoned) == (wait, [], True, True)
    release.set()


# -- on the wire ----------------------------------------------------------------------------
def test_three_otlp_requests_in_flight_at_once(tmp_path: Path) -> None:
    spans = [span_doc(span_id=f"{i + 1:016x}") for i in range(200)]
    trace_file(tmp_path / "in" / "2026-11-24" / "17-00-00.json", spans)
    together = threading.Barrier(3, timeout=WAIT)

    def first_three_meet(n: int) -> Answer | None:
        if n <= 3:
            try:
                together.wait()  # passes only when three requests are being answered at once
            except threading.BrokenBarrierError:
                return Answer(500, b"fewer than three requests in flight")
        return None

    with OtlpReceiver.tempo() as otlp:
        otlp.fault = first_three_meet
        code, summary = replay_json(
            str(tmp_path / "in"), "--otlp-endpoint", otlp.url, "--traces-only",
            "--batch-size", "50", "--concurrency", "3", "--workers", "1",
        )  # fmt: skip
        received = sorted(span.span_id for _, _, span in otlp.spans())
    assert code == 0, summary
    assert summary["signals"]["traces"]["sent"] == 200
    assert received == sorted(bytes.fromhex(f"{i + 1:016x}") for i in range(200))  # each exactly once


class _WatchedLoki(LokiReceiver):
    """Records pushes that overlapped a push of the same stream, and holds the first
    push of service ``a`` until a push of service ``b`` has arrived."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.active: list[frozenset[str]] = []
        self.overlaps: list[str] = []
        self.b_arrived = threading.Event()
        self.b_overtook = False
        self._held_once = False

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        doc = json.loads(decompress(body, headers.get("Content-Encoding")))
        streams = frozenset(s["stream"]["service_name"] for s in doc["streams"])
        with self.lock:
            if any(streams & other for other in self.active):
                self.overlaps.append(", ".join(sorted(streams)))
            self.active.append(streams)
            hold = streams == {"a"} and not self._held_once
            self._held_once = self._held_once or hold
            if "b" in streams:
                self.b_arrived.set()
        try:
            if hold:
                self.b_overtook = self.b_arrived.wait(WAIT)
            return super().handle(method, path, headers, body)
        finally:
            with self.lock:
                self.active.remove(streams)


def test_loki_pushes_of_one_stream_never_overlap_others_overtake(tmp_path: Path) -> None:
    """Service a: one large record (a push of its own); service b: 40 records a few per
    push. The a push is held until a b push arrives, which needs a second push in flight."""
    sec = EXAMPLE_NOW_NS // 10**9 - 600
    a = [log_doc(sec=sec, body="A" * 1500, resource={"service.name": "a"})]
    b = [log_doc(sec=sec + 1 + i, body=f"b {i:03d} " + "b" * 400, resource={"service.name": "b"}) for i in range(40)]
    log_file(tmp_path / "in" / "2026-11-24" / "17-00-00-logs.json", a + b)
    with _WatchedLoki(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            str(tmp_path / "in"), "--loki-url", loki.url, "--logs-only", "--loki-batch-bytes", "2000",
            "--concurrency", "2", "--workers", "1",
        )  # fmt: skip
        entries = loki.entries()
        stored_b = next(s for s in loki.tenants["fake"].values() if s.labels["service_name"] == "b")
    assert code == 0, summary
    assert summary["signals"]["logs"]["sent"] == len(entries) == 41
    assert loki.b_overtook, "no push of b went out while the push of a was in flight"
    assert loki.overlaps == []
    assert [line for _, line, _ in stored_b.entries] == [f"b {i:03d} " + "b" * 400 for i in range(40)]  # in order
