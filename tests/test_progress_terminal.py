"""The progress line as a person sees it: the real command in a real pseudo-terminal of
80 columns, its output fed to a terminal emulator (pyte), against the loopback Loki whose
answers the test holds back and then refuses (503) until the screen has shown what is
asserted. Every wait is on what the screen shows, with a deadline. Piped stderr gets no
line at all, and a retry's cause once, not per attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyte
import pytest

from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver, tempo_error
from tests.fakes.server import Answer
from tests.helpers import (
    EXAMPLE_NOW_NS,
    ROOT,
    Children,
    assert_each_once,
    child_env,
    line_counts,
    log_doc,
    log_file,
    replay_command,
    span_doc,
    trace_file,
)

COLUMNS, ROWS = 80, 24
#: A file name a hostile archive could carry: a colour, a window title and a bell.
HOSTILE = "evil\x1b[31m\x1b]0;owned\x07.json"
HOSTILE_SHOWN = "\\x1b[31m\\x1b]0;owned\\x07.json"
DEADLINE = 60.0
SEC = EXAMPLE_NOW_NS // 10**9 - 3600


class Terminal:
    """A child process on a pseudo-terminal, its screen as a terminal emulator shows it."""

    def __init__(self, command: list[str]) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            command[0], command[1:], cwd=str(ROOT), env=child_env(), dimensions=(ROWS, COLUMNS), timeout=DEADLINE
        )

    def resize(self, columns: int) -> None:
        """The terminal's width changes (as a window is resized: the child gets SIGWINCH)."""
        self.screen.resize(ROWS, columns)
        self.child.setwinsize(ROWS, columns)

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display]

    def _pump(self, timeout: float) -> bool:
        """Feed what the child wrote (up to ``timeout`` s); False once it closed the terminal."""
        try:
            self._stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def wait_for(self, what: str, shows: Callable[[list[str]], bool]) -> list[str]:
        """The screen's rows once ``shows(rows)`` holds; fails after the deadline."""
        deadline = time.monotonic() + DEADLINE
        while not shows(self.rows()):
            assert time.monotonic() < deadline, f"the screen never showed {what}:\n" + "\n".join(self.rows())
            if not self._pump(0.2) and not shows(self.rows()):
                raise AssertionError(f"the replay ended before the screen showed {what}:\n" + "\n".join(self.rows()))
        return self.rows()

    def wait_end(self) -> int:
        deadline = time.monotonic() + DEADLINE
        while self._pump(0.2):
            assert time.monotonic() < deadline, "the replay did not end:\n" + "\n".join(self.rows())
        self.child.close()
        return int(self.child.exitstatus)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


class HeldLoki:
    """Loki's answers held back until :attr:`release`, then 503 until :attr:`accept`."""

    def __init__(self, loki: LokiReceiver) -> None:
        self.release, self.accept = threading.Event(), threading.Event()
        loki.fault = self._fault

    def _fault(self, n: int) -> Any:
        self.release.wait(DEADLINE)
        if not self.accept.is_set():
            return Answer(503, b"ingester overloaded", headers={"Retry-After": "1"})
        return None

    def open(self) -> None:
        self.release.set()
        self.accept.set()


def _inputs(folder: Path, hostile_first: bool = False) -> Path:
    """Two log files of 20 records each, one with a hostile name: first or last in order."""
    names = ["50-logs.json", ("00-" if hostile_first else "99-") + HOSTILE]
    for f, name in enumerate(sorted(names)):
        logs = [log_doc(sec=SEC + f * 100 + i, body=f"file {f} line {i}") for i in range(20)]
        log_file(folder / name, logs)
    return folder


