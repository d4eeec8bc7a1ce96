"""Blocks (layout.py) → plain text: aligned columns, two spaces per tree level, no colour.
What ``inspect`` prints when its output is not a terminal (a file, a pipe, ``grep``); the
terminal renderer (fancy.py) lays out large blocks with the same functions."""

from __future__ import annotations

from otel_replay.inspect.layout import Block, Lines, Table

#: Deeper levels are not indented further (the depth is shown instead).
MAX_INDENT = 30


def render(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        if isinstance(block, Table):
            out.append(block.title)
            out += ["  " + "  ".join(row).rstrip() for row in aligned(block)]
        else:
            out += ([block.title] if block.title else []) + [pad + text for pad, text, _ in indented(block)]
    return "\n".join(out)


def indent(depth: int) -> str:
    """Two spaces per level, at most :data:`MAX_INDENT` levels (then the depth in brackets)."""
    return "  " * min(depth, MAX_INDENT) + (f"[{depth}] " if depth > MAX_INDENT else "")


def indented(block: Lines) -> list[tuple[str, str, str]]:
    """Each line as (indentation, text, style); lines under a title are indented once more."""
    pad = "  " if block.title else ""
    depths = block.depths or [0] * len(block.lines)
    return [(pad + indent(depth), cell.text, cell.style) for cell, depth in zip(block.lines, depths, strict=False)]


def aligned(block: Table) -> list[list[str]]:
    """The header and every row, each cell padded to its column's width (numbers to the right)."""
    rows = [block.headers] + [[c.text for c in row] for row in block.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(block.headers))]
    return [
        [t.rjust(w) if i in block.right else t.ljust(w) for i, (t, w) in enumerate(zip(row, widths, strict=True))]
        for row in rows
    ]
