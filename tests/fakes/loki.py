"""A Loki push API that validates and answers like Loki 3.4 (see input-formats.md §4).

Checks, with Loki's default limits unless a test sets others: label names, empty label
sets, per-entry age (``reject_old_samples_max_age`` 168h), future timestamps
(``creation_grace_period`` 10m), line size (``max_line_size`` 256KB), the 4 MiB message
size between distributor and ingester, active streams per tenant (5000), and per-stream
ordering (entries more than ``max_chunk_age``/2 behind the stream's newest are refused).
Valid entries of a partly refused push are stored, as Loki stores them.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tests.fakes.server import Answer, FakeServer, decompress

HOUR = 3600 * 10**9
GRPC_MAX = 4 * 1024 * 1024
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def go_time(ns: int) -> str:
    """Go's time.Time.String() in UTC: ``2025-08-01 16:43:38.854444845 +0000 UTC``."""
    base = datetime.fromtimestamp(ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{ns % 10**9:09d}".rstrip("0")
    return f"{base}{'.' + frac if frac else ''} +0000 UTC"


def label_string(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


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


@dataclass
class LokiLimits:
    reject_old_samples_max_age_ns: int = 168 * HOUR
    creation_grace_period_ns: int = 10 * 60 * 10**9
    max_line_size: int = 256_000  # "256KB": Loki parses sizes with go-humanize (KB = 1000)
    max_structured_metadata_size: int = 64_000
    max_chunk_age_ns: int = 2 * HOUR
    max_streams_per_tenant: int = 5000
    max_returned_errors: int = 10


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
    ) -> None:
        super().__init__(tls)
        self.limits = limits or LokiLimits()
        self.now_ns = now_ns or time.time_ns
        self.scripted = list(scripted or [])
        self.basic_auth = basic_auth
        self.tenants: dict[str, dict[str, StoredStream]] = {}
        self.pushes: list[dict[str, Any]] = []  # decoded bodies of pushes that were parsed
        self.raw_sizes: list[int] = []
        self.headers: list[dict[str, str]] = []
        self.answers: list[int] = []

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
        if len(raw) > GRPC_MAX:
            return Answer(
                500,
                (
                    f"rpc error: code = ResourceExhausted desc = grpc: received message larger "
                    f"than max ({len(raw)} vs. {GRPC_MAX})\n"
                ).encode(),
            )
        validation: list[str] = []
        ingester_400: list[str] = []
        ingester_429: list[str] = []
        now = self.now_ns()
        with self.lock:
            store = self.tenants.setdefault(tenant, {})
            for stream in streams:
                self._stream(stream, store, now, tenant, validation, ingester_400, ingester_429)
        if ingester_429:
            return Answer(429, "\n".join(ingester_429).encode())
        if validation or ingester_400:
            return Answer(400, "\n".join(validation + ingester_400).encode())
        return Answer(204)

    def _stream(
        self,
        stream: dict[str, Any],
        store: dict[str, StoredStream],
        now: int,
        tenant: str,
        validation: list[str],
        ingester_400: list[str],
        ingester_429: list[str],
    ) -> None:
        labels = stream.get("stream") or {}
        if (err := label_error(labels)) is not None:
            validation.append(err)
            return
        key = label_string(labels)
        lim = self.limits
        valid: list[tuple[int, str, dict[str, str]]] = []
        for value in stream.get("values") or []:
            ts, line = int(value[0]), value[1]
            md = value[2] if len(value) > 2 else {}
            if not isinstance(md, dict) or not all(isinstance(v, str) for v in md.values()):
                validation.append("structured metadata values must be strings")
                continue
            if ts < now - lim.reject_old_samples_max_age_ns:
                validation.append(
                    f"entry for stream '{key}' has timestamp too old: {rfc3339(ts)}, "
                    f"oldest acceptable timestamp is: {rfc3339(now - lim.reject_old_samples_max_age_ns)}"
                )
                continue
            if ts > now + lim.creation_grace_period_ns:
                validation.append(f"entry for stream '{key}' has timestamp too new: {rfc3339(ts)}")
                continue
            if len(line.encode()) > lim.max_line_size:
                validation.append(
                    f"Max entry size '{lim.max_line_size}' bytes exceeded for stream '{key}' "
                    f"while adding an entry with length '{len(line.encode())}' bytes"
                )
                continue
            md_size = sum(len(k) + len(v.encode()) for k, v in md.items())
            if md_size > lim.max_structured_metadata_size:
                validation.append(
                    f"stream '{key}' has structured metadata too large: '{md_size}' bytes, limit: "
                    f"'{lim.max_structured_metadata_size}' bytes. "
                    "Please see `limits_config.max_structured_metadata_size`"
                )
                continue
            valid.append((ts, line, {k.replace(".", "_"): v for k, v in md.items()}))
        if not valid:
            return
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
        if failed:
            lines = [
                f"entry with timestamp {go_time(ts)} ignored, reason: '{why}',"
                for ts, why in failed[: lim.max_returned_errors]
            ]
            lines.append(f"user '{tenant}', total ignored: {len(failed)} out of {len(valid)} for stream: {key}")
            ingester_400.append("\n".join(lines))

    # -- reading back -------------------------------------------------------------------------
    def entries(self, tenant: str = "fake") -> list[tuple[dict[str, str], int, str, dict[str, str]]]:
        """Every stored entry as (labels, ts_ns, line, structured metadata), in time order."""
        out = []
        for stream in self.tenants.get(tenant, {}).values():
            for ts, line, md in stream.entries:
                out.append((stream.labels, ts, line, md))
        out.sort(key=lambda e: e[1])
        return out
