"""OTLP over gRPC: the official gRPC exporters against a loopback grpcio receiver that
answers as the Collector's OTLP receiver does (tests/fakes/otlp_grpc.py), and what the
exporter is built with from the flags and the OTEL_EXPORTER_OTLP_* variables."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme

from otel_replay.model import Origin, Signal
from otel_replay.options import ReplayOptions, build_plan
from otel_replay.plan import PlanError
from otel_replay.sinks.delivery import Permanent
from otel_replay.sinks.otlp_config import OtlpConfig, ProtocolError, resolve_protocol
from otel_replay.sinks.otlp_grpc import GrpcLane, exporter_arguments, probe, retry_deadline
from otel_replay.sources.codemachine import span_from_codemachine
from tests.fakes.otlp import OtlpReceiver
from tests.fakes.otlp_grpc import STALL, Fault, GrpcReceiver, partial, unavailable
from tests.helpers import EXAMPLE, replay, replay_json, span_doc, trace_file

GRPC = ("--otlp-protocol", "grpc")


@pytest.fixture
def receiver() -> Iterator[GrpcReceiver]:
    with GrpcReceiver() as server:
        yield server


def spans(n: int, attr_bytes: int = 0) -> list[dict[str, Any]]:
    return [span_doc(spanId=f"{i + 1:016x}", attributes={"payload": "x" * attr_bytes, "i": i}) for i in range(n)]


def traces_over_grpc(tmp_path: Path, server: GrpcReceiver, n: int, *flags: str) -> tuple[int, dict[str, Any]]:
    trace_file(tmp_path / "t.json", spans(n))
    return replay_json(str(tmp_path), *GRPC, "--otlp-endpoint", server.endpoint, "--traces-only", *flags)


# -- what arrives ---------------------------------------------------------------------------
def test_every_signal_arrives_as_the_http_path_sends_it(receiver: GrpcReceiver, collector: OtlpReceiver) -> None:
    """The same SDK objects through both exporters: the requests' contents are equal."""
    both = ("--logs-to", "otlp", "--concurrency", "1")
    code, summary = replay_json(str(EXAMPLE), *GRPC, "--otlp-endpoint", receiver.endpoint, *both)
    assert code == 0, summary
    code, _ = replay_json(str(EXAMPLE), "--otlp-endpoint", collector.url, *both)
    assert code == 0
    assert summary["signals"]["traces"]["sent"] == len(receiver.spans()) == 21
    assert sorted(s.SerializeToString() for s in receiver.spans()) == sorted(
        s.SerializeToString() for _, _, s in collector.spans()
    )
    assert sorted(r.SerializeToString() for r in receiver.log_records()) == sorted(
        rec.SerializeToString()
        for req in collector.requests["/v1/logs"]
        for rl in req.resource_logs
        for sl in rl.scope_logs
        for rec in sl.log_records
    )
    assert summary["signals"]["logs"]["sent"] == len(receiver.log_records()) > 0
    assert summary["signals"]["metrics"]["sent"] == receiver.data_points() == 111


