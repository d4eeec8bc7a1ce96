"""Whether the start of a file can be JSON text at all, and how to say why it is not."""

from __future__ import annotations

import codecs
import re

_JSON_STARTS = frozenset(b'{["-0123456789tfn'[i : i + 1] for i in range(17))
#: How much of the start is looked at to tell text from binary data.
SNIFF_BYTES = 4096
#: How many characters of text that is not JSON are quoted.
SHOWN_CHARS = 40


def looks_like_json(head: bytes) -> bool:
    """Whether the start can be JSON at all: a JSON value's first character, no NUL byte,
    and a word at the start is one of JSON's (``true``, ``false``, ``null``)."""
    start = head.lstrip()
    if start[:1] not in _JSON_STARTS or b"\x00" in head[:SNIFF_BYTES]:
        return False
    if start[:1].isalpha():
        word = re.match(rb"[A-Za-z_]+", start)
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
