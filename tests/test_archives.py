"""Archives as bug reports come: a folder of report archives, archives inside archives,
every one read within the same caps (size, members, ratio, nesting depth)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import FileProblem, SpanRecord
from otel_replay.sources.archives import ArchiveLimits
from otel_replay.sources.discover import InputFile, discover
from tests.helpers import EXAMPLE, replay_json, span_doc, spans_bytes, tar_bytes, zip_archive
from tests.test_sources import read_all


def example_members(prefix: str = "traces/") -> dict[str, bytes]:
    return {prefix + p.relative_to(EXAMPLE).as_posix(): p.read_bytes() for p in sorted(EXAMPLE.rglob("*.json"))}


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def counts(*args: str) -> tuple[int, dict[str, Any], list[str]]:
    code, summary = replay_json(*args, "--dry-run")
    return code, {k: (v["read"], v["sent"]) for k, v in summary["signals"].items()}, summary["problems"]


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    code, sent, problems = counts(str(EXAMPLE))
    assert code == 0 and not problems and sent["traces"][1] > 0 and sent["logs"][1] > 0
    return sent


def _span(n: int) -> bytes:
    return spans_bytes(span_doc(spanId=f"{n:016x}"))


def test_a_folder_of_report_archives_is_read(tmp_path: Path, plain: dict[str, Any]) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "alice.zip").write_bytes(zip_bytes(example_members()))
    (folder / "bob.tar.gz").write_bytes(tar_bytes({"traces/x.json": _span(7)}, "w:gz"))
    code, sent, problems = counts(str(folder))
    assert (code, problems) == (0, [])
    assert sent["traces"] == (plain["traces"][0] + 1, plain["traces"][1] + 1)
    assert {k: v for k, v in sent.items() if k != "traces"} == {k: v for k, v in plain.items() if k != "traces"}


@pytest.mark.parametrize(
    "outer",
    [
        lambda inner: zip_bytes({"reports/report.zip": inner["zip"]}),
        lambda inner: zip_bytes({"reports/report.tar.gz": inner["tgz"]}),
        lambda inner: tar_bytes({"report.zip": inner["zip"]}, "w:gz"),
        lambda inner: tar_bytes({"report.tar.gz": inner["tgz"]}, "w"),
    ],
    ids=["zip-in-zip", "tgz-in-zip", "zip-in-tgz", "tgz-in-tar"],
)
def test_an_archive_inside_an_archive_is_read(tmp_path: Path, plain: dict[str, Any], outer: Any) -> None:
    members = example_members()
    path = tmp_path / "bundle.bin"
    path.write_bytes(outer({"zip": zip_bytes(members), "tgz": tar_bytes(members, "w:gz")}))
    assert counts(str(path)) == (0, plain, [])


def test_an_archive_inside_an_archive_on_stdin_is_read(plain: dict[str, Any]) -> None:
    data = zip_bytes({"report.zip": zip_bytes(example_members())})
    code, summary = replay_json("-", "--dry-run", input=data)
    assert code == 0 and summary["problems"] == []
    assert {k: (v["read"], v["sent"]) for k, v in summary["signals"].items()} == plain


def _nest(data: bytes, levels: int) -> bytes:
    for _ in range(levels):
        data = zip_bytes({"inner.zip": data})
    return data


def _spans(items: list[object]) -> list[SpanRecord]:
    return [i for i in items if isinstance(i, SpanRecord)]


def test_nesting_is_followed_down_to_the_depth_bound_and_no_further(tmp_path: Path) -> None:
    limits = ArchiveLimits(max_depth=3)
    ok = tmp_path / "ok.zip"
    ok.write_bytes(_nest(zip_bytes({"t.json": _span(1)}), 2))  # three archives deep
    items = read_all(ok, limits=limits)
    assert len(_spans(items)) == 1 and not [i for i in items if isinstance(i, FileProblem)]
    deep = tmp_path / "deep.zip"
    deep.write_bytes(_nest(zip_bytes({"t.json": _span(1)}), 3))  # four
    items = read_all(deep, limits=limits)
    problems = [i for i in items if isinstance(i, FileProblem)]
    assert _spans(items) == [] and len(problems) == 1
    assert problems[0].source == f"{deep}!inner.zip!inner.zip!inner.zip"
    assert problems[0].reason == "refused: an archive nested more than 3 archives deep"


def test_nested_archives_share_one_size_budget(tmp_path: Path) -> None:
    def padded(n: int) -> bytes:
        return b'{"spans": [], "pad": "' + b"x" * n + b'"}'

    inner = zip_bytes({"1.json": padded(45_000), "2.json": padded(45_000)})
    path = zip_archive(tmp_path / "r.zip", {"a.json": padded(20_000), "b.zip": inner})
    # each archive alone expands to less than 100,000 bytes; together they expand to more
    items = read_all(path, limits=ArchiveLimits(max_bytes=100_000))
    problems = [i for i in items if isinstance(i, FileProblem)]
    assert [(p.source, p.reason) for p in problems] == [
        (f"{path}!b.zip", "refused: expands beyond --max-archive-bytes (100000 bytes); the rest is not read")
    ]
    assert [i.name.rsplit("!", 1)[-1] for i in items if isinstance(i, InputFile)] == ["a.json", "1.json"]


def test_members_beyond_the_member_cap_are_refused(tmp_path: Path) -> None:
    inner = zip_bytes({f"{i}.json": _span(i + 1) for i in range(3)})
    path = zip_archive(tmp_path / "r.zip", {"a.zip": inner, "b.json": _span(9), "c.json": _span(10)})
    found = list(discover([str(path)], limits=ArchiveLimits(max_members=4)))
    read = [f.name.rsplit("!", 1)[-1] for f in found if isinstance(f, InputFile)]
    assert read == ["0.json", "1.json", "2.json"]  # a.zip and its three members make four
    problems = [f for f in found if isinstance(f, FileProblem)]
    assert [(p.source, p.reason) for p in problems] == [
        (str(path), "refused: holds more than 4 archive members; the rest is not read")
    ]


def test_a_nested_decompression_bomb_is_refused(tmp_path: Path) -> None:
    bomb = zip_bytes({"bomb.json": b"{" + b" " * 40_000_000 + b"}"})
    path = zip_archive(tmp_path / "r.zip", {"inner.zip": bomb, "ok.json": _span(1)})
    items = read_all(path, limits=ArchiveLimits(max_ratio=100, ratio_floor=256 * 1024))
    problems = [i for i in items if isinstance(i, FileProblem)]
    assert [p.source for p in problems] == [f"{path}!inner.zip"]  # the inner archive stops as a whole
    assert "looks like a decompression bomb" in problems[0].reason
    assert len(_spans(items)) == 1