def test_the_environment_alone_chooses_grpc(
    receiver: GrpcReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's command: OTEL_EXPORTER_OTLP_PROTOCOL=grpc and an endpoint with no path."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    trace_file(tmp_path / "t.json", spans(3))
    result = replay(str(tmp_path), "--signals", "traces")
    assert result.exit_code == 0, result.output
    assert len(receiver.spans()) == 3
    assert f"→ {receiver.endpoint} (OTLP/gRPC)" in result.stdout


def test_headers_arrive_as_metadata_and_are_never_printed(
    receiver: GrpcReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "X-Scope-OrgID=team-a,x-other=kept")
    trace_file(tmp_path / "t.json", spans(2))
    result = replay(
        str(tmp_path), *GRPC, "--otlp-endpoint", receiver.endpoint, "--traces-only", "-v",
        "--header", "Authorization=Bearer s3cret-token", "--header", "x-other=flag",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sent = receiver.metadata[0]
    assert (sent["authorization"], sent["x-scope-orgid"], sent["x-other"]) == ("Bearer s3cret-token", "team-a", "flag")
    assert "s3cret-token" not in result.output


def test_a_span_file_of_many_mib_arrives_whole_in_requests_under_4_mib(receiver: GrpcReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", spans(1200, attr_bytes=8000))  # about 9.6 MB of spans
    code, summary = replay_json(str(tmp_path), *GRPC, "--otlp-endpoint", receiver.endpoint, "--traces-only")
    assert code == 0, summary
    assert len({s.span_id for s in receiver.spans()}) == 1200
    assert sum(receiver.sizes) > 9_000_000 and max(receiver.sizes) <= 4 * 1024 * 1024


def test_tls_with_a_private_ca_from_the_flag_or_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls = (cert.private_key_pem.bytes(), b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    with GrpcReceiver(tls=tls) as server:
        assert server.endpoint.startswith("https://")
        code, summary = traces_over_grpc(tmp_path / "a", server, 2, "--certificate", str(ca_file))
        assert code == 0, summary
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(ca_file))
        code, summary = traces_over_grpc(tmp_path / "b", server, 3)
        assert code == 0, summary
    assert len(server.spans()) == 5


# -- answers, classified and retried by the one policy ----------------------------------------
def test_unavailable_then_success_is_retried(tmp_path: Path) -> None:
    with GrpcReceiver(faults=[unavailable()]) as server:
        code, summary = traces_over_grpc(tmp_path, server, 4)
    assert code == 0, summary
    assert server.attempts == 2 and len(server.spans()) == 4


def test_resource_exhausted_with_retry_info_waits_as_asked(tmp_path: Path) -> None:
    """Our first back-off is 0.8-1.2 s: a retry 2 s later or more means it waited for RetryInfo."""
    slow_down = Fault(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate limited", retry_after=2.0)
    with GrpcReceiver(faults=[slow_down]) as server:
        code, summary = traces_over_grpc(tmp_path, server, 4)
    assert code == 0, summary
    assert server.attempts == 2 and len(server.spans()) == 4
    assert server.arrivals[1] - server.arrivals[0] >= 2.0


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(grpc.StatusCode.RESOURCE_EXHAUSTED, "memory limit"), "gRPC RESOURCE_EXHAUSTED: memory limit"),
        (Fault(grpc.StatusCode.INVALID_ARGUMENT, "bad trace id"), "gRPC INVALID_ARGUMENT: bad trace id"),
    ],
    ids=["resource exhausted without RetryInfo", "invalid argument"],
)
def test_a_final_status_is_rejected_at_once(tmp_path: Path, fault: Fault, reason: str) -> None:
    with GrpcReceiver(faults=[fault]) as server:
        code, summary = traces_over_grpc(tmp_path, server, 3)
    assert code == 1
    assert server.attempts == 1
    assert summary["signals"]["traces"]["rejected_reasons"] == {reason: 3}


def test_partial_success_counts_the_rejected_spans(tmp_path: Path) -> None:
    with GrpcReceiver(faults=[partial(2, "spans too old")]) as server:
        code, summary = traces_over_grpc(tmp_path, server, 5)
    assert code == 1
    t = summary["signals"]["traces"]
    assert (t["sent"], t["rejected"]) == (3, 2)
    assert t["rejected_reasons"] == {"partial success: spans too old": 2}


def test_a_stall_past_the_timeout_is_retried(tmp_path: Path) -> None:
    with GrpcReceiver(faults=[STALL]) as server:
        code, summary = traces_over_grpc(tmp_path, server, 2, "--timeout", "1s")
        assert server.stalled.wait(30)
    assert code == 0, summary
    assert server.attempts == 2 and len(server.spans()) == 2


def test_a_message_over_the_receivers_limit_is_refused_with_what_to_do(tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", spans(60, attr_bytes=2000))
    with GrpcReceiver(max_recv_bytes=64 * 1024) as server:
        args = (str(tmp_path), *GRPC, "--otlp-endpoint", server.endpoint, "--traces-only")
        code, summary = replay_json(*args)
        assert code == 1 and not server.spans()
        (reason,) = summary["signals"]["traces"]["rejected_reasons"]
        assert reason.startswith("gRPC RESOURCE_EXHAUSTED") and "larger than max" in reason
        assert any("lower --max-request-bytes" in hint for hint in summary["hints"])
        code, summary = replay_json(*args, "--max-request-bytes", "48KiB")
    assert code == 0, summary
    assert len(server.spans()) == 60


def test_a_signal_the_receiver_does_not_serve_says_so(tmp_path: Path) -> None:
    from tests.helpers import log_doc, log_file

    log_file(tmp_path / "l.json", [log_doc()])
    with GrpcReceiver(serves=("traces",)) as server:
        code, summary = replay_json(
            str(tmp_path), *GRPC, "--otlp-endpoint", server.endpoint, "--logs-only", "--logs-to", "otlp"
        )
    assert code == 1
    assert list(summary["signals"]["logs"]["rejected_reasons"]) == ["gRPC UNIMPLEMENTED: Method not found!"]
    assert any("has no OTLP logs service" in hint for hint in summary["hints"])


# -- the wrong protocol, named fast ---------------------------------------------------------
def test_grpc_to_an_http_port_ends_at_once_saying_what_to_change(tempo: OtlpReceiver, tmp_path: Path) -> None:
    """The start-up check names it: exit 2, one line, nothing sent."""
    trace_file(tmp_path / "t.json", spans(3))
    started = time.monotonic()
    result = replay(str(tmp_path), *GRPC, "--otlp-endpoint", tempo.url, "--traces-only")
    assert time.monotonic() - started < 20  # the retries would take 30 s and more
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.output.splitlines() if "--otlp-protocol" in line]
    assert f"{tempo.url} answers as an HTTP server, not gRPC: use --otlp-protocol http/protobuf" in line
    assert not tempo.spans()


def test_http_to_a_grpc_port_ends_at_once_saying_what_to_change(receiver: GrpcReceiver, tmp_path: Path) -> None:
    trace_file(tmp_path / "t.json", spans(3))
    started = time.monotonic()
    result = replay(str(tmp_path), "--otlp-endpoint", receiver.endpoint, "--traces-only")
    assert time.monotonic() - started < 20
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.output.splitlines() if "--otlp-protocol" in line]
    assert "answers as a gRPC server, not OTLP/HTTP: use --otlp-protocol grpc" in line
    assert "\\x00" not in result.output and "\x00" not in result.output


