"""Loki's size limits as the real Loki 3.4 applies them with its defaults: a line of
up to ``max_line_size`` (256KB, which Loki reads as 262,144 bytes) and structured metadata
of up to ``max_structured_metadata_size`` (64KB: 65,536 bytes, names and values) are
taken; one byte more is refused with a 400. A record over them is cut by otel-replay
(reported as changed to fit) and lands; one within them should land as it is."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.helpers import log_doc, log_file
from tests.real.backends import Stack, http, loki_entries, require_binaries, wait_for_count
from tests.real.inputs import Run, replay

require_binaries()

LOKI_MAX_LINE = 262_144
LOKI_MAX_METADATA = 65_536
MARKER = "…[otel-replay:"


def one_record(tmp_path: Path, run_id: str, **fields: Any) -> tuple[Path, dict[str, Any]]:
    now = time.time_ns() - 60 * 10**9
    doc = log_doc(sec=now // 10**9, nanos=now % 10**9, **fields)
    doc["attributes"]["trace.id"] = f"{int(run_id, 16):032x}"
    return log_file(tmp_path / "in" / "17-00-00-logs.json", [doc]), doc


def replay_one(stack: Stack, path: Path, run_id: str) -> Run:
    return replay(str(path), "--logs-only", "--loki-url", stack.loki_url, "--loki-label", f"run={run_id}")


def served(stack: Stack, run_id: str) -> tuple[str, dict[str, str]]:
    selector = f'{{run="{run_id}"}}'
    assert wait_for_count(stack, selector, 1) == 1
    now = time.time_ns()
    (entry,) = loki_entries(stack, selector, now - 3600 * 10**9, now + 60 * 10**9)
    return entry.line, entry.metadata


def metadata_size(md: dict[str, str]) -> int:
    """As Loki counts it: names and values, in bytes (detected_level is Loki's own)."""
    return sum(len(k) + len(v.encode()) for k, v in md.items() if k != "detected_level")


def test_the_real_loki_takes_262144_byte_lines_and_65536_byte_metadata_and_not_one_more(stack: Stack) -> None:
    """Pushed straight to Loki (no otel-replay): the limits and Loki's own words."""
    now = time.time_ns() - 60 * 10**9

    def push(line: str, md: dict[str, str] | None = None) -> tuple[int, str]:
        value: list[Any] = [str(now), line] if md is None else [str(now), line, md]
        body = {"streams": [{"stream": {"probe": "sizes", "service_name": "probe"}, "values": [value]}]}
        status, text = http(
            "POST",
            f"{stack.loki_url}/loki/api/v1/push",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        return status, text.decode()

    assert push("x" * LOKI_MAX_LINE) == (204, "")
    assert push("y" * (LOKI_MAX_LINE + 1)) == (
        400,
        f"Max entry size '{LOKI_MAX_LINE}' bytes exceeded for stream '{{probe=\"sizes\", service_name=\"probe\"}}' "
        f"while adding an entry with length '{LOKI_MAX_LINE + 1}' bytes\n",
    )
    assert push("m", {"k": "v" * (LOKI_MAX_METADATA - 1)}) == (204, "")
    assert push("n", {"k": "v" * LOKI_MAX_METADATA}) == (
        400,
        f'stream \'{{probe="sizes", service_name="probe"}}\' has structured metadata too large: '
        f"'{LOKI_MAX_METADATA + 1}' bytes, limit: '{LOKI_MAX_METADATA}' bytes. Please see "
        "`limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it.\n",
    )


def test_a_line_over_lokis_limit_is_cut_to_fit_and_lands(stack: Stack, run_id: str, tmp_path: Path) -> None:
    path, _ = one_record(tmp_path, run_id, body="z" * 300_000)
    run = replay_one(stack, path, run_id)
    assert run.code == 1
    logs = run.signal("logs")
    assert (logs["sent"], logs["adjusted"], logs["rejected"], logs["failed"]) == (1, 1, 0, 0), logs
    line, _ = served(stack, run_id)
    assert len(line.encode()) <= LOKI_MAX_LINE and line.startswith("z" * 250_000) and MARKER in line


def test_a_line_of_lokis_max_line_size_arrives_whole(stack: Stack, run_id: str, tmp_path: Path) -> None:
    body = "w" * LOKI_MAX_LINE
    path, _ = one_record(tmp_path, run_id, body=body)
    run = replay_one(stack, path, run_id)
    line, _ = served(stack, run_id)  # it lands either way
    assert run.signal("logs")["adjusted"] == 0, run.signal("logs")["adjusted_reasons"]
    assert line == body and run.code == 0


def test_metadata_over_lokis_limit_is_cut_to_fit_and_lands(stack: Stack, run_id: str, tmp_path: Path) -> None:
    path, _ = one_record(tmp_path, run_id, body="big metadata")
    doc = json.loads(path.read_text())
    doc["logs"][0]["attributes"]["big"] = "q" * 70_000
    path.write_text(json.dumps(doc))
    run = replay_one(stack, path, run_id)
    assert run.code == 1
    logs = run.signal("logs")
    assert (logs["sent"], logs["adjusted"], logs["rejected"], logs["failed"]) == (1, 1, 0, 0), logs
    _, md = served(stack, run_id)
    assert metadata_size(md) <= LOKI_MAX_METADATA and md["big"].startswith("q" * 60_000) and MARKER in md["big"]
    assert md["trace_id"] == f"{int(run_id, 16):032x}"


def test_metadata_of_lokis_max_size_arrives_whole(stack: Stack, run_id: str, tmp_path: Path) -> None:
    path, source = one_record(tmp_path, run_id, body="metadata at the limit")
    fixed = {"trace_id": source["attributes"]["trace.id"], "span_id": source["attributes"]["span.id"]}
    fixed.update({k.replace(".", "_"): str(v) for k, v in source["resource"].items() if k != "service.name"})
    fixed["replay_id"] = "0" * 12  # the run's id (12 hex digits), sent with every entry: it counts too
    value = "r" * (LOKI_MAX_METADATA - metadata_size(fixed) - len("big"))
    doc = json.loads(path.read_text())
    doc["logs"][0]["attributes"]["big"] = value
    path.write_text(json.dumps(doc))
    run = replay_one(stack, path, run_id)
    _, md = served(stack, run_id)  # it lands either way
    assert metadata_size({**fixed, "big": value}) == LOKI_MAX_METADATA
    assert run.signal("logs")["adjusted"] == 0, run.signal("logs")["adjusted_reasons"]
    assert md["big"] == value and run.code == 0
    assert md["replay_id"] == run.summary["replay_id"]
