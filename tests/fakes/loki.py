"""A Loki push API that validates and answers like Loki 3.4 (checked against a real
Loki 3.4.6 with its default limits; README.md, "Development", says what the fakes stand
for, and tests/test_loki_sink.py holds the answers Loki gave, byte for byte).

The distributor's checks, with Loki's default limits unless a test sets others: label
names, empty label sets, the number of labels (``max_label_names_per_series`` 15, not
counting ``service_name``), label name and value length (1024, 2048), per-entry age
(``reject_old_samples_max_age`` 168h), future timestamps (``creation_grace_period`` 10m),
line size (``max_line_size`` 256KB = 262144 bytes), structured metadata size (64KB =
65536 bytes, names and values) and count (``max_structured_metadata_entries_count`` 128),
then the tenant's ingestion rate (a token bucket: ``ingestion_rate_mb`` 4 MiB/s,
``ingestion_burst_size_mb`` 6 MiB, counting lines and structured metadata; a 429 stores
nothing). One refusal answers ``MESSAGE``; several answer ``N errors like: MESSAGE`` per
distinct message, joined by ``; `` — all on one line, as Loki writes them. Valid entries
of a partly refused push are stored.

Then the ingester's: the 4 MiB message size between distributor and ingester, active
streams per tenant (5000, a 429) and per-stream order (entries more than
``max_chunk_age``/2 behind the stream's newest are refused). An ingester refusal is the
whole answer: the distributor's messages are not in it.

A stream without a ``service_name`` label gets ``service_name="unknown_service"``, as
Loki adds it. Structured metadata names are stored as Loki stores them: renamed by its
``NormalizeLabel`` (every rune not a letter or digit → ``_``; a leading digit gets
``key_``, a leading single ``_`` gets ``key``: ``a.b`` → ``a_b``, ``9x`` → ``key_9x``);
what was sent is in ``pushes``. A name Loki keeps that its queries cannot read back
(empty, or a non-ASCII letter such as ``é``: Loki answers every query of that stream
with ``could not write JSON response: … parse error``) is stored, and reading the
entries back fails the same way.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tests.fakes.server import Answer, FakeServer, decompress

HOUR = 3600 * 10**9
GRPC_MAX = 4 * 1024 * 1024
MIB = 1024 * 1024
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TEXT = "text/plain; charset=utf-8"


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_time(ns: int) -> str:
    """Go's time.Time.String() in UTC: ``2025-08-01 16:43:38.854444845 +0000 UTC``."""
    base = datetime.fromtimestamp(ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{ns % 10**9:09d}".rstrip("0")
    return f"{base}{'.' + frac if frac else ''} +0000 UTC"


def label_string(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items())) + "}"


def label_error(labels: dict[str, str]) -> str | None:
    """Loki's parser error for a label set it cannot take, or None."""
    if not labels:
        return "error at least one label pair is required per stream"
    pos = 1
    for k, v in labels.items():
        m = _LABEL_NAME.match(k)
        end = m.end() if m else 0
        if end != len(k):
            bad = k[end]
            return f"couldn't parse labels: 1:{pos + end + 1}: parse error: unexpected character inside braces: '{bad}'"
        pos += len(k) + len(v) + 5
    return None


def normalize_label(name: str) -> str:
    """Loki's renaming of structured metadata names on push (Prometheus' NormalizeLabel)."""
    if not name:
        return name
    name = "".join(c if c.isalpha() or c.isdigit() else "_" for c in name)
    if name[0].isdigit():
        return "key_" + name
    if name.startswith("_") and not name.startswith("__"):
        return "key" + name
    return name


def grouped(messages: list[str]) -> str:
    """Loki's answer for the distributor's refusals of one push."""
    if len(messages) == 1:
        return messages[0]
    counts: dict[str, int] = {}
    for m in messages:
        counts[m] = counts.get(m, 0) + 1
    return "; ".join(f"{n} errors like: {m}" for m, n in counts.items())


