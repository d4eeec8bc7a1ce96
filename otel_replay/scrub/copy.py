"""One input file's scrubbed copy, in its own format (``otel-replay scrub``; docs/scrub.md).

- a CodeMachine session file (trace, log or metrics; the ``latest*`` copies too) stays a
  CodeMachine file, written as CodeMachine writes it (``JSON.stringify(doc, null, 2)``);
- a pretty-printed OTLP/JSON document stays one, with the indentation it had;
- JSON Lines stay JSON Lines, one compact OTLP/JSON request per line; a line that is not
  JSON is left out (the replay reports it, and so does ``scrub``);
- a document cut short keeps the records the replay recovers from it, written whole;
- a ``.gz`` or ``.zst`` file is compressed again the same way, reproducibly;
- anything else (not telemetry, or not JSON at all) is left out: what it holds cannot be
  scrubbed, so it cannot be shared safely. The manifest lists it.

Pure apart from the hashing: bytes in, bytes (or the reason it is left out) out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from otel_replay.scrub.documents import scrub_codemachine, scrub_otlp
from otel_replay.scrub.engine import Scrubber
from otel_replay.sources.jsondoc import DocumentError, read_document

OTLP_KEYS = ("resourceSpans", "resourceLogs", "resourceMetrics")
CODEMACHINE_KEYS = ("spans", "logs", "metrics")
BOM = "\ufeff"
#: Archive suffixes: an archive inside the input becomes a folder of that name without it.
ARCHIVE = re.compile(r"\.(zip|7z|tar|tgz|tar\.gz|tar\.zst|tar\.zstd|tar\.bz2|tar\.xz)$", re.IGNORECASE)
COMPRESSED = re.compile(r"\.(gz|zst|zstd)$", re.IGNORECASE)

# Why a file is left out (the manifest's words; never anything read from the file).
NOT_TELEMETRY = "not telemetry: it cannot be scrubbed"
DAMAGED = "not readable as JSON: it cannot be scrubbed"


@dataclass(frozen=True)
class Copy:
    """What becomes of one input: its scrubbed bytes and format, or why it is left out."""

    data: bytes | None
    format: str  # "codemachine", "otlp-json", "json-lines"; "" when left out
    left_out: str = ""
    lines_left_out: int = 0  # JSON Lines that are not JSON
    salvaged: int = 0  # a document cut short: the records before the cut, written whole


def kind(doc: Any) -> str:
    """``codemachine``, ``otlp`` or "" (not telemetry) for a parsed JSON value."""
    if not isinstance(doc, dict):
        return ""
    if any(isinstance(doc.get(k), list) for k in OTLP_KEYS):
        return "otlp"
    if any(isinstance(doc.get(k), list) for k in CODEMACHINE_KEYS):
        return "codemachine"
    return ""


def scrub_bytes(raw: bytes, scrubber: Scrubber, name: str) -> Copy:
    """The scrubbed copy of one input's (decompressed) bytes; ``name`` (its path in the
    copy) says whether to compress it again."""
    copy = _scrub_text(raw, scrubber)
    if copy.data is None or not COMPRESSED.search(name):
        return copy
    if name.lower().endswith(".gz"):
        data = gzip.compress(copy.data, mtime=0)  # no time, no name: the same bytes every run
    else:
        import zstandard

        data = zstandard.ZstdCompressor().compress(copy.data)
    return dataclasses.replace(copy, data=data)


def _scrub_text(raw: bytes, scrubber: Scrubber) -> Copy:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Copy(None, "", DAMAGED)
    bom = BOM if text.startswith(BOM) else ""
    body = text[len(bom) :]
    try:
        doc = json.loads(body)
    except ValueError:
        if _first_line_is_json(body):
            return _json_lines(bom, body, scrubber)
        return _salvage(raw, scrubber) or Copy(None, "", DAMAGED)
    what = kind(doc)
    if not what:
        return Copy(None, "", NOT_TELEMETRY)
    (scrub_codemachine if what == "codemachine" else scrub_otlp)(doc, scrubber)
    stripped = body.strip()
    if "\n" not in stripped:  # one line: a JSON Lines file of one request, or a compact document
        out = _compact(doc)
        fmt = "json-lines" if what == "otlp" else what
    else:
        out = json.dumps(doc, indent=_indent(stripped), ensure_ascii=False)
        fmt = "otlp-json" if what == "otlp" else what
    return Copy((bom + out + body[len(body.rstrip()) :]).encode("utf-8"), fmt)


def _first_line_is_json(body: str) -> bool:
    try:
        json.loads(body.lstrip().split("\n", 1)[0])
    except ValueError:
        return False
    return True


def _salvage(raw: bytes, scrubber: Scrubber) -> Copy | None:
    """A document cut short (an exporter killed while writing it): what the replay recovers
    (the records before the cut, read by its own reader) as a whole document; None when
    nothing is recovered."""
    try:
        doc = read_document(io.BytesIO(raw), len(raw))
        if doc.lines is not None or doc.array_key is None:
            return None
        items: list[Any] = []
        with contextlib.suppress(DocumentError):  # the cut: the records before it are kept
            items.extend(doc.items)
    except DocumentError:
        return None
    rebuilt = {**doc.header, doc.array_key: items}
    what = kind(rebuilt)
    if not items or not what:
        return None
    (scrub_codemachine if what == "codemachine" else scrub_otlp)(rebuilt, scrubber)
    out = json.dumps(rebuilt, indent=2, ensure_ascii=False)
    return Copy(out.encode("utf-8"), "otlp-json" if what == "otlp" else what, salvaged=len(items))


def _compact(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _indent(text: str) -> int | str:
    """The indentation of a pretty-printed document's second line (2 when none)."""
    second = text.split("\n", 2)[1] if text.count("\n") else ""
    lead = second[: len(second) - len(second.lstrip(" \t"))]
    if lead.startswith("\t"):
        return "\t"
    return len(lead) or 2


def _json_lines(bom: str, body: str, scrubber: Scrubber) -> Copy:
    out, bad, good = [], 0, 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if kind(doc) != "otlp":
            bad += 1  # the replay refuses it too: what it holds cannot be known
            continue
        scrub_otlp(doc, scrubber)
        out.append(_compact(doc) + "\n")
        good += 1
    if not good:
        return Copy(None, "", DAMAGED if bad else NOT_TELEMETRY)
    return Copy((bom + "".join(out)).encode("utf-8"), "json-lines", lines_left_out=bad)


def relative_name(path: str, name: str) -> str:
    """Where an input found under ``path`` (``name``: its name as discovery gives it) goes
    in the copy: its path inside the folder or archive, an archive inside it a folder."""
    if path == "-":
        tail = name[len("<stdin>") :] if name.startswith("<stdin>") else name
        tail = tail.lstrip("!") or "stdin.json"
    elif name == path:
        tail = posixpath.basename(path.replace("\\", "/").rstrip("/")) or "input"
    else:
        tail = name[len(path) :] if name.startswith(path) else name
    parts = tail.split("!")
    folders = [ARCHIVE.sub("", p) for p in parts[:-1]]
    return safe_path("/".join([*folders, parts[-1]]))


def safe_path(name: str) -> str:
    """``name`` as a relative path that stays inside the copy (no ``..``, no root)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return "/".join(parts) or "input"
