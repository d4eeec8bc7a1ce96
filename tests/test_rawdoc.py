"""A large document of a plain file is mapped, its records decoded one at a time
(otel_replay/sources/rawdoc.py): the same items as when it is decoded whole, a share
decoding only its own records, and anything the mapping does not take streamed as before."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.model import FileProblem, InvalidRecord, LogRecord, SpanRecord
from otel_replay.progress.meter import ByteCounter
from otel_replay.report import EXIT_INCOMPLETE
from otel_replay.sources import jsondoc, rawdoc, read_input
from otel_replay.sources.discover import InputFile
from otel_replay.sources.rawdoc import MappedRecords, file_behind
from otel_replay.sources.streams import Stride, decompressed
from tests.helpers import log_doc, span_doc
from tests.otlp_samples import logs_request, to_otlp_json, trace_request

MAPPED = 256  # a WHOLE_DOCUMENT_BYTES under which every document here is too large to read whole


def _spans(n: int = 40) -> list[Any]:
    spans: list[Any] = [
        span_doc(spanId=f"{i + 1:016x}", attributes={"i": i, "big": 2**70, "名": "é"}) for i in range(n)
    ]
    spans[3:3] = [7, None, span_doc(traceId="zz")]  # refused, each for its reason
    return spans


def _otlp_traces() -> dict[str, Any]:
    return to_otlp_json(trace_request(n_resources=3, spans_per_scope=5))


DOCUMENTS: dict[str, Any] = {
    "CodeMachine spans": lambda: {"version": 1, "service": "codemachine", "spans": _spans()},
    "CodeMachine logs": lambda: {"version": 1, "logs": [log_doc(nanos=i * 1000, body=f"r{i}") for i in range(30)]},
    "OTLP/JSON spans": _otlp_traces,
    "OTLP/JSON logs": lambda: to_otlp_json(logs_request()),
}


def _file(path: Path, part: Stride | None = None) -> InputFile:
    return InputFile(str(path), lambda: open(path, "rb"), path.stat().st_size, part)


def _items(path: Path, part: Stride | None = None) -> list[object]:
    return list(read_input(_file(path, part), mapped=True))


def _is_mapped(path: Path) -> bool:
    """Whether the document's records are :class:`MappedRecords` (an OTLP/JSON one's, in
    its first scope block)."""
    with open(path, "rb") as fh:
        items = jsondoc.read_document(fh, path.stat().st_size, mapped=True).items
        if isinstance(items, MappedRecords):
            return True
        group = next(items)
        block = next(v for k, v in group.items() if k.startswith("scope"))[0]
        return any(isinstance(v, MappedRecords) for v in block.values())


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_mapped_document_reads_as_the_same_document_decoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DOCUMENTS[name]()), encoding="utf-8")
    whole = _items(path)
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", MAPPED)
    assert _is_mapped(path)
    mapped = _items(path)
    assert mapped == whole
    assert sum(isinstance(i, (SpanRecord, LogRecord)) for i in mapped) >= 4
    if name == "CodeMachine spans":  # the records refused are refused as they are read whole
        assert [str(i.origin) for i in mapped if isinstance(i, InvalidRecord)] == [f"{path}[{n}]" for n in (3, 4, 5)]


@pytest.mark.parametrize("name", ["CodeMachine spans", "OTLP/JSON spans"])
def test_the_shares_of_a_mapped_document_are_its_records_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DOCUMENTS[name]()), encoding="utf-8")
    whole = [i for i in _items(path) if isinstance(i, (SpanRecord, InvalidRecord))]
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", MAPPED)
    shares = [[i for i in _items(path, Stride(k, 3)) if isinstance(i, (SpanRecord, InvalidRecord))] for k in range(3)]
    assert all(shares)
    assert sorted((i for share in shares for i in share), key=lambda i: i.origin.index) == whole


def _with_a_number_out_of_range(text: str, at: int) -> bytes:
    """``text`` with the ``at``-th ``"i": …`` attribute's value 1e999999 (valid JSON, which
    no decoder takes as a float)."""
    cut = -1
    for _ in range(at + 1):
        cut = text.index('"i": ', cut + 1)
    end = text.index("}", cut)
    return (text[: cut + 5] + "1e999999" + text[end:]).encode()


def test_a_record_that_cannot_be_decoded_alone_is_refused_and_only_by_its_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The document is valid JSON, so each record can be decoded on its own: the one that
    cannot be is refused, named, and the others are read; of the shares, only the one
    that takes it says so. (Read whole, the document cannot be decoded at all.)"""
    path = tmp_path / "doc.json"
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"i": i}) for i in range(9)]
    path.write_bytes(_with_a_number_out_of_range(json.dumps({"version": 1, "spans": spans}), 4))
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", MAPPED)
    items = _items(path)
    (refused,) = [i for i in items if isinstance(i, InvalidRecord)]
    assert (str(refused.origin), refused.key) == (f"{path}[4]", "not valid JSON")
    assert refused.reason.startswith("not valid JSON: Number out of range")
    assert sum(isinstance(i, SpanRecord) for i in items) == 8
    assert not [i for i in items if isinstance(i, FileProblem)]
    for k in range(3):
        refusals = [i for i in _items(path, Stride(k, 3)) if isinstance(i, (InvalidRecord, FileProblem))]
        assert len(refusals) == (k == 4 % 3)


