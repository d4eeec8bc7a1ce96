"""Log records read back from Loki: per stream, a LogQL count of this run's entries
(``| replay_id="…"``) over the time range sent, compared with what was sent, counted as
Loki counts (entries identical in stream, time and line are one). A stream that comes
up short is then read entry by entry (``query_range``) to name the records missing.

Loki serves entries older than ``query_ingesters_within`` (3 h by default) only after
its ingester flushed them (up to 2 h later): a shortfall among such entries says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

from otel_replay.model import Signal
from otel_replay.sinks.loki import REPLAY_ID_KEY
from otel_replay.verify.poll import Rounds
from otel_replay.verify.quoting import quoted
from otel_replay.verify.result import SignalCheck, shown
from otel_replay.verify.sent import Labels, SentEntry
from otel_replay.verify.tempo import QueryError

#: Loki's ``max_entries_limit_per_query`` default: the most entries one query returns.
ENTRY_LIMIT = 5000
#: Loki's ``query_ingesters_within`` default: older entries are served only once flushed.
INGESTER_WINDOW_NS = 3 * 3600 * 10**9
SECOND = 10**9
#: The longest time range verify asks Loki about in one query: under Loki's
#: ``max_query_length`` (721h by default), which refuses longer ones with a 400.
MAX_QUERY_NS = 720 * 3600 * SECOND
#: Loki's answer to a query over a longer range than ``max_query_length`` (its ErrQueryTooLong).
TOO_LONG = "the query time range exceeds the limit"
_LIMIT = re.compile(r"limit: ((?:\d+(?:ms|[ywdhms]))+)")
_UNIT_NS = {"ms": 10**6, "s": SECOND, "m": 60 * SECOND, "h": 3600 * SECOND, "d": 86400 * SECOND}
_UNIT_NS |= {"w": 7 * _UNIT_NS["d"], "y": 365 * _UNIT_NS["d"]}
Key = tuple[int, str]  # (time, line): what Loki keeps one of, in a stream


def selector(stream: Labels, replay_id: str | None) -> str:
    """The LogQL log query of one stream's entries (of this run, when it has an id)."""
    labels = ", ".join(f"{k}={quoted(v)}" for k, v in stream)
    restrict = f" | {REPLAY_ID_KEY}={quoted(replay_id)}" if replay_id else ""
    return "{" + labels + "}" + restrict


def count_query(stream: Labels, replay_id: str | None, range_s: int) -> str:
    return f"sum(count_over_time({selector(stream, replay_id)} [{range_s}s]))"


class QueryTooLong(QueryError):
    """Loki refused a query's time range as longer than its ``max_query_length``."""

    def __init__(self, text: str) -> None:
        super().__init__(f"Loki refused the query's time range: {text[:200].strip()!r}")
        limit = _LIMIT.search(text)
        #: The limit Loki named (ns), when it could be read.
        self.limit_ns = (
            sum(int(n) * _UNIT_NS[u] for n, u in re.findall(r"(\d+)(ms|[ywdhms])", limit.group(1))) if limit else 0
        )


