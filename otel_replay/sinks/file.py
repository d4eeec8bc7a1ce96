"""Write what would be sent as OTLP/JSON Lines (the OpenTelemetry file-exporter format).

One OTLP request object per line — ``{"resourceSpans": …}`` in ``traces.jsonl``,
``{"resourceLogs": …}`` in ``logs.jsonl``, ``{"resourceMetrics": …}`` in
``metrics.jsonl`` — batched exactly as the network sinks batch,
with hex ids and 64-bit integers as strings, so the files can be replayed again later
or posted to any collector as they are.

A folder never holds files of two runs: :func:`prepare_output` refuses one that holds an
earlier run's files, or removes them all first when asked to (``--overwrite``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO

import msgspec
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_replay.model import Record, Signal
from otel_replay.sinks.batching import Batcher
from otel_replay.sinks.sdk import ResourceCache, proto_to_otlp_json
from otel_replay.sinks.sizes import REQUEST_OVERHEAD, add_to_request
from otel_replay.stats import RunStats

FILE_NAMES = {Signal.TRACES: "traces.jsonl", Signal.LOGS: "logs.jsonl", Signal.METRICS: "metrics.jsonl"}
#: The official exporters' own encoders: the file holds exactly what would have been sent.
_ENCODERS = {Signal.TRACES: encode_spans, Signal.LOGS: encode_logs, Signal.METRICS: encode_metrics}
_encode_json = msgspec.json.Encoder().encode


class OutputInUse(ValueError):
    """The output folder holds an earlier run's files; the message names it (one line)."""


def prepare_output(directory: str, overwrite: bool, names: Iterable[str] = FILE_NAMES.values()) -> None:
    """Before a run writes into ``directory``: an earlier run's files there (any of
    traces.jsonl, logs.jsonl, metrics.jsonl, whichever signals this run writes; a
    --shard's own ``names``) are removed with ``overwrite`` — the whole set, so none
    stays beside the new ones — and refused (:class:`OutputInUse`) without. Other files
    are left alone."""
    earlier = [name for name in names if os.path.lexists(os.path.join(directory, name))]
    if not earlier:
        return
    if not overwrite:
        raise OutputInUse(
            f"{directory} holds the results of an earlier run ({', '.join(earlier)}): "
            "choose another folder, or add --overwrite to replace them all"
        )
    for name in earlier:
        os.remove(os.path.join(directory, name))  # OSError: the caller says it


class OtlpJsonFileSink:
    """One signal's JSON Lines file under the output folder."""

    def __init__(
        self,
        signal: Signal,
        directory: str,
        stats: RunStats,
        batch_size: int,
        max_request_bytes: int,
        name: str | None = None,
    ) -> None:
        """``name``: the file's name in ``directory`` (default ``FILE_NAMES[signal]``)."""
        self.signal = signal
        self._stats = stats
        self._resources = ResourceCache()
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name or FILE_NAMES[signal])
        self._fh: IO[bytes] = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._batcher: Batcher[Record] = Batcher(self._write_batch, batch_size, max_request_bytes, REQUEST_OVERHEAD)

    def write(self, record: Record) -> None:
        add_to_request(self._batcher, record, self._stats, self.signal, "written")

    def _write_batch(self, batch: list[Record]) -> None:
        message = _ENCODERS[self.signal](self._resources.export_items(batch))
        try:
            self._fh.write(_encode_json(proto_to_otlp_json(message)) + b"\n")
        except OSError as exc:
            self._stats.failed(self.signal, len(batch), f"cannot write {self.path}: {exc.strerror or exc}")
            return
        self._stats.sent(self.signal, len(batch))

    def flush(self) -> None:
        self._batcher.flush()

    def close(self) -> None:
        try:
            self._batcher.flush()
        finally:
            self._fh.close()

    def interrupt(self) -> None:
        pass  # nothing waits: a local file

    def abandon(self, wait: bool = True) -> None:
        self.close()  # a local file: finishing the batch in hand costs nothing
