"""Apply the user's resource overrides (``--service-name``, ``--resource-attr``)."""

from __future__ import annotations

from otel_replay.model import Record, ResourceAttrs, ResourceOverrides


def override_resource(resource: ResourceAttrs, overrides: ResourceOverrides) -> ResourceAttrs:
    """Pure: the resource with the overrides applied (later keys win, order stays sorted)."""
    attrs = dict(resource)
    attrs.update(overrides.attributes)
    if overrides.service_name:
        attrs["service.name"] = overrides.service_name
    return tuple(sorted(attrs.items()))


class ResourceRewrite:
    drop_label = "dropped by resource rewrite"  # never drops

    def __init__(self, overrides: ResourceOverrides) -> None:
        self._overrides = overrides
        self._cache: dict[ResourceAttrs, ResourceAttrs] = {}

    def apply(self, record: Record) -> Record | None:
        new = self._cache.get(record.resource)
        if new is None:
            new = self._cache[record.resource] = override_resource(record.resource, self._overrides)
        record.resource = new  # records belong to the pipeline: no copy needed
        return record
