"""The bench's floor (bench/floor.py) does the work it is compared for: every span of
every trace file, encoded by the official exporter's encoder into valid protobuf."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from types import ModuleType

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floor_encodes_every_span_of_every_trace_file(tmp_path: Path) -> None:
    _load("generate").codemachine(tmp_path, 1200, 1)  # two sessions: 1,000 + 200 spans, and their logs
    floor = _load("floor")
    batches: list[bytes] = []
    floor.BATCH = 512
    encode = floor.encode_spans
    floor.encode_spans = lambda spans: _kept(encode(spans), batches)
    assert floor.run(tmp_path) == 1200
    requests = [ExportTraceServiceRequest.FromString(b) for b in batches]
    spans = [s for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert [len(b) > 0 for b in batches] == [True] * 3 and len(spans) == 1200
    first = json.loads(sorted(tmp_path.rglob("??-??-??.json"))[0].read_text())["spans"][0]
    assert spans[0].span_id.hex() == first["spanId"] and spans[0].name == first["name"]


def _kept(request: ExportTraceServiceRequest, batches: list[bytes]) -> ExportTraceServiceRequest:
    batches.append(request.SerializeToString())
    return request


def test_the_logs_floor_pushes_every_record_of_every_log_file(tmp_path: Path) -> None:
    _load("generate").codemachine(tmp_path, 1200, 1)
    floor = _load("logs_floor")
    bodies: list[bytes] = []
    push = floor.push
    floor.push = lambda entries: bodies.append(push(entries)) or bodies[-1]
    assert floor.run(tmp_path) == 1200
    streams = [s for b in bodies for s in json.loads(gzip.decompress(b))["streams"]]
    values = [v for s in streams for v in s["values"]]
    assert len(values) == 1200 and all(len(v) == 3 and v[0].isdigit() for v in values)
    assert all(s["stream"]["service_name"] and s["stream"]["severity_text"] for s in streams)
    assert all([int(v[0]) for v in s["values"]] == sorted(int(v[0]) for v in s["values"]) for s in streams)
    first = json.loads(sorted(tmp_path.rglob("*-logs.json"))[0].read_text())["logs"][0]
    seconds, nanos = first["timestamp"]
    assert [str(seconds * 10**9 + nanos), first["body"]] in [v[:2] for v in values]
