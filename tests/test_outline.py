"""A large OTLP/JSON document is streamed one record at a time, not one resource group at
a time (otel_replay/sources/outline.py): the same items as when it is decoded whole, in
memory that does not grow with a group's size."""

from __future__ import annotations

import collections
import copy
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import FileProblem, InvalidRecord, LogRecord, MetricPoint, SpanRecord
from otel_replay.sources import jsondoc, read_input
from otel_replay.sources.discover import ArchiveLimits, InputFile, discover
from tests.otlp_samples import logs_request, metrics_request, to_otlp_json, trace_request

STREAMED = 256  # a WHOLE_DOCUMENT_BYTES under which every document here is streamed


def _items(path: Path, mapped: bool = False) -> list[object]:
    out: list[object] = []
    for found in discover([str(path)], None, ArchiveLimits()):
        assert isinstance(found, InputFile)
        out += list(read_input(found, mapped=mapped))
    return out


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[object], list[object]]:
    """The file's items decoded whole, then streamed (and the same when mapped:
    :mod:`~otel_replay.sources.rawdoc`, or streamed when it does not take the document)."""
    whole = _items(path)
    with monkeypatch.context() as patch:
        patch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
        mapped = _items(path, mapped=True)
        streamed = _items(path)
    assert mapped == streamed
    return whole, streamed


def _schema_last(doc: dict[str, Any], scoped: str) -> dict[str, Any]:
    """The document with each group's and block's ``schemaUrl`` after its records (the
    order protobuf's fields give, as the Collector writes it)."""
    for group in doc[next(iter(doc))]:
        group["schemaUrl"] = group.pop("schemaUrl", "https://opentelemetry.io/schemas/1.24.0")
        for block in group[scoped]:
            block["schemaUrl"] = block.pop("schemaUrl", "https://opentelemetry.io/schemas/1.21.0")
    return doc


def _traces() -> dict[str, Any]:
    return _schema_last(to_otlp_json(trace_request(n_resources=3, spans_per_scope=4)), "scopeSpans")


def _odd_traces() -> dict[str, Any]:
    """Groups and blocks the reader refuses or reads in part, between good ones."""
    doc = _traces()
    good = doc["resourceSpans"][0]
    refused_scope = copy.deepcopy(good)
    refused_scope["scopeSpans"][0]["scope"] = "not an object"
    spans_not_array = copy.deepcopy(good)
    spans_not_array["scopeSpans"][0]["spans"] = {"spans": []}
    odd_items = copy.deepcopy(good)
    odd_items["scopeSpans"][0]["spans"][1:1] = [7, [1, 2], None]
    no_spans = copy.deepcopy(good)
    no_spans["scopeSpans"] = [{"scope": {"name": "empty"}}, {"spans": []}, {"spans": None}, 5]
    doc["resourceSpans"][1:1] = [5, refused_scope, {"resource": 3}, spans_not_array, odd_items, no_spans, []]
    return doc


DOCUMENTS = {
    "traces": _traces,
    "traces, groups and blocks refused or read in part": _odd_traces,
    "logs": lambda: _schema_last(to_otlp_json(logs_request()), "scopeLogs"),
    "metrics": lambda: _schema_last(to_otlp_json(metrics_request()), "scopeMetrics"),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_streamed_document_reads_as_the_same_document_decoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / "request.json"
    doc = DOCUMENTS[name]()
    path.write_text(json.dumps(doc))
    whole, streamed = _both(path, monkeypatch)
    assert streamed == whole
    records = [i for i in whole if isinstance(i, (SpanRecord, LogRecord, MetricPoint))]
    assert len(records) >= 4
    # the schema URLs that come after the records are theirs
    written = {g["schemaUrl"] for g in next(iter(doc.values())) if isinstance(g, dict) and "schemaUrl" in g}
    assert {r.resource_schema_url for r in records} == written
    assert written
    if name == "traces, groups and blocks refused or read in part":
        refused = [i for i in whole if isinstance(i, (InvalidRecord, FileProblem))]
        assert len(refused) >= 6


def test_a_cut_streamed_document_reads_the_records_before_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = json.dumps(_traces())
    cut = text.index('"spanId"', len(text) // 2)  # inside a span of the second or third group
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    whole, streamed = _both(path, monkeypatch)
    spans = [i for i in streamed if isinstance(i, SpanRecord)]
    assert spans == [i for i in whole if isinstance(i, SpanRecord)]
    assert 0 < len(spans) < text.count('"spanId"')
    problems = [i for i in streamed if isinstance(i, FileProblem)]
    assert len(problems) == 1 and "truncated" in problems[0].reason


def test_a_group_of_many_spans_is_streamed_in_memory_that_does_not_grow_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One resource group of 3,000 spans (5 MiB of JSON; read a group at a time, as
    before the outline, 50 MiB were traced): streamed, a few records at a time."""
    doc = to_otlp_json(trace_request(n_resources=1, spans_per_scope=1))
    block = doc["resourceSpans"][0]["scopeSpans"][0]
    span = block["spans"][0]
    block["spans"] = [{**span, "spanId": f"{i + 1:016x}"} for i in range(3_000)]
    doc["resourceSpans"][0]["scopeSpans"] = [block]
    path = tmp_path / "one-group.json"
    path.write_text(json.dumps(doc))
    size = path.stat().st_size
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1 << 18)  # the scan's copy is on disk past 256 KiB
    (found,) = discover([str(path)], None, ArchiveLimits())
    assert isinstance(found, InputFile)
    collections.deque(read_input(found), maxlen=0)  # once before: what it imports and caches is not counted
    tracemalloc.start()
    try:
        spans = sum(isinstance(item, SpanRecord) for item in read_input(found))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spans == 3_000
    assert size > 4 << 20
    # 2 MiB here, and the same for a document four times as large
    assert peak < 4 << 20, f"{peak / 2**20:.2f} MiB traced while reading a {size / 2**20:.1f} MiB document"


def test_what_follows_a_streamed_document_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its records are read, then the second document is trailing characters (not a silent end)."""
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    one.write_text(json.dumps(_traces()))
    two.write_text(json.dumps(_traces()) + "\n" + json.dumps(_traces()) + "\n")
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    monkeypatch.setattr(jsondoc, "FIRST_LINE_BYTES", STREAMED)  # not told as JSON Lines
    items = _items(two)
    spans = sum(isinstance(i, SpanRecord) for i in _items(one))
    assert spans >= 12 and sum(isinstance(i, SpanRecord) for i in items) == spans
    (problem,) = [i for i in items if isinstance(i, FileProblem)]
    assert "trailing characters after the top-level object" in problem.reason


def test_a_streamed_request_has_its_top_level_keys_and_refuses_to_be_read_out_of_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records come from one stream in document order: a later block's before an earlier
    one's is a programming error, said as such (the readers read in order)."""
    data = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [1, 2]}, {"spans": [3]}]}], "x": 1}).encode()
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", len(data) // 2)
    doc = jsondoc.read_document(io.BytesIO(data))
    assert (doc.keys, doc.header, doc.array_key) == (["resourceSpans", "x"], {"x": 1}, "resourceSpans")
    group = next(doc.items)  # the groups are read one at a time, as the readers read them
    first, second = (block["spans"] for block in group["scopeSpans"])
    assert list(second) == [3]
    with pytest.raises(RuntimeError) as raised:
        list(first)
    assert str(raised.value) == "the records of a streamed document were read out of order"
