"""Flag values → RunPlan (otel_replay/options.py) by tables, without click; and that the
command's flags and ReplayOptions stay one and the same list."""

from __future__ import annotations

import base64
import dataclasses
import sys
from typing import Any

import pytest

from otel_replay.cli import replay as replay_command
from otel_replay.config import Redactor, format_size, parse_size, url_problem
from otel_replay.model import Signal
from otel_replay.options import (
    FlagError,
    PlanError,
    ReplayOptions,
    RetryDeadlines,
    build_plan,
    parse_selection,
    parse_signals,
    retry_deadlines,
)
from otel_replay.plan import Selection
from otel_replay.sinks.delivery import DEFAULT_MAX_RETRY_TIME
from otel_replay.sinks.loki import LokiConfig
from otel_replay.sinks.otlp_config import OtlpConfig, export_deadline
from otel_replay.unused import unused_flags
from otel_replay.verify.flags import NAMES as VERIFY_FLAGS
from tests.helpers import EXAMPLE, FAKES_SHOW_EVERY_AGE, Children

NOW = 1_795_543_200 * 10**9  # 2026-11-24T18:00:00Z
S = 10**9
TRACE = "0af7651916cd43dd8448eb211c80319c"


def options(**flags: Any) -> ReplayOptions:
    flags.setdefault("paths", (str(EXAMPLE),))
    return ReplayOptions(**flags)


def plan_of(env: dict[str, str] | None = None, **flags: Any) -> Any:
    return build_plan(options(**flags), env={} if env is None else env, now_ns=NOW)


# -- refused ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"traces_only": True, "logs_only": True}, "--traces-only and --logs-only exclude each other"),
        ({"signal_list": "logs", "traces_only": True}, "--signals and --traces-only exclude each other"),
        ({"signal_list": "logs", "logs_only": True}, "--signals and --logs-only exclude each other"),
        ({"insecure": True, "certificate": "ca.pem"}, "--insecure and --certificate exclude each other"),
        ({"shift_to_now": True, "time_offset": "1h"}, "--shift-to-now and --time-offset exclude each other"),
        ({"since": "2026-11-24T18:00:00Z", "until": "2026-11-24T17:00:00Z"}, "--until must be later than --since"),
        ({"since": "1h", "until": "1h"}, "--until must be later than --since"),
        ({"dry_run": True, "output_dir": "out"}, "--dry-run and --output exclude each other"),
        ({"resume": "state", "dry_run": True}, "--resume applies to sending (not to --dry-run or --output)"),
        ({"resume": "state", "output_dir": "out"}, "--resume applies to sending (not to --dry-run or --output)"),
        ({"logs_to": "kafka"}, "--logs-to must be one of loki, otlp"),
        ({"workers": 0}, "--workers must be at least 1"),
    ],
)
def test_contradicting_flags_are_refused_in_one_line_naming_them(flags: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError) as caught:
        plan_of(**flags)
    assert str(caught.value) == message
    assert not isinstance(caught.value, FlagError)


