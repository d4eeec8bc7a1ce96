"""Failures are data: a value of the wrong JSON type anywhere in an input is a reason,
never an exception.

For each input format, a valid document has one value, at a path hypothesis picks at
any depth, replaced by a value of another JSON type (an object by the list of its
entries, a list by an object, a string by an object, a number by a list or a boolean
or an integer of hundreds of digits, …, or null). The run (``--dry-run --workers 1``)
over the mutated file and a known-good file of another signal must end normally: no
exception, no "internal error", every good record would be sent, exit 1 exactly when
something was reported (all of it about the mutated file), else exit 0 with the
mutated file's records all read.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_replay.sources import INTERNAL_ERROR
from tests.helpers import log_doc, log_file, problem_lines, replay, span_doc, trace_file, write_json, write_json_lines
from tests.otlp_samples import logs_request, metrics_request, to_otlp_json, trace_request

Path_ = tuple[str | int, ...]
T0_ISO = "2026-11-24T17:00:00"
GOOD_RECORDS = 3


def _codemachine_traces() -> dict[str, Any]:
    span = span_doc(
        parentSpanId="00f067aa0ba902b7",
        status={"code": 2, "message": "boom"},
        attributes={"s": "x", "i": 7, "f": 1.5, "b": True, "arr": ["a", "b"], "span.kind": "client"},
        events=[{"name": "exception", "time": 1795539600050.25, "attributes": {"exception.type": "E"}}],
    )
    return {"version": 1, "service": "codemachine", "exportedAt": f"{T0_ISO}.000Z", "spanCount": 2,
            "spans": [span, span_doc(spanId="00000000000000c2")]}  # fmt: skip


def _codemachine_logs() -> dict[str, Any]:
    logs = [log_doc(), log_doc(sec=1795539601, body={"k": [1, 2]}, attributes={"workflow.steps.total": 3})]
    return {"version": 1, "service": "codemachine", "exportedAt": f"{T0_ISO}.000Z", "logCount": 2, "logs": logs}


def _codemachine_metrics() -> dict[str, Any]:
    def metric(name: str, kind: str, value: Any) -> dict[str, Any]:
        point = {"attributes": {"engine": "x"}, "value": value, "startTime": f"{T0_ISO}.000Z",
                 "endTime": f"{T0_ISO}.500Z"}  # fmt: skip
        return {"name": name, "description": "d", "unit": "1", "type": kind, "dataPoints": [point]}

    histogram = {"buckets": {"boundaries": [10, 100], "counts": [1, 2, 0]}, "sum": 150.5, "count": 3, "min": 1}
    sides = {"positive": {"offset": 1, "bucketCounts": [1, 1]}, "negative": {"offset": 0, "bucketCounts": []}}
    exponential = {"count": 3, "sum": 1.5, "scale": 2, "zeroCount": 1, "min": 0, "max": 2, **sides}
    metrics = [metric("g", "2", 0.5), metric("c", "3", 4), metric("h", "0", histogram),
               metric("e", "1", exponential), metric("step.duration", "0", 412.5)]  # fmt: skip
    export = {
        "resource": {"attributes": {"service.name": "codemachine", "process.command_args": ["node", "cli"]}},
        "scopeMetrics": [{"scope": {"name": "codemachine.engine", "version": ""}, "metrics": metrics}],
    }
    return {"version": 1, "service": "codemachine", "type": "metrics", "exportedAt": f"{T0_ISO}.000Z",
            "exportCount": 1, "metrics": [export]}  # fmt: skip


#: format → (valid document, file name, how it is written, the signal of the good file next to it)
FORMATS: dict[str, tuple[Callable[[], Any], str, Callable[[Path, Any], Path], str]] = {
    "codemachine-traces": (_codemachine_traces, "a-session.json", write_json, "logs"),
    "codemachine-logs": (_codemachine_logs, "a-session-logs.json", write_json, "traces"),
    "codemachine-metrics": (_codemachine_metrics, "a-session-metrics.json", write_json, "traces"),
    "otlp-traces": (lambda: to_otlp_json(trace_request(1, 2)), "a-traces.json", write_json, "logs"),
    "otlp-logs": (lambda: to_otlp_json(logs_request()), "a-logs.json", write_json, "traces"),
    "otlp-metrics": (lambda: to_otlp_json(metrics_request()), "a-metrics.json", write_json, "traces"),
    "otlp-json-lines": (
        lambda: [to_otlp_json(trace_request(1, 1)), to_otlp_json(metrics_request()), to_otlp_json(trace_request(1, 1))],
        "a-dump.jsonl",
        write_json_lines,
        "logs",
    ),
}


def mutable_paths(fmt: str) -> list[Path_]:
    """Every path in the format's document, its root included; for JSON Lines, whose root
    is the file's list of lines (not a JSON value in the file), every path in a line."""
    paths = _paths(FORMATS[fmt][0]())
    return paths[1:] if fmt == "otlp-json-lines" else paths


