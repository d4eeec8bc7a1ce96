"""Real Tempo and Loki processes for the integration suite, and their query APIs.

Both start from the project's own ``docker/tempo.yaml`` / ``docker/loki.yaml`` with
``-config.expand-env=true``: the variables those configs read move the ports, listen
addresses and data folders to free loopback ports and a temporary folder; every limit
stays at what the configs (and so the compose stack) give.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
READY_DEADLINE_S = 120.0
#: SIGTERM, then SIGKILL after this long. Tempo 2.7.2 exits within ~2 s when idle, but once
#: it has answered a trace-by-id query it mostly does not exit on SIGTERM at all (observed:
#: still running 300 s later, its query frontend's request queue waiting in stopping()), so
#: the suite's Tempo is usually killed after this grace. Loki exits within a second or two.
STOP_GRACE_S = 30.0
T = TypeVar("T")


class BackendError(RuntimeError):
    pass


BINARIES = ("TEMPO_BIN", "LOKI_BIN")
#: The versions this suite proves docker/tempo.yaml and docker/loki.yaml with. The compose
#: stack runs these same versions (tests/test_docker_configs.py checks its images), and
#: test_config_binaries.py checks that the binaries are these.
VERSIONS = {"tempo": "2.7.2", "loki": "3.4.6"}


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if not os.environ.get(name)]


def require_binaries() -> None:
    """Called at the top of every test module that needs the backends: without them the
    module is skipped, and pytest folds every such skip into one line."""
    if missing := missing_binaries():
        pytest.skip(
            f"real backends: {' and '.join(missing)} not set (`make test-real` unpacks them when "
            "../shared/backends/unpack exists; or set them to your own Tempo and Loki binaries)",
            allow_module_level=True,
        )


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (held open together while chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent() -> None:
    """In the child: SIGKILL when the process that started it dies (Linux), so a test run
    that is itself killed leaves no backend behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, bytes]:
    """One request; any HTTP status is an answer (no exception), a connection error raises OSError."""
    status, _, payload = http_answer(method, url, body, headers, timeout)
    return status, payload


