"""Helpers shared by the tests: running the CLI (in process or as a child process),
writing CodeMachine documents and archives, and counting what the fakes received."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tarfile
import termios
import time
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from click.testing import CliRunner, Result

from otel_replay.cli import main
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "codemachine"
#: The example was recorded on 2026-11-24 from 17:00Z; Loki's clock is set an hour later.
EXAMPLE_NOW_NS = int(datetime(2026, 11, 24, 18, 0, tzinfo=timezone.utc).timestamp()) * 10**9


def replay(*args: str, input: bytes | None = None) -> Result:
    """Run ``otel-replay replay ARGS`` in-process (real sockets, real exporter)."""
    return CliRunner().invoke(main, ["replay", *args], input=input, catch_exceptions=False)


def replay_json(*args: str, input: bytes | None = None) -> tuple[int, dict[str, Any]]:
    result = replay(*args, "--json", input=input)
    return result.exit_code, json.loads(result.stdout)


def problem_lines(summary: dict[str, Any]) -> list[str]:
    """The problems of a ``--json`` summary as the text summary lines them."""
    return [p["text"] for p in summary["problems"]]


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def span_doc(
    trace_id: str = "0af7651916cd43dd8448eb211c80319c", span_id: str = "b7ad6b7169203331", **extra: Any
) -> dict[str, Any]:
    """A span as CodeMachine's exporter writes it: an integer ``startTime`` (ms), a float
    ``endTime`` with a sub-ms fraction, keys in its order."""
    doc: dict[str, Any] = {
        "name": "op",
        "traceId": trace_id,
        "spanId": span_id,
        "startTime": 1795539600000,
        "endTime": 1795539600100.25,
        "duration": 100.25,
        "status": {"code": 0},
        "attributes": {},
        "events": [],
    }
    doc.update(extra)
    return doc


def trace_file(path: Path, spans: list[dict[str, Any]], service: str = "codemachine") -> Path:
    return write_json(
        path,
        {
            "version": 1,
            "service": service,
            "exportedAt": "2026-11-24T17:00:00.000Z",
            "spanCount": len(spans),
            "spans": spans,
        },
    )


#: A CodeMachine log record's resource: exactly these three keys.
LOG_RESOURCE = {"service.name": "codemachine", "service.version": "unknown", "deployment.environment": "development"}


def log_doc(sec: int = 1795539600, nanos: int = 0, body: Any = "hello", **extra: Any) -> dict[str, Any]:
    """A log record as CodeMachine's exporter writes it: an HrTime of whole milliseconds,
    a string body, the trace and span ids as attributes, the three-key resource."""
    doc: dict[str, Any] = {
        "timestamp": [sec, nanos],
        "severityNumber": 9,
        "severityText": "INFO",
        "body": body,
        "attributes": {"trace.id": "0af7651916cd43dd8448eb211c80319c", "span.id": "b7ad6b7169203331"},
        "resource": dict(LOG_RESOURCE),
    }
    doc.update(extra)
    return doc


def log_file(path: Path, logs: list[dict[str, Any]]) -> Path:
    return write_json(
        path,
        {
            "version": 1,
            "service": "codemachine",
            "exportedAt": "2026-11-24T17:00:00.000Z",
            "logCount": len(logs),
            "logs": logs,
        },
    )


#: The resource of a CodeMachine metrics export: the OpenTelemetry JS SDK's Node resource.
NODE_RESOURCE: dict[str, Any] = {
    "host.name": "dev-laptop",
    "host.arch": "amd64",
    "process.pid": 4242,
    "process.executable.name": "bun",
    "process.command_args": [
        "/home/dev/.bun/bin/bun",
        "/home/dev/.bun/install/global/node_modules/codemachine/dist/index.js",
    ],
    "process.runtime.version": "24.3.0",
    "process.runtime.name": "nodejs",
    "service.name": "codemachine",
    "service.version": "unknown",
    "telemetry.sdk.language": "nodejs",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "2.5.0",
}


def data_point(value: Any, start: str, end: str, **attributes: Any) -> dict[str, Any]:
    """A CodeMachine metric data point; ``start``/``end`` are ISO-8601 times with ms."""
    return {"attributes": attributes, "value": value, "startTime": start, "endTime": end}


def metric_doc(name: str, kind: str, points: list[dict[str, Any]], unit: str = "") -> dict[str, Any]:
    """A metric of a CodeMachine export; ``kind`` is the JS DataPointType as a string."""
    return {"name": name, "description": f"{name} description", "unit": unit, "type": kind, "dataPoints": points}


def metrics_export(scopes: dict[str, list[dict[str, Any]]], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    """One periodic export: scope name → its metrics (scope versions are "" in CodeMachine's files)."""
    blocks = [{"scope": {"name": name, "version": ""}, "metrics": metrics} for name, metrics in scopes.items()]
    return {"resource": NODE_RESOURCE if resource is None else resource, "scopeMetrics": blocks}


def metrics_file(path: Path, exports: list[dict[str, Any]]) -> Path:
    return write_json(
        path,
        {
            "version": 1,
            "service": "codemachine",
            "type": "metrics",
            "exportedAt": "2026-11-24T17:00:02.000Z",
            "exportCount": len(exports),
            "metrics": exports,
        },
    )


def write_json_lines(path: Path, docs: list[Any]) -> Path:
    """A JSON Lines file: each of ``docs`` compact on a line of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in docs), encoding="utf-8")
    return path


def spans_bytes(*spans: dict[str, Any]) -> bytes:
    """A CodeMachine trace document of ``spans`` as bytes (for archives, stdin, damaged files)."""
    return json.dumps({"version": 1, "service": "codemachine", "spans": list(spans)}).encode()


def logs_bytes(*logs: dict[str, Any]) -> bytes:
    """A CodeMachine log document of ``logs`` as bytes."""
    return json.dumps({"version": 1, "service": "codemachine", "logs": list(logs)}).encode()


# -- archives ---------------------------------------------------------------------------------
def zip_archive(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def tar_bytes(members: dict[str, bytes], mode: str = "w", **kwargs: Any) -> bytes:
    """A tar archive of ``members`` (``mode`` "w:gz" and ``compresslevel=9`` for a .tar.gz)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, **kwargs) as tf:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tar_archive(path: Path, members: dict[str, bytes], mode: str = "w:gz", **kwargs: Any) -> Path:
    path.write_bytes(tar_bytes(members, mode, **kwargs))
    return path