@dataclass
class LokiLimits:
    reject_old_samples_max_age_ns: int = 168 * HOUR
    creation_grace_period_ns: int = 10 * 60 * 10**9
    max_line_size: int = 256 * 1024  # "256KB": Loki reads KB as 1024 ("Max entry size '262144'")
    max_structured_metadata_size: int = 64 * 1024
    max_structured_metadata_entries_count: int = 128
    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    ingestion_rate_bytes: float = 4 * MIB  # ingestion_rate_mb 4 (per second)
    ingestion_burst_bytes: float = 6 * MIB  # ingestion_burst_size_mb 6
    max_chunk_age_ns: int = 2 * HOUR
    max_streams_per_tenant: int = 5000
    max_returned_errors: int = 10


class TokenBucket:
    """golang.org/x/time/rate's limiter, as Loki's ingestion rate limiter uses it: starts
    full; a push of n bytes takes n tokens if there are that many, else it is refused and
    takes none."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._last = burst, clock()
        self._lock = threading.Lock()

    def allow(self, n: int) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if n > self._tokens:
                return False
            self._tokens -= n
            return True


@dataclass
class StoredStream:
    labels: dict[str, str]
    entries: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    highest_ns: int = 0
    last: tuple[int, str] | None = None


class LokiReceiver(FakeServer):
    def __init__(
        self,
        limits: LokiLimits | None = None,
        now_ns: Callable[[], int] | None = None,
        scripted: list[Answer] | None = None,
        basic_auth: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: seconds, for the ingestion rate's token bucket (a test may step it)."""
        super().__init__(tls)
        self.clock = clock
        self.limits = limits or LokiLimits()
        self.now_ns = now_ns or time.time_ns
        self.scripted = list(scripted or [])
        self.basic_auth = basic_auth
        self.tenants: dict[str, dict[str, StoredStream]] = {}
        self._rate: dict[str, TokenBucket] = {}
        self.pushes: list[dict[str, Any]] = []  # decoded bodies of pushes that were parsed, as sent
        self.raw_sizes: list[int] = []
        self.headers: list[dict[str, str]] = []
        self.answers: list[int] = []
        self.unqueryable: list[str] = []  # stored metadata names Loki's queries cannot read back
        #: Answers to ``GET /ready`` in turn (Loki starting: 503), then 200 ``ready`` as Loki 3.4 answers.
        self.ready: list[Answer] = []

    def probe(self, method: str, path: str, headers: Any, body: bytes) -> Answer | None:
        if method != "GET" or path != "/ready":
            return None
        with self.lock:
            return self.ready.pop(0) if self.ready else Answer(200, b"ready\n")

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        with self.lock:
            self.headers.append({k.lower(): v for k, v in headers.items()})
            if self.scripted:
                answer = self.scripted.pop(0)
                self.answers.append(answer.status)
                return answer
        answer = self._push(method, path, headers, body)
        with self.lock:
            self.answers.append(answer.status)
        return answer

    def _push(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        if method != "POST" or path != "/loki/api/v1/push":
            return Answer(404, b"404 page not found\n")
        if self.basic_auth is not None:
            import base64

            expected = "Basic " + base64.b64encode(":".join(self.basic_auth).encode()).decode()
            if headers.get("Authorization") != expected:
                return Answer(401, b"Unauthorized\n")
        tenant = headers.get("X-Scope-OrgID") or "fake"
        try:
            raw = decompress(body, headers.get("Content-Encoding"))
        except OSError as exc:
            return Answer(400, f"gzip: {exc}\n".encode())
        if (headers.get("Content-Type") or "").split(";")[0] != "application/json":
            return Answer(415, b"unsupported Content-Type\n")
        try:
            doc = json.loads(raw)
            streams = doc["streams"]
        except (ValueError, KeyError, TypeError) as exc:
            return Answer(400, f"loghttp.PushRequest: {exc}\n".encode())
        with self.lock:
            self.pushes.append(doc)
            self.raw_sizes.append(len(raw))
        now = self.now_ns()
        refusals: list[str] = []
        validated: list[tuple[dict[str, str], list[tuple[int, str, dict[str, str]]]]] = []
        for stream in streams:
            labels, entries = self._validate(stream, now, refusals)
            if entries:
                validated.append((labels, entries))
        if validated:
            lines = sum(len(entries) for _, entries in validated)
            size = sum(len(line.encode()) + _md_size(md) for _, entries in validated for _, line, md in entries)
            with self.lock:
                bucket = self._rate.get(tenant)
                if bucket is None:
                    bucket = self._rate[tenant] = TokenBucket(
                        self.limits.ingestion_rate_bytes, self.limits.ingestion_burst_bytes, self.clock
                    )
            if not bucket.allow(size):
                return _text(
                    429,
                    f"Ingestion rate limit exceeded for user {tenant} (limit: {int(bucket.rate)} bytes/sec) while "
                    f"attempting to ingest '{lines}' lines totaling '{size}' bytes, reduce log volume or contact "
                    "your Loki administrator to see if the limit can be increased",
                )
            if len(raw) > GRPC_MAX:
                return _text(
                    500,
                    f"rpc error: code = ResourceExhausted desc = grpc: received message larger than max "
                    f"({len(raw)} vs. {GRPC_MAX})",
                )
            ingester_400: list[str] = []
            ingester_429: list[str] = []
            with self.lock:
                store = self.tenants.setdefault(tenant, {})
                for labels, entries in validated:
                    self._ingest(labels, entries, store, tenant, ingester_400, ingester_429)
            if ingester_429:
                return _text(429, "\n".join(ingester_429))
            if ingester_400:
                return _text(400, "\n".join(ingester_400))
        if refusals:
            return _text(400, grouped(refusals))
        return Answer(204)

    def _validate(
        self, stream: dict[str, Any], now: int, refusals: list[str]
    ) -> tuple[dict[str, str], list[tuple[int, str, dict[str, str]]]]:
        """The stream's labels as Loki keeps them and its entries that pass the
        distributor's checks; the refusals are added to ``refusals``."""
        labels = dict(stream.get("stream") or {})
        if (err := label_error(labels)) is not None:
            refusals.append(err)
            return labels, []
        lim = self.limits
        counted = len(labels) - ("service_name" in labels)
        labels.setdefault("service_name", "unknown_service")
        key = label_string(labels)
        if counted > lim.max_label_names_per_series:
            limit = lim.max_label_names_per_series
            refusals.append(f"entry for stream '{key}' has {counted} label names; limit {limit}")
            return labels, []
        for name, value in sorted(labels.items()):
            if len(name) > lim.max_label_name_length:
                refusals.append(f"stream '{key}' has label name too long: '{name}'")
                return labels, []
            if len(value) > lim.max_label_value_length:
                refusals.append(f"stream '{key}' has label value too long: '{value}'")
                return labels, []
        valid: list[tuple[int, str, dict[str, str]]] = []
        for value in stream.get("values") or []:
            ts, line = int(value[0]), value[1]
            md = value[2] if len(value) > 2 else {}
            if not isinstance(md, dict) or not all(isinstance(v, str) for v in md.values()):
                refusals.append("structured metadata values must be strings")
                continue
            if ts < now - lim.reject_old_samples_max_age_ns:
                refusals.append(
                    f"entry for stream '{key}' has timestamp too old: {rfc3339(ts)}, "
                    f"oldest acceptable timestamp is: {rfc3339(now - lim.reject_old_samples_max_age_ns)}"
                )
                continue
            if ts > now + lim.creation_grace_period_ns:
                refusals.append(f"entry for stream '{key}' has timestamp too new: {rfc3339(ts)}")
                continue
            if len(line.encode()) > lim.max_line_size:
                refusals.append(
                    f"Max entry size '{lim.max_line_size}' bytes exceeded for stream '{key}' "
                    f"while adding an entry with length '{len(line.encode())}' bytes"
                )
                continue
            md_size = _md_size(md)
            if md_size > lim.max_structured_metadata_size:
                refusals.append(
                    f"stream '{key}' has structured metadata too large: '{md_size}' bytes, limit: "
                    f"'{lim.max_structured_metadata_size}' bytes. Please see "
                    "`limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it."
                )
                continue
            if len(md) > lim.max_structured_metadata_entries_count:
                refusals.append(
                    f"stream '{key}' has too many structured metadata labels: '{len(md)}', limit: "
                    f"'{lim.max_structured_metadata_entries_count}'. Please see "
                    "`limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to "
                    "increase it."
                )
                continue
            valid.append((ts, line, {normalize_label(k): v for k, v in md.items()}))
        return labels, valid

    def _ingest(
        self,
        labels: dict[str, str],
        valid: list[tuple[int, str, dict[str, str]]],
        store: dict[str, StoredStream],
        tenant: str,
        ingester_400: list[str],
        ingester_429: list[str],
    ) -> None:
        key = label_string(labels)
        lim = self.limits
        target = store.get(key)
        if target is None:
            if len(store) >= lim.max_streams_per_tenant:
                ingester_429.append(
                    f"Maximum active stream limit exceeded when trying to create stream {key}, reduce the number "
                    "of active streams (reduce labels or reduce label values), or contact your Loki "
                    f"administrator to see if the limit can be increased, user: '{tenant}'"
                )
                return
            target = store[key] = StoredStream(dict(labels))
        failed: list[tuple[int, str]] = []
        for ts, line, md in valid:
            if target.last == (ts, line):
                continue  # Loki drops an exact repeat of the stream's last entry
            cutoff = target.highest_ns - lim.max_chunk_age_ns // 2
            if target.highest_ns and ts < cutoff:
                failed.append(
                    (
                        ts,
                        f"entry too far behind, entry timestamp is: {rfc3339(ts)}, "
                        f"oldest acceptable timestamp is: {rfc3339(cutoff)}",
                    )
                )
                continue
            target.entries.append((ts, line, md))
            target.last = (ts, line)
            target.highest_ns = max(target.highest_ns, ts)
            self.unqueryable += [k for k in md if not _LABEL_NAME.fullmatch(k)]
        if failed:
            lines = [
                f"entry with timestamp {go_time(ts)} ignored, reason: '{why}',"
                for ts, why in failed[: lim.max_returned_errors]
            ]
            lines.append(f"user '{tenant}', total ignored: {len(failed)} out of {len(valid)} for stream: {key}")
            ingester_400.append("\n".join(lines))

    # -- reading back -------------------------------------------------------------------------
    def entries(self, tenant: str = "fake") -> list[tuple[dict[str, str], int, str, dict[str, str]]]:
        """Every stored entry as (labels, ts_ns, line, structured metadata), in time order:
        a query, which fails as Loki's does if a stored metadata name cannot be read back."""
        if self.unqueryable:
            bad = self.unqueryable[0]
            raise AssertionError(
                f"could not write JSON response: parse error in structured metadata name {bad!r} "
                "(Loki stored it, and now no query of its stream can be answered)"
            )
        out = []
        for stream in self.tenants.get(tenant, {}).values():
            for ts, line, md in stream.entries:
                out.append((stream.labels, ts, line, md))
        out.sort(key=lambda e: e[1])
        return out

    def sent_metadata_names(self) -> set[str]:
        """Every structured metadata name in the pushes, as sent (before Loki renames any)."""
        values = [v for push in self.pushes for stream in push["streams"] for v in stream["values"]]
        return {name for v in values if len(v) > 2 for name in v[2]}


def _md_size(md: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in md.items())


def _text(status: int, message: str) -> Answer:
    return Answer(status, (message + "\n").encode(), TEXT)
