"""Loki's query API on the fake Loki: ``GET /loki/api/v1/query`` (an instant
``sum(count_over_time(… [Ns]))``) and ``/loki/api/v1/query_range`` (a log query) over the
entries it stored, answered as Loki 3.4 answers them (tests/real/test_verify.py asks the
real one the same): ``{"status":"success","data":{"resultType":…,"result":[…]}}``; a
vector of ``{"metric":{},"value":[<seconds>,"<count>"]}``, empty when nothing matched;
streams whose labels carry the entries' structured metadata too, unless the request has
``X-Loki-Response-Encoding-Flags: categorize-labels`` (then each value has a third
element ``{"structuredMetadata":{…}}``). A range covers start < t <= time for a count,
start <= t < end for a log query. Only the LogQL the tests and ``verify`` write is
understood: a selector of ``name="value"`` matchers and ``| name="value"`` filters;
anything else gets Loki's 400 ``parse error``.

``drop_every=N`` makes it a Loki that silently loses entries: pushes answer 204, but the
N-th, 2N-th… entry stored is never served (:meth:`dropped` lists them).

``max_query_length_s`` (Loki's ``max_query_length``, 721h by default) refuses a query over
a longer time range (a count's ``[range]``, a log query's end - start) as Loki's
query-frontend does: 400 ``the query time range exceeds the limit (query length: 744h0m0s,
limit: 4w2d1h)`` (ErrQueryTooLong in Loki's pkg/validation; the length as Go prints a
duration, the limit as Prometheus's model.Duration).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loki import LokiReceiver
from tests.fakes.server import Answer

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*")\s*')
_COUNT = re.compile(r"^\s*sum\s*\(\s*count_over_time\s*\((.*)\[\s*(\d+)([smh])\s*\]\s*\)\s*\)\s*$", re.S)
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
JSON = "application/json; charset=UTF-8"
Entry = tuple[dict[str, str], int, str, dict[str, str]]
MAX_QUERY_LENGTH_S = 721 * 3600
_MODEL_UNITS = [("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]


def model_duration(seconds: int) -> str:
    """A whole number of seconds as Prometheus's ``model.Duration`` prints it (``4w2d1h``)."""
    out = ""
    for unit, size in _MODEL_UNITS:
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def go_duration(seconds: int) -> str:
    """As Go's ``time.Duration.String`` prints whole seconds (``744h0m0s``)."""
    return (
        f"{seconds // 3600}h{seconds // 60 % 60}m{seconds % 60}s"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60}s"
    )


class LogQLError(ValueError):
    pass


