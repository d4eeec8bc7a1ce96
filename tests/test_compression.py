"""Compressed input: gzip and zstandard, single documents and tar archives, recognised by
their magic bytes (never by name), decompressed as they are read, bombs stopped."""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from otel_replay.model import FileProblem, SpanRecord
from otel_replay.sources.discover import ArchiveLimits
from tests.helpers import span_doc, tar_bytes, trace_file
from tests.test_sources import read_all

SMALL_FLOOR = ArchiveLimits(max_ratio=100, ratio_floor=256 * 1024)
Compress = Callable[[bytes], bytes]
CODECS: dict[str, Compress] = {
    "gzip": lambda data: gzip.compress(data),
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _spans(items: list[object]) -> list[int]:
    return [i.span_id for i in items if isinstance(i, SpanRecord)]


def _trace_bytes(tmp_path: Path, n: int = 3) -> bytes:
    docs = [span_doc(span_id=f"{i + 1:016x}") for i in range(n)]
    return trace_file(tmp_path / "plain.json", docs).read_bytes()


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("name", ["traces.json.gz", "traces.jsonl.zst", "no-suffix-at-all"])
def test_compressed_document_is_read_whatever_its_name(tmp_path: Path, codec: str, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(CODECS[codec](_trace_bytes(tmp_path)))
    items = read_all(path)
    assert _spans(items) == [1, 2, 3]
    assert not [i for i in items if isinstance(i, FileProblem)]


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_tar_archive_members_are_read(tmp_path: Path, codec: str) -> None:
    members = {
        f"session/{i}.json": trace_file(tmp_path / f"{i}.json", [span_doc(span_id=f"{i:016x}")]).read_bytes()
        for i in (1, 2)
    }
    path = tmp_path / "bundle.tar.x"
    path.write_bytes(CODECS[codec](tar_bytes(members)))
    assert _spans(read_all(path)) == [1, 2]


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_stdin(tmp_path: Path, codec: str) -> None:
    items = read_all("-", io.BytesIO(CODECS[codec](_trace_bytes(tmp_path))))
    assert _spans(items) == [1, 2, 3]


def test_several_zstd_frames_are_one_stream(tmp_path: Path) -> None:
    data = _trace_bytes(tmp_path)
    half = len(data) // 2
    c = zstandard.ZstdCompressor()
    path = tmp_path / "frames.json.zst"
    path.write_bytes(c.compress(data[:half]) + c.compress(data[half:]))
    assert _spans(read_all(path)) == [1, 2, 3]


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_compressed_file_is_one_problem(tmp_path: Path, codec: str) -> None:
    spans = [span_doc(span_id=f"{i + 1:016x}", attributes={"pad": f"{i}" * 200}) for i in range(3000)]
    data = CODECS[codec](trace_file(tmp_path / "big.json", spans).read_bytes())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    problems = [i for i in read_all(path) if isinstance(i, FileProblem)]
    assert len(problems) == 1 and str(path) in problems[0].source


@pytest.mark.parametrize("codec", CODECS)
def test_decompression_bomb_is_stopped(tmp_path: Path, codec: str) -> None:
    """2 MiB of spaces (compressed ~1000:1) against a floor of 256 KiB and a ratio of 100;
    the same file under the default 16 MiB floor is read, so the floor is what stops it."""
    bomb = b'{"spans": [' + b" " * (2 * 1024 * 1024) + b"]}"
    path = tmp_path / "bomb.json.z"
    path.write_bytes(CODECS[codec](bomb))
    problems = [i for i in read_all(path, limits=SMALL_FLOOR) if isinstance(i, FileProblem)]
    assert len(problems) == 1 and "decompression bomb" in problems[0].reason
    assert "expands more than 100 times over" in problems[0].reason
    assert not [i for i in read_all(path, limits=ArchiveLimits(max_ratio=100)) if isinstance(i, FileProblem)]


@pytest.mark.parametrize("codec", CODECS)
def test_a_file_over_the_floor_that_is_no_bomb_is_read(tmp_path: Path, codec: str) -> None:
    docs = [
        span_doc(span_id=f"{i + 1:016x}", attributes={"pad": random.Random(i).randbytes(1000).hex()})
        for i in range(300)
    ]
    path = tmp_path / "t.json.z"
    path.write_bytes(CODECS[codec](trace_file(tmp_path / "plain.json", docs).read_bytes()))
    plain_bytes = (tmp_path / "plain.json").stat().st_size
    assert plain_bytes > SMALL_FLOOR.ratio_floor and path.stat().st_size * 100 > plain_bytes
    items = read_all(path, limits=SMALL_FLOOR)
    assert not [i for i in items if isinstance(i, FileProblem)] and len(_spans(items)) == 300
