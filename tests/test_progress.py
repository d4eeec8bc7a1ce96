"""The progress line's parts: the line as text (render.py: it fits, drops fields by
priority, shows values as text), the bytes counted as the readers read (inside one large
file too), the total known before reading (the same number the readers count), and the
observation hook of the retry policy."""

from __future__ import annotations

import bz2
import gzip
import io
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from otel_replay.model import FileStart, SpanRecord
from otel_replay.progress.meter import ByteCounter, Meter
from otel_replay.progress.render import Retrying, View, columns, render, shown
from otel_replay.progress.sizing import input_bytes
from otel_replay.progress.terminal import RetryNotices
from otel_replay.sinks.delivery import Delivered, Outcome, Retryable, RetryNews, RetryPolicy, watch_retries
from otel_replay.sources import read_input
from otel_replay.sources.discover import InputFile, discover
from otel_replay.sources.jsondoc import WHOLE_DOCUMENT_BYTES
from tests.helpers import log_doc, logs_bytes, span_doc, spans_bytes, trace_file

HOSTILE = "in/evil\x1b[2J\x1b]0;owned\x07\n名前.json"
VIEWS = {
    "plain": View(done=12_345_678, total=40_000_000, rate=1_300_000.0, read=123_456, sent=120_000, current="a.json"),
    "retrying": View(
        done=5_000, total=9_000, rate=0.0, read=40, sent=0, current=HOSTILE,
        retrying=(Retrying("logs", "HTTP 503: \x1b[31mingester overloaded\x1b[0m", 2.4), Retrying("traces", "x", 9)),
    ),
    "no total": View(done=70_000, rate=None, read=3, sent=3, current=HOSTILE),
    "empty": View(done=0, total=0),
}  # fmt: skip


@pytest.mark.parametrize("name", VIEWS)
def test_the_line_fits_every_width_and_shows_only_printable_text(name: str) -> None:
    for width in range(10, 161):
        line = render(VIEWS[name], width)
        assert columns(line) <= width, (width, line)
        assert line.isprintable(), (width, line)


def test_at_80_columns_a_retry_keeps_its_cause_and_when_and_the_bar_stays() -> None:
    line = render(VIEWS["retrying"], 79)
    assert line.startswith("[#") and "]  55%  4.9/8.8 KiB" in line, line
    assert "retrying logs in 0:02 (+1): HTTP 503: \\x1b[31m" in line, line


def test_narrower_the_least_needed_fields_go_first() -> None:
    view = VIEWS["plain"]
    wide, normal, narrow, narrower, tiny = (render(view, w) for w in (160, 79, 44, 40, 20))
    assert "1.2 MiB/s" in wide and "a.json" in wide and "ETA 0:21" in wide and "sent 120.0k/123.5k" in wide
    assert "1.2 MiB/s" not in normal and "ETA 0:21" in normal and normal.startswith("[")
    assert narrow.startswith("[") and narrow.endswith("30%  11.8/38.1 MiB  ETA 0:21") and "sent" not in narrow
    assert narrower == "30%  11.8/38.1 MiB  ETA 0:21"
    assert tiny == "30%  11.8/38.1 MiB"


def test_a_long_file_name_keeps_its_end() -> None:
    view = View(done=1, total=2, current="/very/long/folder/" * 5 + "session-2026-11-24.json")
    line = render(view, 79)
    assert line.endswith("…/session-2026-11-24.json") or line.endswith("session-2026-11-24.json"), line


def test_values_from_input_are_shown_as_text() -> None:
    assert shown(HOSTILE) == "in/evil\\x1b[2J\\x1b]0;owned\\x07\\n名前.json"
    assert columns("名前") == 4
    assert shown("caf\udce9.json") == "caf\\udce9.json"  # an undecodable byte of a file name


def test_without_a_total_the_line_says_what_was_read() -> None:
    line = render(VIEWS["no total"], 79)
    assert line.startswith("68.4 KiB read") and "%" not in line and "[" not in line.split("\\")[0], line


# -- bytes as the readers take them ------------------------------------------------------------
def _file(path: Path) -> InputFile:
    return InputFile(str(path), lambda: open(path, "rb"), path.stat().st_size)


@pytest.mark.parametrize("mapped", [True, False])
def test_bytes_are_counted_inside_one_large_file(tmp_path: Path, mapped: bool) -> None:
    """A document larger than what is read whole is mapped (or streamed): after its first
    records, part of it is counted, not all; at its end, all of it."""
    spans = [span_doc(spanId=f"{i + 1:016x}", attributes={"pad": "x" * 200}) for i in range(40_000)]
    path = trace_file(tmp_path / "big.json", spans)
    size = path.stat().st_size
    assert size > 2 * WHOLE_DOCUMENT_BYTES
    counted: list[int] = []
    counter = ByteCounter(counted.append)
    items = read_input(counter.counted(_file(path)), mapped=mapped)
    seen_midway = None
    for n, _ in enumerate(x for x in items if isinstance(x, SpanRecord)):
        if n == 20_000:
            seen_midway = sum(counted)
    before_the_end = sum(counted)
    counter.finished()
    assert seen_midway is not None and 0.4 * size < seen_midway < 0.6 * size
    assert before_the_end > 0.95 * size  # counted as it was read, not at the end
    assert sum(counted) == size
    assert counter.current == str(path)


