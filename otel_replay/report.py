"""The run's outcome as a person or a program reads it: its statistics and how it ran
(mode, destinations, time offset, whether it was interrupted) → text or JSON, with every
value redacted, and the exit status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import Signal
from otel_replay.stats import DUPLICATES, RunStats, SignalStats

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2


def _no_redaction(text: str) -> str:
    return text


@dataclass
class Report:
    stats: RunStats
    mode: str = "send"  # "send", "dry-run" or "output"
    destinations: dict[Signal, str] = field(default_factory=dict)
    redact: Callable[[str], str] = _no_redaction
    time_offset_ns: int = 0
    interrupted: bool = False

    @property
    def exit_status(self) -> int:
        if self.stats.problem_count:
            return EXIT_INCOMPLETE
        for s in self.stats.signals.values():
            if s.invalid or s.rejected or s.failed or s.unsent or s.adjusted:
                return EXIT_INCOMPLETE
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "destinations": {k.value: self.redact(v) for k, v in self.destinations.items()},
            "files_read": self.stats.files_read,
            "files_ignored": self.stats.files_ignored,
            "ignored": dict(self.stats.ignored),
            "signals": {sig.value: signal_dict(st, self.redact) for sig, st in self.stats.signals.items()},
            "problems": [self.redact(p) for p in self.stats.problems],
            "problem_count": self.stats.problem_count,
            "interrupted": self.interrupted,
            "time_offset_ns": self.time_offset_ns,
            "hints": [self.redact(h) for h in self.stats.hints],
            "exit_status": self.exit_status,
        }

    def render_text(self) -> str:
        verb = {"send": "sent", "dry-run": "would send", "output": "written"}[self.mode]
        lines = [
            f"otel-replay: {self.stats.files_read} file(s) read"
            + _ignored(self.stats.files_ignored, self.stats.ignored)
        ]
        for sig, st in self.stats.signals.items():
            if not (st.files or st.read or st.not_selected_files):
                continue
            parts = [f"{st.read} read", f"{st.sent} {verb}"]
            if st.duplicates:
                parts.append(f"{st.duplicates} {DUPLICATES}")
            parts += [f"{st.invalid} invalid", f"{st.rejected} rejected", f"{st.failed} failed"]
            if st.adjusted:
                parts.append(f"{st.adjusted} changed to fit")
            for label, n in st.dropped.items():
                if label != DUPLICATES:
                    parts.append(f"{n} {label}")
            if st.unsent:
                parts.append(f"{st.unsent} not sent" + ("" if st.unsent_reasons else " (interrupted)"))
            dest = self.destinations.get(sig)
            tail = f" → {self.redact(dest)}" if dest and self.mode != "dry-run" else ""
            lines.append(f"  {sig.value:<7} {st.files} file(s): " + ", ".join(parts) + tail)
            if st.not_selected_files:
                lines.append(f"          {st.not_selected_files} file(s) not replayed (not selected)")
            for reason, n in st.rejected_reasons.most_common():
                lines.append(f"          rejected {n}: {self.redact(reason)}")
            for reason, n in st.failed_reasons.most_common():
                lines.append(f"          failed {n}: {self.redact(reason)}")
            if st.unsent_reasons:
                for reason, n in st.unsent_reasons.most_common():
                    lines.append(f"          not sent {n}: {self.redact(reason)}")
                if (interrupted := st.unsent - sum(st.unsent_reasons.values())) > 0:
                    lines.append(f"          not sent {interrupted}: interrupted")
        if self.time_offset_ns:
            lines.append(f"  timestamps moved by {format_duration(self.time_offset_ns)}")
        if self.stats.problem_count:
            lines.append(f"problems ({self.stats.problem_count}):")
            lines += [f"  {self.redact(p)}" for p in self.stats.problems]
            if self.stats.problem_count > len(self.stats.problems):
                lines.append(
                    f"  … and {self.stats.problem_count - len(self.stats.problems)} more (see --json for counts)"
                )
        lines += [f"hint: {self.redact(h)}" for h in self.stats.hints]
        if self.interrupted:
            lines.append("interrupted: the counts above are what was done before the stop")
        return "\n".join(lines)


def signal_dict(self: SignalStats, redact: Callable[[str], str]) -> dict[str, Any]:
    return {
        "files": self.files,
        "read": self.read,
        "sent": self.sent,
        "duplicates": self.duplicates,
        "invalid": self.invalid,
        "rejected": self.rejected,
        "failed": self.failed,
        "files_not_selected": self.not_selected_files,
        "not_sent_interrupted": self.unsent,
        "not_sent_reasons": {redact(k): v for k, v in self.unsent_reasons.items()},
        "dropped": {k: v for k, v in self.dropped.items() if k != DUPLICATES},
        "invalid_reasons": dict(self.invalid_reasons),
        "adjusted": self.adjusted,
        "adjusted_reasons": dict(self.adjusted_reasons),
        "rejected_reasons": {redact(k): v for k, v in self.rejected_reasons.items()},
        "failed_reasons": {redact(k): v for k, v in self.failed_reasons.items()},
    }


def format_duration(ns: int) -> str:
    """Signed, coarse and readable: ``+3d 4h 12m``, ``-90s``, ``+250ms``."""
    sign = "-" if ns < 0 else "+"
    rest = abs(ns)
    if rest < 10**9:
        return f"{sign}{rest / 1e6:g}ms"
    secs = rest // 10**9
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            parts.append(f"{secs // size}{unit}")
            secs %= size
    return sign + " ".join(parts[:3])


def _ignored(n: int, reasons: Counter[str]) -> str:
    """``, 5 ignored (3 packaging noise, 2 not telemetry)``: the files not read, and why."""
    return f", {n} ignored ({', '.join(f'{k} {why}' for why, k in reasons.most_common())})" if n else ""
