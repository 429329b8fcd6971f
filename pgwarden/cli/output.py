"""Printing: data to stdout (JSON, tables, Markdown), everything else to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(table)


def emit_markdown(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    def cell(value: Any) -> str:
        return (
            ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")
        )

    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def emit_rows(
    fmt: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Tabular data in the chosen format (html falls back to Markdown here)."""
    if fmt == "json":
        emit_json([dict(zip(columns, row, strict=True)) for row in rows])
    elif fmt in ("md", "html"):
        emit_markdown(title, columns, rows)
    else:
        emit_table(title, columns, rows)
