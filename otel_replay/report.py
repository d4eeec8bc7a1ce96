"""The run's outcome: counts per signal and reason, as text or JSON, and the exit status."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import Signal

#: How many individual problem lines the text summary lists before summing up the rest.
MAX_LISTED_PROBLEMS = 20

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2
#: The drop label of the dedup transform; shown as its own count.
DUPLICATES = "duplicates skipped"
#: The drop label of records an earlier run delivered (--resume).
DELIVERED = "already delivered (--resume)"


@dataclass
class SignalStats:
    files: int = 0
    read: int = 0
    sent: int = 0
    invalid: int = 0
    rejected: int = 0
    failed: int = 0
    adjusted: int = 0  # replayed with a value changed (see adjusted_reasons)
    not_selected_files: int = 0
    unsent: int = 0  # read and accepted, but not sent: the run was interrupted (or see unsent_reasons)
    dropped: Counter[str] = field(default_factory=Counter)
    rejected_reasons: Counter[str] = field(default_factory=Counter)
    failed_reasons: Counter[str] = field(default_factory=Counter)
    invalid_reasons: Counter[str] = field(default_factory=Counter)
    adjusted_reasons: Counter[str] = field(default_factory=Counter)
    #: Part of ``unsent`` with a reason other than an interruption (a worker process died).
    unsent_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def duplicates(self) -> int:
        return self.dropped.get(DUPLICATES, 0)

    def to_dict(self, redact: Callable[[str], str]) -> dict[str, Any]:
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


def _no_redaction(text: str) -> str:
    return text


class Report:
    """Counters the pipeline and the sinks update; safe to update from several threads."""

    def __init__(
        self,
        mode: str = "send",
        destinations: dict[Signal, str] | None = None,
        redact: Callable[[str], str] = _no_redaction,
    ) -> None:
        self.mode = mode  # "send", "dry-run" or "output"
        self.destinations = destinations or {}
        self.redact = redact
        self.stats = {s: SignalStats() for s in Signal}
        self.problems: list[str] = []
        self.problem_count = 0
        self.files_read = 0
        self.files_ignored = 0
        self.interrupted = False
        self.time_offset_ns = 0
        self.hints: list[str] = []
        #: --verbose: receives one redacted line per batch outcome.
        self.verbose: Callable[[str], None] | None = None
        self._lock = threading.Lock()

    # -- updates ---------------------------------------------------------------------
    def problem(self, message: str) -> None:
        with self._lock:
            self.problem_count += 1
            if len(self.problems) < MAX_LISTED_PROBLEMS:
                self.problems.append(message)

    def invalid(self, signal: Signal, where: str, reason: str) -> None:
        s = self.stats[signal]
        with self._lock:
            s.invalid += 1
            s.invalid_reasons[_reason_kind(reason)] += 1
        self.problem(f"{where}: invalid {_noun(signal)}: {reason}")

    def hint(self, text: str) -> None:
        with self._lock:
            if text not in self.hints:
                self.hints.append(text)

    def note(self, text: str) -> None:
        """A --verbose line (redacted before it is shown)."""
        if self.verbose is not None:
            self.verbose(self.redact(text))

    def adjusted(self, signal: Signal, where: str, reason: str) -> None:
        s = self.stats[signal]
        with self._lock:
            s.adjusted += 1
            s.adjusted_reasons[_reason_kind(reason)] += 1
        self.problem(f"{where}: {_noun(signal)} changed to fit: {reason}")

    def too_large(self, signal: Signal, where: str, size: int, flag: str, limit: int) -> None:
        """A record that cannot fit in one request under ``flag`` even alone: refused here."""
        noun = _noun(signal)
        self.rejected(signal, 1, f"{noun} larger than {flag} on its own")
        verb = "written" if self.mode == "output" else "sent"
        self.problem(f"{where}: {noun} of about {size} bytes is larger than {flag} ({limit}); not {verb}")

    def dropped(self, signal: Signal, label: str) -> None:
        with self._lock:
            self.stats[signal].dropped[label] += 1

    def settle_unsent(self) -> None:
        """A stopped run: every record read that has no other outcome was not sent (read
        but not yet checked, checked but not yet batched, batched, or in a request left
        behind by a second Ctrl-C)."""
        with self._lock:
            for s in self.stats.values():
                s.unsent = max(0, s.read - s.sent - s.rejected - s.failed - sum(s.dropped.values()))

    def not_sent(self, signal: Signal, n: int, reason: str) -> None:
        """``n`` records read and accepted will not be sent, for ``reason``."""
        if n <= 0:
            return
        with self._lock:
            self.stats[signal].unsent += n
            self.stats[signal].unsent_reasons[reason] += n

    def sent(self, signal: Signal, n: int) -> None:
        with self._lock:
            self.stats[signal].sent += n

    def rejected(self, signal: Signal, n: int, reason: str) -> None:
        if n <= 0:
            return
        with self._lock:
            self.stats[signal].rejected += n
            self.stats[signal].rejected_reasons[reason] += n

    def failed(self, signal: Signal, n: int, reason: str, where: str | None = None) -> None:
        """``n`` records could not be delivered; ``where`` names the batch (its first and last
        records) for the problem list."""
        if n <= 0:
            return
        with self._lock:
            self.stats[signal].failed += n
            self.stats[signal].failed_reasons[reason] += n
        if where is not None:
            self.problem(f"{where}: {n} {_noun(signal)}(s) not delivered: {reason}")

    # -- across processes ------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """What a worker process found, to be :meth:`merge`-d into the run's report."""
        with self._lock:
            return {
                "stats": self.stats,
                "problems": self.problems,
                "problem_count": self.problem_count,
                "files_read": self.files_read,
                "files_ignored": self.files_ignored,
                "hints": self.hints,
            }

    def merge(self, snap: dict[str, Any]) -> None:
        with self._lock:
            for sig, theirs in snap["stats"].items():
                mine = self.stats[sig]
                for name, value in vars(theirs).items():
                    if isinstance(value, Counter):
                        getattr(mine, name).update(value)
                    else:
                        setattr(mine, name, getattr(mine, name) + value)
            room = MAX_LISTED_PROBLEMS - len(self.problems)
            self.problems += snap["problems"][: max(room, 0)]
            self.problem_count += snap["problem_count"]
            self.files_read += snap["files_read"]
            self.files_ignored += snap["files_ignored"]
            self.hints += [h for h in snap["hints"] if h not in self.hints]

    # -- outcome ---------------------------------------------------------------------
    @property
    def exit_status(self) -> int:
        if self.problem_count:
            return EXIT_INCOMPLETE
        for s in self.stats.values():
            if s.invalid or s.rejected or s.failed or s.unsent or s.adjusted:
                return EXIT_INCOMPLETE
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "destinations": {k.value: self.redact(v) for k, v in self.destinations.items()},
            "files_read": self.files_read,
            "files_ignored": self.files_ignored,
            "signals": {sig.value: st.to_dict(self.redact) for sig, st in self.stats.items()},
            "problems": [self.redact(p) for p in self.problems],
            "problem_count": self.problem_count,
            "interrupted": self.interrupted,
            "time_offset_ns": self.time_offset_ns,
            "hints": [self.redact(h) for h in self.hints],
            "exit_status": self.exit_status,
        }

    def render_text(self) -> str:
        verb = {"send": "sent", "dry-run": "would send", "output": "written"}[self.mode]
        lines = [
            f"otel-replay: {self.files_read} file(s) read"
            + (f", {self.files_ignored} ignored (not .json)" if self.files_ignored else "")
        ]
        for sig, st in self.stats.items():
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
        if self.problem_count:
            lines.append(f"problems ({self.problem_count}):")
            lines += [f"  {self.redact(p)}" for p in self.problems]
            if self.problem_count > len(self.problems):
                lines.append(f"  … and {self.problem_count - len(self.problems)} more (see --json for counts)")
        lines += [f"hint: {self.redact(h)}" for h in self.hints]
        if self.interrupted:
            lines.append("interrupted: the counts above are what was done before the stop")
        return "\n".join(lines)


def _noun(signal: Signal) -> str:
    return {Signal.TRACES: "span", Signal.LOGS: "log record", Signal.METRICS: "metric data point"}[signal]


def _reason_kind(reason: str) -> str:
    """Group reasons that differ only in the offending value ("traceId 'xyz' is not …")."""
    words = reason.split()
    return " ".join(w for w in words if not (w.startswith("'") or w[:1].isdigit()))[:80]


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


def batch_span(first: object, last: object) -> str:
    """How a batch is named in problem lines: ``a.json[0] … b.json[511]``."""
    return str(first) if first == last else f"{first} … {last}"
