"""TLS and secrets: verification on by default, --certificate for a private CA,
--insecure only when asked (with a warning); no secret in any output."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from otel_replay.cli import main
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver, tempo_error
from tests.fakes.server import Answer
from tests.helpers import EXAMPLE, EXAMPLE_NOW_NS, replay, replay_json


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_servers(ca: trustme.CA) -> Iterator[tuple[OtlpReceiver, LokiReceiver]]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(ctx)
    with OtlpReceiver(tls=ctx) as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS, tls=ctx) as loki:
        yield otlp, loki  # type: ignore[misc]


def _args(otlp: OtlpReceiver, loki: LokiReceiver, max_retry_time: str = "60") -> list[str]:
    return [str(EXAMPLE), "--otlp-endpoint", otlp.url, "--loki-url", loki.url, "--max-retry-time", max_retry_time]


def test_private_ca_with_certificate(tmp_path: Path, ca: trustme.CA, tls_servers: tuple) -> None:
    otlp, loki = tls_servers
    assert otlp.url.startswith("https://")
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    code, summary = replay_json(*_args(otlp, loki), "--certificate", str(pem))
    assert code == 0, summary
    assert len(otlp.spans()) == 21 and len(loki.entries()) == 44


def test_unknown_ca_fails_verification_by_default(tls_servers: tuple) -> None:
    """A certificate this machine does not trust is a setup mistake: the check before the
    run names both destinations and what to do, and nothing is sent (exit status 2)."""
    otlp, loki = tls_servers
    result = replay(*_args(otlp, loki), "--json")
    assert result.exit_code == 2 and result.stdout == ""
    for what, url in (("traces → OTLP", f"{otlp.url}/v1/traces"), ("logs → Loki", f"{loki.url}/ready")):
        line = next(line for line in result.stderr.splitlines() if url in line)
        assert what in line and "TLS certificate verify failed: unable to get local issuer certificate" in line, line
        assert "--certificate" in line
    assert not otlp.spans() and not loki.entries() and not otlp.probes and not loki.probes


def test_insecure_skips_verification_with_a_warning(tls_servers: tuple) -> None:
    otlp, loki = tls_servers
    result = CliRunner().invoke(main, ["replay", *_args(otlp, loki), "--insecure", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "warning: --insecure: TLS certificates are not verified" in result.stderr
    assert len(otlp.spans()) == 21 and len(loki.entries()) == 44


def test_insecure_and_certificate_exclude_each_other(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    result = CliRunner().invoke(main, ["replay", str(EXAMPLE), "--insecure", "--certificate", str(pem)])
    assert result.exit_code == 2 and "exclude each other" in result.stderr


SECRETS = ("s3cret-token", "hunter2-pw", "url-pass-9", "loki-hdr-7")


def test_no_secret_in_any_output(tmp_path: Path) -> None:
    """Verbose output, the summary (text and JSON), failure reasons and the state file."""
    refuse = tempo_error("bad token s3cret-token", 401)
    with OtlpReceiver(scripted=[refuse]) as otlp, LokiReceiver(now_ns=lambda: EXAMPLE_NOW_NS) as loki:
        loki.fault = lambda n: Answer(503, b"no: hunter2-pw", headers={"Retry-After": "60"})  # given up at once
        host_otlp, host_loki = otlp.url.removeprefix("http://"), loki.url.removeprefix("http://")
        outputs = []
        for extra in ([], ["--json"]):
            args = [
                "replay", str(EXAMPLE), "-v", *extra,
                "--otlp-endpoint", f"http://{host_otlp}", "--header", "Authorization=Bearer s3cret-token",
                "--loki-url", f"http://me:url-pass-9@{host_loki}", "--loki-password", "hunter2-pw",
                "--loki-header", "X-Key=loki-hdr-7", "--max-retry-time", "20", "--resume", str(tmp_path / "state"),
            ]  # fmt: skip
            result = CliRunner().invoke(main, args, catch_exceptions=False)
            assert result.exit_code == 1
            outputs += [result.stdout, result.stderr]
        assert otlp.headers[0]["authorization"] == "Bearer s3cret-token"  # it was really sent
    everything = "\n".join(outputs) + (tmp_path / "state").read_text()
    assert "→" in everything and "***" in everything  # verbose lines and redactions are there
    for secret in SECRETS:
        assert secret not in everything, secret
