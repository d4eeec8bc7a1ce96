"""The internal records that flow from sources through transforms to sinks.

Plain, slotted data: no I/O, no SDK objects. Sinks turn them into whatever their
backend wants (SDK ``ReadableSpan`` objects, Loki push entries, OTLP/JSON lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

#: Resource attributes as a hashable, order-stable tuple of (key, value) pairs.
#: Values are JSON-like but hashable (lists become tuples, objects sorted item tuples).
ResourceAttrs = tuple[tuple[str, Any], ...]


class Signal(str, Enum):
    TRACES = "traces"
    LOGS = "logs"
    METRICS = "metrics"


@dataclass(slots=True, unsafe_hash=True)  # never changed once made; not frozen: made per record twice as fast
class Origin:
    """Where a record came from: the file's display name and the record's index in it.
    The name may be an object that works it out when shown (a line of a file read in
    parts: :class:`~otel_replay.sources.otlp_json.PartLine`)."""

    source: str | object
    index: int

    def __str__(self) -> str:
        return f"{self.source}[{self.index}]"


@dataclass(slots=True, frozen=True)
class Scope:
    """An instrumentation scope, shared by the records it produced (hashable, built once)."""

    name: str
    version: str | None = None
    schema_url: str = ""
    attributes: ResourceAttrs = ()


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]
    dropped_attributes: int = 0


@dataclass(slots=True)
class SpanLink:
    trace_id: int
    span_id: int
    trace_state: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    dropped_attributes: int = 0
    flags: int = 0  # OTLP Span.Link.flags (bits 8-9: whether the linked context is remote)


@dataclass(slots=True)
class SpanRecord:
    trace_id: int
    span_id: int
    parent_span_id: int  # 0 for a root span
    name: str
    kind: int  # opentelemetry.trace.SpanKind value
    start_ns: int
    end_ns: int
    status_code: int  # 0 UNSET, 1 OK, 2 ERROR
    status_message: str | None
    attributes: dict[str, Any]
    events: list[SpanEvent]
    resource: ResourceAttrs
    origin: Origin
    # Fields only OTLP input carries (CodeMachine files have none of them):
    scope: Scope | None = None  # None: the replayer's own scope
    resource_schema_url: str = ""
    trace_state: str = ""  # W3C tracestate header value
    flags: int = 0  # OTLP Span.flags: W3C trace flags in bits 0-7, parent is-remote in bits 8-9
    links: list[SpanLink] = field(default_factory=list)
    dropped_attributes: int = 0
    dropped_events: int = 0
    dropped_links: int = 0


@dataclass(slots=True)
class LogRecord:
    time_ns: int
    severity_number: int  # 0 = unspecified
    severity_text: str | None
    body: Any
    attributes: dict[str, Any]  # without the correlation keys lifted into trace_id/span_id
    trace_id: int  # 0 when the record carries none
    span_id: int
    resource: ResourceAttrs
    origin: Origin
    key: bytes = b""  # content digest, set by dedup (identifies the record across runs)
    #: The kinds of change it was counted "changed to fit" with when sent (RunStats.adjusted);
    #: None: not changed. A sink that changes it again counts it once all the same.
    changed: str | None = None
    # Fields only OTLP input carries:
    observed_ns: int | None = None  # None: the same as time_ns
    flags: int | None = None  # OTLP LogRecord.flags (W3C trace flags); None: not recorded (sent as 0)
    scope: Scope | None = None
    resource_schema_url: str = ""
    event_name: str | None = None
    dropped_attributes: int = 0


#: The attributes CodeMachine's log records carry their trace and span ids in.
TRACE_ID_KEY, SPAN_ID_KEY = "trace.id", "span.id"
#: A plain CodeMachine log record (sources/plainlogs.py): its index in its document, time
#: (ns), severity number and text (None: none), body, attributes as written (the ids among
#: them), trace and span id in lowercase hex ("": none), resource.
PlainLog = tuple[int, int, int, "str | None", str, dict[str, Any], str, str, ResourceAttrs]


@dataclass(slots=True)
class PlainLogs:
    """Consecutive plain log records of one document, handed on without a record object
    each (the Loki sink makes their entries directly)."""

    source: str
    records: list[PlainLog]

    def record(self, plain: PlainLog) -> LogRecord:
        """The record the CodeMachine reader makes of it (the ids out of its attributes)."""
        index, time_ns, number, text, body, attributes, trace, span, resource = plain
        if TRACE_ID_KEY in attributes or SPAN_ID_KEY in attributes:
            attributes = {k: v for k, v in attributes.items() if k != TRACE_ID_KEY and k != SPAN_ID_KEY}
        trace_id = int(trace, 16) if trace else 0
        span_id = int(span, 16) if span else 0
        origin = Origin(self.source, index)
        return LogRecord(time_ns, number, text, body, attributes, trace_id, span_id, resource, origin)


class MetricKind(str, Enum):
    GAUGE = "gauge"
    SUM = "sum"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"


#: OTLP AggregationTemporality values.
DELTA, CUMULATIVE = 1, 2


@dataclass(slots=True, frozen=True)
class Metric:
    """A metric's definition, shared by its data points (hashable, built once per metric)."""

    name: str
    kind: MetricKind
    description: str = ""
    unit: str = ""
    temporality: int = CUMULATIVE  # sums and histograms only; 0 = unspecified
    monotonic: bool = False  # sums only

    @property
    def type_name(self) -> str:
        """``gauge``, ``sum``, ``counter`` (a monotonic sum), ``histogram``...; ``(delta)`` when so."""
        name = "counter" if self.kind is MetricKind.SUM and self.monotonic else self.kind.value
        if self.kind is not MetricKind.GAUGE and self.temporality == DELTA:
            name += " (delta)"
        return name


