"""The page's data → one self-contained HTML document.

The template, style and script are package data (``assets/``); everything is inlined.
The data goes into a ``<script type="application/json">`` block, with ``<``, ``>``, ``&``
and U+2028/U+2029 written as JSON escapes, so no value from the input can end the block
or start markup; the script builds the page with ``textContent`` only. A
Content-Security-Policy forbids every network request and lets only this script and this
style (by their SHA-256) run.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
_MARKER = re.compile(r"@@(CSP|STYLE|SCRIPT|DATA)@@")
_UNSAFE_IN_SCRIPT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


@cache
def asset(name: str) -> str:
    return (files("otel_replay.view") / "assets" / name).read_text(encoding="utf-8")


def script_json(doc: Any) -> str:
    """``doc`` as JSON that is safe inside a ``<script>`` element: no ``</script>``, no
    ``<!--``, nothing an HTML parser or a JavaScript one reads as the end of a line."""
    text = _encode(doc).decode("utf-8")
    return _UNSAFE_RE.sub(lambda m: _UNSAFE_IN_SCRIPT[m.group()], text)


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(script: str, style: str) -> str:
    """No request of any kind (scripts, styles, images, fonts, frames, fetch, forms, base
    URL); only the page's own script and style, named by their hashes."""
    return (
        f"default-src 'none'; script-src {sha256(script)}; style-src {sha256(style)}; "
        "img-src 'none'; connect-src 'none'; font-src 'none'; frame-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def render(doc: dict[str, Any]) -> str:
    """The whole page for the data ``doc`` (as :func:`otel_replay.view.data.build` makes it)."""
    script, style = asset("view.js"), asset("view.css")
    parts = {
        "CSP": content_security_policy(script, style),
        "STYLE": style,
        "SCRIPT": script,
        "DATA": script_json(doc),
    }
    # One pass: a value put in is never searched for markers again.
    return _MARKER.sub(lambda m: parts[m.group(1)], asset("page.html"))