def _paths(node: Any, path: Path_ = ()) -> list[Path_]:
    """Every path in a JSON value, the root included."""
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _at(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _replaced(doc: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(doc)
    _at(out, path[:-1])[path[-1]] = value
    return out


def wrong_types(value: Any) -> list[Any]:
    """Values of another JSON type than ``value``, built from it where that makes sense."""
    if isinstance(value, dict):
        return [[[k, v] for k, v in value.items()], list(value.values()), "x", None]
    if isinstance(value, list):
        return [{str(i): v for i, v in enumerate(value)}, value[0] if value else {}, len(value), "x", None]
    if isinstance(value, str):
        return [{"value": value}, [value], 1, None]
    if isinstance(value, bool):
        return [1, "true", [value], None]
    if isinstance(value, (int, float)):
        return [[value], {"value": value}, str(value), True, 2**64, -(2**63) - 1, 10**400, 1e300, None]
    return [{}, [], "x", 0, False]  # null


@st.composite
def mutations(draw: st.DrawFn, fmt: str) -> tuple[Path_, Any]:
    path = draw(st.sampled_from(mutable_paths(fmt)))
    return path, draw(st.sampled_from(wrong_types(_at(FORMATS[fmt][0](), path))))


def _good_file(folder: Path, signal: str) -> None:
    """Read after the mutated file (names sort after it): it must still be read in full."""
    if signal == "traces":
        trace_file(folder / "z-good.json", [span_doc(spanId=f"{i + 1:016x}", traceId="f" * 32) for i in range(3)])
    else:
        log_file(folder / "z-good-logs.json", [log_doc(sec=1795539700 + i, body=f"good {i}") for i in range(3)])


def _run(fmt: str, doc: Any, output: bool = False) -> Any:
    """Replay ``doc`` written as ``fmt`` next to a good file; the summary, plus the name
    of the mutated file. ``output``: write OTLP/JSON Lines (every record is encoded by
    the official exporters' encoders) instead of a dry run."""
    _, name, write, good = FORMATS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        write(folder / name, doc)
        _good_file(folder, good)
        mode = ("--output", str(Path(tmp) / "out")) if output else ("--dry-run",)
        result = replay(str(folder), *mode, "--workers", "1", "--json")
        assert "Traceback" not in result.stderr and INTERNAL_ERROR not in result.stderr
        summary = json.loads(result.stdout)
        assert result.exit_code == summary["exit_status"]
        summary["mutated"] = str(folder / name)
        return summary


def _records_read(summary: dict[str, Any], good: str) -> int:
    return sum(s["read"] for sig, s in summary["signals"].items() if sig != good)


_BASELINE: dict[str, int] = {}


def _baseline(fmt: str) -> int:
    """How many records the unmutated document holds (and that it replays cleanly)."""
    if fmt not in _BASELINE:
        make, _, _, good = FORMATS[fmt]
        summary = _run(fmt, make())
        assert summary["exit_status"] == 0, problem_lines(summary)
        _BASELINE[fmt] = _records_read(summary, good)
        assert _BASELINE[fmt] > 0
    return _BASELINE[fmt]


def check_mutation(fmt: str, path: Path_, value: Any, output: bool = False) -> None:
    make, _, _, good = FORMATS[fmt]
    summary = _run(fmt, _replaced(make(), path, value), output)
    problems, signals = problem_lines(summary), summary["signals"]
    assert not any(INTERNAL_ERROR in p or ": cannot read:" in p for p in problems), problems
    assert all(p.startswith(summary["mutated"]) for p in problems), problems  # nothing about the good file
    assert signals[good]["read"] == signals[good]["sent"] == GOOD_RECORDS and signals[good]["files"] == 1
    assert signals[good]["invalid"] == signals[good]["adjusted"] == 0
    for stats in signals.values():  # every record read is sent (written) or a duplicate
        assert stats["sent"] + stats["duplicates"] == stats["read"] and stats["failed"] == stats["rejected"] == 0
    reported = summary["problem_count"] + sum(s["invalid"] + s["adjusted"] for s in signals.values())
    assert summary["exit_status"] == (1 if reported else 0), summary
    read = _records_read(summary, good)
    # null stands for "none" in OTLP/JSON: a group's scopeSpans: null holds no records, validly
    assert read or reported or value is None, "the mutated file gave neither records nor a reason"
    if not reported:  # still valid: then no record went missing
        assert (read == _baseline(fmt)) if value is not None else (read <= _baseline(fmt))


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same examples on every run and in CI
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_value_of_the_wrong_type_anywhere_is_a_reason_not_an_exception(fmt: str) -> None:
    _baseline(fmt)

    @_settings(60)
    @given(mutations(fmt))
    def check(mutation: tuple[Path_, Any]) -> None:
        check_mutation(fmt, *mutation)

    check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_a_reader_accepts_can_be_encoded(fmt: str) -> None:
    """The same with --output: a record a reader let through must also encode (a time
    beyond 64 bits once passed a dry run and then failed in the exporter's encoder)."""
    _baseline(fmt)

    @_settings(25)
    @given(mutations(fmt))
    def check(mutation: tuple[Path_, Any]) -> None:
        check_mutation(fmt, *mutation, output=True)

    check()


_METRIC_2 = ("metrics", 0, "scopeMetrics", 0, "metrics", 2, "dataPoints", 0)
_SPAN_0 = ("resourceSpans", 0, "scopeSpans", 0, "spans", 0)
_LATENCY_0 = ("resourceMetrics", 0, "scopeMetrics", 0, "metrics", 3, "histogram", "dataPoints", 0)
#: Mutations that made a reader raise (or let through a record no encoder can send).
ONCE_RAISED = {
    "bare-list arrayValue (the issue's case)": ("otlp-traces", (*_SPAN_0, "attributes", 7, "value", "arrayValue"),
                                                [{"stringValue": "a"}]),
    "number as arrayValue": ("otlp-json-lines", (0, "resourceSpans", 0, "resource", "attributes", 2, "value",
                                                 "arrayValue"), 7),
    "number as explicitBounds": ("otlp-metrics", (*_LATENCY_0, "explicitBounds"), 1.5),
    "endTime beyond 64 bits": ("codemachine-traces", ("spans", 0, "endTime"), 10**400),
    "timestamp seconds beyond 64 bits": ("codemachine-logs", ("logs", 0, "timestamp", 0), 2**64),
    "histogram boundary beyond a double": ("codemachine-metrics", (*_METRIC_2, "value", "buckets", "boundaries", 0),
                                           10**400),
}  # fmt: skip


@pytest.mark.parametrize("case", ONCE_RAISED)
def test_known_shapes_that_once_raised(case: str) -> None:
    fmt, path, value = ONCE_RAISED[case]
    assert path in mutable_paths(fmt)
    check_mutation(fmt, path, value, output=True)
