"""The bench scripts (``make bench``, not a test) use one another's helpers: each name
one of them takes from another must exist there. Nothing else runs them before a
``make bench``, and a renamed helper once stopped it half-way."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


def _taken(script: Path) -> list[tuple[str, str]]:
    """(bench module, name) for each ``alias.name`` the script reads of a bench module it imports."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    local = {p.stem for p in SCRIPTS}
    aliases = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name in local
    }
    return [
        (aliases[node.value.id], node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_what_a_bench_script_takes_from_another_exists(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    for module, name in _taken(script):
        assert hasattr(importlib.import_module(module), name), f"{script.name}: {module}.{name} does not exist"


def test_the_check_sees_the_scripts_use_of_each_other() -> None:
    """Its premise: the scripts do take names from run.py, under an alias too."""
    assert ("run", "serve") in _taken(BENCH / "scrub_cost.py")
    assert ("run", "compiled") in _taken(BENCH / "ratios.py")


def test_the_fastest_runs_are_each_commands_least_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/ratios.py's last line: each command's least wall and CPU time (and its
    largest peak), whichever round each came from."""
    monkeypatch.syspath_prepend(str(BENCH))
    ratios = importlib.import_module("ratios")
    rounds = [
        {"floor": {"wall": 10.0, "cpu": 12.0, "mb": 30.0}, "logs w2": {"wall": 2.0, "cpu": 3.0, "mb": 118.0}},
        {"floor": {"wall": 11.0, "cpu": 11.0, "mb": 31.0}, "logs w2": {"wall": 1.5, "cpu": 3.5, "mb": 117.0}},
    ]
    assert ratios.fastest(rounds) == {
        "floor": {"wall": 10.0, "cpu": 11.0, "mb": 31.0},
        "logs w2": {"wall": 1.5, "cpu": 3.0, "mb": 118.0},
    }
