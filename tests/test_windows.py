"""A large CodeMachine span document is read a window of records at a time
(otel_replay/sources/windows.py): the same items as when it is decoded whole, a share
decoding only its own records, and whatever the windows cannot take read as when streamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.model import FileProblem, SpanRecord
from otel_replay.sources import jsondoc, read_input, windows
from otel_replay.sources.discover import InputFile
from otel_replay.sources.streams import Stride
from otel_replay.sources.windows import WindowRecords, spans_opening
from tests.helpers import span_doc

SMALL = 256  # a WHOLE_DOCUMENT_BYTES under which every document here is too large to read whole
#: A string with the bytes that end a window in either layout, in a record.
LOOKALIKE = '"},\\n    {\\n      \\"name\\": x", "},{\\"name\\":'


def _spans(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        events = [{"name": "e", "time": 1795539600000 + j, "attributes": {"k": [1, {"a": "b"}]}} for j in range(i % 3)]
        attributes = {"i": i, "text": LOOKALIKE if i % 4 == 0 else "é名", "big": 2**62 - i}
        out.append(span_doc(spanId=f"{i + 1:016x}", attributes=attributes, events=events))
    return out


def _write(path: Path, spans: list[Any], indent: int | None = 2, **extra: Any) -> Path:
    doc = {"version": 1, "service": "codemachine", "spanCount": len(spans), "spans": spans, **extra}
    path.write_text(json.dumps(doc, indent=indent, ensure_ascii=False), encoding="utf-8")
    return path


def _items(path: Path, part: Stride | None = None) -> list[object]:
    return list(read_input(InputFile(str(path), lambda: open(path, "rb"), path.stat().st_size, part)))


def _windowed(monkeypatch: pytest.MonkeyPatch, window: int = 300) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", SMALL)
    monkeypatch.setattr(windows, "WINDOW_BYTES", window)


def _taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The records of each window the readers take from now on."""
    taken: list[int] = []
    real = WindowRecords._window

    def window(self: WindowRecords, at: int, pattern: bytes) -> Any:
        found = real(self, at, pattern)
        if found is not None:
            taken.append(len(found[1]))
        return found

    monkeypatch.setattr(WindowRecords, "_window", window)
    return taken


def _streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", SMALL)
    monkeypatch.setattr(jsondoc, "windowed", lambda *args: None)


@pytest.mark.parametrize("indent", [2, None], ids=["as CodeMachine writes it", "on one line"])
def test_a_document_read_in_windows_reads_as_the_same_document_decoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, indent: int | None
) -> None:
    path = _write(tmp_path / "doc.json", _spans(60), indent)
    whole = _items(path)
    _windowed(monkeypatch)
    with open(path, "rb") as fh:
        assert isinstance(jsondoc.read_document(fh, path.stat().st_size).items, WindowRecords)
    taken = _taken(monkeypatch)
    assert _items(path) == whole
    assert sum(isinstance(i, SpanRecord) for i in whole) == 60
    assert len(taken) > 5 and sum(taken) > 50  # in windows, but for the last records


def test_the_shares_of_a_document_read_in_windows_are_its_records_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "doc.json", _spans(50), None)
    whole = [i for i in _items(path) if isinstance(i, SpanRecord)]
    _windowed(monkeypatch)
    taken = _taken(monkeypatch)
    shares = [[i for i in _items(path, Stride(k, 3)) if isinstance(i, SpanRecord)] for k in range(3)]
    assert all(shares)
    assert sum(taken) > 3 * 40
    assert sorted((i for share in shares for i in share), key=lambda i: i.origin.index) == whole


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(1 - 2**63, 2**63 - 1)  # the streaming reader, which reads what windows do not, reads no more
    | st.text(alphabet='{}[],: \n"\\aé名')
    | st.floats(allow_nan=False, allow_infinity=False)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='{}":,ab', max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_SPAN_LIKE = st.builds(lambda extra: {**span_doc(), "x": extra}, _VALUES)
_RECORDS = st.lists(st.one_of(_SPAN_LIKE, st.dictionaries(st.just("name"), _VALUES), _VALUES), max_size=25)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(records=_RECORDS, indent=st.sampled_from([None, 0, 2]), window=st.integers(1, 400))
def test_any_records_in_any_layout_read_in_windows_as_decoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: list[Any], indent: int | None, window: int
) -> None:
    """Records of every JSON type, strings full of the bytes that end windows, windows of
    any size: what the windows read is what decoding the document whole reads."""
    path = _write(tmp_path / "doc.json", records, indent)
    with monkeypatch.context() as patch:
        patch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1 << 30)
        whole = _items(path)
    with monkeypatch.context() as patch:
        _windowed(patch, window)
        assert _items(path) == whole


