"""The progress line as text: a pure function of what is known now and the width it
must fit (:func:`render`). Fields are dropped by priority as the terminal narrows — the
bar first, then the file name, the rate, the records — so that the percentage, the bytes
and a retry in progress are what a narrow terminal still shows. Values that come from
input or from a backend (file names, error messages) are shown as text: control
characters appear escaped (``\\x1b``), never interpreted."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

#: The bar's width bounds (columns, brackets included).
BAR_MIN, BAR_MAX = 12, 32
#: Between two fields.
GAP = "  "


@dataclass(frozen=True, slots=True)
class Retrying:
    """A batch that waits to be tried again: ``subject`` (a signal), the cause, and the
    seconds until its next attempt (0: the attempt is under way)."""

    subject: str
    reason: str
    next_in: float


@dataclass(frozen=True, slots=True)
class View:
    """What the line shows at one instant."""

    done: int  # bytes of input read
    total: int | None = None  # bytes of input in all (None: not known, e.g. stdin)
    rate: float | None = None  # bytes per second, recently
    read: int = 0  # records read
    sent: int = 0  # records delivered
    retrying: tuple[Retrying, ...] = ()
    current: str | None = None  # the input being read


def shown(text: str) -> str:
    """``text`` safe to write on a terminal: every character that is not printable (an
    escape, a newline, a bell, an undecodable byte) as its Python escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def columns(text: str) -> int:
    """How many terminal columns ``text`` (already :func:`shown`) takes."""
    if text.isascii():
        return len(text)
    return sum(_width(c) for c in text)


def _width(c: str) -> int:
    if unicodedata.combining(c):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def cut(text: str, width: int, keep_end: bool = False) -> str:
    """``text`` in at most ``width`` columns, an ellipsis where it was cut (at its end, or
    at its start with ``keep_end``: a path's file name is its end)."""
    if columns(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    out, used = [], 1
    for c in reversed(text) if keep_end else text:
        w = _width(c)
        if used + w > width:
            break
        out.append(c)
        used += w
    return "…" + "".join(reversed(out)) if keep_end else "".join(out) + "…"


def size(n: float) -> str:
    """A byte count for a person: ``512 B``, ``12.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float) -> str:
    """``0:14``, ``12:03``, ``2:05:09``."""
    s = max(int(seconds + 0.5), 0)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def count(n: int) -> str:
    """A record count in few columns: ``12,345``, ``123.5k``, ``1.2M``."""
    if n < 100_000:
        return f"{n:,}"
    return f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1_000_000:.1f}M"


def _bytes_field(view: View) -> str:
    if view.total is None:
        return f"{size(view.done)} read"
    done, total = size(min(view.done, view.total)), size(view.total)
    if done.split()[1] == total.split()[1]:
        done = done.split()[0]
    return f"{done}/{total}"


#: The most columns a retry's cause takes on the line.
REASON_MAX = 24


def _retry_field(view: View, room: int) -> str:
    """The first retry in progress, in at most ``room`` columns if it can be (shorter
    forms drop the cause, then the time)."""
    first = view.retrying[0]
    more = f" (+{len(view.retrying) - 1})" if len(view.retrying) > 1 else ""
    when = f"in {duration(first.next_in)}" if first.next_in >= 0.5 else "now"
    short = f"retrying {shown(first.subject)} {when}{more}"
    forms = [short, "retrying"]
    reason_room = min(room - columns(short) - 2, REASON_MAX)
    if reason_room >= 8:
        forms.insert(0, f"{short}: {cut(shown(first.reason), reason_room)}")
    return next((f for f in forms if columns(f) <= room), forms[-1])


#: Fields by what is dropped first as the line narrows (higher first): the rate, the file
#: name (shortened to its end first), the records, the bar (at its narrowest), the ETA;
#: the percentage, the bytes and a retry in progress stay.
_BAR, _FILE = 2, 4


def _fields(view: View, width: int) -> list[tuple[int, str]]:
    """(priority, text) in display order."""
    fraction = None if not view.total else min(view.done / view.total, 1.0)
    fields: list[tuple[int, str]] = []
    if fraction is not None:
        fields += [(_BAR, _bar(fraction, BAR_MIN)), (0, f"{int(fraction * 100)}%")]
    fields.append((0, _bytes_field(view)))
    if view.rate is not None:
        fields.append((5, f"{size(view.rate)}/s"))
        if view.total is not None and view.rate > 0 and view.done < view.total and not view.retrying:
            fields.append((1, f"ETA {duration((view.total - view.done) / view.rate)}"))
    fields.append((3, f"sent {count(view.sent)}/{count(view.read)}"))
    if view.retrying:
        kept = GAP.join(t for p, t in fields if p in (0, _BAR))
        fields.append((0, _retry_field(view, width - columns(kept) - len(GAP))))
    if view.current:
        fields.append((_FILE, shown(view.current)))
    return fields


def _bar(fraction: float, width: int) -> str:
    inner = width - 2
    filled = int(fraction * inner)
    return "[" + "#" * filled + "-" * (inner - filled) + "]"


def _fit(fields: list[tuple[int, str]], width: int) -> list[tuple[int, str]]:
    """The fields that fit in ``width``, dropping by priority (the file name is first
    shortened to its end, to no fewer than 12 columns)."""
    shortened = False
    while len(fields) > 1 and columns(GAP.join(t for _, t in fields)) > width:
        drop = max(range(len(fields)), key=lambda i: (fields[i][0], i))
        if fields[drop][0] == _FILE and not shortened:
            shortened = True
            rest = columns(GAP.join(t for i, (_, t) in enumerate(fields) if i != drop)) + len(GAP)
            if width - rest >= 12:
                fields[drop] = (_FILE, cut(fields[drop][1], width - rest, keep_end=True))
                continue
        del fields[drop]
    return fields


def render(view: View, width: int) -> str:
    """The line, in at most ``width`` columns."""
    fields = _fit(_fields(view, width), width)
    room = width - columns(GAP.join(t for _, t in fields))
    if view.total and fields[0][0] == _BAR and room > 0:  # the bar takes what is left, up to its widest
        fields[0] = (_BAR, _bar(min(view.done / view.total, 1.0), min(BAR_MIN + room, BAR_MAX)))
    return cut(GAP.join(t for _, t in fields), width)
