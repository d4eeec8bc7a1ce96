"""The floor of logs → Loki on one core: the leanest Python path to the same push bodies.

python bench/logs_floor.py FOLDER   → prints one JSON line: records, wall_s, cpu_s

The logs counterpart of ``bench/floor.py``: decode each CodeMachine log file whole with
msgspec; per record, the entry the replay sends (the time in nanoseconds, the body as the
line, the trace and span ids, the attributes and the resource's other attributes as
structured metadata) in the stream of its service and severity; streams of up to 1 MiB
per push, entries sorted by time, the push body as JSON, gzip level 1. No validation, no
dedup, no time shift, no HTTP, one process. ``bench/ratios.py`` sets the replay of the
logs beside it, and it beside the original script: what is left for the checks, the
dedup and two cores to share.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec

PUSH_BYTES = 1024 * 1024
_encode = msgspec.json.Encoder().encode


def entry(record: dict[str, Any]) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """The record's time, stream and encoded ``["<ns>", line, {metadata}]`` entry."""
    seconds, nanos = record["timestamp"]
    time_ns = seconds * 1_000_000_000 + nanos
    resource = record.get("resource") or {}
    md = {k.replace(".", "_"): str(v) for k, v in resource.items() if k != "service.name"}
    for key, value in (record.get("attributes") or {}).items():
        if key == "trace.id":
            md["trace_id"] = value
        elif key == "span.id":
            md["span_id"] = value
        else:
            md[key.replace(".", "_")] = value if type(value) is str else _encode(value).decode()
    body = record.get("body")
    line = body if type(body) is str else _encode(body).decode()
    service = resource.get("service.name", "codemachine")
    stream = (("imported", "true"), ("service_name", service), ("severity_text", record.get("severityText") or ""))
    return time_ns, stream, _encode((str(time_ns), line, md))


def push(entries: list[tuple[int, tuple[tuple[str, str], ...], bytes]]) -> bytes:
    """The gzip-compressed push body of ``entries``."""
    streams: dict[tuple[tuple[str, str], ...], list[tuple[int, bytes]]] = {}
    for time_ns, stream, value in entries:
        streams.setdefault(stream, []).append((time_ns, value))
    parts = []
    for labels, values in streams.items():
        values.sort()
        parts.append(b'{"stream":' + _encode(dict(labels)) + b',"values":[' + b",".join(v for _, v in values) + b"]}")
    return gzip.compress(b'{"streams":[' + b",".join(parts) + b"]}", compresslevel=1)


def run(folder: Path) -> int:
    """Encode every log record of every log file under ``folder``; the number of records."""
    batch: list[tuple[int, tuple[tuple[str, str], ...], bytes]] = []
    count = size = 0
    for path in sorted(folder.rglob("*-logs.json")):
        for record in msgspec.json.decode(path.read_bytes()).get("logs") or ():
            made = entry(record)
            batch.append(made)
            size += len(made[2]) + 1
            if size >= PUSH_BYTES:
                push(batch)
                count += len(batch)
                batch, size = [], 0
    if batch:
        push(batch)
        count += len(batch)
    return count


if __name__ == "__main__":
    from timed import timed  # beside this script (not needed to import run)

    timed(run, "records")
