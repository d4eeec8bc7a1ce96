"""Log records → Loki push API (``/loki/api/v1/push``), JSON, gzip-compressed (or not:
``--loki-compression none``).

Only low-cardinality values become labels (service, severity, ``imported``, the user's
``--loki-label``); trace and span ids and every attribute go into structured metadata
(Loki 3), or into the line as logfmt with ``--no-structured-metadata`` (Loki 2.x).
Entries are sorted by time within each stream and each push stays under
``--loki-batch-bytes``. A 400 is a partial success: the body says which entries Loki
refused and why, and only those are counted as rejected.
"""

from __future__ import annotations

import operator
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec

from otel_replay.model import (
    SPAN_ID_KEY,
    TRACE_ID_KEY,
    LogRecord,
    Origin,
    PlainLogs,
    Record,
    ResourceAttrs,
    Signal,
    truncate_utf8,
)
from otel_replay.resume import Journal
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME, Account, Outcome, RetryPolicy
from otel_replay.sinks.http import VerifyingSession, gzipped, post_once
from otel_replay.sinks.inflight import InFlight, InFlightSink
from otel_replay.sinks.loki_answers import classify, label_string
from otel_replay.sinks.loki_entry import (
    body_line,
    entry_metadata,
    logfmt,
    resource_metadata,
    sanitize_label_name,
    severity_name,
    severity_text,
    stream_labels,
    structured_metadata,
)
from otel_replay.sinks.loki_limits import (
    MAX_METADATA_BYTES,
    MAX_METADATA_ENTRIES,
    OVERFLOW_KEY,
    REPLAY_ID_KEY,
    fit_metadata,
    fit_metadata_entries,
)
from otel_replay.stats import RunStats

PUSH_PATH = "/loki/api/v1/push"
DEFAULT_URL = "http://localhost:3100"
DEFAULT_BATCH_BYTES = 1024 * 1024
MAX_ENTRIES_PER_PUSH = 100_000
MAX_CACHED_STREAMS = 4096
#: Loki's defaults: ``max_line_size`` 256KB and ``max_structured_metadata_size`` 64KB,
#: which Loki 3.4 reads as 1024-byte KB ("Max entry size '262144' bytes exceeded"); the
#: structured metadata limits are in loki_limits.py.
DEFAULT_MAX_LINE_BYTES = 256 * 1024
_encode = msgspec.json.Encoder().encode


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
    gzip: bool = True  # push bodies gzip-compressed (--loki-compression)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    timeout: float = 10.0  # one attempt
    max_retry_time: float = DEFAULT_MAX_RETRY_TIME  # one batch, retries included
    certificate: str | None = None
    verify: bool = True
    backoff: float = 1.0  # the first retry's wait; then twice as long each time (see sinks/delivery.py)
    concurrency: int = 1  # pushes in flight (--concurrency)
    replay_id: str | None = None  # set per run (structured metadata replay_id, see otel_replay/verify)

    def push_url(self) -> str:
        """The push endpoint, with any user info taken out of the URL."""
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        path = parts.path.rstrip("/")
        if not path.endswith(PUSH_PATH):
            path += PUSH_PATH
        return urlunsplit((parts.scheme, netloc, path, parts.query, ""))

    def ready_url(self) -> str:
        """Loki's readiness endpoint (``/ready``) beside its push path, without user info."""
        push = self.push_url()
        return push[: -len(PUSH_PATH)] + "/ready"

    def auth(self) -> tuple[str, str] | None:
        if self.user is not None:
            return self.user, self.password or ""
        parts = urlsplit(self.url)
        if parts.username is not None:
            return unquote(parts.username), unquote(parts.password or "")
        return None


def loki_session(config: LokiConfig) -> VerifyingSession:
    """A session with Loki's basic auth and TLS choice (the sink's, and the preflight check's)."""
    session = VerifyingSession()
    session.auth = config.auth()
    if config.certificate:
        session.verify = config.certificate
    elif not config.verify:
        session.verify = False
    return session


def loki_headers(config: LokiConfig) -> dict[str, str]:
    """The headers every request to Loki carries: ``--loki-header`` and the tenant."""
    headers = dict(config.headers)
    if config.tenant:
        headers["X-Scope-OrgID"] = config.tenant
    return headers


@dataclass(slots=True)
class _Stream:
    labels: tuple[tuple[str, str], ...]
    json: bytes  # the labels as a push names them; bytes keep their hash: the key to group by
    group_bytes: int  # what its labels add to a push
    resource_md: dict[str, str]  # structured metadata from its resource (copied per entry)
    room: int  # the size of the largest entry that fits in a push alone


@dataclass(slots=True)
class _Entry:
    time_ns: int
    stream: tuple[tuple[str, str], ...]
    group: bytes  # its stream's labels as JSON (see _Stream.json)
    value: bytes  # the encoded ["<ns>", "line", {metadata}] triple
    source: str | object  # where it came from (see origin)
    index: int
    key: bytes

    @property
    def origin(self) -> Origin:
        return Origin(self.source, self.index)  # made when asked: rarely, not per entry


