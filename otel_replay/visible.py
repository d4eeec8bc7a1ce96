"""How text from the input reaches a terminal: one line that cannot drive it. Every
value in a summary, a --verbose line or an inspect table is untrusted (a file name or a
span name may hold escape codes); this is the one rule that shows them as text."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO

#: C0 and C1 controls, DEL, and the Unicode bidirectional overrides and isolates (which
#: reorder what a terminal shows), as well as line and paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, limit: int | None = None) -> str:
    """``value`` as one line of text that cannot drive a terminal: every control
    character (escape, bell, newline, carriage return...) as a ``\\xNN`` escape.
    Anything not a string is shown as JSON. ``limit``: cut to that many characters
    with an ellipsis."""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    text = _UNSAFE.sub(_escape, value)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def say(line: str, stream: TextIO | None = None) -> None:
    """``otel-replay: line`` on stderr, made visible, in one write: lines that several
    worker processes write at once do not run into each other."""
    out = stream if stream is not None else sys.stderr
    out.write(f"otel-replay: {visible(line)}\n")
    out.flush()
