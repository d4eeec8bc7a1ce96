"""Log records → Loki push API (``/loki/api/v1/push``), JSON, gzip-compressed.

Only low-cardinality values become labels (service, severity, ``imported``, the user's
``--loki-label``); trace and span ids and every attribute go into structured metadata
(Loki 3), or into the line as logfmt with ``--no-structured-metadata`` (Loki 2.x).
Entries are sorted by time within each stream and each push stays under
``--loki-batch-bytes``. A 400 is a partial success: the body says which entries Loki
refused and why, and only those are counted as rejected.
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec

from otel_replay.model import LogRecord, Origin, Record, ResourceAttrs, Signal, thaw, truncate_utf8
from otel_replay.report import Report, batch_span
from otel_replay.resume import Acknowledge
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.http import RetryPolicy, VerifyingSession, one_line, post_with_retry
from otel_replay.sinks.inflight import InFlight, InFlightSink

PUSH_PATH = "/loki/api/v1/push"
DEFAULT_URL = "http://localhost:3100"
DEFAULT_BATCH_BYTES = 1024 * 1024
MAX_ENTRIES_PER_PUSH = 100_000
MAX_CACHED_STREAMS = 4096
#: Loki's defaults: ``max_line_size`` 256KB and ``max_structured_metadata_size`` 64KB
#: (Loki reads "KB" as 1000 bytes).
DEFAULT_MAX_LINE_BYTES = 256_000
MAX_METADATA_BYTES = 64_000
_BAD_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_encode = msgspec.json.Encoder().encode
SEVERITY_TEXTS = ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))


@functools.lru_cache(maxsize=8192)  # a run sees few distinct names, each of them many times
def sanitize_label_name(name: str) -> str:
    """Loki label (and structured metadata) names: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    clean = _BAD_LABEL_CHARS.sub("_", name)
    if not clean or clean[0].isdigit():
        clean = "_" + clean
    return clean


def severity_text(rec: LogRecord) -> str:
    if rec.severity_text:
        return rec.severity_text
    text = "UNSPECIFIED"
    for floor, name in SEVERITY_TEXTS:
        if rec.severity_number >= floor:
            text = name
    return text


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return _encode(thaw(value) if isinstance(value, tuple) else value).decode()


def fit_metadata(md: dict[str, str], limit: int = MAX_METADATA_BYTES) -> list[str]:
    """Shorten the largest structured-metadata values (in place) until names and values
    total at most ``limit`` bytes; returns the keys that were shortened."""
    chars = sum(len(k) + len(v) for k, v in md.items())
    if chars * 4 <= limit:  # no UTF-8 text of this many characters can be over: the common case
        return []
    total = sum(len(k) + len(v.encode()) for k, v in md.items())
    shortened = []
    for key in sorted(md, key=lambda k: len(md[k]), reverse=True):
        if total <= limit:
            break
        size = len(md[key].encode())
        target = max(size - (total - limit), 64)
        md[key], _ = truncate_utf8(md[key], target)
        total -= size - len(md[key].encode())
        shortened.append(key)
    return shortened


def body_line(body: object) -> str:
    """The line: a string body as it is, anything else as compact JSON."""
    if body is None:
        return ""
    return _as_text(body)


def resource_metadata(resource: ResourceAttrs) -> dict[str, str]:
    """The resource attributes that are not labels (all but ``service.name``), as
    structured metadata."""
    return {sanitize_label_name(k): _as_text(v) for k, v in resource if k != "service.name"}


def structured_metadata(rec: LogRecord, resource_md: dict[str, str] | None = None) -> dict[str, str]:
    """trace_id, span_id, the record's attributes and its non-label resource attributes
    (``resource_md``: :func:`resource_metadata` of its resource, when already known)."""
    md = dict(resource_metadata(rec.resource) if resource_md is None else resource_md)
    for key, value in rec.attributes.items():
        md[sanitize_label_name(key)] = value if type(value) is str else _as_text(value)
    if rec.scope is not None and rec.scope.name:  # as Loki's own OTLP ingestion names them
        md["scope_name"] = rec.scope.name
        if rec.scope.version:
            md["scope_version"] = rec.scope.version
    if rec.trace_id:
        md["trace_id"] = f"{rec.trace_id:032x}"
    if rec.span_id:
        md["span_id"] = f"{rec.span_id:016x}"
    return md


