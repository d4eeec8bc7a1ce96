"""Scrub a parsed JSON document in place of its records: a CodeMachine session file or an
OTLP/JSON request body keeps its shape, keys, order and every value the rules leave alone
(``otel-replay scrub`` writes it back in the input's own format).

The places and the counts are the engine's (:class:`~otel_replay.scrub.engine.Scrubber`),
so ``--scrub`` on a replay and ``otel-replay scrub`` change the same values into the same
tokens. An OTLP ``AnyValue`` is decoded to a plain value for the rules and encoded again
only when they changed it. Pure: documents in, documents out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from otel_replay.scrub.engine import Scrubber

#: A CodeMachine log record's correlation keys: read as the record's trace and span ids,
#: which stay as they are.
CORRELATION = frozenset({"trace.id", "span.id"})
OTLP_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "summary")


class Opaque:
    """An ``AnyValue`` the rules do not read (bytes, or a shape not understood): kept as is."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# -- CodeMachine ---------------------------------------------------------------------------
def scrub_codemachine(doc: dict[str, Any], s: Scrubber) -> None:
    """A CodeMachine trace, log or metrics session document, in place."""
    if isinstance(doc.get("sessionFile"), str):  # only in the latest* copies: a path on the user's machine
        new = s.attributes({"sessionFile": doc["sessionFile"]}, "file")
        if "sessionFile" in new:
            doc["sessionFile"] = new["sessionFile"]
        else:
            del doc["sessionFile"]
    for span in _dicts(doc.get("spans")):
        _cm_span(span, s)
    for log in _dicts(doc.get("logs")):
        _cm_log(log, s)
    for export in _dicts(doc.get("metrics")):
        _cm_export(export, s)


def _attrs(obj: dict[str, Any], field: str, place: str, s: Scrubber, keep: frozenset[str] = frozenset()) -> None:
    attrs = obj.get(field)
    if not isinstance(attrs, dict) or not attrs:
        return
    new = s.attributes({k: v for k, v in attrs.items() if k not in keep}, place)
    obj[field] = {k: (v if k in keep else new[k]) for k, v in attrs.items() if k in keep or k in new}


def _name(obj: dict[str, Any], field: str, where: str, s: Scrubber) -> None:
    if isinstance(obj.get(field), str) and obj[field]:
        obj[field] = s.text(obj[field], where)


def _span(span: dict[str, Any], s: Scrubber, attributes: Callable[[dict[str, Any], str, str, Scrubber], None]) -> None:
    """A span's name, status message, attributes and events, its attributes as the format
    writes them (CodeMachine: a map; OTLP/JSON: a list of key-values)."""
    _name(span, "name", "span.name", s)
    if isinstance(span.get("status"), dict):
        _name(span["status"], "message", "status.message", s)
    attributes(span, "attributes", "span", s)
    for event in _dicts(span.get("events")):
        _name(event, "name", "event.name", s)
        attributes(event, "attributes", "event", s)


def _cm_span(span: dict[str, Any], s: Scrubber) -> None:
    _span(span, s, _attrs)


def _cm_log(log: dict[str, Any], s: Scrubber) -> None:
    if "body" in log:
        log["body"] = s.value(log["body"], "log.body")
    _attrs(log, "attributes", "log", s, CORRELATION)
    _attrs(log, "resource", "resource", s)


def _cm_export(export: dict[str, Any], s: Scrubber) -> None:
    _attrs(export, "resource", "resource", s)
    for scope_metrics in _dicts(export.get("scopeMetrics")):
        if isinstance(scope_metrics.get("scope"), dict):
            _attrs(scope_metrics["scope"], "attributes", "scope", s)
        for metric in _dicts(scope_metrics.get("metrics")):
            for point in _dicts(metric.get("dataPoints")):
                _attrs(point, "attributes", "point", s)


