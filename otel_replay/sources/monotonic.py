"""Which cumulative sums are monotonic, judged from their values.

A CodeMachine metrics file writes counters and up-down counters alike as type "3" (sum)
and does not say which is which. A counter's cumulative value never goes down while its
start time stays the same (a new start time is a reset), and is never negative; a series
that does either was written by an up-down counter. Monotonicity is a property of the
instrument (OTLP carries ``isMonotonic`` per metric, not per point), so one such series
makes its whole metric stream — the same metric name, scope and resource — non-monotonic,
and every point of that stream is sent so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from otel_replay.model import Metric, MetricPoint, ResourceAttrs, Scope, freeze

#: A metric stream: resource, scope and metric name.
StreamKey = tuple[ResourceAttrs, Scope | None, str]


def stream_key(point: MetricPoint) -> StreamKey:
    return (point.resource, point.scope, point.metric.name)


def goes_down(samples: Iterable[tuple[int, int, Any]]) -> bool:
    """Whether one cumulative series, given as ``(time_ns, start_ns, value)`` in any order
    (equal times keep their order), shows what a counter cannot: a negative value, or a
    value below the one before it with the same start time."""
    before: tuple[int, Any] | None = None
    for _, start, value in sorted(samples, key=lambda s: s[0]):
        if value < 0:
            return True
        if before is not None and before[0] == start and value < before[1]:
            return True
        before = (start, value)
    return False


def non_monotonic_streams(points: Iterable[MetricPoint]) -> set[StreamKey]:
    """The streams of ``points`` (cumulative sums) that one of their series shows to be
    up-down counters (see :func:`goes_down`)."""
    series: dict[tuple[StreamKey, Any], list[tuple[int, int, Any]]] = {}
    for p in points:
        series.setdefault((stream_key(p), freeze(p.attributes)), []).append((p.time_ns, p.start_ns, p.value))
    return {key[0] for key, samples in series.items() if goes_down(samples)}


def settle_monotonic(points: list[MetricPoint]) -> Iterator[MetricPoint]:
    """``points`` (cumulative sums of one input, read whole) with ``monotonic`` cleared
    on the streams that :func:`non_monotonic_streams` finds."""
    down = non_monotonic_streams(points)
    cleared: dict[Metric, Metric] = {}
    for p in points:
        if p.metric.monotonic and stream_key(p) in down:
            metric = cleared.get(p.metric)
            if metric is None:
                metric = cleared[p.metric] = dataclasses.replace(p.metric, monotonic=False)
            p.metric = metric
        yield p
