"""``python tests/mutation_report.py``: the share of mutants killed per module, from what
``mutmut run`` left in ``mutants/`` (``make mutants``; see docs/testing.md).

Killed: a test failed (or timed out) with the mutant in place. Survived: every test
that runs the mutated function passed. No tests: no selected test runs that function in
its own process (counted as not killed). Mutants not run (``make mutants MUTANTS=…``
narrows the run) are left out. Prints a Markdown table, then the survivors by name
(``mutmut show NAME`` prints one's diff)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}
TIMEOUT = {36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


def verdict(exit_code: int | None) -> str | None:
    if exit_code is None:
        return None  # not run
    if exit_code in KILLED or exit_code in TIMEOUT:
        return "killed"
    if exit_code in SURVIVED:
        return "survived"
    if exit_code in NO_TESTS:
        return "no tests"
    return "other"


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.glob("otel_replay/**/*.py.meta"))
    if not metas:
        print(f"no mutmut results under {root}/ (run `make mutants` first)", file=sys.stderr)
        return 1
    rows: list[tuple[str, Counter[str]]] = []
    survivors: list[str] = []
    for meta in metas:
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts: Counter[str] = Counter()
        for name, code in sorted(codes.items()):
            v = verdict(code)
            if v is None:
                continue
            counts[v] += 1
            if v != "killed":
                survivors.append(f"{name} ({v})")
        if counts:
            module = str(meta.relative_to(root)).removesuffix(".meta")
            rows.append((module, counts))
    print("| module | mutants | killed | survived | no tests | other | killed % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total: Counter[str] = Counter()
    for module, counts in rows:
        total.update(counts)
        print(_row(module, counts))
    print(_row("**all**", total))
    print()
    for name in survivors:
        print(f"- {name}")
    return 0


def _row(module: str, counts: Counter[str]) -> str:
    n = sum(counts.values())
    share = 100 * counts["killed"] / n if n else 0.0
    cells = [counts[k] for k in ("killed", "survived", "no tests", "other")]
    return f"| {module} | {n} | {' | '.join(map(str, cells))} | {share:.0f} % |"


if __name__ == "__main__":
    sys.exit(main())
