"""One read-back: what a run sent (sent.py) → Tempo (tempo.py), Loki (loki.py) and
Prometheus (prometheus.py) → a :class:`VerifyResult`. The query URLs and credentials come
from the run's plan: Tempo's API on the OTLP endpoint's host, port 3200, unless
``--tempo-query-url`` says otherwise, with the OTLP headers; Loki's on ``--loki-url`` with
its tenant, headers and user; Prometheus's at ``--prometheus-url``, else where the metrics
went when that is Prometheus's OTLP receiver, with the OTLP headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from otel_replay.model import Signal
from otel_replay.plan import RunPlan
from otel_replay.sinks.loki import DEFAULT_URL as DEFAULT_LOKI_URL
from otel_replay.sinks.loki import PUSH_PATH
from otel_replay.verify.loki import LokiReader, check_logs
from otel_replay.verify.lokiotlp import OTLP_LOGS_PATH
from otel_replay.verify.prometheus import OTLP_PATH, PrometheusReader, check_metrics
from otel_replay.verify.result import ErrorTrace, SignalCheck, VerifyResult
from otel_replay.verify.sent import Sent, collect
from otel_replay.verify.settings import VerifySettings
from otel_replay.verify.tempo import TempoReader, check_traces

TEMPO_QUERY_PORT = 3200


class VerifyError(ValueError):
    """The run cannot be verified as asked (one line)."""


def tempo_query_url(plan: RunPlan, given: str | None) -> str:
    """``--tempo-query-url``, or the traces endpoint's scheme and host on port 3200."""
    if given:
        return given.rstrip("/")
    parts = urlsplit(plan.destinations[Signal.TRACES])
    return urlunsplit((parts.scheme, f"{parts.hostname}:{TEMPO_QUERY_PORT}", "", "", ""))


def prometheus_url(plan: RunPlan, given: str | None) -> str | None:
    """``--prometheus-url``, or the metrics endpoint's scheme, host and path before
    ``/api/v1/otlp/v1/metrics`` when the metrics went to Prometheus's OTLP receiver; None
    when there is no Prometheus to ask."""
    if given:
        return given.rstrip("/")
    parts = urlsplit(plan.destinations[Signal.METRICS])
    if not parts.path.rstrip("/").endswith(OTLP_PATH):
        return None
    return urlunsplit(
        (parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path.rstrip("/")[: -len(OTLP_PATH)], "", "")
    )


def loki_query_url(plan: RunPlan) -> str:
    return plan.loki.push_url().removesuffix(PUSH_PATH)


def _session(certificate: str | None, verify: bool) -> requests.Session:
    session = requests.Session()
    session.verify = certificate or verify
    return session


def _without_user(url: str, session: requests.Session) -> str:
    """A query URL given with ``user:password@``: the credential goes to the session (basic
    auth), and the URL that messages name has none."""
    parts = urlsplit(url)
    if parts.username is None:
        return url
    session.auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query, ""))


def verify(
    plan: RunPlan,
    offset_ns: int,
    replay_id: str | None,
    settings: VerifySettings,
    notify: Callable[[str], None] = lambda _: None,
) -> VerifyResult:
    """Read back what the plan's run sent (with ``offset_ns``) and compare."""
    if "-" in plan.paths:
        raise VerifyError("verify reads the inputs again: it cannot check a run that read stdin (-)")
    if replay_id and plan.loki.structured_metadata:  # the entries encoded as that run pushed them
        plan = replace(plan, loki=replace(plan.loki, replay_id=replay_id))
    sent = collect(plan, offset_ns)
    result = VerifyResult(replay_id=replay_id, grafana_url=settings.grafana_url, redact=plan.redact)
    result.error_traces = error_traces(sent)
    if Signal.TRACES in plan.signals:
        session = _session(plan.otlp.certificate, plan.otlp.verify)
        session.headers.update(plan.otlp.headers or {})
        url = _without_user(tempo_query_url(plan, settings.tempo_query_url), session)
        reader = TempoReader(url, session, plan.otlp.timeout)
        result.checks.append(check_traces(sent.spans, reader, settings.timeout_s, notify))
    if Signal.LOGS in plan.signals:
        result.checks.append(_logs(plan, sent, replay_id, settings, notify))
    if Signal.METRICS in plan.signals:
        result.checks.append(_metrics(plan, sent, settings, notify))
    return result