_ID_KEYS = (TRACE_ID_KEY, SPAN_ID_KEY)
_TIME_OF, _VALUE_OF, _FIRST = operator.attrgetter("time_ns"), operator.attrgetter("value"), operator.itemgetter(0)

#: An entry ready to batch: the entry, its size in a push, its stream's (see LokiSink.entry).
Prepared = tuple[_Entry, int, int]


class LokiSink(InFlightSink):
    signal = Signal.LOGS

    def __init__(
        self,
        config: LokiConfig,
        stats: RunStats,
        stop: threading.Event | None = None,
        on_delivered: Journal | None = None,
    ) -> None:
        self._config = config
        self._stats = stats
        self._stop = stop
        self._url = config.push_url()
        self._extra_labels = {sanitize_label_name(k): v for k, v in config.labels.items()}
        self._inflight = InFlight(loki_session(config) for _ in range(config.concurrency))
        self._headers = {"Content-Type": "application/json", **loki_headers(config)}
        if config.gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._policy = RetryPolicy(
            config.max_retry_time, config.timeout, base_backoff=config.backoff, subject=self.signal.value
        )
        self._account = Account(self.signal, stats, on_delivered)
        self._streams: dict[tuple[ResourceAttrs, str], _Stream] = {}
        self._fits_bytes = min(config.max_line_bytes, MAX_METADATA_BYTES)
        self._logfmt = not config.structured_metadata  # Loki 2.x: the metadata goes into the line
        self._replay_id = config.replay_id if config.structured_metadata else None
        self._batcher: Batcher[_Entry] = Batcher(self._push, MAX_ENTRIES_PER_PUSH, config.batch_bytes, 16)

    def _stream(self, resource: ResourceAttrs, severity: str) -> _Stream:
        """The stream of records with this resource and severity (built once per run:
        a run sees few distinct ones, each many times)."""
        stream = self._streams.get((resource, severity))
        if stream is None:
            if len(self._streams) >= MAX_CACHED_STREAMS:
                self._streams.clear()
            labels = stream_labels(resource, severity, self._extra_labels)
            json = _encode(dict(labels))
            group_bytes = len(json) + 24
            stream = _Stream(labels, json, group_bytes, resource_metadata(resource), self._batcher.room(group_bytes))
            self._streams[(resource, severity)] = stream
        return stream

    def write(self, record: Record) -> None:
        prepared = self.entry(record)
        if prepared is not None:
            self.add(prepared)

    def write_plain(self, block: PlainLogs, times: list[int | None]) -> None:
        """Batch the entries of a block of plain records (see :meth:`plain_entries`)."""
        for prepared in self.plain_entries(block, times):
            self.add(prepared)

    def add(self, prepared: Prepared) -> None:
        """Batch an entry made by :meth:`entry` (a worker makes them before its turn to push)."""
        entry, size, group_bytes = prepared
        self._batcher.add(entry, size, entry.group, group_bytes)

    def entry(self, record: Record) -> Prepared | None:
        """The record's entry, encoded, with its size and its stream's; None when it cannot
        fit in a push even alone (counted as too large)."""
        assert isinstance(record, LogRecord)
        stream = self._stream(record.resource, severity_text(record))
        md = structured_metadata(record, stream.resource_md)
        value, line, md = self._value(record.time_ns, body_line(record.body), md)
        if value is None:
            value = self._fit(record, line, md)
        return self._ready(record.time_ns, stream, value, record.origin.source, record.origin.index, record.key)

    def plain_entries(self, block: PlainLogs, times: list[int | None]) -> Iterator[Prepared]:
        """The entries of a block of plain records (sources/plainlogs.py) at these times
        (None: not sent), made as :meth:`entry` makes them, without a record each but for
        the few that must be cut to fit."""
        stream, last = None, (None, None, None)  # the stream of the record before, and its parts
        for plain, time_ns in zip(block.records, times, strict=True):
            if time_ns is None:
                continue
            index, _, number, text, body, attributes, trace, span, resource = plain
            if resource is not last[0] or text != last[1] or number != last[2]:  # the same object: as the one before
                stream, last = self._stream(resource, severity_name(text, number)), (resource, text, number)
            md = entry_metadata(stream.resource_md, attributes, None, trace, span, _ID_KEYS)
            value = self._value(time_ns, body, md)[0]
            if value is None:  # to be cut: as any record
                record = block.record(plain)
                record.time_ns = time_ns
                prepared = self.entry(record)
            else:
                prepared = self._ready(time_ns, stream, value, block.source, index, b"")
            if prepared is not None:
                yield prepared

    def _value(self, time_ns: int, line: str, md: dict[str, str]) -> tuple[bytes | None, str, dict[str, str]]:
        """The encoded entry, and its line and metadata as encoded; None for the entry when
        it may be over one of Loki's limits (then :meth:`_fit` measures and cuts)."""
        if self._replay_id:  # counts towards Loki's limits below
            md[REPLAY_ID_KEY] = self._replay_id
        if self._logfmt and md:
            line = f"{line} {logfmt(md)}" if line else logfmt(md)
            md = {}
        value = _encode((str(time_ns), line, md) if md else (str(time_ns), line))
        # The encoded entry is at least as long as its line and its metadata in UTF-8:
        # only a longer one can be over a limit (rare: then measure and cut).
        if len(value) > self._fits_bytes or len(md) > MAX_METADATA_ENTRIES:
            return None, line, md
        return value, line, md

    def _ready(
        self, time_ns: int, stream: _Stream, value: bytes, source: str | object, index: int, key: bytes
    ) -> Prepared | None:
        """The entry ready to batch; None when it cannot fit in a push even alone (counted)."""
        size = len(value) + 1
        if size > stream.room:
            limit = self._config.batch_bytes
            self._stats.too_large(
                self.signal, Origin(source, index), size + stream.group_bytes, "--loki-batch-bytes", limit
            )
            return None
        return _Entry(time_ns, stream.labels, stream.json, value, source, index, key), size, stream.group_bytes

    def _fit(self, record: LogRecord, line: str, md: dict[str, str]) -> bytes:
        """The entry with its line cut to ``--loki-max-line-bytes`` and its structured
        metadata to Loki's 128 entries and 64KB, reported as adjusted when any changed."""
        changes, kinds = [], []
        if (fewer := fit_metadata_entries(md)) is not None:
            merged = len(md) - len(fewer) + 1
            changes.append(
                f"structured metadata of {len(md)} entries is over Loki's {MAX_METADATA_ENTRIES}: "
                f"{merged} of them merged into one, {OVERFLOW_KEY} (JSON)"
            )
            kinds.append(f"structured metadata entries over Loki's {MAX_METADATA_ENTRIES} merged")
            md = fewer
        limit = self._config.max_line_bytes
        if len(line) * 4 > limit:  # only then can it be over the limit in bytes
            size = len(line.encode("utf-8", "surrogatepass"))
            line, cut = truncate_utf8(line, limit)
            if cut:
                changes.append(f"line of {size} bytes cut to --loki-max-line-bytes ({limit}), marker appended")
                kinds.append("line cut to --loki-max-line-bytes")
        if md and (shortened := fit_metadata(md)):
            changes.append(f"structured metadata {', '.join(shortened)} shortened to Loki's 64KB limit")
            kinds.append("structured metadata shortened to Loki's 64KB limit")
        if changes:
            reason, kind = "; ".join(changes), "; ".join(kinds)
            record.changed = self._stats.adjusted(self.signal, record.origin, reason, kind, record.changed)
        return _encode((str(record.time_ns), line, md) if md else (str(record.time_ns), line))

    def encode_push(self, entries: list[_Entry]) -> bytes:
        """The push body: streams oldest first, entries sorted by time within each."""
        streams: dict[bytes, list[_Entry]] = {}
        for e in entries:
            streams.setdefault(e.group, []).append(e)
        ordered = []
        for labels, items in streams.items():
            items.sort(key=_TIME_OF)
            ordered.append((items[0].time_ns, labels, items))
        ordered.sort(key=_FIRST)
        parts = [
            b'{"stream":' + labels + b',"values":[' + b",".join(list(map(_VALUE_OF, items))) + b"]}"
            for _, labels, items in ordered
        ]
        return b'{"streams":[' + b",".join(parts) + b"]}"

    def _push(self, entries: list[_Entry]) -> None:
        """Send a batch once the pushes before it that share a stream are done (Loki
        takes each stream oldest first); pushes of other streams may be in flight."""
        body = self.encode_push(entries)
        streams = frozenset(e.group for e in entries)
        self._inflight.submit(lambda session: self._send(session, entries, body), streams)

    def _send(self, session: VerifyingSession, entries: list[_Entry], body: bytes) -> None:
        if self._stop is not None and self._stop.is_set():  # stopped while it waited for its turn: not sent
            return
        if self._config.gzip:  # here, in the request's thread: ISA-L lets the reading go on meanwhile
            body = gzipped(body)
        answers: list[str] = []

        def attempt(timeout: float) -> Outcome:
            outcome, answer = post_once(session, self._url, body, self._headers, timeout, classify, _stream_sizes)
            answers.append(answer)
            return outcome

        def _stream_sizes() -> dict[str, int]:
            return {label_string(labels): n for labels, n in Counter(e.stream for e in entries).items()}

        number = self._account.sending(lambda: [e.key for e in entries])
        outcome, attempts = self._policy.run(attempt, self._stop)
        said = f"{self._url}: {answers[-1] if answers else 'no answer'}"
        self._settle(entries, f"entries, {len(body)} bytes", said, outcome, attempts, number)

    def _release(self) -> None:
        for session in self._inflight.lanes:
            session.close()
