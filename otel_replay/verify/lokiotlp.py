"""What Loki makes of a log record it takes on its native OTLP endpoint (``/otlp/v1/logs``,
Loki 3; pkg/loghttp/push/otlp.go and pkg/validation's default ``otlp_config``), so that
verify can count the records ``--logs-to otlp`` sent the way Loki stores them:

- the stream's labels are the resource attributes Loki indexes by default
  (:data:`INDEX_ATTRIBUTES`), named with ``_`` for every character outside
  ``[a-zA-Z0-9_]``; ``service_name="unknown_service"`` when there is no ``service.name``;
- every other resource attribute, the scope, the record's attributes (a ``replay_id``
  attribute among them), its trace and span ids and severity become structured metadata;
- the line is the body as text (a string as it is; a map or list as compact JSON);
- the time is the record's, else its observed time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from otel_replay.model import LogRecord

#: Loki's ``distributor.otlp.default_resource_attributes_as_index_labels``.
INDEX_ATTRIBUTES = (
    "service.name", "service.namespace", "service.instance.id", "deployment.environment",
    "deployment.environment.name", "cloud.region", "cloud.availability_zone", "k8s.cluster.name",
    "k8s.namespace.name", "k8s.pod.name", "k8s.container.name", "container.name", "k8s.replicaset.name",
    "k8s.deployment.name", "k8s.statefulset.name", "k8s.daemonset.name", "k8s.cronjob.name", "k8s.job.name",
)  # fmt: skip
#: Where Loki takes OTLP log records, under its base URL.
OTLP_LOGS_PATH = "/otlp/v1/logs"
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def label_name(key: str) -> str:
    name = _NOT_LABEL_CHAR.sub("_", key)
    return "key_" + name if name[:1].isdigit() else name


def text(value: Any) -> str:
    """A value as OpenTelemetry's Go pdata writes it as a string (``Value.AsString``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return "".join(_GO_JSON_ESCAPES.get(c, c) for c in encoded)
    return "" if value is None else str(value)


def stream_of(resource: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    labels = {label_name(k): text(resource[k]) for k in INDEX_ATTRIBUTES if k in resource}
    labels = {k: v for k, v in labels.items() if v}  # a label without a value is no label in Loki
    labels.setdefault("service_name", "unknown_service")
    return tuple(sorted(labels.items()))


def entry_of(record: LogRecord) -> tuple[tuple[tuple[str, str], ...], int, str]:
    """(stream labels, time, line) of the record as Loki stores it."""
    time_ns = record.time_ns or record.observed_ns or 0
    return stream_of(dict(record.resource)), time_ns, text(record.body)
