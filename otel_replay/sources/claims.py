"""Whether a JSON file claims to be telemetry (the rule is written in docs/input-rules.md).

A file that claims to be telemetry and cannot be read is a problem; a JSON document
that claims nothing — another tool's configuration or state, a package manifest — is
ignored as *not telemetry*, which does not change the exit status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Top-level keys of CodeMachine's session files (see ../shared/docs/input-formats.md §1).
SESSION_KEYS = frozenset({"spans", "logs", "metrics", "spanCount", "logCount", "exportCount", "sessionFile"})
#: A name CodeMachine's file exporters write: traces/YYYY-MM-DD/HH-MM-SS[-logs|-metrics].json
#: or traces/latest[-logs|-metrics].json (in a folder or an archive, either separator).
EXPORTER_NAME = re.compile(
    r"(?:^|[/\\!])traces[/\\](?:\d{4}-\d{2}-\d{2}[/\\]\d{2}-\d{2}-\d{2}|latest)(?:-logs|-metrics)?\.json$"
)
NOT_TELEMETRY = "not telemetry"


def claims_telemetry(name: str, keys: Iterable[str]) -> bool:
    """A CodeMachine session's key, an OTLP ``resource…`` key, or an exporter's file name."""
    if EXPORTER_NAME.search(name):
        return True
    return any(key in SESSION_KEYS or key.startswith("resource") for key in keys)


def not_telemetry(keys: list[str]) -> str:
    """The reason a file is ignored: its top-level keys (the first few)."""
    shown = ", ".join(k[:40] for k in keys[:5]) + (", …" if len(keys) > 5 else "")
    return f"{NOT_TELEMETRY} (top-level keys: {shown or 'none'})"
