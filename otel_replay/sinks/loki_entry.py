"""What one log record becomes in a Loki push: its stream's labels, its line and its
structured metadata (pure functions of the record; the sink, sinks/loki.py, batches and
sends them)."""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from otel_replay.model import LogRecord, ResourceAttrs, Scope, thaw

_BAD_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_encode = msgspec.json.Encoder().encode
SEVERITY_TEXTS = ((1, "TRACE"), (5, "DEBUG"), (9, "INFO"), (13, "WARN"), (17, "ERROR"), (21, "FATAL"))


@functools.lru_cache(maxsize=8192)  # a run sees few distinct names, each of them many times
def sanitize_label_name(name: str) -> str:
    """Loki label (and structured metadata) names: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    clean = _BAD_LABEL_CHARS.sub("_", name)
    if not clean or clean[0].isdigit():
        clean = "_" + clean
    return clean


@functools.lru_cache(maxsize=8192)
def metadata_key(name: str) -> str:
    """A structured metadata name Loki stores as it is: ``[a-zA-Z][a-zA-Z0-9_]*`` (or
    ``__…``). Loki renames others on push (``a.b`` → ``a_b``, a leading digit or single
    ``_`` gets ``key``) and keeps a non-ASCII letter, after which no query of that stream
    can be answered; so every other character becomes ``_`` here, and the name starts as
    Loki would start it."""
    clean = _BAD_LABEL_CHARS.sub("_", name) or "_"
    if clean[0].isdigit():
        return "key_" + clean
    if clean[0] == "_" and not clean.startswith("__"):
        return "key" + clean
    return clean


def severity_text(rec: LogRecord) -> str:
    return severity_name(rec.severity_text, rec.severity_number)


def severity_name(text: str | None, number: int) -> str:
    """A record's severity as its stream's label: its text, else its number's name."""
    if text:
        return text
    name = "UNSPECIFIED"
    for floor, known in SEVERITY_TEXTS:
        if number >= floor:
            name = known
    return name


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return _encode(thaw(value) if isinstance(value, tuple) else value).decode()


def body_line(body: object) -> str:
    """The line: a string body as it is, anything else as compact JSON."""
    if body is None:
        return ""
    return _as_text(body)


def resource_metadata(resource: ResourceAttrs) -> dict[str, str]:
    """The resource attributes that are not labels (all but ``service.name``), as
    structured metadata."""
    return {metadata_key(k): _as_text(v) for k, v in resource if k != "service.name"}


def structured_metadata(rec: LogRecord, resource_md: dict[str, str] | None = None) -> dict[str, str]:
    """trace_id, span_id, the record's attributes and its non-label resource attributes
    (``resource_md``: :func:`resource_metadata` of its resource, when already known)."""
    # as hex: twice as fast as a format string, and this runs for every record
    trace = rec.trace_id.to_bytes(16).hex() if rec.trace_id else ""
    span = rec.span_id.to_bytes(8).hex() if rec.span_id else ""
    resource_md = resource_metadata(rec.resource) if resource_md is None else resource_md
    return entry_metadata(resource_md, rec.attributes, rec.scope, trace, span)


def entry_metadata(
    resource_md: dict[str, str],
    attributes: dict[str, Any],
    scope: Scope | None,
    trace: str,
    span: str,
    skip: tuple[str, ...] = (),
) -> dict[str, str]:
    """:func:`structured_metadata` of a record's parts: the ids in lowercase hex ("":
    none); the attributes named in ``skip`` left out (a plain record's ids are among its
    attributes, see sources/plainlogs.py)."""
    md = dict(resource_md)
    for key, value in attributes.items():
        if key not in skip:
            md[metadata_key(key)] = value if type(value) is str else _as_text(value)
    if scope is not None and scope.name:  # as Loki's own OTLP ingestion names them
        md["scope_name"] = scope.name
        if scope.version:
            md["scope_version"] = scope.version
    if trace:
        md["trace_id"] = trace
    if span:
        md["span_id"] = span
    return md


_LOGFMT_BARE = re.compile(r"^[^\s\"=]+$")


def logfmt(pairs: dict[str, str]) -> str:
    out = []
    for key, value in pairs.items():
        if not _LOGFMT_BARE.match(value):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        out.append(f"{key}={value}")
    return " ".join(out)


def stream_labels(resource: ResourceAttrs, severity: str, extra: dict[str, str]) -> tuple[tuple[str, str], ...]:
    service = next((str(v) for k, v in resource if k == "service.name"), "unknown_service")
    labels = {"service_name": service, "severity_text": severity, "imported": "true"}
    labels.update(extra)
    return tuple(sorted(labels.items()))
