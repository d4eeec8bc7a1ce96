"""``otel-replay scrub PATH... -o OUT``: the planted-secret fixture of the replay --scrub
tests scrubbed to a folder, a zip and a tar.gz; no planted value in any byte written;
the copy replays with the same counts and trace structure; the same salt gives the same
bytes; damaged input is reported as replay reports it; OUT is never overwritten unasked.
And ``inspect`` and ``view`` with ``--scrub`` show no planted value."""

from __future__ import annotations

import gzip
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from otel_replay.cli import main
from tests.helpers import EXAMPLE, log_doc, log_file, replay, replay_json, span_doc, trace_file
from tests.test_scrub_replay import PRESETS, codemachine_folder, found, otlp_jsonl, structure

KINDS = ("folder", "zip", "tar.gz")


def scrub(*args: str) -> Result:
    return CliRunner().invoke(main, ["scrub", *args], catch_exceptions=False)


def run(command: str, *args: str) -> Result:
    return CliRunner().invoke(main, [command, *args], catch_exceptions=False)


def out_path(tmp_path: Path, kind: str, name: str = "copy") -> Path:
    return tmp_path / (name if kind == "folder" else f"{name}.{kind}")


def members(out: Path) -> dict[str, bytes]:
    """Every file of a copy, by its path in it, as written (compressed members decompressed)."""
    if out.is_dir():
        files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    elif out.name.endswith(".zip"):
        with zipfile.ZipFile(out) as zf:
            files = {n: zf.read(n) for n in zf.namelist()}
    else:
        with tarfile.open(out) as tf:
            files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]
    return {n: gzip.decompress(b) if n.endswith(".gz") else b for n, b in files.items()}


def unpack(out: Path, into: Path) -> Path:
    for name, data in members(out).items():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        (into / name).write_bytes(data)
    return into


@pytest.fixture
def planted(tmp_path: Path) -> list[str]:
    """The replay --scrub fixture, with the JSON Lines file gzip-compressed as a Collector writes it."""
    jsonl = otlp_jsonl(tmp_path / "otlp.jsonl")
    packed = tmp_path / "otlp.jsonl.gz"
    packed.write_bytes(gzip.compress(jsonl.read_bytes()))
    return [str(codemachine_folder(tmp_path / "cm")), str(packed)]


@pytest.mark.parametrize("kind", KINDS)
def test_the_copy_holds_no_planted_value_and_replays_the_same(planted: list[str], tmp_path: Path, kind: str) -> None:
    out = out_path(tmp_path, kind)
    result = scrub(*planted, "-o", str(out), "--scrub-salt", "s1")
    assert result.exit_code == 0, result.output
    files = members(out)
    assert found(out.read_bytes() if out.is_file() else b"") == []
    assert found(b"".join(files.values())) == []
    assert sorted(files) == [
        "SCRUBBED.json",
        "otlp.jsonl.gz",
        "traces/2026-11-24/17-00-00-logs.json",
        "traces/2026-11-24/17-00-00-metrics.json",
        "traces/2026-11-24/17-00-00.json",
    ]
    assert "/home/‹user:" in files["otlp.jsonl.gz"].decode()  # a path keeps its shape
    copy = unpack(out, tmp_path / "unpacked") if out.is_file() else out
    original, again = tmp_path / "original", tmp_path / "again"
    assert replay(*planted, "--output", str(original)).exit_code == 0
    assert replay(str(copy), "--output", str(again)).exit_code == 0
    assert structure(again) == structure(original)
    assert "a replay of it sends 4 spans, 4 log records, 2 metric points" in result.output


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_the_same_salt_gives_the_same_bytes_another_salt_other_tokens(
    planted: list[str], tmp_path: Path, kind: str
) -> None:
    runs = {}
    for name, salt in (("a", "salt-one"), ("b", "salt-one"), ("c", "salt-two")):
        out = out_path(tmp_path, kind, name)
        assert scrub(*planted, "-o", str(out), "--scrub-salt", salt).exit_code == 0
        runs[name] = out.read_bytes()
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]
    a = b"".join(members(out_path(tmp_path, kind, "a")).values())
    c = b"".join(members(out_path(tmp_path, kind, "c")).values())
    assert a.count("‹user:".encode()) == c.count("‹user:".encode()) > 0


def test_a_codemachine_folder_keeps_its_layout_and_format(tmp_path: Path) -> None:
    out = tmp_path / "copy"
    result = scrub(str(EXAMPLE), "-o", str(out), "--scrub-salt", "s")
    assert result.exit_code == 0, result.output
    originals = {str(p.relative_to(EXAMPLE)): p for p in EXAMPLE.rglob("*.json")}
    copies = members(out)
    assert sorted(copies) == sorted([*originals, "SCRUBBED.json"])  # latest* copies too
    for name, path in originals.items():
        before, after = json.loads(path.read_text()), json.loads(copies[name])
        assert list(after) == list(before)  # the same keys in the same order
        text = copies[name].decode()
        assert text == json.dumps(after, indent=2, ensure_ascii=False)  # as CodeMachine writes it
        assert "/home/dev" not in text and "webapp" not in text
    latest = json.loads(copies["latest.json"])
    boot = next(s for s in json.loads(copies["2026-11-24/17-00-00.json"])["spans"] if s["name"] == "cli.boot")
    assert latest["sessionFile"].startswith(boot["attributes"]["cli.boot.cwd"] + "/.codemachine/")  # one token
    code_a, a = replay_json(str(EXAMPLE), "--dry-run")
    code_b, b = replay_json(str(out), "--dry-run")
    assert (code_a, code_b) == (0, 0)
    assert {k: v["sent"] for k, v in a["signals"].items()} == {k: v["sent"] for k, v in b["signals"].items()}


