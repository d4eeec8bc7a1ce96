"""Before a run sends, every destination is checked once (sinks/preflight.py): a backend
that is not running, a host name that does not resolve, a certificate not trusted or
credentials refused end the run within seconds with exit status 2 and one line per
destination — never minutes of retries. A backend that is starting is waited for, saying
so. --dry-run and --output check nothing."""

from __future__ import annotations

import base64
import re
import socket
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import trustme

from otel_replay.options import ReplayOptions, build_plan
from otel_replay.sinks import preflight
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.server import Answer, FakeServer
from tests.helpers import EXAMPLE, Children, replay, replay_command

#: Far above what the check takes on any machine (a few seconds), far below what the
#: retries took before it (more than 7 minutes): the assertion does not depend on speed.
WITHIN = 30.0


def closed_port_url() -> str:
    """A loopback URL where nothing listens: a port bound and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _line(stderr: str, url: str) -> str:
    lines = [line for line in stderr.splitlines() if url in line]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_nothing_listening_ends_within_seconds_with_a_line_per_destination(children: Children, workers: str) -> None:
    otlp, loki = closed_port_url(), closed_port_url()
    started = time.monotonic()
    done = children.run(
        replay_command(str(EXAMPLE), "--otlp-endpoint", otlp, "--loki-url", loki, "--workers", workers), timeout=60
    )
    took = time.monotonic() - started
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert took < WITHIN, took
    assert "Traceback" not in err and done.stdout == b""
    traces = _line(err, f"{otlp}/v1/traces")
    metrics = _line(err, f"{otlp}/v1/metrics")
    logs = _line(err, f"{loki}/ready")
    assert "traces → OTLP" in traces and "metrics → OTLP" in metrics and "logs → Loki" in logs
    for line in (traces, metrics, logs):
        assert "connection refused" in line and "`make up` starts the local stack" in line, line
    assert "is Loki running there?" in logs
    assert err.rstrip().endswith("otel-replay: nothing was sent")


def test_a_host_name_that_does_not_resolve_is_named() -> None:
    result = replay(str(EXAMPLE), "--signals", "traces", "--otlp-endpoint", "http://no-such-host.invalid:4318")
    assert result.exit_code == 2
    line = _line(result.stderr, "http://no-such-host.invalid:4318/v1/traces")
    assert "check the host name in the URL" in line, line


class _Gateway(FakeServer):
    """A proxy in front of a backend that refuses every request without the right
    ``Authorization`` (as Grafana Cloud's gateways do), probes included."""

    def __init__(self, expected: str, backend: FakeServer | None = None) -> None:
        super().__init__()
        self.expected = expected
        self.backend = backend
        self.refused = 0

    def _allowed(self, headers: Any) -> bool:
        if headers.get("Authorization") == self.expected:
            return True
        with self.lock:
            self.refused += 1
        return False

    def probe(self, method: str, path: str, headers: Any, body: bytes) -> Answer | None:
        if not self._allowed(headers):
            return Answer(401, b"invalid authentication credentials\n")
        return self.backend.probe(method, path, headers, body) if self.backend else None

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Answer:
        if not self._allowed(headers) or self.backend is None:
            return Answer(401, b"invalid authentication credentials\n")
        return self.backend.handle(method, path, headers, body)


def test_loki_refusing_the_credentials_is_named_without_the_password(tempo: OtlpReceiver) -> None:
    secret = "hunter2-wrong-pw"
    with _Gateway("Basic " + base64.b64encode(b"me:right-pw").decode()) as gateway:
        result = replay(
            str(EXAMPLE), "--signals", "traces,logs", "--otlp-endpoint", tempo.url,
            "--loki-url", gateway.url, "--loki-user", "me", "--loki-password", secret,
        )  # fmt: skip
        assert gateway.refused == 1  # one probe, no retries
    assert result.exit_code == 2
    line = _line(result.stderr, f"{gateway.url}/ready")
    assert "HTTP 401: invalid authentication credentials" in line
    assert "check the credentials: --loki-user and --loki-password" in line and "--loki-tenant" in line
    assert secret not in result.stderr + result.stdout
    assert base64.b64encode(f"me:{secret}".encode()).decode() not in result.stderr
    assert not tempo.spans()  # nothing is sent anywhere when one destination cannot be used


def test_otlp_headers_from_the_environment_are_what_the_check_sends(
    monkeypatch: pytest.MonkeyPatch, loki: LokiReceiver
) -> None:
    """The check sends what the exporter sends: OTEL_EXPORTER_OTLP_HEADERS included. A
    wrong token is refused at once (and not shown); the right one lets the run through."""
    with OtlpReceiver.tempo() as tempo, _Gateway("Bearer right-token-123", tempo) as gateway:
        # one process: workers of an in-process run come from a fork server started before the variable was set
        args = (str(EXAMPLE), "--signals", "traces", "--otlp-endpoint", gateway.url, "--workers", "1")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20wrong-token-456")
        refused = replay(*args)
        assert refused.exit_code == 2
        line = _line(refused.stderr, f"{gateway.url}/v1/traces")
        assert "HTTP 401" in line and "--header or OTEL_EXPORTER_OTLP_HEADERS" in line
        assert "wrong-token-456" not in refused.stderr
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20right-token-123")
        accepted = replay(*args)
        assert accepted.exit_code == 0, accepted.stderr
        assert len(tempo.spans()) == 21
        probe_method, probe_path, probe_headers = gateway.probes[-1]
        assert (probe_method, probe_path, probe_headers["authorization"]) == (
            "POST",
            "/v1/traces",
            "Bearer right-token-123",
        )


def test_the_check_uses_the_exporters_tls_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_CERTIFICATE trusts a private CA for the exporter, and so for the check."""
    import ssl

    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    with OtlpReceiver(tls=ctx) as otlp:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pem))
        result = replay(str(EXAMPLE), "--signals", "traces", "--otlp-endpoint", otlp.url, "--workers", "1")  # as above
        assert result.exit_code == 0, result.stderr + result.stdout
        assert len(otlp.probes) == 1 and len(otlp.spans()) == 21


def test_loki_starting_up_is_waited_for_saying_so(tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    starting = Answer(503, b"Ingester not ready: waiting for 15s after being ready\n")  # Loki 3.4's words
    loki.ready = [starting, starting]
    result = replay(str(EXAMPLE), "--signals", "traces,logs", "--otlp-endpoint", tempo.url, "--loki-url", loki.url)
    assert result.exit_code == 0, result.stderr
    waiting = _line(result.stderr, f"{loki.url}/ready")
    assert "is not ready (HTTP 503: Ingester not ready: waiting for 15s after being ready)" in waiting
    assert "waiting up to 30 s for it" in waiting
    assert [(m, p) for m, p, _ in loki.probes] == [("GET", "/ready")] * 3  # asked until it was ready
    assert len(loki.entries()) == 44 and len(tempo.spans()) == 21


def test_a_destination_that_stays_unready_is_named_after_the_wait(loki: LokiReceiver) -> None:
    loki.ready = [Answer(503, b"Ingester not ready\n")] * 100
    plan = build_plan(ReplayOptions(paths=(str(EXAMPLE),), signal_list="logs", loki_url=loki.url))
    notes: list[str] = []
    started = time.monotonic()
    with pytest.raises(preflight.Unreachable) as caught:
        preflight.check(plan, notes.append, wait=1.5)
    assert time.monotonic() - started >= 1.5  # it did wait
    assert caught.value.lines == [
        f"logs → Loki {loki.url}/ready: not ready after 1.5 s (HTTP 503: Ingester not ready); "
        "still starting? try again in a minute, or look at Loki's log"
    ]
    assert notes == [f"{loki.url}/ready is not ready (HTTP 503: Ingester not ready): waiting up to 1.5 s for it"]


def test_any_other_answer_lets_the_run_go_on(tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    """Tempo's 404 for metrics is the run's to report (with its hint), not the check's."""
    result = replay(str(EXAMPLE), "--otlp-endpoint", tempo.url, "--loki-url", loki.url, "--json")
    assert result.exit_code == 1
    assert "takes no OTLP metrics" in result.stdout
    assert sorted(p for _, p, _ in tempo.probes) == ["/v1/metrics", "/v1/traces"]


def test_workers_check_once_in_the_parent(children: Children, loki: LokiReceiver) -> None:
    with OtlpReceiver() as otlp:
        done = children.run(
            replay_command(str(EXAMPLE), "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--workers", "2")
        )
        assert done.returncode == 0, done.stderr
        assert sorted(p for _, p, _ in otlp.probes) == ["/v1/metrics", "/v1/traces"]
    assert [p for _, p, _ in loki.probes] == ["/ready"]


@pytest.mark.parametrize("mode", [("--dry-run",), ("--output", "OUT")])
def test_dry_run_and_output_check_nothing(tmp_path: Path, mode: tuple[str, ...]) -> None:
    nowhere = closed_port_url()
    args = [a.replace("OUT", str(tmp_path / "out")) for a in mode]
    result = replay(str(EXAMPLE), "--otlp-endpoint", nowhere, "--loki-url", nowhere, *args)
    assert result.exit_code == 0, result.stderr
    assert "connection refused" not in result.stderr


def test_loki_probe_carries_the_tenant_and_headers(tempo: OtlpReceiver, loki: LokiReceiver) -> None:
    result = replay(
        str(EXAMPLE), "--signals", "traces,logs", "--otlp-endpoint", tempo.url, "--loki-url", loki.url,
        "--loki-tenant", "team-a", "--loki-header", "X-Extra=1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [(_, _, headers)] = loki.probes
    assert headers["x-scope-orgid"] == "team-a" and headers["x-extra"] == "1"


def test_the_readmes_send_command_with_nothing_listening_fails_in_seconds(tmp_path: Path, children: Children) -> None:
    """A fresh clone with no stack running: the README's command, as written (its
    addresses pointed at ports where nothing listens), says what is wrong within seconds."""
    from tests.test_readme import send_command

    bug_report = tmp_path / "bug-report.zip"
    with zipfile.ZipFile(bug_report, "w") as archive:
        for path in sorted(EXAMPLE.rglob("*.json")):
            archive.write(path, f"traces/{path.relative_to(EXAMPLE)}")
    argv = send_command()
    nowhere = {url: closed_port_url() for url in re.findall(r"http://localhost:\d+", " ".join(argv))}
    args = [re.sub(r"http://localhost:\d+", lambda m: nowhere[m.group(0)], a) for a in argv[3:]]
    started = time.monotonic()
    done = children.run(replay_command(str(bug_report), *args), timeout=60)
    assert time.monotonic() - started < WITHIN
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert len([line for line in err.splitlines() if "connection refused" in line]) == 3  # traces, logs, metrics
    assert "is Loki running there?" in err and "Traceback" not in err
