"""An OTLP/gRPC receiver on loopback: grpcio serving the collector services of
``opentelemetry-proto``, answering as the OpenTelemetry Collector's OTLP receiver does
(grpc-go behind it; Tempo's 4317 is that receiver).

- success: ``OK`` with the signal's ``Export*ServiceResponse`` (an empty
  ``partial_success`` unless scripted);
- a request over the server's limit (grpc-go's default, 4 MiB, which the Collector keeps
  unless ``max_recv_msg_size_mib`` is set): ``RESOURCE_EXHAUSTED`` "grpc: received
  message larger than max (N vs. 4194304)" — here grpcio's own check and words;
- a service it does not serve (Tempo: logs and metrics): ``UNIMPLEMENTED``;
- errors on cue (:class:`Fault`): a status with its message, with or without a
  ``RetryInfo`` in ``grpc-status-details-bin`` (how grpc-go's ``status.WithDetails``
  sends it), a partial success, or a stall until the client's deadline passes.

Every request that reaches a servicer is decoded and kept with its metadata, also the
faulted ones (``attempts``); only the answered-OK ones count as ``requests``. An empty
request (otel-replay's start-up check) is answered OK outside the fault schedule and
counted apart (``probes``).
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.fakes.server import LATENCY, FakeServer

GRPC_GO_MAX_RECV = 4 * 1024 * 1024
TRACES, LOGS, METRICS = "traces", "logs", "metrics"
_REJECTED = {TRACES: "rejected_spans", LOGS: "rejected_log_records", METRICS: "rejected_data_points"}
_RESPONSES: dict[str, Any] = {
    TRACES: trace_service_pb2.ExportTraceServiceResponse,
    LOGS: logs_service_pb2.ExportLogsServiceResponse,
    METRICS: metrics_service_pb2.ExportMetricsServiceResponse,
}


@dataclass(frozen=True)
class Fault:
    """One scripted answer: ``code`` with ``message`` (and a RetryInfo of ``retry_after``
    seconds when given); ``partial`` items refused in an OK answer; ``stall``: no answer
    until the client gives up."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    message: str = ""
    retry_after: float | None = None
    partial: int = 0
    stall: bool = False


def unavailable(message: str = "connection error") -> Fault:
    return Fault(grpc.StatusCode.UNAVAILABLE, message)


def partial(rejected: int, message: str) -> Fault:
    return Fault(partial=rejected, message=message)


STALL = Fault(stall=True)


class GrpcReceiver:
    """``with GrpcReceiver() as r:`` serves on ``r.endpoint`` (``http://127.0.0.1:PORT``)."""

    def __init__(
        self, faults: list[Fault] | None = None, serves: tuple[str, ...] = (TRACES, LOGS, METRICS),
        max_recv_bytes: int = GRPC_GO_MAX_RECV, tls: tuple[bytes, bytes] | None = None,
    ) -> None:  # fmt: skip
        """``tls``: (private key, certificate chain) in PEM: serves TLS on ``https://localhost:PORT``."""
        self.faults = list(faults or [])
        self.lock = threading.Lock()
        self.requests: dict[str, list[Any]] = {TRACES: [], LOGS: [], METRICS: []}
        self.sizes: list[int] = []  # bytes of every request that was answered OK
        self.metadata: list[dict[str, str]] = []  # of every request that reached a servicer
        self.attempts = 0
        self.probes: list[str] = []  # the signal of each empty request (never faulted, not counted)
        self.arrivals: list[float] = []  # time.monotonic() of every request that reached a servicer
        self.stalled = threading.Event()  # set when a stalled call was given up by its client
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[("grpc.max_receive_message_length", max_recv_bytes)],
        )
        trace, logs, metrics = trace_service_pb2_grpc, logs_service_pb2_grpc, metrics_service_pb2_grpc
        adders = {
            TRACES: (trace.add_TraceServiceServicer_to_server, trace.TraceServiceServicer),
            LOGS: (logs.add_LogsServiceServicer_to_server, logs.LogsServiceServicer),
            METRICS: (metrics.add_MetricsServiceServicer_to_server, metrics.MetricsServiceServicer),
        }
        for signal in serves:
            add, base = adders[signal]
            add(self._servicer(base, signal), self._server)
        if tls is None:
            self.port = self._server.add_insecure_port("127.0.0.1:0")
            self.endpoint = f"http://127.0.0.1:{self.port}"
        else:
            self.port = self._server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([tls]))
            self.endpoint = f"https://localhost:{self.port}"

    def _servicer(self, base: type, signal: str) -> Any:
        receiver = self

        class Servicer(base):  # type: ignore[misc, valid-type]
            def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
                return receiver._export(signal, request, context)

        return Servicer()

    def _export(self, signal: str, request: Any, context: grpc.ServicerContext) -> Any:
        if LATENCY > 0:
            time.sleep(LATENCY)  # OTEL_REPLAY_FAKE_LATENCY, as the HTTP fakes: simulated latency, not synchronisation
        if request.ByteSize() == 0:  # otel-replay's check before a run: OK, as the Collector answers; not counted
            with self.lock:
                self.probes.append(signal)
            return _RESPONSES[signal]()
        with self.lock:
            self.attempts += 1
            self.arrivals.append(time.monotonic())
            self.metadata.append({k: v for k, v in context.invocation_metadata() if isinstance(v, str)})
            fault = self.faults.pop(0) if self.faults else Fault()
        if fault.stall:
            done = threading.Event()
            context.add_callback(done.set)  # called when the client's deadline ends the call
            done.wait(60)
            self.stalled.set()
            return _RESPONSES[signal]()
        if fault.code is not grpc.StatusCode.OK:
            if fault.retry_after is not None:
                detail = AnyMessage()
                detail.Pack(RetryInfo(retry_delay=_duration(fault.retry_after)))
                status = Status(code=fault.code.value[0], message=fault.message, details=[detail])
                context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
            context.abort(fault.code, fault.message)
        response = _RESPONSES[signal]()
        response.partial_success.SetInParent()
        if fault.partial:
            setattr(response.partial_success, _REJECTED[signal], fault.partial)
            response.partial_success.error_message = fault.message
        with self.lock:
            self.requests[signal].append(request)
            self.sizes.append(request.ByteSize())
        return response

    def __enter__(self) -> GrpcReceiver:
        FakeServer.started += 1
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)

    # -- reading back -------------------------------------------------------------------------
    def spans(self) -> list[Any]:
        return [span for r in self.requests[TRACES] for rs in r.resource_spans for ss in rs.scope_spans
                for span in ss.spans]  # fmt: skip

    def log_records(self) -> list[Any]:
        return [rec for r in self.requests[LOGS] for rl in r.resource_logs for sl in rl.scope_logs
                for rec in sl.log_records]  # fmt: skip

    def data_points(self) -> int:
        count = 0
        for r in self.requests[METRICS]:
            for rm in r.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        kind = m.WhichOneof("data")
                        count += len(getattr(m, kind).data_points) if kind else 0
        return count


def _duration(seconds: float) -> Duration:
    return Duration(seconds=int(seconds), nanos=int((seconds - int(seconds)) * 1e9))