def test_the_manifest_names_rules_and_keys_never_a_value(planted: list[str], tmp_path: Path) -> None:
    out = tmp_path / "copy"
    assert scrub(*planted, "-o", str(out), "--scrub-salt", "secret-salt-1").exit_code == 0
    text = (out / "SCRUBBED.json").read_text()
    doc = json.loads(text)
    assert found(text.encode()) == [] and "secret-salt-1" not in text
    assert doc["rules_from"] == ["codemachine", "secrets", "pii"]  # all three without --scrub
    by_rule = {r["rule"]: r for r in doc["rules"]}
    assert by_rule["codemachine/previews"]["keys"]["span[workflow.spec_preview]"] == 3  # 1 CodeMachine, 2 OTLP
    assert by_rule["pii/email"]["values"] > 0 and doc["salt"]["given"] is True
    assert len(doc["salt"]["fingerprint"]) == 12
    assert doc["records"] == {"spans": 4, "log_records": 4, "metric_points": 2}


def test_rules_given_are_the_only_ones(planted: list[str], tmp_path: Path) -> None:
    out = tmp_path / "copy"
    assert scrub(*planted, "-o", str(out), "--scrub", "secrets").exit_code == 0
    data = b"".join(members(out).values())
    assert "PlantedBearerTok1" not in found(data) and "planted.person" in found(data)  # pii not applied


def test_damaged_input_is_reported_as_replay_reports_it(tmp_path: Path) -> None:
    src = tmp_path / "in"
    trace_file(src / "good.json", [span_doc(attributes={"user.email": "planted.person@example.org"})])
    (src / "cut.json").write_text('{"version": 1, "service": "codemachine", "spans": [{"name": "a", "tra')
    whole = json.dumps(span_doc(name="planted.person@example.org"), indent=2)
    (src / "cut2.json").write_text(f'{{\n  "version": 1,\n  "spans": [\n{whole},\n  {{"name": "b", "tr')
    good = json.dumps({"resourceSpans": []})
    (src / "lines.jsonl").write_text(f"{good}\nnot json at all\n{good}\n")
    (src / "notes.json").write_text('{"title": "my notes"}')
    out = tmp_path / "copy"
    result = scrub(str(src), "-o", str(out))
    code, summary = replay_json(str(src), "--dry-run")
    assert result.exit_code == code == 1
    for problem in summary["problems"]:
        assert problem["text"] in result.output
    files = members(out)
    assert sorted(files) == ["SCRUBBED.json", "cut2.json", "good.json", "lines.jsonl"]
    assert json.loads(files["cut2.json"])["spans"][0]["name"].startswith("‹email:")
    assert files["lines.jsonl"].decode().splitlines() == ['{"resourceSpans":[]}'] * 2
    manifest = json.loads(files["SCRUBBED.json"])
    assert {f["path"] for f in manifest["left_out"]} == {"cut.json", "notes.json"}
    assert manifest["json_lines_left_out"] == 1
    assert {f["path"]: f.get("note") for f in manifest["files"]}[
        "cut2.json"
    ] == "cut short: the 1 records before the cut"
    assert replay_json(str(out), "--dry-run")[1]["signals"]["traces"]["sent"] == summary["signals"]["traces"]["sent"]
    assert "planted.person" not in files["good.json"].decode()


def test_out_is_never_overwritten_unasked(planted: list[str], tmp_path: Path) -> None:
    out = tmp_path / "copy.zip"
    out.write_bytes(b"mine")
    result = scrub(*planted, "-o", str(out))
    assert result.exit_code == 2 and "give --overwrite" in result.output
    assert out.read_bytes() == b"mine"
    assert scrub(*planted, "-o", str(out), "--overwrite").exit_code == 0
    assert zipfile.is_zipfile(out)
    folder = tmp_path / "mine"
    (folder / "keep.txt").parent.mkdir()
    (folder / "keep.txt").write_text("x")
    result = scrub(*planted, "-o", str(folder), "--overwrite")
    assert result.exit_code == 2 and "did not write" in result.output
    assert (folder / "keep.txt").exists()
    assert scrub(*planted, "-o", str(tmp_path / "f")).exit_code == 0
    assert scrub(*planted, "-o", str(tmp_path / "f"), "--overwrite").exit_code == 0