# -- OTLP/JSON ------------------------------------------------------------------------------
def scrub_otlp(doc: dict[str, Any], s: Scrubber) -> None:
    """An OTLP/JSON request body (``resourceSpans``, ``resourceLogs``, ``resourceMetrics``), in place."""
    for signal, scopes, items, item in (
        ("resourceSpans", "scopeSpans", "spans", _otlp_span),
        ("resourceLogs", "scopeLogs", "logRecords", _otlp_log),
        ("resourceMetrics", "scopeMetrics", "metrics", _otlp_metric),
    ):
        for resource_block in _dicts(doc.get(signal)):
            if isinstance(resource_block.get("resource"), dict):
                _kvs(resource_block["resource"], "attributes", "resource", s)
            for scope_block in _dicts(resource_block.get(scopes)):
                if isinstance(scope_block.get("scope"), dict):
                    _kvs(scope_block["scope"], "attributes", "scope", s)
                for obj in _dicts(scope_block.get(items)):
                    item(obj, s)


def _otlp_span(span: dict[str, Any], s: Scrubber) -> None:
    _span(span, s, _kvs)
    for link in _dicts(span.get("links")):
        _kvs(link, "attributes", "link", s)


def _otlp_log(log: dict[str, Any], s: Scrubber) -> None:
    if "body" in log:
        body = decode(log["body"])
        new = s.value(body, "log.body")
        if not _same(new, body):
            log["body"] = encode(new)
    _kvs(log, "attributes", "log", s)
    _name(log, "eventName", "log.event_name", s)


def _otlp_metric(metric: dict[str, Any], s: Scrubber) -> None:
    for kind in OTLP_KINDS:
        data = metric.get(kind)
        if not isinstance(data, dict):
            continue
        for point in _dicts(data.get("dataPoints")):
            _kvs(point, "attributes", "point", s)
            for exemplar in _dicts(point.get("exemplars")):
                _kvs(exemplar, "filteredAttributes", "point", s)


def _kvs(obj: dict[str, Any], field: str, place: str, s: Scrubber) -> None:
    """A list of ``{"key", "value"}``, entry by entry (order and repeated keys kept): an
    entry deleted, kept as written, or given its new value."""
    entries = obj.get(field)
    if not isinstance(entries, list) or not entries:
        return
    out = []
    for kv in entries:
        key = kv.get("key") if isinstance(kv, dict) else None
        if not isinstance(key, str):
            out.append(kv)  # not an attribute the replay reads (it says so): as written
            continue
        value = decode(kv.get("value"))
        new = s.attributes({key: value}, place)
        if key not in new:
            continue
        out.append(kv if _same(new[key], value) else {"key": key, "value": encode(new[key])})
    obj[field] = out


def decode(value: Any) -> Any:
    """An OTLP/JSON ``AnyValue`` as a plain value (arrays as lists, maps as dicts; an
    empty one as None; bytes and unknown shapes :class:`Opaque`)."""
    if not isinstance(value, dict):
        return Opaque(value)
    if not value:
        return None
    if isinstance(value.get("stringValue"), str):
        return value["stringValue"]
    if isinstance(value.get("boolValue"), bool):
        return value["boolValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return Opaque(value)
    if isinstance(value.get("doubleValue"), (int, float)) and not isinstance(value["doubleValue"], bool):
        return float(value["doubleValue"])
    for field in ("arrayValue", "kvlistValue"):
        if field in value:
            inner = value[field]
            items = inner.get("values") if isinstance(inner, dict) else inner
            if items is None:
                items = []
            if not isinstance(items, list):
                return Opaque(value)
            if field == "arrayValue":
                return [decode(v) for v in items]
            if not all(isinstance(kv, dict) and isinstance(kv.get("key"), str) for kv in items):
                return Opaque(value)
            return {kv["key"]: decode(kv.get("value")) for kv in items}
    return Opaque(value)


def encode(value: Any) -> Any:
    """A plain value (as :func:`decode` gives, after the rules) as an OTLP/JSON ``AnyValue``."""
    if isinstance(value, Opaque):
        return value.raw
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": encode(v)} for k, v in value.items()]}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [encode(v) for v in value]}}
    return {"stringValue": str(value)}