@pytest.mark.parametrize(
    ("flags", "flag", "reason"),
    [
        ({"signal_list": "spans"}, "--signals", "'spans' is not a signal (traces, logs, metrics)"),
        ({"signal_list": "traces,bogus,zzz"}, "--signals", "'bogus' is not a signal (traces, logs, metrics)"),
        ({"signal_list": " , "}, "--signals", "' , ' names no signal: give one or more of traces, logs, metrics"),
        ({"signal_list": ""}, "--signals", "'' names no signal: give one or more of traces, logs, metrics"),
        ({"time_offset": "soon"}, "--time-offset", "'soon' is not a duration"),
        ({"since": "soon"}, "--since", "'soon' is not a time"),
        ({"until": "later"}, "--until", "'later' is not a time"),
        ({"trace_ids": ("abc",)}, "--trace-id", "trace id 'abc' has 3 characters, expected 32"),
        ({"trace_ids": ("z" * 32,)}, "--trace-id", "is not hexadecimal"),
        ({"trace_ids": (TRACE, "0" * 32)}, "--trace-id", "trace id is all zeros"),
        ({"headers": ("novalue",)}, "--header", "expected KEY=VALUE, but there is no '=' in it"),
        ({"headers": ("=secret",)}, "--header", "expected KEY=VALUE, but the KEY before '=' is missing"),
        ({"resource_attrs": ("=x",)}, "--resource-attr", "expected KEY=VALUE, but the KEY before '=' is missing"),
        ({"loki_headers": ("a=1", "b")}, "--loki-header", "expected KEY=VALUE, but there is no '='"),
        ({"resource_attrs": ("env",)}, "--resource-attr", "expected KEY=VALUE, but there is no '='"),
        ({"loki_labels": ("team",)}, "--loki-label", "expected KEY=VALUE, but there is no '='"),
    ],
)
def test_a_wrong_value_names_its_flag(flags: dict[str, Any], flag: str, reason: str) -> None:
    with pytest.raises(FlagError) as caught:
        plan_of(**flags)
    assert caught.value.flag == flag and reason in caught.value.reason
    assert str(caught.value).startswith(f"invalid value for {flag}: ") and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("paths", "message"),
    [((), "no input given"), (("nope/missing",), "no such file or folder: nope/missing")],
)
def test_inputs_that_are_not_there_are_refused(paths: tuple[str, ...], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_of(paths=paths)


def test_stdin_needs_no_file() -> None:
    assert plan_of(paths=("-",)).paths == ("-",)


# -- signals and selection ----------------------------------------------------------------
ALL = (Signal.TRACES, Signal.LOGS, Signal.METRICS)


@pytest.mark.parametrize(
    ("signal_list", "traces_only", "logs_only", "expected"),
    [
        (None, False, False, ALL),
        ("logs", False, False, (Signal.LOGS,)),
        ("metrics, TRACES", False, False, (Signal.TRACES, Signal.METRICS)),
        ("logs,,traces,logs", False, False, (Signal.TRACES, Signal.LOGS)),
        (None, True, False, (Signal.TRACES,)),
        (None, False, True, (Signal.LOGS,)),
    ],
)
def test_signals(signal_list: str | None, traces_only: bool, logs_only: bool, expected: tuple[Signal, ...]) -> None:
    assert parse_signals(signal_list, traces_only=traces_only, logs_only=logs_only) == expected
    assert plan_of(signal_list=signal_list, traces_only=traces_only, logs_only=logs_only).signals == expected


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, {}),
        ({"time_offset": "-3d"}, {"offset_ns": -3 * 86400 * S}),
        ({"time_offset": "1h30m"}, {"offset_ns": 5400 * S}),
        ({"shift_to_now": True}, {"shift_to_now": True}),
        ({"since": "2h"}, {"since_ns": NOW - 7200 * S}),
        ({"since": "2026-11-24T17:00:00Z", "until": "now"}, {"since_ns": NOW - 3600 * S, "until_ns": NOW}),
        ({"since": "1795539600", "until": "1795543200000"}, {"since_ns": NOW - 3600 * S, "until_ns": NOW}),
        ({"trace_ids": (f" {TRACE.upper()} ", TRACE)}, {"trace_ids": (int(TRACE, 16), int(TRACE, 16))}),
        ({"services": ("checkout", "cart")}, {"services": ("checkout", "cart")}),
    ],
)
def test_selection(flags: dict[str, Any], expected: dict[str, Any]) -> None:
    wanted = Selection(now_ns=NOW, **expected)
    assert parse_selection(options(**flags), now_ns=NOW) == wanted
    assert plan_of(**flags).selection == wanted


# -- backends -----------------------------------------------------------------------------
def test_every_otlp_flag_reaches_its_setting() -> None:
    plan = plan_of(
        otlp_endpoint="https://collector:4318/",
        otlp_metrics_endpoint="https://prom/api/v1/otlp/v1/metrics",
        headers=("Authorization=Bearer t0ken", "X-A=b=c"),
        compression="gzip",
        timeout=2.5,
        max_retry_time=30.0,
        insecure=True,
        batch_size=7,
        max_request_bytes=2048,
        concurrency=3,
    )
    assert plan.otlp == OtlpConfig(
        traces_endpoint="https://collector:4318/v1/traces",
        logs_endpoint="https://collector:4318/v1/logs",
        metrics_endpoint="https://prom/api/v1/otlp/v1/metrics",
        headers={"Authorization": "Bearer t0ken", "X-A": "b=c"},
        compression="gzip",
        timeout=2.5,
        max_retry_time=30.0,
        certificate=None,
        verify=False,
        batch_size=7,
        max_request_bytes=2048,
        concurrency=3,
    )


