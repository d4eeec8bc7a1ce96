"""The outcome of a read-back, per signal (found / missing / different), as text or JSON,
with a Grafana link for each trace that has errors; exit 0 only when everything sent was
read back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from otel_replay.model import Signal
from otel_replay.verify.settings import DEFAULT_GRAFANA_URL
from otel_replay.visible import visible

#: The Tempo datasource's uid in docker/grafana/provisioning (Explore links name it).
TEMPO_DATASOURCE_UID = "tempo"
#: How many missing or different records the summary names (the JSON too).
SHOWN = 10


def shown(text: str, limit: int = 120) -> str:
    """A value from the input as a person may see it: quoted, control characters and
    escape codes written as JSON escapes, long text cut."""
    return json.dumps(text if len(text) <= limit else text[:limit] + "…")


@dataclass
class SignalCheck:
    signal: Signal
    unit: str  # "spans", "entries"
    sent: int = 0
    found: int = 0
    missing: int = 0
    different: int = 0
    missing_examples: list[str] = field(default_factory=list)
    different_examples: list[str] = field(default_factory=list)
    #: Stored, not yet queryable (Loki: older than its ingester window; verify/loki.py).
    not_yet: int = 0
    not_yet_examples: list[str] = field(default_factory=list)
    error: str | None = None  # the backend could not be asked (one line)
    notes: list[str] = field(default_factory=list)
    #: Why this signal was not read back (no query API to ask); None when it was.
    not_checked: str | None = None

    @property
    def ok(self) -> bool:
        if self.not_checked is not None:
            return True  # said, not failed: there is nothing to ask
        return (
            self.error is None
            and not self.missing
            and not self.different
            and not self.not_yet
            and self.found >= self.sent
        )

    def miss(self, text: str) -> None:
        self.missing += 1
        if len(self.missing_examples) < SHOWN:
            self.missing_examples.append(text)

    def not_yet_queryable(self, text: str) -> None:
        self.not_yet += 1
        if len(self.not_yet_examples) < SHOWN:
            self.not_yet_examples.append(text)

    def differ(self, text: str) -> None:
        self.different += 1
        if len(self.different_examples) < SHOWN:
            self.different_examples.append(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "sent": self.sent,
            "found": self.found,
            "missing": self.missing,
            "different": self.different,
            "stored_not_yet_queryable": self.not_yet,
            "stored_not_yet_queryable_examples": self.not_yet_examples,
            "missing_examples": self.missing_examples,
            "different_examples": self.different_examples,
            "error": self.error,
            "notes": self.notes,
            "not_checked": self.not_checked,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ErrorTrace:
    trace_id: int
    start_ns: int
    end_ns: int


def grafana_link(grafana_url: str, trace: ErrorTrace) -> str:
    """Grafana Explore on the Tempo datasource, showing the trace (with a minute around it)."""
    pane = {
        "a": {
            "datasource": TEMPO_DATASOURCE_UID,
            "queries": [
                {
                    "refId": "A",
                    "datasource": {"type": "tempo", "uid": TEMPO_DATASOURCE_UID},
                    "queryType": "traceql",
                    "query": f"{trace.trace_id:032x}",
                }
            ],
            "range": {"from": str(trace.start_ns // 10**6 - 60_000), "to": str(trace.end_ns // 10**6 + 60_000)},
        }
    }
    panes = quote(json.dumps(pane, separators=(",", ":")), safe="")
    return f"{grafana_url.rstrip('/')}/explore?schemaVersion=1&orgId=1&panes={panes}"


@dataclass
class VerifyResult:
    checks: list[SignalCheck] = field(default_factory=list)
    replay_id: str | None = None
    error_traces: list[ErrorTrace] = field(default_factory=list)
    grafana_url: str = DEFAULT_GRAFANA_URL
    redact: Callable[[str], str] = str

    @property
    def exit_status(self) -> int:
        return 0 if all(c.ok for c in self.checks) else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "replay_id": self.replay_id,
            "signals": {c.signal.value: self._redacted(c.to_dict()) for c in self.checks},
            "error_traces": [
                {"trace_id": f"{t.trace_id:032x}", "grafana": self.redact(grafana_link(self.grafana_url, t))}
                for t in self.error_traces
            ],
            "exit_status": self.exit_status,
        }

    def _redacted(self, doc: dict[str, Any]) -> dict[str, Any]:
        """A check's JSON with no secret in its messages (a URL's password, a header value)."""
        for key in ("error", "not_checked"):
            if doc[key] is not None:
                doc[key] = self.redact(doc[key])
        doc["notes"] = [self.redact(n) for n in doc["notes"]]
        return doc

    def render_text(self) -> str:
        head = "otel-replay verify" + (f" (replay id {self.replay_id})" if self.replay_id else "") + ":"
        lines = [head]
        if not self.checks:
            lines.append("  nothing to read back (no spans, log records or metric points in this run)")
        for c in self.checks:
            lines.extend(_check_lines(c, self.redact))
        if self.error_traces:
            lines.append(f"  {len(self.error_traces)} trace(s) with errors, to open in Grafana:")
            for t in self.error_traces[:SHOWN]:
                lines.append(f"    {t.trace_id:032x}  {self.redact(grafana_link(self.grafana_url, t))}")
            if len(self.error_traces) > SHOWN:
                lines.append(f"    … and {len(self.error_traces) - SHOWN} more")
        lines.append("all read back" if self.exit_status == 0 else "NOT all read back")
        return "\n".join(lines)


def _check_lines(c: SignalCheck, redact: Callable[[str], str]) -> list[str]:
    if c.not_checked is not None:
        return [f"  {c.signal.value:<7} {c.sent} {c.unit} sent: not checked ({redact(c.not_checked)})"]
    parts = [f"{c.found} found"]
    if c.missing:
        parts.append(f"{c.missing} missing")
    if c.different:
        parts.append(f"{c.different} different")
    if c.not_yet:
        parts.append(f"{c.not_yet} stored, not yet queryable")
    lines = [f"  {c.signal.value:<7} {c.sent} {c.unit} sent: " + ", ".join(parts)]
    if c.error:
        lines.append(f"          error: {visible(redact(c.error))}")
    lines += [f"          missing {visible(text)}" for text in c.missing_examples]
    if c.missing > len(c.missing_examples):
        lines.append(f"          … and {c.missing - len(c.missing_examples)} more missing")
    lines += [f"          stored, not yet queryable: {visible(text)}" for text in c.not_yet_examples]
    if c.not_yet > len(c.not_yet_examples):
        lines.append(f"          … and {c.not_yet - len(c.not_yet_examples)} more stored, not yet queryable")
    lines += [f"          different {visible(text)}" for text in c.different_examples]
    if c.different > len(c.different_examples):
        lines.append(f"          … and {c.different - len(c.different_examples)} more different")
    lines += [f"          note: {redact(n)}" for n in c.notes]
    return lines
