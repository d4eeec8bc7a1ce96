"""``make bench`` (issue 19): what ``--scrub codemachine --scrub secrets --scrub pii`` adds to
the same replay. Times the bench's CodeMachine folder (spans and logs, into loopback sinks
that accept and discard) with and without the three presets, alternately, and prints the
best wall time of each and their ratio (the budget: at most 1.3).

Not a test: figures depend on the machine; the best of several runs each, taken in turn,
keeps a busy machine's noise out of the ratio.
"""

from __future__ import annotations

import os
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
    server, url = bench._serve(bench._Discard)
    args = [str(folder), "--otlp-endpoint", url, "--loki-url", url]
    best: dict[str, dict[str, object]] = {}
    for _ in range(ROUNDS):
        for label, extra in (("without --scrub", []), ("with --scrub (3 presets)", PRESETS)):
            result = bench._run(label, [*args, *extra])
            if result["exit"] != 0:
                raise SystemExit(f"scrub_cost: the run {label!r} exited {result['exit']}")
            if label not in best or float(result["wall_s"]) < float(best[label]["wall_s"]):  # type: ignore[arg-type]
                best[label] = result
    server.shutdown()
    plain, scrubbed = best["without --scrub"], best["with --scrub (3 presets)"]
    print(f"scrub cost: {plain['spans']} spans + {plain['logs']} log records, best of {ROUNDS} runs each")
    for r in (plain, scrubbed):
        print(f"  {r['run']:<28}{r['wall_s']:>8} s{r['rss_mb']:>8} MB peak RSS")
    ratio = float(scrubbed["wall_s"]) / float(plain["wall_s"])  # type: ignore[arg-type]
    verdict = "within" if ratio <= BUDGET else "OVER"
    print(f"  ratio {ratio:.2f} ({verdict} the budget of {BUDGET})")


if __name__ == "__main__":
    main()
