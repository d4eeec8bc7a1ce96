"""Issue 16's large single document: is the streaming path as fast as the whole-document one?

python bench/large_doc.py   (``make bench`` runs it)

From the bench's CodeMachine folder (``bench/ratios.py`` writes it), the spans of its first
130 trace files (130,000 spans) are written once more as ONE CodeMachine document of about
100 MB (``bench/data/large-doc/one/``), laid out as the exporter writes its files, and as
ONE OTLP/JSON request of one resource group and scope block (``bench/data/large-doc/otlp/``,
about 80 MB on one line: the worst case for a reader that builds a group at a time). The
same spans are replayed in turn, into a loopback sink that answers at once, from each
document (over 8 MiB: streamed) and from the 130 files they came from (each read whole),
with ``--workers 1`` and ``--workers 2`` and default flags (the first pass included).
Printed: the CPU and wall ratios document ÷ the files, the median of the rounds
(``BENCH_ROUNDS``, default 3), and each run's peak memory (sum of RSS of the tree).

A document cannot be entered in the middle the way a JSON Lines file can: with workers it
is shared as strides, each of which reads the whole of it (a CodeMachine document a window
of records at a time, decoding only its own; an OTLP/JSON request streamed), and one
process alone maps it (docs/performance.md), so the ratios show what reading one document
costs over reading files whole.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ratios  # noqa: E402
import run as table  # noqa: E402

FILES = 130
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def inputs() -> tuple[Path, Path, Path]:
    """The one CodeMachine document, the one OTLP/JSON request, the folder of the files they were made of."""
    out = table.DATA / "large-doc"
    one, otlp, files = out / "one", out / "otlp", out / "files"
    if not (otlp / "request.json").exists():  # written by a child: a bench process holding 100 MB of
        # decoded spans would be copied into the first replay it starts (fork), and counted in its peak
        subprocess.run([sys.executable, __file__, "--write", str(one), str(files), str(otlp)], check=True)
    return one / "session.json", otlp / "request.json", files


def _any_value(value: object) -> dict[str, object]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _otlp_span(span: dict[str, object]) -> dict[str, object]:
    """A CodeMachine span as OTLP/JSON writes it (times in ms → ns as strings)."""
    out: dict[str, object] = {
        "traceId": span["traceId"],
        "spanId": span["spanId"],
        "name": span["name"],
        "kind": 1,
        "startTimeUnixNano": str(int(float(span["startTime"]) * 1_000_000)),  # type: ignore[arg-type]
        "endTimeUnixNano": str(int(float(span["endTime"]) * 1_000_000)),  # type: ignore[arg-type]
        "attributes": [{"key": k, "value": _any_value(v)} for k, v in (span.get("attributes") or {}).items()],  # type: ignore[attr-defined]
    }
    if span.get("parentSpanId"):
        out["parentSpanId"] = span["parentSpanId"]
    return out


def write_otlp(spans: list[dict[str, object]], otlp: Path) -> None:
    otlp.mkdir(parents=True, exist_ok=True)
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "codemachine"}}]}
    request = {
        "resourceSpans": [
            {
                "resource": resource,
                "scopeSpans": [{"scope": {"name": "codemachine"}, "spans": [_otlp_span(s) for s in spans]}],
            }
        ]
    }
    tmp = otlp / "request.tmp"
    tmp.write_text(json.dumps(request, separators=(",", ":")))
    tmp.rename(otlp / "request.json")


def write(one: Path, files: Path, otlp: Path) -> None:
    source = sorted(p for p in ratios.folder().rglob("*.json") if not p.name.endswith("-logs.json"))[:FILES]
    files.mkdir(parents=True, exist_ok=True)
    one.mkdir(parents=True, exist_ok=True)
    spans = []
    header: dict[str, object] = {}
    for path in source:
        doc = json.loads(path.read_bytes())
        spans += doc.pop("spans")
        header = header or doc
        (files / path.name).write_bytes(path.read_bytes())
    tmp = one / "session.tmp"
    tmp.write_text(json.dumps({**header, "spanCount": len(spans), "spans": spans}, indent=2))
    tmp.rename(one / "session.json")
    write_otlp(spans, otlp)


def main() -> None:
    document, otlp, files = inputs()
    sizes = {"document": document.stat().st_size / 1e6, "otlp": otlp.stat().st_size / 1e6}
    server, url = table.serve(table.Discard)
    args = ["--otlp-endpoint", url, "--traces-only"]
    rounds = []
    for n in range(ROUNDS):
        got = {}
        for workers in ("1", "2"):
            for name, path in (("document", document), ("otlp", otlp), ("files", files)):
                got[f"{name} w{workers}"] = ratios.measure(ratios.replay(path, *args, "--workers", workers))
        rounds.append(got)
        line = "  ".join(f"{k} {v['wall']:.2f}s wall {v['cpu']:.2f}s CPU {v['mb']:.0f} MB" for k, v in got.items())
        print(f"round {n + 1}: {line}", flush=True)
    server.shutdown()
    for name, what in (("document", "CodeMachine document"), ("otlp", "OTLP/JSON request")):
        print(
            f"{FILES * 1000:,} spans as one {sizes[name]:.0f} MB {what} ÷ as {FILES} files, median of {ROUNDS} rounds:"
        )
        for workers in ("1", "2"):
            for measure in ("cpu", "wall"):
                each = [r[f"{name} w{workers}"][measure] / r[f"files w{workers}"][measure] for r in rounds]
                value = statistics.median(each)
                print(f"  --workers {workers} {measure:<5}{value:>8.2f}")
    peak = max(v["mb"] for r in rounds for v in r.values())
    print(f"  peak memory of any run: {peak:.0f} MB (sum of RSS)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
