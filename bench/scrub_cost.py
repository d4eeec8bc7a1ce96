"""``make bench`` (issue 19): what ``--scrub codemachine --scrub secrets --scrub pii`` adds to
the same replay. Times the bench's CodeMachine folder (spans and logs, into loopback sinks
that accept and discard) with and without the three presets, alternately, and prints the
best wall time and the best CPU time (the replay and its workers) of each and their
ratios (the budget: at most 1.3).

Not a test: figures depend on the machine; the best of several runs each, taken in turn,
keeps a busy machine's noise out of the ratio (the CPU time is the steadier of the two
when other work shares the cores).
"""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402

BUDGET = 1.3
ROUNDS = int(os.environ.get("BENCH_SCRUB_ROUNDS", "3"))
PRESETS = ["--scrub", "codemachine", "--scrub", "secrets", "--scrub", "pii", "--scrub-salt", "bench"]


def main() -> None:
    folder = bench._folder(bench.SPANS)
    server, url = bench.serve(bench.Discard)
    args = [str(folder), "--otlp-endpoint", url, "--loki-url", url]
    best: dict[str, dict[str, object]] = {}
    for _ in range(ROUNDS):
        for label, extra in (("without --scrub", []), ("with --scrub (3 presets)", PRESETS)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = bench._run(label, [*args, *extra])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            result["cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
            if result["exit"] != 0:
                raise SystemExit(f"scrub_cost: the run {label!r} exited {result['exit']}")
            if label not in best:
                best[label] = result
            for measure in ("wall_s", "cpu_s"):
                best[label][measure] = min(float(best[label][measure]), float(result[measure]))  # type: ignore[arg-type]
    server.shutdown()
    plain, scrubbed = best["without --scrub"], best["with --scrub (3 presets)"]
    print(f"scrub cost: {plain['spans']} spans + {plain['logs']} log records, best of {ROUNDS} runs each")
    for r in (plain, scrubbed):
        print(f"  {r['run']:<28}{r['wall_s']:>8} s wall{r['cpu_s']:>8} s CPU{r['rss_mb']:>8} MB peak RSS")
    for measure, what in (("wall_s", "wall time"), ("cpu_s", "CPU time")):
        ratio = float(scrubbed[measure]) / float(plain[measure])  # type: ignore[arg-type]
        verdict = "within" if ratio <= BUDGET else "OVER"
        print(f"  ratio of {what}: {ratio:.2f} ({verdict} the budget of {BUDGET})")


if __name__ == "__main__":
    main()
