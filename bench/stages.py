"""CPU per record of each stage of the CodeMachine paths, in one process, no I/O.

python bench/stages.py CHECKOUT FOLDER   (CHECKOUT: the otel-replay checkout to import)

Decodes, converts, estimates, builds SDK objects for, and encodes (the official exporter's
``encode_spans``) the first 10,000 spans and 10,000 log records of FOLDER (files of 1,000
records, as CodeMachine writes them); for the log records also their Loki entries, the
gzip-compressed push bodies and the first pass (times and copies' identities, as for a
report older than Loki shows at once); seven times each, and prints, per stage, the least CPU µs
per record seen: the least is what the code costs, the rest is the machine's other load.
Run it for two checkouts in turn to compare a change with its base.
"""

from __future__ import annotations

import gc
import gzip
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(sys.argv[1]).resolve()))
import msgspec
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from otel_replay.model import Origin, Signal
from otel_replay.sinks.loki import LokiConfig, LokiSink
from otel_replay.sinks.sdk import ResourceCache
from otel_replay.sinks.sizes import estimate_bytes
from otel_replay.sources.codemachine import log_from_codemachine, span_from_codemachine
from otel_replay.sources.times import _whole as _whole_times
from otel_replay.stages.dedup import identify
from otel_replay.stats import RunStats

N = 10_000
RESOURCE = (("service.name", "codemachine"),)
ORIGIN = Origin("f", 1)


def _files(folder: Path, ending: str = "") -> list[bytes]:
    """The trace files' bytes (``ending``: the files named so), as many as hold N records."""
    out: list[bytes] = []
    for path in sorted(folder.rglob("*.json")):
        wanted = path.name.endswith(ending) if ending else not path.name.endswith(("-logs.json", "-metrics.json"))
        if wanted and len(out) * 1000 < N:
            out.append(path.read_bytes())
    return out


def _first_pass(data: bytes) -> None:
    """What the first pass does with a log file five hours old: its times, then each
    record's identity (every record is older than Loki shows at once)."""
    found = _whole_times(data, frozenset({Signal.LOGS}))
    assert found is not None
    found.identities(list(range(len(found.times))))


def _records(folder: Path) -> tuple[list[Any], list[Any]]:
    spans: list[Any] = []
    logs: list[Any] = []
    for path in sorted(folder.rglob("*.json")):
        doc = msgspec.json.decode(path.read_bytes())
        spans += doc.get("spans") or ()
        logs += doc.get("logs") or ()
        if len(spans) >= N and len(logs) >= N:
            break
    return spans[:N], logs[:N]


def main() -> None:
    spans, logs = _records(Path(sys.argv[2]))
    files = _files(Path(sys.argv[2]))
    recs = [span_from_codemachine(s, RESOURCE, ORIGIN, []) for s in spans]
    lrecs = [log_from_codemachine(r, RESOURCE, ORIGIN, []) for r in logs]
    cache = ResourceCache()
    readable = [cache.readable_span(r) for r in recs]
    sink = LokiSink(LokiConfig(replay_id="0123456789ab"), RunStats())
    entries = [prepared[0] for r in lrecs if (prepared := sink.entry(r)) is not None]
    log_files = _files(Path(sys.argv[2]), "-logs.json")
    stages: dict[str, Callable[[], object]] = {
        "span decode": lambda: [msgspec.json.decode(b) for b in files],
        "span convert": lambda: [span_from_codemachine(s, RESOURCE, ORIGIN, []) for s in spans],
        "span estimate": lambda: [estimate_bytes(r) for r in recs],
        "span readable": lambda: [cache.readable_span(r) for r in recs],
        "span encode+serialise": lambda: [
            encode_spans(readable[i : i + 512]).SerializeToString() for i in range(0, N, 512)
        ],
        "log convert": lambda: [log_from_codemachine(r, RESOURCE, ORIGIN, []) for r in logs],
        "log identify": lambda: [identify(r) for r in lrecs],
        "log entry": lambda: [sink.entry(r) for r in lrecs],
        "log push": lambda: [
            gzip.compress(sink.encode_push(entries[i : i + 2000]), compresslevel=1) for i in range(0, N, 2000)
        ],
        "log first pass": lambda: [_first_pass(b) for b in log_files],
    }
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)  # as the pipeline runs (pipeline.few_collections)
    best: dict[str, float] = {}
    for _ in range(7):
        for name, stage in stages.items():
            start = time.process_time()
            stage()
            best[name] = min(best.get(name, 1e9), (time.process_time() - start) / N * 1e6)
    print(" ".join(f"{name}={us:.2f}" for name, us in best.items()), "(µs per record)")


if __name__ == "__main__":
    main()
