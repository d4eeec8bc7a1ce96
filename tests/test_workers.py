"""--workers: the same delivery as one process, with dedup across workers and Loki's
order (each stream oldest first) kept across inputs read in parallel."""

from __future__ import annotations

import gzip
import io
import json
import os
import select
import signal
import subprocess
import sys
import tarfile
import threading
import time
import types
from collections import Counter
from multiprocessing.context import ForkContext
from pathlib import Path
from typing import Any

import pytest

from otel_replay.execute import procs
from otel_replay.execute.inputs import group_limit
from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import (
    EXAMPLE,
    EXAMPLE_NOW_NS,
    Children,
    assert_streams_oldest_first,
    child_pids,
    entry_counts,
    log_doc,
    log_file,
    problem_lines,
    replay_command,
    replay_json,
    span_doc,
    trace_file,
)
from tests.otlp_samples import flatten_points, flatten_spans

HOUR = 3600


def _sessions(folder: Path, n: int = 6, per_file: int = 300) -> Path:
    """``n`` log sessions two hours apart (newest last), each ``per_file`` records: any
    session pushed after a later one would be refused by Loki as too far behind."""
    start = EXAMPLE_NOW_NS // 10**9 - 2 * HOUR * n
    for f in range(n):
        logs = [log_doc(sec=start + f * 2 * HOUR + i, body=f"session {f} line {i}") for i in range(per_file)]
        log_file(folder / f"2026-11-24/{f:02d}-00-00-logs.json", logs)
        trace_file(folder / f"2026-11-24/{f:02d}-00-00.json", [span_doc(spanId=f"{f + 1:016x}")])
    return folder


@pytest.mark.parametrize(
    ("sessions", "per_file", "batch", "several"),
    [(6, 300, "8KiB", False), (24, 40, "4KiB", True)],
    ids=["one input a task", "several inputs a task"],
)
def test_loki_gets_each_stream_oldest_first_across_workers(
    tmp_path: Path, sessions: int, per_file: int, batch: str, several: bool
) -> None:
    """None refused as "too far behind": no session was pushed after a later one. With
    forty-eight small inputs each worker is handed several consecutive ones a task
    (execute/inputs.py) and pushes their entries only once every input before them is done."""
    folder = _sessions(tmp_path / "in", n=sessions, per_file=per_file)
    sizes = [p.stat().st_size for p in folder.rglob("*.json")]
    assert (group_limit(sum(sizes), 2) > max(sizes) + 2 * min(sizes)) is several  # two log inputs or more a task
    with OtlpReceiver.tempo() as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        code, summary = replay_json(
            str(folder), "--workers", "2", "--otlp-endpoint", otlp.url, "--loki-url", loki.url,
            "--loki-batch-bytes", batch,
        )  # fmt: skip
        entries = loki.entries()
    assert code == 0, problem_lines(summary)
    assert summary["signals"]["logs"]["sent"] == len(entries) == sessions * per_file
    assert_streams_oldest_first(loki)


def test_workers_deliver_what_one_process_delivers(tmp_path: Path) -> None:
    runs = []
    for workers in ("1", "2"):
        with OtlpReceiver() as collector, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
            code, summary = replay_json(
                str(EXAMPLE), "--workers", workers, "--otlp-endpoint", collector.url, "--loki-url", loki.url
            )
            assert code == 0, problem_lines(summary)
            lines = entry_counts(loki)
            runs.append(
                (
                    flatten_spans(collector.requests["/v1/traces"]),
                    flatten_points(collector.requests["/v1/metrics"]),
                    lines,
                    {s: (v["sent"], v["duplicates"], v["dropped"]) for s, v in summary["signals"].items()},
                )
            )
    assert runs[0] == runs[1]
    assert runs[1][3] == {
        "traces": (21, 5, {}), "logs": (44, 18, {}), "metrics": (111, 40, {NO_RECORDED_VALUE: 12})
    }  # fmt: skip  # copies skipped once; the dated sessions' histogram zeros not replayed


