"""``otel-replay inspect``: what is in a bug report, with nothing running.

The inputs are read by the replay's own code (collect.py: discovery, the readers, the
filters and the dedup of ``latest*`` copies, through :class:`~otel_replay.pipeline.Pipeline`
into a sink that keeps the records). What was read becomes a plain summary (summary.py,
tree.py: pure, no I/O), shown as plain text (plain.py), with ``rich`` on a terminal
(fancy.py) or as JSON (summary dataclasses as dicts). Every value from the input is
shown through :func:`~otel_replay.inspect.values.visible`: escape codes and markup as text.
"""
