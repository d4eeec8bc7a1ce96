"""Blocks (layout.py) → a terminal, with ``rich``: tables and trees drawn by rich, in
colour. Every cell is a :class:`rich.text.Text` (never markup), already made visible by
the layout.

rich lays out a table or a tree cell by cell, which takes seconds for thousands of rows;
a block longer than :data:`RICH_ROWS` is printed as one styled text instead, aligned as
the plain text is (the same functions), so that a large report still shows at once.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Span, Text
from rich.tree import Tree

from otel_replay.inspect.layout import Block, Cell, Lines, Table
from otel_replay.inspect.plain import aligned, indented

STYLES = {"": "", "error": "bold red", "warn": "yellow", "dim": "dim", "ok": "green", "title": "bold"}
#: Larger tables and trees are printed as aligned text (see the module's docstring).
RICH_ROWS = 300


def show(console: Console, blocks: list[Block]) -> None:
    for i, block in enumerate(blocks):
        if i:
            console.print()
        if isinstance(block, Table):
            console.print(_table(block) if len(block.rows) <= RICH_ROWS else _table_text(block), soft_wrap=True)
        elif block.depths and any(block.depths) and len(block.lines) <= RICH_ROWS:
            console.print(_tree(block))
        else:
            console.print(_lines_text(block), soft_wrap=True)


def _text(cell: Cell) -> Text:
    return Text(cell.text, style=STYLES.get(cell.style, ""))


def _table(block: Table) -> RichTable:
    table = RichTable(title=Text(block.title, style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
    for i, header in enumerate(block.headers):
        table.add_column(Text(header), justify="right" if i in block.right else "left", overflow="fold")
    for row in block.rows:
        table.add_row(*(_text(c) for c in row))
    return table


def _tree(block: Lines) -> Tree:
    """The lines as a tree, built with a stack (a depth-first list of lines with depths)."""
    root = Tree(Text(block.title, style="bold"), guide_style="dim")
    stack: list[tuple[int, Tree]] = [(-1, root)]
    for cell, depth in zip(block.lines, block.depths, strict=False):
        while stack[-1][0] >= depth:
            stack.pop()
        node = stack[-1][1].add(_text(cell))
        stack.append((depth, node))
    return root


def _table_text(block: Table) -> Text:
    rows = aligned(block)
    out = _Styled()
    out.add(block.title, "title")
    out.add("  " + "  ".join(rows[0]).rstrip(), "title")
    for cells, row in zip(rows[1:], block.rows, strict=True):
        pieces = [("  ", "")]
        for i, (text, cell) in enumerate(zip(cells, row, strict=True)):
            pieces += [("  ", "")] if i else []
            pieces.append((text.rstrip() if i == len(cells) - 1 else text, cell.style))
        out.row(pieces)
    return out.text()


def _lines_text(block: Lines) -> Text:
    out = _Styled()
    if block.title:
        out.add(block.title, "title")
    for pad, text, style in indented(block):
        out.row([(pad, "dim"), (text, style)])
    return out.text()


class _Styled:
    """Lines of styled pieces → one :class:`Text` (built in one go: appending to a Text
    piece by piece takes time that grows with its length)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._spans: list[Span] = []
        self._at = 0

    def add(self, text: str, style: str) -> None:
        self.row([(text, style)])

    def row(self, pieces: list[tuple[str, str]]) -> None:
        if self._parts:
            self._parts.append("\n")
            self._at += 1
        for text, style in pieces:
            if style and text:
                self._spans.append(Span(self._at, self._at + len(text), STYLES.get(style, "")))
            self._parts.append(text)
            self._at += len(text)

    def text(self) -> Text:
        return Text("".join(self._parts), spans=self._spans)
