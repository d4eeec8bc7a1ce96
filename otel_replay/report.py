"""The run's outcome as a person or a program reads it: its statistics and how it ran
(mode, destinations, time offset, whether it was interrupted) → text or JSON, with every
value redacted, and the exit status."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otel_replay.model import Signal
from otel_replay.problems import ProblemLog
from otel_replay.stats import DUPLICATES, RunStats, SignalStats
from otel_replay.timechoice import KEEP_TIMES, KEPT, SHIFTED, Destinations, TimeChoice, Windows, keep_times_lines
from otel_replay.verdict import age_warnings, iso, nothing_replayed, recorded_range
from otel_replay.visible import visible

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE = 0, 1, 2
#: Interrupted by SIGINT (Ctrl-C), as a shell reports a process it ended (128 + 2).
EXIT_INTERRUPTED = 130
#: Up to this many problems, the text summary lists each; beyond, it groups them by reason.
TEXT_LISTS_UP_TO = 50
#: Reasons the grouped text summary shows (the rest are counted on one line).
TEXT_REASONS = 20


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
    #: ``--problems FILE``: where every problem is written (the summary says so).
    problems_path: str | None = None
    #: What record ages are measured against (old recordings: see :func:`age_warnings`).
    now_ns: int = field(default_factory=time.time_ns)
    #: The run's id in Loki's structured metadata (``replay_id``), when it pushed to Loki.
    replay_id: str | None = None
    #: How the time offset was decided (timechoice.py), what the destinations show at
    #: once, and where the records are to be seen.
    time_choice: TimeChoice | None = None
    windows: Windows = field(default_factory=Windows)
    seen_in: Destinations = field(default_factory=Destinations)
    #: ``--shard``: the share of the inputs this run took (``I/N``); nothing in its share is no failure.
    shard: str | None = None

    @property
    def nothing_replayed(self) -> str | None:
        """Why the run replayed nothing (then it exits 1), or None."""
        return None if self.interrupted else nothing_replayed(self.stats)

    @property
    def warnings(self) -> list[str]:
        """Old records (see :func:`age_warnings`)."""
        sent = self.mode == "send"
        if sent and not any(s.sent for s in self.stats.signals.values()):
            return []
        choice = self.time_choice
        if choice is not None and choice.how in (KEEP_TIMES, KEPT) and choice.times is not None:
            said = [choice.reason] if choice.reason else []  # --shard: not moved
            return said + keep_times_lines(choice.times, self.seen_in)  # counted before sending
        return age_warnings(self.stats, self.time_offset_ns, self.now_ns, sent, self.windows)

    def time_dict(self) -> dict[str, Any]:
        """The recorded and replayed time ranges, and how the offset was decided."""
        choice = self.time_choice
        span = recorded_range(self.stats)
        out: dict[str, Any] = {
            "how": None if choice is None else choice.how,
            "reason": None if choice is None else choice.reason or None,
            "offset_ns": self.time_offset_ns,
            "recorded": None,
            "replayed": None,
        }
        if span is not None:
            off = self.time_offset_ns
            out["recorded"] = {"first": iso(span[0]), "last": iso(span[1]), "first_ns": span[0], "last_ns": span[1]}
            first, last = span[0] + off, span[1] + off
            out["replayed"] = {"first": iso(first), "last": iso(last), "first_ns": first, "last_ns": last}
        if choice is not None and choice.times is not None and choice.how in (KEEP_TIMES, KEPT):
            t, loki = choice.times, self.seen_in.loki  # null: no log record goes to Loki
            out["loki_not_shown_yet"], out["loki_refused"] = (t.unserved, t.refused) if loki else (None, None)
        return out

    def time_lines(self) -> list[str]:
        """The summary's recorded and replayed time ranges."""
        span = recorded_range(self.stats)
        if span is None:
            return []
        off, (first, last) = self.time_offset_ns, span
        line = f"  times   recorded {iso(first)} to {iso(last)}"
        if not off:  # said when the times were kept against the default, or with a warning
            if self._how == KEEP_TIMES or self.warnings:
                return [line + ", replayed at those times" + (" (--keep-times)" if self._how == KEEP_TIMES else "")]
            return []
        why = {SHIFTED: ": the newest record moved to now (default; --keep-times keeps them)"}.get(self._how, "")
        return [line + f", replayed {iso(first + off)} to {iso(last + off)} (moved by {format_duration(off)}{why})"]

    @property
    def _how(self) -> str | None:
        return None if self.time_choice is None else self.time_choice.how

    @property
    def exit_status(self) -> int:
        if self.stats.problem_count or (self.nothing_replayed and self.shard is None):
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
            "problems": [p.to_dict(self.redact) for p in self.stats.problems],
            "problem_count": self.stats.problem_count,
            "problem_reasons": [
                {
                    "kind": g.kind,
                    "signal": None if g.signal is None else g.signal.value,
                    "reason_kind": self.redact(g.key),
                    "count": g.count,
                }
                for g in self.stats.problem_log.by_count()
            ],
            "interrupted": self.interrupted,
            "time_offset_ns": self.time_offset_ns,
            "time": self.time_dict(),
            "replay_id": self.replay_id,
            "shard": self.shard,
            "hints": [self.redact(h) for h in self.stats.hints],
            "nothing_replayed": self.nothing_replayed,
            "warnings": self.warnings,
            "exit_status": self.exit_status,
        }

    def render_text(self) -> str:
        verb = {"send": "sent", "dry-run": "would send", "output": "written"}[self.mode]
        moved = f", times moved by {format_duration(self.time_offset_ns)}" if self.time_offset_ns else ""
        lines = [
            f"otel-replay: {self.stats.files_read} file(s) read"
            + _ignored(self.stats.files_ignored, self.stats.ignored)
            + moved
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
        lines += self.time_lines()
        if self.replay_id:
            lines.append(f"  replay id {self.replay_id} (Loki structured metadata replay_id)")
        if self.shard:
            lines.append(f"  shard {self.shard}: this run's share of the inputs (--shard)")
        lines += problem_lines(self.stats.problem_log, self.redact, self.problems_path)
        lines += [f"hint: {self.redact(h)}" for h in self.stats.hints]
        lines += [f"warning: {w}" for w in self.warnings]
        if nothing := self.nothing_replayed:
            share = f" (in shard {self.shard}'s share; the others' may hold more)" if self.shard else ""
            lines.append(nothing + share)
        if self.interrupted:
            lines.append("interrupted: the counts above are what was done before the stop")
        return "\n".join(visible(line) for line in lines)


def problem_lines(log: ProblemLog, redact: Callable[[str], str], path: str | None) -> list[str]:
    """The problems as the text summary shows them: each one when there are few, else
    each reason once with its count and its first examples."""
    if not log.count:
        return []
    where = f"every one is in {redact(path)}" if path else "--problems FILE lists every one"
    if log.count <= TEXT_LISTS_UP_TO and len(log.kept) == log.count:
        return [f"problems ({log.count}):"] + [f"  {redact(p.line())}" for p in log.kept]
    groups = log.by_count()
    lines = [f"problems ({log.count}), by reason ({where}):"]
    for group in groups[:TEXT_REASONS]:
        lines.append(f"  {group.count} × {redact(group.label)}")
        lines += [f"      {redact(p.line())}" for p in group.examples]
        if group.count > len(group.examples):
            lines.append(f"      … and {group.count - len(group.examples)} more")
    if rest := groups[TEXT_REASONS:]:
        lines.append(f"  … and {sum(g.count for g in rest)} more, for {len(rest)} other reason(s)")
    return lines


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
        "invalid_reasons": {redact(k): v for k, v in self.invalid_reasons.items()},
        "adjusted": self.adjusted,
        "adjusted_reasons": {redact(k): v for k, v in self.adjusted_reasons.items()},
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
