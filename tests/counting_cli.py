"""``python -m tests.counting_cli COUNT_FILE replay ARGS…``: the command line with its
decompressor and its readers instrumented. Each process of the run (its workers are
forked from this one, so they are instrumented too) appends to COUNT_FILE one line
``decompressed PID BYTES`` for every read of a gzip/zstandard stream, and one line
``read PID NAME`` for every input a pipeline or a first pass opens.

With ``OTEL_REPLAY_TEST_HOLD=FOLDER`` (holding a FIFO ``arrived``), the first worker
process to start ``--shift-to-now``'s first pass on an input writes its pid into
``arrived`` and stops there for good (the test kills it); with
``OTEL_REPLAY_TEST_HOLD_IDENTIFY=1`` too, the first to start the second look at an input
whose old log records the first pass left unidentified (timechoice.RecordTimes).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from otel_replay import pipeline
from otel_replay.cli import main
from otel_replay.execute import worker
from otel_replay.sources import streams
from otel_replay.sources.discover import InputFile

COUNT_FILE = sys.argv[1]
HOLD = os.environ.get("OTEL_REPLAY_TEST_HOLD")
HOLD_IDENTIFY = os.environ.get("OTEL_REPLAY_TEST_HOLD_IDENTIFY")  # hold in the second look only
PARENT = os.getpid()  # forked workers inherit it


def _log(line: str) -> None:
    with open(COUNT_FILE, "a", encoding="utf-8") as fh:  # one short append per line: never interleaved
        fh.write(line + "\n")


_decompress = streams._Decompressed.readinto


def _counting_readinto(self: Any, buf: Any) -> int:
    n = _decompress(self, buf)
    if n:
        _log(f"decompressed {os.getpid()} {n}")
    return n


_read_input = pipeline.read_input


def _logging_read_input(item: InputFile, *args: Any) -> Any:
    _log(f"read {os.getpid()} {item.name}")
    return _read_input(item, *args)


_document_times = pipeline.document_times


def _logging_document_times(item: InputFile, *args: Any) -> Any:
    found = _document_times(item, *args)
    if found is not None:  # the first pass read the document's times alone (else read_input reads it)
        _log(f"read {os.getpid()} {item.name}")
    return found


_times_in = worker.plan_times_in


def _holding_times_in(*args: Any) -> Any:
    identifying = not args[2].defer  # the blank RecordTimes: a second look, or --keep-times
    if HOLD and os.getpid() != PARENT and identifying == bool(HOLD_IDENTIFY):
        try:
            os.close(os.open(os.path.join(HOLD, "claimed"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return _times_in(*args)  # another worker is the one held
        with open(os.path.join(HOLD, "arrived"), "w") as fh:
            fh.write(f"{os.getpid()}\n")
        threading.Event().wait()
    return _times_in(*args)


streams._Decompressed.readinto = _counting_readinto  # type: ignore[method-assign]
pipeline.read_input = _logging_read_input  # type: ignore[assignment]
pipeline.document_times = _logging_document_times  # type: ignore[assignment]
worker.plan_times_in = _holding_times_in  # type: ignore[assignment]

if __name__ == "__main__":
    main(sys.argv[2:])
