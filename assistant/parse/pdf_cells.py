"""Table layout from the x positions of PDF cells (``SourceLine.cells``), where the text alone misleads.

PDF lines are built from positioned words; their empty cells leave no trace in the text, so the row
parser (rows.py) reads a line by its tokens. Three layouts need the positions:
  - a cell printed a little lower than the rest of its row (a 合计 figure vertically centred in a taller
    row) becomes a line of its own: a line of numbers only, under a row whose own cells at those x
    positions are empty, belongs to that row (``merge_offset_cells``);
  - a classification code of the right half of a two-sided table (基本支出表: 301 … | 302 …) whose label
    wrapped onto the lines around it is a bare integer after the left half's amount: a digit cell at the
    x position of the table's code column is a code, not an amount (``code_columns``, ``codes_in``);
  - a sideways table (the 三公经费 table: header cells naming the columns, one line of numbers) is read by
    the header cell above each number (``columns_above``).
Text exports and DOCX lines have no positions (cells None, or x = cell index) and are left alone.
"""

from __future__ import annotations

import re

from assistant.models import Cell, SourceLine

_NUMBER_CELL = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[—\-－–]+$")
_CODE_CELL = re.compile(r"^\d{3}(\d{2}){0,2}$")
_TEXT_CELL = re.compile(r"[\u4e00-\u9fff]")
# Two cells share a column when their left edges are this close (points): codes are left-aligned.
CODE_X_TOLERANCE = 3.0


def has_positions(lines: list[SourceLine]) -> bool:
    """Whether the lines carry real x positions (PDF), not DOCX cell indexes or nothing."""
    return any(ln.cells and len(ln.cells) > 1 and any(c.x1 - c.x0 > 1.5 for c in ln.cells) for ln in lines)


def _overlaps(a: Cell, b: Cell) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1


def _numbers_only(ln: SourceLine) -> bool:
    return bool(ln.cells) and all(
        _NUMBER_CELL.match(c.text.strip()) and not _CODE_CELL.match(c.text.strip()) or _is_decimal(c.text)
        for c in ln.cells or []
    )


def _is_decimal(text: str) -> bool:
    return bool(re.fullmatch(r"-?[\d,]+\.\d+", text.strip()))


def merge_offset_cells(body: list[SourceLine]) -> list[SourceLine]:
    """Body lines with each line of numbers only merged into the row above it, when every one of its
    cells falls where that row has no cell (the row's own cells there are empty) and both are on the
    same page."""
    out: list[SourceLine] = []
    for ln in body:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.cells
            and ln.cells
            and prev.page == ln.page
            and _numbers_only(ln)
            and any(_TEXT_CELL.search(c.text) or _CODE_CELL.match(c.text) for c in prev.cells)
            and not any(_overlaps(c, p) for c in ln.cells for p in prev.cells)
        ):
            cells = sorted([*prev.cells, *ln.cells], key=lambda c: c.x0)
            raw = "\t".join(c.text for c in cells)
            out[-1] = prev.model_copy(update={"cells": cells, "raw": raw, "text": raw})
            continue
        out.append(ln)
    return out


def code_columns(body: list[SourceLine]) -> list[float]:
    """Left edges of the table's code columns: where cells that are certainly codes (a code followed by
    its label) start."""
    xs: list[float] = []
    for ln in body:
        cells = ln.cells or []
        for c, nxt in zip(cells, cells[1:], strict=False):
            if (
                _CODE_CELL.match(c.text.strip())
                and _TEXT_CELL.search(nxt.text)
                and not any(abs(c.x0 - x) <= CODE_X_TOLERANCE for x in xs)
            ):
                xs.append(c.x0)
    return xs


def codes_in(ln: SourceLine, columns: list[float]) -> set[str]:
    """The digit cells of a line that stand in a code column (codes, whatever follows them)."""
    return {
        c.text.strip()
        for c in ln.cells or []
        if _CODE_CELL.match(c.text.strip()) and any(abs(c.x0 - x) <= CODE_X_TOLERANCE for x in columns)
    }


def columns_above(header: list[SourceLine], values: SourceLine) -> list[tuple[str, str]] | None:
    """(column name, number) for each number cell of a sideways table's value line: the name is the
    lowest header cell above the number (overlapping it horizontally). None when a number has none."""
    out: list[tuple[str, str]] = []
    for cell in values.cells or []:
        if not _NUMBER_CELL.match(cell.text.strip()):
            return None
        name = next(
            (h.text.strip() for ln in reversed(header) for h in ln.cells or [] if _overlaps(h, cell)), None
        )
        if name is None:
            return None
        out.append((name, cell.text.strip()))
    return out or None


def header_columns(header: list[SourceLine], columns: tuple[str, ...]) -> dict[int, Cell]:
    """The header cell naming each of the table's columns (by column index), where the header names it:
    the column's own name, a header that ends with it (事业单位经营收入 → 经营收入), or 合计 for the first."""
    out: dict[int, Cell] = {}
    for ln in header:
        for c in ln.cells or []:
            t = c.text.replace(" ", "")
            if sum(name in t for name in columns) > 1:
                continue  # formats: two columns' names in one cell (glued by OCR, no ruling) anchor neither
            for j, name in enumerate(columns):
                if j not in out and (
                    t == name
                    or j == 0
                    and t in ("合计", "总计")
                    or len(t) >= 4
                    and (name.endswith(t) or t.endswith(name))
                ):
                    out[j] = c
                    break
    return out


def number_cells(ln: SourceLine, code: str | None) -> list[Cell]:
    """The cells of a table line that hold an amount or a dash (not its code)."""
    return [c for c in ln.cells or [] if _NUMBER_CELL.match(c.text.strip()) and c.text.strip() != code]


def place_by_header(cells: list[Cell], anchors: dict[int, Cell], n_columns: int) -> list[int] | None:
    """The column of each number cell: the one header cell above it (overlapping it), left to right;
    None when a cell has no header or two, or two cells share one."""
    placed: list[int] = []
    for cell in cells:
        hits = [j for j, h in anchors.items() if _overlaps(h, cell)]
        if len(hits) != 1 or hits[0] >= n_columns or (placed and hits[0] <= placed[-1]):
            return None
        placed.append(hits[0])
    return placed
