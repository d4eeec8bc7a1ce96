"""A string literal in LogQL and PromQL (Go's syntax): JSON's escapes of control
characters, quotes and backslashes, and every other character as it is (UTF-8). Not JSON's
``\\ud83d\\ude00`` for a character outside the BMP (an emoji): Loki 3.4 takes that, but
as something else — ``{service_name="\\ud83d\\ude00"}`` found none of the entries that
``{service_name="😀"}`` counted."""

from __future__ import annotations

import json


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
