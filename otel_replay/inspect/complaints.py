"""What ``replay`` would complain about, from the statistics a read of the inputs counted
on: the problem lines, hints, warnings and "nothing replayed" that ``replay --dry-run``
prints for the same input, made by the same code (:mod:`otel_replay.report`), and the
exit status it would have. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from otel_replay.report import Report, problem_lines
from otel_replay.stats import RunStats
from otel_replay.timechoice import default_offset
from otel_replay.verdict import recorded_range


@dataclass
class Complaints:
    #: The text ``replay --dry-run`` prints after its counts (problems, hints, warnings).
    lines: list[str] = field(default_factory=list)
    #: As ``replay --json`` gives them: each problem (the first thousand) and each reason.
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    problem_reasons: list[dict[str, Any]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    nothing_replayed: str | None = None
    exit_status: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["lines"]
        return out


def complaints(stats: RunStats, now_ns: int | None = None) -> Complaints:
    """``now_ns``: what record ages are measured against (default: now)."""
    report = Report(stats, "dry-run") if now_ns is None else Report(stats, "dry-run", now_ns=now_ns)
    if (span := recorded_range(stats)) is not None:  # as a replay now with default flags moves them
        report.time_offset_ns = default_offset(span[0], span[1], report.now_ns)
    doc = report.to_dict()
    lines = problem_lines(stats.problem_log, report.redact, None)
    lines += [f"hint: {h}" for h in doc["hints"]]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    if doc["nothing_replayed"]:
        lines.append(doc["nothing_replayed"])
    return Complaints(
        lines=lines,
        problems=doc["problems"],
        problem_count=doc["problem_count"],
        problem_reasons=doc["problem_reasons"],
        hints=doc["hints"],
        warnings=doc["warnings"],
        nothing_replayed=doc["nothing_replayed"],
        exit_status=doc["exit_status"],
    )