def test_nothing_to_scrub_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.json").write_text('{"title": "x"}')
    result = scrub(str(tmp_path / "in"), "-o", str(tmp_path / "copy.zip"))
    assert result.exit_code == 1 and "nothing to scrub" in result.output
    assert not (tmp_path / "copy.zip").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no temporary file left behind


def test_a_bad_rules_file_is_a_usage_error(planted: list[str], tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[replace]]\npattern = "("\nreplacement = "x"\n')
    result = scrub(*planted, "-o", str(tmp_path / "c"), "--scrub", str(rules))
    assert result.exit_code == 2 and f"{rules}:1: bad pattern" in result.output
    assert not (tmp_path / "c").exists()


def test_inspect_shows_no_planted_value(tmp_path: Path) -> None:
    folder = codemachine_folder(tmp_path / "cm")
    jsonl = otlp_jsonl(tmp_path / "otlp.jsonl")
    plain = run("inspect", str(folder), "--trace", "0af7651916cd43dd")
    assert found(plain.output.encode())  # the scan can find them
    for args in (("--trace", "0af7651916cd43dd"), ("--trace", "4bf92f35"), ("--json",), ()):
        result = run("inspect", str(folder), str(jsonl), *PRESETS, "--scrub-salt", "s", *args)
        assert result.exit_code == 0, result.output
        assert found(result.output.encode()) == []


def test_the_view_page_shows_no_planted_value(tmp_path: Path) -> None:
    folder = codemachine_folder(tmp_path / "cm")
    jsonl = otlp_jsonl(tmp_path / "otlp.jsonl")
    plain, page = tmp_path / "plain.html", tmp_path / "page.html"
    assert run("view", str(folder), str(jsonl), "-o", str(plain)).exit_code == 0
    assert found(plain.read_bytes())
    result = run("view", str(folder), str(jsonl), *PRESETS, "-o", str(page))
    assert result.exit_code == 0, result.output
    assert found(page.read_bytes()) == [] and found(result.output.encode()) == []
    assert "‹user:" in page.read_text()


def test_stdin_is_scrubbed_too(tmp_path: Path) -> None:
    data = otlp_jsonl(tmp_path / "otlp.jsonl").read_bytes()
    result = CliRunner().invoke(main, ["scrub", "-", "-o", str(tmp_path / "c")], input=data)
    assert result.exit_code == 0, result.output
    files = members(tmp_path / "c")
    assert sorted(files) == ["SCRUBBED.json", "stdin.json"]
    assert found(files["stdin.json"]) == [] and len(files["stdin.json"].splitlines()) == 3


def test_a_copy_inside_the_input_folder_does_not_copy_itself(tmp_path: Path) -> None:
    src = codemachine_folder(tmp_path / "cm")
    for _ in range(2):
        result = scrub(str(src), "-o", str(src / "shareable.zip"), "--overwrite")
        assert result.exit_code == 0, result.output
        assert sorted(members(src / "shareable.zip")) == [
            "2026-11-24/17-00-00-logs.json",
            "2026-11-24/17-00-00-metrics.json",
            "2026-11-24/17-00-00.json",
            "SCRUBBED.json",
        ]


def _bad_records(root: Path) -> Path:
    """Records refused for a value that quotes planted secrets, in a folder under a home
    directory: the problem lines name both (the file, and the value as read)."""
    folder = root / "home" / "plantuser" / "report"
    trace_file(folder / "t.json", [span_doc(), span_doc(traceId="ghp_PlantedGitHub0123456789abcdefghijkl")])
    log_file(folder / "l.json", [log_doc(), log_doc(severityNumber="password=PlantedPass1 xoxb-1234-PlantedSlack1")])
    return folder


def test_problem_lines_show_what_the_rules_make_of_values_and_file_names(tmp_path: Path) -> None:
    folder = str(_bad_records(tmp_path))
    plain = replay(folder, "--dry-run", "--json")  # the values refused are in its problems
    assert sorted(found(plain.output.encode())) == ["PlantedGitHub", "PlantedPass1", "PlantedSlack1", "plantuser"]
    for workers in ("1", "2"):
        problems = tmp_path / f"problems-{workers}.jsonl"
        for extra in ((), ("--json",)):
            args = (folder, "--dry-run", *PRESETS, "--workers", workers, "--problems", str(problems), *extra)
            result = replay(*args)
            assert result.exit_code == 1, result.output  # two invalid records
            assert "invalid span" in result.output and "invalid log record" in result.output
            assert found(result.output.encode()) == [] and found(problems.read_bytes()) == []
            assert "‹user:" in result.output and "‹secret:" in problems.read_text()
    for args in (("--json",), ()):
        result = run("inspect", folder, *PRESETS, *args)
        assert "invalid span" in result.output and "/home/‹user:" in result.output
        assert found(result.output.encode()) == []
    page = tmp_path / "page.html"
    assert run("view", folder, *PRESETS, "-o", str(page)).exit_code == 1
    assert found(page.read_bytes()) == [] and "/home/‹user:" in page.read_text()
