"""``inspect``'s start-up is mostly imports: the inspect path must not import what only a
replay, a read-back or a terminal needs (docs/inspect.md, Speed). Not timed: the modules
a real ``otel-replay inspect`` process imported are listed and checked."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import EXAMPLE

#: Modules (and their submodules) the inspect path must not import when printing plain text.
NOT_FOR_INSPECT = (
    "multiprocessing",  # the replay's workers
    "otel_replay.runner",
    "otel_replay.execute",
    "otel_replay.verify.run",  # the read-back's readers
    "opentelemetry.sdk",  # the SDK and exporters: only a replay that sends
    "opentelemetry.exporter",
    "grpc",
    "rich",  # only on a terminal
)
PROGRAM = """
import json, sys
from otel_replay.cli import main
try:
    main(["inspect", sys.argv[1]])
except SystemExit:
    pass
sys.stderr.write(json.dumps(sorted(sys.modules)))
"""


def test_inspect_imports_only_what_it_uses() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM, str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert "traces (2, 1 with errors)" in proc.stdout, proc.stderr[-2000:]  # it did inspect
    modules = json.loads(proc.stderr)
    unwanted = [m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_FOR_INSPECT)]
    assert unwanted == []
