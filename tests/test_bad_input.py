"""The bad-input corpus (the only one: the reader's own tests do not repeat it): one test per case.

Each case is written next to a good trace file and a good log file and replayed into the
loopback Tempo and Loki. A broken file or record gets one line naming the file (and the
record index) with the reason, the good files still arrive, the exit status is 1, and
no traceback escapes (``catch_exceptions=False`` would re-raise it). Values OTLP can carry
as they are but that the recording SDK never writes (object and mixed-array attribute
values, a BOM) are replayed and reported; values that must change to fit (integers
beyond int64, strings over the size rules) are replayed changed and reported. Either way
the exit status is 1. A null attribute value is none of these: the JS SDK writes NaN and
±Infinity that way, so it is replayed as an empty value with one hint, exit status 0.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import FileProblem
from otel_replay.sources.common import NULL_NOTICE
from otel_replay.sources.discover import ArchiveLimits, discover
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    log_doc,
    log_file,
    logs_bytes,
    problem_lines,
    replay_json,
    span_doc,
    spans_bytes,
    tar_archive,
    trace_file,
    zip_archive,
)

GOOD_SPAN_ID, BAD_SPAN_ID = "00000000000000a1", "00000000000000b1"
MB = 1_000_000


def bad_span(**fields: Any) -> bytes:
    return spans_bytes(span_doc(**{"spanId": BAD_SPAN_ID, **fields}))


def bad_log(**fields: Any) -> bytes:
    return logs_bytes(log_doc(sec=1795539601, body="bad one", **fields))


# (file content, what the problem line must say; "[0]" when a record index applies)
REFUSED: dict[str, tuple[bytes, str]] = {
    "empty file": (b"", ": empty file"),
    "truncated JSON": (spans_bytes(span_doc())[:-7], "truncated JSON"),
    "top-level array": (b"[1, 2]", "top-level JSON is an array, expected an object"),
    "top-level scalar": (b"42", "top-level JSON is a number, expected an object"),
    "top-level string": (b'"str"', "top-level JSON is a string, expected an object"),
    "spans not a list": (b'{"spans": {"a": 1}}', "'spans' is an object, expected an array"),
    "logs not a list": (b'{"logs": "nope"}', "'logs' is a string, expected an array"),
    "invalid UTF-8": (b'{"spans": [{"name": "\xff\xfe"}]}', "not valid UTF-8 text"),
    "recursion-depth bomb": (b'{"spans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "JSON nested too deeply"),
    "recursion-depth bomb at the top": (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    "recursion-depth bomb under another key": (b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    "binary junk named .json": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20,
        "not JSON text: the file starts with binary",
    ),
    "NUL bytes": (b"\x00\x01\x02binary", "not JSON text: the file starts with binary data (bytes 00 01 02 62)"),
    "plain text named .json": (
        b"hello, this is a note and not telemetry at all\n",
        "not JSON: the file starts with text 'hello, this is a note and not telemetry '…",
    ),
    "a word that is no JSON literal": (b"nothing to see", "not JSON: the file starts with text 'nothing to see'"),
    "escape codes in text": (b"\x1b[2J\x1b[31mred\n", "not JSON: the file starts with text '\\x1b[2J\\x1b[31mred\\n'"),
    "AppleDouble header": (b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X", "binary data (bytes 00 05 16 07)"),
    "a JSON document that claims to be a session by its keys": (
        b'{"version": 1, "spanCount": 3, "compilerOptions": {}}',
        "unknown document: top-level keys version, spanCount, compilerOptions",
    ),
    "trace id of wrong length": (bad_span(traceId="0af7651916cd43dd8448eb211c8031"), "[0]: invalid span: traceId"),
    "trace id not hex": (bad_span(traceId="zz" * 16), "[0]: invalid span: traceId 'zzzz"),
    "trace id all zeros": (bad_span(traceId="0" * 32), "[0]: invalid span: traceId is all zeros"),
    "span id invalid": (bad_span(spanId="12345"), "[0]: invalid span: spanId '12345' has 5 characters"),
    "missing start time": (bad_span(startTime=None), "[0]: invalid span: missing startTime"),
    "non-numeric time": (bad_span(endTime="soon"), "[0]: invalid span: endTime is a string, expected a number"),
    "end before start": (bad_span(endTime=1795539599000), "[0]: invalid span: endTime is before startTime"),
    "status code out of range": (bad_span(status={"code": 7}), "[0]: invalid span: status code 7 is not 0"),
    "event without time": (bad_span(events=[{"name": "e"}]), "[0]: invalid span: event 0 ('e') has no time"),
    "log timestamp as a number": (bad_log(timestamp=1795539601), "[0]: invalid log record: timestamp is a number"),
    "nanoseconds over 1e9": (bad_log(timestamp=[1795539601, 10**9]), "nanoseconds 1000000000 outside 0..999999999"),
    "severityNumber out of range": (bad_log(severityNumber=99), "[0]: invalid log record: severityNumber 99"),
    "log with non-hex trace.id": (
        bad_log(attributes={"trace.id": "g" * 32}),
        "[0]: invalid log record: attribute trace.id 'gggg",
    ),
}


def _setup(folder: Path, name: str, content: bytes) -> Path:
    trace_file(folder / "good.json", [span_doc(spanId=GOOD_SPAN_ID)])
    log_file(folder / "good-logs.json", [log_doc(body="good one")])
    path = folder / f"case-{name.replace(' ', '-').replace('.', '')}.json"
    path.write_bytes(content)
    return path


def _replay(folder: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> tuple[int, dict[str, Any]]:
    return replay_json(str(folder), "--otlp-endpoint", tempo.url, "--loki-url", loki.url)


@pytest.mark.parametrize("case", REFUSED, ids=REFUSED)
def test_refused_input_is_named_and_the_rest_replays(
    tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver, case: str
) -> None:
    content, expected = REFUSED[case]
    path = _setup(tmp_path, case, content)
    code, summary = _replay(tmp_path, tempo, loki)
    assert code == 1
    lines = [p for p in problem_lines(summary) if p.startswith(str(path))]
    assert len(lines) == 1, problem_lines(summary)
    assert expected in lines[0], lines[0]
    assert "\n" not in lines[0] and len(lines[0]) < 400
    assert GOOD_SPAN_ID in {s.span_id.hex() for _, _, s in tempo.spans()}
    assert "good one" in {line for _, _, line, _ in loki.entries()}
    assert BAD_SPAN_ID not in {s.span_id.hex() for _, _, s in tempo.spans()}
    assert "bad one" not in {line for _, _, line, _ in loki.entries()}


def _span(tempo: OtlpReceiver) -> Any:
    return next(s for _, _, s in tempo.spans() if s.span_id.hex() == BAD_SPAN_ID)


def _attr(span: Any, key: str) -> Any:
    return next(kv.value for kv in span.attributes if kv.key == key)


def _entry(loki: LokiReceiver) -> tuple[str, dict[str, str]]:
    return next((line, md) for _, _, line, md in loki.entries() if line != "good one")


def _changed_line(summary: dict[str, Any], path: Path) -> str:
    (line,) = [p for p in problem_lines(summary) if p.startswith(str(path))]
    assert "\n" not in line and len(line) < 400
    return line


def test_utf8_bom_is_reported_and_the_file_read(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    path = _setup(tmp_path, "bom", b"\xef\xbb\xbf" + bad_span())
    code, summary = _replay(tmp_path, tempo, loki)
    assert code == 1 and _span(tempo).name == "op"
    assert "byte order mark" in _changed_line(summary, path)


def test_null_attribute_is_an_empty_value_and_one_hint(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    # The JS SDK keeps NaN and ±Infinity; JSON.stringify writes them as null: normal data.
    spans = [
        span_doc(spanId=BAD_SPAN_ID, attributes={"a": None, "ratio": [0.5, None]}),
        span_doc(spanId="00000000000000c1", events=[{"name": "e", "time": 1795539600050.5, "attributes": {"x": None}}]),
    ]
    _setup(tmp_path, "null", spans_bytes(*spans))
    trace_file(tmp_path / "latest.json", spans)  # a second file with the same nulls: still one hint
    code, summary = _replay(tmp_path, tempo, loki)
    assert code == 0 and problem_lines(summary) == [] and summary["signals"]["traces"]["adjusted"] == 0
    assert _attr(_span(tempo), "a").WhichOneof("value") is None
    assert [v.WhichOneof("value") for v in _attr(_span(tempo), "ratio").array_value.values] == ["double_value", None]
    assert summary["hints"] == [NULL_NOTICE]
    assert summary["signals"]["traces"]["sent"] == 3 and summary["signals"]["traces"]["duplicates"] == 2


def test_nested_object_attribute_is_a_kvlist(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    path = _setup(tmp_path, "nested", bad_span(attributes={"a": {"b": {"c": 1}}}))
    code, summary = _replay(tmp_path, tempo, loki)
    inner = _attr(_span(tempo), "a").kvlist_value.values[0]
    assert code == 1 and inner.key == "b" and inner.value.kvlist_value.values[0].value.int_value == 1
    assert "attributes 'a': object sent as a key-value list" in _changed_line(summary, path)


def test_mixed_array_attribute_keeps_each_type(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    path = _setup(tmp_path, "mixed", bad_span(attributes={"a": [1, "x", True, 2.5], "ok": [1, 2.5, None]}))
    code, summary = _replay(tmp_path, tempo, loki)
    values = _attr(_span(tempo), "a").array_value.values
    assert code == 1 and [v.WhichOneof("value") for v in values] == [
        "int_value", "string_value", "bool_value", "double_value"
    ]  # fmt: skip
    line = _changed_line(summary, path)
    assert "attributes 'a': array of mixed types" in line and "'ok'" not in line


def test_1mb_span_attribute_is_cut_with_a_marker(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    path = _setup(tmp_path, "big", bad_span(attributes={"a": "é" * MB, "b": "x" * 64_000}))
    code, summary = _replay(tmp_path, tempo, loki)
    value = _attr(_span(tempo), "a").string_value
    assert code == 1 and len(value.encode()) <= 256_000 and value.endswith("bytes truncated]")
    assert len(_attr(_span(tempo), "b").string_value) == 64_000
    assert "attributes 'a': string of 2000000 bytes cut to 256000" in _changed_line(summary, path)


def test_integer_beyond_int64_is_sent_as_a_string_and_reported(
    tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver
) -> None:
    path = _setup(tmp_path, "huge-int", bad_span(attributes={"a": 2**80}))
    code, summary = _replay(tmp_path, tempo, loki)
    assert code == 1 and _attr(_span(tempo), "a").string_value == str(2**80)
    assert summary["signals"]["traces"]["adjusted"] == 1
    (line,) = [p for p in problem_lines(summary) if p.startswith(str(path))]
    assert "[0]: span changed to fit: attributes 'a': integer beyond 64 bits" in line


def test_null_body_is_an_empty_line_and_reported(tmp_path: Path, loki: LokiReceiver) -> None:
    path = tmp_path / "in" / "null-logs.json"
    log_file(path, [log_doc(sec=1795539601, body=None)])
    code, summary = replay_json(str(tmp_path / "in"), "--loki-url", loki.url, "--logs-only")
    assert code == 1 and [line for _, _, line, _ in loki.entries()] == [""]
    assert "[0]: log record changed to fit: body is null" in _changed_line(summary, path)


def test_object_body_is_its_json_text(tmp_path: Path, loki: LokiReceiver) -> None:
    # CodeMachine writes object bodies routinely (the format allows any JSON): not a problem.
    log_file(tmp_path / "in" / "obj-logs.json", [log_doc(sec=1795539602, body={"k": [1, 2]})])
    code, summary = replay_json(str(tmp_path / "in"), "--loki-url", loki.url, "--logs-only")
    assert code == 0 and problem_lines(summary) == []
    assert [line for _, _, line, _ in loki.entries()] == ['{"k":[1,2]}']


def test_1mb_log_line_is_cut_with_a_marker(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    path = _setup(tmp_path, "long-line", logs_bytes(log_doc(sec=1795539601, body="é" * MB)))
    code, summary = _replay(tmp_path, tempo, loki)
    line, _ = _entry(loki)
    assert code == 1 and len(line.encode()) <= 262_144
    assert line.startswith("éé") and line.endswith("bytes truncated]")
    assert loki.answers and set(loki.answers) == {204}  # never a 400 from Loki
    (problem,) = [p for p in problem_lines(summary) if p.startswith(str(path))]
    assert "line of 2000000 bytes cut to --loki-max-line-bytes (262144)" in problem


def test_1mb_log_attribute_fits_structured_metadata(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    _setup(tmp_path, "long-attr", logs_bytes(log_doc(sec=1795539601, body="bad one", attributes={"big": "y" * MB})))
    code, summary = _replay(tmp_path, tempo, loki)
    _, md = _entry(loki)
    assert code == 1 and md["big"].endswith("bytes truncated]") and len(md["big"]) < 65_536
    assert set(loki.answers) == {204}
    assert summary["signals"]["logs"]["adjusted"] == 1


# -- archives ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("member", "why"), [("../evil.json", "'..' in archive path"), ("/etc/x.json", "absolute")])
def test_archive_members_outside_the_archive_are_refused(tmp_path: Path, member: str, why: str) -> None:
    good = spans_bytes(span_doc(spanId=GOOD_SPAN_ID))
    path = zip_archive(tmp_path / "report.zip", {member: bad_span(), "ok/good.json": good})
    code, summary = replay_json(str(path), "--dry-run")
    assert code == 1 and summary["signals"]["traces"]["sent"] == 1
    (line,) = problem_lines(summary)
    assert line.startswith(f"{path}!{member}: refused: ") and why in line


def test_archive_beyond_max_archive_bytes_is_stopped(tmp_path: Path) -> None:
    small = spans_bytes(span_doc(spanId=GOOD_SPAN_ID))
    big = spans_bytes(*[span_doc(spanId=f"{i + 1:016x}", attributes={"pad": "z" * 1000}) for i in range(2000)])
    path = zip_archive(tmp_path / "report.zip", {"a/first.json": small, "b/second.json": big})
    code, summary = replay_json(str(path), "--dry-run", "--max-archive-bytes", "1MiB")
    assert code == 1 and summary["signals"]["traces"]["sent"] == 1  # what came before the cap is read
    (line,) = problem_lines(summary)
    assert line.startswith(f"{path}: refused: expands beyond --max-archive-bytes (1048576 bytes)")


def test_zip_bomb_member_is_refused_by_ratio(tmp_path: Path) -> None:
    bomb = b'{"spans": [' + b" " * (40 * MB) + b"]}"  # bzip2 squeezes this ~100000:1
    path = zip_archive(tmp_path / "bomb.zip", {"bomb.json": bomb}, zipfile.ZIP_BZIP2)
    assert path.stat().st_size < 40 * MB // 1000
    code, summary = replay_json(str(path), "--dry-run")
    assert code == 1
    (line,) = problem_lines(summary)
    assert line.startswith(f"{path}: refused: expands more than 1000 times over")
    assert "decompression bomb" in line


def test_tar_gz_bomb_is_stopped_by_ratio(tmp_path: Path) -> None:
    data = b" " * (2 * MB)
    path = tar_archive(tmp_path / "bomb.tar.gz", {f"f{i}.json": data for i in range(3)}, compresslevel=9)
    small_floor = ArchiveLimits(max_ratio=100, ratio_floor=256 * 1024)
    items = list(discover([str(path)], limits=small_floor))
    assert [type(i).__name__ for i in items][-1] == "FileProblem"
    assert "decompression bomb" in items[-1].reason  # type: ignore[union-attr]
    # under the default floor (16 MiB) so small an archive is read, whatever its ratio
    assert not [i for i in discover([str(path)], limits=ArchiveLimits(max_ratio=100)) if isinstance(i, FileProblem)]


def test_a_span_document_is_not_read_in_a_run_without_spans(tmp_path: Path, loki: LokiReceiver) -> None:
    """Told a span document by its start, it is not read on: cut or invalid past it, it is
    counted as a file not selected, not as a problem of a run that replays logs only.
    With spans asked for, its cut is said."""
    spans = spans_bytes(span_doc(), span_doc(spanId=GOOD_SPAN_ID))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "17-00-00.json").write_bytes(spans[: len(spans) // 2])
    log_file(tmp_path / "in" / "17-00-00-logs.json", [log_doc(sec=1795539601, body="kept")])
    code, summary = replay_json(str(tmp_path / "in"), "--loki-url", loki.url, "--logs-only")
    assert code == 0 and problem_lines(summary) == []
    assert summary["signals"]["traces"]["files_not_selected"] == 1
    assert [line for _, _, line, _ in loki.entries()] == ["kept"]
    code, summary = replay_json(str(tmp_path / "in"), "--loki-url", loki.url, "--dry-run")
    assert code == 1 and any("17-00-00.json: truncated JSON" in p for p in problem_lines(summary))