def test_an_input_left_unread_counts_whole(tmp_path: Path) -> None:
    """A file of a signal not selected is not parsed: it still counts its whole size."""
    path = tmp_path / "t.json"
    path.write_bytes(spans_bytes(span_doc()))
    counted: list[int] = []
    counter = ByteCounter(counted.append)
    items = read_input(counter.counted(_file(path)))
    assert isinstance(next(items), FileStart)
    items.close()
    counter.finished()
    assert sum(counted) == path.stat().st_size


def _members() -> dict[str, bytes]:
    return {f"s{i}.json": spans_bytes(span_doc(spanId=f"{i + 1:016x}")) for i in range(3)} | {
        "l.json": logs_bytes(log_doc()),
        "notes.txt": b"not read",
    }


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_the_total_known_up_front_is_what_the_readers_count(tmp_path: Path) -> None:
    """Plain files, a zip's and a plain tar's members (only the data files), a gzip file:
    the sizes known before reading add up to the bytes the readers take."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.json").write_bytes(spans_bytes(span_doc()))
    (folder / "sub" / "b.jsonl.gz").write_bytes(gzip.compress(b'{"resourceSpans": []}\n' * 100))
    (folder / "readme.md").write_bytes(b"not read")
    with zipfile.ZipFile(tmp_path / "bug.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _members().items():
            zf.writestr(name, data)
    (tmp_path / "bug.tar").write_bytes(_tar(_members()))
    paths = [str(folder), str(tmp_path / "bug.zip"), str(tmp_path / "bug.tar")]
    counted: list[int] = []
    counter = ByteCounter(counted.append)
    for found in discover(paths):
        if isinstance(found, InputFile):
            for _ in read_input(counter.counted(found)):
                pass
            counter.finished()
    assert input_bytes(paths) == sum(counted) > 0


def test_standard_input_and_a_compression_that_does_not_say_its_size_have_no_total(tmp_path: Path) -> None:
    (tmp_path / "t.json.bz2").write_bytes(bz2.compress(spans_bytes(span_doc())))
    assert input_bytes(["-"]) is None
    assert input_bytes([str(tmp_path)]) is None


# -- retries, watched ---------------------------------------------------------------------------
class _NoWait:
    def wait(self, timeout: float | None = None) -> bool:
        return False


def _attempts(*outcomes: Outcome) -> Any:
    left = list(outcomes)
    return lambda timeout: left.pop(0)


@pytest.fixture
def heard() -> Any:
    news: list[RetryNews] = []
    watch_retries(news.append)
    yield news
    watch_retries(None)


def test_the_policy_tells_of_each_wait_and_of_the_end(heard: list[RetryNews]) -> None:
    policy = RetryPolicy(deadline_seconds=60, subject="logs")
    attempt = _attempts(Retryable("HTTP 429", after=3.5), Retryable("connection refused", after=0.25), Delivered())
    assert policy.run(attempt, _NoWait()) == (Delivered(), 3)  # type: ignore[arg-type]
    assert [(n.subject, n.reason, n.wait) for n in heard] == [
        ("logs", "HTTP 429", 3.5),
        ("logs", "connection refused", 0.25),
        ("logs", None, 0.0),
    ]
    assert len({n.key for n in heard}) == 1


def test_no_retry_no_news(heard: list[RetryNews]) -> None:
    assert RetryPolicy(subject="logs").run(_attempts(Delivered()), _NoWait()) == (Delivered(), 1)  # type: ignore[arg-type]
    assert heard == []


def test_a_cause_is_said_once_however_many_attempts_it_takes() -> None:
    meter, said = Meter(), []
    RetryNotices(meter, said.append)
    for origin, reason in [(0, "HTTP 503"), (1, "HTTP 503"), (0, "HTTP 503"), (0, "connection refused")]:
        meter.retry(RetryNews(7, "logs", reason, 2.0), origin)
    meter.retry(RetryNews(8, "traces", "HTTP 503", 1.0))
    assert [s.split(";")[0] for s in said] == ["logs: HTTP 503", "logs: connection refused", "traces: HTTP 503"]
    assert said[0] == "logs: HTTP 503; retrying (next attempt in 2 s, until delivered or --max-retry-time)"
    in_progress = sorted((r.subject, r.reason) for r in meter.retries())  # one per worker and batch
    assert in_progress == [("logs", "HTTP 503"), ("logs", "connection refused"), ("traces", "HTTP 503")]
    meter.forget(1)  # that worker is gone
    meter.retry(RetryNews(7, "logs"), 0)  # that batch is done
    assert [(r.subject, r.reason) for r in meter.retries()] == [("traces", "HTTP 503")]
