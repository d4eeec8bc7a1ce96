"""Files cut short (issue 21): CodeMachine's exporters rewrite the whole session file on
every export, so a CLI killed mid-export leaves a cut file. Every record written whole
before the cut is read — exactly those, at any offset: inside a record, between two,
inside the closing brackets — and one problem line says where the file was cut and how
many records were recovered. The oracle: the same document holding only its first K
records, K the records whose text ends before the cut."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import SIGNAL_OF, FileProblem
from otel_replay.sources import jsondoc
from otel_replay.sources.salvage import salvage
from tests.helpers import EXAMPLE, replay_json
from tests.test_sources import read_all

TRUNCATED = "truncated JSON (the file ends in the middle of a value)"
SESSIONS = {
    "spans": EXAMPLE / "2026-11-24" / "17-00-00.json",
    "logs": EXAMPLE / "2026-11-24" / "17-00-00-logs.json",
    "metrics": EXAMPLE / "2026-11-24" / "17-00-00-metrics.json",
}


def record_ends(data: bytes, indent: int) -> list[int]:
    """Where each record's text ends: the records are the elements, written at ``indent``
    spaces by JSON.stringify(doc, null, 2), of the one record array."""
    ends, closing = [], b"\n" + b" " * indent + b"}"
    at = data.find(closing)
    while at >= 0:
        ends.append(at + len(closing))
        at = data.find(closing, at + 1)
    return ends


def records(items: list[object]) -> list[object]:
    """The records read, wherever they were read from (the file name left out)."""
    return [replace(i, origin=replace(i.origin, source="")) for i in items if type(i) in SIGNAL_OF]  # type: ignore[attr-defined]


def first_k(tmp_path: Path, doc: dict[str, Any], key: str, k: int, path: list[str] | None = None) -> list[object]:
    """The records of ``doc`` with only the first ``k`` elements of its record array."""
    cut = json.loads(json.dumps(doc))
    holder = cut
    for step in path or []:
        holder = holder[step][0] if isinstance(holder[step], list) else holder[step]
    holder[key] = holder[key][:k]
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(cut))
    return records(read_all(whole))


def _offsets(data: bytes, ends: list[int]) -> list[int]:
    """Inside a record, right after one, between two (after the comma), inside the closing
    brackets, and a sweep."""
    picked = {ends[0] - 5, ends[0], ends[0] + 1, ends[1] + 3, ends[-1], ends[-1] + 4, len(data) - 1, len(data) - 2}
    return sorted(picked | set(range(1, len(data), max(1, len(data) // 25))))


@pytest.mark.parametrize("key", SESSIONS)
def test_a_cut_session_gives_back_exactly_the_records_before_the_cut(tmp_path: Path, key: str) -> None:
    data = SESSIONS[key].read_bytes()
    doc = json.loads(data)
    ends = record_ends(data, 4)
    assert len(ends) == len(doc[key])  # the oracle finds every record
    for at in _offsets(data, ends):
        path = tmp_path / "2026-11-24" / "cut.json"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data[:at])
        items = read_all(path)
        k = sum(end <= at for end in ends)
        got = records(items)
        if key != "metrics":
            assert len(got) == k, at
        assert got == first_k(tmp_path, doc, key, k), at
        problems = [i for i in items if isinstance(i, FileProblem)]
        assert [p.reason for p in problems] == [f"{TRUNCATED}: cut at byte {at}, {len(got)} records recovered"], at


def test_an_empty_session_file_is_named_so(tmp_path: Path) -> None:
    (tmp_path / "17-00-00.json").write_bytes(b"")
    assert [i.reason for i in read_all(tmp_path) if isinstance(i, FileProblem)] == ["empty file"]


def test_a_streamed_cut_session_says_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)
    data = SESSIONS["spans"].read_bytes()
    ends = record_ends(data, 4)
    at = ends[5] + 40  # inside the seventh span
    path = tmp_path / "cut.json"
    path.write_bytes(b"\xef\xbb\xbf" + data[:at])  # a BOM: the byte offset counts it
    items = read_all(path)
    assert records(items) == first_k(tmp_path, json.loads(data), "spans", 6)
    assert [i.reason for i in items if isinstance(i, FileProblem)][-1] == (
        f"{TRUNCATED}: cut at byte {at + 3}, 6 records recovered"
    )


def otlp_document(n: int) -> dict[str, Any]:
    span = {"traceId": "ab" * 16, "name": "s", "startTimeUnixNano": "1795539600000000000"}
    spans = [{**span, "spanId": f"{i + 1:016x}", "endTimeUnixNano": f"17955396{i:02d}000000000"} for i in range(n)]
    scope = {"scope": {"name": "x"}, "spans": spans}
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [scope]}]}


def test_a_cut_otlp_document_gives_back_the_spans_before_the_cut(tmp_path: Path) -> None:
    doc = otlp_document(6)
    data = json.dumps(doc, indent=2).encode()
    ends = record_ends(data, 12)
    assert len(ends) == 6
    for at in _offsets(data, ends):
        path = tmp_path / "otlp.json"
        path.write_bytes(data[:at])
        items = read_all(path)
        k = sum(end <= at for end in ends)
        if at < data.index(b'"spans"'):
            assert records(items) == [], at  # cut before the record array: nothing to recover
        else:
            assert records(items) == first_k(tmp_path, doc, "spans", k, ["resourceSpans", "scopeSpans"]), at
        assert [i.reason for i in items if isinstance(i, FileProblem)] == [
            f"{TRUNCATED}: cut at byte {at}, {len(records(items))} records recovered"
        ], at


def test_the_cut_last_line_of_json_lines_is_said_and_the_lines_before_read(tmp_path: Path) -> None:
    lines = [json.dumps(otlp_document(i + 1)).encode() + b"\n" for i in range(3)]
    data = b"".join(lines)
    path = tmp_path / "otlp.jsonl"
    path.write_bytes(data[:-30])
    items = read_all(path)
    assert len(records(items)) == 1 + 2
    assert [i.reason for i in items if isinstance(i, FileProblem)] == [
        f"{TRUNCATED}: cut at byte {len(data) - 30}, 3 records recovered"
    ]


def test_a_cut_session_replays_what_it_recovered_with_one_problem_line(tmp_path: Path) -> None:
    data = SESSIONS["spans"].read_bytes()
    at = record_ends(data, 4)[9] + 100
    path = tmp_path / "traces" / "2026-11-24" / "17-00-00.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(data[:at])
    code, summary = replay_json(str(tmp_path), "--dry-run")
    assert code == 1
    assert [p["text"] for p in summary["problems"]] == [f"{path}: {TRUNCATED}: cut at byte {at}, 10 records recovered"]
    assert (summary["signals"]["traces"]["read"], summary["signals"]["traces"]["sent"]) == (10, 10)


@pytest.mark.parametrize(
    ("data", "mended"),
    [
        (b'{"spans": [{"a": 1}, {"b": "}]', b'{"spans": [{"a": 1}]}'),  # a bracket inside a cut string
        (b'{"spans": [{"a": "x\\"}"}, {"b', b'{"spans": [{"a": "x\\"}"}]}'),  # an escaped quote
        (b'{"x": {"spans": [{"a": 1}, {', None),  # not where records are
        (b'{"spans": [', b'{"spans": []}'),
        (b'{"version": 1, "sp', None),
    ],
)
def test_salvage_keeps_whole_records_only(data: bytes, mended: bytes | None) -> None:
    assert salvage(data) == mended
