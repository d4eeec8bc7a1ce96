"""Write what would be sent as OTLP/JSON Lines (the OpenTelemetry file-exporter format).

One OTLP request object per line — ``{"resourceSpans": …}`` in ``traces.jsonl``,
``{"resourceLogs": …}`` in ``logs.jsonl`` — batched exactly as the network sinks batch,
with hex ids and 64-bit integers as strings, so the files can be replayed again later
or posted to any collector as they are.
"""

from __future__ import annotations

import os
from typing import IO

import msgspec
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_replay.model import LogRecord, Record, Signal, SpanRecord
from otel_replay.report import Report
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.otlp import REQUEST_OVERHEAD
from otel_replay.sinks.sdk import (
    ResourceCache,
    estimate_log_bytes,
    estimate_resource_bytes,
    estimate_span_bytes,
    proto_to_otlp_json,
)

FILE_NAMES = {Signal.TRACES: "traces.jsonl", Signal.LOGS: "logs.jsonl"}
_encode_json = msgspec.json.Encoder().encode


class OtlpJsonFileSink:
    """One signal's JSON Lines file under the output folder."""

    def __init__(self, signal: Signal, directory: str, report: Report, batch_size: int, max_request_bytes: int) -> None:
        self.signal = signal
        self._report = report
        self._resources = ResourceCache()
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, FILE_NAMES[signal])
        self._fh: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._batcher: Batcher[Record] = Batcher(self._write_batch, batch_size, max_request_bytes, REQUEST_OVERHEAD)

    def write(self, record: Record) -> None:
        if isinstance(record, SpanRecord):
            size = estimate_span_bytes(record)
        else:
            assert isinstance(record, LogRecord)
            size = estimate_log_bytes(record)
        res_bytes = estimate_resource_bytes(record.resource, record.scope)
        if not self._batcher.fits_alone(size, res_bytes):
            self._report.too_large(
                self.signal, str(record.origin), size + res_bytes, "--max-request-bytes", self._batcher.max_bytes
            )
            return
        self._batcher.add(record, size, (record.resource, record.resource_schema_url, record.scope), res_bytes)

    def _write_batch(self, batch: list[Record]) -> None:
        if self.signal is Signal.TRACES:
            message = encode_spans([self._resources.readable_span(r) for r in batch])  # type: ignore[arg-type]
        else:
            message = encode_logs([self._resources.readable_log(r) for r in batch])  # type: ignore[arg-type]
        try:
            self._fh.write(_encode_json(proto_to_otlp_json(message)) + b"\n")
        except OSError as exc:
            self._report.failed(self.signal, len(batch), f"cannot write {self.path}: {exc.strerror or exc}")
            return
        self._report.sent(self.signal, len(batch))

    def close(self) -> None:
        try:
            self._batcher.flush()
        finally:
            self._fh.close()

    def abandon(self) -> None:
        self.close()  # a local file: finishing the batch in hand costs nothing
