"""Parsing of flag values and the secrets policy; pure functions, no I/O."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
}
DEFAULT_OTLP_BASE = "http://localhost:4318"
TRACES_PATH = "v1/traces"
LOGS_PATH = "v1/logs"
METRICS_PATH = "v1/metrics"


def parse_size(text: str) -> int:
    """``4194304``, ``4MiB``, ``512k``, ``1.5MB`` → bytes."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a size (try 4MiB or 1048576)")
    number, unit = float(m.group(1)), (m.group(2) or "").lower()
    return int(number * _UNITS[unit])


def format_size(size: int) -> str:
    """Bytes as the shortest exact size ``parse_size`` reads back: ``4MiB``, ``512KiB``, ``1000``."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_pairs(values: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings → dict. The error says what is missing and shows no value
    (a header's value may be a secret)."""
    out: dict[str, str] = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError("expected KEY=VALUE, but there is no '=' in it")
        if not key:
            raise ValueError("expected KEY=VALUE, but the KEY before '=' is missing")
        out[key] = value
    return out


URL_SCHEMES = ("http", "https")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a backend's address (None when it can): an http:// or
    https:// URL with a host. The reason shows the URL without its user info."""
    parts = urlsplit(url.strip())
    shown = _USERINFO.sub("***@", url.strip())
    if not shown:
        return "the URL is empty"
    if "://" not in shown:
        example = "" if shown.lower().startswith("http") else f" (e.g. http://{shown.lstrip('/')})"
        return f"{shown!r} is not a URL: it must start with http:// or https://{example}"
    if parts.scheme.lower() not in URL_SCHEMES:
        return f"{shown!r}: the scheme {parts.scheme}:// is not supported (http:// or https://)"
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{shown!r} is not a valid URL ({exc})"
    if not host:
        return f"{shown!r} has no host name"
    return None


def signal_endpoint(base: str | None, explicit: str | None, path: str = TRACES_PATH) -> str | None:
    """The full URL of one signal (``v1/traces``, ``v1/logs`` …) from our flags, or None to
    let ``OTEL_EXPORTER_OTLP_*`` decide."""
    if explicit:
        return explicit
    if base:
        return base.rstrip("/") + "/" + path
    return None


DEFAULT_GRPC_BASE = "http://localhost:4317"


def effective_endpoint(
    flag_value: str | None, env: dict[str, str] | None = None, path: str = TRACES_PATH, grpc: bool = False
) -> str:
    """Where a signal will go, resolved the way the SDK resolves it (for the summary); a
    gRPC endpoint is used as it is, with no signal path."""
    env = dict(os.environ) if env is None else env
    if flag_value:
        return flag_value
    signal_var = f"OTEL_EXPORTER_OTLP_{path.rsplit('/', 1)[-1].upper()}_ENDPOINT"
    if env.get(signal_var):
        return env[signal_var]
    if grpc:
        return env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_GRPC_BASE
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_OTLP_BASE
    return base.rstrip("/") + "/" + path


def env_header_secrets(env: dict[str, str] | None = None) -> list[str]:
    """Header values configured through OTEL_EXPORTER_OTLP_*HEADERS, to be redacted."""
    env = dict(os.environ) if env is None else env
    secrets = []
    for name in (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    ):
        for item in env.get(name, "").split(","):
            _, sep, value = item.partition("=")
            if sep and value.strip():
                secrets.append(unquote(value.strip()))
    return secrets


def url_secrets(url: str | None) -> list[str]:
    """The password in a URL's user info, as written and decoded (the user name is no secret)."""
    if not url:
        return []
    password = urlsplit(url).password
    return [password, unquote(password)] if password else []


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


#: A secret shorter than this is not looked for in free text: replacing every "p" or "ab"
#: would mangle every line (``htt***://``), while user info in a URL is hidden anyway.
MIN_FREE_TEXT_SECRET = 4


class Redactor:
    """Replaces every known secret (header values, passwords, URL user info) with ``***``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        found: set[str] = set()
        for secret in secrets:
            if not secret or len(secret.strip()) < MIN_FREE_TEXT_SECRET:
                continue
            found.add(secret)
            # "Bearer <token>", "Basic <b64>": a backend may echo the credential alone
            _, _, credential = secret.strip().partition(" ")
            if len(credential.strip()) >= 6:
                found.add(credential.strip())
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub("***@", text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
_NS_PER = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
    "d": 86400 * 10**9,
    "w": 7 * 86400 * 10**9,
}


def parse_duration(text: str) -> int:
    """``-3d``, ``90m``, ``1h30m``, ``+2.5h``, ``45s`` → signed nanoseconds."""
    raw = text.strip().replace(" ", "")
    sign = -1 if raw.startswith("-") else 1
    body = raw[1:] if raw[:1] in ("+", "-") else raw
    pos, total = 0, 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if not m:
            break
        total += round(float(m.group(1)) * _NS_PER[m.group(2)])
        pos = m.end()
    if not body or pos != len(body):
        raise ValueError(f"{text!r} is not a duration (try -3d, 90m or 1h30m)")
    return sign * total


def parse_instant(text: str, now_ns: int) -> int:
    """A point in time → ns since the epoch.

    Accepts ISO 8601 (``2026-11-24T17:00:00Z``; no zone means UTC), a date, ``now``,
    epoch seconds or milliseconds (``1795539600``, ``1795539600000``), or a duration
    meaning that long before now (``2h``, ``3d``).
    """
    from datetime import datetime, timezone

    raw = text.strip()
    if raw.lower() == "now":
        return now_ns
    if re.fullmatch(r"\d{9,10}(\.\d+)?", raw):
        return round(float(raw) * 10**9)
    if re.fullmatch(r"\d{12,13}(\.\d+)?", raw):
        return round(float(raw) * 10**6)
    try:
        return now_ns - abs(parse_duration(raw))
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (try 2026-11-24T17:00:00Z, 1795539600, now or a duration such as 2h)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (int(when.timestamp()) * 10**9) + when.microsecond * 1000


def basic_auth_secret(user: str | None, password: str | None) -> str | None:
    """The base64 credential of an ``Authorization: Basic`` header, as a backend might echo it."""
    if user is None or not password:
        return None
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()