@pytest.mark.parametrize("to_grpc", [True, False], ids=["grpc to an HTTP port", "HTTP to a gRPC port"])
def test_a_port_that_changes_protocol_mid_run_fails_each_batch_at_once(
    tempo: OtlpReceiver, receiver: GrpcReceiver, to_grpc: bool
) -> None:
    """After the start-up check, the sink itself names it too: one attempt, final, with the hint."""
    from otel_replay.sinks.otlp import _lane
    from otel_replay.sinks.sdk import ResourceCache

    url = tempo.url if to_grpc else receiver.endpoint + "/v1/traces"
    config = OtlpConfig(traces_endpoint=url, protocols={Signal.TRACES: "grpc"} if to_grpc else None)
    lane = _lane(config, Signal.TRACES)
    items = [ResourceCache().readable_span(span_from_codemachine(span_doc(), (), Origin("f", 0)))]
    started = time.monotonic()
    sent = lane.send(items, _NoLog())
    lane.shutdown()
    assert time.monotonic() - started < 10
    assert isinstance(sent.outcome, Permanent) and sent.attempts == 1, sent
    assert (
        sent.outcome.hint
        and ("--otlp-protocol http/protobuf" if to_grpc else "--otlp-protocol grpc") in sent.outcome.hint
    )


class _NoLog:
    last_error: str | None = None


def test_the_start_up_probe_says_what_answers(receiver: GrpcReceiver, tempo: OtlpReceiver) -> None:
    """One empty export, answered as an OTLP/HTTP probe's would be (for sinks/preflight.py)."""
    config = OtlpConfig(traces_endpoint=receiver.endpoint, protocols={Signal.TRACES: "grpc"})
    assert probe(Signal.TRACES, config, 5.0) == (receiver.endpoint, 200, "gRPC OK")
    assert receiver.probes == ["traces"] and receiver.attempts == 0  # empty: no telemetry sent
    config = OtlpConfig(traces_endpoint=tempo.url, protocols={Signal.TRACES: "grpc"})
    url, status, answer = probe(Signal.TRACES, config, 5.0)
    assert (url, status) == (tempo.url, None)
    assert "use --otlp-protocol http/protobuf" in answer


# -- the protocol and what the exporter is built with ---------------------------------------
@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (None, {}, {"traces": "http/protobuf", "logs": "http/protobuf", "metrics": "http/protobuf"}),
        (None, {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, {"traces": "grpc", "logs": "grpc", "metrics": "grpc"}),
        (
            None,
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf"},
            {"traces": "grpc", "logs": "grpc", "metrics": "http/protobuf"},
        ),
        (
            None,
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": " GRPC "},
            {"traces": "grpc", "logs": "http/protobuf", "metrics": "http/protobuf"},
        ),
        (
            "http/protobuf",
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
            {"traces": "http/protobuf", "logs": "http/protobuf", "metrics": "http/protobuf"},
        ),
        ("grpc", {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, {"traces": "grpc", "logs": "grpc", "metrics": "grpc"}),
    ],
)
def test_the_protocol_follows_the_specifications_precedence(
    flag: str | None, env: dict[str, str], expected: dict[str, str]
) -> None:
    assert {s.value: resolve_protocol(flag, s, env) for s in Signal} == expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json",
        ),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, "OTEL_EXPORTER_OTLP_PROTOCOL='thrift' is not an OTLP protocol"),
    ],
)
def test_a_protocol_no_exporter_speaks_is_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ProtocolError, match="^" + named.replace("(", r"\(")):
        resolve_protocol(None, Signal.TRACES, env)


