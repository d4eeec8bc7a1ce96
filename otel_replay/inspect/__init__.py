"""``otel-replay inspect``: what is in a bug report, with nothing running.

command.py declares the flags; run.py does the work. The inputs are read by the replay's
own code (collect.py: discovery, the readers, the filters and the dedup of ``latest*``
copies, through :class:`~otel_replay.pipeline.Pipeline` into a sink that keeps the
records). What was read becomes plain data, by pure functions: summary.py (files,
sessions, services, counts, traces), metrics.py, tree.py (one trace), complaints.py (what
replay would say, by report.py's own code). layout.py turns it into blocks of cells,
every value from the input through :func:`~otel_replay.inspect.values.visible` (escape
codes and markup shown as text); plain.py prints them as text, fancy.py with ``rich`` on a
terminal; ``--json`` prints the plain data.
"""
