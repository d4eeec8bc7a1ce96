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

``POST /otlp/v1/logs`` is Loki 3's native OTLP endpoint (protobuf, decoded with
opentelemetry-proto): each record becomes an entry of the stream labelled with the
resource attributes Loki indexes by default (:data:`OTLP_INDEX_LABELS`, ``.`` as ``_``;
``service_name="unknown_service"`` without one), its body as the line (a map as compact
JSON), its time (else its observed time), and everything else as structured metadata (the
record's attributes, e.g. ``replay_id``, the other resource attributes, trace and span
ids); then it is validated and stored as a push is (what Loki 3.4 did with the same
records: tests/real/test_verify_otlp_logs.py).

``drop_every=N`` makes it a Loki that silently loses entries: pushes answer 204, but the
N-th, 2N-th… entry stored is never served (:meth:`dropped` lists them).

``max_query_length_s`` (Loki's ``max_query_length``, 721h by default) refuses a log query
(``query_range``) over a longer time range as Loki 3.4 does: 400 ``the query time range
exceeds the limit (query length: 800h0m0s, limit: 30d1h)`` (ErrQueryTooLong in Loki's
pkg/validation; the length as Go prints a duration, the limit as Prometheus's
model.Duration). An instant count over a longer ``[range]`` is answered (Loki 3.4 does,
slowly: it splits it by the day).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.fakes.loki import LokiReceiver
from tests.fakes.server import Answer, decompress

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*")\s*')
_COUNT = re.compile(r"^\s*sum\s*\(\s*count_over_time\s*\((.*)\[\s*(\d+)([smh])\s*\]\s*\)\s*\)\s*$", re.S)
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
JSON = "application/json; charset=UTF-8"
Entry = tuple[dict[str, str], int, str, dict[str, str]]
MAX_QUERY_LENGTH_S = 721 * 3600
OTLP_INDEX_LABELS = (
    "service.name", "service.namespace", "service.instance.id", "deployment.environment",
    "deployment.environment.name", "cloud.region", "cloud.availability_zone", "k8s.cluster.name",
    "k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "container.name", "k8s.replicaset.name",
    "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name",
)  # fmt: skip
_MODEL_UNITS = [("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)]


def model_duration(seconds: int) -> str:
    """A whole number of seconds as Prometheus's ``model.Duration`` prints it: years and
    weeks only when they divide it exactly (721h is ``30d1h``, 168h ``1w``)."""
    out = ""
    for unit, size in _MODEL_UNITS:
        if unit in "yw" and seconds % size:
            continue
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def go_duration(ns: int) -> str:
    """As Go's ``time.Duration.String`` prints a duration of a second or more
    (``800h0m0s``, ``240h0m0.000000001s``)."""
    whole, frac = divmod(ns, 10**9)
    seconds = f"{whole % 60}" + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    if whole >= 3600:
        return f"{whole // 3600}h{whole // 60 % 60}m{seconds}"
    return f"{whole // 60}m{seconds}" if whole >= 60 else seconds


def _otlp_raw(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _otlp_raw(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_otlp_raw(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _otlp_text(value: AnyValue) -> str:
    """As Go's pdata ``Value.AsString``: a map or list as JSON the way Go's encoder writes it."""
    raw = _otlp_raw(value)
    if isinstance(raw, (dict, list)):
        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return "" if raw is None else str(raw)


def otlp_to_push(request: ExportLogsServiceRequest) -> dict[str, Any]:
    """An OTLP logs request as the Loki push it becomes."""
    streams: dict[str, dict[str, Any]] = {}
    for rl in request.resource_logs:
        resource = {kv.key: _otlp_text(kv.value) for kv in rl.resource.attributes}
        labels = {k.replace(".", "_"): v for k, v in resource.items() if k in OTLP_INDEX_LABELS and v}
        labels.setdefault("service_name", "unknown_service")
        extra = {k.replace(".", "_"): v for k, v in resource.items() if k not in OTLP_INDEX_LABELS}
        stream = streams.setdefault(json.dumps(labels, sort_keys=True), {"stream": labels, "values": []})
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                md = extra | {kv.key.replace(".", "_"): _otlp_text(kv.value) for kv in rec.attributes}
                if rec.trace_id:
                    md |= {"trace_id": rec.trace_id.hex(), "span_id": rec.span_id.hex()}
                ts = rec.time_unix_nano or rec.observed_time_unix_nano
                stream["values"].append([str(ts), _otlp_text(rec.body), md])
    return {"streams": list(streams.values())}


class LogQLError(ValueError):
    pass


class TooLongError(LogQLError):
    """Loki answers this one without a newline at the end."""


def parse_pairs(text: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in [p for p in text.split(sep) if p.strip()] if sep == "|" else _split_commas(text):
        m = _MATCHER.fullmatch(part)
        if not m:
            raise LogQLError(f"parse error : syntax error near {part.strip()[:20]!r}")
        # Loki 3.4 takes JSON's surrogate-pair escape of an emoji but matches nothing with it
        # (verify/quoting.py)
        surrogate = re.search(r"\\u[dD][89a-fA-F]", m.group(2))
        out[m.group(1)] = "\x00 no such value" if surrogate else json.loads(m.group(2))
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
        self.too_long = 0  # queries refused for their time range
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
                text = str(exc) if isinstance(exc, TooLongError) else str(exc) + "\n"
                return Answer(400, text.encode(), "text/plain; charset=utf-8")
            return Answer(200, json.dumps({"status": "success", "data": data}).encode(), JSON)
        if method == "POST" and parts.path == "/otlp/v1/logs":
            try:
                request = ExportLogsServiceRequest.FromString(decompress(body, headers.get("Content-Encoding")))
            except (DecodeError, OSError) as exc:
                return Answer(400, f"failed to parse OTLP request: {exc}\n".encode())
            push = json.dumps(otlp_to_push(request)).encode()
            json_headers = {"Content-Type": "application/json", "X-Scope-OrgID": headers.get("X-Scope-OrgID") or ""}
            return super().handle("POST", "/loki/api/v1/push", json_headers, push)
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
            with self.lock:
                self.too_long += 1
            length, limit = go_duration(length_ns), model_duration(self.max_query_length_s)
            raise TooLongError(f"the query time range exceeds the limit (query length: {length}, limit: {limit})")

    def _count(self, params: dict[str, str], tenant: str) -> dict[str, Any]:
        m = _COUNT.match(params.get("query", ""))
        if not m:
            raise LogQLError("parse error : this fake counts sum(count_over_time({…} | … [N(s|m|h)])) only")
        at = parse_time(params.get("time"), self.now_ns())
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
