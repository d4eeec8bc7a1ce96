"""The command line as a user meets it: --help on a real 80-column terminal and piped,
--version, the usage errors (exit 2, one message, no traceback), the environment
variables, the flags that do nothing, and docs/cli.md being the command's own reference."""

from __future__ import annotations

import base64
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
from importlib import metadata

import pytest
from click.testing import CliRunner, Result

from otel_replay.cli import main
from tests.cli_reference import DOC, render
from tests.fakes.loki import LokiReceiver
from tests.fakes.otlp import OtlpReceiver
from tests.helpers import EXAMPLE, ROOT, child_env

GROUPS = [
    "Positional arguments:",
    "Inputs and selection:",
    "Time:",
    "OTLP (spans, metric points; log records with --logs-to otlp):",
    "Loki (log records):",
    "Resource (every record):",
    "Output:",
    "Reliability (OTLP and Loki):",
    "Performance:",
    "Examples:",
]


def in_terminal(args: list[str], columns: int = 80) -> str:
    """What ``python -m otel_replay ARGS`` shows on a pseudo-terminal of this width."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in child_env().items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "otel_replay", *args], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, "no output for 60 s"
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
        assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def piped(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in child_env().items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "otel_replay", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def assert_fits(text: str, columns: int) -> None:
    long = [line for line in text.splitlines() if len(line) > columns]
    assert not long, f"lines wider than {columns} columns: {long}"
    assert "\x1b" not in text  # no colour, no cursor movement


def test_replay_help_on_an_80_column_terminal_shows_every_group_uncut() -> None:
    text = in_terminal(["replay", "--help"])
    assert_fits(text, 80)
    positions = [text.index(title) for title in GROUPS]
    assert positions == sorted(positions)  # every group, in order
    assert "[default: 4MiB]" in text and "[default: 1MiB]" in text and "4194304" not in text
    for variable in ("LOKI_ADDR", "LOKI_USERNAME", "LOKI_PASSWORD", "LOKI_ORG_ID", "LOKI_BEARER_TOKEN"):
        assert variable in text
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in text
    assert re.search(r"OTEL_EXPORTER_OTLP_COMPRESSION;\s+default:\s+gzip\]", text)
    flags = set(re.findall(r"^  (--[a-z-]+)", text, re.MULTILINE))
    assert {"--loki-url", "--otlp-endpoint", "--workers", "--resume", "--dry-run", "--shift-to-now"} <= flags


def test_top_level_help_on_a_terminal_is_not_cut_off() -> None:
    text = in_terminal(["--help"])
    assert_fits(text, 80)
    assert "Replay files, folders or archives into OTLP and Loki (or check them," in text
    assert "or write OTLP/JSON)." in text and "Usage: otel-replay [OPTIONS] COMMAND" in text
    assert "--version" in text


def test_help_piped_is_plain_text_of_80_columns_with_the_same_groups() -> None:
    proc = piped(["replay", "--help"])
    assert proc.returncode == 0 and proc.stderr == ""
    assert_fits(proc.stdout, 80)
    assert all(title in proc.stdout for title in GROUPS)


def test_version_names_the_opentelemetry_sdk_and_exporter() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("otel-replay, version ")
    assert f"  opentelemetry-sdk {metadata.version('opentelemetry-sdk')}" in lines
    exporter = "opentelemetry-exporter-otlp-proto-http"
    assert f"  {exporter} {metadata.version(exporter)}" in lines


def test_forgetting_replay_says_what_to_type() -> None:
    proc = piped([str(EXAMPLE), "--dry-run"])
    assert proc.returncode == 2
    assert f"Error: '{EXAMPLE}' is not a command. To replay it, type:" in proc.stderr
    assert f"otel-replay replay {EXAMPLE} --dry-run" in proc.stderr
    assert "Traceback" not in proc.stderr
    other = CliRunner().invoke(main, ["replya"])
    assert other.exit_code == 2 and "no such command 'replya'; the commands are " in other.output
    assert "`inspect`" in other.output and "`replay`" in other.output


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["replay", *args], env=env, catch_exceptions=False)


def assert_usage_error(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("Error:") == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loki-url", "localhost:3100"], "Invalid value for --loki-url: 'localhost:3100' is not a URL: it must "),
        (["--loki-url", "localhost:3100"], "start with http:// or https:// (e.g. http://localhost:3100)"),
        (["--otlp-endpoint", "grpc://h:4317"], "--otlp-endpoint: 'grpc://h:4317': the scheme grpc:// is not"),
        (["--otlp-traces-endpoint", "ftp://h/x"], "--otlp-traces-endpoint: 'ftp://h/x': the scheme ftp://"),
        (["--otlp-metrics-endpoint", "http://"], "--otlp-metrics-endpoint: 'http://' has no host name"),
        (["--loki-url", "https://u:hunter22@:99"], "--loki-url: 'https://***@:99' has no host name"),
        (["--resource-attr", "=x"], "--resource-attr: expected KEY=VALUE, but the KEY before '=' is missing"),
        (["--header", "Authorization"], "--header: expected KEY=VALUE, but there is no '=' in it"),
        (["--signals", ""], "--signals: '' names no signal: give one or more of traces, logs, metrics"),
        (["--signals", "spans"], "--signals: 'spans' is not a signal (traces, logs, metrics)"),
        (["--max-request-bytes", "lots"], "is not a size"),
        (["--compression", "brotli"], "'brotli' is not one of 'gzip', 'none'"),
        (["--loki-user", "u", "--loki-bearer-token", "t0ken"], "--loki-user and --loki-bearer-token exclude each"),
        (["--logs-to", "otlp", "--loki-tenant", "t"], "--loki-tenant does nothing in this run: log records go to OTLP"),
        (["--otlp-logs-endpoint", "http://c/v1/logs"], "--otlp-logs-endpoint does nothing in this run: log records"),
    ],
)
def test_usage_errors_exit_2_at_once_with_one_message(args: list[str], message: str) -> None:
    assert_usage_error(run(str(EXAMPLE), "--dry-run", *args), message)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOKI_ADDR": "localhost:3100"}, "Invalid value for LOKI_ADDR (--loki-url): 'localhost:3100' is not a URL"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "Invalid value for OTEL_EXPORTER_OTLP_ENDPOINT: "),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "unix:/s"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'unix:/s' is not"),
    ],
)
def test_a_wrong_url_in_the_environment_names_the_variable(env: dict[str, str], message: str) -> None:
    assert_usage_error(run(str(EXAMPLE), "--dry-run", env=env), message)


def test_an_otlp_variable_that_no_signal_uses_is_not_checked() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "nope"}
    assert run(str(EXAMPLE), "--dry-run", "--logs-only", env=env).exit_code == 0
    assert run(str(EXAMPLE), "--dry-run", "--otlp-endpoint", "http://h:4318", env=env).exit_code == 0


@pytest.mark.parametrize(
    ("args", "warning"),
    [
        (["--traces-only", "--loki-tenant", "t"], "--loki-tenant does nothing in this run: no log records are"),
        (["--logs-only", "--otlp-endpoint", "http://c:4318"], "--otlp-endpoint does nothing in this run: nothing is"),
        (["--signals", "logs,metrics", "--batch-size", "9"], "--batch-size does nothing in this run: no spans are"),
        (["--traces-only", "--otlp-metrics-endpoint", "http://p/m"], "--otlp-metrics-endpoint does nothing in this"),
    ],
)
def test_a_flag_idle_for_the_signals_chosen_is_warned_about(args: list[str], warning: str) -> None:
    result = run(str(EXAMPLE), "--dry-run", *args)
    assert result.exit_code == 0
    assert f"otel-replay: warning: {warning}" in result.stderr


def test_settings_from_the_environment_are_never_called_idle() -> None:
    env = {"LOKI_ORG_ID": "t", "LOKI_ADDR": "http://loki:3100", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    result = run(str(EXAMPLE), "--dry-run", "--logs-to", "otlp", env=env)
    assert result.exit_code == 0 and "warning" not in result.stderr
    result = run(str(EXAMPLE), "--dry-run", "--traces-only", env=env)
    assert result.exit_code == 0 and "warning" not in result.stderr


def test_logcli_variables_reach_loki(loki: LokiReceiver) -> None:
    env = {"LOKI_ADDR": loki.url, "LOKI_ORG_ID": "team-a", "LOKI_USERNAME": "me", "LOKI_PASSWORD": "s3cret-pw"}
    result = run(str(EXAMPLE), "--logs-only", "--workers", "1", env=env)
    assert result.exit_code == 0, result.output
    assert loki.headers and all(h["x-scope-orgid"] == "team-a" for h in loki.headers)
    credential = base64.b64encode(b"me:s3cret-pw").decode()
    assert all(h["authorization"] == f"Basic {credential}" for h in loki.headers)
    assert len(loki.entries("team-a")) == 44
    assert "s3cret-pw" not in result.output


def test_a_flag_wins_over_its_variable_and_the_bearer_token_is_sent(loki: LokiReceiver) -> None:
    env = {"LOKI_ADDR": "http://127.0.0.1:9", "LOKI_BEARER_TOKEN": "tok-from-env-123"}
    result = run(str(EXAMPLE), "--logs-only", "--workers", "1", "--loki-url", loki.url, "--json", env=env)
    assert result.exit_code == 0, result.output
    assert loki.headers and all(h["authorization"] == "Bearer tok-from-env-123" for h in loki.headers)
    assert "tok-from-env-123" not in result.output


def test_otlp_requests_are_gzip_by_default_and_the_environment_can_say_otherwise(collector: OtlpReceiver) -> None:
    args = (str(EXAMPLE), "--traces-only", "--workers", "1", "--otlp-endpoint", collector.url)
    assert run(*args).exit_code == 0
    assert collector.headers and all(h.get("content-encoding") == "gzip" for h in collector.headers)
    collector.headers.clear()
    env = {"OTEL_EXPORTER_OTLP_COMPRESSION": "none"}
    assert run(*args, env=env).exit_code == 0
    assert collector.headers and all(h.get("content-encoding") in (None, "") for h in collector.headers)


def test_shell_completion_as_docs_cli_md_sets_it_up() -> None:
    env = {**child_env(), "_OTEL_REPLAY_COMPLETE": "bash_source"}
    command = [sys.executable, "-m", "otel_replay"]
    script = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert "complete -o nosort -F _otel_replay_completion otel-replay" in script.stdout
    env.update(_OTEL_REPLAY_COMPLETE="bash_complete", COMP_WORDS="otel-replay replay --logs-to ", COMP_CWORD="3")
    answer = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert answer.stdout.split() == ["plain,loki", "plain,otlp"]
    assert "_OTEL_REPLAY_COMPLETE=bash_source otel-replay" in DOC.read_text(encoding="utf-8")


def test_docs_cli_md_is_the_commands_own_reference() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/cli.md is stale: run python -m tests.cli_reference"
