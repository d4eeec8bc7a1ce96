"""One JSON document as a header and a record array, decoded whole or streamed: the
same document gives the same answer either way (streamed: the header is what comes
before the array)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import ijson
import pytest

from otel_replay.sources import jsondoc
from otel_replay.sources.jsondoc import (
    WHOLE_DOCUMENT_BYTES,
    Document,
    DocumentError,
    is_json_lines,
    read_document,
    read_head,
)
from otel_replay.sources.jsontext import describe_json, first_array_key, looks_like_json, spans_first
from tests.helpers import problem_lines, replay_json
from tests.otlp_samples import logs_request, to_otlp_json

#: A ``WHOLE_DOCUMENT_BYTES`` under which every document here is streamed.
STREAMED = 8


@pytest.fixture(params=["whole", "streamed"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "streamed":
        monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    return str(request.param)


def _read(data: bytes) -> tuple[Document, list[Any]]:
    doc = read_document(io.BytesIO(data))
    return doc, list(doc.items)


def _error(data: bytes) -> str:
    with pytest.raises(DocumentError) as raised:
        _read(data)
    return str(raised.value)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"[1, 2, 3]   ", "an array"),
        (b'"a string"', "a string"),
        (b"12345678901", "a number"),
        (b"true   ", "a boolean"),
    ],
)
def test_a_document_that_is_not_an_object_is_named_by_its_kind(mode: str, data: bytes, kind: str) -> None:
    assert _error(data) == f"top-level JSON is {kind}, expected an object"


def test_a_document_that_is_null_is_named_null(mode: str) -> None:
    assert _error(b"null      ") == "top-level JSON is null, expected an object"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(b'"x"', "a string"), (b"5", "a number"), (b'{"a": 1}', "an object"), (b"true", "a boolean"), (b"null", "null")],
)
def test_a_record_array_of_another_type_is_named_by_its_kind(mode: str, value: bytes, kind: str) -> None:
    assert _error(b'{"v": 1, "logs": ' + value + b', "w": 2}') == f"'logs' is {kind}, expected an array"


def test_the_header_holds_the_top_level_scalars_before_the_records(mode: str) -> None:
    data = b'{"a": {"b": [1, {"c": [2, 3]}], "d": {}}, "x": 1, "y": "z", "n": null, "spans": [{"i": 1}, {"i": 2}]}'
    doc, items = _read(data)
    assert (doc.header, doc.keys, doc.array_key, items) == (
        {"x": 1, "y": "z", "n": None}, ["a", "x", "y", "n", "spans"], "spans", [{"i": 1}, {"i": 2}],
    )  # fmt: skip
    assert (doc.notes, doc.lines) == ([], None)


def test_a_document_without_records_is_its_header(mode: str) -> None:
    doc, items = _read(b'{"x": [1, [2, [3]]], "y": 2, "z": {"w": {"v": 1}}, "last": true}')
    assert (doc.header, doc.keys, doc.array_key, items) == ({"y": 2, "last": True}, ["x", "y", "z", "last"], None, [])


def test_a_streamed_header_ends_at_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"x": 1, "spans": [7], "after": 2}'
    whole, _ = _read(data)
    assert (whole.header, whole.keys) == ({"x": 1, "after": 2}, ["x", "spans", "after"])
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    streamed, items = _read(data)
    assert (streamed.header, streamed.keys, streamed.array_key, items) == ({"x": 1}, ["x", "spans"], "spans", [7])


def test_the_record_array_is_the_same_whole_or_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"logs": [1], "spans": [2]}'
    whole, whole_items = _read(data)
    assert (whole.array_key, whole_items) == ("spans", [2])
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    streamed, streamed_items = _read(data)
    assert (streamed.array_key, streamed_items) == ("spans", [2])


@pytest.mark.parametrize(
    ("data", "key", "items"),
    [
        (b'{"resourceLogs": [{"a": [1]}], "x": 1, "logs": [5, 6]}', "logs", [5, 6]),
        (b'{"metrics": [1, 2], "x": {"y": [3]}}', "metrics", [1, 2]),
        (b'{"resourceSpans": [1], "resourceMetrics": [2]}', "resourceSpans", [1]),
        (b'{"logs": [' + b"1, " * 5000 + b'2], "spans": [3]}', "spans", [3]),  # the skipped array is large
    ],
)
def test_the_record_array_of_highest_rank_is_read_wherever_it_is(
    mode: str, data: bytes, key: str, items: list[int]
) -> None:
    doc, read = _read(data)
    assert (doc.array_key, read) == (key, items)


@pytest.mark.parametrize("data", [b'{"spans": [1, 2', b'{"x": 1,', b'{"spans": [{"a": "b'])
def test_a_cut_document_is_said_truncated(mode: str, data: bytes) -> None:
    assert _error(data) == "truncated JSON (the file ends in the middle of a value)"


def test_records_before_the_cut_are_read_when_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    doc = read_document(io.BytesIO(b'{"spans": [1, 2, {"a": '))
    assert next(doc.items) == 1 and next(doc.items) == 2
    with pytest.raises(DocumentError, match=r"^truncated JSON"):
        next(doc.items)


@pytest.mark.parametrize(
    "data", [b'{"big": 99999999999999999999999, "spans": []}', b'{"spans": [1, 99999999999999999999}']
)
def test_a_streamed_integer_beyond_64_bits_is_said_so(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    assert _error(data) == "an integer is beyond 64 bits, which the streaming parser cannot read"


def test_whole_integers_beyond_64_bits_are_exact() -> None:
    doc, items = _read(b'{"big": 99999999999999999999999, "spans": [18446744073709551616]}')
    assert doc.header == {"big": 99999999999999999999999} and items == [2**64]


def test_streamed_json_that_is_not_json_is_said_in_the_parsers_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    for data in (b'{"spans": [}', b'{"spans": [1, 2]]'):
        reason = _error(data)
        assert reason.startswith("not valid JSON: parse error: ") and "\n" not in reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": "\xff"}', "not valid UTF-8 text"),
        (b"[" * 100_000, "JSON nested too deeply"),
        (b'{"a": 1}}', "not valid JSON: JSON is malformed: trailing characters (byte 9)"),
        (b'{"a": tru}', "not valid JSON: JSON is malformed: invalid character (byte 10)"),
    ],
)
def test_whole_json_that_is_not_json_says_why(data: bytes, reason: str) -> None:
    assert _error(data) == reason


def test_streamed_text_that_is_not_utf8_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    assert _error(b'{"spans": ["\xff\xfe"]}') == "not valid UTF-8 text"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b" \n\t ", "empty file"),
        (b"\x89PNG\r\n", "not JSON text: the file starts with binary data (bytes 89 50 4e 47)"),
        (b'{"a": "\x00"}', "not JSON text: the file starts with binary data (bytes 7b 22 61 22)"),
    ],
)
def test_what_is_no_json_text_at_all_is_said_before_parsing(data: bytes, message: str) -> None:
    assert _error(data) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello", "not JSON: the file starts with text 'hello'"),
        (b"  \n# notes\nmore", "not JSON: the file starts with text '# notes\\nmore'"),
        (b"x" * 41, "not JSON: the file starts with text '" + "x" * 40 + "'…"),
        (b"truth", "not JSON: the file starts with text 'truth'"),
        (b"caf\xc3\xa9 \xe2\x82", "not JSON: the file starts with text 'café '"),  # cut inside a character
        (b"\x1b]8;;x\x1b\\", "not JSON: the file starts with text '\\x1b]8;;x\\x1b\\\\'"),
        (b"caf\xe9 latin-1", "not JSON text: the file starts with binary data (bytes 63 61 66 e9)"),
        (b"abc\x01def", "not JSON text: the file starts with binary data (bytes 61 62 63 01)"),
        (b"\xef\xbb\xbfhello", "not JSON: the file starts with text 'hello'"),
    ],
)
def test_text_that_is_not_json_is_quoted_as_text(data: bytes, message: str) -> None:
    assert _error(data) == message


def test_a_byte_order_mark_is_read_past_and_noted() -> None:
    doc, items = _read(b'\xef\xbb\xbf{"x": 1, "spans": [1, 2]}')
    assert (doc.header, items) == ({"x": 1}, [1, 2])
    assert doc.notes == ["starts with a UTF-8 byte order mark, which JSON does not allow (RFC 8259 §8.1); ignored"]


def test_a_document_too_large_to_decode_whole_is_streamed_after_a_byte_order_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    doc, items = _read(jsondoc.BOM + b'{"x": 1, "spans": [1, 2]}')
    assert (doc.header, items, len(doc.notes)) == ({"x": 1}, [1, 2], 1)


@pytest.mark.parametrize(
    ("head", "lines"),
    [
        (b'{"a": 1}\n{"a": 2}\n', True),
        (b'  {"a": 1}  \n{"a": 2}', True),
        (b'\n\n{"a": 1}\n{"a": 2}\n', True),  # blank lines first
        (b'{"a": 1}\n', False),  # one object: a document
        (b'{"a": 1}\n   \n', False),
        (b"[1]\n[2]\n", False),  # arrays: not a telemetry line
        (b'{"a": 1, "b": [\n1]}\n', False),  # pretty-printed
        (b'{"a": }\n{"a": 2}\n', False),
        (b'{"a": "\xff"}\n{"a": 2}\n', False),
        (b'"}"\n{"a": 2}\n', False),
    ],
)
def test_json_lines_are_told_by_their_first_line(head: bytes, lines: bool) -> None:
    assert is_json_lines(head) is lines


def test_json_lines_are_handed_over_whole_from_the_first_byte() -> None:
    data = b'{"a": 1}\n' + b'{"b": 2}\n' * 5000
    stream = io.BytesIO(data)
    doc = read_document(stream)
    assert (doc.header, doc.keys, doc.array_key, list(doc.items)) == ({}, ["a"], None, [])  # the first line's keys
    assert doc.lines is not None and doc.lines.read() == data


@pytest.mark.parametrize(
    ("value", "kind"),
    [([], "an array"), ({}, "an object"), ("", "a string"), (True, "a boolean"), (0, "a number"), (0.5, "a number"),
     (None, "null"), (b"", "bytes")],
)  # fmt: skip
def test_describe_json(value: Any, kind: str) -> None:
    assert describe_json(value) == kind


def test_a_streamed_header_holds_fractions_as_floats_as_whole_does(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"f": 0.1, "i": 7, "spans": []}'
    whole, _ = _read(data)
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    streamed, _ = _read(data)
    assert whole.header == streamed.header == {"f": 0.1, "i": 7}  # a Decimal('0.1') is not 0.1
    assert [type(v) for v in streamed.header.values()] == [float, int]


def test_an_empty_object_is_a_document_without_header_or_records(mode: str) -> None:
    doc, items = _read(b"{}" + b" " * 10)
    assert (doc.header, doc.keys, doc.array_key, items, doc.notes) == ({}, [], None, [], [])


def test_a_parser_error_without_a_message_is_named_by_its_type() -> None:
    assert str(jsondoc._stream_error(ijson.JSONError())) == "not valid JSON: JSONError"


@pytest.mark.parametrize("records", [b"", b', "logs": [1]', b', "spans": [1]'])
def test_what_follows_a_streamed_document_is_not_json(monkeypatch: pytest.MonkeyPatch, records: bytes) -> None:
    data = b'{"x": 1' + records + b'}   {"y": 2}'
    assert _error(data).startswith("not valid JSON: JSON is malformed: trailing characters (byte ")  # whole
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    assert _error(data) == "not valid JSON: trailing characters after the top-level object"


def test_white_space_after_a_streamed_document_without_records_is_read_to_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    doc, items = _read(b'{"x": 1, "y": [2]}' + b" \n" * 100_000)
    assert (doc.header, doc.keys, doc.array_key, items) == ({"x": 1}, ["x", "y"], None, [])


@pytest.mark.parametrize("blank", [b"", b"\n", b" \n" * 70_000])  # white space beyond one read of 64 KiB
def test_json_lines_whose_first_line_is_as_long_as_a_whole_document_are_json_lines(
    monkeypatch: pytest.MonkeyPatch, blank: bytes
) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    data = b'{"a": 1}\n' + blank + b'{"a": 2}\n'  # the first line is STREAMED bytes long
    doc = read_document(io.BytesIO(data))
    assert (doc.keys, doc.lines is not None and doc.lines.read()) == (["a"], data)


@pytest.mark.parametrize("ahead", [1, 2, 3])  # the first line ends in the first, second, third MiB read past the head
@pytest.mark.parametrize("blank", [b"", b"\n \n"])
def test_json_lines_whose_first_line_is_longer_than_a_whole_document_are_json_lines(
    monkeypatch: pytest.MonkeyPatch, ahead: int, blank: bytes
) -> None:
    """As a Collector's file exporter writes them: one request of tens of MB per line
    (after blank lines too)."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)
    first = b'{"spans": [' + b",".join(b'"%d"' % i for i in range(ahead * (1 << 20) // 10)) + b"]}"
    data = blank + first + b'\n{"spans": [1]}\n'
    doc = read_document(io.BytesIO(data))
    assert (doc.keys, doc.lines is not None and doc.lines.read()) == (["spans"], data)


def test_a_one_line_document_longer_than_a_first_line_is_read_is_streamed_and_what_follows_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No line break within FIRST_LINE_BYTES: one document (the bytes read looking for the
    break are read again by the streaming parser); a second line is then trailing characters."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)
    monkeypatch.setattr(jsondoc, "FIRST_LINE_BYTES", 3 << 20)
    records = list(range(800_000))  # 5.7 MB on one line: read on for 3 MiB, not to its end
    data = json.dumps({"n": 1, "spans": records}).encode()
    doc, items = _read(data)
    assert (doc.header, items) == ({"n": 1}, records)
    assert _error(data + b'\n{"spans": [1]}\n') == "not valid JSON: trailing characters after the top-level object"


@pytest.mark.parametrize("bom", [b"", jsondoc.BOM])
def test_a_large_document_of_many_lines_is_not_read_on_past_its_head(
    monkeypatch: pytest.MonkeyPatch, bom: bytes
) -> None:
    """Its first line ends in the head: nothing more is read to tell JSON Lines, and the
    scan stops at its record array (memory stays flat); a byte order mark changes neither."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)
    data = bom + json.dumps({"service": "s", "spans": list(range(300_000))}, indent=2).encode()
    stream = io.BytesIO(data)
    doc = read_document(stream)
    assert doc.array_key == "spans" and doc.lines is None
    assert stream.tell() < 200_000 < len(data)


def test_past_a_first_line_that_fills_the_head_only_what_shows_the_second_line_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    data = b'{"a": 1}\n' + b" \n" * 10 + b'{"a": 2}\n' * 100_000  # 900 KB of lines after the blank ones
    stream = io.BytesIO(data)
    doc = read_document(stream)
    assert stream.tell() < len(data) // 2  # memory stays flat: the rest is read line by line
    assert doc.lines is not None and doc.lines.read() == data


def test_a_document_exactly_as_long_as_the_limit_is_decoded_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"big": 99999999999999999999999, "spans": [1]}'  # streamed, its integer could not be read
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", len(data))
    doc, items = _read(data)
    assert (doc.header, items) == ({"big": 99999999999999999999999}, [1])


def _outcome(data: bytes, wanted: Any = None) -> Any:
    try:
        doc = read_document(io.BytesIO(data), None, wanted)
        return doc.header, doc.keys, doc.array_key, list(doc.items)
    except DocumentError as exc:
        return str(exc)


@pytest.mark.parametrize(
    ("data", "told"),
    [
        (b'{"a": {"b": [1, {"c": [2]}], "d": {}}, "x": 1.5, "y": "z", "n": null, "spans": [{"i": 1}, {"i": 2}]}', True),
        (b'{"x": [1, [2, [3]]], "y": 2, "z": {"w": {"v": 1}}, "last": true}', True),
        (b'{"a": 1, "a": 2, "logs": [], "logs": [3]}', True),
        (b'{"v": 1, "logs": {"a": 1}, "w": 2}', False),
        (b'{"v": 1, "logs": "x"}', False),
        (b"[1, 2, 3]", False),
        (b'{"a": "\xff"}', False),
        (b'{"a": tru}', False),
        (b'{"logs": [1, 2', False),
    ],
)
def test_a_refused_document_is_its_top_level_without_records(data: bytes, told: bool) -> None:
    """What ``wanted`` refuses comes with the header, keys and record array the whole
    decode finds, and no items; what it takes, or cannot be told by its top level, is
    read as without it (the same records, the same reason)."""
    seen: list[Any] = []
    refused = _outcome(data, lambda doc: seen.append((doc.header, doc.keys, doc.array_key)) and False)
    whole = _outcome(data)
    if told:
        assert refused == (*seen[-1], []) and whole[:3] == seen[-1]
    else:  # asked at most about its first array's key, from its start
        assert refused == whole and all(s == ({}, [s[2]], s[2]) for s in seen)
    assert _outcome(data, lambda doc: True) == whole


@pytest.mark.parametrize(
    "data",
    [
        b'{"version": 1, "service": "s", "logCount": 2, "logs": [{"i": 1}, {"i": 2}]}',
        b'{"version": 1, "meta": {"a": 1}, "logs": [{"i": 1}]}',  # an object first: the start does not tell
        b'{"version": 1, "logs": [{"i": 1}, {"i": 2',  # cut
    ],
)
def test_a_document_whose_first_array_is_wanted_is_asked_by_that_key_and_read_as_without_wanted(data: bytes) -> None:
    """A document whose first array (after its header's short values) is a record array
    ``wanted`` takes is decoded whole at once: ``wanted`` is asked about that key alone
    (a document of that key and no header), and the document is read as it is without
    ``wanted``."""
    asked: list[Any] = []
    got = _outcome(data, lambda doc: asked.append((doc.header, doc.keys, doc.array_key)) or doc.array_key == "logs")
    assert got == _outcome(data)
    if b'"meta"' in data:
        assert asked == [({"version": 1}, ["version", "meta", "logs"], "logs")]  # the peek's whole top level
    else:
        assert asked == [({}, ["logs"], "logs")]


def test_a_later_record_array_of_higher_rank_is_asked_about_again() -> None:
    """Its first array is wanted, but the whole decode finds one of higher rank further
    on (spans before logs): that document is asked about, and refused comes without
    records, as when the peek told it."""
    data = b'{"v": 1, "logs": [{"i": 1}], "spans": [{"i": 2}]}'
    asked: list[Any] = []
    got = _outcome(data, lambda doc: asked.append((doc.header, doc.keys, doc.array_key)) or doc.array_key == "logs")
    assert got == ({"v": 1}, ["v", "logs", "spans"], "spans", [])
    assert asked == [({}, ["logs"], "logs"), ({"v": 1}, ["v", "logs", "spans"], "spans")]
    assert _outcome(data, lambda doc: True) == _outcome(data) == ({"v": 1}, ["v", "logs", "spans"], "spans", [{"i": 2}])


@pytest.mark.parametrize("newline_at", [-2, -1, 0, 1])
def test_discovery_and_the_reader_tell_a_long_first_line_alike(
    monkeypatch: pytest.MonkeyPatch, newline_at: int
) -> None:
    """The first line's break at FIRST_LINE_BYTES (and a byte either side): discovery
    (reading on from its sniff) and the reader (from a whole document's head) stop at
    the same byte, so a file is JSON Lines to both or to neither."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1000)
    monkeypatch.setattr(jsondoc, "FIRST_LINE_BYTES", 5000)
    line = b'{"resourceSpans": [], "x": "' + b"y" * (5000 + newline_at - 30) + b'"}'
    data = line + b"\n" + b'{"resourceSpans": []}\n'
    assert data.index(b"\n") == 5000 + newline_at
    told = jsondoc.starts_json_lines(io.BytesIO(data), 300)
    assert told is (read_document(io.BytesIO(data)).lines is not None)
    assert told is (newline_at <= 0)


def test_a_first_line_ending_in_white_space_json_does_not_allow_is_not_json_lines() -> None:
    """A form feed before the line break: ASCII white space, not JSON's (as before the
    first line was searched for rather than stripped)."""
    assert not is_json_lines(b'{"resourceLogs": []}\x0c\n{"resourceLogs": []}\n')
    assert is_json_lines(b'\x0c {"resourceLogs": []} \r\n{"resourceLogs": []}\n')


@pytest.mark.parametrize("cut_in", ["the header", "the records"])
def test_a_streamed_document_cut_short_says_it_was_cut_at_its_last_byte(
    cut_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The position of the cut is the number of bytes the document had, wherever the scan
    or the records were when it ended (the caller adds where the JSON text started). The
    head read first (here 100 KB) is handed to the parser in several reads too."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED if cut_in == "the header" else 100_000)
    whole = b'{"service": "' + b"s" * 300 + b'", "spans": [' + b'{"a": 1}, ' * 30_000 + b'{"a": 2}]}'
    data = whole[:20] if cut_in == "the header" else whole[:-40]  # the records: read in several chunks
    with pytest.raises(jsondoc.CutDocument) as raised:
        _read(data)
    assert raised.value.at == len(data)


@pytest.mark.parametrize("data", [b'{"x": ', b'{"spans": [1, 2'])
@pytest.mark.parametrize("wanted", [None, "its array", "nothing"])
def test_a_document_cut_after_a_byte_order_mark_says_it_was_cut_at_its_last_byte(
    data: bytes, wanted: str | None
) -> None:
    """Decoded whole: the position counts the mark (the file's bytes, not the JSON text's),
    whether the run wants every signal, this document's (told by its start) or another
    (the peek cannot tell a cut document: it is decoded whole)."""
    asks = None if wanted is None else (lambda doc: wanted == "its array")
    with pytest.raises(jsondoc.CutDocument) as raised:
        list(read_document(io.BytesIO(jsondoc.BOM + data), None, asks).items)
    assert raised.value.at == len(jsondoc.BOM + data)


def test_a_streamed_header_longer_than_a_read_is_read_again_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the scan read before the record array (kept aside) is handed back in pieces no
    larger than each read asks for, however long it is."""
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", STREAMED)
    header = {f"k{i}": "v" * 1000 for i in range(300)}  # 300 KB before the array
    body = ", ".join(f'"{k}": "{v}"' for k, v in header.items())
    doc, items = _read(("{" + body + ', "spans": [{"a": 1}, {"a": 2}]}').encode())
    assert doc.header == header and items == [{"a": 1}, {"a": 2}]


@pytest.mark.parametrize("hint", [None, -1, 0, 10, 999, 1000, 1001, 10**9])
@pytest.mark.parametrize("size", [0, 1000, WHOLE_DOCUMENT_BYTES, WHOLE_DOCUMENT_BYTES + 5])
def test_a_head_is_the_same_bytes_whatever_the_size_hint(size: int, hint: int | None) -> None:
    """The input's size makes the read smaller; a wrong one (a guess: a compressed
    member's) changes nothing."""
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert read_head(io.BytesIO(data), hint) == data[: WHOLE_DOCUMENT_BYTES + 1]


@pytest.mark.parametrize(
    ("head", "key"),
    [
        (b'{"version": 1, "service": "s", "n": null, "ok": true, "logs": [', "logs"),
        (b'{"resourceSpans": [{"resource": {}}]}', "resourceSpans"),
        (b'  {"a": 1.5, "spans": []}', "spans"),
        (b'{"a": {"b": [1]}, "spans": []}', None),  # an object first: not told
        (b'{"a": 1, "b": "x"}', None),  # no array
        (b'{"a": 1, "b": "unfinished', None),  # the head ends before one
        (b"[1, 2]", None),
        (b'{"a": tru, "logs": []}', None),
        (b'{"\xff": 1, "logs": []}', None),
    ],
)
def test_the_first_array_key_is_told_by_the_start_alone(head: bytes, key: str | None) -> None:
    assert first_array_key(head) == key


def test_json_lines_are_told_alike_wherever_the_sniff_ends() -> None:
    """Discovery's sniff may end anywhere in the first line (between two tokens too): what
    it reads on is joined to it as it was in the file."""
    data = b'{"resourceSpans": [{"resource": {}, "scopeSpans": []}], "n": 1}\n{"resourceSpans": []}\n'
    for cut in range(1, data.index(b"\n") + 2):
        assert jsondoc.starts_json_lines(io.BytesIO(data), cut), cut


def test_discovery_reads_a_long_first_line_no_further_than_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its sniff, it reads on a MiB at a time up to the chunk with the line break
    (and what tells that more follows), not on to FIRST_LINE_BYTES."""
    monkeypatch.setattr(jsondoc, "FIRST_LINE_BYTES", 64 << 20)
    first = b'{"resourceSpans": [], "x": "' + b"y" * (3 << 20) + b'"}\n'
    stream = io.BytesIO(first + b'{"resourceSpans": []}\n' * 1_000_000)
    assert jsondoc.starts_json_lines(stream, 1 << 20)
    assert stream.tell() <= len(first) + (1 << 20)


@pytest.mark.parametrize("head", [b"", b"   ", b"\n\t\r "])
def test_white_space_alone_does_not_look_like_json(head: bytes) -> None:
    assert not looks_like_json(head)


class _Reads(io.BytesIO):
    """A stream that records the size of each read asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


@pytest.mark.parametrize("hint", [0, 10, 999])
def test_a_head_is_read_at_the_size_it_is_told(hint: int) -> None:
    """A file of 1 MB is not read as if it could be 8 (the kernel would map the pages of 8)."""
    stream = _Reads(b'{"spans": []}' + b" " * max(hint - 13, 0))
    read_head(stream, hint)
    assert stream.asked[0] == hint + 1
    stream = _Reads(b'{"spans": [{"a": 1}]}')
    doc = read_document(stream, 21)
    assert stream.asked[0] == 22 and list(doc.items) == [{"a": 1}]


@pytest.mark.parametrize(
    ("head", "told"), [(b"  true", True), (b"\nfalse ", True), (b"\tnull", True), (b"  nope", False)]
)
def test_a_word_after_white_space_looks_like_json_only_when_it_is_one_of_json(head: bytes, told: bool) -> None:
    assert looks_like_json(head) is told


@pytest.mark.parametrize("blank", [b"", b"   ", b" \n\n \t\r\n"])
def test_white_space_alone_is_not_json_lines_to_discovery(blank: bytes) -> None:
    assert not jsondoc.starts_json_lines(io.BytesIO(blank * 1000), 64)


class _Taken(io.RawIOBase):
    """A file's bytes, counting what is taken from it."""

    def __init__(self, data: bytes) -> None:
        self._data, self.taken = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        chunk = self._data[self.taken : self.taken + len(buf)]
        buf[: len(chunk)] = chunk
        self.taken += len(chunk)
        return len(chunk)


def test_a_span_document_not_wanted_is_not_read_past_its_start() -> None:
    """Its first array is ``spans``, which no later array outranks: a run without spans
    peeks at its start and reads no more (cut, invalid, it is not its business); wanted,
    it is read whole in one read, its start not taken twice."""
    body = b'{\n  "version": 1,\n  "service": "codemachine",\n  "spans": [\n' + b'{"name": "s"},' * 100_000
    raw = _Taken(body)  # cut: no end
    doc = read_document(io.BufferedReader(raw, 8192), len(body), lambda d: d.array_key != "spans")
    assert (doc.array_key, doc.keys, list(doc.items)) == ("spans", ["spans"], [])
    assert raw.taken == 8192  # one buffer's worth
    whole = body[: body.rindex(b",")] + b"]}"
    wanted = read_document(io.BufferedReader(_Taken(whole), 8192), len(whole), lambda d: True)
    assert sum(1 for _ in wanted.items) == 100_000
    with pytest.raises(DocumentError):  # a stream that cannot peek is read as ever: its cut is found
        list(read_document(_Reads(body), len(body), lambda d: d.array_key != "spans").items)


@pytest.mark.parametrize(
    ("start", "first"),
    [
        (b'{\n  "version": 1,\n  "spans": [\n', True),  # as the exporter writes it
        (b'\n  {\n "service": "x",\n  "spans": [{"name": "s"}]}', True),
        (b'{"version": 1, "spans": [', False),  # its first line does not end here: JSON Lines?
        (b'{"spans": [' + b'{"name": "s"},' * 400, False),  # a first line longer than the start
        (b'{"spans": []}\n', False),  # nothing follows its first line here
        (b'{\n"logs": [], "spans": []}', False),  # spans would outrank logs: only the whole tells
        (b'{\n"resource": {"a": 1}, "spans": []}', False),  # an object first: not a CodeMachine header
        (b'\xef\xbb\xbf{\n"spans": []}', False),  # its note is said: read as ever
        (b'{"spans": []}\n{"spans": []}\n', False),  # JSON Lines: each line is read
    ],
)
def test_a_span_document_is_told_by_its_first_array(start: bytes, first: bool) -> None:
    assert spans_first(start) is first


def test_json_lines_whose_first_line_is_long_and_has_spans_are_read_line_by_line(tmp_path: Path) -> None:
    """A first line longer than what is peeked at cannot tell a span document from JSON
    Lines: in a run without spans the file is read as ever, and its log lines replayed."""
    spans = {"spans": [{"name": "s" * 50, "traceId": "a" * 32, "spanId": "b" * 16}] * 100}
    lines = [json.dumps(spans)] + [json.dumps(to_otlp_json(logs_request()))] * 2  # four records a line
    path = tmp_path / "dump.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert len(lines[0]) > jsondoc.START_BYTES
    _, summary = replay_json(str(path), "--logs-only", "--dry-run")
    assert summary["signals"]["logs"]["read"] == 8, problem_lines(summary)
