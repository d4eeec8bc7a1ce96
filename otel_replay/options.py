"""The replay command's flag values → one validated :class:`RunPlan`, without click.

The command hands every flag over as one :class:`ReplayOptions` and calls
:func:`build_plan`. What a flag means is decided here, once: the signals, the selection
(which records, and when they should appear to have happened), the ``KEY=VALUE`` pairs,
each backend's settings, the retry deadline's default, and the redactor that knows every
secret given. A wrong value or a contradiction raises :class:`PlanError` with one line
naming the flag (:class:`FlagError` when it is one flag's value).

Importing this module stays cheap: nothing here loads the OTLP exporters, the SDK or
protobuf (see sinks/otlp_config.py). Apart from reading the environment (for the secrets
in ``OTEL_EXPORTER_OTLP_*HEADERS``, overridable) and checking that each input path
exists, it is a pure function of the values given.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from otel_replay.config import (
    LOGS_PATH,
    METRICS_PATH,
    Redactor,
    basic_auth_secret,
    env_header_secrets,
    parse_duration,
    parse_instant,
    url_problem,
    url_secrets,
)
from otel_replay.flagvalues import FlagError as FlagError
from otel_replay.flagvalues import check_paths, exclusive, pairs, parsed, shard, trace_id, window
from otel_replay.flagvalues import parse_signals as parse_signals
from otel_replay.model import ResourceOverrides, Signal
from otel_replay.plan import PlanError, RunPlan, Selection
from otel_replay.scrub.engine import Scrubber
from otel_replay.scrub.presets import build_scrubber
from otel_replay.scrub.rules import RulesError
from otel_replay.shard import SHARD_LABEL, Shard
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME
from otel_replay.sinks.loki import DEFAULT_BATCH_BYTES, DEFAULT_MAX_LINE_BYTES, DEFAULT_URL, LokiConfig
from otel_replay.sinks.otlp_config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_REQUEST_BYTES,
    GRPC,
    OtlpConfig,
    ProtocolError,
    check_grpc_endpoints,
    protocol_endpoint,
    resolve_protocols,
)
from otel_replay.sources.discover import DEFAULT_MAX_ARCHIVE_BYTES, ArchiveLimits
from otel_replay.timechoice import LOKI_MAX_AGE_NS, LOKI_VISIBLE_WITHIN_NS, OTLP_VISIBLE_WITHIN_NS, Windows

__all__ = [
    "DEFAULT_TIMEOUT",
    "FlagError",
    "PlanError",
    "ReplayOptions",
    "RetryDeadlines",
    "build_plan",
    "loki_config",
    "otlp_config",
    "parse_selection",
    "parse_signals",
    "redactor",
    "retry_deadlines",
    "scrubber",
]

#: One request attempt, OTLP and Loki (``--timeout``).
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, kw_only=True)
class ReplayOptions:
    """The values of ``otel-replay replay``'s flags, under the names the command gives
    them (so ``ReplayOptions(**flags)``), already converted by their types (seconds,
    bytes) but not yet interpreted. The defaults are the command's, except ``workers``
    (1 here: no worker processes unless asked for)."""

    paths: tuple[str, ...]
    # OTLP: where to, and how
    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    logs_to: str = "loki"
    otlp_logs_endpoint: str | None = None
    otlp_metrics_endpoint: str | None = None
    otlp_protocol: str | None = None  # None: OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL, else http/protobuf
    headers: tuple[str, ...] = ()
    compression: str | None = None
    # both backends
    timeout: float = DEFAULT_TIMEOUT
    max_retry_time: float | None = None
    certificate: str | None = None
    insecure: bool = False
    # OTLP requests
    batch_size: int = DEFAULT_BATCH_SIZE
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # every resource
    service_name: str | None = None
    resource_attrs: tuple[str, ...] = ()
    # Loki
    loki_url: str = DEFAULT_URL
    loki_tenant: str | None = None
    loki_headers: tuple[str, ...] = ()
    loki_user: str | None = None
    loki_password: str | None = None
    loki_bearer_token: str | None = None
    loki_labels: tuple[str, ...] = ()
    no_structured_metadata: bool = False
    loki_batch_bytes: int = DEFAULT_BATCH_BYTES
    loki_compression: str = "gzip"
    loki_max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    # mode
    output_dir: str | None = None
    overwrite: bool = False
    dry_run: bool = False
    # selection
    signal_list: str | None = None
    traces_only: bool = False
    logs_only: bool = False
    shift_to_now: bool = False
    time_offset: str | None = None
    keep_times: bool = False
    loki_visible_within: str | None = None
    loki_max_age: str | None = None
    otlp_visible_within: str | None = None
    since: str | None = None
    until: str | None = None
    trace_ids: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    # the run
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    resume: str | None = None
    resume_elsewhere: bool = False
    workers: int = 1
    concurrency: int = DEFAULT_CONCURRENCY
    shard: str | None = None  # --shard I/N or auto/N (docs/sharding.md)
    problems: str | None = None  # --problems FILE
    # scrubbing (docs/scrub.md)
    scrub: tuple[str, ...] = ()  # --scrub: preset names or rules files, in order
    scrub_salt: str | None = None
    scrub_check: bool = False


def build_plan(options: ReplayOptions, *, env: Mapping[str, str] | None = None, now_ns: int | None = None) -> RunPlan:
    """The validated plan for these flags; :class:`PlanError` (one line naming the flag)
    when a value is wrong or flags contradict each other.

    ``env`` (default: the process's) is read for the OTLP header secrets to redact;
    ``now_ns`` (default: now) is what ``--since 2h`` and ``--shift-to-now`` count from.
    """
    o = options
    signals = parse_signals(o.signal_list, traces_only=o.traces_only, logs_only=o.logs_only)
    check_paths(o.paths)
    exclusive(("--insecure", o.insecure), ("--certificate", o.certificate))
    exclusive(("--loki-user", o.loki_user), ("--loki-bearer-token", o.loki_bearer_token))
    check_urls(o, signals, os.environ if env is None else env)
    selection = parse_selection(o, now_ns=time.time_ns() if now_ns is None else now_ns)
    otlp = otlp_config(o, os.environ if env is None else env, signals)
    share = shard(o.shard, os.environ if env is None else env)
    loki = loki_config(o, share)
    scrub = scrubber(o)
    check = o.scrub_check  # --scrub-check: read and count what would change, send nothing
    return RunPlan.from_options(
        paths=o.paths,
        signals=signals,
        otlp=otlp,
        loki=loki,
        selection=selection,
        overrides=ResourceOverrides(o.service_name, pairs(o.resource_attrs, "--resource-attr")),
        redact=redactor(o, otlp, loki, env),
        dry_run=o.dry_run or check,
        output_dir=None if check else o.output_dir,
        overwrite=o.overwrite,
        resume_path=None if check else o.resume,
        resume_elsewhere=o.resume_elsewhere,
        limits=ArchiveLimits(o.max_archive_bytes),
        include=o.include,
        exclude=o.exclude,
        logs_to=o.logs_to,
        workers=1 if check else o.workers,  # one process counts every change
        problems_path=o.problems,
        scrub=scrub,
        shard=share,
    )


def scrubber(options: ReplayOptions) -> Scrubber | None:
    """``--scrub``'s rules in order with ``--scrub-salt`` (default: random, one for the run)."""
    if options.scrub_check and not options.scrub:
        raise FlagError("--scrub-check", "give the rules to check with --scrub")
    try:
        return build_scrubber(options.scrub, options.scrub_salt) if options.scrub else None
    except RulesError as exc:
        raise FlagError("--scrub", str(exc)) from None


def parse_selection(options: ReplayOptions, *, now_ns: int) -> Selection:
    """Which records (``--since``, ``--until``, ``--trace-id``, ``--service``) and when
    they should appear to have happened (``--time-offset``, ``--shift-to-now``)."""
    o = options
    exclusive(("--shift-to-now", o.shift_to_now), ("--time-offset", o.time_offset), ("--keep-times", o.keep_times))
    if o.shard is not None and o.shift_to_now:
        raise PlanError(
            "--shift-to-now and --shard exclude each other: each shard would move its records by its own "
            "offset (its own newest record, its own now); give every shard the same --time-offset"
        )
    offset = parsed("--time-offset", parse_duration, o.time_offset) if o.time_offset else None
    since_ns = parsed("--since", lambda text: parse_instant(text, now_ns), o.since) if o.since else None
    until_ns = parsed("--until", lambda text: parse_instant(text, now_ns), o.until) if o.until else None
    if since_ns is not None and until_ns is not None and until_ns <= since_ns:
        raise PlanError("--until must be later than --since")
    ids = tuple(parsed("--trace-id", trace_id, text) for text in o.trace_ids)
    return Selection(
        now_ns=now_ns,
        offset_ns=offset,
        shift_to_now=o.shift_to_now,
        keep_times=o.keep_times,
        windows=parse_windows(o),
        since_ns=since_ns,
        until_ns=until_ns,
        trace_ids=ids,
        services=tuple(o.services),
    )


def parse_windows(o: ReplayOptions) -> Windows:
    """What the destinations show at once, when the user says it differs from the defaults."""
    return Windows(
        loki_visible_ns=window("--loki-visible-within", o.loki_visible_within, LOKI_VISIBLE_WITHIN_NS),
        loki_max_age_ns=window("--loki-max-age", o.loki_max_age, LOKI_MAX_AGE_NS),
        otlp_visible_ns=window("--otlp-visible-within", o.otlp_visible_within, OTLP_VISIBLE_WITHIN_NS),
    )


class RetryDeadlines(NamedTuple):
    """How long one batch may be retried, per backend (``--max-retry-time``)."""

    #: None: the OTLP sink decides per signal, by :func:`~otel_replay.sinks.otlp_config.export_deadline`:
    #: OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT when set, else ``DEFAULT_MAX_RETRY_TIME``.
    otlp: float | None
    loki: float


def retry_deadlines(max_retry_time: float | None) -> RetryDeadlines:
    """``--max-retry-time`` for both backends, decided here once: the flag's value when
    given; without it Loki waits ``DEFAULT_MAX_RETRY_TIME`` and OTLP leaves the choice
    to the OTEL_EXPORTER_OTLP timeout variables, falling back to the same default."""
    if max_retry_time is not None:
        return RetryDeadlines(otlp=max_retry_time, loki=max_retry_time)
    return RetryDeadlines(otlp=None, loki=DEFAULT_MAX_RETRY_TIME)


#: What ``--compression`` is when neither it nor an OTEL_EXPORTER_OTLP_*COMPRESSION variable is set.
DEFAULT_COMPRESSION = "gzip"


def otlp_config(
    options: ReplayOptions, env: Mapping[str, str] | None = None, signals: Iterable[Signal] = tuple(Signal)
) -> OtlpConfig:
    """The OTLP sinks' settings: each signal's protocol (of ``signals``, those sent as
    OTLP), its URL (None lets OTEL_EXPORTER_OTLP_* decide; for gRPC the endpoint as it is,
    for http/protobuf with /v1/<signal> appended), ``--header`` pairs, transport and request
    limits. Compression: the flag, else the OTEL_EXPORTER_OTLP_*COMPRESSION variables when
    one is set (the exporter reads them), else gzip (``env``: default the process's)."""
    o = options
    env = os.environ if env is None else env
    sent = {s for s in signals if s is not Signal.LOGS or o.logs_to == "otlp"}
    try:
        protocols = resolve_protocols(o.otlp_protocol, sent, env, insecure=o.insecure)
    except ProtocolError as exc:
        raise PlanError(str(exc)) from None
    from_env = any(name.startswith("OTEL_EXPORTER_OTLP_") and name.endswith("COMPRESSION") for name in env)
    compression = o.compression or (None if from_env else DEFAULT_COMPRESSION)
    headers = pairs(o.headers, "--header")
    config = OtlpConfig(
        traces_endpoint=protocol_endpoint(o.otlp_endpoint, o.otlp_traces_endpoint, protocols[Signal.TRACES]),
        logs_endpoint=protocol_endpoint(o.otlp_endpoint, o.otlp_logs_endpoint, protocols[Signal.LOGS], LOGS_PATH),
        metrics_endpoint=protocol_endpoint(
            o.otlp_endpoint, o.otlp_metrics_endpoint, protocols[Signal.METRICS], METRICS_PATH
        ),
        headers=headers or None,
        compression=compression,
        timeout=o.timeout,
        max_retry_time=retry_deadlines(o.max_retry_time).otlp,
        certificate=o.certificate,
        verify=not o.insecure,
        batch_size=o.batch_size,
        max_request_bytes=o.max_request_bytes,
        concurrency=o.concurrency,
        protocols={s: p for s, p in protocols.items() if p == GRPC} or None,  # http/protobuf: the default
    )
    try:
        check_grpc_endpoints(config, env)
    except ProtocolError as exc:
        raise PlanError(str(exc)) from None
    return config


def loki_config(options: ReplayOptions, share: Shard | None = None) -> LokiConfig:
    """The Loki sink's settings: URL, tenant, ``--loki-header`` and ``--loki-label``
    pairs, basic auth, line and push limits, transport. A shard (``share``) pushes into
    streams of its own, labelled ``replay_shard``: Loki takes a stream's entries only up
    to an hour behind its newest, and each shard sends its share oldest first, but not
    in step with the others (docs/sharding.md)."""
    o = options
    headers = pairs(o.loki_headers, "--loki-header")
    labels = pairs(o.loki_labels, "--loki-label")
    if share is not None:
        labels = {SHARD_LABEL: str(share), **labels}
    if o.loki_bearer_token:
        headers["Authorization"] = f"Bearer {o.loki_bearer_token}"
    return LokiConfig(
        url=o.loki_url,
        tenant=o.loki_tenant,
        headers=headers,
        user=o.loki_user,
        password=o.loki_password,
        labels=labels,
        structured_metadata=not o.no_structured_metadata,
        batch_bytes=o.loki_batch_bytes,
        gzip=o.loki_compression == "gzip",
        max_line_bytes=o.loki_max_line_bytes,
        timeout=o.timeout,
        max_retry_time=retry_deadlines(o.max_retry_time).loki,
        certificate=o.certificate,
        verify=not o.insecure,
        concurrency=o.concurrency,
    )


def redactor(
    options: ReplayOptions, otlp: OtlpConfig, loki: LokiConfig, env: Mapping[str, str] | None = None
) -> Redactor:
    """Hides every secret given: OTLP and Loki header values, the Loki password and the
    basic-auth credential made from it, passwords in any URL's user info, the
    ``--scrub-salt``, and header values from OTEL_EXPORTER_OTLP_*HEADERS (read from ``env``, default the process's)."""
    o = options
    auth = loki.auth()
    urls = (o.loki_url, o.otlp_endpoint, o.otlp_traces_endpoint, o.otlp_logs_endpoint, o.otlp_metrics_endpoint)
    return Redactor(
        [
            basic_auth_secret(*auth) if auth else None,
            *(otlp.headers or {}).values(),
            *loki.headers.values(),
            loki.password,
            o.loki_bearer_token,
            o.scrub_salt,
            *env_header_secrets(None if env is None else dict(env)),
            *(secret for url in urls for secret in url_secrets(url)),
        ]
    )


#: Each URL flag, the ReplayOptions field it sets, and the OTLP variable the exporter reads in its place.
_URL_FLAGS = (
    ("--loki-url", "loki_url", None),
    ("--otlp-endpoint", "otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    ("--otlp-traces-endpoint", "otlp_traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
    ("--otlp-logs-endpoint", "otlp_logs_endpoint", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"),
    ("--otlp-metrics-endpoint", "otlp_metrics_endpoint", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
)


def check_urls(options: ReplayOptions, signals: Iterable[Signal], env: Mapping[str, str]) -> None:
    """Every URL given as a flag, and each OTEL_EXPORTER_OTLP_*ENDPOINT variable that a
    signal of this run would be sent to (none with --output), is an http:// or https://
    URL with a host: else :class:`FlagError` naming the flag or the variable (also under
    --dry-run, which rehearses the sending)."""
    for flag, field, _ in _URL_FLAGS:
        value = getattr(options, field)
        if value is not None and (reason := url_problem(value)):
            raise FlagError(flag, reason)
    if options.otlp_endpoint or options.output_dir:
        return  # every OTLP signal goes to a URL given as a flag, or nothing is sent
    otlp_signals = {s for s in signals if s is not Signal.LOGS or options.logs_to == "otlp"}
    for flag, field, variable in _URL_FLAGS[2:]:
        if not any(flag == f"--otlp-{s.value}-endpoint" for s in otlp_signals) or getattr(options, field):
            continue
        for name in (variable, "OTEL_EXPORTER_OTLP_ENDPOINT"):
            if env.get(name):
                if reason := url_problem(env[name]):
                    raise FlagError(str(name), reason)
                break
