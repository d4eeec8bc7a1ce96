"""The default time choice's first pass reads the spans of OTLP/JSON (requests, JSON Lines,
their parts) for their times alone (sources/otlp_times.py): what it finds must be what
converting every span finds, and nothing is converted."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import Record, Signal
from otel_replay.pipeline import times_in
from otel_replay.sources import codemachine, jsondoc, otlp_json
from otel_replay.sources import times as times_module
from otel_replay.sources.discover import Walk, discover
from otel_replay.sources.otlp_times import Range
from otel_replay.stages.unrecorded import NoRecordedValue
from otel_replay.timechoice import RecordTimes, Windows
from tests.helpers import span_doc
from tests.otlp_samples import logs_request, to_otlp_json, trace_request

ALL = frozenset(Signal)
SMALL = 64  # a WHOLE_DOCUMENT_BYTES under which every document here is too large to read whole


class KeepAll:
    """A filter that keeps every record: the first pass then converts each one."""

    drop_label = "never"

    def apply(self, record: Record) -> Record:
        return record


def _pass(path: Path, light: bool, signals: frozenset[Signal] = ALL, mapped: bool = False, **walk: Any) -> Any:
    times = RecordTimes(now_ns=2**62, windows=Windows())
    filters: list[Any] = [NoRecordedValue()] if light else [KeepAll(), NoRecordedValue()]
    for found in discover([str(path)], walk=Walk(**walk)):
        times_in(found, signals, filters, times, mapped=mapped)
    return times.first, times.last, times.last_not_log


def _converted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    for module, name in ((otlp_json, "span_from_otlp"), (codemachine, "span_from_codemachine")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real: calls.append(1) or _real(*a))
    return calls


def _odd(doc: dict[str, Any]) -> dict[str, Any]:
    """The request with spans whose times the replay refuses, or takes unusually, and
    events before the start and after the end."""
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    base = spans[0]
    odd = [
        {"startTimeUnixNano": "5", "endTimeUnixNano": "4"},  # ends before it starts: refused
        {"startTimeUnixNano": None},  # null: refused
        {"startTimeUnixNano": "soon"},  # not an integer: refused
        {"startTimeUnixNano": "-1"},  # below 0: refused
        {"endTimeUnixNano": str(2**64)},  # beyond 64 bits: refused
        {"startTimeUnixNano": 1795539600000000000, "endTimeUnixNano": 1.7955396e18},  # numbers: taken
        {"events": [{"name": "e", "timeUnixNano": "1"}]},  # an event at 1 ns: widens the range
        {"events": [{"name": "e", "timeUnixNano": "x"}]},  # an event's time refused: so is its span
        {"events": [{"name": "e", "timeUnixNano": str(2**63)}]},  # an event after the end: widens it
    ]
    spans += [{**copy.deepcopy(base), **change, "spanId": f"{i + 100:016x}"} for i, change in enumerate(odd)]
    return doc


def _traces() -> dict[str, Any]:
    return to_otlp_json(trace_request(n_resources=3, spans_per_scope=4))


def _write(path: Path, docs: list[dict[str, Any]], lines: bool) -> Path:
    if lines:
        path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in docs))
    else:
        (doc,) = docs
        path.write_text(json.dumps(doc))
    return path


READINGS = ["whole", "streamed", "mapped", "JSON Lines", "JSON Lines in parts"]


def _light_and_full(path: Path, reading: str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, Any]:
    walk = {"part_bytes": 1024} if reading == "JSON Lines in parts" else {}
    mapped = reading == "mapped"
    if reading in ("streamed", "mapped"):
        monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", SMALL)
        monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", SMALL)
    full = _pass(path, light=False, mapped=mapped, **walk, **kw)
    calls = _converted(monkeypatch)
    light = _pass(path, light=True, mapped=mapped, **walk, **kw)
    assert not calls, f"{len(calls)} spans converted"
    return light, full


@pytest.mark.parametrize("reading", READINGS)
def test_the_spans_times_read_alone_are_those_converting_them_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    lines = reading.startswith("JSON Lines")
    docs = [_odd(_traces()), _traces(), _traces()] if lines else [_odd(_traces())]
    path = _write(tmp_path / "spans.json", docs, lines)
    if reading == "JSON Lines in parts":
        assert path.stat().st_size > 3 * 1024
    light, full = _light_and_full(path, reading, monkeypatch)
    assert light == full
    assert light[0] == 1 and light[1] == 2**63  # the events' times, as the replay takes them


@pytest.mark.parametrize("reading", READINGS)
def test_spans_not_replayed_add_nothing_and_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str
) -> None:
    lines = reading.startswith("JSON Lines")
    path = _write(tmp_path / "spans.json", [_traces()] * (3 if lines else 1), lines)
    light, full = _light_and_full(path, reading, monkeypatch, signals=frozenset({Signal.LOGS}))
    assert light == full == (None, None, None)


def _shapes() -> dict[str, list[dict[str, Any]]]:
    traces = _traces()
    odd_group = copy.deepcopy(traces)
    odd_group["resourceSpans"][1:1] = [5, {"scopeSpans": "no"}, {"scopeSpans": [7, {"spans": {"a": 1}}]}]
    odd_span = copy.deepcopy(traces)
    odd_span["resourceSpans"][0]["scopeSpans"][0]["spans"][1:1] = [3, {"events": 4}, {"events": [5]}]
    return {
        "groups and blocks the replay refuses": [odd_group],
        "spans and events that are not objects": [odd_span],
        "log records": [to_otlp_json(logs_request())],
        "spans, then log records": [traces, to_otlp_json(logs_request())],
    }


@pytest.mark.parametrize(
    ("reading", "shape"),
    [(r, s) for r in READINGS for s, docs in _shapes().items() if len(docs) == 1 or r.startswith("JSON Lines")],
)
def test_requests_of_other_shapes_give_what_converting_them_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reading: str, shape: str
) -> None:
    """Read alone where the shape allows (what the replay refuses is left out), else
    converted: either way, the same times (several requests: as JSON Lines)."""
    docs = _shapes()[shape]
    lines = reading.startswith("JSON Lines")
    path = _write(tmp_path / "spans.json", docs, lines)
    walk = {"part_bytes": 1024} if reading == "JSON Lines in parts" else {}
    mapped = reading == "mapped"
    if reading in ("streamed", "mapped"):
        monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", SMALL)
        monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", SMALL)
    assert _pass(path, True, mapped=mapped, **walk) == _pass(path, False, mapped=mapped, **walk)


def test_a_range_keeps_the_earliest_and_the_latest_instant_of_the_spans_it_takes() -> None:
    seen = Range()
    assert seen.pairs() == []
    seen.add("10", 20, ["15"])
    seen.add(5, "30", [])
    seen.add("1", "0", [])  # ends before it starts
    seen.add("2", "40", ["oops"])  # an event time refused
    assert seen.pairs() == [5, 30]


def _codemachine() -> dict[str, Any]:
    spans = [
        span_doc(spanId=f"{i + 1:016x}", startTime=1795539600000 + i, endTime=1795539600500 + i) for i in range(40)
    ]
    spans[7]["events"] = [{"name": "early", "time": 1795539500000, "attributes": {}}]  # the earliest instant
    spans[33]["endTime"] = 1795539900000  # the latest
    spans[12]["startTime"] = -5  # refused: not counted
    return {"version": 1, "service": "codemachine", "spans": spans}


@pytest.mark.parametrize("kind", ["CodeMachine", "OTLP/JSON"])
def test_the_shares_of_a_large_trace_document_give_its_times_between_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Each share (one worker's) reads the times of its own spans: together, those of the
    document read whole; none is converted."""
    path = _write(tmp_path / "doc.json", [_codemachine() if kind == "CodeMachine" else _odd(_traces())], lines=False)
    whole = _pass(path, light=False)
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", SMALL)
    monkeypatch.setattr(times_module, "WHOLE_DOCUMENT_BYTES", SMALL)
    shares = list(discover([str(path)], walk=Walk(part_bytes=path.stat().st_size // 3)))
    assert [type(s.part).__name__ for s in shares] == ["Stride"] * 3  # type: ignore[union-attr]
    assert _pass(path, light=True, part_bytes=path.stat().st_size // 3) == whole
    assert whole[0] is not None and whole[1] is not None
    for share in shares:  # each share's alone: its own spans', as converting them gives
        alone = []
        for light in (False, True):
            times = RecordTimes(now_ns=2**62, windows=Windows())
            calls = _converted(monkeypatch)
            filters: list[Any] = [NoRecordedValue()] if light else [KeepAll(), NoRecordedValue()]
            times_in(share, ALL, filters, times)
            assert not light or not calls
            alone.append((times.first, times.last))
        assert alone[0] == alone[1] != (None, None)
