"""The flags of the read-back: ``replay --verify`` and ``otel-replay verify`` (which also
takes every flag of ``replay``, so that the same command line checks a previous run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import cloup

from otel_replay.flagtypes import DurationType, option
from otel_replay.verify.settings import DEFAULT_GRAFANA_URL, DEFAULT_VERIFY_TIMEOUT, VerifySettings

F = TypeVar("F", bound=Callable[..., Any])

_COMMON = [
    option(
        "--tempo-query-url",
        metavar="URL",
        show_default="the OTLP endpoint's host, port 3200",
        help="Tempo's query API (or any with Tempo's /api/v2/traces), to read the spans back.",
    ),
    option(
        "--prometheus-url",
        metavar="URL",
        show_default="the metrics endpoint's, when it is Prometheus's /api/v1/otlp/v1/metrics",
        help="Prometheus's query API (or any with its /api/v1/query), to read the metric series back.",
    ),
    option(
        "--verify-timeout",
        type=DurationType(),
        default=f"{DEFAULT_VERIFY_TIMEOUT:g}s",
        show_default=True,
        metavar="DURATION",
        help="After asking about everything once, how long to wait for each backend to serve what is missing.",
    ),
    option(
        "--grafana-url",
        metavar="URL",
        default=DEFAULT_GRAFANA_URL,
        show_default=True,
        help="Grafana, for the links to the traces with errors (Explore, Tempo datasource uid tempo).",
    ),
]
_REPLAY = [
    option(
        "--verify", is_flag=True, help="After the replay, read everything sent back from Tempo, Loki and Prometheus."
    ),
]
_VERIFY = [
    option(
        "--replay-id",
        metavar="ID",
        help="The replay id the run printed (Loki structured metadata replay_id); --resume's state file has it.",
    ),
]
#: Loki's flags that ``replay --verify --logs-to otlp`` uses: where the records sent over
#: OTLP land (a collector forwarding them to Loki), and how to ask it.
LOKI_FOR_OTLP_LOGS = frozenset(
    {"--loki-url", "--loki-tenant", "--loki-header", "--loki-user", "--loki-password", "--loki-bearer-token"}
)
NAMES = ("verify", "tempo_query_url", "prometheus_url", "verify_timeout", "grafana_url", "replay_id")


def replay_verify_flags(command: F) -> F:
    return cloup.option_group("Read-back (--verify)", *_REPLAY, *_COMMON)(command)


def verify_flags(command: F) -> F:
    return cloup.option_group("Read-back", *_VERIFY, *_COMMON)(command)


def take(flags: dict[str, Any]) -> tuple[bool, str | None, VerifySettings]:
    """Removes the read-back's flags from ``flags``: (``--verify``, ``--replay-id``, settings)."""
    values = {name: flags.pop(name, None) for name in NAMES}
    settings = VerifySettings(
        values["tempo_query_url"], values["verify_timeout"], values["grafana_url"], values["prometheus_url"]
    )
    return bool(values["verify"]), values["replay_id"], settings