def _loki_reader(plan: RunPlan) -> LokiReader:
    """Loki's query API at ``--loki-url``, with the run's Loki tenant, headers and user."""
    session = _session(plan.loki.certificate, plan.loki.verify)
    session.auth = plan.loki.auth()
    headers = dict(plan.loki.headers)
    if plan.loki.tenant:
        headers["X-Scope-OrgID"] = plan.loki.tenant
    return LokiReader(loki_query_url(plan), session, plan.loki.timeout, headers)


def otlp_loki_reader(plan: RunPlan) -> LokiReader | None:
    """Where log records sent over OTLP can be read back: Loki, when the OTLP logs endpoint
    is Loki's own (``…/otlp/v1/logs``: asked at its base URL with the OTLP headers), else
    at ``--loki-url`` when it was given (a collector forwarding to Loki); None otherwise."""
    parts = urlsplit(plan.destinations[Signal.LOGS])
    path = parts.path.rstrip("/")
    if path.endswith(OTLP_LOGS_PATH):
        base = urlunsplit((parts.scheme, parts.netloc, path[: -len(OTLP_LOGS_PATH)], "", ""))
        session = _session(plan.otlp.certificate, plan.otlp.verify)
        return LokiReader(_without_user(base, session), session, plan.otlp.timeout, dict(plan.otlp.headers or {}))
    return _loki_reader(plan) if plan.loki.url.rstrip("/") != DEFAULT_LOKI_URL else None


def _logs(
    plan: RunPlan, sent: Sent, replay_id: str | None, settings: VerifySettings, notify: Callable[[str], None]
) -> SignalCheck:
    if plan.logs_to == "loki":
        reader: LokiReader | None = _loki_reader(plan)
    else:
        reader, replay_id = otlp_loki_reader(plan), None  # records sent over OTLP carry no replay id
    if reader is None:
        check = SignalCheck(Signal.LOGS, "records", sent=len(sent.entries))
        check.not_checked = (
            f"sent over OTLP to {plan.destinations[Signal.LOGS]}, which is not Loki's OTLP endpoint "
            f"(…{OTLP_LOGS_PATH}): give --loki-url where they land to read them back"
        )
        return check
    within = plan.selection.windows.loki_visible_ns  # how old an entry Loki serves at once
    return check_logs(sent.entries, reader, replay_id, settings.timeout_s, notify, time.time_ns(), within)


def _metrics(plan: RunPlan, sent: Sent, settings: VerifySettings, notify: Callable[[str], None]) -> SignalCheck:
    url = prometheus_url(plan, settings.prometheus_url)
    if url is None:
        check = SignalCheck(Signal.METRICS, "series", sent=len(sent.series))
        check.not_checked = (
            f"{plan.destinations[Signal.METRICS]} is not Prometheus's OTLP receiver (…{OTLP_PATH}): "
            "give --prometheus-url to read them back from a Prometheus query API"
        )
        return check
    session = _session(plan.otlp.certificate, plan.otlp.verify)
    session.headers.update(plan.otlp.headers or {})
    reader = PrometheusReader(_without_user(url, session), session, plan.otlp.timeout)
    return check_metrics(sent.series, reader, settings.timeout_s, notify)


def error_traces(sent: Sent) -> list[ErrorTrace]:
    """The traces with a span whose status is ERROR, oldest first, with their time range."""
    ranges: dict[int, tuple[int, int]] = {}
    errors: set[int] = set()
    for span in sent.spans.values():
        lo, hi = ranges.get(span.trace_id, (span.start_ns, span.end_ns))
        ranges[span.trace_id] = (min(lo, span.start_ns), max(hi, span.end_ns))
        if span.status_code == 2:
            errors.add(span.trace_id)
    return sorted((ErrorTrace(t, *ranges[t]) for t in errors), key=lambda t: (t.start_ns, t.trace_id))
