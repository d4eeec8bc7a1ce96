"""Flags that would do nothing in this run, decided in one table.

The rule, the same for every flag: a setting for a destination that another flag of the
same command turned away from is a contradiction and is **refused** (``--loki-tenant``
with ``--logs-to otlp``: the user thinks log records go to Loki); a setting for a signal
that ``--signals``/``--traces-only``/``--logs-only`` leaves out is **warned about** (the
same command narrowed to one signal is an everyday thing to do). Settings read from the
environment (LOKI_ADDR, LOKI_ORG_ID…) are ambient and never named here; a dry run or
``--output`` keeps the destination flags (a dry run checks them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, fields

from otel_replay.model import Signal
from otel_replay.options import ReplayOptions

__all__ = ["RULES", "Unused", "unused_flags"]


@dataclass(frozen=True)
class Unused:
    """One flag that does nothing in this run: ``refuse`` (usage error) or a warning."""

    flag: str
    why: str
    refuse: bool

    def message(self) -> str:
        return f"{self.flag} does nothing in this run: {self.why}"


Check = Callable[[ReplayOptions, Collection[Signal]], str | None]


def _loki(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    return "log records go to OTLP (--logs-to otlp), not to Loki" if o.logs_to == "otlp" else None


def _otlp_logs(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    return "log records go to Loki (add --logs-to otlp to send them as OTLP)" if o.logs_to == "loki" else None


def _without(*needed: Signal) -> Check:
    def check(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
        if any(s in signals for s in needed):
            return None
        return f"no {' or '.join(_NOUNS[s] for s in needed)} are replayed (see --signals)"

    return check


def _no_otlp(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    if any(s is not Signal.LOGS for s in signals) or (Signal.LOGS in signals and o.logs_to == "otlp"):
        return None
    return "nothing is sent to OTLP (only log records are replayed, and they go to Loki)"


def _no_scrub(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    return None if o.scrub else "no --scrub rules are given"


def _no_output(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    return None if o.output_dir else "no folder is written (that is --output)"


def _no_resume(o: ReplayOptions, signals: Collection[Signal]) -> str | None:
    return None if o.resume else "no state file is read (that is --resume)"


_NOUNS = {Signal.TRACES: "spans", Signal.LOGS: "log records", Signal.METRICS: "metric points"}
_LOKI_FIELDS = (
    "loki_url",
    "loki_tenant",
    "loki_headers",
    "loki_user",
    "loki_password",
    "loki_bearer_token",
    "loki_labels",
    "no_structured_metadata",
    "loki_batch_bytes",
    "loki_compression",
    "loki_max_line_bytes",
)
_OTLP_FIELDS = ("otlp_endpoint", "otlp_protocol", "headers", "compression", "max_request_bytes")

#: (the ReplayOptions fields, the check that says why they do nothing, refused?, when — for
#: docs/cli.md). The first rule that matches a field wins, so a refusal comes before a warning.
RULES: list[tuple[tuple[str, ...], Check, bool, str]] = [
    (_LOKI_FIELDS, _loki, True, "with --logs-to otlp"),
    (("otlp_logs_endpoint",), _otlp_logs, True, "without --logs-to otlp"),
    (_LOKI_FIELDS, _without(Signal.LOGS), False, "when no log records are replayed"),
    (("otlp_logs_endpoint", "logs_to"), _without(Signal.LOGS), False, "when no log records are replayed"),
    (("otlp_traces_endpoint", "batch_size"), _without(Signal.TRACES), False, "when no spans are replayed"),
    (("otlp_metrics_endpoint",), _without(Signal.METRICS), False, "when no metric points are replayed"),
    (_OTLP_FIELDS, _no_otlp, False, "when only log records are replayed, into Loki"),
    (("overwrite",), _no_output, True, "without --output"),
    (("resume_elsewhere",), _no_resume, True, "without --resume"),
    (("scrub_salt",), _no_scrub, False, "without --scrub"),
]


def unused_flags(
    options: ReplayOptions,
    signals: Collection[Signal],
    flag_names: dict[str, str],
    given: Collection[str] | None = None,
) -> list[Unused]:
    """The flags given (``given``: field names set on the command line; None: every field
    whose value is not the default) that do nothing with these ``signals``, in the order
    of :data:`RULES`. ``flag_names`` maps a field to the flag as the user writes it."""
    if given is None:
        defaults = ReplayOptions(paths=options.paths)
        given = {f.name for f in fields(ReplayOptions) if getattr(options, f.name) != getattr(defaults, f.name)}
    found: dict[str, Unused] = {}
    for names, check, refuse, _ in RULES:
        for name in names:
            if name in given and name not in found and (why := check(options, signals)):
                found[name] = Unused(flag_names.get(name, name), why, refuse)
    return list(found.values())