def _flawed() -> dict[str, bytes]:
    good = json.dumps({"version": 1, "spans": _spans()}).encode()
    otlp = _otlp_traces()
    otlp["resourceSpans"][1:1] = [5, {"resource": 3}, {"scopeSpans": [{"spans": {"not": "an array"}}]}]
    return {
        "not UTF-8 where no record is": good[:-1] + b', "note": "\xff\xfe"}',
        "not UTF-8 in a record": good.replace(b'"\\u540d"', b'"\xff"', 1),
        "trailing characters": good + b"\n" + good,
        "cut": good[: len(good) * 2 // 3],
        "a records array that is an object": json.dumps({"version": 1, "spans": {"a": span_doc()}}).encode(),
        "OTLP/JSON groups and blocks of other shapes": json.dumps(otlp).encode(),
        "a header value out of range": good[:-1] + b', "n": 1e999999}',
    }


@pytest.mark.parametrize("name", _flawed())
def test_a_document_the_mapping_does_not_take_is_read_as_when_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(_flawed()[name])
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", MAPPED)
    mapped = _items(path)
    monkeypatch.setattr(rawdoc, "MAPPED_DOCUMENT_BYTES", 0)
    streamed = _items(path)
    assert mapped == streamed
    assert any(isinstance(i, (FileProblem, InvalidRecord)) for i in mapped)


def test_only_a_plain_file_read_from_its_start_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(b'{"spans": []}')
    with open(path, "rb") as fh:
        assert file_behind(fh) == (fh.fileno(), None)
        fh.read(1)
        assert file_behind(fh) is None  # part-read
    assert file_behind(io.BytesIO(b"{}")) is None
    gz = tmp_path / "doc.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with open(gz, "rb") as raw, decompressed(raw) as stream:
        assert file_behind(stream) is None
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as pipe, os.fdopen(write_end, "wb"):
        assert file_behind(pipe) is None
    counted: list[int] = []
    counter = ByteCounter(counted.append)
    with counter.counted(_file(path)).open() as stream:  # a progress bar's count: told where it is
        behind = file_behind(stream)
        assert behind is not None and behind[1] is not None
        behind[1](5)
    assert sum(counted) == 5


def _mapping_rss(path: Path) -> int:
    """The resident bytes of this process's mappings of ``path`` (/proc/self/smaps)."""
    rss, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            rss += int(line.split()[1]) * 1024
    return rss


def _sampled(items: Iterator[object], path: Path) -> Iterator[int]:
    for n, _ in enumerate(items):
        if n % 500 == 0:
            yield _mapping_rss(path)


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads /proc/self/smaps (Linux)")
def test_the_pages_of_a_mapped_document_are_handed_back_as_its_records_go_by(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"pad": "x" * 400}) for i in range(40_000)]
    path.write_text(json.dumps({"version": 1, "spans": spans}), encoding="utf-8")
    size = path.stat().st_size
    assert size > 2 * jsondoc.WHOLE_DOCUMENT_BYTES
    with open(path, "rb") as fh:
        doc = jsondoc.read_document(fh, size, mapped=True)
        assert isinstance(doc.items, MappedRecords)
        resident = list(_sampled(doc.items, path))
    assert len(resident) == 80
    # about 4,096 records' pages at most (2 MiB of these), never the file's 20 MiB
    assert max(resident) < size // 4, f"{max(resident) / 2**20:.1f} MiB resident of {size / 2**20:.1f} MiB"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_replay_maps_a_large_document_only_where_one_process_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    """One process maps it (its record that cannot be decoded alone is refused, the others
    sent); worker processes, which would each hold its pages at once, stream it."""
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"i": i}) for i in range(9)]
    (tmp_path / "doc.json").write_bytes(_with_a_number_out_of_range(json.dumps({"version": 1, "spans": spans}), 4))
    (tmp_path / "other.json").write_text(json.dumps({"version": 1, "spans": [span_doc()]}))
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", MAPPED)  # forked workers inherit it
    args = ["replay", str(tmp_path), "--dry-run", "--json", "--workers", workers, "--keep-times"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    traces = json.loads(result.stdout)["signals"]["traces"]
    if workers == "1":
        assert result.exit_code == EXIT_INCOMPLETE, result.output
        assert (traces["sent"], traces["invalid"], list(traces["invalid_reasons"])) == (9, 1, ["not valid JSON"])
    else:
        assert "not valid JSON" not in traces["invalid_reasons"], traces
