"""Issue 16's large single document: is the streaming path as fast as the whole-document one?

python bench/large_doc.py   (``make bench`` runs it)

From the bench's CodeMachine folder (``bench/ratios.py`` writes it), the spans of its first
130 trace files (130,000 spans) are written once more as ONE CodeMachine document of about
100 MB (``bench/data/large-doc/one/``), laid out as the exporter writes its files. The
same spans are replayed in turn, into a loopback sink that answers at once, from that one
document (over 8 MiB: streamed) and from the 130 files they came from (each read whole),
with ``--workers 1`` and ``--workers 2`` and default flags (the first pass included).
Printed: the CPU and wall ratios one document ÷ the files, the median of the rounds
(``BENCH_ROUNDS``, default 3), and each run's peak memory (sum of RSS of the tree).

One document is read by one process whatever ``--workers`` says (it cannot be entered in
the middle the way a JSON Lines file can), so with two workers the wall ratio shows what
the second core does not buy for it.
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


def inputs() -> tuple[Path, Path]:
    """The one document and the folder of the files it was made of."""
    out = table.DATA / "large-doc"
    one, files = out / "one", out / "files"
    if not (one / "session.json").exists():  # written by a child: a bench process holding 100 MB of
        # decoded spans would be copied into the first replay it starts (fork), and counted in its peak
        subprocess.run([sys.executable, __file__, "--write", str(one), str(files)], check=True)
    return one / "session.json", files


def write(one: Path, files: Path) -> None:
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


def main() -> None:
    document, files = inputs()
    size = document.stat().st_size / 1e6
    server, url = table.serve(table.Discard)
    args = ["--otlp-endpoint", url, "--traces-only"]
    rounds = []
    for n in range(ROUNDS):
        got = {}
        for workers in ("1", "2"):
            for name, path in (("document", document), ("files", files)):
                got[f"{name} w{workers}"] = ratios.measure(ratios.replay(path, *args, "--workers", workers))
        rounds.append(got)
        line = "  ".join(f"{k} {v['wall']:.2f}s wall {v['cpu']:.2f}s CPU {v['mb']:.0f} MB" for k, v in got.items())
        print(f"round {n + 1}: {line}", flush=True)
    server.shutdown()
    print(f"{FILES * 1000:,} spans as one {size:.0f} MB document ÷ as {FILES} files, median of {ROUNDS} rounds:")
    for workers in ("1", "2"):
        for measure in ("cpu", "wall"):
            each = [r[f"document w{workers}"][measure] / r[f"files w{workers}"][measure] for r in rounds]
            value = statistics.median(each)
            print(f"  --workers {workers} {measure:<5}{value:>8.2f}")
    peak = max(v["mb"] for r in rounds for v in r.values())
    print(f"  peak memory of any run: {peak:.0f} MB (sum of RSS)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