def test_without_otlp_flags_the_environment_decides() -> None:
    plan = plan_of()
    assert (plan.otlp.traces_endpoint, plan.otlp.logs_endpoint, plan.otlp.metrics_endpoint) == (None, None, None)
    assert plan.otlp.headers is None and plan.otlp.verify


def test_every_loki_flag_reaches_its_setting() -> None:
    plan = plan_of(
        loki_url="http://loki:3100",
        loki_tenant="team-a",
        loki_headers=("X-Key=k",),
        loki_user="me",
        loki_password="pw",
        loki_labels=("env=test",),
        no_structured_metadata=True,
        loki_batch_bytes=4096,
        loki_max_line_bytes=2048,
        timeout=3.0,
        certificate="ca.pem",
        concurrency=4,
    )
    assert plan.loki == LokiConfig(
        url="http://loki:3100",
        tenant="team-a",
        headers={"X-Key": "k"},
        user="me",
        password="pw",
        labels={"env": "test"},
        structured_metadata=False,
        batch_bytes=4096,
        max_line_bytes=2048,
        timeout=3.0,
        max_retry_time=DEFAULT_MAX_RETRY_TIME,
        certificate="ca.pem",
        verify=True,
        concurrency=4,
    )


@pytest.mark.parametrize(
    ("flag", "env", "otlp", "loki"),
    [
        # (--max-retry-time, environment, OTLP's deadline for traces/logs/metrics, Loki's)
        (None, {}, (DEFAULT_MAX_RETRY_TIME,) * 3, DEFAULT_MAX_RETRY_TIME),
        (30.0, {}, (30.0,) * 3, 30.0),
        (None, {"OTEL_EXPORTER_OTLP_TIMEOUT": "5000"}, (None,) * 3, DEFAULT_MAX_RETRY_TIME),
        (None, {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "5000"}, (300.0, None, 300.0), DEFAULT_MAX_RETRY_TIME),
        (30.0, {"OTEL_EXPORTER_OTLP_TIMEOUT": "5000"}, (30.0,) * 3, 30.0),
    ],
)
def test_retry_deadline_for_both_backends(
    flag: float | None, env: dict[str, str], otlp: tuple[float | None, ...], loki: float
) -> None:
    """None for OTLP: the exporter reads OTEL_EXPORTER_OTLP_[SIGNAL_]TIMEOUT itself."""
    plan = plan_of(max_retry_time=flag)
    assert tuple(export_deadline(plan.otlp.max_retry_time, env, s) for s in ALL) == otlp
    assert plan.loki.max_retry_time == loki
    assert retry_deadlines(flag) == RetryDeadlines(otlp=plan.otlp.max_retry_time, loki=loki)


# -- secrets ------------------------------------------------------------------------------
BASIC = base64.b64encode(b"me:pw-2bd8").decode()


