"""What can be kept of a JSON document that was cut short.

CodeMachine's file exporters rewrite the whole session file on every export (truncate,
then write), so a CLI killed mid-export leaves a file that ends part-way. Every record
that was written whole before the cut is kept; the one the cut falls in is dropped,
never guessed at. A record is an element of a record array: ``spans``, ``logs`` or
``metrics`` at the top of a CodeMachine session, or the ``spans``, ``logRecords`` or
``metrics`` of an OTLP/JSON request's scopes.
"""

from __future__ import annotations

import re

#: Where record arrays are, as the path from the top: an object's key, or "[]" for an
#: array's element.
RECORD_PATHS = frozenset(
    {
        ("spans",),
        ("logs",),
        ("metrics",),
        ("resourceSpans", "[]", "scopeSpans", "[]", "spans"),
        ("resourceLogs", "[]", "scopeLogs", "[]", "logRecords"),
        ("resourceMetrics", "[]", "scopeMetrics", "[]", "metrics"),
    }
)
#: A whole string (a key when a colon follows), a bracket, or a lone quote: a string the
#: cut falls in (nothing after it is structure).
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"(\s*:)?|[{}\[\]]|"', re.DOTALL)
_CLOSER = {b"{": b"}", b"[": b"]"}


def salvage(data: bytes) -> bytes | None:
    """``data`` (a JSON document cut short) up to the end of its last whole record — or
    the start of its record array, when no record is whole — with the brackets still
    open closed; None when the cut comes before any record array."""
    # each open container: its opening bracket, its path, the key being read (objects)
    stack: list[tuple[bytes, tuple[str, ...]]] = []
    key: list[str | None] = []
    best: tuple[int, bytes] | None = None
    for m in _TOKEN.finditer(data):
        token = m.group()
        if token == b'"':
            break  # the cut falls in this string
        if token[:1] == b'"':
            if m.group(1) is not None and key:
                key[-1] = token[1 : token.rindex(b'"')].decode("utf-8", "replace")
            continue
        if token in (b"{", b"["):
            path = _child_path(stack, key)
            stack.append((token, path))
            key.append(None)
            if token == b"[" and path in RECORD_PATHS:
                best = (m.end(), _closers(stack))
            continue
        if not stack:
            break  # more closed than opened: not a document we can mend
        stack.pop()
        key.pop()
        if stack and stack[-1][0] == b"[" and stack[-1][1] in RECORD_PATHS:
            best = (m.end(), _closers(stack))
    if best is None:
        return None
    end, closers = best
    return data[:end] + closers


def _child_path(stack: list[tuple[bytes, tuple[str, ...]]], key: list[str | None]) -> tuple[str, ...]:
    if not stack:
        return ()
    bracket, path = stack[-1]
    return (*path, "[]") if bracket == b"[" else (*path, key[-1] or "")


def _closers(stack: list[tuple[bytes, tuple[str, ...]]]) -> bytes:
    return b"".join(_CLOSER[bracket] for bracket, _ in reversed(stack))
