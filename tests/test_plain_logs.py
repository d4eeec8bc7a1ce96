"""Plain log records in blocks (sources/plainlogs.py): the same records, the same entries,
the same counts as one by one — checked record for record against the reader's own
conversion, entry for entry against the Loki sink's, and over the wire against the same
replay with the lane off."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.model import LogRecord, Origin, PlainLogs, Signal
from otel_replay.sinks.loki import LokiConfig, LokiSink
from otel_replay.sources.codemachine import log_from_codemachine
from otel_replay.sources.common import checked
from otel_replay.sources.plainlogs import CodeMachineLog, Known, TypedLog, as_dict, plain_log, typed_document
from otel_replay.stages.timeshift import TimeShift
from otel_replay.stats import RunStats
from tests.fakes.loki import LokiReceiver
from tests.helpers import EXAMPLE_NOW_NS, log_doc, log_file, replay_json

DEFAULT = (("service.name", "codemachine"),)
SEC = EXAMPLE_NOW_NS // 10**9 - 5 * 3600
TRACE, SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

# -- one record: plain, and the record the reader makes ----------------------------------------
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_ids = st.sampled_from(
    [TRACE, SPAN, TRACE.upper(), "0" * 32, "0" * 16, "", "xyz", " " + TRACE[1:], 7, None, 0, False, TRACE + "0"]
)
_attributes = st.one_of(
    st.just({}),
    st.dictionaries(
        st.sampled_from(["trace.id", "span.id", "a.b", "9x", "trace_id", "k", "é"]), _ids | _values, max_size=5
    ),
    _values,
)
_timestamps = st.one_of(
    st.tuples(st.integers(min_value=-2, max_value=2**65), st.integers(min_value=-1, max_value=10**9)).map(list),
    st.just([SEC, 0]),
    _values,
)
_resources = st.one_of(
    st.just({"service.name": "codemachine", "service.version": "unknown", "deployment.environment": "dev"}),
    st.dictionaries(st.sampled_from(["service.name", "host.name", "x"]), _values, max_size=3),
    _values,
)
_records = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": _timestamps,
        "severityNumber": st.one_of(st.integers(min_value=-1, max_value=30), st.none(), st.booleans(), st.just(9.0)),
        "severityText": st.one_of(st.sampled_from(["INFO", "", "warn"]), st.none(), st.just(3)),
        "body": _values,
        "attributes": _attributes,
        "resource": _resources,
    },
)


def _typed(record: dict[str, Any]) -> Any:
    (typed,) = _typed_all([record])
    return typed


def _typed_all(records: list[dict[str, Any]]) -> list[Any]:
    doc = typed_document(json.dumps({"version": 1, "service": "codemachine", "logs": records}).encode())
    assert doc is not None
    return list(doc.items)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(_records)
def test_a_plain_record_is_the_record_the_reader_makes(record: dict[str, Any]) -> None:
    """Whatever the record: decoded into a type and back, it is what decoding into
    dictionaries gives; taken as plain, the reader takes it as it is (no note, no
    refusal) and makes the very record the block makes of it."""
    typed = _typed(record)
    decoded = msgspec.json.decode(json.dumps(record).encode())
    assert as_dict(typed) == decoded
    plain = plain_log(typed, 3, Known(DEFAULT))
    if plain is None:
        return
    origin, notes = Origin("f", 3), []
    items = checked(Signal.LOGS, origin, notes, log_from_codemachine, decoded, DEFAULT, origin, notes)
    assert len(items) == 1 and isinstance(items[0], LogRecord), items
    assert PlainLogs("f", [plain]).record(plain) == items[0]


# records the typed decoding may take: a time the reader takes at once and a string body
_typed_records = st.fixed_dictionaries(
    {"timestamp": st.tuples(st.just(SEC), st.integers(min_value=0, max_value=10**9 - 1)).map(list), "body": st.text()},
    optional={
        "severityNumber": st.one_of(st.integers(min_value=-1, max_value=30), st.none(), st.booleans(), st.just(9.0)),
        "severityText": st.one_of(st.sampled_from(["INFO", "", "warn"]), st.none(), st.just(3)),
        "attributes": _attributes,
        "resource": _resources,
    },
)
#: A record of no type the typed decoding takes: every record of its document is then a CodeMachineLog.
_UNTYPED = {"timestamp": [SEC, 0], "body": None}


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_typed_records, _records))
def test_a_record_decoded_to_its_types_is_judged_as_without_them(record: dict[str, Any]) -> None:
    """A record is plain, and the same plain record, whether its document was decoded
    to the exporter's types (TypedLog: its types checked by the decoder) or, one of its
    records being of other types, without them (CodeMachineLog: each checked here)."""
    (alone,) = _typed_all([record])
    beside = _typed_all([record, _UNTYPED])[0]
    assert type(beside) is CodeMachineLog
    assert as_dict(alone) == as_dict(beside)
    assert plain_log(alone, 3, Known(DEFAULT)) == plain_log(beside, 3, Known(DEFAULT))


@pytest.mark.parametrize(
    "record",
    [
        {"timestamp": [SEC, 0], "body": "x", "attributes": {"k": 2**63}},
        {"timestamp": [SEC, 0], "body": "x", "attributes": {"k": {"nested": 1}}},
        {"timestamp": [SEC, 0], "body": "x", "severityNumber": True},
        {"timestamp": [SEC, 0], "body": "x", "severityNumber": 25},
        {"timestamp": [SEC, 10**9], "body": "x"},
        {"timestamp": [-1, 0], "body": "x"},
        {"timestamp": [SEC, 0], "body": 1},
        {"body": "x"},
    ],
    ids=["int over int64", "nested", "bool severity", "severity over 24", "nanos over", "negative", "body", "no time"],
)
def test_a_record_of_other_types_is_read_without_them(record: dict[str, Any]) -> None:
    """The typed decoding takes no record the reader would refuse, change or note for its
    types: such a record (and so its document) is read as CodeMachineLog, judged here."""
    assert type(_typed(record)) is CodeMachineLog


_RECORD = json.dumps(log_doc(sec=SEC)).encode()


@pytest.mark.parametrize(
    "data",
    [
        b'{"logs": [' + _RECORD[:-1] + b', "extra": "\xff"}]}',
        b'{"logs": [' + _RECORD[:-1] + b', "extra": 1e999}]}',
        b'{"logs": [' + _RECORD[:-1] + b', "extra": 1' + b"0" * 400 + b".5}]}",
        b'{"logs": [' + _RECORD.replace(b'"development"', b'"\xff"') + b"]}",
        b'{"logs": [' + _RECORD.replace(b'"development"', b"1e999") + b"]}",
        b'{"logs": [' + _RECORD.replace(b'"hello"', b'"\xfe"') + b"]}",
        b'{"extra": ["\xff"], "logs": [' + _RECORD + b"]}",
        b'{"extra": [1e999], "logs": [' + _RECORD + b"]}",
        b'{"logs": [' + _RECORD + b", 7]}",
        b'{"logs": [' + _RECORD + b'], "spans": []}',
        b'{"logs": [' + _RECORD + b"]",
        b'{"logs": [' + _RECORD[:-1] + b', "x": ' + b"[" * 2000 + b"]" * 2000 + b"}]}",
    ],
    ids=[
        "not UTF-8 in a key of no exporter",
        "a number out of range there",
        "a long number out of range there",
        "not UTF-8 in a resource",
        "a number out of range in a resource",
        "not UTF-8 in a body",
        "not UTF-8 beside the records",
        "a number out of range beside them",
        "a record not an object",
        "spans beside",
        "cut",
        "nested too deep",
    ],
)
def test_what_decoding_into_dictionaries_refuses_is_not_read_typed(data: bytes) -> None:
    """A document decoding refuses (or that holds more than the exporter writes) is read
    as any other, which says why: the typed reader takes nothing it would skip unchecked."""
    assert typed_document(data) is None


def test_a_document_the_exporter_writes_is_read_typed() -> None:
    data = json.dumps({"version": 1, "service": "svc", "exportedAt": "x", "logCount": 1, "logs": [log_doc()]})
    doc = typed_document(data.encode())
    assert doc is not None and doc.header == {"version": 1, "service": "svc", "exportedAt": "x", "logCount": 1}
    assert doc.array_key == "logs" and [type(r) for r in doc.items] == [TypedLog]


@pytest.mark.parametrize(
    "record",
    [
        log_doc(sec=SEC),
        log_doc(sec=SEC, attributes={}),
        log_doc(sec=SEC, resource=None),
        {"timestamp": [SEC, 5], "body": "no severity, no attributes, no resource"},
        log_doc(sec=SEC, attributes={"trace.id": TRACE, "span.id": "", "n": 3, "ok": True, "xs": [1, 2.5]}),
    ],
    ids=["as written", "no ids", "resource null", "fields absent", "primitive attributes"],
)
def test_what_the_exporter_writes_is_plain(record: dict[str, Any]) -> None:
    assert plain_log(_typed(record), 0, Known(DEFAULT)) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"attributes": {"trace.id": TRACE.upper()}},
        {"attributes": {"trace.id": "0" * 32}},
        {"attributes": {"span.id": None}},
        {"attributes": {"k": {"nested": 1}}},
        {"attributes": {"k": [1, "a"]}},
        {"attributes": {"k": 2**64}},
        {"body": None},
        {"body": {"event": "x"}},
        {"severityNumber": 25},
        {"timestamp": [SEC, 10**9]},
        {"resource": {"service.name": None}},
        {"resource": []},
    ],
)
def test_what_needs_a_word_or_a_change_is_not_plain(change: dict[str, Any]) -> None:
    """Each of these the reader changes, notes or refuses: it goes one by one."""
    assert plain_log(_typed(log_doc(sec=SEC, **change)), 0, Known(DEFAULT)) is None


# -- one entry: what the Loki sink makes of a plain record -------------------------------------
@pytest.mark.parametrize("metadata", [True, False], ids=["structured metadata", "logfmt (Loki 2)"])
def test_a_plain_entry_is_the_entry_of_its_record(metadata: bool) -> None:
    records = [
        log_doc(sec=SEC, attributes={"a.b": "x", "trace_id": "mine", "trace.id": TRACE, "9x": 1.5, "l": [1, 2]}),
        log_doc(sec=SEC + 1, severityText="", severityNumber=17, resource=None),
        log_doc(sec=SEC + 1, attributes={"trace.id": TRACE, "span.id": SPAN, "after.ids": "v"}),
        log_doc(sec=SEC + 2, body="x" * 5000),  # cut to --loki-max-line-bytes: through the record
        log_doc(sec=SEC + 3, resource={"service.name": "other", "host.name": "h"}),
    ]
    typed = _typed_all(records)
    known = Known(DEFAULT)
    block = PlainLogs("f", [p for i, t in enumerate(typed) if (p := plain_log(t, i, known)) is not None])
    assert len(block.records) == 5
    config = LokiConfig(structured_metadata=metadata, max_line_bytes=2000, replay_id="r1")
    plain_stats, one_stats = RunStats(), RunStats()
    times = [p[1] + 7 for p in block.records]
    plain = list(LokiSink(config, plain_stats).plain_entries(block, times))  # type: ignore[arg-type]
    one_by_one = []
    for p, t in zip(block.records, times, strict=True):
        record = block.record(p)
        record.time_ns = t
        one_by_one.append(LokiSink(config, one_stats).entry(record))
    assert [(e.time_ns, e.stream, e.group, e.value, e.origin, s, g) for (e, s, g) in plain] == [
        (e.time_ns, e.stream, e.group, e.value, e.origin, s, g)
        for (e, s, g) in one_by_one  # type: ignore[misc]
    ]
    # the cut line counted alike
    assert plain_stats.signals[Signal.LOGS] == one_stats.signals[Signal.LOGS]
    assert plain_stats.signals[Signal.LOGS].adjusted == 1


@given(
    st.lists(st.integers(min_value=0, max_value=2**63), max_size=5), st.integers(min_value=-(2**63), max_value=2**63)
)
def test_the_time_shift_of_a_block_is_that_of_its_records(times: list[int], offset: int) -> None:
    shift = TimeShift(offset)
    one_by_one = []
    for t in times:
        moved = shift.apply(LogRecord(t, 0, None, "", {}, 0, 0, DEFAULT, Origin("f", 0)))
        one_by_one.append(None if moved is None else moved.time_ns)  # type: ignore[union-attr]
    assert shift.shift_log_times(times) == one_by_one


# -- over the wire: the lane on and off ---------------------------------------------------------
def _folder(folder: Path) -> Path:
    """Sessions an hour apart (alone in their time), with records of every kind among the
    plain ones: copies and records at one instant, ids in capitals, null and object
    bodies, a nested attribute, a refused severity and time, a line to cut, a record's own
    resource; one document with an item that is not an object; a ``latest`` copy."""
    odd = [
        log_doc(sec=SEC + 5, attributes={"trace.id": TRACE.upper(), "span.id": SPAN}),
        log_doc(sec=SEC + 6, body=None),
        log_doc(sec=SEC + 7, body={"event": "start", "n": 1}),
        log_doc(sec=SEC + 8, attributes={"k": {"nested": [1, None]}}),
        log_doc(sec=SEC + 9, severityNumber=99),
        log_doc(sec=SEC + 10, timestamp=[SEC, -1]),
        log_doc(sec=SEC + 11, body="y" * 4000),
        log_doc(sec=SEC + 12, resource={"service.name": "side", "host.name": "h1"}),
        log_doc(sec=SEC + 13, severityText=None, severityNumber=13, attributes={"a.b": 2**70}),
        log_doc(sec=SEC + 14, body="same instant"),
        log_doc(sec=SEC + 14, body="same instant"),
        log_doc(sec=SEC + 14, body="same instant, another line"),
    ]
    plain = [log_doc(sec=SEC + 20 + i, nanos=i * 1000, body=f"line {i}") for i in range(40)]
    plain[3]["attributes"] = {"trace.id": TRACE, "span.id": SPAN, "after.ids": "v", "n": 2}
    log_file(folder / "01-00-00-logs.json", [*plain[:20], *odd, *plain[20:]])
    log_file(folder / "02-00-00-logs.json", [log_doc(sec=SEC + 3600 + i, body=f"b {i}") for i in range(30)] + [7])
    later = [log_doc(sec=SEC + 7200 + i, body=f"c {i}") for i in range(25)]
    log_file(folder / "03-00-00-logs.json", later)
    log_file(folder / "latest-logs.json", later)
    # the first and the last of the run are plain ones
    log_file(folder / "00-00-00-logs.json", [log_doc(sec=SEC - 3600 + i, body=f"a {i}") for i in range(5)])
    log_file(folder / "09-00-00-logs.json", [log_doc(sec=SEC + 4 * 3600 + i, body=f"z {i}") for i in range(5)])
    return folder


def _stored(loki: LokiReceiver) -> list[tuple[Any, ...]]:
    """What Loki stored, sorted; the structured metadata without the run's replay_id."""
    return sorted(
        (json.dumps(labels, sort_keys=True), ts, line, json.dumps({k: v for k, v in md.items() if k != "replay_id"}))
        for labels, ts, line, md in loki.entries()
    )


