"""The OpenTelemetry JS SDK's histogram values, as a serializer that keeps them whole
writes them (CodeMachine's own file exporter does not: see
:mod:`otel_replay.sources.codemachine_metrics`)."""

from __future__ import annotations

import math
from typing import Any

from otel_replay.model import ExponentialHistogramValue, HistogramValue
from otel_replay.sources.common import (
    UINT64_MAX,
    InvalidInput,
    double_value,
    json_array,
    json_object,
    shown,
)
from otel_replay.sources.jsontext import describe_json


def _optional_float(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None  # JS writes Infinity/-Infinity (an empty min/max) as null
    return double_value(value, f"value {key}")


def _count(value: Any, field: str) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise InvalidInput(
            f"{field} {shown(value)} is not an integer in 0..2^64-1", "a count is not an integer in 0..2^64-1"
        )
    return value


def _counts(value: Any, field: str) -> list[int]:
    return [_count(v, field) for v in json_array(value, field)]


def _histogram_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput("missing value" if value is None else f"value is {describe_json(value)}, expected an object")
    return value


def histogram_value(value: Any) -> HistogramValue:
    """The JS SDK's ``Histogram`` value: ``{buckets: {boundaries, counts}, sum, count, min, max}``."""
    value = _histogram_object(value)
    buckets = json_object(value.get("buckets"), "value buckets")
    bounds = json_array(buckets.get("boundaries"), "value buckets.boundaries")
    counts = _counts(buckets.get("counts"), "value buckets.counts")
    if counts and len(counts) != len(bounds) + 1:
        raise InvalidInput(
            f"value has {len(counts)} bucket counts for {len(bounds)} boundaries (expected one more)",
            "bucket counts do not match the boundaries",
        )
    count = _count(value.get("count"), "value count")
    return HistogramValue(
        count,
        _optional_float(value, "sum"),
        counts,
        [double_value(b, "value boundary") for b in bounds],
        _optional_float(value, "min"),
        _optional_float(value, "max"),
    )


def exponential_value(value: Any) -> ExponentialHistogramValue:
    """The JS SDK's ``ExponentialHistogram`` value: ``{count, sum, scale, zeroCount,
    positive: {offset, bucketCounts}, negative: {…}, min, max}``."""
    value = _histogram_object(value)
    sides = []
    for side in ("positive", "negative"):
        buckets = json_object(value.get(side), f"value {side}")
        offset = buckets.get("offset", 0)
        if type(offset) is not int or not -(2**31) <= offset < 2**31:
            raise InvalidInput(
                f"value {side}.offset {shown(offset)} is not a 32-bit integer", "an offset is not a 32-bit integer"
            )
        sides.append((offset, _counts(buckets.get("bucketCounts"), f"value {side}.bucketCounts")))
    scale = value.get("scale", 0)
    if type(scale) is not int or not -10 <= scale <= 20:
        raise InvalidInput(f"value scale {shown(scale)} is outside -10..20", "scale is outside -10..20", scale)
    return ExponentialHistogramValue(
        _count(value.get("count"), "value count"),
        _optional_float(value, "sum"),
        scale,
        _count(value.get("zeroCount", 0), "value zeroCount"),
        sides[0][0],
        sides[0][1],
        sides[1][0],
        sides[1][1],
        _optional_float(value, "min"),
        _optional_float(value, "max"),
    )