def windows(start_ns: int, end_ns: int, longest_ns: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into consecutive windows of at most ``longest_ns``, whole seconds
    long except perhaps the first (the last ends at ``end_ns``)."""
    longest_ns = max(SECOND, longest_ns // SECOND * SECOND)
    out: list[tuple[int, int]] = []
    while end_ns - start_ns > longest_ns:
        out.append((end_ns - longest_ns, end_ns))
        end_ns -= longest_ns
    out.append((start_ns, end_ns))
    return out[::-1]


class LokiReader:
    def __init__(self, base_url: str, session: requests.Session, timeout: float, headers: dict[str, str]) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._timeout = timeout
        self._headers = headers
        self.longest_ns = MAX_QUERY_NS  # shortened once when Loki's max_query_length is lower

    def _split(self, ask: Callable[[int, int], Any], start_ns: int, end_ns: int) -> list[Any]:
        """``ask(start, end)`` for each window of ``[start, end)`` Loki accepts as one query;
        when Loki refuses a window as too long and names a lower limit, once more with that."""
        try:
            return [ask(a, b) for a, b in windows(start_ns, end_ns, self.longest_ns)]
        except QueryTooLong as exc:
            if not SECOND < exc.limit_ns < self.longest_ns:
                hours = self.longest_ns // (3600 * SECOND)
                raise QueryError(f"{exc} (verify asked over at most {hours}h at a time)") from None
            self.longest_ns = exc.limit_ns - SECOND
            return [ask(a, b) for a, b in windows(start_ns, end_ns, self.longest_ns)]

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        url = self.base_url + path
        try:
            answer = self._session.get(url, params=params, timeout=self._timeout, headers=self._headers)
        except requests.RequestException as exc:
            raise QueryError(f"cannot ask Loki at {self.base_url}: {type(exc).__name__}") from None
        if answer.status_code == 400 and TOO_LONG in answer.text:
            raise QueryTooLong(answer.text)
        if answer.status_code != 200:
            raise QueryError(f"Loki answered {answer.status_code} to {path}: {answer.text[:200].strip()!r}")
        try:
            data = answer.json()["data"]
            assert isinstance(data, dict)
            return data
        except (ValueError, KeyError, TypeError, AssertionError):
            raise QueryError(f"Loki's answer to {path} is not a query result") from None

    def count(self, stream: Labels, replay_id: str | None, first_ns: int, last_ns: int) -> int:
        """This run's entries of the stream from ``first_ns`` to ``last_ns``: instant
        queries, one per window, the last at a second after ``last_ns``, over ranges that
        together start before ``first_ns``."""
        end = last_ns + SECOND
        start = end - ((last_ns - first_ns) // SECOND + 2) * SECOND
        return sum(self._split(lambda a, b: self._count(stream, replay_id, a, b), start, end))

    def _count(self, stream: Labels, replay_id: str | None, start_ns: int, end_ns: int) -> int:
        """Entries with start < time <= end (whole seconds apart)."""
        query = count_query(stream, replay_id, (end_ns - start_ns) // SECOND)
        data = self._get("/loki/api/v1/query", {"query": query, "time": str(end_ns)})
        result = data.get("result") or []
        return int(float(result[0]["value"][1])) if result else 0

    def entries(self, stream: Labels, replay_id: str | None, start_ns: int, end_ns: int) -> Counter[Key]:
        """Every entry of the stream with start <= time < end, in windows Loki accepts."""
        parts = self._split(lambda a, b: self._entries(stream, replay_id, a, b), start_ns, end_ns)
        return sum(parts, Counter())

    def _entries(self, stream: Labels, replay_id: str | None, start_ns: int, end_ns: int) -> Counter[Key]:
        """Every entry of the stream with start <= time < end, read in halves when a window
        reaches Loki's per-query limit."""
        params = {
            "query": selector(stream, replay_id),
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(ENTRY_LIMIT),
            "direction": "forward",
        }
        data = self._get("/loki/api/v1/query_range", params)
        out: Counter[Key] = Counter()
        for result in data.get("result") or []:
            for value in result.get("values") or []:
                out[(int(value[0]), value[1])] += 1
        if sum(out.values()) >= ENTRY_LIMIT and end_ns - start_ns > 1:
            mid = (start_ns + end_ns) // 2
            return self._entries(stream, replay_id, start_ns, mid) + self._entries(stream, replay_id, mid, end_ns)
        return out


def by_stream(entries: list[SentEntry]) -> dict[Labels, dict[Key, SentEntry]]:
    """What Loki keeps of what was sent: per stream, one entry per (time, line)."""
    out: dict[Labels, dict[Key, SentEntry]] = {}
    for e in entries:
        out.setdefault(e.stream, {}).setdefault((e.time_ns, e.line), e)
    return out


def check_logs(
    entries: list[SentEntry],
    reader: LokiReader,
    replay_id: str | None,
    deadline_s: float,
    notify: Callable[[str], None],
    now_ns: int,
    visible_within_ns: int = INGESTER_WINDOW_NS,
) -> SignalCheck:
    streams = by_stream(entries)
    check = SignalCheck(Signal.LOGS, "entries", sent=sum(len(s) for s in streams.values()))
    if len(entries) > check.sent:
        check.notes.append(f"{len(entries) - check.sent} sent entries repeat another's stream, time and line")
    if replay_id is None:
        check.notes.append("no replay id: every entry of these streams in the time range is counted")
    counts: dict[Labels, int] = {}
    rounds = Rounds(deadline_s, notify, lambda n: f"Loki to serve {n} stream(s)")
    pending = list(streams)
    try:
        while pending:
            for stream in pending:
                keys = streams[stream]
                counts[stream] = reader.count(stream, replay_id, min(k[0] for k in keys), max(k[0] for k in keys))
            pending = [s for s in pending if counts[s] < len(streams[s])]
            if not rounds.again(len(pending)):
                break
        absent = NotYetServed(check, now_ns - visible_within_ns if visible_within_ns else None)
        for stream, keys in streams.items():
            _compare(stream, keys, counts[stream], reader, replay_id, absent)
    except QueryError as exc:
        check.error = str(exc)
    return check


def _compare(
    stream: Labels,
    keys: dict[Key, SentEntry],
    count: int,
    reader: LokiReader,
    replay_id: str | None,
    absent: NotYetServed,
) -> None:
    check = absent.check
    name = "{" + ", ".join(f"{k}={quoted(v)}" for k, v in stream) + "}"
    if count == len(keys):
        check.found += count
        return
    if count > len(keys):
        check.found += len(keys)
        check.differ(f"stream {name}: {count} entries read back, {len(keys)} sent")
        return
    times = [k[0] for k in keys]
    got = reader.entries(stream, replay_id, min(times), max(times) + 1)
    for key, sent in sorted(keys.items()):
        if got[key]:
            check.found += 1
        else:
            absent.record(key[0], f"log record {sent.origin} {name} at {key[0]} {shown(key[1], 80)}")


class NotYetServed:
    """A sent entry that Loki does not serve: missing, or — when older than what its
    queriers ask the ingester about (``query_ingesters_within``, 3 h by default, which
    ``--loki-visible-within`` tells otherwise) — stored (Loki answered 204) but not yet
    queryable: it is served once the ingester flushes its chunk (up to 2 hours later)."""

    def __init__(self, check: SignalCheck, served_from_ns: int | None) -> None:
        self.check = check
        self._served_from_ns = served_from_ns

    def record(self, time_ns: int, text: str) -> None:
        if self._served_from_ns is None or time_ns >= self._served_from_ns:
            self.check.miss(text)
            return
        if not self.check.not_yet:
            self.check.notes.append(
                "entries older than what Loki's queriers ask its ingester about (3 hours by default) are "
                "stored but served only once the ingester flushes them (up to 2 hours after the push): "
                "verify again later; replay without --keep-times to move a recording to now; "
                "docs/time.md has the Loki settings that serve them at once"
            )
        self.check.not_yet_queryable(text)