@pytest.mark.parametrize(
    ("flags", "env", "secrets"),
    [
        ({"headers": ("Authorization=Bearer tok-91f3a",)}, {}, ["Bearer tok-91f3a", "tok-91f3a"]),
        ({"loki_headers": ("X-Api-Key=lk-77c1",)}, {}, ["lk-77c1"]),
        ({"loki_user": "me", "loki_password": "pw-2bd8"}, {}, ["pw-2bd8", BASIC]),
        ({"loki_url": "http://me:pw-2bd8@loki:3100"}, {}, ["pw-2bd8", BASIC]),
        ({"loki_url": "http://me:p%40ss-9e@loki:3100"}, {}, ["p%40ss-9e", "p@ss-9e"]),
        ({"otlp_endpoint": "http://u:ep-5a1e@h:4318"}, {}, ["ep-5a1e"]),
        ({"otlp_traces_endpoint": "http://u:tr-1d2c@h/v1/traces"}, {}, ["tr-1d2c"]),
        ({"otlp_logs_endpoint": "http://u:lg-3f4e@h/v1/logs"}, {}, ["lg-3f4e"]),
        ({"otlp_metrics_endpoint": "http://u:mt-5a6b@h/v1/metrics"}, {}, ["mt-5a6b"]),
        ({}, {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=env-8c7d,x=y%20z9"}, ["env-8c7d", "y z9"]),
        ({}, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "authorization=Basic%20dHJhY2Vz"}, ["Basic dHJhY2Vz"]),
        ({}, {"OTEL_EXPORTER_OTLP_LOGS_HEADERS": "k=logs-4e5f"}, ["logs-4e5f"]),
        ({}, {"OTEL_EXPORTER_OTLP_METRICS_HEADERS": "k=met-6a7b"}, ["met-6a7b"]),
    ],
)
def test_the_redactor_knows_every_secret(flags: dict[str, Any], env: dict[str, str], secrets: list[str]) -> None:
    redact = plan_of(env=env, **flags).redact
    for secret in secrets:
        assert redact(f"refused: {secret}!") == "refused: ***!"
    assert plan_of(env={}).redact(f"refused: {secrets[-1]}!") == f"refused: {secrets[-1]}!"


def test_user_info_in_any_url_is_hidden() -> None:
    assert plan_of().redact("see http://bob:x@host/") == "see http://***@host/"


# -- the command and ReplayOptions ------------------------------------------------------
PRINTING = {"verbose", "as_json"}  # what the command prints, not part of the plan


def test_the_command_hands_over_exactly_the_fields_of_replay_options() -> None:
    names = {p.name for p in replay_command.params}
    assert names - PRINTING - set(VERIFY_FLAGS) == {f.name for f in dataclasses.fields(ReplayOptions)}


def test_the_command_defaults_are_those_of_replay_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_REPLAY_LOKI_PASSWORD", raising=False)
    for name in FAKES_SHOW_EVERY_AGE:  # the command's defaults, not the test environment's
        monkeypatch.delenv(name)
    with replay_command.make_context("replay", [str(EXAMPLE)]) as ctx:
        flags = {k: v for k, v in ctx.params.items() if k not in PRINTING and k not in VERIFY_FLAGS}
    flags["workers"] = 1  # the CPU count there, no worker processes here
    assert ReplayOptions(**flags) == options()


def test_planning_a_logs_dry_run_loads_no_sdk(children: Children) -> None:
    code = (
        "import sys\n"
        "from otel_replay.cli import main\n"
        "from otel_replay.options import ReplayOptions, build_plan\n"
        f"build_plan(ReplayOptions(paths=({str(EXAMPLE)!r},), dry_run=True, signal_list='logs'))\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.proto', 'google.protobuf')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    proc = children.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == "[]"


def test_a_short_secret_is_not_hunted_through_every_line() -> None:
    """A one-letter password hidden everywhere would mangle the summary (``htt***://``):
    it is hidden where it stands in a URL, and long secrets everywhere."""
    redact = Redactor(["p", "Bearer tok-123456"])
    assert redact("http://u:p@h:1/v1/logs failed") == "http://***@h:1/v1/logs failed"
    assert redact("echoed: tok-123456, Bearer tok-123456") == "echoed: ***, ***"


# -- URLs, sizes, flags that do nothing ---------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://localhost:4318", None),
        ("https://u:p@otlp.example.com/prefix", None),
        (
            "localhost:4318",
            "'localhost:4318' is not a URL: it must start with http:// or https:// (e.g. http://localhost:4318)",
        ),
        ("http:/h", "'http:/h' is not a URL: it must start with http:// or https://"),
        ("grpc://h:4317", "'grpc://h:4317': the scheme grpc:// is not supported (http:// or https://)"),
        ("http://", "'http://' has no host name"),
        ("http://h:port", "'http://h:port' is not a valid URL (Port could not be cast to integer value as 'port')"),
        ("", "the URL is empty"),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    assert url_problem(url) == problem


@pytest.mark.parametrize(
    ("size", "shown"), [(4 * 1024**2, "4MiB"), (256 * 1024, "256KiB"), (2 * 1024**3, "2GiB"), (1000, "1000")]
)
def test_format_size_is_read_back_by_parse_size(size: int, shown: str) -> None:
    assert format_size(size) == shown and parse_size(shown) == size


@pytest.mark.parametrize(
    ("flags", "env", "name"),
    [
        ({"loki_url": "loki:3100"}, {}, "--loki-url"),
        ({"otlp_logs_endpoint": "x", "logs_to": "otlp"}, {}, "--otlp-logs-endpoint"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({}, {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "p"}, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"),
        (
            {"otlp_traces_endpoint": "http://t/v1/traces"},
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "c"},
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
    ],
)
def test_a_url_that_is_not_http_names_its_flag_or_variable(
    flags: dict[str, Any], env: dict[str, str], name: str
) -> None:
    with pytest.raises(FlagError) as caught:
        plan_of(env=env, dry_run=True, **flags)
    assert caught.value.flag == name


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        ({"signal_list": "logs"}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}),  # logs go to Loki
        ({"otlp_endpoint": "http://c:4318"}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}),  # the flag wins
        ({"traces_only": True}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "x"}),
    ],
)
def test_a_variable_no_signal_is_sent_to_is_not_checked(flags: dict[str, Any], env: dict[str, str]) -> None:
    plan_of(env=env, **flags)


