"""What a replay sent, worked out again from its inputs: the replay's own pipeline
(sources, filters, dedup, resource rewrite, time offset) into sinks that collect. Log
records go through the Loki sink's own encoding (labels, line cut, structured metadata),
so the stream and line compared are the ones that were pushed."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from otel_replay.assemble import stages
from otel_replay.execute import discovered
from otel_replay.execute.inputs import as_input, copies_last
from otel_replay.model import DELTA, LogRecord, MetricKind, MetricPoint, Record, Signal, SpanRecord
from otel_replay.pipeline import Pipeline
from otel_replay.plan import RunPlan
from otel_replay.sinks import Sink
from otel_replay.sinks.loki import LokiSink
from otel_replay.stages.dedup import SeenCheck
from otel_replay.stats import RunStats
from otel_replay.verify.lokiotlp import entry_of
from otel_replay.verify.promnames import series_labels, series_name

Labels = tuple[tuple[str, str], ...]


@dataclass(slots=True, frozen=True)
class SentSpan:
    trace_id: int
    span_id: int
    parent_span_id: int
    name: str
    start_ns: int
    end_ns: int
    status_code: int  # 0 unset, 1 ok, 2 error
    events: int
    attributes: int
    origin: str


@dataclass(slots=True, frozen=True)
class SentEntry:
    stream: Labels
    time_ns: int
    line: str
    origin: str


@dataclass(slots=True)
class SentSeries:
    """One series of metric points as Prometheus stores it: its name and the labels verify
    matches on (promnames.py), the time range of its points, and where the first came from."""

    name: str
    labels: Labels
    metric: str  # the OTLP name
    delta: bool  # a delta sum or histogram: Prometheus keeps those only when told to
    first_ns: int
    last_ns: int
    points: int
    origin: str


@dataclass
class Sent:
    spans: dict[tuple[int, int], SentSpan] = field(default_factory=dict)
    entries: list[SentEntry] = field(default_factory=list)
    series: dict[tuple[str, Labels], SentSeries] = field(default_factory=dict)

    def add_point(self, point: MetricPoint) -> None:
        name = series_name(point.metric)
        labels = series_labels(point.attributes, dict(point.resource))
        known = self.series.get((name, labels))
        if known is None:
            delta = point.metric.kind is not MetricKind.GAUGE and point.metric.temporality == DELTA
            known = SentSeries(
                name, labels, point.metric.name, delta, point.time_ns, point.time_ns, 0, str(point.origin)
            )
            self.series[(name, labels)] = known
        known.first_ns = min(known.first_ns, point.time_ns)
        known.last_ns = max(known.last_ns, point.time_ns)
        known.points += 1


def sent_span(rec: SpanRecord) -> SentSpan:
    return SentSpan(
        rec.trace_id,
        rec.span_id,
        rec.parent_span_id,
        rec.name,
        rec.start_ns,
        rec.end_ns,
        rec.status_code,
        len(rec.events),
        len(rec.attributes),
        str(rec.origin),
    )


class _Spans:
    """Collects the spans the replay sends (the last of a span id counts, as in Tempo)."""

    signal = Signal.TRACES

    def __init__(self, into: Sent, stats: RunStats) -> None:
        self._into, self._stats = into, stats

    def write(self, record: Record) -> None:
        assert isinstance(record, SpanRecord)
        self._into.spans[(record.trace_id, record.span_id)] = sent_span(record)
        self._stats.sent(self.signal, 1)

    def flush(self) -> None:
        pass

    close = flush

    def interrupt(self) -> None:
        pass

    def abandon(self, wait: bool = True) -> None:
        pass


class _OtlpLogs(_Spans):
    """Collects the log records sent over OTLP as Loki's OTLP endpoint stores them
    (lokiotlp.py), in case that is where they land."""

    signal = Signal.LOGS

    def write(self, record: Record) -> None:
        assert isinstance(record, LogRecord)
        stream, time_ns, line = entry_of(record)
        self._into.entries.append(SentEntry(stream, time_ns, line, str(record.origin)))
        self._stats.sent(self.signal, 1)


class _Points(_Spans):
    """Collects the series of the metric points the replay sends (a point without a
    recorded value is never sent)."""

    signal = Signal.METRICS

    def write(self, record: Record) -> None:
        assert isinstance(record, MetricPoint)
        if record.value is not None:
            self._into.add_point(record)
            self._stats.sent(self.signal, 1)


_decode = msgspec.json.Decoder().decode


class _LokiEntries(LokiSink):
    """The Loki sink, encoding entries as it pushes them, but keeping them instead."""

    def __init__(self, plan: RunPlan, into: Sent, stats: RunStats) -> None:
        super().__init__(plan.loki, stats)
        self._into = into

    def _push(self, entries: list) -> None:  # type: ignore[type-arg]
        for e in entries:
            value = _decode(e.value)
            self._into.entries.append(SentEntry(e.stream, e.time_ns, value[1], str(e.origin)))
        self._stats.sent(self.signal, len(entries))


def collect(plan: RunPlan, offset_ns: int) -> Sent:
    """Read the plan's inputs again as the replay did (every record it would send, with
    ``offset_ns``; a --resume journal is not consulted: all runs together sent them all)."""
    sent, stats = Sent(), RunStats()
    sinks: dict[Signal, Sink] = {}
    for sig in plan.signals:
        if sig is Signal.TRACES:
            sinks[sig] = _Spans(sent, stats)
        elif sig is Signal.LOGS and plan.logs_to == "loki":
            sinks[sig] = _LokiEntries(plan, sent, stats)
        elif sig is Signal.METRICS:
            sinks[sig] = _Points(sent, stats)
        else:
            sinks[sig] = _OtlpLogs(sent, stats)
    pipeline = Pipeline(sinks=sinks, stages=stages(plan, offset_ns, SeenCheck().records), stats=stats)
    found = copies_last(discovered(plan, None), plan.limits.ratio_cap)  # with --shard: its share
    pipeline.run(as_input(entry, plan.limits.ratio_cap) for entry in found)
    return sent
