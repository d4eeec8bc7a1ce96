"""Metric series read back from Prometheus's ``GET /api/v1/query``: for every series sent
(named and labelled as Prometheus's OTLP receiver stores it: promnames.py), an instant
``count_over_time({__name__="…", label="…"}[…ms])`` at its last point, over a range that
starts before its first: a series is found when it has a sample in its own time range.

Prometheus answers ``{"status":"success","data":{"resultType":"vector","result":[…]}}``,
an empty result when nothing matched, and ``{"status":"error","errorType":…,"error":…}``
(400, 422, 503…) when it cannot answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from otel_replay.interrupts import asked
from otel_replay.model import Signal
from otel_replay.verify.poll import CONCURRENCY, Rounds
from otel_replay.verify.quoting import quoted
from otel_replay.verify.result import SignalCheck, shown
from otel_replay.verify.sent import Labels, SentSeries
from otel_replay.verify.tempo import QueryError

QUERY_PATH = "/api/v1/query"
#: Where Prometheus's OTLP receiver takes metrics (``--web.enable-otlp-receiver``).
OTLP_PATH = "/api/v1/otlp/v1/metrics"
MS = 10**6
Key = tuple[str, Labels]


def series_selector(name: str, labels: Labels) -> str:
    """The PromQL selector of one series (``__name__`` quoted: any name can be asked for)."""
    return "{" + ", ".join(f"{k}={quoted(v)}" for k, v in (("__name__", name), *labels)) + "}"


def presence_query(series: SentSeries) -> tuple[str, str]:
    """(query, evaluation time in seconds): the series' samples from its first point to its
    last (Prometheus keeps milliseconds; a range covers (time - range, time])."""
    at_ms = series.last_ns // MS + 1
    range_ms = at_ms - series.first_ns // MS + 1
    return f"count_over_time({series_selector(series.name, series.labels)}[{range_ms}ms])", f"{at_ms / 1000:.3f}"


class PrometheusReader:
    def __init__(self, base_url: str, session: requests.Session, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = timeout

    def present(self, series: SentSeries) -> bool:
        """Whether Prometheus has a sample of the series in its time range."""
        query, at = presence_query(series)
        try:
            answer = self._session.post(
                self.base_url + QUERY_PATH, data={"query": query, "time": at}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise QueryError(f"cannot ask Prometheus at {self.base_url}: {type(exc).__name__}") from None
        doc = _json(answer)
        if answer.status_code != 200 or doc.get("status") != "success":
            why = f"{doc.get('errorType')}: {doc.get('error')}" if "error" in doc else repr(answer.text[:200].strip())
            raise QueryError(f"Prometheus answered {answer.status_code} to {QUERY_PATH}: {why}")
        try:
            return bool(doc["data"]["result"])
        except (KeyError, TypeError):
            raise QueryError(f"Prometheus's answer to {QUERY_PATH} is not a query result") from None


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        doc = answer.json()
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def check_metrics(
    series: dict[Key, SentSeries], reader: PrometheusReader, deadline_s: float, notify: Callable[[str], None]
) -> SignalCheck:
    """Ask Prometheus for every series sent until all are there or ``deadline_s`` passes."""
    check = SignalCheck(Signal.METRICS, "series", sent=len(series))
    found: set[Key] = set()
    pending = list(series)
    rounds = Rounds(deadline_s, notify, lambda n: f"Prometheus to serve {n} series")
    while pending:
        try:
            answers = asked(lambda key: reader.present(series[key]), pending, CONCURRENCY)
        except QueryError as exc:
            check.error = str(exc)
            break
        found.update(key for key, there in zip(pending, answers, strict=True) if there)
        pending = [key for key in pending if key not in found]
        if not rounds.again(len(pending)):
            break
    for key, s in series.items():
        if key in found:
            check.found += 1
        else:
            where = f"metric {shown(s.metric)}, {s.points} point(s), first {s.origin}"
            check.miss(f"series {series_selector(s.name, s.labels)} ({where})")
    if any(series[key].delta for key in series if key not in found):
        check.notes.append(
            "missing delta sums or histograms: Prometheus keeps those only with "
            "--enable-feature=otlp-deltatocumulative (or native delta ingestion)"
        )
    return check