def test_bad_input_in_a_worker_is_reported_like_in_one_process(tmp_path: Path) -> None:
    folder = _sessions(tmp_path / "in", n=3, per_file=5)
    (folder / "broken.json").write_text("{ not json")
    runs: dict[str, tuple[Any, ...]] = {}
    for workers in ("1", "2"):
        code, summary = replay_json(str(folder), "--workers", workers, "--dry-run")
        runs[workers] = (code, summary["files_read"], problem_lines(summary), summary["signals"])
    assert runs["2"] == runs["1"]
    code, files_read, problems, signals = runs["2"]
    assert code == 1 and files_read == 7
    assert (signals["traces"]["sent"], signals["logs"]["sent"]) == (3, 15)
    assert [p.split(": ")[0] for p in problems] == [str(folder / "broken.json")]


DIED = "worker process died (killed by SIGKILL)"


def _killed_while_sending(folder: Path, files: int, children: Children, killed: int) -> tuple[dict[str, Any], int]:
    """``files`` span inputs of 100 spans replayed by two workers; SIGKILL ``killed`` of them
    once both hold a request at the backend (each in the middle of its first input). The
    summary, and the spans the backend stored."""
    for f in range(files):
        spans = [span_doc(span_id=f"{f + 1:02x}{i + 1:014x}") for i in range(100)]
        trace_file(folder / f"17-00-{f:02d}.json", spans)
    arrived: list[int] = []
    both_held, release = threading.Event(), threading.Event()

    def hold_the_first_two(n: int) -> None:
        if n <= 2:
            arrived.append(n)
            if len(arrived) == 2:
                both_held.set()
            release.wait(60)
        return None

    with OtlpReceiver() as otlp:
        otlp.fault = hold_the_first_two
        proc = children.start(
            replay_command(str(folder), "--json", "--traces-only", "--otlp-endpoint", otlp.url,
                           "--batch-size", "50", "--concurrency", "1", "--workers", "2"),
        )  # fmt: skip
        assert both_held.wait(60)
        workers = child_pids(proc.pid)
        assert len(workers) == 2, workers
        for pid in workers[:killed]:
            os.kill(pid, signal.SIGKILL)
        release.set()
        out, err = proc.communicate(timeout=60)
        stored = len(otlp.spans())
    assert proc.returncode == 1, err
    summary = json.loads(out)
    traces = summary["signals"]["traces"]
    outcomes = traces["sent"] + traces["not_sent_interrupted"] + traces["rejected"] + traces["failed"]
    assert outcomes + traces["duplicates"] + sum(traces["dropped"].values()) == traces["read"]  # all accounted for
    assert traces["not_sent_reasons"] == {DIED: 100 * killed}  # each had read its first input whole
    assert summary["interrupted"] is False
    return summary, stored


@pytest.mark.parametrize("killed", [1, 2])
def test_a_worker_killed_mid_run_is_counted_and_the_others_finish(
    tmp_path: Path, children: Children, killed: int
) -> None:
    """SIGKILL one of two workers (or both) while both hold a request at the backend: the
    parent notices, counts what a dead one had read and not reported delivered as not sent
    (with the reason), hands it no more work, the other finishes every other input (none
    left: the inputs not read are said), and the run exits 1. Every record read is
    accounted for."""
    summary, stored = _killed_while_sending(tmp_path / "in", 8, children, killed)
    traces = summary["signals"]["traces"]
    if killed == 1:
        assert traces["read"] == 800
        assert traces["sent"] == 700 <= stored  # the other worker read and delivered all the rest
    else:
        assert traces["read"] == 200 and traces["sent"] == 0
        assert any(p.startswith("every worker process died: ") for p in problem_lines(summary))
    dead_inputs = [p for p in problem_lines(summary) if p.endswith(f": not read to the end: {DIED}")]
    assert len(dead_inputs) == killed


def test_a_worker_killed_in_a_task_of_several_inputs_says_which_are_not_read(
    tmp_path: Path, children: Children
) -> None:
    """Consecutive small inputs are handed out together (execute/inputs.py: forty of equal
    size, in tasks of two). A worker killed in the first input of its task: that input is
    not read to the end, the one after it is not read, each said by name; the other worker
    reads every other task."""
    summary, stored = _killed_while_sending(tmp_path / "in", 40, children, 1)
    cut = [p for p in problem_lines(summary) if p.endswith(f": not read to the end: {DIED}")]
    unread = [p.split(": ")[0] for p in problem_lines(summary) if p.endswith(f": not read: {DIED}")]
    assert len(cut) == 1 and len(unread) == 1, problem_lines(summary)
    first = int(cut[0].split(": ")[0][-7:-5])  # …/17-00-NN.json
    assert unread == [str(tmp_path / "in" / f"17-00-{first + 1:02d}.json")]
    traces = summary["signals"]["traces"]
    assert (traces["read"], traces["sent"], traces["files"]) == (3900, 3800, 39)
    assert stored >= 3800


