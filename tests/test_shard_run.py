"""``--shard I/N`` end to end, against the loopback fakes: N shards run in turn deliver
exactly what one run delivers, record for record, and their summaries add up to its."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import py7zr
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from otel_replay import execute
from tests.fakes.loki import LokiReceiver
from tests.fakes.loki_query import LokiWithQueries
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.tempo_query import TempoWithQueries
from tests.helpers import (
    EXAMPLE_NOW_NS,
    assert_streams_oldest_first,
    log_doc,
    log_file,
    problem_lines,
    replay,
    replay_json,
    span_doc,
    tar_archive,
    trace_file,
    zip_archive,
)
from tests.otlp_samples import flatten_spans, renumbered, trace_request, write_lines

SESSION_FILE = "/home/dev/webapp/.codemachine/traces/{}"
#: The recordings start 50 minutes before the Loki fake's clock: every entry is within
#: the hour Loki accepts behind a stream's newest.
START_S = EXAMPLE_NOW_NS // 10**9 - 50 * 60


def _session(folder: Path, n: int, tag: int) -> tuple[Path, Path]:
    """Session ``n`` of a CodeMachine folder: a dated trace file and log file (ids and
    lines unique to ``tag`` and ``n``), one minute after the one before."""
    sec = START_S + n * 60 + tag
    stamp = f"17-{n:02d}-{tag:02d}"
    trace_id = f"{tag:08x}{n:08x}" + "ab" * 8
    spans = [
        span_doc(trace_id, f"{tag:04x}{n:04x}{i:08x}", startTime=sec * 1000 + i, endTime=sec * 1000 + i + 0.5)
        for i in range(7)
    ]
    logs = [log_doc(sec, i * 1000, body=f"t{tag} s{n} line {i}") for i in range(5)]
    return (
        trace_file(folder / "2026-11-24" / f"{stamp}.json", spans),
        log_file(folder / "2026-11-24" / f"{stamp}-logs.json", logs),
    )


def _latest(copy: Path, original: Path, relative: str) -> None:
    """A ``latest*`` copy as CodeMachine writes it: the original's content plus ``sessionFile``."""
    doc = json.loads(original.read_text())
    items = list(doc.items())
    items.insert(4, ("sessionFile", SESSION_FILE.format(relative)))
    copy.write_text(json.dumps(dict(items), indent=2))


def _inputs(tmp: Path) -> list[str]:
    """A CodeMachine folder with its latest* copies, a zip of another one (copies inside
    too), and a JSON Lines dump large enough to be read in parts."""
    folder = tmp / "traces"
    for n in range(9):
        dated = _session(folder, n, 1)
    _latest(folder / "latest.json", dated[0], "2026-11-24/" + dated[0].name)
    _latest(folder / "latest-logs.json", dated[1], "2026-11-24/" + dated[1].name)
    other = tmp / "other"
    for n in range(6):
        dated = _session(other, n, 2)
    _latest(other / "latest.json", dated[0], "2026-11-24/" + dated[0].name)
    _latest(other / "latest-logs.json", dated[1], "2026-11-24/" + dated[1].name)
    zip_archive(tmp / "bug.zip", {str(p.relative_to(other)): p.read_bytes() for p in sorted(other.rglob("*.json"))})
    shutil.rmtree(other)
    write_lines(tmp / "dump.jsonl", [renumbered(trace_request(1, 2), i) for i in range(150)])
    return [str(folder), str(tmp / "bug.zip"), str(tmp / "dump.jsonl")]


def _run(paths: list[str], *flags: str) -> tuple[dict[str, Any], list[tuple[bytes, ...]], list[Any]]:
    """One replay into fresh fakes: its summary, the spans and the Loki entries received."""
    with OtlpReceiver() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            *paths, "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--signals", "traces,logs", *flags
        )
        assert code == 0, problem_lines(summary)
        spans = flatten_spans(otlp.requests["/v1/traces"])
        entries = [
            (
                {k: v for k, v in labels.items() if k != "replay_shard"},
                ts,
                line,
                {k: v for k, v in md.items() if k != "replay_id"},  # each run has its own id
            )
            for labels, ts, line, md in loki.entries()
        ]
        if "--shard" in flags:
            assert {labels["replay_shard"] for labels, *_ in loki.entries()} == {summary["shard"]}
    return summary, spans, entries


#: The trace id of every span of the JSON Lines dump (trace_request with one resource).
DUMP_TRACE = (0xA0).to_bytes(16, "big")
_COUNTS = ("read", "sent", "duplicates", "invalid", "rejected", "failed", "files")


def _counts(summary: dict[str, Any]) -> Counter[str]:
    out: Counter[str] = Counter(files_read=summary["files_read"], files_ignored=summary["files_ignored"])
    for signal, counts in summary["signals"].items():
        for name in _COUNTS:
            out[f"{signal} {name}"] += counts[name]
    return out


