"""A tiny threaded HTTP server base shared by the fake backends, with fault injection.

``fault(n)`` is asked about the n-th request (from 1) before the backend sees it and may
answer it instead: an :class:`Answer` (a 429 or 503), ``"reset"`` (the connection is
dropped without an answer), ``"stall"`` (no answer until the client gives up and closes
the connection, or ``stall_seconds`` pass), or
``"down"`` (the server stops listening for ``outage_seconds`` and then comes back on the
same port). A faulted request is never stored, so a record that arrives twice is a bug.

Before a run sends, otel-replay asks each destination whether it is there (Loki's
``GET /ready``, an empty OTLP export request): :meth:`FakeServer.probe` answers those,
outside the fault schedule and the request counts, so ``fault(n)`` still means the n-th
request that carries data.

``OTEL_REPLAY_FAKE_LATENCY=SECONDS`` (or ``latency`` on an instance) delays every answer by
that much, as a slow network or a loaded backend would: the suite must pass with it too.
Each request's arrival time (``time.monotonic()``) is kept in ``arrivals``.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import select
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Fault = Any  # Answer | "reset" | "stall" | "down"
#: Read once, on import: the tests' own fixture clears every OTEL_* variable before each test.
LATENCY = float(os.environ.get("OTEL_REPLAY_FAKE_LATENCY") or 0)


class Answer:
    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


class FakeServer:
    """Subclasses implement ``handle(method, path, headers, body) -> Answer``."""

    #: How many fakes (these and the gRPC one) have been started in this process: tests/conftest.py
    #: checks that every test that starts one is marked ``fakes`` (the latency run's tests).
    started = 0

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        fake = self
        self._tls = tls

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # answer at once, as Go servers do (no 40 ms delayed-ACK stall)

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _drop(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True

            def _hold(self) -> None:
                """No answer until the client closes the connection (it gave up: a client
                sends nothing more on it before an answer), ``stall_seconds`` pass, or the
                server stops."""
                deadline = time.monotonic() + fake.stall_seconds
                while not fake._released.is_set() and (left := deadline - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.1))
                    if readable:  # end of stream or a reset: the client is gone
                        return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                arrival = time.monotonic()
                if fake.latency > 0:
                    time.sleep(fake.latency)  # simulated latency, not synchronisation
                probed = fake.probe(self.command, self.path, self.headers, body)
                if probed is not None:  # otel-replay's check before a run: no fault, not counted
                    with fake.lock:
                        fake.probes.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                    self._write(probed)
                    return
                with fake.lock:
                    fake.arrivals.append(arrival)
                fault = fake._next_fault()
                if isinstance(fault, str):
                    if fault == "stall":
                        self._hold()
                    elif fault == "down":
                        fake._go_down()
                    self._drop()
                    return
                answer = fault or fake.handle(self.command, self.path, self.headers, body)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client has gone
                    self._write(answer)

            def _write(self, answer: Answer) -> None:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = _serve
            do_GET = _serve

        self._handler = Handler
        self._httpd = self._listen(0)
        self.lock = threading.Lock()
        self.fault: Callable[[int], Fault | None] | None = None
        self.stall_seconds = 10.0
        self.outage_seconds = 0.5
        self.requests_seen = 0
        self.arrivals: list[float] = []
        self.latency = LATENCY
        self.faults_served: list[str] = []
        self.probes: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers) of each probe
        self._released = threading.Event()
        self._restart: threading.Timer | None = None
        self._stopped = False

    def _listen(self, port: int) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler)
        httpd.daemon_threads = True
        if self._tls is not None:
            httpd.socket = self._tls.wrap_socket(httpd.socket, server_side=True)
        return httpd

    def _serve_forever(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def _next_fault(self) -> Fault | None:
        with self.lock:
            self.requests_seen += 1
            n = self.requests_seen
        fault = self.fault(n) if self.fault is not None else None
        if fault is not None:
            with self.lock:
                self.faults_served.append(fault if isinstance(fault, str) else str(fault.status))
        return fault

    def _go_down(self) -> None:
        """Stop listening now (connections are refused) and come back on the same port later."""
        httpd, port = self._httpd, self._httpd.server_address[1]
        httpd.shutdown()
        httpd.server_close()

        def come_back() -> None:
            with self.lock:
                if self._stopped:
                    return
                self._httpd = self._listen(port)
            self._serve_forever()

        self._restart = threading.Timer(self.outage_seconds, come_back)
        self._restart.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def start(self) -> FakeServer:
        FakeServer.started += 1
        self._serve_forever()
        return self

    def stop(self) -> None:
        with self.lock:
            self._stopped = True
        self._released.set()
        if self._restart is not None:
            self._restart.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:  # pragma: no cover
        raise NotImplementedError

    def probe(self, method: str, path: str, headers: Any, body: bytes) -> Answer | None:
        """The answer to otel-replay's check that the backend is there (Loki's ``GET
        /ready``, an empty OTLP request), as the real backend gives it; None: not a probe.
        Probes are kept in ``probes``, never faulted and not counted as requests."""
        return None


def decompress(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body
