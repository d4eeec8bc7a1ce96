"""``--resume STATE_FILE``: a journal of what was sent and what the backends acknowledged.

The file is a header line (JSON: format version, the run's time offset, its
destinations — redacted URLs, Loki's with its tenant, never a credential) followed by
one line per event, each appended with one ``write`` and ``fsync``-ed before the run goes on:

- ``p <batch> <kind> <key> <key> …`` — a batch is about to be sent (``kind``: ``s`` spans,
  keyed by trace id + span id; ``l`` log records and ``m`` metric data points, by the
  digest dedup uses). Written before the request leaves, so a record the backend may
  have is always in the journal.
- ``d <batch>`` — the backend answered and stored it (a partial success included: what
  it refused would be refused again); ``x <batch>`` — it is settled without being stored
  (refused, failed), or an earlier batch was read back (below).
- ``s <key>`` / ``l <key>`` / ``m <key>`` — one record known to be stored: format 1 wrote
  only these; format 2 writes them for what a read-back found.

A batch with a ``p`` line and neither ``d`` nor ``x`` was in flight when the process was
killed: the backend may have it. :mod:`otel_replay.resume_check` asks the backend about
those records before the rerun sends anything (see there). A torn last line (killed
mid-write) is ignored and cut off on load; a format 1 file is rewritten as format 2 when
the run starts (its lines are format 2 lines).

A rerun with the same file skips every record stored and sends the rest with the first
run's time offset, so resumed records line up with the ones already delivered. A rerun
for other destinations is refused (:meth:`ResumeState.check_destinations`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from otel_replay.model import Signal

FORMAT = 2
_READABLE = (1, 2)
_MAGIC = "otel_replay_resume"
_KINDS = {b"s": Signal.TRACES, b"l": Signal.LOGS, b"m": Signal.METRICS}
_KIND_OF = {signal: kind for kind, signal in _KINDS.items()}


class StateFileError(ValueError):
    """The state file cannot be used; the message says why (one line)."""


class Journal(Protocol):
    """What a sink tells the journal: a batch about to be sent (its records' keys; returns
    the batch's number, durable when it returns) and how it was settled."""

    def sending(self, signal: Signal, keys: Sequence[Any]) -> int: ...

    def answered(self, signal: Signal, batch: int, stored: bool) -> None: ...


def _key(kind: bytes, text: bytes) -> int | bytes:
    """A record key from its hex text (ValueError: not one)."""
    if kind == b"s" and len(text) == 48:
        return int(text, 16)
    if kind in (b"l", b"m") and len(text) == 32:
        return bytes.fromhex(text.decode("ascii"))
    raise ValueError


def _hex(signal: Signal, key: Any) -> bytes:
    return b"%048x" % key if signal is Signal.TRACES else key.hex().encode()


@dataclass
class Parsed:
    """A journal's content: its header, the records stored, the batches still pending
    (sent, never settled: batch number → signal and keys) and the highest batch number."""

    header: dict[str, Any]
    stored: dict[Signal, set[Any]] = field(default_factory=lambda: {s: set() for s in Signal})
    pending: dict[int, tuple[Signal, list[Any]]] = field(default_factory=dict)
    last_batch: int = 0


def parse(data: bytes, name: str) -> tuple[Parsed, int]:
    """The journal in ``data`` (its complete lines), and how many bytes those are."""
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.split(b"\n")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get(_MAGIC) not in _READABLE:
        version = header.get(_MAGIC) if isinstance(header, dict) else None
        if isinstance(version, int):
            raise StateFileError(
                f"{name}: written by a newer otel-replay (state file format {version}); "
                "finish the run with that version, or start fresh with another state file"
            )
        raise StateFileError(f"{name}: not an otel-replay state file (refusing to append to it)")
    out = Parsed(header)
    for number, line in enumerate(lines[1:], start=2):
        if line:
            try:
                _line(out, line)
            except (ValueError, KeyError):
                raise StateFileError(f"{name}: line {number} is damaged; not a state file line") from None
    for batch, (signal, keys) in list(out.pending.items()):
        left = [k for k in keys if k not in out.stored[signal]]
        if left:
            out.pending[batch] = (signal, left)
        else:
            del out.pending[batch]
    return out, len(complete)


def _line(out: Parsed, line: bytes) -> None:
    kind, _, rest = line.partition(b" ")
    if kind in _KINDS:
        out.stored[_KINDS[kind]].add(_key(kind, rest))
    elif kind == b"p":
        number, what, *keys = rest.split(b" ")
        batch = int(number)
        out.pending[batch] = (_KINDS[what], [_key(what, k) for k in keys])
        out.last_batch = max(out.last_batch, batch)
    elif kind in (b"d", b"x"):
        signal, keys = out.pending.pop(int(rest))
        if kind == b"d":
            out.stored[signal].update(keys)
    else:
        raise ValueError


class ResumeState:
    def __init__(self, path: str) -> None:
        self.path = path
        self.header: dict[str, Any] | None = None
        self._stored: dict[Signal, set[Any]] = {s: set() for s in Signal}
        #: Batches an earlier run sent and never settled: number → (signal, keys not stored).
        self.pending: dict[int, tuple[Signal, list[Any]]] = {}
        self._next = 1
        self._sending: dict[int, list[Any]] = {}  # this run's batches in flight
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._load()

    @property
    def spans(self) -> set[int]:
        return self._stored[Signal.TRACES]

    @property
    def logs(self) -> set[bytes]:
        return self._stored[Signal.LOGS]

    @property
    def points(self) -> set[bytes]:
        return self._stored[Signal.METRICS]

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
        parsed, complete = parse(data, self.path)
        self.header, self._stored, self.pending = parsed.header, parsed.stored, parsed.pending
        self._next = parsed.last_batch + 1
        if complete != len(data):  # a torn last line: the process died mid-write
            with open(self.path, "r+b") as fh:
                fh.truncate(complete)

    @property
    def time_offset_ns(self) -> int | None:
        return None if self.header is None else int(self.header.get("time_offset_ns") or 0)

    @property
    def replay_id(self) -> str | None:
        """The first run's id in Loki's structured metadata (a resumed run keeps it)."""
        return None if self.header is None else self.header.get("replay_id")

    def delivered(self, signal: Signal, key: int | bytes) -> bool:
        """Whether the backend stored the record with this key (its ``record_key``)."""
        return key in self._stored[signal]

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
        """Open the journal for appending; a new file gets its header first, a format 1
        file a format 2 header."""
        if self.header is not None and self.header.get(_MAGIC) != FORMAT:
            self._upgrade()
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

    def _upgrade(self) -> None:
        """The file with a format 2 header, its other lines as they are (replaced at once)."""
        assert self.header is not None
        self.header = {**self.header, _MAGIC: FORMAT}
        temporary = f"{self.path}.upgrade"
        try:
            with open(self.path, "rb") as old, open(temporary, "wb") as new:
                old.readline()
                new.write(json.dumps(self.header).encode() + b"\n" + old.read())
                new.flush()
                os.fsync(new.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise StateFileError(f"{self.path}: cannot write the state file: {exc.strerror or exc}") from None

    def sending(self, signal: Signal, keys: Sequence[Any]) -> int:
        """Journal a batch about to be sent; returns its number (durable when this returns)."""
        kind = _KIND_OF[signal]
        with self._lock:
            batch, self._next = self._next, self._next + 1
            self._sending[batch] = list(keys)
            self._append(b"p %d %s %s\n" % (batch, kind, b" ".join(_hex(signal, k) for k in keys)))
        return batch

    def answered(self, signal: Signal, batch: int, stored: bool) -> None:
        """Journal a batch's settling: ``stored`` by the backend (its records are not sent
        again) or not (they are)."""
        with self._lock:
            keys = self._sending.pop(batch)
            self._append(b"%s %d\n" % (b"d" if stored else b"x", batch))
            if stored:
                self._stored[signal].update(keys)

    def acknowledge(self, signal: Signal, keys: Sequence[Any]) -> None:
        """Journal records known to be stored (one line each)."""
        if not keys:
            return
        kind = _KIND_OF[signal]
        with self._lock:
            self._append(b"".join(kind + b" " + _hex(signal, k) + b"\n" for k in keys))
            self._stored[signal].update(keys)

    def settle_pending(self, batches: Sequence[int]) -> None:
        """Earlier runs' pending ``batches`` are settled (their records read back, or not
        to be asked about again: they are sent again)."""
        if not batches:
            return
        with self._lock:
            self._append(b"".join(b"x %d\n" % b for b in batches))
            for b in batches:
                self.pending.pop(b, None)

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
