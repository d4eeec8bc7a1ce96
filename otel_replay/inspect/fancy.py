"""Blocks (layout.py) → ``rich`` tables and trees on a terminal, with colour. Every cell is
a :class:`rich.text.Text` (never markup), already made visible by the layout."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text
from rich.tree import Tree

from otel_replay.inspect.layout import Block, Cell, Lines, Table

STYLES = {"": "", "error": "bold red", "warn": "yellow", "dim": "dim", "ok": "green", "title": "bold"}


def show(console: Console, blocks: list[Block]) -> None:
    for i, block in enumerate(blocks):
        if i:
            console.print()
        if isinstance(block, Table):
            console.print(_table(block))
        elif block.depths and any(block.depths):
            console.print(_tree(block))
        else:
            if block.title:
                console.print(Text(block.title, style="bold"))
            for cell in block.lines:
                console.print(_text(cell), soft_wrap=True)


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