def test_http_json_ends_the_run_at_once_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    trace_file(tmp_path / "t.json", spans(1))
    result = replay(str(tmp_path), "--traces-only")
    assert result.exit_code == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/json" in result.output
    assert "use http/protobuf" in result.output and "Traceback" not in result.output


def test_loki_logs_ignore_the_logs_protocol_variable(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"}
    trace_file(tmp_path / "t.json", spans(1))
    plan = build_plan(ReplayOptions(paths=(str(tmp_path),), signal_list="logs"), env=env)
    assert plan.otlp.protocol(Signal.LOGS) == "http/protobuf"
    with pytest.raises(PlanError, match="OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json"):
        build_plan(ReplayOptions(paths=(str(tmp_path),), signal_list="logs", logs_to="otlp"), env=env)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"otlp_endpoint": "http://127.0.0.1:4317/v1/traces"},
            "--otlp-endpoint: a gRPC endpoint is scheme://host:port",
        ),
        ({"insecure": True}, "--insecure: a gRPC exporter cannot skip certificate checks"),
    ],
)
def test_grpc_flags_that_cannot_work_are_usage_errors(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match="^" + message):
        build_plan(ReplayOptions(paths=(str(tmp_path),), otlp_protocol="grpc", **options), env={})


def _built(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **config: Any) -> Any:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lane = GrpcLane(Signal.TRACES, OtlpConfig(protocols={Signal.TRACES: "grpc"}, **config))
    lane.shutdown()
    return lane.exporter


@pytest.mark.parametrize(
    ("env", "config", "endpoint", "insecure", "headers"),
    [
        ({}, {}, "localhost:4317", True, ()),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example:4317"}, {}, "otlp.example:4317", False, ()),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4317", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4317"},
            {},
            "t:4317",
            True,
            (),
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "https://g:4317"},
            {"traces_endpoint": "http://flag:4317"},
            "flag:4317",
            True,
            (),
        ),
        ({"OTEL_EXPORTER_OTLP_INSECURE": "true"}, {"traces_endpoint": "collector:4317"}, "collector:4317", True, ()),
        ({"OTEL_EXPORTER_OTLP_INSECURE": "false"}, {"traces_endpoint": "collector:4317"}, "collector:4317", False, ()),
        ({"OTEL_EXPORTER_OTLP_INSECURE": "true"}, {"traces_endpoint": "https://c:4317"}, "c:4317", False, ()),
        ({"OTEL_EXPORTER_OTLP_HEADERS": "A=1,b=2"}, {}, "localhost:4317", True, (("a", "1"), ("b", "2"))),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "t=1", "OTEL_EXPORTER_OTLP_HEADERS": "g=1"},
            {},
            "localhost:4317",
            True,
            (("t", "1"),),
        ),
        (
            {"OTEL_EXPORTER_OTLP_HEADERS": "A=1,b=2"},
            {"headers": {"B": "flag"}},
            "localhost:4317",
            True,
            (("a", "1"), ("b", "flag")),
        ),
    ],
)
def test_what_the_exporter_is_built_with(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], config: dict[str, Any], endpoint: str, insecure: bool,
    headers: tuple[tuple[str, str], ...],
) -> None:  # fmt: skip
    exporter = _built(monkeypatch, env, **config)
    assert (exporter._endpoint, exporter._insecure, tuple(exporter._headers)) == (endpoint, insecure, headers)


def test_timeout_and_compression_reach_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = _built(monkeypatch, {}, timeout=3.0, compression="gzip")
    assert (exporter._timeout, exporter._compression) == (3.0, grpc.Compression.Gzip)
    exporter = _built(monkeypatch, {"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
    assert exporter._compression == grpc.Compression.Gzip
    assert (
        exporter_arguments(OtlpConfig(compression="none"), Signal.TRACES)["compression"]
        is grpc.Compression.NoCompression
    )


def test_the_exporters_own_retry_is_off_and_the_deadline_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = _built(monkeypatch, {})
    assert set(exporter._retryable_error_codes) == {grpc.StatusCode.OK}  # an error is never OK: nothing retried
    assert retry_deadline(OtlpConfig(max_retry_time=7.0), Signal.TRACES, {"OTEL_EXPORTER_OTLP_TIMEOUT": "3"}) == 7.0
    env = {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "4", "OTEL_EXPORTER_OTLP_TIMEOUT": "3"}
    assert retry_deadline(OtlpConfig(), Signal.TRACES, env) == 4.0
    assert retry_deadline(OtlpConfig(), Signal.LOGS, env) == 3.0
