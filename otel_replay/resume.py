"""``--resume STATE_FILE``: a journal of what the backends acknowledged.

The file is a header line (JSON: format version, the run's time offset, its
destinations — redacted URLs, Loki's with its tenant, never a credential) followed by
one line per acknowledged record: ``s <trace id><span id>`` for a span, ``l <digest>``
for a log record and ``m <digest>`` for a metric data point (the digests dedup uses).
A rerun for other destinations is refused (:meth:`ResumeState.check_destinations`).
A batch's lines are appended with one ``write`` and ``fsync``-ed as soon as the backend has answered, before
the next batch is sent, so a process killed at any point leaves a journal whose complete
lines are all true. A torn last line (killed mid-write) is ignored and cut off on load.

A rerun with the same file skips every record listed and sends the rest with the first
run's time offset, so resumed records line up with the ones already delivered.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from otel_replay.model import Signal

FORMAT = 1
_MAGIC = "otel_replay_resume"


class StateFileError(ValueError):
    """The state file cannot be used; the message says why (one line)."""


#: Sinks call this with the keys of the records of a batch the backend acknowledged.
Acknowledge = Callable[[Signal, Sequence[Any]], None]


class ResumeState:
    def __init__(self, path: str) -> None:
        self.path = path
        self.spans: set[int] = set()
        self.logs: set[bytes] = set()
        self.points: set[bytes] = set()
        self._digests = {b"l": self.logs, b"m": self.points}  # journal line kind → its keys
        self._keys: dict[Signal, set[Any]] = {
            Signal.TRACES: self.spans,
            Signal.LOGS: self.logs,
            Signal.METRICS: self.points,
        }
        self.header: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._load()

    # -- reading -------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateFileError(f"{self.path}: cannot read the state file: {exc.strerror or exc}") from None
        if not data:
            return
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.split(b"\n")
        try:
            header = json.loads(lines[0])
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get(_MAGIC) != FORMAT:
            raise StateFileError(f"{self.path}: not an otel-replay state file (refusing to append to it)")
        self.header = header
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            kind, _, key = line.partition(b" ")
            try:
                if kind == b"s" and len(key) == 48:
                    self.spans.add(int(key, 16))
                elif kind in self._digests and len(key) == 32:
                    self._digests[kind].add(bytes.fromhex(key.decode("ascii")))
                else:
                    raise ValueError
            except ValueError:
                raise StateFileError(f"{self.path}: line {number} is damaged; not a state file line") from None
        if len(complete) != len(data):  # a torn last line: the process died mid-write
            with open(self.path, "r+b") as fh:
                fh.truncate(len(complete))

    @property
    def time_offset_ns(self) -> int | None:
        return None if self.header is None else int(self.header.get("time_offset_ns") or 0)

    @property
    def replay_id(self) -> str | None:
        """The first run's id in Loki's structured metadata (a resumed run keeps it)."""
        return None if self.header is None else self.header.get("replay_id")

    def delivered(self, signal: Signal, key: int | bytes) -> bool:
        """Whether an earlier run journaled the record with this key (its ``record_key``)."""
        return key in self._keys[signal]

    def check_shard(self, shard: str | None) -> None:
        """:class:`StateFileError` when the journal was written by another ``--shard``
        (or by a run without one, or this run has none): each shard journals its own share."""
        if self.header is None or self.header.get("shard") == shard:
            return
        written = self.header.get("shard")
        by = f"shard {written} (--shard {written})" if written else "a run without --shard"
        this = f"shard {shard}" if shard else "a run without --shard"
        raise StateFileError(f"{self.path} was written by {by}; this is {this}: give each shard its own state file")

    def check_destinations(self, destinations: dict[str, str], elsewhere: bool = False) -> None:
        """:class:`StateFileError` when the journal was written for other destinations
        than these (each signal's URL, redacted, with the Loki tenant: as the header has
        them): the records it lists were delivered there, not here. ``elsewhere``
        (--resume-elsewhere) accepts that. Signals only one of the runs sends are not compared."""
        if self.header is None or elsewhere:
            return
        recorded = self.header.get("destinations")
        recorded = recorded if isinstance(recorded, dict) else {}
        differ = [
            f"{name} went to {recorded[name]}, now {url}"
            for name, url in destinations.items()
            if name in recorded and recorded[name] != url
        ]
        if differ:
            raise StateFileError(
                f"{self.path} was written for other destinations ({'; '.join(differ)}): the records it lists "
                "would not be sent to these. Start fresh with another state file (or delete this one), or "
                "add --resume-elsewhere to skip them anyway"
            )

    # -- writing -------------------------------------------------------------------------
    def start(
        self, time_offset_ns: int, destinations: dict[str, str], replay_id: str | None = None, shard: str | None = None
    ) -> None:
        """Open the journal for appending; a new file gets its header first."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            self._fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise StateFileError(f"{self.path}: cannot write the state file: {exc.strerror or exc}") from None
        if self.header is None:
            self.header = {_MAGIC: FORMAT, "time_offset_ns": time_offset_ns, "destinations": destinations}
            if replay_id:
                self.header["replay_id"] = replay_id
            if shard:
                self.header["shard"] = shard
            self._append(json.dumps(self.header).encode() + b"\n")

    def acknowledge(self, signal: Signal, keys: Sequence[Any]) -> None:
        """Journal records the backend has acknowledged (their ``record_key``);
        durable when this returns."""
        if not keys:
            return
        if signal is Signal.TRACES:
            lines = b"".join(b"s %048x\n" % k for k in keys)
        else:
            kind = b"l" if signal is Signal.LOGS else b"m"
            lines = b"".join(kind + b" " + k.hex().encode() + b"\n" for k in keys)
        with self._lock:
            self._append(lines)
            self._keys[signal].update(keys)

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