@dataclass(slots=True)
class HistogramValue:
    count: int
    sum: float | None
    bucket_counts: list[int]
    explicit_bounds: list[float]
    min: float | None = None
    max: float | None = None


@dataclass(slots=True)
class ExponentialHistogramValue:
    count: int
    sum: float | None
    scale: int
    zero_count: int
    positive_offset: int = 0
    positive_counts: list[int] = field(default_factory=list)
    negative_offset: int = 0
    negative_counts: list[int] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    flags: int = 0  # OTLP DataPointFlags


@dataclass(slots=True)
class Exemplar:
    time_ns: int
    value: int | float
    attributes: dict[str, Any] = field(default_factory=dict)
    trace_id: int = 0
    span_id: int = 0


@dataclass(slots=True)
class MetricPoint:
    """One data point of one metric: a number (gauge, sum) or a histogram."""

    metric: Metric
    attributes: dict[str, Any]
    start_ns: int  # 0 when not recorded (gauges usually)
    time_ns: int
    #: None: no recorded value (OTLP's ``FLAG_NO_RECORDED_VALUE``; a CodeMachine histogram
    #: point written as ``value: 0``): read, deduplicated and counted, never sent.
    value: int | float | HistogramValue | ExponentialHistogramValue | None
    resource: ResourceAttrs
    origin: Origin
    scope: Scope | None = None
    resource_schema_url: str = ""
    exemplars: list[Exemplar] = field(default_factory=list)
    key: bytes = b""  # content digest, set by dedup (identifies the point across runs)


@dataclass(slots=True)
class InvalidRecord:
    """A record a source could not turn into a valid one; reported, never sent. ``key``
    is the kind of reason, the same for every record refused for the same sort of fault
    ("" when the reason is that already); ``value`` the offending value, when known."""

    signal: Signal
    origin: Origin
    reason: str
    key: str = ""
    value: str | None = None


@dataclass(slots=True)
class Adjusted:
    """A record that is replayed, but with a value changed to fit what OTLP or the backend
    can take (the reason says which and how); reported, and the run exits 1. It precedes
    its record (at ``origin``), and counts only if that record is sent: not when the
    record is dropped (filters, duplicates, --resume) or the run stops before it.
    ``key``: the kinds of change, without the values ("" when the reason is that already)."""

    signal: Signal
    origin: Origin
    reason: str
    key: str = ""


