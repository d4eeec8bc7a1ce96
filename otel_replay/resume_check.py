"""``--resume`` after a kill: before anything is sent again, find out what the backends
already have of the batches an earlier run sent and never saw answered (the journal's
pending batches, :mod:`otel_replay.resume`).

- **Spans** are asked of Tempo's query API (``GET /api/v2/traces/<id>``, verify's reader)
  at ``--tempo-query-url`` (by default the OTLP endpoint's host, port 3200). The spans it
  has are journalled as stored and skipped; only the others are sent. Asking is needed:
  Tempo 2.7 serves a span pushed twice twice when both copies reach its ingester while
  the trace is live — its trace combiner dedupes spans (by id and kind) only across the
  parts of a trace it combines, not within one part. A trace-by-id query reads the
  ingester's live traces too, so a span stored a moment before the kill is found.
- **Log records sent to Loki** are sent again without asking: Loki drops an entry
  identical in stream, time and line to one it has (its unordered head block ignores it;
  its queries collapse such entries across chunks), and a resumed run sends exactly the
  same entries (the first run's time offset, replay id and labels).
- **Anything else** — metric data points, log records over OTLP, spans when Tempo cannot
  be asked (a Collector, a query API that does not answer) — is sent again, and the
  summary says how many records may now be there twice, and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import Signal
from otel_replay.plan import RunPlan
from otel_replay.problems import noun
from otel_replay.resume import ResumeState
from otel_replay.stats import RunStats


@dataclass
class ReadBack:
    """What the backends said of the pending batches: the spans Tempo has, the batches
    settled by asking, and per signal the records sent again unchecked and why."""

    found: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    unchecked: dict[Signal, tuple[int, str]] = field(default_factory=dict)

    def journal(self, state: ResumeState, stats: RunStats) -> None:
        """Write what was found into the journal (after :meth:`ResumeState.start`) and
        say in the summary what may now be there twice."""
        state.acknowledge(Signal.TRACES, self.found)
        state.settle_pending(self.settled)
        for signal, (n, why) in self.unchecked.items():
            stats.hint(
                f"--resume: {n} {noun(signal)}(s) in requests that were in flight when an earlier run stopped "
                f"are sent again unchecked ({why}): they may now be there twice"
            )


def read_back(
    state: ResumeState, plan: RunPlan, tempo_query_url: str | None, notify: Callable[[str], None]
) -> ReadBack:
    """Ask the backends about the records of ``state``'s pending batches this run sends."""
    out = ReadBack()
    pending: dict[Signal, list[tuple[int, list[Any]]]] = {}
    for batch, (signal, keys) in state.pending.items():
        if signal in plan.signals:
            pending.setdefault(signal, []).append((batch, keys))
    for signal, batches in pending.items():
        n = sum(len(keys) for _, keys in batches)
        if signal is Signal.LOGS and plan.logs_to == "loki":
            continue  # Loki ignores an identical entry (see the module's docstring)
        if signal is not Signal.TRACES:
            out.unchecked[signal] = (n, f"{plan.redact(plan.destinations[signal])} cannot be asked what it has")
            continue
        from otel_replay.verify.run import tempo_query_url as query_url
        from otel_replay.verify.tempo import QueryError

        url = query_url(plan, tempo_query_url)
        notify(f"--resume: asking Tempo at {url} which of {n} span(s) sent before the stop it has")
        try:
            found = _spans_found(plan, url, [k for _, keys in batches for k in keys])
        except QueryError as exc:
            out.unchecked[signal] = (n, f"{exc}; --tempo-query-url names Tempo's query API")
            continue
        notify(f"--resume: Tempo has {len(found)} of them; the other {n - len(found)} are sent again")
        out.found += found
        out.settled += [batch for batch, _ in batches]
    return out


def _spans_found(plan: RunPlan, url: str, keys: list[int]) -> list[int]:
    """The span keys (trace id << 64 | span id) Tempo at ``url`` serves (QueryError: it
    cannot be asked)."""
    import requests

    from otel_replay.interrupts import asked
    from otel_replay.verify.poll import CONCURRENCY
    from otel_replay.verify.tempo import TempoReader

    wanted: dict[int, set[int]] = {}
    for key in keys:
        wanted.setdefault(key >> 64, set()).add(key & ((1 << 64) - 1))
    found: list[int] = []
    with requests.Session() as session:
        session.verify = plan.otlp.certificate or plan.otlp.verify
        session.headers.update(plan.otlp.headers or {})
        reader = TempoReader(url, session, plan.otlp.timeout)
        for trace_id, spans in zip(wanted, asked(reader.trace, list(wanted), CONCURRENCY), strict=True):
            found += [(trace_id << 64) | span_id for span_id in wanted[trace_id] & spans.keys()]
    return found
