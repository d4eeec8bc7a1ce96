"""Sent means visible (docs/time.md): a report replayed with default flags is found in
full through Loki's and Tempo's query APIs (Tempo by id and by search) within seconds of
the replay ending, whatever its age, and the run named the shift before sending; with
--keep-times the run names what Loki will not show yet, and the project's own configs
(docker/loki.yaml, docker/tempo.yaml) serve it soon all the same."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

from tests.real.backends import ROOT, Stack, http, loki_get, poll, require_binaries
from tests.real.inputs import Report, clean_env, replay_command, write_report

require_binaries()

HOUR_MS = 3_600_000
#: "Within seconds of the replay ending": what the default must achieve (polls end sooner
#: when everything is there; the deadline only bounds a failure).
AT_ONCE_S = 10.0
#: --keep-times on the project's Loki: its ingester flushes an idle chunk after 10 s,
#: checked every 5 s (docker/loki.yaml), then the entries are served.
KEPT_FLUSHED_S = 60.0


def _replay(report: Report, stack: Stack, run_id: str, *flags: str) -> tuple[dict[str, Any], list[str], float]:
    """The replay's JSON summary, its stderr lines, and when it ended (monotonic)."""
    args = [str(report.folder), "--otlp-endpoint", stack.otlp_url, "--loki-url", stack.loki_url,
            "--loki-label", f"run={run_id}", *flags]  # fmt: skip
    proc = subprocess.run(replay_command(*args), cwd=ROOT, env=clean_env(), capture_output=True, timeout=300)
    ended = time.monotonic()
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    return json.loads(proc.stdout), proc.stderr.decode(errors="replace").splitlines(), ended


def _log_times(report: Report, offset_ns: int) -> tuple[int, int]:
    times = [int(d["timestamp"][0]) * 10**9 + int(d["timestamp"][1]) + offset_ns for d in report.logs]
    return min(times), max(times)


def _loki_count(stack: Stack, run_id: str, first_ns: int, last_ns: int) -> int:
    range_s = (last_ns - first_ns) // 10**9 + 4
    data = loki_get(
        stack,
        "/loki/api/v1/query",
        {"query": f'sum(count_over_time({{run="{run_id}"}} [{range_s}s]))', "time": str(last_ns + 2 * 10**9)},
    )
    return int(float(data["result"][0]["value"][1])) if data["result"] else 0


def _trace_spans(stack: Stack, trace_id: str) -> int:
    status, body = http("GET", f"{stack.tempo_url}/api/v2/traces/{trace_id}")
    if status != 200:
        return 0
    trace = json.loads(body).get("trace") or {}
    return sum(len(ss.get("spans", [])) for rs in trace.get("resourceSpans", []) for ss in rs.get("scopeSpans", []))


