"""A loopback HTTP relay in front of a real backend, for a kill at a known instant.

Every request is forwarded to the backend as it came and the backend's answer is passed
back, except for the requests ``hold`` picks: those are forwarded and answered by the
backend (so it has stored them), but the answer is withheld from the client until the
test releases it, and then the connection is dropped. A client killed meanwhile never
learns that the backend has its batch: the one case a resume journal cannot know about.
otel-replay's check before a run (an empty export request) is forwarded and answered as
it is, but neither counted nor held: ``hold``'s n counts the requests that carry data.
"""

from __future__ import annotations

import gzip
import http.client
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_FORWARDED = ("Content-Type", "Content-Encoding", "User-Agent", "X-Scope-OrgID", "Authorization")


def _empty(body: bytes, encoding: str | None) -> bool:
    """Whether a request carries no telemetry (no bytes, or gzip of none)."""
    if (encoding or "").lower() == "gzip" and body:
        try:
            return gzip.decompress(body) == b""
        except OSError:
            return False
    return not body


class Relay:
    def __init__(self, target: str, hold: Callable[[int, str], bool]) -> None:
        parsed = urllib.parse.urlsplit(target)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.hold = hold
        self.held = threading.Event()  # set once a held answer is being withheld
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.count = 0
        self.statuses: list[int] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # Loki's GET /ready, otel-replay's check: passed on as it is
                self.do_POST()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                probe = self.command == "GET" or _empty(body, self.headers.get("Content-Encoding"))
                with relay.lock:
                    relay.count += 0 if probe else 1
                    n = relay.count
                conn = http.client.HTTPConnection(relay._host, relay._port, timeout=60)
                try:
                    headers = {k: v for k in _FORWARDED if (v := self.headers.get(k)) is not None}
                    conn.request(self.command, self.path, body if self.command == "POST" else None, headers)
                    resp = conn.getresponse()
                    payload = resp.read()
                finally:
                    conn.close()
                if not probe:
                    with relay.lock:
                        relay.statuses.append(resp.status)
                if not probe and relay.hold(n, self.path):
                    relay.held.set()
                    relay.release.wait(300)
                    self.close_connection = True
                    return  # no answer: the client never learns the backend stored it
                self.send_response(resp.status)
                for key in ("Content-Type", "Retry-After"):
                    if (value := resp.getheader(key)) is not None:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
