"""Bug reports as people pack them (issue 21): what Finder, Explorer, version control and
package managers leave beside the telemetry is skipped without being read, counted as
ignored, and never a problem; --include and --exclude choose otherwise. Each packing
of the example folder replays exactly what the plain folder does."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.sources.discover import InputFile, SkippedFile, Walk, discover
from otel_replay.sources.names import NameRules
from tests.helpers import EXAMPLE
from tests.test_archives import counts, example_members, zip_bytes


def apple_double(name: str) -> bytes:
    """An AppleDouble file as Finder's "Compress" writes it for ``name``: the header
    (magic 0x00051607, version 2, "Mac OS X" filler), a Finder Info entry with an
    extended-attributes block, and a resource fork entry."""
    attrs = b"ATTR" + b"\x00" * 4 + struct.pack(">I", 3810) + b"com.apple.quarantine\x00" + name.encode()
    finder_info = b"\x00" * 32 + b"\x00\x00" + attrs
    body_offset = 26 + 2 * 12
    fork = b"\x00\x00\x01\x00" + b"\x00" * 252 + b"This resource fork intentionally left blank   "
    header = b"\x00\x05\x16\x07" + b"\x00\x02\x00\x00" + b"Mac OS X        " + struct.pack(">H", 2)
    entries = struct.pack(">III", 9, body_offset, len(finder_info))
    entries += struct.pack(">III", 2, body_offset + len(finder_info), len(fork))
    return header + entries + finder_info + fork


DS_STORE = b"\x00\x00\x00\x01Bud1" + b"\x00" * 2048


def finder_zip(members: dict[str, bytes]) -> bytes:
    """The zip macOS Finder's "Compress" makes of a folder: a __MACOSX/ tree with one
    AppleDouble ._name per file and folder, and the .DS_Store files."""
    out: dict[str, bytes] = {}
    folders = sorted({str(Path(n).parent) for n in members} - {"."})
    for name, data in members.items():
        out[name] = data
        parent, base = Path(name).parent, Path(name).name
        out[f"__MACOSX/{parent}/._{base}"] = apple_double(base)
    for folder in folders:
        out[f"{folder}/.DS_Store"] = DS_STORE
        out[f"__MACOSX/{Path(folder).parent}/._{Path(folder).name}".replace("/./", "/")] = apple_double(folder)
    return zip_bytes(out)


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    code, sent, problems = counts(str(EXAMPLE))
    assert code == 0 and not problems
    return sent


def _summary(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["replay", *args, "--dry-run", "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def _sent(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: (v["read"], v["sent"]) for k, v in summary["signals"].items()}


def test_a_finder_zip_replays_as_the_folder_does(tmp_path: Path, plain: dict[str, Any]) -> None:
    members = example_members()
    path = tmp_path / "traces.zip"
    path.write_bytes(finder_zip(members))
    code, summary = _summary(str(path))
    assert (code, summary["problems"], _sent(summary)) == (0, [], plain)
    folders = {str(Path(n).parent) for n in members}
    assert len(folders) == 2  # traces/ and traces/2026-11-24/: a .DS_Store and a ._ file each
    assert summary["ignored"] == {"packaging noise": len(members) + 2 * len(folders)}
    assert summary["files_ignored"] == sum(summary["ignored"].values())


def test_noise_in_a_folder_is_skipped_without_being_read(tmp_path: Path, plain: dict[str, Any]) -> None:
    root = tmp_path / "project"
    shutil.copytree(EXAMPLE, root / ".codemachine" / "traces")
    for i in range(300):  # a package manager's tree: each a JSON file that is no telemetry
        pkg = root / "node_modules" / f"pkg{i}"
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"name": f"pkg{i}", "logs": "not a list"}))
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "objects" / "x.json").write_bytes(b"\x78\x9c binary")
    (root / ".codemachine" / "traces" / ".DS_Store").write_bytes(DS_STORE)
    (root / ".codemachine" / "traces" / "._latest.json").write_bytes(apple_double("latest.json"))
    (root / ".codemachine" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    code, summary = _summary(str(root))
    assert (code, summary["problems"], _sent(summary)) == (0, [], plain)
    assert summary["ignored"] == {"packaging noise": 5}  # node_modules/ and .git/ once each, not walked


def test_verbose_names_each_file_ignored_and_why(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "traces")
    (tmp_path / "traces" / "._latest.json").write_bytes(apple_double("latest.json"))
    (tmp_path / "node_modules").mkdir()
    result = CliRunner().invoke(main, ["replay", str(tmp_path), "--dry-run", "-v"], catch_exceptions=False)
    assert result.exit_code == 0
    output = result.stdout + result.stderr
    assert f"{tmp_path}/traces/._latest.json: ignored: packaging noise (an AppleDouble ._ file" in output
    assert f"{tmp_path}/node_modules/: ignored: packaging noise (node_modules/), not walked" in output
    assert "2 ignored (2 packaging noise)" in result.stdout


def test_include_reads_what_noise_would_skip_and_exclude_skips_what_would_be_read(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "node_modules" / "traces")
    code, summary = _summary(str(tmp_path))
    assert (code, summary["signals"]["traces"]["read"]) == (1, 0)  # nothing but noise: a run that replays nothing
    code, summary = _summary(str(tmp_path), "--include", "node_modules/*")
    assert (code, summary["problems"]) == (0, []) and summary["signals"]["traces"]["read"] > 0
    code, summary = _summary(str(tmp_path), "--include", "node_modules", "--exclude", "*-metrics.json")
    assert code == 0 and summary["signals"]["metrics"]["read"] == 0 and summary["signals"]["logs"]["read"] > 0
    assert summary["ignored"]["excluded by --exclude"] == 3


@pytest.mark.parametrize(
    ("rules", "rel", "why"),
    [
        (NameRules(), "traces/a.json", None),
        (NameRules(), "traces/a.tar.gz", None),
        (NameRules(), "__MACOSX/traces/._a.json", "packaging noise (__MACOSX/)"),
        (NameRules(), "traces/._a.json", "packaging noise (an AppleDouble ._ file: macOS metadata)"),
        (NameRules(), "a\\node_modules\\b\\package.json", "packaging noise (node_modules/)"),
        (NameRules(), "traces/.DS_Store", "packaging noise (.DS_Store)"),
        (NameRules(), "notes.txt", "not a .json/.jsonl file"),
        (NameRules(include=("*.txt",)), "notes.txt", None),
        (NameRules(include=(".git/",)), ".git/x.json", None),
        (NameRules(exclude=("traces",)), "traces/a.json", "excluded by --exclude"),
        (NameRules(include=("*.json",), exclude=("a.json",)), "x/a.json", "excluded by --exclude"),
    ],
)
def test_name_rules(rules: NameRules, rel: str, why: str | None) -> None:
    assert rules.skip(rel) == why


def test_a_zip_of_50000_project_files_is_walked_without_reading_them(tmp_path: Path) -> None:
    members = {f"app/node_modules/p{i // 10}/f{i}.json": b"{}" for i in range(50_000)}
    members.update(example_members("app/.codemachine/traces/"))
    path = tmp_path / "project.zip"
    path.write_bytes(zip_bytes(members))
    found = list(discover([str(path)], walk=Walk()))
    read = [f for f in found if isinstance(f, InputFile)]
    assert len(read) == len(example_members()) and sum(isinstance(f, SkippedFile) for f in found) == 50_000


def test_the_manifest_of_a_scrubbed_copy_is_packaging_noise_not_a_problem(
    tmp_path: Path, plain: dict[str, Any]
) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "copy")
    (tmp_path / "copy" / "SCRUBBED.json").write_text(json.dumps({"rules": [], "files": {}}))
    code, summary = _summary(str(tmp_path / "copy"))
    assert (code, summary["problems"], _sent(summary)) == (0, [], plain)
    assert summary["ignored"] == {"packaging noise": 1}
