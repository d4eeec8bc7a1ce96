"""Blocks (layout.py) → plain text: aligned columns, two spaces per tree level, no colour.
What ``inspect`` prints when its output is not a terminal (a file, a pipe, ``grep``)."""

from __future__ import annotations

from otel_replay.inspect.layout import Block, Lines, Table

#: Deeper levels are not indented further (the depth is shown instead).
MAX_INDENT = 30


def render(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        out += _table(block) if isinstance(block, Table) else _lines(block)
    return "\n".join(out)


def _lines(block: Lines) -> list[str]:
    out = [block.title] if block.title else []
    pad = "  " if block.title else ""
    for i, cell in enumerate(block.lines):
        depth = block.depths[i] if i < len(block.depths) else 0
        marker = f"[{depth}] " if depth > MAX_INDENT else ""
        out.append(pad + "  " * min(depth, MAX_INDENT) + marker + cell.text)
    return out


def _table(block: Table) -> list[str]:
    rows = [block.headers] + [[c.text for c in row] for row in block.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(block.headers))]
    out = [block.title]
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [t.rjust(w) if i in block.right else t.ljust(w) for i, (t, w) in pairs]
        out.append(("  " + "  ".join(cells)).rstrip())
    return out
