"""Mistakes that would mix two runs are refused before anything is read (exit status 2):
--output into a folder holding an earlier run's files (unless --overwrite, which
replaces the whole set), and --resume with a state file written for other destinations
(unless --resume-elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

from otel_replay.resume import ResumeState
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS, replay

NAMES = ("traces.jsonl", "logs.jsonl", "metrics.jsonl")


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_output_into_a_folder_with_earlier_results_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert replay(str(EXAMPLE), "--output", str(out)).exit_code == 0
    before = _contents(out)
    assert sorted(before) == sorted(NAMES)
    again = replay(str(EXAMPLE), "--output", str(out), "--signals", "traces")
    assert again.exit_code == 2
    assert f"{out} holds the results of an earlier run (traces.jsonl, logs.jsonl, metrics.jsonl)" in again.stderr
    assert "--overwrite" in again.stderr
    assert _contents(out) == before  # untouched


def test_overwrite_replaces_the_whole_set(tmp_path: Path) -> None:
    """A run of one signal leaves no file of the earlier run's other signals beside its own."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert replay(str(EXAMPLE), "--output", str(out)).exit_code == 0
    result = replay(str(EXAMPLE), "--output", str(out), "--signals", "traces", "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "traces.jsonl"]  # other files are not ours
    assert len((out / "traces.jsonl").read_bytes().splitlines()) == 1  # the new run's one request


def test_output_into_an_empty_or_new_folder_needs_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in ("empty", "new"):
        assert replay(str(EXAMPLE), "--output", str(tmp_path / folder), "--signals", "logs").exit_code == 0


def test_overwrite_and_resume_elsewhere_alone_are_refused() -> None:
    result = replay(str(EXAMPLE), "--dry-run", "--overwrite")
    assert result.exit_code == 2 and "--overwrite does nothing in this run: no folder is written" in result.stderr
    result = replay(str(EXAMPLE), "--dry-run", "--resume-elsewhere")
    assert result.exit_code == 2 and "--resume-elsewhere does nothing in this run: no state file" in result.stderr


def _send(state: Path, otlp: OtlpReceiver, loki: LokiReceiver, *extra: str) -> tuple[int, str]:
    result = replay(
        str(EXAMPLE), "--signals", "traces,logs", "--otlp-endpoint", otlp.url, "--loki-url", loki.url,
        "--resume", str(state), "--json", *extra,
    )  # fmt: skip
    return result.exit_code, result.stderr


def test_resume_against_other_destinations_is_refused(tmp_path: Path, loki: LokiReceiver) -> None:
    state = tmp_path / "state"
    with OtlpReceiver.tempo() as first, OtlpReceiver.tempo() as second:
        assert _send(state, first, loki)[0] == 0
        header = json.loads(state.read_bytes().splitlines()[0])
        assert header["destinations"] == {"traces": f"{first.url}/v1/traces", "logs": f"{loki.url}/loki/api/v1/push"}
        code, err = _send(state, second, loki)
        assert code == 2
        assert f"traces went to {first.url}/v1/traces, now {second.url}/v1/traces" in err
        assert "Start fresh with another state file" in err and "--resume-elsewhere" in err
        assert "logs went" not in err  # the same Loki
        assert not second.probes and not second.spans()  # refused before anything


def test_resume_elsewhere_skips_what_the_state_file_lists(tmp_path: Path, loki: LokiReceiver) -> None:
    state = tmp_path / "state"
    with OtlpReceiver.tempo() as first, OtlpReceiver.tempo() as second:
        assert _send(state, first, loki)[0] == 0
        code, err = _send(state, second, loki, "--resume-elsewhere")
        assert code == 0, err
        assert not second.spans()  # every span is listed as delivered (to the first)
        assert len(ResumeState(str(state)).spans) == 21


def test_another_loki_tenant_is_another_destination(tmp_path: Path, tempo: OtlpReceiver) -> None:
    state = tmp_path / "state"
    with LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        assert _send(state, tempo, loki, "--loki-tenant", "team-a")[0] == 0
        code, err = _send(state, tempo, loki, "--loki-tenant", "team-b")
        assert code == 2
        push = f"{loki.url}/loki/api/v1/push"
        assert f"logs went to {push} (tenant team-a), now {push} (tenant team-b)" in err
        assert _send(state, tempo, loki, "--loki-tenant", "team-a")[0] == 0  # the same one: resumed


def test_the_state_file_records_no_credentials(tmp_path: Path, tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    state = tmp_path / "state"
    url = loki.url.replace("http://", "http://me:pw-secret-42@")
    result = replay(
        str(EXAMPLE), "--signals", "traces,logs", "--otlp-endpoint", tempo.url, "--loki-url", url,
        "--resume", str(state), "--header", "Authorization=Bearer tok-secret-43",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    text = state.read_text()
    assert "pw-secret-42" not in text and "tok-secret-43" not in text and " me:" not in text
