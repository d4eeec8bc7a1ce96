"""An input discovery can locate is opened again on its own — in a worker process or
for a second pass — and reads exactly what discovery's own stream reads; an input that
can only be read as it goes by (a member of a compressed tar, stdin) has no location, and
is copied out once, when it must be read elsewhere or again."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from otel_replay.execute.inputs import Spool, WorkItem
from otel_replay.sources.discover import ArchiveLimits, InputFile, Walk, discover
from otel_replay.sources.streams import Location, open_location
from tests.helpers import problem_lines, replay_json, span_doc, trace_file


def _doc(tmp_path: Path, i: int, spans: int = 1) -> bytes:
    docs = [span_doc(span_id=f"{i + 1:02x}{n + 1:014x}", attributes={"n": n}) for n in range(spans)]
    return trace_file(tmp_path / "docs" / f"{i}.json", docs).read_bytes()


def _tar(tmp_path: Path, n: int = 3, spans: int = 1) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for i in range(n):
            data = _doc(tmp_path, i, spans)
            info = tarfile.TarInfo(f"session/{i}.json")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _inputs(path: Path, walk: Walk | None = None) -> list[tuple[InputFile, bytes]]:
    """Every input discovery finds, with what its own stream reads (read as it goes by)."""
    out = []
    for found in discover([str(path)], None, walk=walk):
        assert isinstance(found, InputFile), found
        with found.open() as stream:
            out.append((found, stream.read()))
    return out


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.json", _doc(tmp_path, 1), compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("b.json", _doc(tmp_path, 2), compress_type=zipfile.ZIP_STORED)
    return path


@pytest.mark.parametrize("kind", ["file", "zip", "tar", "gzip", "zstd", "parts"])
def test_a_located_input_reads_again_what_discovery_read(tmp_path: Path, kind: str) -> None:
    walk = None
    if kind == "file":
        path = tmp_path / "plain.json"
        path.write_bytes(_doc(tmp_path, 0))
    elif kind == "zip":
        path = _zip(tmp_path)
    elif kind == "tar":
        path = tmp_path / "bundle.tar"
        path.write_bytes(_tar(tmp_path))
    elif kind in ("gzip", "zstd"):
        data = _doc(tmp_path, 0)
        path = tmp_path / "doc.json.z"
        path.write_bytes(gzip.compress(data) if kind == "gzip" else zstandard.ZstdCompressor().compress(data))
    else:
        path = tmp_path / "dump.jsonl"
        path.write_bytes(b"".join(b'{"resourceSpans":[]}' + b" " * (i % 7) + b"\n" for i in range(300)))
        walk = Walk(part_bytes=997)
    found = _inputs(path, walk)
    assert len(found) >= (3 if kind in ("tar", "parts") else 2 if kind == "zip" else 1)
    for item, data in found:
        assert item.location is not None, item.name
        with open_location(item.location, item.part) as stream:
            assert stream.read() == data, item.name
    compressed = {i.name.rsplit("!", 1)[-1]: i.location.compressed for i, _ in found if i.location}
    if kind == "zip":
        assert compressed == {"a.json": True, "b.json": False}  # a stored member is not decompressed again
    if kind in ("gzip", "zstd"):
        assert list(compressed.values()) == [True]


def test_members_of_a_compressed_tar_and_stdin_have_no_location(tmp_path: Path) -> None:
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(gzip.compress(_tar(tmp_path)))
    found = _inputs(path)
    assert len(found) == 3 and all(item.location is None for item, _ in found)
    stdin = list(discover(["-"], io.BytesIO(_doc(tmp_path, 0))))
    assert [f.location for f in stdin if isinstance(f, InputFile)] == [None]


def test_a_zip_is_opened_once_for_all_its_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its central directory is read once, not once per member (a zip of 10,000 members)."""
    path = _zip(tmp_path)
    opened: list[str] = []

    class Counted(zipfile.ZipFile):
        def __init__(self, file: str) -> None:
            opened.append(file)
            super().__init__(file)

    monkeypatch.setattr(zipfile, "ZipFile", Counted)
    for name in ("a.json", "b.json", "a.json"):
        with open_location(Location(str(path), name)) as stream:
            assert stream.read()
    assert opened == [str(path)]


# -- copied out once: what can only be read as it goes by ------------------------------------
def _bundle(tmp_path: Path, cut: bool = False) -> Path:
    data = gzip.compress(_tar(tmp_path, 3, spans=300 if cut else 1))
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(data[: len(data) * 2 // 3] if cut else data)
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_damaged_archive_read_twice_reports_what_it_reports_read_once(tmp_path: Path, workers: str) -> None:
    """--shift-to-now copies a compressed tar's members out once, and what reading one
    raised is raised again when its copy is read: the same records, the same problems."""
    path = _bundle(tmp_path, cut=True)
    once = replay_json(str(path), "--dry-run", "--workers", workers)
    twice = replay_json(str(path), "--dry-run", "--workers", workers, "--shift-to-now")
    assert once[0] == twice[0] == 1
    for key in ("files_read", "problems", "problem_count"):
        assert once[1][key] == twice[1][key], key
    assert once[1]["signals"]["traces"]["sent"] == twice[1]["signals"]["traces"]["sent"] >= 300
    assert any("cannot read" in p for p in problem_lines(twice[1])), problem_lines(twice[1])


def test_copies_go_with_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    for workers in ("1", "2"):
        code, summary = replay_json(str(_bundle(tmp_path)), "--dry-run", "--shift-to-now", "--workers", workers)
        assert code == 0 and summary["signals"]["traces"]["sent"] == 3
        assert list(temp.iterdir()) == []


def test_a_copy_is_bounded_by_max_archive_bytes(tmp_path: Path) -> None:
    """stdin is read twice for --shift-to-now from a copy of at most --max-archive-bytes."""
    spans = [span_doc(span_id=f"{i + 1:016x}", attributes={"pad": "x" * 100}) for i in range(40)]
    data = trace_file(tmp_path / "big.json", spans).read_bytes()
    assert len(data) > 4096
    code, summary = replay_json("-", "--dry-run", "--shift-to-now", "--max-archive-bytes", "4KiB", input=data)
    assert code == 1
    assert any("expands beyond --max-archive-bytes (4096 bytes)" in p for p in problem_lines(summary))
    code, summary = replay_json("-", "--dry-run", "--shift-to-now", input=data)
    assert code == 0 and summary["signals"]["traces"]["sent"] == 40


def test_a_copy_is_removed_once_read_in_a_run_that_reads_once(tmp_path: Path) -> None:
    spool = Spool(ArchiveLimits(), copy_compressed=False)
    items = [i for i in spool.items(discover([str(_bundle(tmp_path))])) if isinstance(i, WorkItem)]
    assert len(items) == 3 and all(i.spooled for i in items)
    with items[0].input().open() as stream:
        assert stream.read() == _doc(tmp_path, 0)
    spool.discard(items[0])
    assert not Path(items[0].location.path).exists() and Path(items[1].location.path).exists()
    spool.close()
    assert not Path(items[1].location.path).exists()