def test_a_tar_gz_is_decompressed_once_whatever_the_workers_and_passes(tmp_path: Path, children: Children) -> None:
    """--workers 2 and --shift-to-now: the parent decompresses the archive once, copying
    its members out; the workers read the copies (first pass and replay), and nothing is
    decompressed twice."""
    members = []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for f in range(4):
            spans = [span_doc(span_id=f"{f + 1:02x}{i + 1:014x}", attributes={"pad": "x" * 200}) for i in range(2000)]
            data = trace_file(tmp_path / "docs" / f"{f}.json", spans).read_bytes()
            members.append(len(data))
            info = tarfile.TarInfo(f"session/17-00-{f:02d}.json")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    archive = tmp_path / "bundle.tar.gz"
    archive.write_bytes(gzip.compress(buf.getvalue()))
    counts = tmp_path / "counts"
    proc = children.run(
        [sys.executable, "-m", "tests.counting_cli", str(counts), "replay", str(archive), "--dry-run", "--json",
         "--shift-to-now", "--workers", "2"],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["signals"]["traces"]["sent"] == 8000 and summary["time_offset_ns"] != 0
    lines = [line.split(" ", 2) for line in counts.read_text().splitlines()]
    decompressed = [(int(pid), int(n)) for kind, pid, n in lines if kind == "decompressed"]
    readers = [(int(pid), name) for kind, pid, name in lines if kind == "read"]
    parent = {pid for pid, _ in decompressed}
    assert len(parent) == 1  # one process decompresses: the parent (not a worker)
    assert sum(members) <= sum(n for _, n in decompressed) <= len(buf.getvalue())  # each member once
    assert parent.isdisjoint(pid for pid, _ in readers)  # the workers read the inputs (the copies)
    # each member read twice (first pass and replay), by whichever worker it was handed to
    assert sorted(Counter(name for _, name in readers).values()) == [2, 2, 2, 2]


def _held_worker(hold: Path) -> int:
    """The pid of the worker tests/counting_cli.py holds (it writes it into the FIFO
    ``hold/arrived``); fails within a minute if none is held (the run ended first)."""
    arrived = os.open(hold / "arrived", os.O_RDONLY | os.O_NONBLOCK)  # returns at once, writer or not
    try:
        readable, _, _ = select.select([arrived], [], [], 60)
        said = os.read(arrived, 64) if readable else b""
    finally:
        os.close(arrived)
    assert said, "no worker was held"
    return int(said)


def test_a_worker_killed_in_the_first_pass_has_its_input_read_again(tmp_path: Path, children: Children) -> None:
    """--shift-to-now's first pass: a worker killed while it reads an input (held there
    by tests/counting_cli.py) loses nothing: the parent reads that input's newest instant
    itself, the other worker replays everything, and the death is said (exit 1)."""
    for f in range(4):
        trace_file(tmp_path / "in" / f"17-00-{f:02d}.json", [span_doc(span_id=f"{f + 1:016x}")])
    hold = tmp_path / "hold"
    hold.mkdir()
    os.mkfifo(hold / "arrived")
    proc = children.start(
        [sys.executable, "-m", "tests.counting_cli", str(tmp_path / "counts"), "replay", str(tmp_path / "in"),
         "--dry-run", "--json", "--shift-to-now", "--workers", "2"],
        env={"OTEL_REPLAY_TEST_HOLD": str(hold)},
    )  # fmt: skip
    os.kill(_held_worker(hold), signal.SIGKILL)  # it holds its first first-pass input
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    summary = json.loads(out)
    assert summary["signals"]["traces"]["sent"] == 4 and summary["time_offset_ns"] != 0
    lost = ": worker process died (killed by SIGKILL) in the first pass; read again by the parent"
    died = [p.removesuffix(lost) for p in problem_lines(summary) if p.endswith(lost)]
    assert len(died) == 1, problem_lines(summary)
    reads = [line.split(" ", 2) for line in (tmp_path / "counts").read_text().splitlines() if line.startswith("read")]
    assert [name for _, pid, name in reads if int(pid) == proc.pid] == died  # the lost input, by the parent, once
    assert len(reads) == 4 + 4  # every input read in each pass: the lost one by the parent


def test_a_worker_killed_while_it_counts_what_loki_will_not_show_has_its_input_read_again(
    tmp_path: Path, children: Children
) -> None:
    """The default keeps a recent recording's times and counts the records Loki will not
    show at once: the inputs whose old records the first pass left unidentified are read
    once more. A worker killed in that second look (held by tests/counting_cli.py) loses
    nothing: the parent reads its input again, the counts are whole, the death is said."""
    now_s = time.time_ns() // 10**9
    for f in range(3):  # five hours old: stored, shown once flushed
        records = [log_doc(sec=now_s - 5 * 3600 + f * 60 + i, body=f"old {f} {i}") for i in range(10)]
        log_file(tmp_path / "in" / f"0{f}-00-00-logs.json", records)
    log_file(tmp_path / "in" / "09-00-00-logs.json", [log_doc(sec=now_s - 60 + i, body=f"new {i}") for i in range(5)])
    hold = tmp_path / "hold"
    hold.mkdir()
    os.mkfifo(hold / "arrived")
    with LokiReceiver(now_ns=time.time_ns) as loki:
        proc = children.start(
            [sys.executable, "-m", "tests.counting_cli", str(tmp_path / "counts"), "replay", str(tmp_path / "in"),
             "--logs-only", "--json", "--workers", "2", "--loki-url", loki.url,
             "--loki-visible-within", "3h", "--loki-max-age", "7d"],  # Loki's defaults (not the fakes')
            env={"OTEL_REPLAY_TEST_HOLD": str(hold), "OTEL_REPLAY_TEST_HOLD_IDENTIFY": "1"},
        )  # fmt: skip
        os.kill(_held_worker(hold), signal.SIGKILL)  # it holds its first input of the second look
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    summary = json.loads(out)
    assert (summary["time"]["how"], summary["time"]["loki_not_shown_yet"]) == ("kept", 30)
    assert summary["signals"]["logs"]["sent"] == 35 == len(loki.entries())
    lost = (
        ": worker process died (killed by SIGKILL) counting the log records Loki will not show at once;"
        " read again by the parent"
    )
    died = [p.removesuffix(lost) for p in problem_lines(summary) if p.endswith(lost)]
    assert len(died) == 1 and died[0].endswith("-logs.json"), problem_lines(summary)


def test_workers_come_from_a_fork_server_once_grpc_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """gRPC's core runs threads Python does not count: a worker forked after the start-up
    check opened a channel can hang in its first channel (a real-backend run over gRPC
    did, once in many), so such a run's workers come from a fork server."""
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.delitem(sys.modules, "grpc", raising=False)
    assert isinstance(procs.context([]), ForkContext)
    monkeypatch.setitem(sys.modules, "grpc", types.ModuleType("grpc"))
    assert not isinstance(procs.context([]), ForkContext)


_MALLOC_PROBE = """
import ctypes, sys
from otel_replay.malloc import keep_freed_memory
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                     "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
tuned = keep_freed_memory()
before = mallinfo2().hblks
block = bytearray(4 << 20)  # a document's bytes
print(tuned, mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize(
    "env",
    [{}, {"MALLOC_TRIM_THRESHOLD_": str(128 << 10)}, {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}],
    ids=["tuned", "the variable's", "the tunable's"],
)
def test_malloc_keeps_a_documents_bytes_in_its_heap(env: dict[str, str]) -> None:
    """A block of megabytes comes from malloc's heap, not from a mapping of its own made
    and unmade each time (malloc.keep_freed_memory); a MALLOC_* variable or a glibc.malloc tunable has the last word."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))} | env
    out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE], capture_output=True, text=True, env=run_env, timeout=60)
    assert out.stdout.split() == (["True", "0"] if not env else ["False", "1"]), out.stderr
