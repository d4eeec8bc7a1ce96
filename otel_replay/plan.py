"""What one run is to do: the user's choices, validated and derived once.

:mod:`otel_replay.options` turns the command's flag values into plain values and builds
a :class:`RunPlan` through :meth:`RunPlan.from_options` (keyword-only); everything after
that reads the plan and never looks at a flag again: the mode, where each signal goes
and how far discovery may go are worked out here, once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from otel_replay.config import LOGS_PATH, METRICS_PATH, TRACES_PATH, effective_endpoint
from otel_replay.model import ResourceOverrides, Signal
from otel_replay.scrub.engine import Scrubber
from otel_replay.shard import Shard, shard_file_name
from otel_replay.sinks.loki import LokiConfig
from otel_replay.sinks.otlp_config import OtlpConfig
from otel_replay.sources.discover import ArchiveLimits, Walk
from otel_replay.sources.names import NameRules
from otel_replay.timechoice import Destinations, RecordTimes, Windows

MODES = ("send", "dry-run", "output")
LOGS_TO = ("loki", "otlp")


class PlanError(ValueError):
    """The options contradict each other; the message says how (one line)."""


def _no_redaction(text: str) -> str:
    return text


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which records, and when they should appear to have happened."""

    now_ns: int
    offset_ns: int | None = None  # --time-offset (None: not given; 0 keeps the recorded times)
    shift_to_now: bool = False
    keep_times: bool = False  # --keep-times: never the default shift (timechoice.py)
    #: What the destinations show at once (--loki-visible-within, --loki-max-age, --otlp-visible-within).
    windows: Windows = field(default_factory=Windows)
    since_ns: int | None = None
    until_ns: int | None = None
    trace_ids: tuple[int, ...] = ()
    services: tuple[str, ...] = ()

    def blank_times(self, identify: bool = False, loki: bool = True) -> RecordTimes:
        """What the first pass fills (measured from ``now_ns``, against ``windows``): the
        records Loki would not show at once identified as they are found only with
        ``--keep-times`` and log records going to Loki (``loki``: their counts are said) or
        ``identify`` (a second look at inputs whose identities were deferred:
        timechoice.RecordTimes)."""
        counted = identify or (self.keep_times and loki)
        return RecordTimes(now_ns=self.now_ns, windows=self.windows, defer=not counted)


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    paths: tuple[str, ...]
    signals: tuple[Signal, ...]
    mode: str  # "send", "dry-run" or "output"
    otlp: OtlpConfig
    loki: LokiConfig
    selection: Selection
    overrides: ResourceOverrides = field(default_factory=ResourceOverrides)
    #: Where each selected signal goes, as the summary shows it (not redacted here).
    destinations: dict[Signal, str]
    redact: Callable[[str], str] = _no_redaction
    output_dir: str | None = None
    overwrite: bool = False  # --overwrite: an earlier run's files in output_dir are replaced
    resume_path: str | None = None
    resume_elsewhere: bool = False  # --resume-elsewhere: the state file may name other destinations
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    walk: Walk = field(default_factory=Walk)
    logs_to: str = "loki"  # or "otlp": log records through the official OTLPLogExporter
    workers: int = 1  # --workers: processes that read, convert and export (see execute/workers.py)
    problems_path: str | None = None  # --problems: every problem as a JSON line (written by this process)
    scrub: Scrubber | None = None  # --scrub: the rules and the run's salt, applied before every sink
    shard: Shard | None = None  # --shard I/N: this share of the inputs (see shard.py)

    # Long as its keyword list is: one keyword per user choice, checked and passed on in one place.
    @classmethod
    def from_options(
        cls,
        *,
        paths: Sequence[str],
        signals: Sequence[Signal],
        otlp: OtlpConfig,
        loki: LokiConfig,
        selection: Selection,
        overrides: ResourceOverrides | None = None,
        redact: Callable[[str], str] = _no_redaction,
        dry_run: bool = False,
        output_dir: str | None = None,
        overwrite: bool = False,
        resume_path: str | None = None,
        resume_elsewhere: bool = False,
        limits: ArchiveLimits | None = None,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        logs_to: str = "loki",
        workers: int = 1,
        problems_path: str | None = None,
        scrub: Scrubber | None = None,
        shard: Shard | None = None,
    ) -> RunPlan:
        """The plan for these options; :class:`PlanError` when they contradict each other."""
        if dry_run and output_dir:
            raise PlanError("--dry-run and --output exclude each other")
        if resume_path and (dry_run or output_dir):
            raise PlanError("--resume applies to sending (not to --dry-run or --output)")
        if not paths:
            raise PlanError("no input given")
        if not signals:
            raise PlanError("no signal selected")
        if logs_to not in LOGS_TO:
            raise PlanError(f"--logs-to must be one of {', '.join(LOGS_TO)}")
        if workers < 1:
            raise PlanError("--workers must be at least 1")
        ordered = tuple(s for s in Signal if s in signals)
        # a walk of "." must not read the files this run writes
        walk = Walk(
            exclude_dirs=frozenset() if output_dir is None else frozenset({os.path.realpath(output_dir)}),
            exclude_files=frozenset() if problems_path is None else frozenset({os.path.realpath(problems_path)}),
            rules=NameRules(tuple(include), tuple(exclude)),
        )
        return cls(
            paths=tuple(paths),
            signals=ordered,
            mode="dry-run" if dry_run else ("output" if output_dir else "send"),
            otlp=otlp,
            loki=loki,
            selection=selection,
            overrides=overrides or ResourceOverrides(),
            destinations=_destinations(ordered, otlp, loki, logs_to, output_dir, shard),
            redact=redact,
            output_dir=output_dir,
            overwrite=overwrite,
            resume_path=resume_path,
            resume_elsewhere=resume_elsewhere,
            limits=limits or ArchiveLimits(),
            walk=walk,
            logs_to=logs_to,
            workers=workers,
            problems_path=problems_path,
            scrub=scrub,
            shard=shard,
        )

    @property
    def sends_otlp(self) -> bool:
        """Whether a sink of this run uses the official OTLP exporters."""
        return self.mode == "send" and (self.logs_to == "otlp" or any(s is not Signal.LOGS for s in self.signals))

    def blank_times(self, identify: bool = False) -> RecordTimes:
        """What this run's first pass fills (:meth:`Selection.blank_times`)."""
        return self.selection.blank_times(identify, loki=self.seen_in.loki)

    @property
    def seen_in(self) -> Destinations:
        """Where the records are to be looked at, for the default time shift (timechoice.py):
        nowhere with --output (files; a later replay of them decides)."""
        if self.mode == "output":
            return Destinations()
        logs = Signal.LOGS in self.signals
        return Destinations(
            loki=logs and self.logs_to == "loki",
            otlp=any(s is not Signal.LOGS for s in self.signals) or (logs and self.logs_to == "otlp"),
        )

    @property
    def ordered_logs(self) -> bool:
        """Log records go to Loki, which takes each stream oldest first (workers must push
        an input's entries only after every earlier input's)."""
        return self.mode == "send" and self.logs_to == "loki" and Signal.LOGS in self.signals


