"""TLS and secrets: verification on by default, --certificate for a private CA,
--insecure only when asked (with a warning); no secret in any output."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
from click.testing import CliRunner

from otel_replay.cli import main
from otel_replay.sinks.http import VerifyingSession
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


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HTTP_PROXY": "http://proxy.invalid:3128", "NO_PROXY": "example.org"},
        {"HTTPS_PROXY": "http://proxy.invalid:3128", "REQUESTS_CA_BUNDLE": "/etc/ssl/a-bundle.pem"},
        {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem", "no_proxy": "*"},
    ],
    ids=["none", "proxy", "https proxy and CA bundle", "curl bundle, no proxy"],
)
def test_what_the_environment_says_is_read_once_and_is_what_requests_reads(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy variables and a CA bundle apply to our sessions as to any requests
    session; they are looked up once per destination, not for every request."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY",
                 "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours, plain = VerifyingSession(), requests.Session()
    looked = []
    real = requests.Session.merge_environment_settings
    monkeypatch.setattr(
        requests.Session, "merge_environment_settings", lambda s, *a: looked.append(a[0]) or real(s, *a)
    )
    for url in ("http://example.org/v1/traces", "https://tempo.example.com:4318/v1/traces", "http://example.org/x"):
        for verify in (None, False, "/my/ca.pem"):
            want = real(plain, url, {}, None, verify, None)
            assert ours.merge_environment_settings(url, {}, None, verify, None) == want
            assert ours.merge_environment_settings(url, {}, None, verify, None) == want  # again, from what it kept
    assert len(looked) == 6  # two destinations × three settings
    url = "http://example.org/v1/traces"
    for proxies in (None, {}, {"http": "http://other.invalid:8080"}):  # None: requests merges no proxy
        assert ours.merge_environment_settings(url, proxies, None, None, None) == real(
            plain, url, proxies, None, None, None
        )
    unhashable: Any = ["/my/cert.pem", "/my/key.pem"]  # a list, which requests takes too
    assert ours.merge_environment_settings(url, {}, None, None, unhashable) == real(
        plain, url, {}, None, None, unhashable
    )
