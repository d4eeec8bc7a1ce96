"""The read-back's settings, apart from the code that reads back, so that the command line
(flags.py, imported for every command) does not import the readers."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_VERIFY_TIMEOUT = 30.0
DEFAULT_GRAFANA_URL = "http://localhost:3000"


@dataclass(frozen=True)
class VerifySettings:
    tempo_query_url: str | None = None  # None: the OTLP endpoint's host, port 3200
    timeout_s: float = DEFAULT_VERIFY_TIMEOUT  # --verify-timeout: how long to wait for each backend
    grafana_url: str = DEFAULT_GRAFANA_URL
    prometheus_url: str | None = None  # None: the metrics endpoint's, when it is Prometheus's OTLP receiver