def _searched(stack: Stack, trace_ids: set[str], first_ns: int, last_ns: int) -> set[str]:
    """The trace ids TraceQL search finds over the records' time range (as Grafana's Explore asks)."""
    params = {
        "q": '{resource.service.name="codemachine"}',
        "start": str(first_ns // 10**9 - 60),
        "end": str(last_ns // 10**9 + 60),
        "limit": "1000",
    }
    status, body = http("GET", f"{stack.tempo_url}/api/search?{urllib.parse.urlencode(params)}")
    assert status == 200, body[:300]
    found = {t["traceID"].rjust(32, "0") for t in json.loads(body).get("traces") or []}
    return found & trace_ids


def _assert_found_in_full(
    stack: Stack, report: Report, run_id: str, offset_ns: int, ended: float, within: float
) -> None:
    first, last = _log_times(report, offset_ns)
    n = len(report.logs)
    poll(f"{n} entries in Loki", lambda: _loki_count(stack, run_id, first, last) == n or None, within)
    per_trace = report.spans_per_trace()
    for trace_id, n in per_trace.items():
        poll(f"trace {trace_id} by id", lambda t=trace_id, n=n: _trace_spans(stack, t) >= n or None, within)
    span_first = min(int(s["startTime"]) for s in report.spans) * 10**6 + offset_ns
    span_last = max(int(s["endTime"]) for s in report.spans) * 10**6 + offset_ns
    ids = set(per_trace)
    poll("every trace by search", lambda: _searched(stack, ids, span_first, span_last) == ids or None, within)
    took = time.monotonic() - ended
    assert took < within, f"found {took:.1f} s after the replay ended"


def _assert_shift_named_first(summary: dict[str, Any], stderr: list[str], age_h: float) -> int:
    offset = summary["time_offset_ns"]
    assert summary["time"]["how"] == "shifted", summary["time"]
    assert abs(offset - age_h * HOUR_MS * 10**6) < 5 * 60 * 10**9, offset
    assert stderr[0].startswith("otel-replay: moving the recording to now: every timestamp +"), stderr
    assert summary["time"]["replayed"]["last_ns"] == summary["time"]["recorded"]["last_ns"] + offset
    return int(offset)


def test_a_five_hour_old_report_is_found_in_full_at_once(stack: Stack, run_id: str, tmp_path: Path) -> None:
    report = write_report(tmp_path / "r", time.time() * 1000 - 5 * HOUR_MS, seed=int(run_id, 16))
    summary, stderr, ended = _replay(report, stack, run_id)
    offset = _assert_shift_named_first(summary, stderr, 5 - 2 / 60)  # the newest record: 2 min after the start
    _assert_found_in_full(stack, report, run_id, offset, ended, AT_ONCE_S)


def test_a_two_day_old_report_is_found_in_full_at_once(stack: Stack, run_id: str, tmp_path: Path) -> None:
    report = write_report(tmp_path / "r", time.time() * 1000 - 48 * HOUR_MS, seed=int(run_id, 16))
    summary, stderr, ended = _replay(report, stack, run_id)
    offset = _assert_shift_named_first(summary, stderr, 48 - 2 / 60)
    _assert_found_in_full(stack, report, run_id, offset, ended, AT_ONCE_S)


def test_a_thirty_minute_old_report_is_moved_for_tempos_search_and_found_at_once(
    stack: Stack, run_id: str, tmp_path: Path
) -> None:
    """Loki shows 30-minute-old entries at once, but Tempo's search would not (docs/time.md):
    the default moves it too, by about 30 minutes, and says why."""
    report = write_report(tmp_path / "r", time.time() * 1000 - HOUR_MS / 2, seed=int(run_id, 16))
    summary, stderr, ended = _replay(report, stack, run_id)
    offset = _assert_shift_named_first(summary, stderr, 0.5 - 2 / 60)
    assert "Tempo's search finds traces older than 2m only once it flushes its block" in stderr[0]
    _assert_found_in_full(stack, report, run_id, offset, ended, AT_ONCE_S)


def test_keep_times_names_what_loki_will_not_show_yet_and_the_projects_configs_serve_it_soon(
    stack: Stack, run_id: str, tmp_path: Path
) -> None:
    """With its recorded times a five-hour-old report is past what a default Loki serves at
    once: the run says so, with the numbers, before sending. docker/loki.yaml flushes idle
    chunks within seconds and docker/tempo.yaml searches backdated blocks: both find it."""
    report = write_report(tmp_path / "r", time.time() * 1000 - 5 * HOUR_MS, seed=int(run_id, 16))
    summary, stderr, ended = _replay(report, stack, run_id, "--keep-times")
    n = len(report.logs)
    assert summary["time_offset_ns"] == 0 and summary["time"]["how"] == "keep-times"
    assert summary["time"]["loki_not_shown_yet"] == n and summary["time"]["loki_refused"] == 0
    assert stderr[0] == (
        f"otel-replay: --keep-times: Loki will not show {n} log record(s) until its ingester flushes them "
        "(older than 3h: 30 min to 2h after the push; --loki-visible-within if it is configured otherwise)"
    ), stderr
    assert any(f"Loki will not show {n} log record(s)" in w for w in summary["warnings"]), summary["warnings"]
    _assert_found_in_full(stack, report, run_id, 0, ended, KEPT_FLUSHED_S)