def parse_pairs(text: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in [p for p in text.split(sep) if p.strip()] if sep == "|" else _split_commas(text):
        m = _MATCHER.fullmatch(part)
        if not m:
            raise LogQLError(f"parse error : syntax error near {part.strip()[:20]!r}")
        out[m.group(1)] = json.loads(m.group(2))
    return out


def _split_commas(text: str) -> list[str]:
    return [m.group(0) for m in re.finditer(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*=\s*"(?:[^"\\]|\\.)*"\s*', text)]


def parse_log_query(query: str) -> tuple[dict[str, str], dict[str, str]]:
    """``{a="x", b="y"} | c="z"`` → (stream matchers, filters)."""
    query = query.strip()
    if not query.startswith("{") or "}" not in query:
        raise LogQLError("parse error : queries require at least one regexp or equality matcher")
    close = query.index("}")
    inner, rest = query[1:close], query[close + 1 :]
    matchers = parse_pairs(inner, ",")
    if not matchers:
        raise LogQLError("parse error : queries require at least one regexp or equality matcher")
    filters = parse_pairs(rest, "|") if rest.strip() else {}
    if rest.strip() and not rest.strip().startswith("|"):
        raise LogQLError(f"parse error : syntax error near {rest.strip()[:20]!r}")
    return matchers, filters


def parse_time(value: str | None, default_ns: int) -> int:
    if not value:
        return default_ns
    if "." in value:
        return int(float(value) * 10**9)
    n = int(value)
    return n if n > 10**12 else n * 10**9


class LokiWithQueries(LokiReceiver):
    def __init__(
        self, drop_every: int | None = None, max_query_length_s: int = MAX_QUERY_LENGTH_S, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.drop_every = drop_every
        self.max_query_length_s = max_query_length_s
        self.queries: list[str] = []

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        parts = urlsplit(path)
        if method == "GET" and parts.path in ("/loki/api/v1/query", "/loki/api/v1/query_range"):
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with self.lock:
                self.queries.append(params.get("query", ""))
            tenant = headers.get("X-Scope-OrgID") or "fake"
            categorize = "categorize-labels" in (headers.get("X-Loki-Response-Encoding-Flags") or "")
            try:
                if parts.path.endswith("/query"):
                    data = self._count(params, tenant)
                else:
                    data = self._range(params, tenant, categorize)
            except LogQLError as exc:
                return Answer(400, (str(exc) + "\n").encode(), "text/plain; charset=utf-8")
            return Answer(200, json.dumps({"status": "success", "data": data}).encode(), JSON)
        return super().handle(method, path, headers, body)

    def dropped(self, tenant: str = "fake") -> list[Entry]:
        """The entries stored and never served, in the order stored."""
        return self._stored(tenant)[1]

    def _stored(self, tenant: str) -> tuple[list[Entry], list[Entry]]:
        """(served, dropped): every entry stored, in the order each stream stored them."""
        served: list[Entry] = []
        dropped: list[Entry] = []
        n = 0
        with self.lock:
            streams = list(self.tenants.get(tenant, {}).values())
            for stream in streams:
                for ts, line, md in list(stream.entries):
                    n += 1
                    lost = bool(self.drop_every) and n % self.drop_every == 0  # type: ignore[operator]
                    (dropped if lost else served).append((stream.labels, ts, line, md))
        return served, dropped

    def _matching(self, query: str, tenant: str) -> list[Entry]:
        matchers, filters = parse_log_query(query)
        out = []
        for labels, ts, line, md in self._stored(tenant)[0]:
            seen = {**labels, **md}
            if all(labels.get(k) == v for k, v in matchers.items()) and all(
                seen.get(k) == v for k, v in filters.items()
            ):
                out.append((labels, ts, line, md))
        return out

    def _check_length(self, length_ns: int) -> None:
        if self.max_query_length_s and length_ns > self.max_query_length_s * 10**9:  # 0: no limit
            length, limit = go_duration(length_ns // 10**9), model_duration(self.max_query_length_s)
            raise LogQLError(f"the query time range exceeds the limit (query length: {length}, limit: {limit})")

    def _count(self, params: dict[str, str], tenant: str) -> dict[str, Any]:
        m = _COUNT.match(params.get("query", ""))
        if not m:
            raise LogQLError("parse error : this fake counts sum(count_over_time({…} | … [N(s|m|h)])) only")
        at = parse_time(params.get("time"), self.now_ns())
        self._check_length(int(m.group(2)) * _UNIT_S[m.group(3)] * 10**9)
        start = at - int(m.group(2)) * _UNIT_S[m.group(3)] * 10**9
        n = sum(1 for _, ts, _, _ in self._matching(m.group(1), tenant) if start < ts <= at)
        result = [{"metric": {}, "value": [at / 1e9, str(n)]}] if n else []
        return {"resultType": "vector", "result": result, "stats": {}}

    def _range(self, params: dict[str, str], tenant: str, categorize: bool) -> dict[str, Any]:
        if params.get("query", "").lstrip().startswith("sum"):
            raise LogQLError("parse error : this fake answers log queries only on query_range")
        end = parse_time(params.get("end"), self.now_ns())
        start = parse_time(params.get("start"), end - 3600 * 10**9)
        self._check_length(end - start)
        limit = int(params.get("limit") or 100)
        found = [e for e in self._matching(params.get("query", ""), tenant) if start <= e[1] < end]
        backward = (params.get("direction") or "backward").lower() == "backward"
        found.sort(key=lambda e: e[1], reverse=backward)
        groups: dict[str, tuple[dict[str, str], list[list[Any]]]] = {}
        for labels, ts, line, md in found[:limit]:
            shown = labels if categorize else {**labels, **md}
            key = json.dumps(shown, sort_keys=True)
            value: list[Any] = [str(ts), line, {"structuredMetadata": md}] if categorize and md else [str(ts), line]
            groups.setdefault(key, (shown, []))[1].append(value)
        result = [{"stream": s, "values": v} for s, v in groups.values()]
        return {"resultType": "streams", "result": result, "stats": {}}