_LOGFMT_BARE = re.compile(r"^[^\s\"=]+$")


def logfmt(pairs: dict[str, str]) -> str:
    out = []
    for key, value in pairs.items():
        if not _LOGFMT_BARE.match(value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        out.append(f"{key}={value}")
    return " ".join(out)


def stream_labels(resource: ResourceAttrs, severity: str, extra: dict[str, str]) -> tuple[tuple[str, str], ...]:
    service = next((str(v) for k, v in resource if k == "service.name"), "unknown_service")
    labels = {"service_name": service, "severity_text": severity, "imported": "true"}
    labels.update(extra)
    return tuple(sorted(labels.items()))


# -- reading Loki's answers ----------------------------------------------------------------
REASONS = {
    "too_old": "timestamp too old (older than Loki's reject_old_samples_max_age, 7 days by default)",
    "too_new": "timestamp too new (in the future beyond Loki's creation_grace_period)",
    "too_far_behind": "entry too far behind the stream's newest entry (Loki accepts max_chunk_age/2, 1h by default)",
    "line_too_long": "line too long (over Loki's max_line_size)",
    "rate_limited": "per-stream rate limit",
    "labels": "labels refused",
}
OLD_ENTRIES_HINT = (
    "Loki refused entries as too old or too far behind their stream: replay with --shift-to-now "
    "(or --time-offset) so the newest record lands at the current time; see README, Troubleshooting"
)
_TOTAL = re.compile(r"total ignored: (\d+) out of \d+")
_ENTRY_REASON = re.compile(r"ignored, reason: '([^']*)")


def _kind(text: str) -> str | None:
    t = text.lower()
    if "too far behind" in t or "out of order" in t:
        return "too_far_behind"
    if "timestamp too old" in t:
        return "too_old"
    if "timestamp too new" in t:
        return "too_new"
    if "max entry size" in t or "line too long" in t:
        return "line_too_long"
    if "rate limit" in t:
        return "rate_limited"
    if "parse labels" in t or "parsing labels" in t or "label name" in t or "label value" in t:
        return "labels"
    return None


def parse_rejections(body: str) -> Counter[str]:
    """Entries Loki refused, by reason, from a 400 body (ingester and distributor formats).

    The ingester lists at most a few entries per stream and then sums up with
    ``total ignored: N out of M``; the distributor writes one line per refused entry.
    """
    counts: Counter[str] = Counter()
    pending: str | None = None
    for line in body.splitlines():
        if m := _ENTRY_REASON.search(line):
            pending = _kind(m.group(1)) or "other"
            continue
        if m := _TOTAL.search(line):
            counts[pending or "other"] += int(m.group(1))
            pending = None
            continue
        kind = _kind(line)
        if kind is not None:
            counts[kind] += 1
    return counts


# -- the sink -----------------------------------------------------------------------------
@dataclass(slots=True)
class LokiConfig:
    url: str = DEFAULT_URL
    tenant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    password: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    structured_metadata: bool = True
    batch_bytes: int = DEFAULT_BATCH_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    timeout: float = 10.0  # one attempt
    max_retry_time: float = 300.0  # one batch, retries included
    certificate: str | None = None
    verify: bool = True
    backoff: float = 0.5
    concurrency: int = 1  # pushes in flight (--concurrency)

    def push_url(self) -> str:
        """The push endpoint, with any user info taken out of the URL."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        path = parts.path.rstrip("/")
        if not path.endswith(PUSH_PATH):
            path += PUSH_PATH
        return urlunsplit((parts.scheme, netloc, path, parts.query, ""))

    def auth(self) -> tuple[str, str] | None:
        if self.user is not None:
            return self.user, self.password or ""
        parts = urlsplit(self.url)
        if parts.username is not None:
            return unquote(parts.username), unquote(parts.password or "")
        return None


@dataclass(slots=True)
class _Stream:
    labels: tuple[tuple[str, str], ...]
    group_bytes: int  # what its labels add to a push
    resource_md: dict[str, str]  # structured metadata from its resource (copied per entry)


@dataclass(slots=True)
class _Entry:
    time_ns: int
    stream: tuple[tuple[str, str], ...]
    value: bytes  # the encoded ["<ns>", "line", {metadata}] triple
    origin: Origin
    key: bytes


class LokiSink(InFlightSink):
    signal = Signal.LOGS

    def __init__(
        self,
        config: LokiConfig,
        report: Report,
        stop: threading.Event | None = None,
        on_delivered: Acknowledge | None = None,
    ) -> None:
        self._config = config
        self._report = report
        self._on_delivered = on_delivered
        self._stop = stop
        self._url = config.push_url()
        self._extra_labels = {sanitize_label_name(k): v for k, v in config.labels.items()}
        self._inflight = InFlight(self._new_session() for _ in range(config.concurrency))
        self._headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        self._headers.update(config.headers)
        if config.tenant:
            self._headers["X-Scope-OrgID"] = config.tenant
        self._policy = RetryPolicy(config.max_retry_time, config.timeout, config.backoff)
        self._stream_json: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._streams: dict[tuple[ResourceAttrs, str], _Stream] = {}
        self._fits_bytes = min(config.max_line_bytes, MAX_METADATA_BYTES)
        self._batcher: Batcher[_Entry] = Batcher(self._push, MAX_ENTRIES_PER_PUSH, config.batch_bytes, 16)

    def _new_session(self) -> VerifyingSession:
        session = VerifyingSession()
        session.auth = self._config.auth()
        if self._config.certificate:
            session.verify = self._config.certificate
        elif not self._config.verify:
            session.verify = False
        return session

    def _labels_json(self, labels: tuple[tuple[str, str], ...]) -> bytes:
        cached = self._stream_json.get(labels)
        if cached is None:
            cached = self._stream_json[labels] = _encode(dict(labels))
        return cached

    def _stream(self, resource: ResourceAttrs, severity: str) -> _Stream:
        """The stream of records with this resource and severity (built once per run:
        a run sees few distinct ones, each many times)."""
        stream = self._streams.get((resource, severity))
        if stream is None:
            if len(self._streams) >= MAX_CACHED_STREAMS:
                self._streams.clear()
            labels = stream_labels(resource, severity, self._extra_labels)
            stream = _Stream(labels, len(self._labels_json(labels)) + 24, resource_metadata(resource))
            self._streams[(resource, severity)] = stream
        return stream

    def write(self, record: Record) -> None:
        assert isinstance(record, LogRecord)
        stream = self._stream(record.resource, severity_text(record))
        labels = stream.labels
        line = body_line(record.body)
        md = structured_metadata(record, stream.resource_md)
        if not self._config.structured_metadata and md:
            line = f"{line} {logfmt(md)}" if line else logfmt(md)
            md = {}
        value = _encode((str(record.time_ns), line, md) if md else (str(record.time_ns), line))
        # The encoded entry is at least as long as its line and its metadata in UTF-8:
        # only a longer one can be over a limit (rare: then measure and cut).
        if len(value) > self._fits_bytes:
            value = self._fit(record, line, md)
        group_bytes = stream.group_bytes
        size = len(value) + 1
        if not self._batcher.fits_alone(size, group_bytes):
            self._report.too_large(
                self.signal, str(record.origin), size + group_bytes, "--loki-batch-bytes", self._config.batch_bytes
            )
            return
        self._batcher.add(_Entry(record.time_ns, labels, value, record.origin, record.key), size, labels, group_bytes)

    def _fit(self, record: LogRecord, line: str, md: dict[str, str]) -> bytes:
        """The entry with its line cut to ``--loki-max-line-bytes`` and its structured
        metadata to Loki's 64KB, reported as adjusted when either changed."""
        changes = []
        limit = self._config.max_line_bytes
        if len(line) * 4 > limit:  # only then can it be over the limit in bytes
            size = len(line.encode("utf-8", "surrogatepass"))
            line, cut = truncate_utf8(line, limit)
            if cut:
                changes.append(f"line of {size} bytes cut to --loki-max-line-bytes ({limit}), marker appended")
        if md and (shortened := fit_metadata(md)):
            changes.append(f"structured metadata {', '.join(shortened)} shortened to Loki's 64KB limit")
        if changes:
            self._report.adjusted(self.signal, str(record.origin), "; ".join(changes))
        return _encode((str(record.time_ns), line, md) if md else (str(record.time_ns), line))

    def encode_push(self, entries: list[_Entry]) -> bytes:
        """The push body: streams oldest first, entries sorted by time within each."""
        streams: dict[tuple[tuple[str, str], ...], list[_Entry]] = {}
        for e in entries:
            streams.setdefault(e.stream, []).append(e)
        ordered = []
        for labels, items in streams.items():
            items.sort(key=lambda e: e.time_ns)
            ordered.append((items[0].time_ns, labels, items))
        ordered.sort(key=lambda t: t[0])
        parts = [
            b'{"stream":' + self._labels_json(labels) + b',"values":[' + b",".join(e.value for e in items) + b"]}"
            for _, labels, items in ordered
        ]
        return b'{"streams":[' + b",".join(parts) + b"]}"

    def _push(self, entries: list[_Entry]) -> None:
        """Send a batch once the pushes before it that share a stream are done (Loki
        takes each stream oldest first); pushes of other streams may be in flight."""
        body = gzip.compress(self.encode_push(entries), compresslevel=1)
        streams = frozenset(e.stream for e in entries)
        self._inflight.submit(lambda session: self._send(session, entries, body), streams)

    def _send(self, session: VerifyingSession, entries: list[_Entry], body: bytes) -> None:
        n = len(entries)
        if self._stop is not None and self._stop.is_set():  # stopped while it waited for its turn: not sent
            return
        result = post_with_retry(session, self._url, body, self._headers, self._policy, self._stop)
        if self._inflight.abandoned:  # the run quit without waiting: counted as not sent
            return
        where = batch_span(entries[0].origin, entries[-1].origin)
        self._report.note(
            f"logs {where}: {n} entries, {len(body)} bytes → {self._url}: "
            f"{result.status or result.error} ({result.attempts} attempt(s))"
        )
        if result.ok:
            self._report.sent(self.signal, n)
            self._delivered(entries)
            return
        if result.status is None:
            reason = f"{result.error or 'no answer'} (after {result.attempts} attempts)"
            self._report.failed(self.signal, n, reason, where)
            return
        text = result.body.decode("utf-8", "replace")
        reason = f"HTTP {result.status}: {one_line(text) or 'no body'}"
        if result.status == 400:
            counts = parse_rejections(text)
            refused = min(sum(counts.values()), n)
            if refused == 0:
                self._report.rejected(self.signal, n, reason)
                return
            left = refused
            for kind, count in counts.most_common():
                self._report.rejected(self.signal, min(count, left), REASONS.get(kind, reason))
                left -= min(count, left)
                if kind in ("too_old", "too_far_behind"):
                    self._report.hint(OLD_ENTRIES_HINT)
            self._report.sent(self.signal, n - refused)
            # Loki stored the rest of the push; the refused entries would be refused again
            self._delivered(entries)
        elif 400 <= result.status < 500 and result.status != 429:
            self._report.rejected(self.signal, n, reason)
        else:
            self._report.failed(self.signal, n, f"{reason} (after {result.attempts} attempts)", where)

    def _delivered(self, entries: list[_Entry]) -> None:
        if self._on_delivered is not None:
            self._on_delivered(self.signal, [e.key for e in entries])

    def _release(self) -> None:
        for session in self._inflight.lanes:
            session.close()
