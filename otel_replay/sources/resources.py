"""A record's own resource, as read (CodeMachine log records and metrics exports carry one)."""

from __future__ import annotations

from typing import Any

from otel_replay.model import ResourceAttrs, resource_from_mapping
from otel_replay.sources.common import InvalidInput, clean_attributes
from otel_replay.sources.jsontext import describe_json

#: Resources as read that cleaning left as they were, without a note (every log record of
#: a CodeMachine file repeats the same one): the next such is a dict lookup.
_AS_READ: dict[tuple[Any, ...], ResourceAttrs] = {}
_MAX_AS_READ = 4096


def record_resource(res: Any, default: ResourceAttrs, notes: list[str] | None = None) -> ResourceAttrs:
    """A record's own ``resource`` (attributes as an object), or the session's default."""
    if res is None:
        return default
    if not isinstance(res, dict):
        raise InvalidInput(f"resource is {describe_json(res)}, expected an object", "resource is not an object")
    try:
        key: tuple[Any, ...] | None = (*res.items(), *map(type, res.values()))  # types too: True == 1 == 1.0
        known = _AS_READ.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable value (an array or object): cleaned each time
        key = known = None
    if known is not None:
        return known
    noted = -1 if notes is None else len(notes)
    cleaned = clean_attributes(res, "resource", notes, None)
    resource = resource_from_mapping(cleaned)
    if key is not None and cleaned is res and notes is not None and len(notes) == noted:
        if len(_AS_READ) >= _MAX_AS_READ:
            _AS_READ.clear()
        _AS_READ[key] = resource
    return resource