@pytest.mark.parametrize(
    ("env", "compression"),
    [
        ({}, "gzip"),
        ({"OTEL_EXPORTER_OTLP_COMPRESSION": "none"}, None),
        ({"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"}, None),
    ],
)
def test_otlp_compression_is_gzip_unless_the_environment_decides(env: dict[str, str], compression: str | None) -> None:
    assert plan_of(env=env).otlp.compression == compression
    assert plan_of(env=env, compression="none").otlp.compression == "none"


def test_the_loki_bearer_token_is_a_redacted_authorization_header() -> None:
    plan = plan_of(loki_bearer_token="tok-123456")
    assert plan.loki.headers == {"Authorization": "Bearer tok-123456"}
    assert plan.redact("sent Bearer tok-123456") == "sent ***"
    with pytest.raises(PlanError, match="--loki-user and --loki-bearer-token exclude each other"):
        plan_of(loki_bearer_token="t", loki_user="u")


NAMES = {"loki_tenant": "--loki-tenant", "otlp_logs_endpoint": "--otlp-logs-endpoint", "batch_size": "--batch-size"}


@pytest.mark.parametrize(
    ("flags", "signals", "expected"),
    [
        ({"loki_tenant": "t", "logs_to": "otlp"}, ALL, [("--loki-tenant", True)]),
        ({"loki_tenant": "t", "logs_to": "otlp"}, (Signal.TRACES,), [("--loki-tenant", True), ("logs_to", False)]),
        ({"otlp_logs_endpoint": "http://c/v1/logs"}, ALL, [("--otlp-logs-endpoint", True)]),
        ({"loki_tenant": "t"}, (Signal.TRACES,), [("--loki-tenant", False)]),
        ({"batch_size": 7}, (Signal.LOGS, Signal.METRICS), [("--batch-size", False)]),
        ({"otlp_endpoint": "http://c"}, (Signal.LOGS,), [("otlp_endpoint", False)]),
        ({"otlp_endpoint": "http://c", "logs_to": "otlp"}, (Signal.LOGS,), []),
        ({"loki_tenant": "t", "batch_size": 7}, ALL, []),
    ],
)
def test_flags_that_do_nothing(flags: dict[str, Any], signals: tuple[Signal, ...], expected: list[Any]) -> None:
    found = unused_flags(options(**flags), signals, NAMES)
    assert [(u.flag, u.refuse) for u in found] == expected


def test_only_flags_given_count_as_unused() -> None:
    o = options(loki_tenant="from-LOKI_ORG_ID", logs_to="otlp")
    assert unused_flags(o, ALL, NAMES, given={"logs_to"}) == []


def test_output_mode_checks_the_flags_but_not_the_otlp_variables() -> None:
    plan_of(env={"OTEL_EXPORTER_OTLP_ENDPOINT": "c:4318"}, output_dir="out")
    with pytest.raises(FlagError, match="--loki-url"):
        plan_of(output_dir="out", loki_url="loki")
