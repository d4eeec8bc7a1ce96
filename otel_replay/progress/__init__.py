"""Progress of a run for the person watching it: what is measured (meter.py: bytes of
input read, retries in progress; sizing.py: how many bytes there are), how the line looks
(render.py, pure) and where it is drawn (terminal.py: a line on a terminal, else a
notice per retry cause)."""

from otel_replay.progress.meter import ByteCounter, Meter
from otel_replay.progress.terminal import ProgressLine, RetryNotices

__all__ = ["ByteCounter", "Meter", "ProgressLine", "RetryNotices"]
