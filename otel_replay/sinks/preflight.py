"""Before anything is sent: does each destination answer?

A backend that is not running, a host name that does not resolve, a certificate this
machine does not trust or credentials the backend refuses are setup mistakes, not
transient faults: retrying them would keep a run busy for minutes while it says only
"0 sent". So a run that sends checks every destination once, all at the same time,
before it reads anything, and when one cannot be used it ends at once with one line per
such destination (its URL, what happened, what to do): :class:`Unreachable`.

- Loki: ``GET /ready`` with the sink's session (basic auth, TLS choice) and headers
  (``--loki-header``, tenant). Any answer means it is there; 503 (Loki starting: "Ingester
  not ready: waiting for 15s after being ready") is waited for, at most
  :data:`READY_WAIT` seconds, saying what it waits for.
- OTLP (Tempo, a Collector, Prometheus …): one *empty* export request through the
  official exporter, as the sink would send it (:func:`otel_replay.sinks.otlp.probe`).
  The specification asks servers to answer an empty request with success, and it
  carries no telemetry; Tempo 2.7 answers 200 even before it is ready. Any answer but
  401/403 will do: a 404 (Tempo takes no metrics) is the run's to report, with its hint.

What happens after the check — a backend that goes away mid-run — is a transient fault
retried by the one retry policy (:mod:`otel_replay.sinks.delivery`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from otel_replay.execute.base import SetupError
from otel_replay.interrupts import asked
from otel_replay.model import Signal
from otel_replay.plan import RunPlan

#: How long a destination that answers "not ready" (HTTP 502/503/504) is waited for.
READY_WAIT = 30.0
#: How often it is asked again meanwhile.
READY_POLL = 1.0
#: One probe attempt at most (or ``--timeout`` when shorter): a run must fail within seconds.
PROBE_TIMEOUT = 5.0

_NOT_READY = frozenset({502, 503, 504})
_DENIED = frozenset({401, 403})
_DNS = ("name or service not known", "nodename nor servname", "name resolution", "no address associated")

#: One attempt: (the URL asked, the HTTP status or None for no answer, the answer in a few words).
Attempt = Callable[[], "tuple[str | None, int | None, str]"]


class Unreachable(SetupError):
    """One or more destinations cannot be used; ``lines``: one per destination."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Destination:
    """One place the run sends to, and how to ask whether it answers."""

    what: str  # "logs → Loki"
    url: str  # shown when no attempt says where it went
    backend: str  # "Loki", in "is Loki running?"
    credentials: str  # where the credentials come from, for a 401/403
    attempt: Attempt


def destinations(plan: RunPlan, timeout: float) -> list[Destination]:
    """What a sending run checks: each selected signal's destination."""
    found = []
    for signal in plan.signals:
        if signal is Signal.LOGS and plan.logs_to == "loki":
            found.append(_loki(plan, timeout))
        else:
            found.append(_otlp(plan, signal, timeout))
    return found


def _loki(plan: RunPlan, timeout: float) -> Destination:
    from otel_replay.sinks.loki import loki_headers, loki_session

    config = plan.loki
    url = config.ready_url()

    def attempt() -> tuple[str | None, int | None, str]:
        from otel_replay.sinks.http import describe_exception, one_line

        session = loki_session(config)
        try:
            with session.get(url, headers=loki_headers(config), timeout=timeout, allow_redirects=False) as resp:
                text = one_line(resp.content[:2000].decode("utf-8", "replace"), 160)
                return url, resp.status_code, f"HTTP {resp.status_code}" + (f": {text}" if text else "")
        except Exception as exc:  # requests' errors and a bad URL alike: said in a few words
            return url, None, describe_exception(exc)
        finally:
            session.close()

    credentials = (
        "--loki-user and --loki-password (LOKI_USERNAME, LOKI_PASSWORD) or --loki-bearer-token "
        "(LOKI_BEARER_TOKEN), --loki-tenant (LOKI_ORG_ID), --loki-header"
    )
    return Destination("logs → Loki", url, "Loki", credentials, attempt)


_OTLP_BACKENDS = {
    Signal.TRACES: "the traces backend (Tempo, a Collector)",
    Signal.LOGS: "the OTLP logs backend",
    Signal.METRICS: "the metrics backend (Prometheus, a Collector)",
}


def _otlp(plan: RunPlan, signal: Signal, timeout: float) -> Destination:
    def attempt() -> tuple[str | None, int | None, str]:
        from otel_replay.sinks.otlp import probe

        return probe(signal, plan.otlp, timeout)

    credentials = "--header or OTEL_EXPORTER_OTLP_HEADERS"
    url = plan.destinations[signal]
    return Destination(f"{signal.value} → OTLP", url, _OTLP_BACKENDS[signal], credentials, attempt)


def check(plan: RunPlan, notify: Callable[[str], None], wait: float = READY_WAIT) -> None:
    """Ask every destination at once; :class:`Unreachable` when any cannot be used.
    Returns when all answer (a destination that is starting up is waited for, ``wait``
    seconds at most)."""
    timeout = min(PROBE_TIMEOUT, plan.loki.timeout, plan.otlp.timeout)
    found = destinations(plan, timeout)

    def problem(destination: Destination) -> str | None:
        try:
            return _verdict(destination, plan.redact, notify, wait)
        except Exception as exc:  # a bug here must not hang the run: say it as the answer
            return f"{destination.what} {plan.redact(destination.url)}: internal error: {exc!r}"

    # in daemon threads: Ctrl-C ends the wait in this thread (within interrupts.WAKE), and the run with it
    problems = [p for p in asked(problem, found, at_once=len(found)) if p is not None]
    if problems:
        raise Unreachable(problems)


def _verdict(
    destination: Destination, redact: Callable[[str], str], notify: Callable[[str], None], wait: float
) -> str | None:
    """None when the destination answers as one that takes data; else its problem line."""
    deadline: float | None = None
    while True:
        url, status, answer = destination.attempt()
        shown = redact(url or destination.url)
        if status is not None and status not in _DENIED and status not in _NOT_READY:
            return None
        if status in _NOT_READY:
            now = time.monotonic()
            if deadline is None:
                deadline = now + wait
                notify(f"{shown} is not ready ({redact(answer)}): waiting up to {wait:g} s for it")
            if now < deadline:
                time.sleep(min(READY_POLL, deadline - now))
                continue
            todo = f"still starting? try again in a minute, or look at {destination.backend}'s log"
            return f"{destination.what} {shown}: not ready after {wait:g} s ({redact(answer)}); {todo}"
        if "--otlp-protocol" in answer:  # the port speaks the other OTLP protocol: the answer says what to do
            return f"{destination.what} {shown}: {redact(answer)}"
        return f"{destination.what} {shown}: {redact(answer)}; {_todo(destination, status, answer)}"


def _todo(destination: Destination, status: int | None, answer: str) -> str:
    """What to do about an answer that makes the destination unusable."""
    lowered = answer.lower()
    if status in _DENIED:
        return f"check the credentials: {destination.credentials}"
    if any(words in lowered for words in _DNS):
        return "check the host name in the URL"
    if "tls" in lowered or "ssl" in lowered or "certificate" in lowered:
        return (
            "pass a private CA with --certificate (or --insecure for a test setup); "
            "use http:// if the backend does not speak TLS"
        )
    signal = destination.what.split(" ", 1)[0]
    if "refused" in lowered or "timed out" in lowered:
        return (
            f"is {destination.backend} running there? (`make up` starts the local stack; "
            f"--signals without {signal} leaves it out)"
        )
    return "check the URL"
