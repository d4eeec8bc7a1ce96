"""POST with retries: the one place our own sinks back off (the OTLP exporter has its own).

Retries 429, 5xx and connection errors (refused, reset, timed out) with exponential
backoff and jitter, honouring ``Retry-After``, until the next attempt would start after
the batch's deadline (``--max-retry-time``). Other 4xx answers are final. Each attempt
is bounded by ``--timeout``.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests


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


class VerifyingSession(requests.Session):
    """A session whose ``verify`` setting is the one used.

    Plain requests lets ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replace a session's
    ``verify`` (psf/requests#3829), which would silently ignore ``--certificate`` and
    ``--insecure`` on machines that set them. Passing it with every request keeps the
    session's choice; with the default (True) those variables still apply.
    """

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.verify is not True:
            kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


@dataclass(slots=True)
class HttpResult:
    status: int | None  # None when no answer came
    body: bytes
    error: str | None
    attempts: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as delay-seconds or an HTTP-date, in seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass(slots=True)
class RetryPolicy:
    deadline_seconds: float = 300.0  # the whole batch, retries included (--max-retry-time)
    request_timeout: float = 10.0  # one attempt (--timeout)
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.2

    def backoff(self, attempt: int) -> float:
        delay = min(self.base_backoff * (2**attempt), self.max_backoff)
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)


def post_with_retry(
    session: requests.Session,
    url: str,
    data: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    stop: threading.Event | None = None,
    retryable: Callable[[int], bool] = retryable_status,
) -> HttpResult:
    start = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        remaining = policy.deadline_seconds - (time.monotonic() - start)
        try:
            resp = session.post(
                url,
                data=data,
                headers=dict(headers),
                timeout=max(min(policy.request_timeout, remaining), 0.05),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            result = HttpResult(None, b"", describe_exception(exc), attempt)
            wait = policy.backoff(attempt - 1)
        else:
            result = HttpResult(resp.status_code, resp.content, None, attempt)
            if not retryable(resp.status_code):
                return result
            hinted = retry_after_seconds(resp.headers.get("Retry-After"))
            wait = hinted if hinted is not None else policy.backoff(attempt - 1)
        remaining = policy.deadline_seconds - (time.monotonic() - start)
        if wait >= remaining:
            return result
        if stop is not None:
            if stop.wait(wait):
                return result
        else:
            time.sleep(wait)
