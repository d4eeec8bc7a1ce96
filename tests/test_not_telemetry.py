"""Not telemetry is not a problem (issue 21; the rule: docs/input-rules.md): a JSON file
that claims nothing — no CodeMachine session key, no OTLP ``resource…`` key, not named as
CodeMachine's exporters name their files — is ignored as *not telemetry*, named with -v
and counted in --json; the exit status does not change. A file that claims to be
telemetry and is broken stays a problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from otel_replay.sources.claims import claims_telemetry
from tests.helpers import EXAMPLE, Children, replay_command
from tests.test_packaging import _sent, _summary

#: CodeMachine's own files beside its telemetry (a user sends "the .codemachine folder").
CODEMACHINE_OWN = {
    "template.json": {"name": "default", "version": "1.2.0", "steps": [{"agent": "plan"}, {"agent": "code"}]},
    "agents/agents-config.json": {"agents": [{"id": "plan", "engine": "claude", "model": "opus"}]},
    "logs/registry-export.json": {"exportedAt": "2026-11-24T17:01:00.000Z", "entries": [{"id": 1}]},
    "state/kv.json": {"workflow.current": "default", "lastRun": 1795539600000},
    "auth/codex/session.json": {"engine": "codex", "expires": "2026-12-24T00:00:00Z"},
}
PROJECT = {
    "package.json": {"name": "webapp", "version": "0.1.0", "scripts": {"dev": "vite"}},
    "tsconfig.json": {"compilerOptions": {"strict": True, "target": "ES2022"}},
}


@pytest.fixture(scope="module")
def plain() -> dict[str, Any]:
    code, summary = _summary(str(EXAMPLE))
    assert code == 0 and summary["problems"] == []
    return _sent(summary)


def _write(root: Path, files: dict[str, Any]) -> None:
    for name, doc in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(json.dumps(doc, indent=2))


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "webapp"
    shutil.copytree(EXAMPLE, root / ".codemachine" / "traces")
    _write(root / ".codemachine", CODEMACHINE_OWN)
    _write(root, PROJECT)
    _write(root / "node_modules" / "vite", {"package.json": {"name": "vite", "logs": "x"}})
    return root


def test_the_whole_codemachine_folder_replays_its_telemetry_and_nothing_else(
    tmp_path: Path, plain: dict[str, Any]
) -> None:
    root = _project(tmp_path)
    code, summary = _summary(str(root))
    assert (code, summary["problems"], _sent(summary)) == (0, [], plain)
    assert summary["ignored"] == {"not telemetry": len(CODEMACHINE_OWN) + len(PROJECT), "packaging noise": 1}


def test_a_broken_file_that_claims_to_be_a_session_is_still_a_problem(tmp_path: Path, plain: dict[str, Any]) -> None:
    root = _project(tmp_path)
    traces = root / ".codemachine" / "traces"
    (traces / "2026-11-25").mkdir()
    (traces / "2026-11-25" / "09-00-00.json").write_text('{"version": 1, "service": "codemachine"}')  # by its name
    (traces / "old.json").write_text('{"version": 1, "spanCount": 2, "span": []}')  # by a key
    (traces / "cut.json").write_text('{"version": 1, "spans": "none"}')
    code, summary = _summary(str(root))
    assert code == 1 and _sent(summary) == plain
    assert sorted(p["reason"] for p in summary["problems"]) == [
        "'spans' is a string, expected an array",
        "unknown document: top-level keys version, service; expected a CodeMachine session or an OTLP/JSON request",
        "unknown document: top-level keys version, spanCount, span; expected a CodeMachine session or an OTLP/JSON "
        "request",
    ]


def test_verbose_names_what_is_not_telemetry(tmp_path: Path, children: Children) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "traces")
    _write(tmp_path, PROJECT)
    proc = children.run(replay_command(str(tmp_path), "--dry-run", "-v", "--workers", "2"))
    assert proc.returncode == 0
    err = proc.stderr.decode()
    assert f"{tmp_path}/tsconfig.json: ignored: not telemetry (top-level keys: compilerOptions)" in err
    assert "2 ignored (2 not telemetry)" in proc.stdout.decode()


def test_json_lines_without_otlp_keys_are_not_telemetry(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"level": "info", "msg": "a"}\n{"level": "info", "msg": "b"}\n')
    _, summary = _summary(str(tmp_path))
    assert summary["ignored"] == {"not telemetry": 1} and summary["problems"] == []


@pytest.mark.parametrize(
    ("name", "keys", "claims"),
    [
        ("x/package.json", ["name", "version"], False),
        ("x/registry-export.json", ["exportedAt", "entries"], False),
        ("x/a.json", ["version", "service", "spans"], True),
        ("x/a.json", ["logCount"], True),
        ("x/a.json", ["resourceLogs"], True),
        ("x/a.json", ["resourceSpansX"], True),
        ("r.zip!traces/2026-11-24/17-00-00-logs.json", ["foo"], True),
        ("C:\\u\\.codemachine\\traces\\latest-metrics.json", [], True),
        ("x/traces/notes.json", ["foo"], False),
        ("x/traces/2026-11-24/17-00.json", ["foo"], False),
    ],
)
def test_what_claims_to_be_telemetry(name: str, keys: list[str], claims: bool) -> None:
    assert claims_telemetry(name, keys) is claims


def test_a_finder_zip_of_the_codemachine_folder_and_a_project_zip_replay_cleanly(
    tmp_path: Path, plain: dict[str, Any]
) -> None:
    from tests.test_archives import zip_bytes
    from tests.test_packaging import finder_zip

    root = _project(tmp_path)
    every = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    codemachine = {k: v for k, v in every.items() if k.startswith(".codemachine/")}
    (tmp_path / "codemachine.zip").write_bytes(finder_zip(codemachine))
    (tmp_path / "project.zip").write_bytes(zip_bytes({f"webapp/{k}": v for k, v in every.items()}))
    for name in ("codemachine.zip", "project.zip"):
        code, summary = _summary(str(tmp_path / name))
        assert (code, summary["problems"], _sent(summary)) == (0, [], plain), name
        assert summary["ignored"]["not telemetry"] == len(CODEMACHINE_OWN) + (
            len(PROJECT) if name == "project.zip" else 0
        )
