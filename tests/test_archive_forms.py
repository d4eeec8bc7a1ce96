"""More archive forms (issue 21): .tar.bz2 and .tar.xz, .7z (py7zr, within the same caps
as zip), and zips as Explorer and older tools write them (CP437 names, '\\' separators).
Each packing of the example folder replays exactly what the plain folder does."""

from __future__ import annotations

import bz2
import io
import lzma
from pathlib import Path
from typing import Any

import py7zr
import pytest

from otel_replay.model import FileProblem, SpanRecord
from otel_replay.sources.archives import ArchiveLimits
from tests.helpers import tar_bytes
from tests.test_archives import counts, example_members, zip_bytes
from tests.test_packaging import apple_double
from tests.test_sources import read_all


def sevenzip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


def legacy_zip(members: dict[str, bytes]) -> bytes:
    """A zip as Explorer's older "Send to" and DOS-era tools write it: '\\' separators,
    and names in CP437 without the UTF-8 flag (each 'é' below is byte 0x82)."""
    placeholder = {name.replace("/", "\\").replace("traces", "Trac~s"): data for name, data in members.items()}
    data = zip_bytes(placeholder)
    return data.replace(b"Trac~s", "Tracés".encode("cp437"))


@pytest.fixture(scope="module")
def plain() -> tuple[int, dict[str, Any], list[str]]:
    return counts(str(Path(__file__).resolve().parent.parent / "examples" / "codemachine"))


PACKINGS = {
    "report.tar.bz2": lambda m: tar_bytes(m, "w:bz2"),
    "report.tar.xz": lambda m: tar_bytes(m, "w:xz"),
    "report.7z": sevenzip_bytes,
    "report.zip": legacy_zip,
    "report.bin": lambda m: sevenzip_bytes({"inner.tar.xz": tar_bytes(m, "w:xz")}),  # by content, not by name
}


@pytest.mark.parametrize("name", PACKINGS)
def test_each_packing_replays_as_the_folder_does(tmp_path: Path, plain: Any, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(PACKINGS[name](example_members()))
    assert plain[0] == 0 and plain[2] == []
    assert counts(str(path)) == plain


def test_a_folder_of_7z_and_xz_reports_is_read(tmp_path: Path, plain: Any) -> None:
    (tmp_path / "a.7z").write_bytes(sevenzip_bytes(example_members()))
    (tmp_path / "b.tar.xz").write_bytes(tar_bytes(example_members(), "w:xz"))  # the same report twice
    code, sent, problems = counts(str(tmp_path))
    assert (code, problems) == (0, [])
    assert {k: v[1] for k, v in sent.items()} == {k: v[1] for k, v in plain[1].items()}  # copies sent once


def test_a_legacy_zip_names_its_members_as_written(tmp_path: Path) -> None:
    members = {"traces/2026-11-24/a.json": b'{"spans": []}', "__MACOSX/traces/._a.json": apple_double("a.json")}
    path = tmp_path / "r.zip"
    path.write_bytes(legacy_zip(members))
    items = read_all(path)
    assert not [i for i in items if isinstance(i, FileProblem)]
    names = [getattr(i, "name", None) for i in items]
    assert f"{path}!Tracés\\2026-11-24\\a.json" in names  # CP437 decoded
    assert f"{path}!__MACOSX\\Tracés\\._a.json" in names  # skipped as noise, not read


@pytest.mark.parametrize(("suffix", "compress"), [(".json.xz", lzma.compress), (".json.bz2", bz2.compress)])
def test_a_compressed_document_is_read(tmp_path: Path, suffix: str, compress: Any) -> None:
    doc = (Path(__file__).resolve().parent.parent / "examples" / "codemachine" / "latest.json").read_bytes()
    (tmp_path / f"t{suffix}").write_bytes(compress(doc))
    spans = [i for i in read_all(tmp_path) if isinstance(i, SpanRecord)]
    assert len(spans) > 0


def test_7z_within_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "r.7z"
    path.write_bytes(sevenzip_bytes({"a.json": b'{"spans": []}' + b" " * 60_000, "b.json": b'{"spans": []}'}))
    problems = [i for i in read_all(path, limits=ArchiveLimits(max_bytes=50_000)) if isinstance(i, FileProblem)]
    assert [(p.source, p.reason) for p in problems] == [
        (str(path), "refused: expands beyond --max-archive-bytes (50000 bytes); the rest is not read")
    ]


def test_7z_decompression_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    path = tmp_path / "bomb.7z"
    path.write_bytes(sevenzip_bytes({"bomb.json": b"{" + b" " * 40_000_000 + b"}"}))
    problems = [i for i in read_all(path, limits=ArchiveLimits(max_ratio=100, ratio_floor=256 * 1024))]
    problems = [p for p in problems if isinstance(p, FileProblem)]
    assert len(problems) == 1 and "looks like a decompression bomb" in problems[0].reason


def test_7z_member_count_cap(tmp_path: Path) -> None:
    path = tmp_path / "r.7z"
    path.write_bytes(sevenzip_bytes({f"{i}.json": b"{}" for i in range(5)}))
    problems = [i for i in read_all(path, limits=ArchiveLimits(max_members=3)) if isinstance(i, FileProblem)]
    assert [p.reason for p in problems] == ["refused: holds more than 3 archive members; the rest is not read"]


def test_a_damaged_7z_is_one_problem(tmp_path: Path) -> None:
    data = sevenzip_bytes({"a.json": b'{"spans": []}' * 1000})
    path = tmp_path / "r.7z"
    path.write_bytes(data[: len(data) // 2])
    problems = [i for i in read_all(path) if isinstance(i, FileProblem)]
    assert len(problems) == 1 and problems[0].source == str(path)
    assert problems[0].reason.startswith(("not a readable 7z archive", "archive is damaged"))
