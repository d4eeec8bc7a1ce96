"""--service-name and --resource-attr reach every signal's resource, on the wire."""

from __future__ import annotations

from typing import Any

from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, replay_json


def _resources(collector: OtlpReceiver) -> dict[str, list[dict[str, Any]]]:
    lists = {"/v1/traces": "resource_spans", "/v1/logs": "resource_logs", "/v1/metrics": "resource_metrics"}
    out: dict[str, list[dict[str, Any]]] = {}
    for path, field in lists.items():
        out[path] = [
            {kv.key: kv.value.string_value for kv in group.resource.attributes}
            for request in collector.requests[path]
            for group in getattr(request, field)
        ]
    return out


def test_overrides_reach_spans_log_records_and_metric_points(collector: OtlpReceiver) -> None:
    code, summary = replay_json(
        str(EXAMPLE), "--otlp-endpoint", collector.url, "--logs-to", "otlp",
        "--service-name", "bug-1234", "--resource-attr", "team=agents",
    )  # fmt: skip
    assert code == 0, summary
    resources = _resources(collector)
    for path, found in resources.items():
        assert found, f"nothing arrived on {path}"
        for attrs in found:
            assert (path, attrs["service.name"], attrs["team"]) == (path, "bug-1234", "agents")
    sent = {sig: summary["signals"][sig]["sent"] for sig in ("traces", "logs", "metrics")}
    assert all(n > 0 for n in sent.values()), sent
