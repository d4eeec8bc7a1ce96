"""HTTP for our own sinks: one attempt at a time (retries: :mod:`otel_replay.sinks.delivery`),
sessions that keep their TLS choice, and transport errors in a few words."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from isal import igzip

from otel_replay.sinks.delivery import Outcome, Permanent, Retryable


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_CERT = re.compile(r"certificate verify failed: ([^()'\"]+)", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def describe_exception(exc: BaseException | str) -> str:
    """A short human reason for a transport error (not requests' nested repr)."""
    text = str(exc)
    m = _ERRNO.search(text)
    if m:
        return m.group(1).strip().rstrip(".").lower()
    lowered = text.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if m := _CERT.search(text):
        return "TLS certificate verify failed: " + m.group(1).strip().rstrip(".")
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS error: " + one_line(text, 160)
    return one_line(text, 200)


def gzipped(body: bytes) -> bytes:
    """A request body as gzip (RFC 1952), compressed by Intel's ISA-L at level 1: a fifth
    of zlib's time at its level 1 and a sixteenth of the official exporter's level 9, for
    a body 1 to 20 % larger than theirs. It lets other threads run meanwhile."""
    return igzip.compress(body, compresslevel=1)


class VerifyingSession(requests.Session):
    """A session whose ``verify`` setting is the one used.

    Plain requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's
    ``verify`` (psf/requests#3829), which would silently ignore ``--certificate`` and
    ``--insecure`` on machines that set them. Passing it with every request keeps the
    session's choice; with the default (True) those variables still apply.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], dict[str, Any]] = {}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)

    def merge_environment_settings(
        self, url: str, proxies: Mapping[str, str] | None, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """What requests takes from the environment (the proxy variables, a CA bundle),
        worked out once per destination and settings: requests walks the whole environment
        twice for every request, and it does not change during a run."""
        where = urlsplit(url)
        given = None if proxies is None else tuple(sorted(proxies.items()))  # None: requests merges none
        key = (where.scheme, where.netloc, given, stream, verify, cert,
               self.trust_env, tuple(sorted(self.proxies.items())), self.stream, self.verify, self.cert)  # fmt: skip
        try:
            found = self._environment.get(key)
        except TypeError:  # a value that cannot be a key (a list as cert): as requests does it
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if found is None:
            if len(self._environment) >= 64:
                self._environment.clear()
            mine = None if proxies is None else dict(proxies)  # requests adds to the one it is given
            found = self._environment[key] = super().merge_environment_settings(url, mine, stream, verify, cert)
        return {**found, "proxies": dict(found["proxies"])}


#: Transport errors worth another attempt, as the official exporters judge them (a TLS or
#: proxy error is a ``ConnectionError`` too); any other (a bad URL, say) is final.
RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout)

Classify = Callable[[int, bytes, "str | None", Callable[[], Mapping[str, int]]], Outcome]


def post_once(
    session: requests.Session,
    url: str,
    data: bytes,
    headers: Mapping[str, str],
    timeout: float,
    classify: Classify,
    stream_entries: Callable[[], Mapping[str, int]],
) -> tuple[Outcome, str]:
    """One POST: its outcome (``classify`` reads an answer) and what came back, in a few
    words (``HTTP 204``, ``connection refused``) for the verbose log."""
    try:
        resp = session.post(url, data=data, headers=dict(headers), timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        reason = describe_exception(exc)
        if isinstance(exc, RETRYABLE_ERRORS):
            return Retryable(reason), reason
        return Permanent(reason, refused=False), reason
    outcome = classify(resp.status_code, resp.content, resp.headers.get("Retry-After"), stream_entries)
    return outcome, f"HTTP {resp.status_code}"


#: The frame an HTTP/2 server (every gRPC server) sends first: 3 bytes of length, type 4.
_SETTINGS_FRAME_TYPE = 4


def speaks_grpc(url: str, timeout: float = 2.0) -> bool:
    """Whether the server at a plaintext ``url``'s host and port speaks HTTP/2 without
    being asked, as gRPC servers do: it sends its SETTINGS frame as soon as a connection
    opens, while an HTTP/1.1 server waits for a request. False when it cannot be told (no
    connection, nothing sent, or TLS: there an HTTPS server may choose HTTP/2 as well)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return False
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 80), timeout=timeout) as raw:
            raw.settimeout(timeout)
            head = raw.recv(9)
            return len(head) >= 4 and head[3] == _SETTINGS_FRAME_TYPE
    except (OSError, ValueError):
        return False


def cut_short(exc: BaseException) -> bool:
    """A connection reset or aborted, or an answer that is not HTTP/1.x: what a gRPC port
    does to an HTTP request (not a refused connection or a timeout)."""
    text = repr(exc).lower()
    return any(words in text for words in ("reset", "aborted", "remotedisconnected", "badstatusline"))


class WrongProtocol(Exception):
    """The endpoint speaks gRPC: raised by the session, which the exporter does not retry."""