def _progress_row(rows: list[str]) -> str | None:
    return next((r for r in rows if "sent " in r and "%" in r), None)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_progress_line_on_an_80_column_terminal(tmp_path: Path, loki: LokiReceiver, workers: str) -> None:
    """While Loki holds the requests: one line, within 79 columns, with the bar, the
    percentage, the bytes, the records sent and read, and the hostile file name as text
    (no colour, no window title); at 50 columns, the line fitted again. While Loki
    refuses: the line says it retries the logs, when and why. At the end: no trace of
    the line, the summary, exit 0.

    The line names the input being read: in one process the last one read (its records
    are the ones held), with workers the earliest one still being read (Loki's turn is
    its): the hostile name is put where it is that input."""
    held = HeldLoki(loki)
    folder = _inputs(tmp_path / "in", hostile_first=workers == "2")
    term = Terminal(
        replay_command(str(folder), "--logs-only", "--loki-url", loki.url, "--workers", workers, "--timeout", "60s")
    )
    try:
        rows = term.wait_for(  # every record read counted, from every worker
            "the progress line with the file's name", lambda r: any(HOSTILE_SHOWN in x and "sent 0/40" in x for x in r)
        )
        line = _progress_row(rows)
        assert line is not None, rows
        assert line.startswith("[#") and "]  100%" in line, line  # every byte read: the bar is full
        assert "KiB" in line, line
        assert len(line) <= COLUMNS - 1
        assert sum(1 for r in rows if r) == 1, rows  # one line: nothing wrapped, nothing else yet
        row = rows.index(line)
        assert all(char.fg == "default" for char in term.screen.buffer[row].values())  # the escape did nothing
        assert term.screen.title == ""

        term.resize(50)  # a narrower terminal: the line is fitted again, the file name goes first
        rows = term.wait_for("the line fitted to 50 columns", lambda r: any(x.endswith("sent 0/40") for x in r))
        line = next(r for r in rows if r.endswith("sent 0/40"))
        assert line.startswith("[#") and "]  100%  17" in line and len(line) <= 49, line
        term.resize(COLUMNS)

        held.release.set()
        rows = term.wait_for("the retry", lambda r: any("retrying logs" in x for x in r))
        line = next(r for r in rows if "retrying logs" in r)
        assert "HTTP 503" in line and ("in 0:0" in line or "now" in line), line
        assert "100%" in line and len(line) <= COLUMNS - 1, line
        assert sum(1 for r in rows if r) == 1, rows

        held.accept.set()
        status = term.wait_end()
        rows = term.rows()
    finally:
        held.open()
        term.close()
    assert status == 0, "\n".join(rows)
    assert not any("retrying" in r or "[#" in r for r in rows), rows  # the line is gone
    assert any("logs" in r and "40" in r for r in rows), rows  # the summary counts the 40 records
    assert_each_once(line_counts(loki), 40)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_piped_stderr_has_no_line_and_says_a_retry_once_per_cause(
    tmp_path: Path, loki: LokiReceiver, children: Children, workers: str
) -> None:
    """Loki refuses three pushes in a row (503, asking to retry at once), then accepts:
    stderr (a pipe) says the retry once, with its cause, and carries no progress line."""
    loki.fault = lambda n: Answer(503, b"ingester overloaded", headers={"Retry-After": "0"}) if n <= 3 else None
    folder = _inputs(tmp_path / "in")
    command = replay_command(str(folder), "--logs-only", "--loki-url", loki.url, "--workers", workers)
    done = children.run([*command, "--concurrency", "1"])
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert loki.faults_served == ["503"] * 3
    said = [line for line in err.splitlines() if "retrying" in line]
    assert len(said) == 1, err
    assert said[0].startswith("otel-replay: logs: HTTP 503") and "next attempt in 0 s" in said[0], said
    assert "\r" not in err and "\x1b" not in err and "%" not in err
    assert_each_once(line_counts(loki), 40)


def test_the_otlp_exporters_retries_are_said_too(tmp_path: Path, children: Children) -> None:
    """The official exporter runs its own retries: what it says of them is heard too."""
    trace_file(tmp_path / "in" / "t.json", [span_doc()])
    slow_down = tempo_error("rate limited", 429, {"Retry-After": "0"})
    with OtlpReceiver.tempo(scripted=[slow_down, slow_down]) as tempo:
        command = replay_command(str(tmp_path / "in"), "--traces-only", "--otlp-endpoint", tempo.url)
        done = children.run([*command, "--workers", "1"])
        assert tempo.attempts == 3
    err = done.stderr.decode()
    assert done.returncode == 0, err
    said = [line for line in err.splitlines() if "retrying" in line]
    assert len(said) == 1 and said[0].startswith("otel-replay: traces: HTTP 429 Too Many Requests; retrying"), err


def test_with_scrub_the_line_names_the_input_as_scrubbed(tmp_path: Path, loki: LokiReceiver) -> None:
    """--scrub rewrites what the run says: the input being read, named on the line, is
    under a home folder; the line shows it with the user's name replaced."""
    held = HeldLoki(loki)
    folder = tmp_path / "home" / "plantuser"
    log_file(folder / "l-logs.json", [log_doc(sec=SEC + i, body=f"line {i}") for i in range(20)])
    command = replay_command(str(folder), "--logs-only", "--loki-url", loki.url, "--workers", "1", "--timeout", "60s")
    term = Terminal([*command, "--scrub", "pii"])
    try:
        term.resize(200)  # the whole path fits: the line is not cut before the user's name
        rows = term.wait_for("the line with the scrubbed name", lambda r: any("l-logs.json" in x for x in r))
        line = _progress_row(rows)
        assert line is not None and "/home/‹user:" in line and "sent 0/20" in line, rows
        assert not any("plantuser" in r for r in rows), rows
        held.open()
        status = term.wait_end()
    finally:
        held.open()
        term.close()
    assert status == 0