FLAWS = [
    "cut in a record", "cut after a record", "cut after the array", "trailing characters", "not UTF-8 in a record",
    "not JSON in a record", "a key after the array", "no record", "one record", "records that are not objects",
    "a first key no other record starts with",
]  # fmt: skip


def _flawed(tmp_path: Path) -> dict[str, bytes]:
    good = _write(tmp_path / "good.json", _spans(40)).read_bytes()
    middle = len(good) // 2
    accent = good.index("é".encode(), middle)
    return {
        "cut in a record": good[:middle],
        "cut after a record": good[: good.index(b"},", middle) + 1],
        "cut after the array": good[: good.rindex(b"]") + 1],
        "trailing characters": good + b"\n{}",
        "not UTF-8 in a record": good[:accent] + b"\xff" + good[accent + 1 :],  # in a string
        "not JSON in a record": good[:middle] + b"\x01" + good[middle + 1 :],
        "a key after the array": good[: good.rindex(b"}")] + b', "after": [1, 2]}',
        "no record": b'{"version": 1, "spans": [ ]}',
        "one record": json.dumps({"version": 1, "spans": [span_doc()]}).encode(),
        "records that are not objects": json.dumps({"version": 1, "spans": [1, "two", None, [3]] * 20}).encode(),
        "an integer beyond 64 bits": good.replace(str(2**62 - 7).encode(), str(2**70).encode()),
        "an integer beyond 64 bits in the last record": good.replace(str(2**62 - 39).encode(), str(2**70).encode()),
        "a first key no other record starts with": _write(
            tmp_path / "first.json", [{"zfirst": 1, **span_doc()}, *_spans(40)]
        ).read_bytes(),
    }


@pytest.mark.parametrize("name", FLAWS)
def test_what_the_windows_cannot_take_is_read_as_when_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(_flawed(tmp_path)[name])
    with monkeypatch.context() as patch:
        _streamed(patch)
        streamed = _items(path)
    _windowed(monkeypatch)
    assert _items(path) == streamed
    for k in range(2):  # each share says what it must of the file: the first all, the others nothing
        with monkeypatch.context() as patch:
            _streamed(patch)
            streamed_share = _items(path, Stride(k, 2))
        assert _items(path, Stride(k, 2)) == streamed_share


@pytest.mark.parametrize("where", ["", " in the last record"])
def test_a_number_the_streaming_reader_cannot_read_is_read_in_a_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Windows take the array's last records too, up to its end (what follows is checked
    by the streaming reader)."""
    path = tmp_path / "doc.json"
    path.write_bytes(_flawed(tmp_path)["an integer beyond 64 bits" + where])
    whole = _items(path)
    _windowed(monkeypatch)
    assert _items(path) == whole
    assert not [i for i in whole if isinstance(i, FileProblem)]


def test_a_first_record_larger_than_a_read_is_read_on_to_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = _spans(30)
    spans[0]["attributes"]["pad"] = "x" * 200_000  # the buffer's first read is 64 KiB
    path = _write(tmp_path / "doc.json", spans)
    whole = _items(path)
    _windowed(monkeypatch)
    taken = _taken(monkeypatch)
    assert _items(path) == whole
    assert sum(taken) == 30  # every record in windows, the first one too


def test_a_record_larger_than_the_buffer_is_streamed_from_its_window_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = _spans(30)
    spans[20]["attributes"]["pad"] = "x" * 5000
    path = _write(tmp_path / "doc.json", spans)
    whole = _items(path)
    _windowed(monkeypatch)
    monkeypatch.setattr(windows, "_MOST_BYTES", 2000)
    assert _items(path) == whole


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (b'{"version": 1, "spans": [', True),
        (b'{\n  "version": 1,\n  "spans"  :\n  [', True),
        (b'{"meta": {"spans": [1]}, "spans": [', False),  # an object before it: the streaming reader's
        (b'{"note": "\\"spans\\": [", "spans": [', True),
        (b'{"note": "x", "spansx": [', False),
        (b'["spans": [', False),
    ],
)
def test_a_span_array_is_opened_after_scalar_values_only(head: bytes, found: bool) -> None:
    opened = spans_opening(head + b"{}]}")
    assert (opened is not None) == found
    if opened is not None:
        header, keys, at = opened
        assert keys[-1] == "spans" and "spans" not in header
        assert head.endswith(b"[") and at == len(head)