# -- what the fakes received ----------------------------------------------------------------------
def span_counts(otlp: OtlpReceiver) -> Counter[bytes]:
    """How many times each span id arrived."""
    return Counter(s.span_id for _, _, s in otlp.spans())


def line_counts(loki: LokiReceiver) -> Counter[str]:
    """How many times each log line was stored."""
    return Counter(line for _, _, line, _ in loki.entries())


def entry_counts(loki: LokiReceiver) -> Counter[tuple[int, str]]:
    """How many times each entry (timestamp and line) was stored."""
    return Counter((ts, line) for _, ts, line, _ in loki.entries())


def assert_streams_oldest_first(loki: LokiReceiver, tenant: str = "fake") -> None:
    """Each stream Loki stored got its entries oldest first (the fake keeps them in the
    order they arrived)."""
    streams = loki.tenants.get(tenant, {})
    assert streams, "no stream was stored"
    for key, stream in streams.items():
        times = [ts for ts, _, _ in stream.entries]
        assert times == sorted(times), f"{key}: entries arrived out of order"


def assert_each_once(counts: Counter[Any], expected: int) -> None:
    """``expected`` distinct items arrived, each exactly once."""
    assert len(counts) == expected, f"{len(counts)} distinct, expected {expected}"
    assert set(counts.values()) == {1}, {k: n for k, n in counts.items() if n != 1}


# -- child processes -----------------------------------------------------------------------------
#: The Loki variables otel-replay reads (logcli's names, and its own older one).
LOKI_VARIABLES = (
    "LOKI_ADDR",
    "LOKI_USERNAME",
    "LOKI_PASSWORD",
    "LOKI_ORG_ID",
    "LOKI_BEARER_TOKEN",
    "OTEL_REPLAY_LOKI_PASSWORD",
)


#: The fakes (tests/fakes/) serve every record at once, whatever its age (the fake Loki's
#: clock is the example's, EXAMPLE_NOW_NS): the replays of the tests say so, so that a
#: recording keeps its times, as it would with backends that show it at once (docs/time.md).
#: Tests of the default time shift remove these (tests/test_timechoice.py).
FAKES_SHOW_EVERY_AGE = {
    "OTEL_REPLAY_LOKI_VISIBLE_WITHIN": "0",
    "OTEL_REPLAY_LOKI_MAX_AGE": "0",
    "OTEL_REPLAY_OTLP_VISIBLE_WITHIN": "0",
}


def read_by_us(name: str) -> bool:
    """A variable of the developer's shell that would change what a test's replay does."""
    return name.startswith("OTEL_") or name in LOKI_VARIABLES


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not read_by_us(k) or k in FAKES_SHOW_EVERY_AGE}


def replay_command(*args: str) -> list[str]:
    """``otel-replay replay ARGS`` as a child process runs it."""
    return [sys.executable, "-m", "otel_replay", "replay", *args]


class Children:
    """The child processes a test started (see the ``children`` fixture): each in a
    process group of its own, so killing it also ends the workers it forked."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``command`` (``env``: variables to set on top of the clean environment)."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(command, cwd=ROOT, env={**child_env(), **(env or {})}, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def run(self, command: list[str], timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        """Run to the end, output captured; killed if it takes longer than ``timeout``."""
        proc = self.start(command)
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(command, proc.returncode, out, err)

    def kill_all(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)  # reaps it and closes its pipes


def read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a child's pipe, read unbuffered; fails after ``timeout`` seconds
    without a whole line (a later ``communicate()`` still gets the rest)."""
    fd = stream.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            raise AssertionError(f"no whole line from the child within {timeout} s: {line!r}")
        chunk = os.read(fd, 1)
        if not chunk:
            break
        line += chunk
    return line


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a replay's workers), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def run_in_pty(*args: str, columns: int = 160, timeout: float = 60) -> tuple[int, str]:
    """``otel-replay ARGS`` with a pseudo-terminal as its stdout (as a person sees it)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**child_env(), "TERM": "xterm-256color", "COLUMNS": str(columns)}
    env.pop("NO_COLOR", None)
    children = Children()
    try:
        proc = children.start([sys.executable, "-m", "otel_replay", *args], env=env, stdout=follower, stderr=follower)
        os.close(follower)
        out = b""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([leader], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"no output for {timeout} s: {out[-500:]!r}"
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(timeout=timeout), out.decode("utf-8")
    finally:
        os.close(leader)
        children.kill_all()
