"""A fake Prometheus 3: its OTLP receiver (``POST /api/v1/otlp/v1/metrics``, decoded with
opentelemetry-proto by :class:`~tests.fakes.otlp.OtlpReceiver`) and its query API
(``GET`` or ``POST /api/v1/query``) over what it received.

No Prometheus binary is available where the suite runs, so this fake is written from
Prometheus's documentation and source (github.com/prometheus/otlptranslator; the HTTP API
at prometheus.io/docs/prometheus/latest/querying/api/), on its own, not with
otel_replay's code: it stores each point under the name Prometheus gives it (default
``UnderscoreEscapingWithSuffixes``: words joined by ``_``, the unit as a word, ``_total``
for a monotonic sum, ``_ratio`` for a gauge of unit ``1``; a histogram as ``_count``,
``_sum`` and ``_bucket``), with its attributes as labels (characters outside
``[a-zA-Z0-9]`` as ``_``) and ``job``/``instance`` from ``service.name`` and
``service.instance.id``, at its time in milliseconds.

It answers the one query verify asks, ``count_over_time(<selector>[<N>ms|s])`` with a
selector of ``name="value"`` matchers (``__name__`` among them) at ``time`` (seconds):
``{"status":"success","data":{"resultType":"vector","result":[{"metric":{…},"value":[<time>,"<n>"]}]}}``
(the ``metric`` without ``__name__``, as a range function's result has), an empty result
when nothing matched; anything else gets Prometheus's error body, 400
``{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": …"}``.

``query_error=(status, errorType, error)`` answers every query with that error body, as
Prometheus does when it cannot (e.g. 422 ``execution`` "query processing would load too
many samples into memory in query execution", 503 ``unavailable``).

``drop_every=N``: a Prometheus that silently loses series: every push answers 200, but
the N-th, 2N-th… series stored is never served (:meth:`dropped` names them).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tests.fakes.otlp import METRICS, OtlpReceiver
from tests.fakes.server import Answer

QUERY = "/api/v1/query"
JSON = "application/json"
_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "By": "bytes", "1": "", "%": "percent"}
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*")\s*(,|$)')
_QUERY = re.compile(r"^\s*count_over_time\s*\(\s*\{(.*)\}\s*\[\s*(\d+)(ms|s)\s*\]\s*\)\s*$", re.S)
Series = tuple[tuple[str, str], ...]  # sorted labels, __name__ among them


class PromQLError(ValueError):
    pass


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return str(getattr(value, kind)) if kind else ""


def _labels(attributes: list[KeyValue]) -> dict[str, str]:
    return {re.sub(r"[^a-zA-Z0-9]", "_", kv.key): _text(kv.value) for kv in attributes}


def prometheus_name(name: str, unit: str, suffix: str) -> str:
    words = [w for w in re.split(r"[^a-zA-Z0-9:]+", name) if w]
    unit_word = _UNITS.get(unit, "" if "{" in unit else unit)
    if unit_word and unit_word not in words:
        words.append(unit_word)
    if suffix and suffix not in words:
        words.append(suffix)
    return "_".join(words)


class PrometheusWithQueries(OtlpReceiver):
    def __init__(
        self, drop_every: int | None = None, query_error: tuple[int, str, str] | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("accepts", (METRICS,))
        super().__init__(**kwargs)
        self.drop_every = drop_every
        self.query_error = query_error
        self.queries: list[str] = []
        self.query_headers: list[dict[str, str]] = []

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        parts = urlsplit(path)
        if parts.path != QUERY:
            return super().handle(method, path, headers, body)
        form = parse_qs(parts.query)
        if method == "POST":
            form |= parse_qs(body.decode())
        params = {k: v[0] for k, v in form.items()}
        with self.lock:
            self.queries.append(params.get("query", ""))
            self.query_headers.append({k.lower(): v for k, v in headers.items()})
        if self.query_error is not None:
            status, kind, text = self.query_error
            return Answer(status, json.dumps({"status": "error", "errorType": kind, "error": text}).encode(), JSON)
        try:
            at_s = float(params["time"]) if params.get("time") else time.time()
        except ValueError:
            error = f'invalid parameter "time": cannot parse "{params["time"]}" to a valid timestamp'
            return Answer(400, json.dumps({"status": "error", "errorType": "bad_data", "error": error}).encode(), JSON)
        try:
            data = self._query(params.get("query", ""), at_s)
        except PromQLError as exc:
            doc = {"status": "error", "errorType": "bad_data", "error": f'invalid parameter "query": {exc}'}
            return Answer(400, json.dumps(doc).encode(), JSON)
        return Answer(200, json.dumps({"status": "success", "data": data}).encode(), JSON)

    def samples(self) -> dict[Series, list[int]]:
        """Every series stored, with its sample times (ms), in the order first stored."""
        out: dict[Series, list[int]] = {}
        with self.lock:
            requests = list(self.requests[METRICS])
        for req in requests:
            for rm in req.resource_metrics:
                res = {kv.key: _text(kv.value) for kv in rm.resource.attributes}
                base = {"job": res.get("service.name", ""), "instance": res.get("service.instance.id", "")}
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        for name, points in self._points(m):
                            for p in points:
                                labels = {k: v for k, v in {**_labels(p.attributes), **base}.items() if v}
                                key = tuple(sorted({**labels, "__name__": name}.items()))
                                out.setdefault(key, []).append(p.time_unix_nano // 10**6)
        return out

    def dropped(self) -> list[Series]:
        every = self.drop_every
        return [s for i, s in enumerate(self.samples(), 1) if every and i % every == 0]

    @staticmethod
    def _points(m: Any) -> list[tuple[str, Any]]:
        kind = m.WhichOneof("data")
        if kind == "gauge":
            return [(prometheus_name(m.name, m.unit, "ratio" if m.unit == "1" else ""), m.gauge.data_points)]
        if kind == "sum":
            return [(prometheus_name(m.name, m.unit, "total" if m.sum.is_monotonic else ""), m.sum.data_points)]
        if kind == "histogram":
            name = prometheus_name(m.name, m.unit, "")
            return [(name + s, m.histogram.data_points) for s in ("_count", "_sum", "_bucket")]
        return [(prometheus_name(m.name, m.unit, ""), m.exponential_histogram.data_points)]

    def _query(self, query: str, at_s: float) -> dict[str, Any]:
        m = _QUERY.match(query)
        if not m:
            raise PromQLError(f"1:1: parse error: this fake answers count_over_time({{…}}[N]) only: {query[:40]!r}")
        matchers: dict[str, str] = {}
        for part in _MATCHER.finditer(m.group(1)):
            matchers[part.group(1)] = json.loads(part.group(2))
        if "__name__" not in matchers:
            raise PromQLError("1:1: parse error: vector selector must contain at least one non-empty matcher")
        at_ms = round(at_s * 1000)
        start_ms = at_ms - int(m.group(2)) * (1 if m.group(3) == "ms" else 1000)
        dropped = set(self.dropped())
        result = []
        for series, times in self.samples().items():
            labels = dict(series)
            if series in dropped or any(labels.get(k) != v for k, v in matchers.items()):
                continue
            n = sum(1 for t in times if start_ms < t <= at_ms)
            if n:
                shown = {k: v for k, v in labels.items() if k != "__name__"}
                result.append({"metric": shown, "value": [at_s, str(n)]})
        return {"resultType": "vector", "result": result}