@dataclass(slots=True)
class FileProblem:
    """A problem with a whole file: it (or the rest of it) could not be read, or it was
    read despite a flaw the reason names. Reported; the run exits 1. ``key``: the kind of
    reason ("" when the reason is that already)."""

    source: str
    reason: str
    signal: Signal | None = None
    key: str = ""


@dataclass(slots=True)
class Notice:
    """Something the user should know about how a file was replayed that is not a problem
    (shown once as a hint; the exit status does not change). With an ``origin`` it is
    about that one record, and shown only if the record is sent (like :class:`Adjusted`)."""

    text: str
    origin: Origin | None = None


@dataclass(slots=True)
class FileStart:
    """Emitted by a source once it knows what kind of document a file is. A later part of
    a file shared among workers (its first part counts the file: ``counted`` False) still
    says it, so that its records replay as the first part's do (:attr:`as_recorded`)."""

    source: str
    signal: Signal
    fmt: str
    counted: bool = True

    @property
    def one_signal(self) -> bool:
        """Whether the file holds records of this signal only (JSON Lines may mix them)."""
        return self.fmt != "otlp-jsonl"

    @property
    def as_recorded(self) -> bool:
        """Whether its records replay as recorded, never deduplicated: OTLP input has no
        copies to skip (CodeMachine folders hold each newest session twice)."""
        return self.fmt.startswith("otlp")


Record = SpanRecord | LogRecord | MetricPoint
SIGNAL_OF: dict[type, Signal] = {SpanRecord: Signal.TRACES, LogRecord: Signal.LOGS, MetricPoint: Signal.METRICS}


def record_key(rec: Record) -> int | bytes:
    """What identifies a record within and across runs: a span by its trace and span ids,
    a log record or a metric point by its content digest (``key``, set by dedup)."""
    if isinstance(rec, SpanRecord):
        return (rec.trace_id << 64) | rec.span_id
    return rec.key


SourceItem = SpanRecord | LogRecord | MetricPoint | InvalidRecord | Adjusted | FileProblem | FileStart | Notice


class FrozenMap(tuple):  # type: ignore[type-arg]
    """A JSON object made hashable: a tuple of sorted (key, value) pairs, told apart from arrays."""

    __slots__ = ()


def freeze(value: Any) -> Any:
    """Make a JSON-like value hashable (arrays → tuples, objects → :class:`FrozenMap`)."""
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return FrozenMap(sorted((str(k), freeze(v)) for k, v in value.items()))
    return value


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`."""
    if isinstance(value, FrozenMap):
        return {k: thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def truncate_utf8(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to at most ``limit`` UTF-8 bytes with a marker saying how much was cut;
    returns the new text and the number of bytes removed (0 when it already fits)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, 0
    marker_room = 48
    keep = data[: max(limit - marker_room, 0)].decode("utf-8", "ignore")
    cut = len(data) - len(keep.encode("utf-8", "surrogatepass"))
    return f"{keep}…[otel-replay: {cut} bytes truncated]", cut


_RESOURCES: dict[tuple[Any, ...], ResourceAttrs] = {}


def resource_from_mapping(attrs: dict[str, Any]) -> ResourceAttrs:
    """Sorted, frozen resource attributes; one shared tuple per distinct resource (every
    log record of a CodeMachine file repeats the same resource object)."""
    try:
        key = (*attrs.items(), *map(type, attrs.values()))  # types too: True == 1 == 1.0 in a dict key
        cached = _RESOURCES.get(key)
    except TypeError:  # an unhashable value (an array or object): build it each time
        return tuple(sorted((str(k), freeze(v)) for k, v in attrs.items()))
    if cached is None:
        cached = tuple(sorted((str(k), freeze(v)) for k, v in attrs.items()))
        if len(_RESOURCES) < 4096:
            _RESOURCES[key] = cached
    return cached


@dataclass(slots=True)
class ResourceOverrides:
    """What the user asked to change on every resource (``--service-name``, ``--resource-attr``)."""

    service_name: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
