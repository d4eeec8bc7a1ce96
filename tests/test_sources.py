"""Discovery and reading: content-based classification, archives, stdin, streaming."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_replay import sources
from otel_replay.model import FileProblem, FileStart, InvalidRecord, MetricKind, MetricPoint, Signal, SpanRecord
from otel_replay.sources import jsondoc, read_input
from otel_replay.sources.discover import ArchiveLimits, InputFile, SkippedFile, discover
from tests.helpers import EXAMPLE, log_doc, log_file, span_doc, spans_bytes, tar_archive, trace_file, zip_archive


def read_all(
    path: Path | str, stdin: io.BytesIO | None = None, limits: ArchiveLimits | None = None, mapped: bool = False
) -> list[object]:
    out: list[object] = []
    for found in discover([str(path)], stdin, limits or ArchiveLimits()):
        out.append(found)
        if isinstance(found, InputFile):
            out += list(read_input(found, mapped=mapped))
    return out


def kinds(items: list[object]) -> list[str]:
    return [type(i).__name__ for i in items if not isinstance(i, InputFile)]


def test_classified_by_content_not_name(tmp_path: Path) -> None:
    trace_file(tmp_path / "looks-like-logs-logs.json", [span_doc()])
    log_file(tmp_path / "latest.json", [log_doc()])
    items = read_all(tmp_path)
    starts = {i.source.rsplit("/", 1)[-1]: i.signal.value for i in items if isinstance(i, FileStart)}
    assert starts == {"looks-like-logs-logs.json": "traces", "latest.json": "logs"}


def test_metrics_sessions_are_metrics_never_spans(tmp_path: Path) -> None:
    items = read_all(EXAMPLE / "2026-11-24" / "17-00-00-metrics.json")
    assert {type(i).__name__ for i in items} == {"InputFile", "FileStart", "MetricPoint", "Notice"}
    points = [i for i in items if isinstance(i, MetricPoint)]
    assert len(points) == 83
    # the 10 histogram points (value 0) recorded nothing: no value (counted, never sent)
    assert [p.value for p in points if p.metric.kind is MetricKind.HISTOGRAM] == [None] * 10
    assert {p.metric.kind for p in points} == {MetricKind.GAUGE, MetricKind.SUM, MetricKind.HISTOGRAM}


def test_folder_walk_is_sorted_and_skips_non_json(tmp_path: Path) -> None:
    trace_file(tmp_path / "b" / "2.json", [span_doc(spanId="0000000000000002")])
    trace_file(tmp_path / "a" / "1.json", [span_doc(spanId="0000000000000001")])
    (tmp_path / "notes.txt").write_text("hi")
    found = list(discover([str(tmp_path)]))
    assert [Path(f.name).name for f in found if isinstance(f, InputFile)] == ["1.json", "2.json"]
    assert [Path(f.name).name for f in found if isinstance(f, SkippedFile)] == ["notes.txt"]


def test_latest_copies_come_after_the_dated_sessions() -> None:
    names = [f.name for f in discover([str(EXAMPLE)]) if isinstance(f, InputFile)]
    rel = [str(Path(n).relative_to(EXAMPLE)) for n in names]
    assert rel[-3:] == ["latest-logs.json", "latest-metrics.json", "latest.json"]
    assert rel[0].startswith("2026-11-24/")


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    trace_file(tmp_path / "d" / "t.json", [span_doc()])
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    names = [f.name for f in discover([str(tmp_path)]) if isinstance(f, InputFile)]
    assert len(names) == 1


@pytest.mark.parametrize("make", [zip_archive, tar_archive])
def test_archives_are_read_in_place(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    archive = make(tmp_path / "report.bin", {"traces/1.json": spans_bytes(span_doc()), "traces/readme.md": b"x"})
    items = read_all(archive)
    spans = [i for i in items if isinstance(i, SpanRecord)]
    assert len(spans) == 1 and spans[0].origin.source.endswith("report.bin!traces/1.json")
    assert any(isinstance(i, SkippedFile) for i in items)
    assert not list(tmp_path.glob("traces"))  # nothing extracted


@pytest.mark.parametrize("make", [zip_archive, tar_archive])
def test_archive_members_escaping_are_refused(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    archive = make(tmp_path / "evil", {"../escape.json": spans_bytes(span_doc()), "/abs.json": spans_bytes()})
    problems = [i for i in read_all(archive) if isinstance(i, FileProblem)]
    assert sorted(p.reason for p in problems) == ["refused: '..' in archive path", "refused: absolute path in archive"]


def test_bom_is_read_past_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + spans_bytes(span_doc()))
    assert kinds(read_all(path)) == ["FileProblem", "FileStart", "SpanRecord"]


def test_invalid_record_does_not_stop_the_file(tmp_path: Path) -> None:
    trace_file(
        tmp_path / "t.json",
        [span_doc(spanId="0000000000000001"), span_doc(traceId="zz"), span_doc(spanId="0000000000000003")],
    )
    items = read_all(tmp_path / "t.json")
    assert kinds(items) == ["FileStart", "SpanRecord", "InvalidRecord", "SpanRecord"]
    bad = next(i for i in items if isinstance(i, InvalidRecord))
    assert str(bad.origin).endswith("t.json[1]")


def test_streamed_and_whole_reading_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"big": 2**70, "i": i}) for i in range(300)]
    trace_file(tmp_path / "t.json", spans)
    whole = [i for i in read_all(tmp_path / "t.json") if isinstance(i, SpanRecord)]
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 4096)
    mapped = [i for i in read_all(tmp_path / "t.json", mapped=True) if isinstance(i, SpanRecord)]
    assert mapped == whole  # a file mapped is decoded as one read whole, record by record
    windows = [i for i in read_all(tmp_path / "t.json") if isinstance(i, SpanRecord)]
    assert windows == whole  # so is one read a window of records at a time (msgspec too)
    monkeypatch.setattr(jsondoc, "windowed", lambda *args: None)
    streamed_items = read_all(tmp_path / "t.json")
    # the streaming parser cannot read integers beyond 64 bits: it says so instead of guessing
    problem = [i for i in streamed_items if isinstance(i, FileProblem)]
    assert problem and "beyond 64 bits" in problem[0].reason
    assert len(whole) == 300
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"i": i, "f": 0.5}) for i in range(300)]
    trace_file(tmp_path / "u.json", spans)
    streamed = [i for i in read_all(tmp_path / "u.json") if isinstance(i, SpanRecord)]
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 8 << 20)
    whole = [i for i in read_all(tmp_path / "u.json") if isinstance(i, SpanRecord)]
    assert [(s.span_id, s.attributes, s.start_ns) for s in streamed] == [
        (s.span_id, s.attributes, s.start_ns) for s in whole
    ]
    assert len(whole) == 300


@pytest.mark.parametrize("head_bytes", [1024, 100_000, 300_000])
def test_streaming_reads_every_record_whatever_the_first_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head_bytes: int
) -> None:
    """The first read (the size of a whole-document decode) may be larger than ijson's
    64 KiB buffer; the records it holds beyond what the header scan consumed must not be lost."""
    trace_file(tmp_path / "t.json", [span_doc(spanId=f"{i + 1:016x}", attributes={"i": i}) for i in range(4000)])
    assert (tmp_path / "t.json").stat().st_size > 3 * head_bytes
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", head_bytes)
    items = read_all(tmp_path / "t.json")
    assert not [i for i in items if isinstance(i, FileProblem)]
    assert [i.attributes["i"] for i in items if isinstance(i, SpanRecord)] == list(range(4000))


def test_streamed_truncation_keeps_records_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 1024)
    data = spans_bytes(*[span_doc(spanId=f"{i + 1:016x}") for i in range(50)])
    (tmp_path / "t.json").write_bytes(data[: len(data) // 2])
    items = read_all(tmp_path / "t.json")
    assert 0 < sum(isinstance(i, SpanRecord) for i in items) < 50
    assert any(isinstance(i, FileProblem) and "truncated" in i.reason for i in items)


def test_logs_read_from_stdin_stream() -> None:
    data = json.dumps({"version": 1, "logs": [log_doc()]}).encode()
    assert kinds(read_all("-", io.BytesIO(data))) == ["FileStart", "LogRecord"]


def test_targz_on_stdin(tmp_path: Path) -> None:
    archive = tar_archive(tmp_path / "r.tgz", {"a.json": spans_bytes(span_doc())})
    assert kinds(read_all("-", io.BytesIO(archive.read_bytes()))) == ["FileStart", "SpanRecord"]


_SESSIONS = {
    "spans": span_doc(),
    "logs": log_doc(),
    "metrics": {"scopeMetrics": [{"metrics": [{"name": "g", "type": "2", "dataPoints": [
        {"value": 1, "startTime": "2026-11-24T17:00:00Z", "endTime": "2026-11-24T17:00:01Z"}]}]}]},
}  # fmt: skip


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("service", [5, True, ["svc"], {"name": "svc"}])
@pytest.mark.parametrize("array", _SESSIONS)
def test_a_service_that_is_not_a_string_is_reported_and_the_file_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, array: str, service: object, streamed: bool
) -> None:
    if streamed:
        monkeypatch.setattr(jsondoc, "WHOLE_DOCUMENT_BYTES", 16)
    (tmp_path / "s.json").write_text(json.dumps({"version": 1, "service": service, array: [_SESSIONS[array]]}))
    items = read_all(tmp_path / "s.json")
    assert kinds(items) == [
        "FileStart",
        "FileProblem",
        {"spans": "SpanRecord", "logs": "LogRecord"}.get(array, "MetricPoint"),
    ]
    (problem,) = [i for i in items if isinstance(i, FileProblem)]
    assert problem.reason.startswith("'service' is a") and "read as service 'codemachine'" in problem.reason
    if array != "logs":  # a log record names its own resource
        record = items[-1]
        assert dict(record.resource)["service.name"] == "codemachine"  # type: ignore[attr-defined]


def test_a_histogram_point_without_a_value_is_refused_alone(tmp_path: Path) -> None:
    times = {"startTime": "2026-11-24T17:00:00Z", "endTime": "2026-11-24T17:00:01Z"}
    whole = {"count": 1, "sum": 2.5, "buckets": {"boundaries": [10], "counts": [1, 0]}}
    metric = {"name": "h", "type": "0", "dataPoints": [{"value": None, **times}, {"value": whole, **times}]}
    broken = {"resource": {"attributes": ["host.name"]}, "scopeMetrics": [{"metrics": [metric]}]}
    doc = {"type": "metrics", "metrics": [{"scopeMetrics": [{"metrics": [metric]}]}, broken]}
    (tmp_path / "m.json").write_text(json.dumps(doc))
    items = read_all(tmp_path / "m.json")
    assert kinds(items) == ["FileStart", "InvalidRecord", "MetricPoint", "InvalidRecord"]
    first, second = (i for i in items if isinstance(i, InvalidRecord))
    assert (str(first.origin), first.reason) == (f"{tmp_path / 'm.json'}[0]", "missing value")
    assert second.reason == "export 1: resource attributes is an array, expected an object; not read"
    point = next(i for i in items if isinstance(i, MetricPoint))
    assert point.metric.kind is MetricKind.HISTOGRAM and point.value.count == 1  # type: ignore[union-attr]


def test_an_exception_a_reader_lets_out_is_one_problem_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth (tests/test_wrong_types.py shows no input gets there): the records
    before it are kept and the run goes on with the next file."""
    real = sources.read_codemachine

    def broken(
        doc: jsondoc.Document, source: str, signal: Signal, stride: object = None, plain: object = None
    ) -> Iterator[object]:
        items = real(doc, source, signal, stride, plain)  # type: ignore[arg-type]
        yield next(items)  # FileStart
        yield next(items)  # the first span
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(sources, "read_codemachine", broken)
    trace_file(tmp_path / "t.json", [span_doc(spanId=f"{i + 1:016x}") for i in range(3)])
    items = read_all(tmp_path / "t.json")
    assert kinds(items) == ["FileStart", "SpanRecord", "FileProblem"]
    assert items[-1].reason == f"{sources.INTERNAL_ERROR} (ValueError: boom); please report it"  # type: ignore[attr-defined]
