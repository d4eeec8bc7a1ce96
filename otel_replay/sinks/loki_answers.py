"""What Loki's answer to a push means, as an :data:`~otel_replay.sinks.delivery.Outcome`.

A 400 is usually a partial success: Loki stored the valid entries and lists the refused
ones. Loki 3.4 writes them in two formats (both seen from the real server):

- the distributor groups its validation errors: ``2 errors like: Max entry size '262144'
  bytes exceeded for stream '{…}' …; 1 errors like: entry for stream '{…}' has timestamp
  too old: …`` (a message without a count stands for one entry). A label problem is named
  once per *stream* and refuses all of that stream's entries;
- the ingester lists a few refused entries of a stream (``entry with timestamp … ignored,
  reason: '…'``) and then sums up: ``total ignored: N out of M for stream: {…}``.

Only a push whose labels cannot be parsed at all is refused whole (nothing is stored).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from otel_replay.sinks.delivery import Delivered, Outcome, Partial, Permanent, retry_after_seconds, status_outcome
from otel_replay.sinks.http import one_line

REASONS = {
    "too_old": "timestamp too old (older than Loki's reject_old_samples_max_age, 7 days by default)",
    "too_new": "timestamp too new (in the future beyond Loki's creation_grace_period)",
    "too_far_behind": "entry too far behind the stream's newest entry (Loki accepts max_chunk_age/2, 1h by default)",
    "line_too_long": "line too long (over Loki's max_line_size)",
    "metadata_too_large": "structured metadata too large (over Loki's max_structured_metadata_size)",
    "metadata_entries": "too many structured metadata entries (over Loki's max_structured_metadata_entries_count)",
    "rate_limited": "per-stream rate limit",
    "labels": "labels refused",
}
OLD_ENTRIES_HINT = (
    "Loki refused entries as too old or too far behind their stream: replay with --shift-to-now "
    "(or --time-offset) so the newest record lands at the current time; see README, Troubleshooting"
)
_TOTAL = re.compile(r"total ignored: (\d+) out of \d+")
_ENTRY_REASON = re.compile(r"ignored, reason: '([^']*)")
_GROUP = re.compile(r"(?:^|; )(\d+) errors like: ")
_STREAM = re.compile(r"stream '(\{.*?\})'")
#: Errors that refuse the whole push: Loki could not read its streams at all.
_WHOLE_PUSH = ("couldn't parse labels", "at least one label pair is required", "loghttp.", "unmarshal", "gzip: ")


#: The words that mark each reason in Loki's messages, looked for in this order (the first
#: that matches names the reason).
_MARKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("too_far_behind", ("too far behind", "out of order")),
    ("too_old", ("timestamp too old",)),
    ("too_new", ("timestamp too new",)),
    ("line_too_long", ("max entry size", "line too long")),
    ("metadata_too_large", ("structured metadata too large",)),
    ("metadata_entries", ("too many structured metadata",)),
    ("rate_limited", ("rate limit",)),
    ("labels", ("parse labels", "parsing labels", "label name", "label value")),
)


def _kind(text: str) -> str | None:
    t = text.lower()
    return next((kind for kind, marks in _MARKS if any(m in t for m in marks)), None)


def _other(message: str) -> str:
    """An unrecognised reason, with its stream's label set left out so alike ones group."""
    return "refused by Loki: " + one_line(_STREAM.sub("stream '{…}'", message), 160)


def _messages(body: str) -> list[tuple[int, str]]:
    """Each error message of a 400 body with how many it stands for (1 without a count)."""
    out: list[tuple[int, str]] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        marks = list(_GROUP.finditer(line))
        if not marks:
            out.append((1, line.strip()))
            continue
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
            out.append((int(mark.group(1)), line[mark.end() : end].strip()))
    return out


def parse_rejections(body: str, stream_entries: Mapping[str, int] | None = None) -> Counter[str]:
    """Entries Loki refused, by reason kind (see :data:`REASONS`; an unrecognised reason
    is its own key), from a 400 body. ``stream_entries``: the push's entries per stream,
    keyed by Loki's label string (``{a="b", c="d"}``), to count a stream-level refusal."""
    counts: Counter[str] = Counter()
    pending: str | None = None
    for count, message in _messages(body):
        if m := _ENTRY_REASON.search(message):
            pending = _kind(m.group(1)) or _other(m.group(1))
            continue
        if m := _TOTAL.search(message):
            counts[pending or _other(message)] += int(m.group(1))
            pending = None
            continue
        kind = _kind(message)
        if kind == "labels" and stream_entries and (s := _STREAM.search(message)) and s.group(1) in stream_entries:
            count = max(count, stream_entries[s.group(1)])  # a label problem refuses the stream's every entry
        counts[kind or _other(message)] += count
    return counts


def refuses_whole_push(body: str) -> bool:
    lowered = body.lower()
    return any(marker in lowered for marker in _WHOLE_PUSH)


def label_string(labels: tuple[tuple[str, str], ...]) -> str:
    """A stream's labels as Loki names the stream in its errors: ``{a="b", c="d"}``."""
    return "{" + ", ".join(f'{k}="{_go_quote(v)}"' for k, v in sorted(labels)) + "}"


def _go_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def classify(
    status: int, body: bytes, retry_after: str | None, stream_entries: Callable[[], Mapping[str, int]]
) -> Outcome:
    """The outcome of one push, from Loki's answer (``stream_entries``: the push's entries
    per stream, see :func:`parse_rejections`; asked only for a 400)."""
    if 200 <= status < 300:
        return Delivered()
    text = body.decode("utf-8", "replace")
    reason = f"HTTP {status}: {one_line(text) or 'no body'}"
    if status != 400 or refuses_whole_push(text):
        return status_outcome(status, reason, retry_after_seconds(retry_after))
    counts = parse_rejections(text, stream_entries())
    if not counts:
        return Permanent(reason)
    refused = {REASONS.get(kind, kind): n for kind, n in counts.items()}
    hints = (OLD_ENTRIES_HINT,) if counts.keys() & {"too_old", "too_far_behind"} else ()
    return Partial(refused, hints)
