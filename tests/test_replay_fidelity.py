"""The example folder replayed into the loopback receivers arrives exactly, once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from otel_replay.stages.unrecorded import NO_RECORDED_VALUE
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, assert_each_once, entry_counts, replay_json, span_counts

KINDS = {"server": 2, "client": 3, "producer": 4, "consumer": 5}


def dated_docs(kind: str) -> list[dict[str, Any]]:
    """The records of the dated session files (latest*.json copies them)."""
    suffix = {"spans": ".json", "logs": "-logs.json", "metrics": "-metrics.json"}[kind]
    out = []
    for path in sorted(EXAMPLE.glob("*/*.json")):
        name = path.name
        if kind == "spans" and (name.endswith("-logs.json") or name.endswith("-metrics.json")):
            continue
        if name.endswith(suffix):
            out += json.loads(path.read_text(encoding="utf-8"))[kind]
    return out


def any_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return None if which is None else getattr(v, which)


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def expected_ns(ms: float) -> int:
    whole = int(ms // 1)
    return whole * 1_000_000 + round((ms - whole) * 1_000_000)


def run_both(collector: OtlpReceiver, loki: LokiReceiver, *extra: str) -> dict[str, Any]:
    code, summary = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, "--loki-url", loki.url, *extra)
    assert code == 0, summary
    return summary


def test_every_span_arrives_once_field_by_field(collector: OtlpReceiver, loki: LokiReceiver) -> None:
    summary = run_both(collector, loki)
    source = dated_docs("spans")
    received = collector.spans()
    assert len(received) == len(source) == summary["signals"]["traces"]["sent"]
    by_id = {span.span_id.hex(): (res, scope, span) for res, scope, span in received}
    assert len(by_id) == len(received), "a span arrived twice"
    for doc in source:
        res, scope, span = by_id[doc["spanId"]]
        assert span.trace_id.hex() == doc["traceId"]
        assert span.parent_span_id.hex() == doc.get("parentSpanId", "")
        assert span.name == doc["name"]
        assert span.start_time_unix_nano == expected_ns(doc["startTime"])
        assert span.end_time_unix_nano == expected_ns(doc["endTime"])
        assert abs(span.start_time_unix_nano / 1e6 - doc["startTime"]) < 1e-3
        assert span.status.code == doc["status"]["code"]
        assert span.status.message == (doc["status"].get("message", "") if doc["status"]["code"] == 2 else "")
        assert span.kind == KINDS.get(doc["attributes"].get("span.kind"), 1)
        assert attrs(span.attributes) == doc["attributes"]
        assert [(e.name, e.time_unix_nano, attrs(e.attributes)) for e in span.events] == [
            (e["name"], expected_ns(e["time"]), e.get("attributes", {})) for e in doc["events"]
        ]
        assert attrs(res.attributes) == {"service.name": "codemachine"}
        assert span.flags == 0x100  # the exporter marks every parent as known not remote (README)
        assert scope.name == "otel-replay" and scope.version
    assert summary["signals"]["traces"]["duplicates"] == len(json.loads((EXAMPLE / "latest.json").read_text())["spans"])


def test_every_log_record_arrives_once_with_labels_and_metadata(collector: OtlpReceiver, loki: LokiReceiver) -> None:
    summary = run_both(collector, loki)
    source = dated_docs("logs")
    stored = loki.entries()
    assert len(stored) == len(source) == summary["signals"]["logs"]["sent"]
    expected = []
    for doc in source:
        a = dict(doc["attributes"])
        md = {"trace_id": a.pop("trace.id"), "span_id": a.pop("span.id")} if "trace.id" in a else {}
        md.update({k.replace(".", "_"): (v if isinstance(v, str) else _compact(v)) for k, v in a.items()})
        md.update({k.replace(".", "_"): str(v) for k, v in doc["resource"].items() if k != "service.name"})
        body = doc["body"]
        line = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        labels = {"service_name": "codemachine", "severity_text": doc["severityText"], "imported": "true"}
        expected.append((labels, doc["timestamp"][0] * 10**9 + doc["timestamp"][1], line, md))
    assert sorted(stored, key=lambda e: (e[1], e[2])) == sorted(expected, key=lambda e: (e[1], e[2]))
    # trace ids are never labels: one stream per service and severity only
    streams = {json.dumps(lbl, sort_keys=True) for lbl, *_ in stored}
    assert len(streams) == len({e[0]["severity_text"] for e in expected})


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_logs_correlate_with_spans(collector: OtlpReceiver, loki: LokiReceiver) -> None:
    run_both(collector, loki)
    span_ids = {(s.trace_id.hex(), s.span_id.hex()) for _, _, s in collector.spans()}
    named = [(md["trace_id"], md["span_id"]) for *_, md in loki.entries() if "trace_id" in md]
    assert len(named) == 34 and len(loki.entries()) == 44  # 10 boot messages are logged outside any span
    # every record names a span that arrived, except the spans the level-1 session's sampler dropped
    # (cli.preBoot, cli.lazy, cli.boot, cli.boot.version): in no file, and not an error
    assert span_ids == {(d["traceId"], d["spanId"]) for d in dated_docs("spans")}
    assert len({ids for ids in named if ids not in span_ids}) == 4
    assert sum(ids not in span_ids for ids in named) == 6  # the records naming them all arrived
    orphans = [
        d for d in dated_docs("spans") if d.get("parentSpanId") and (d["traceId"], d["parentSpanId"]) not in span_ids
    ]
    assert [d["name"] for d in orphans] == ["workflow.run"]  # its parent cli.boot is in no file: sent as it is
    assert (orphans[0]["traceId"], orphans[0]["parentSpanId"]) in set(named)  # …and log records name it


def test_service_name_and_resource_attrs_override(collector: OtlpReceiver, loki: LokiReceiver) -> None:
    run_both(
        collector,
        loki,
        "--service-name",
        "bug-1234",
        "--resource-attr",
        "deployment.environment=repro",
        "--loki-label",
        "ticket=BUG-1234",
    )
    spans, entries = collector.spans(), loki.entries()
    assert (len(spans), len(entries)) == (len(dated_docs("spans")), len(dated_docs("logs")))
    for res, _, _ in spans:
        assert attrs(res.attributes) == {"service.name": "bug-1234", "deployment.environment": "repro"}
    for labels, *_rest, md in entries:
        assert labels["service_name"] == "bug-1234" and labels["ticket"] == "BUG-1234"
        assert md["deployment_environment"] == "repro"


def test_a_folder_given_twice_sends_each_record_once(collector: OtlpReceiver, loki: LokiReceiver) -> None:
    """Dedup spans the whole run, not one folder: the second copy sends nothing."""
    summary = run_both(collector, loki, str(EXAMPLE))
    spans, logs = len(dated_docs("spans")), len(dated_docs("logs"))
    assert summary["signals"]["traces"]["sent"] == spans and summary["signals"]["logs"]["sent"] == logs
    assert_each_once(span_counts(collector), spans)
    assert_each_once(entry_counts(loki), logs)


def _iso_ns(text: str) -> int:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def test_every_metric_point_arrives_once_and_only_what_was_recorded(
    collector: OtlpReceiver, loki: LokiReceiver
) -> None:
    summary = run_both(collector, loki)
    expected, histogram_zeros = Counter(), 0
    for export in dated_docs("metrics"):
        pid = export["resource"]["process.pid"]
        for block in export["scopeMetrics"]:
            for m in block["metrics"]:
                for p in m["dataPoints"]:
                    if m["type"] == "0":
                        assert p["value"] == 0  # CodeMachine's exporter records no histogram values
                        histogram_zeros += 1
                        continue
                    start = 0 if m["type"] == "2" else _iso_ns(p["startTime"])
                    key = (pid, m["name"], json.dumps(p["attributes"], sort_keys=True), start, _iso_ns(p["endTime"]))
                    expected[(*key, p["value"], m["name"] != "agent.active")] += 1
    received = Counter()
    for req in collector.requests["/v1/metrics"]:
        for rm in req.resource_metrics:
            pid = attrs(rm.resource.attributes)["process.pid"]
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    data = getattr(m, m.WhichOneof("data"))
                    for p in data.data_points:
                        key = (pid, m.name, json.dumps(attrs(p.attributes), sort_keys=True), p.start_time_unix_nano)
                        value = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                        received[(*key, p.time_unix_nano, value, getattr(data, "is_monotonic", True))] += 1
    assert received == expected and set(received.values()) == {1}  # agent.active alone is non-monotonic
    stats = summary["signals"]["metrics"]
    assert (histogram_zeros, stats["sent"], sum(expected.values())) == (12, 111, 111)
    # the histogram zeros of the dated sessions are counted as read and not replayed (the copy's are duplicates)
    assert stats["dropped"] == {NO_RECORDED_VALUE: histogram_zeros}
    for signal, s in summary["signals"].items():  # counts add up: read = sent + duplicates + not replayed
        not_replayed = sum(s["dropped"].values())
        assert s["read"] == s["sent"] + s["duplicates"] + not_replayed and s["invalid"] == s["adjusted"] == 0, signal


def test_a_second_run_of_the_same_folder_sends_everything_again_once(
    collector: OtlpReceiver, loki: LokiReceiver
) -> None:
    """Without --resume a run remembers nothing of the one before: the second run sends
    every record again, and each run sends each record once (twice in all)."""
    spans, logs = len(dated_docs("spans")), len(dated_docs("logs"))
    for run in (1, 2):
        summary = run_both(collector, loki)
        assert (summary["signals"]["traces"]["sent"], summary["signals"]["logs"]["sent"]) == (spans, logs), run
        assert summary["signals"]["traces"]["dropped"] == summary["signals"]["logs"]["dropped"] == {}, run
        assert Counter(span_counts(collector).values()) == {run: spans}
    assert span_counts(collector) == {bytes.fromhex(doc["spanId"]): 2 for doc in dated_docs("spans")}
