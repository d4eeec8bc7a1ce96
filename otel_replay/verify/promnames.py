"""How Prometheus's OTLP receiver names what it stores, so that verify can ask for it.

Prometheus 3's defaults (``otlp:`` in its config, which docker/prometheus.yml leaves as
they are): ``translation_strategy: UnderscoreEscapingWithSuffixes``,
``label_name_underscore_sanitization: true``, ``label_name_preserve_multiple_underscores:
true`` (github.com/prometheus/otlptranslator, metric_namer.go, unit_namer.go,
label_namer.go):

- a metric name is cut into words at every character outside ``[a-zA-Z0-9:]`` and joined
  with ``_``; the unit is added as a word (``s`` → ``seconds``, ``By`` → ``bytes``,
  ``X/Y`` → ``X_per_Y``; ``1`` and ``{…}`` add nothing) unless the name has it already;
  a monotonic sum ends in ``_total``, a gauge of unit ``1`` in ``_ratio``; a name that
  starts with a digit gets a leading ``_``;
- a histogram becomes ``<name>_bucket``, ``_sum`` and ``_count``; an exponential
  histogram one native histogram ``<name>``;
- an attribute name has each character outside ``[a-zA-Z0-9]`` replaced by ``_``, and
  ``key_`` before a leading digit (``key`` before a single leading ``_``); two attributes
  that end up with the same label name have their values joined with ``;`` (in the order
  of their original names);
- ``service.name`` (after ``service.namespace/``) becomes the ``job`` label,
  ``service.instance.id`` the ``instance`` label; other resource attributes only when
  promoted (``promote_resource_attributes``), so verify does not match on them.
"""

from __future__ import annotations

import re
from typing import Any

from otel_replay.model import Metric, MetricKind

_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
    "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "TiBy": "tibibytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
    "Hz": "hertz", "1": "", "%": "percent",
}  # fmt: skip
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_NOT_METRIC_CHAR = re.compile(r"[^a-zA-Z0-9:]+")
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9]")


def _unit_words(unit: str) -> tuple[str, str]:
    """(main unit word, ``per_…`` word) of an OTLP unit, cleaned as Prometheus cleans them."""
    main, _, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    main_word = _UNITS.get(main, main) if main and not any(c in main for c in "{}") else ""
    per_word = _PER_UNITS.get(per, per) if per and not any(c in per for c in "{}") else ""
    clean = [re.sub(r"_+", "_", _NOT_METRIC_CHAR.sub("_", w)).lstrip("_") for w in (main_word, per_word)]
    return clean[0], ("per_" + clean[1]).rstrip("_") if clean[1] else ""


def metric_name(metric: Metric) -> str:
    """The name Prometheus stores ``metric`` under (a histogram: before ``_count``…)."""
    words = [w for w in _NOT_METRIC_CHAR.split(metric.name) if w]
    main, per = _unit_words(metric.unit)
    main = "" if main in words else main
    per = "" if per in words else per
    if per:
        main = main.removesuffix("_")
    words += [w for w in (main, per) if w]
    if metric.kind is MetricKind.SUM and metric.monotonic:
        words = [w for w in words if w != "total"] + ["total"]
    if metric.unit == "1" and metric.kind is MetricKind.GAUGE:
        words = [w for w in words if w != "ratio"] + ["ratio"]
    name = "_".join(words)
    return "_" + name if name[:1].isdigit() else name


def series_name(metric: Metric) -> str:
    """The series verify asks for: a histogram's ``_count``, else the metric's own name."""
    name = metric_name(metric)
    return name + "_count" if metric.kind is MetricKind.HISTOGRAM else name


def label_name(key: str) -> str:
    if len(key) >= 4 and key.startswith("__") and key.endswith("__"):
        return key  # reserved: left as it is
    name = _NOT_LABEL_CHAR.sub("_", key)
    if name[:1].isdigit():
        return "key_" + name
    return "key" + name if name.startswith("_") and not name.startswith("__") else name


def label_value(value: Any) -> str | None:
    """An attribute value as Prometheus writes it in a label, for the kinds whose text is
    certain (strings, integers, booleans); None for the others (not matched on)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    return None


def series_labels(attributes: dict[str, Any], resource: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The labels verify matches a point's series on: its attributes (those whose label
    text is certain) and ``job`` and ``instance`` from the resource, sorted."""
    joined: dict[str, list[str | None]] = {}
    for key in sorted(attributes):
        joined.setdefault(label_name(key), []).append(label_value(attributes[key]))
    labels = {name: ";".join(v) for name, values in joined.items() if None not in values for v in [values]}  # type: ignore[arg-type]
    service = resource.get("service.name")
    if isinstance(service, str) and service:
        namespace = resource.get("service.namespace")
        labels["job"] = f"{namespace}/{service}" if isinstance(namespace, str) and namespace else service
    instance = resource.get("service.instance.id")
    if isinstance(instance, str) and instance:
        labels["instance"] = instance
    return tuple(sorted(labels.items()))
