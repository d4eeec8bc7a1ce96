"""Whether the start of a file can be JSON text at all, how to say why it is not, what its
start tells (its first record array), and how to name a JSON value's kind in a reason."""

from __future__ import annotations

import codecs
import io
import re
from typing import Any, BinaryIO

import ijson
import msgspec

_JSON_STARTS = frozenset(b'{["-0123456789tfn'[i : i + 1] for i in range(17))
#: How much of the start is looked at to tell text from binary data.
SNIFF_BYTES = 4096
#: How many characters of text that is not JSON are quoted.
SHOWN_CHARS = 40
#: Anything but JSON's white space (ASCII's, as ``bytes.strip``'s): searched for in a head of
#: megabytes, not stripped from it (a strip copies it).
NOT_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
#: What decoding JSON with msgspec raises for text that is not (valid UTF-8, valid JSON,
#: nested too deeply, a number out of range); a ValidationError is a DecodeError.
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError)
#: A JSON object's keys, its values skipped, not built (kept as their text).
PEEK = msgspec.json.Decoder(dict[str, msgspec.Raw])
_WORD = re.compile(rb"[A-Za-z_]+")
#: The record arrays the readers know, highest rank first (a document with two is read
#: for the first of them).
RECORD_ARRAYS = ("spans", "logs", "metrics", "resourceSpans", "resourceLogs", "resourceMetrics")
BOM = b"\xef\xbb\xbf"  # not allowed in JSON (RFC 8259 §8.1), but parsers may ignore it: we do
#: How much of a document's start tells its first record array (a CodeMachine header is
#: a few short values).
START_BYTES = 4096


def looks_like_json(head: bytes) -> bool:
    """Whether the start can be JSON at all: a JSON value's first character, no NUL byte,
    and a word at the start is one of JSON's (``true``, ``false``, ``null``)."""
    at = NOT_SPACE.search(head)
    first = b"" if at is None else head[at.start() : at.start() + 1]  # no copy of the head (megabytes)
    if first not in _JSON_STARTS or b"\x00" in head[:SNIFF_BYTES]:
        return False
    if first.isalpha():
        word = _WORD.match(head, at.start())  # type: ignore[union-attr]
        return word is not None and word.group() in (b"true", b"false", b"null")
    return True


def not_json(head: bytes) -> str:
    """Why bytes that are not JSON are not: text is quoted (escaped, cut), anything else
    named binary with its first bytes in hex."""
    start = head.lstrip()[:SNIFF_BYTES]
    text = _as_text(start)
    if text is None:
        shown = " ".join(f"{b:02x}" for b in start[:4])
        return f"not JSON text: the file starts with binary data (bytes {shown})"
    quoted = repr(text[:SHOWN_CHARS]) + ("…" if len(text) > SHOWN_CHARS else "")
    return f"not JSON: the file starts with text {quoted}"


def _as_text(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 (perhaps cut in a character at the end) without
    NUL or other control characters than white space and escape; else None."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r\x0c\x1b" for c in text) or "\x7f" in text:
        return None
    return text


def first_array_key(head: bytes) -> str | None:
    """The first key of the top-level object ``head`` starts whose value is an array, when
    only keys of scalar values come before it (a CodeMachine document's header, an
    OTLP/JSON request's first key); None when ``head`` does not tell (not an object, an
    object value first, no array within it)."""
    events = ijson.parse(io.BytesIO(head), buf_size=256)  # the key comes early: 4 KB tokenized is 5× the time
    try:
        if next(events)[1] != "start_map":
            return None
        while True:
            _, event, key = next(events)
            if event != "map_key":
                return None
            value = next(events)[1]
            if value == "start_array":
                return str(key)
            if value == "start_map":
                return None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError, StopIteration):
        return None


def describe_json(value: Any) -> str:
    """What kind of JSON value this is, for error messages (\"an array\", \"null\" …)."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def event_kind(event: str) -> str:
    """What kind of JSON value an ijson event starts or is (\"an array\", \"null\" …)."""
    return {
        "start_array": "an array",
        "start_map": "an object",
        "string": "a string",
        "number": "a number",
        "boolean": "a boolean",
        "null": "null",
    }.get(event, event)


def first_line_bounds(head: bytes) -> tuple[int, int]:
    """Where the first line of ``head`` starts (white space before it skipped) and ends
    (its line break; -1 when it does not end in ``head``)."""
    start = NOT_SPACE.search(head)
    return (len(head), -1) if start is None else (start.start(), head.find(b"\n", start.start()))


def is_json_lines(head: bytes) -> bool:
    """JSON Lines: the first line alone is a whole JSON object and more follows it (a
    pretty-printed document's first line is not a whole value)."""
    return first_line_object(head) is not None


def first_line_object(head: bytes) -> dict[str, Any] | None:
    """The first line's object when ``head`` starts JSON Lines, else None."""
    start, end = first_line_bounds(head)
    if end < 0 or NOT_SPACE.search(head, end + 1) is None:
        return None
    first = head[start:end]  # its white space at the end too: JSON's is not all of ASCII's
    if not first.rstrip().endswith(b"}"):
        return None
    try:
        first.decode()  # UTF-8 (the decode below checks the values' JSON, not their bytes)
        return PEEK.decode(first)  # its keys: the values are not built (a line may be tens of MB)
    except DECODE_ERRORS:
        return None


def peek_start(stream: BinaryIO) -> bytes:
    """Up to START_BYTES of what ``stream`` holds next, left unread (b"": it cannot peek)."""
    peek = getattr(stream, "peek", None)
    return b"" if peek is None else peek(START_BYTES)[:START_BYTES]


def spans_first(start: bytes) -> bool:
    """Whether a document that starts so is a span document: its first array is ``spans``,
    which outranks any array after it (as the readers rank them). Only where ``start``
    tells: its first line ends in it, more follows, and that line is not a whole object
    (JSON Lines, each line read); no byte order mark (its note is said)."""
    _, end = first_line_bounds(start)
    if start.startswith(BOM) or end < 0 or NOT_SPACE.search(start, end + 1) is None:
        return False
    return first_array_key(start) == RECORD_ARRAYS[0] and not is_json_lines(start)
