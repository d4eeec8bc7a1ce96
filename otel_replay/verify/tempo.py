"""Spans read back from Tempo's ``GET /api/v2/traces/<id>`` and compared with what was sent.

Tempo answers with the trace as OTLP/JSON (ids in base64, enums as names), and with 200
``{"trace":{}}`` (or a 404) for an id it does not have yet: every trace is asked for
again, a few at a time, until all its spans are there or the deadline passes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import requests

from otel_replay.interrupts import asked
from otel_replay.model import Signal
from otel_replay.verify.poll import CONCURRENCY, Rounds
from otel_replay.verify.result import SignalCheck, shown
from otel_replay.verify.sent import SentSpan

#: Traces asked for at once.
_STATUS = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
Spans = dict[int, dict[str, Any]]


class QueryError(Exception):
    """The backend could not be asked or answered something else than a trace (one line)."""


def id_of(value: str | None) -> int:
    """A base64 id (Tempo's JSON) as a number; 0 when absent."""
    return int.from_bytes(base64.b64decode(value), "big") if value else 0


def status_code(span: dict[str, Any]) -> int:
    code = (span.get("status") or {}).get("code", 0)
    return code if isinstance(code, int) else _STATUS.get(code, -1)


def trace_spans(doc: dict[str, Any]) -> Spans:
    """The spans of a ``/api/v2/traces`` answer, by span id."""
    out: Spans = {}
    for rs in (doc.get("trace") or {}).get("resourceSpans") or []:
        for ss in rs.get("scopeSpans") or []:
            for span in ss.get("spans") or []:
                out[id_of(span.get("spanId"))] = span
    return out


def differences(sent: SentSpan, got: dict[str, Any]) -> list[str]:
    """What differs between a span sent and the span read back (empty: the same)."""
    pairs = [
        ("name", sent.name, got.get("name", "")),
        ("parent", f"{sent.parent_span_id:016x}", f"{id_of(got.get('parentSpanId')):016x}"),
        ("start", sent.start_ns, int(got.get("startTimeUnixNano") or 0)),
        ("end", sent.end_ns, int(got.get("endTimeUnixNano") or 0)),
        ("status", sent.status_code, status_code(got)),
        ("events", sent.events, len(got.get("events") or [])),
        ("attributes", sent.attributes, len(got.get("attributes") or [])),
    ]
    return [f"{what} {shown(str(b))} (sent {shown(str(a))})" for what, a, b in pairs if a != b]


class TempoReader:
    def __init__(self, base_url: str, session: requests.Session, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = timeout

    def trace(self, trace_id: int) -> Spans:
        url = f"{self.base_url}/api/v2/traces/{trace_id:032x}"
        try:
            answer = self._session.get(url, timeout=self._timeout, headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise QueryError(f"cannot ask Tempo at {self.base_url}: {type(exc).__name__}") from None
        if answer.status_code == 404:
            return {}
        if answer.status_code != 200:
            raise QueryError(f"Tempo answered {answer.status_code} to {url}: {answer.text[:200].strip()!r}")
        try:
            return trace_spans(answer.json())
        except (ValueError, AttributeError, TypeError) as exc:
            raise QueryError(f"Tempo's answer to {url} is not a trace: {exc}") from None


def check_traces(
    spans: dict[tuple[int, int], SentSpan], reader: TempoReader, deadline_s: float, notify: Callable[[str], None]
) -> SignalCheck:
    """Ask Tempo for every trace sent until all its spans are there or ``deadline_s`` passes."""
    check = SignalCheck(Signal.TRACES, "spans", sent=len(spans))
    wanted: dict[int, dict[int, SentSpan]] = {}
    for (trace_id, span_id), span in spans.items():
        wanted.setdefault(trace_id, {})[span_id] = span
    got: dict[int, Spans] = {}
    pending = list(wanted)
    rounds = Rounds(deadline_s, notify, lambda n: f"Tempo to serve {n} trace(s)")
    while pending:
        try:
            for trace_id, answer in zip(pending, asked(reader.trace, pending, CONCURRENCY), strict=True):
                got[trace_id] = answer
        except QueryError as exc:
            check.error = str(exc)
            break
        pending = [t for t in pending if not wanted[t].keys() <= got[t].keys()]
        if not rounds.again(len(pending)):
            break
    _compare(wanted, got, check)
    return check


def _compare(wanted: dict[int, dict[int, SentSpan]], got: dict[int, Spans], check: SignalCheck) -> None:
    for trace_id, sent_spans in wanted.items():
        answer = got.get(trace_id, {})
        for span_id, sent in sent_spans.items():
            span = answer.get(span_id)
            where = f"span {trace_id:032x}/{span_id:016x} {shown(sent.name)} ({sent.origin})"
            if span is None:
                check.miss(where)
                continue
            check.found += 1
            if diff := differences(sent, span):
                check.differ(f"{where}: " + "; ".join(diff))