@pytest.mark.timeout(600)
def test_three_shards_deliver_what_one_run_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _inputs(tmp_path)
    monkeypatch.setattr(execute, "PART_BYTES", Path(paths[2]).stat().st_size // 7)  # 7 parts
    whole, spans, entries = _run(paths, "--workers", "2")
    assert whole["signals"]["traces"]["duplicates"] == 7 + 7  # the two latest.json copies
    assert whole["signals"]["logs"]["duplicates"] == 5 + 5
    assert len(spans) == len(set(spans)) == 9 * 7 + 6 * 7 + 150 * 4
    assert len(entries) == 9 * 5 + 6 * 5

    shard_spans: list[tuple[bytes, ...]] = []
    shard_entries: list[Any] = []
    total: Counter[str] = Counter()
    from_dump: list[int] = []
    for i, workers in ((1, "1"), (2, "2"), (3, "1")):
        summary, got_spans, got_entries = _run(paths, "--shard", f"{i}/3", "--workers", workers)
        assert summary["shard"] == f"{i}/3"
        assert summary["signals"]["traces"]["sent"] == len(got_spans)
        assert summary["signals"]["logs"]["sent"] == len(got_entries)
        assert got_spans or got_entries, f"shard {i}/3 took nothing: the inputs are not spread"
        shard_spans += got_spans
        from_dump.append(sum(Span.FromString(t[-1]).trace_id == DUMP_TRACE for t in got_spans))
        shard_entries += got_entries
        total += _counts(summary)

    assert sorted(shard_spans) == sorted(spans)  # record for record: no gap, no duplicate
    key = json.dumps
    assert sorted(map(key, shard_entries)) == sorted(map(key, entries))
    assert total == _counts(whole)
    assert sum(from_dump) == 150 * 4 and max(from_dump) < 150 * 4, from_dump  # the dump's parts are shared out


@pytest.mark.parametrize("form", ["folder", "tar.gz", "tar.gz on stdin", "7z"])
def test_a_latest_copy_goes_with_its_original(tmp_path: Path, form: str) -> None:
    """Whichever share a session falls in, its latest* copy is read there too, and dropped
    as the duplicate it is (a --dry-run: the counts tell) — also from a compressed tar,
    whose members are read as they go by (the copy is peeked at, not consumed)."""
    folder = tmp_path / "traces"
    for n in range(12):
        dated = _session(folder, n, 3)
        _latest(folder / f"latest-{n}.json", dated[0], "2026-11-24/" + dated[0].name)
    path, data = str(folder), None
    if form == "7z":
        with py7zr.SevenZipFile(tmp_path / "bug.7z", "w") as archive:
            archive.writeall(folder, "traces")
        path = str(tmp_path / "bug.7z")
    elif form != "folder":
        members = {f"traces/{p.relative_to(folder)}": p.read_bytes() for p in sorted(folder.rglob("*.json"))}
        path = str(tar_archive(tmp_path / "bug.tar.gz", members))
        if form == "tar.gz on stdin":
            path, data = "-", Path(path).read_bytes()
    duplicates = 0
    for i in range(1, 5):
        code, summary = replay_json(path, "--dry-run", "--signals", "traces", "--shard", f"{i}/4", input=data)
        assert code == 0, problem_lines(summary)
        traces = summary["signals"]["traces"]
        assert traces["duplicates"] * 2 == traces["read"]  # each session read twice, sent once
        duplicates += traces["duplicates"]
    assert duplicates == 12 * 7


def test_an_empty_share_is_no_failure(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    _session(folder, 0, 4)
    statuses, outputs = [], []
    for i in range(1, 9):
        result = replay(str(folder), "--dry-run", "--shard", f"{i}/8")
        statuses.append(result.exit_code)
        outputs.append(result.stdout)
        assert f"shard {i}/8: this run's share of the inputs" in result.stdout
    assert statuses == [0] * 8
    assert sum("nothing replayed: no input files found (in shard" in o for o in outputs) == 6  # 2 files, 8 shares


def test_each_shard_writes_its_own_output_files(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    for n in range(6):
        _session(folder, n, 5)
    out = tmp_path / "out"
    for i in (1, 2):
        code, summary = replay_json(str(folder), "--output", str(out), "--shard", f"{i}/2")
        assert code == 0, problem_lines(summary)
        assert summary["destinations"]["traces"] == str(out / f"traces.shard-{i}-of-2.jsonl")
    assert sorted(p.name for p in out.iterdir()) == [
        f"{s}.shard-{i}-of-2.jsonl" for s in ("logs", "metrics", "traces") for i in (1, 2)
    ]
    written = [json.loads(line) for p in out.glob("traces.*") for line in p.read_text().splitlines()]
    span_ids = [
        s["spanId"] for r in written for rs in r["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]
    ]
    assert len(span_ids) == len(set(span_ids)) == 6 * 7
    result = replay(str(folder), "--output", str(out), "--shard", "1/2")  # its own files are an earlier run's
    assert result.exit_code == 2
    assert "traces.shard-1-of-2.jsonl" in result.output and "--overwrite" in result.output


def test_a_shard_refuses_another_shards_state_file(tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    _session(folder, 0, 6)
    state = tmp_path / "state"
    with OtlpReceiver() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        common = [str(folder), "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--resume", str(state)]
        code, summary = replay_json(*common, "--shard", "1/1")
        assert code == 0, problem_lines(summary)
        assert json.loads(state.read_text().splitlines()[0])["shard"] == "1/1"
        again = replay(*common, "--shard", "1/1")
        assert again.exit_code == 0
        other = replay(*common, "--shard", "2/2")
        whole = replay(*common)
    assert other.exit_code == whole.exit_code == 2
    assert f"{state} was written by shard 1/1 (--shard 1/1); this is shard 2/2" in other.output
    assert "this is a run without --shard: give each shard its own state file" in whole.output


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0/3", "shares are numbered 1 to 3"),
        ("4/3", "shares are numbered 1 to 3"),
        ("a/b", "is not I/N"),
        ("auto/3", "JOB_COMPLETION_INDEX, which is not set"),
    ],
)
def test_a_wrong_shard_is_a_usage_error_naming_the_flag(tmp_path: Path, value: str, reason: str) -> None:
    _session(tmp_path, 0, 7)
    result = replay(str(tmp_path), "--dry-run", "--shard", value)
    assert result.exit_code == 2
    assert "Invalid value for --shard" in result.output and reason in result.output
    assert "Traceback" not in result.output


def test_auto_reads_the_index_kubernetes_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _session(tmp_path, 0, 8)
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    code, summary = replay_json(str(tmp_path), "--dry-run", "--shard", "auto/3")
    assert code == 0 and summary["shard"] == "3/3"


def test_shift_to_now_is_refused_with_a_shard(tmp_path: Path) -> None:
    _session(tmp_path, 0, 9)
    result = replay(str(tmp_path), "--dry-run", "--shard", "1/2", "--shift-to-now")
    assert result.exit_code == 2
    assert "--shift-to-now and --shard exclude each other" in result.output


def test_shards_push_into_loki_streams_of_their_own(tmp_path: Path) -> None:
    """Sessions two hours apart, three shards in turn into one Loki: each shard's streams
    get their entries oldest first, so none is refused as too far behind — in one set of
    streams shard 2's older sessions would come hours after shard 1's newer ones."""
    folder = tmp_path / "traces"
    for n in range(12):
        sec = EXAMPLE_NOW_NS // 10**9 - (12 - n) * 2 * 3600
        logs = [log_doc(sec, i * 1000, body=f"s{n} line {i}") for i in range(3)]
        log_file(folder / "2026-11-24" / f"{n:02d}-30-00-logs.json", logs)
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        for i in (1, 2, 3):
            code, summary = replay_json(str(folder), "--loki-url", loki.url, "--logs-only", "--shard", f"{i}/3")
            assert code == 0, problem_lines(summary)
            assert summary["signals"]["logs"]["rejected"] == 0
        assert len(loki.entries()) == 12 * 3
        assert {labels["replay_shard"] for labels, *_ in loki.entries()} == {"1/3", "2/3", "3/3"}
        assert_streams_oldest_first(loki)


def test_verify_reads_back_a_shards_own_share(tmp_path: Path) -> None:
    """--verify with --shard expects what this shard sent, not what every shard sends."""
    folder = tmp_path / "traces"
    for n in range(6):
        dated = _session(folder, n, 10)
    _latest(folder / "latest.json", dated[0], "2026-11-24/" + dated[0].name)
    sent = Counter[str]()
    with TempoWithQueries() as tempo, LokiWithQueries(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        for i in (1, 2):
            code, summary = replay_json(
                str(folder), "--signals", "traces,logs", "--shard", f"{i}/2", "--verify", "--verify-timeout", "5s",
                "--otlp-endpoint", tempo.url, "--tempo-query-url", tempo.url, "--loki-url", loki.url,
            )  # fmt: skip
            assert code == 0, (problem_lines(summary), summary.get("verify"))
            checks = summary["verify"]["signals"]
            for signal in ("traces", "logs"):
                assert checks[signal]["sent"] == checks[signal]["found"] == summary["signals"][signal]["sent"]
                sent[signal] += checks[signal]["sent"]
    assert sent == Counter(traces=6 * 7, logs=6 * 5)