def _summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A ``--json`` summary without what differs from run to run (problems in any order:
    two workers report as they go)."""
    skip = ("duration_s", "replay_id", "elapsed_s", "started", "destinations", "selection")
    out = {k: v for k, v in summary.items() if k not in skip}
    for key in ("problems", "problem_reasons"):
        out[key] = sorted(json.dumps(p, sort_keys=True) for p in out.get(key, []))
    return out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_same_replay_with_the_lane_and_without(
    tmp_path: Path, workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--service codemachine`` keeps every record here, and a filter turns the lane off:
    Loki stores the same entries, with the same metadata, and the summaries are equal."""
    folder = _folder(tmp_path / "in")
    blocks: list[int] = []
    real = LokiSink.write_plain
    monkeypatch.setattr(LokiSink, "write_plain", lambda self, b, t: (blocks.append(len(b.records)), real(self, b, t)))
    args = [str(folder), "--logs-only", "--workers", workers, "--loki-max-line-bytes", "2000", "--loki-label", "run=x"]
    results = []
    for extra in ([], ["--service", "codemachine", "--service", "side"]):
        blocks.clear()
        with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
            code, summary = replay_json(*args, *extra, "--loki-url", loki.url)
            results.append((code, _summary(summary), _stored(loki)))
        if workers == "1":
            assert bool(blocks) is not extra, blocks  # the lane was taken, then not
    (code, summary, stored), (code_off, summary_off, stored_off) = results
    summary_off.pop("selection", None), summary.pop("selection", None)
    assert stored == stored_off and summary == summary_off and code == code_off == 1
    logs = summary["signals"]["logs"]
    assert logs["sent"] == len(stored) and logs["duplicates"] == 1 + 25


def test_the_time_shift_is_the_same_with_the_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Moved to now (``--shift-to-now``): each entry lands where it lands one by one."""
    for name in ("OTEL_REPLAY_LOKI_VISIBLE_WITHIN", "OTEL_REPLAY_LOKI_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    folder = _folder(tmp_path / "in")
    results = []
    for extra in ([], ["--service", "codemachine", "--service", "side"]):
        with LokiReceiver(now_ns=time.time_ns) as loki:
            _, summary = replay_json(str(folder), "--logs-only", "--shift-to-now", *extra, "--loki-url", loki.url)
            offset = summary["time"]["offset_ns"]
            assert offset > 0
            results.append(sorted((ts - offset, line) for _, ts, line, _ in loki.entries()))
    assert results[0] == results[1] and len(results[0]) > 90
