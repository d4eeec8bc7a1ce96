"""A record's own resource, as read (CodeMachine log records and metrics exports carry one)."""

from __future__ import annotations

from typing import Any

from otel_replay.model import ResourceAttrs, resource_from_mapping
from otel_replay.sources.common import InvalidInput, clean_attributes
from otel_replay.sources.jsontext import describe_json

#: Resources as read that cleaning left as they were, without a note (every log record of
#: a CodeMachine file repeats the same one): the next such is a dict lookup. With each,
#: whether its values are all strings (see ``_last``).
_AS_READ: dict[tuple[Any, ...], tuple[ResourceAttrs, bool]] = {}
_MAX_AS_READ = 4096
#: The last resource read whose values are all strings, and what it became: the next
#: record's is most often equal, told by a dict comparison in C (no value of another JSON
#: type equals a string, so an equal dict is a resource of the same strings).
_last: tuple[dict[str, Any], ResourceAttrs] = ({"": None}, ())


def record_resource(res: Any, default: ResourceAttrs, notes: list[str] | None = None) -> ResourceAttrs:
    """A record's own ``resource`` (attributes as an object), or the session's default."""
    global _last
    if res is None:
        return default
    if not isinstance(res, dict):
        raise InvalidInput(f"resource is {describe_json(res)}, expected an object", "resource is not an object")
    if res == _last[0]:
        return _last[1]
    try:
        key: tuple[Any, ...] | None = (*res.items(), *map(type, res.values()))  # types too: True == 1 == 1.0
        known = _AS_READ.get(key)  # type: ignore[arg-type]
    except TypeError:  # an unhashable value (an array or object): cleaned each time
        key = known = None
    if known is not None:
        resource, strings = known
        if strings:
            _last = dict(res), resource
        return resource
    noted = -1 if notes is None else len(notes)
    cleaned = clean_attributes(res, "resource", notes, None)
    resource = resource_from_mapping(cleaned)
    if key is not None and cleaned is res and notes is not None and len(notes) == noted:
        if len(_AS_READ) >= _MAX_AS_READ:
            _AS_READ.clear()
        strings = all(type(v) is str for v in res.values())
        _AS_READ[key] = resource, strings
        if strings:
            _last = dict(res), resource  # a copy: the caller's dict is the caller's
    return resource
