"""Log records sent with ``--logs-to otlp`` to the real Loki's native OTLP endpoint are read
back by ``replay --verify``; the fake Loki stores OTLP records as the real one does and
refuses a too-long query with the same words."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.fakes.loki_query import LokiWithQueries
from tests.helpers import EXAMPLE
from tests.otlp_samples import T0, logs_request, write_lines
from tests.real.backends import Stack, http, require_binaries
from tests.real.inputs import replay

require_binaries()


def _otlp_logs(loki_url: str, run_id: str) -> list[str]:
    return [
        "--signals", "logs", "--logs-to", "otlp", "--otlp-logs-endpoint", f"{loki_url}/otlp/v1/logs",
        "--resource-attr", f"service.namespace={run_id}",
    ]  # fmt: skip


def test_replay_verify_reads_back_records_sent_to_loki_s_otlp_endpoint(stack: Stack, run_id: str) -> None:
    run = replay(
        str(EXAMPLE), "--shift-to-now", "--verify", "--verify-timeout", "90s", *_otlp_logs(stack.loki_url, run_id)
    )
    checks = run.summary["verify"]["signals"]
    assert run.code == 0, (run.summary["verify"], run.stderr[-2000:])
    assert checks["logs"]["sent"] == checks["logs"]["found"] == run.signal("logs")["sent"] > 0
    assert checks["logs"]["different"] == 0 and checks["logs"]["not_checked"] is None


def _stored(base: str, run_id: str, start_ns: int, end_ns: int) -> list[tuple[Any, ...]]:
    params = {"query": f'{{service_namespace="{run_id}"}}', "start": str(start_ns), "end": str(end_ns)}
    headers = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
    status, body = http("GET", f"{base}/loki/api/v1/query_range?{urllib.parse.urlencode(params)}", headers=headers)
    assert status == 200, body
    out = []
    for stream in json.loads(body)["data"]["result"]:
        for value in stream["values"]:
            md = value[2].get("structuredMetadata", {}) if len(value) > 2 else {}
            keep = {k: md[k] for k in ("trace_id", "span_id", "host_name") if k in md}
            out.append((stream["stream"], value[0], value[1], keep))
    return sorted(out, key=lambda e: (e[1], e[2]))


def test_the_fake_stores_otlp_records_as_loki_does(stack: Stack, run_id: str, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "logs.jsonl", [logs_request()])  # a map body, host.name, trace ids
    offset_s = (time.time_ns() - T0) // 10**9 - 600  # the same move for both: ten minutes ago
    with LokiWithQueries() as fake:
        for base in (fake.url, stack.loki_url):
            run = replay(str(path), "--time-offset", f"{offset_s}s", "--verify", "--verify-timeout", "60s",
                         *_otlp_logs(base, run_id))  # fmt: skip
            assert run.code == 0, (run.summary.get("verify"), run.stderr[-2000:])
        start, end = T0 + offset_s * 10**9 - 10**9, T0 + offset_s * 10**9 + 10**10
        fake_stored, real_stored = _stored(fake.url, run_id, start, end), _stored(stack.loki_url, run_id, start, end)
    assert fake_stored == real_stored and len(real_stored) == 4


def test_the_fake_refuses_a_too_long_query_with_loki_s_words(stack: Stack, run_id: str) -> None:
    end = time.time_ns()
    params = {"query": f'{{service_namespace="{run_id}"}}', "start": str(end - 800 * 3600 * 10**9), "end": str(end)}
    query = f"/loki/api/v1/query_range?{urllib.parse.urlencode(params)}"
    with LokiWithQueries() as fake:
        fake_answer = http("GET", fake.url + query)
    real_answer = http("GET", stack.loki_url + query)
    assert real_answer == (400, b"the query time range exceeds the limit (query length: 800h0m0s, limit: 30d1h)")
    assert fake_answer == real_answer
