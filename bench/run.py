"""``make bench``: replay large inputs into loopback sinks that accept and discard, and
print spans/s, log records/s, peak RSS and wall time for each run.

Not a test: figures depend on the machine. Inputs are generated once into bench/data/.
The sinks run in this process (threads), the replay in a child process. Peak RSS is the
largest *sum* of proportional set sizes (PSS: a page shared by n processes counts 1/n
in each) over the replay's process tree — the replay, its forkserver and its
``--workers`` processes — sampled every 100 ms from /proc, and never less than the
replay process's own peak RSS (``wait4``). All share the machine's cores, as they would with a local
Collector.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

TARGETS = {"spans/s": 40_000, "logs/s": 150_000, "rss_mb": 200}
SPANS = int(os.environ.get("BENCH_SPANS", "200000"))
JSONL_SPANS = int(os.environ.get("BENCH_JSONL_SPANS", "1000000"))
REMOTE_SPANS = 20_000
SMALL_SESSIONS_SPANS = 40_000
REMOTE_LATENCY_S = 0.05


class Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/loki/"):
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"partialSuccess":{}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Remote(Discard):
    """A sink 50 ms away: each answer comes after a round trip to a distant backend."""

    def do_POST(self) -> None:
        time.sleep(REMOTE_LATENCY_S)
        super().do_POST()


def _folder(spans: int, session_size: int = generate.SESSION) -> Path:
    folder = DATA / (
        f"codemachine-{spans}" if session_size == generate.SESSION else f"codemachine-{spans}-{session_size}"
    )
    if not folder.exists():
        print(f"generating {folder} …", flush=True)
        generate.codemachine(folder.with_suffix(".tmp"), spans, 1, session_size=session_size)
        folder.with_suffix(".tmp").rename(folder)
    return folder


def _inputs() -> tuple[Path, Path]:
    folder = _folder(SPANS)
    jsonl = DATA / f"otlp-{JSONL_SPANS}.jsonl"
    if not jsonl.exists():
        print(f"generating {jsonl} …", flush=True)
        generate.otlp_jsonl(jsonl.with_suffix(".tmp"), JSONL_SPANS)
        jsonl.with_suffix(".tmp").rename(jsonl)
    return folder, jsonl


def tree_kb(root: int, field: str = "Pss:") -> int:
    """Resident KiB (``field`` of smaps_rollup: ``Pss:`` or ``Rss:``) of ``root`` and all its
    descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry)] = int(fields.get("PPid", "0"))
    for pid in _descendants(root, parents):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        pss = next((line.split()[1] for line in rollup.splitlines() if line.startswith(field)), "0")
        rss[pid] = int(pss)
    return sum(rss.values())


def _descendants(root: int, parents: dict[int, int]) -> set[int]:
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def _run(label: str, args: list[str]) -> dict[str, object]:
    cmd = [sys.executable, "-m", "otel_replay", "replay", *args, "--json"]
    with tempfile.TemporaryFile() as errors:  # what the run said, shown when it gives no summary
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                peak[0] = max(peak[0], tree_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out = proc.stdout.read()
        done.set()
        sampler.join()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        errors.seek(0)
        said = errors.read().decode(errors="replace").strip().splitlines()
    if not out.strip():
        raise SystemExit(f"{label}: no summary (exit {os.waitstatus_to_exitcode(status)}): {said[-1] if said else ''}")
    summary = json.loads(out)
    spans = summary["signals"]["traces"]["sent"]
    logs = summary["signals"]["logs"]["sent"]
    return {
        "run": label,
        "spans": spans,
        "logs": logs,
        "wall_s": round(wall, 2),
        "spans/s": round(spans / wall) if spans else None,
        "logs/s": round(logs / wall) if logs else None,
        "rss_mb": round(max(peak[0], usage.ru_maxrss) / 1024),
        "exit": os.waitstatus_to_exitcode(status),
    }


def compiled(checkout: Path) -> None:
    """The checkout's bytecode written first, as an installed package has it (pip compiles
    it at install): a checkout run with PYTHONDONTWRITEBYTECODE set compiled every module
    on every run, 0.15 s of each run's start measured as the replay's."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(checkout / "otel_replay")], check=True)


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _serve_grpc() -> tuple[object, str]:
    """An OTLP/gRPC traces receiver that accepts and discards (grpcio, threads here)."""
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Discard(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: object, context: object) -> object:
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Discard(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    compiled(Path(__file__).resolve().parent.parent)
    folder, jsonl = _inputs()
    small = _folder(REMOTE_SPANS)
    sessions = _folder(SMALL_SESSIONS_SPANS, 100)  # a report of many short sessions
    server, url = serve(Discard)
    grpc_server, grpc_url = _serve_grpc()
    over_grpc = ["--otlp-protocol", "grpc", "--otlp-endpoint", grpc_url, "--traces-only"]
    remote, far = serve(_Remote)
    one = ["--workers", "1"]
    runs = [
        _run("CodeMachine spans → OTLP", [str(folder), "--otlp-endpoint", url, "--traces-only"]),
        _run("  the same, --workers 1", [str(folder), "--otlp-endpoint", url, "--traces-only", *one]),
        _run("  the same, over gRPC", [str(folder), *over_grpc]),
        _run("CodeMachine logs → Loki", [str(folder), "--loki-url", url, "--logs-only"]),
        _run("  the same, --workers 1", [str(folder), "--loki-url", url, "--logs-only", *one]),
        _run("CodeMachine both", [str(folder), "--otlp-endpoint", url, "--loki-url", url]),
        _run("  400 sessions of 100, both", [str(sessions), "--otlp-endpoint", url, "--loki-url", url]),
        _run("OTLP JSONL spans → OTLP", [str(jsonl), "--otlp-endpoint", url, "--traces-only"]),
        *(
            _run(f"50 ms away, --concurrency {c}", [str(small), "--otlp-endpoint", far, "--traces-only", *conc])
            for c, conc in (("1", ["--concurrency", "1"]), ("2", []), ("4", ["--concurrency", "4"]))
        ),
    ]
    server.shutdown()
    remote.shutdown()
    grpc_server.stop(None)  # type: ignore[attr-defined]
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}")
    print(f"{'run':<30}{'records':>10}{'wall s':>9}{'spans/s':>10}{'logs/s':>10}{'peak RSS MB':>13}{'exit':>6}")
    for r in runs:
        records = f"{r['spans']}+{r['logs']}" if r["spans"] and r["logs"] else str(r["spans"] or r["logs"])
        print(
            f"{r['run']:<30}{records:>10}{r['wall_s']:>9}{r['spans/s'] or '-':>10}{r['logs/s'] or '-':>10}"
            f"{r['rss_mb']:>13}{r['exit']:>6}"
        )
    spans, logs, rss = TARGETS["spans/s"], TARGETS["logs/s"], TARGETS["rss_mb"]
    print(f"targets: >= {spans} spans/s, >= {logs} logs/s, peak RSS <= {rss} MB")
    (DATA / "last.json").write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
