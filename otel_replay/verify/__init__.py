"""``otel-replay verify`` and ``replay --verify``: read back what a replay sent.

What was sent is worked out again from the inputs (sent.py: the same sources, filters,
dedup, resource rewrite and time offset as the replay, into sinks that only collect),
then compared with what the backends' query APIs answer: Tempo's trace by id (tempo.py)
and Loki's LogQL counts of this run's entries (loki.py). result.py says found / missing
/ different per signal and the exit status; run.py ties them together.

Nothing is imported here: every command imports flags.py (through the command line), and
only a read-back needs the readers.
"""