def http_answer(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, str, bytes]:
    """As :func:`http`, with the answer's Content-Type too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def poll(what: str, probe: Callable[[], T | None], deadline_s: float, interval_s: float = 0.2) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"gave up after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval_s)  # a poll interval, not a synchronisation: the condition decides


@dataclass
class Backend:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    api_url: str
    proc: subprocess.Popen[bytes] | None = None
    ready_after_s: float = 0.0
    stop_took_s: float = 0.0
    killed: bool = False
    _started_at: float = field(default=0.0, repr=False)
    _terminated_at: float = field(default=0.0, repr=False)

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.log_path.parent,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C meant for pytest does not reach it first
                preexec_fn=_die_with_parent,
            )
        self._started_at = time.monotonic()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def ready(self) -> bool:
        """True once ``GET /ready`` answers 200; raises if the process has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BackendError(
                f"{self.name} exited with status {self.proc.returncode} before it was ready "
                f"({' '.join(self.command)}); its log ends:\n{self.log_tail()}"
            )
        try:
            status, _ = http("GET", f"{self.api_url}/ready", timeout=2)
        except OSError:
            return False
        if status == 200:
            self.ready_after_s = time.monotonic() - self._started_at
            return True
        return False

    def terminate(self) -> None:
        """Send SIGTERM (once) if it is running."""
        proc = self.proc
        if proc is None or proc.poll() is not None or self._terminated_at:
            return
        self._terminated_at = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_GRACE_S from it, then SIGKILL; always reaps the process."""
        proc = self.proc
        if proc is None:
            return
        self.terminate()
        began = self._terminated_at or time.monotonic()
        try:
            proc.wait(timeout=max(0.0, began + STOP_GRACE_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=30)
        self.stop_took_s = time.monotonic() - began


def stop_all(backends: list[Backend]) -> None:
    """SIGTERM all at once, note when each exits, SIGKILL what is left after STOP_GRACE_S."""
    for b in backends:
        b.terminate()
    end = time.monotonic() + STOP_GRACE_S
    exits: dict[int, Backend] = {}  # a pidfd each: readable once its process has exited (Linux 5.3)
    try:
        for b in backends:
            if b.proc is not None and b.proc.returncode is None:  # not reaped: its pid is still its own
                exits[os.pidfd_open(b.proc.pid)] = b
        while exits and (left := end - time.monotonic()) > 0:
            exited, _, _ = select.select(list(exits), [], [], left)
            for fd in exited:
                b = exits.pop(fd)
                os.close(fd)
                b.stop_took_s = time.monotonic() - b._terminated_at if b._terminated_at else 0.0
                b.proc.wait()  # type: ignore[union-attr]  # reaped: it has exited
        running = list(exits.values())
    finally:
        for fd in exits:
            os.close(fd)
    for b in running:
        b.stop()  # past its grace: killed


def tempo(binary: str, data: Path) -> tuple[Backend, str, str]:
    """A Tempo on free loopback ports; returns it, its OTLP/HTTP base URL and its OTLP/gRPC endpoint."""
    http_port, grpc_port, otlp_http, otlp_grpc = free_ports(4)
    data.mkdir(parents=True, exist_ok=True)
    env = {
        "TEMPO_LISTEN_ADDRESS": "127.0.0.1",
        "TEMPO_HTTP_PORT": str(http_port),
        "TEMPO_GRPC_PORT": str(grpc_port),
        "TEMPO_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{otlp_http}",
        "TEMPO_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{otlp_grpc}",
        "TEMPO_DATA": str(data),
    }
    command = [
        binary,
        f"-config.file={DOCKER / 'tempo.yaml'}",
        "-config.expand-env=true",
        "-reporting.enabled=false",  # no usage report to grafana.com from a test
    ]
    backend = Backend("tempo", command, env, data / "tempo.log", f"http://127.0.0.1:{http_port}")
    return backend, f"http://127.0.0.1:{otlp_http}", f"http://127.0.0.1:{otlp_grpc}"


def loki(binary: str, data: Path) -> Backend:
    http_port, grpc_port = free_ports(2)
    data.mkdir(parents=True, exist_ok=True)
    env = {
        "LOKI_LISTEN_ADDRESS": "127.0.0.1",
        "LOKI_HTTP_PORT": str(http_port),
        "LOKI_GRPC_PORT": str(grpc_port),
        "LOKI_DATA": str(data),
    }
    command = [binary, f"-config.file={DOCKER / 'loki.yaml'}", "-config.expand-env=true"]
    return Backend("loki", command, env, data / "loki.log", f"http://127.0.0.1:{http_port}")


def wait_ready(backends: list[Backend], deadline_s: float = READY_DEADLINE_S) -> None:
    """Wait for all of them at once (their start-up overlaps)."""
    end = time.monotonic() + deadline_s
    waiting = list(backends)
    while waiting:
        waiting = [b for b in waiting if not b.ready()]
        if not waiting:
            return
        if time.monotonic() > end:
            tails = "\n\n".join(f"{b.name} log ends:\n{b.log_tail()}" for b in waiting)
            names = ", ".join(b.name for b in waiting)
            raise BackendError(f"{names} not ready (GET /ready != 200) after {deadline_s:.0f} s\n{tails}")
        time.sleep(0.25)  # a poll interval, not a synchronisation: only asking /ready tells readiness


@dataclass
class Stack:
    tempo: Backend
    otlp_url: str
    loki: Backend
    otlp_grpc_url: str = ""  # Tempo's OTLP/gRPC receiver (scheme://host:port)

    @property
    def tempo_url(self) -> str:
        return self.tempo.api_url

    @property
    def loki_url(self) -> str:
        return self.loki.api_url


@contextlib.contextmanager
def running_stack(tempo_bin: str, loki_bin: str, data: Path) -> Iterator[Stack]:
    """Both backends, started together; both stopped on the way out, whatever happened."""
    t, otlp_url, otlp_grpc_url = tempo(tempo_bin, data / "tempo")
    lk = loki(loki_bin, data / "loki")
    try:
        t.start()
        lk.start()
        wait_ready([t, lk])
        yield Stack(t, otlp_url, lk, otlp_grpc_url)
    finally:
        stop_all([t, lk])


# -- Tempo's query API -------------------------------------------------------------------------
def tempo_trace(stack: Stack, trace_id_hex: str) -> dict[str, Any]:
    """``GET /api/v2/traces/<id>``: the trace as OTLP/JSON (ids base64), ``{}`` if unknown yet."""
    status, body = http("GET", f"{stack.tempo_url}/api/v2/traces/{trace_id_hex}")
    if status == 404:
        return {}
    if status != 200:
        raise AssertionError(f"Tempo answered {status} for trace {trace_id_hex}: {body[:500]!r}")
    return json.loads(body).get("trace") or {}


def span_count(trace: dict[str, Any]) -> int:
    return sum(len(ss.get("spans", [])) for rs in trace.get("resourceSpans", []) for ss in rs.get("scopeSpans", []))


def wait_for_trace(stack: Stack, trace_id_hex: str, spans: int, deadline_s: float = 60.0) -> dict[str, Any]:
    """Poll until Tempo returns at least ``spans`` spans for the trace (it answers 200 with
    an empty trace for an id it does not have yet); the trace as returned."""

    def probe() -> dict[str, Any] | None:
        trace = tempo_trace(stack, trace_id_hex)
        return trace if span_count(trace) >= spans else None

    return poll(f"{spans} spans of trace {trace_id_hex} in Tempo", probe, deadline_s)


def tempo_live_traces(stack: Stack) -> float | None:
    """Tempo's ``tempo_ingester_live_traces`` gauge (traces not yet written to its WAL block)."""
    status, body = http("GET", f"{stack.tempo_url}/metrics")
    assert status == 200, status
    for line in body.decode().splitlines():
        if line.startswith("tempo_ingester_live_traces{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_until_tempo_cut_its_live_traces(stack: Stack, deadline_s: float = 90.0) -> None:
    """Until Tempo has written the traces just pushed to its WAL block. It cuts a trace
    once it has been idle for trace_idle_period (10 s), in a sweep every
    flush_check_period (10 s) that also sets the ``tempo_ingester_live_traces`` gauge
    (before cutting). So: wait for a sweep that counts live traces, then for one that
    finds none left. Before the cut, trace-by-id answers from the live trace, where a
    span pushed twice shows once; after it, from the block, where both copies show. A
    duplicate check must read after this, called right after the push (the traces then
    stay live for at least trace_idle_period, so a sweep is bound to count them)."""
    seen_live = False

    def cut() -> bool | None:
        nonlocal seen_live
        live = tempo_live_traces(stack)
        seen_live = seen_live or bool(live)
        return (seen_live and live == 0) or None

    poll("a Tempo sweep that counts live traces, then one that finds none", cut, deadline_s, 0.5)


# -- Loki's query API --------------------------------------------------------------------------
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def loki_get(stack: Stack, path: str, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    url = f"{stack.loki_url}{path}?{urllib.parse.urlencode(params)}"
    status, body = http("GET", url, headers=headers)
    if status != 200:
        raise AssertionError(f"Loki answered {status} to {path} {params}: {body[:500]!r}")
    return json.loads(body)["data"]


@dataclass
class LokiEntry:
    labels: dict[str, str]
    ts_ns: int
    line: str
    metadata: dict[str, str]


def loki_entries(stack: Stack, selector: str, start_ns: int, end_ns: int, limit: int = 5000) -> list[LokiEntry]:
    """Every entry of ``selector`` with start <= time < end (Loki's range), oldest first,
    with its stream labels and structured metadata kept apart (categorize-labels). A
    window that reaches Loki's per-query entry limit is read again in two halves."""
    data = loki_get(
        stack,
        "/loki/api/v1/query_range",
        {"query": selector, "start": str(start_ns), "end": str(end_ns), "limit": str(limit), "direction": "forward"},
        CATEGORIZE,
    )
    out = []
    for stream in data["result"]:
        for value in stream["values"]:
            ts, line = value[0], value[1]
            meta = value[2] if len(value) > 2 else {}
            out.append(LokiEntry(stream["stream"], int(ts), line, dict(meta.get("structuredMetadata", {}))))
    if len(out) >= limit:
        assert end_ns - start_ns > 1, f"{selector}: {len(out)} entries at one instant"
        mid = (start_ns + end_ns) // 2
        return loki_entries(stack, selector, start_ns, mid, limit) + loki_entries(stack, selector, mid, end_ns, limit)
    out.sort(key=lambda e: (e.ts_ns, e.line))
    return out


def loki_count(stack: Stack, selector: str, window: str = "6h") -> int:
    """How many entries of ``selector`` Loki serves from the last ``window`` (an instant
    metric query, so no entry limit applies)."""
    now_ns = time.time_ns() + 60 * 10**9
    data = loki_get(
        stack,
        "/loki/api/v1/query",
        {"query": f"sum(count_over_time({selector} [{window}]))", "time": str(now_ns)},
    )
    result = data["result"]
    return int(float(result[0]["value"][1])) if result else 0


def wait_for_count(stack: Stack, selector: str, expected: int, deadline_s: float = 60.0) -> int:
    """Poll until Loki serves at least ``expected`` entries; the count then."""
    return poll(
        f"{expected} entries of {selector} in Loki",
        lambda: n if (n := loki_count(stack, selector)) >= expected else None,
        deadline_s,
    )