def _destinations(
    signals: tuple[Signal, ...],
    otlp: OtlpConfig,
    loki: LokiConfig,
    logs_to: str,
    output_dir: str | None,
    shard: Shard | None = None,
) -> dict[Signal, str]:
    if output_dir is not None:
        return {s: os.path.join(output_dir, output_name(s, shard)) for s in signals}
    every = {
        Signal.TRACES: _otlp_destination(otlp, Signal.TRACES, TRACES_PATH),
        Signal.LOGS: _otlp_destination(otlp, Signal.LOGS, LOGS_PATH) if logs_to == "otlp" else loki.push_url(),
        Signal.METRICS: _otlp_destination(otlp, Signal.METRICS, METRICS_PATH),
    }
    return {s: every[s] for s in signals}


def output_name(signal: Signal, shard: Shard | None) -> str:
    """The name of ``signal``'s file in the --output folder (each shard its own)."""
    from otel_replay.sinks.file import FILE_NAMES  # the OTLP encoders: only a run that writes files

    return shard_file_name(FILE_NAMES[signal], shard)


def _otlp_destination(otlp: OtlpConfig, signal: Signal, path: str) -> str:
    """Where a signal goes, as the summary shows it: the URL, and the protocol when it is
    gRPC (an OTLP/HTTP URL says its own)."""
    grpc = otlp.protocol(signal) == "grpc"
    url = effective_endpoint(otlp.endpoint(signal), path=path, grpc=grpc)
    return f"{url} (OTLP/gRPC)" if grpc else url
