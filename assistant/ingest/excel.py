"""Excel workbooks (.xlsx with openpyxl, .xls with xlrd) as citable lines.

Each visible sheet is read in order, each non-empty row one line: its cells tab-separated with the
empty ones kept (as DOCX and HTML table rows), so the title and 金额单位 rows above a sheet's header are
lines of their own and the table finder recognises the sheet by title and structure. A merged range
keeps its value in its top-left cell and leaves the others empty (a number is never counted twice).
Numbers are read as the numbers stored, not parsed back from display text: a float is written with
at most 15 significant digits (what Excel shows) and with the decimals of its number format
(``#,##0.00`` → 2), as the printed table shows it. ``page`` is the sheet's 1-based position in the
workbook; line numbers run through the workbook, first sheet first.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from assistant.ingest.normalize import normalize_text
from assistant.models import Cell, SourceLine

__all__ = ["xlsx_lines", "xls_lines", "number_text"]

_DECIMALS = re.compile(r"0\.(0+)")
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]')
MAX_CELLS = 5_000_000  # a sheet larger than this is not a report table (keeps memory bounded)


def number_text(value: float | int | Decimal, number_format: str | None = None) -> str:
    """A stored number as the table prints it: its format's decimals, no float noise, no grouping."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    fmt = _QUOTED.sub("", (number_format or "").split(";")[0])  # the positive section, without literals
    try:
        d = Decimal(int(value)) if isinstance(value, int) else Decimal(format(value, ".15g"))
    except (InvalidOperation, ValueError, OverflowError):
        return str(value)
    if not d.is_finite():
        return str(value)
    percent = "%" in fmt
    if percent:
        d *= 100
    m = _DECIMALS.search(fmt)
    if m:
        d = d.quantize(Decimal(1).scaleb(-len(m.group(1))), rounding=ROUND_HALF_UP)
    elif "0" in fmt and "E" not in fmt.upper():  # 0, #,##0: whole numbers
        d = d.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    text = format(d, "f")
    if "." in text and not m:
        text = text.rstrip("0").rstrip(".")  # General: 42320.0 is shown as 42320
    return text + ("%" if percent else "")


def _cell_text(value: Any, number_format: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return number_text(value, number_format)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _sheet_lines(sheets: Iterable[tuple[int, Iterator[list[str]]]]) -> list[SourceLine]:
    lines: list[SourceLine] = []
    for page, rows in sheets:
        for texts in rows:
            while texts and not texts[-1]:
                texts = texts[:-1]
            if not texts:
                continue  # an empty row has no position to keep
            raw = "\t".join(texts)
            cells = [Cell(text=normalize_text(t), x0=float(i), x1=float(i + 1)) for i, t in enumerate(texts)]
            lines.append(
                SourceLine(line=len(lines) + 1, page=page, text=normalize_text(raw), raw=raw, cells=cells)
            )
    return lines


def _warnings(lines: list[SourceLine], n_sheets: int) -> list[str]:
    if not lines:
        return [f"workbook has no cells with values ({n_sheets} sheets)"]
    return []


def xlsx_lines(path: Path, data: bytes) -> tuple[list[SourceLine], list[str]]:
    """Lines of an .xlsx workbook; raise IngestError when it cannot be read."""
    from assistant.ingest.loaders import IngestError

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(path, "not a valid .xlsx (not a ZIP/Office Open XML file)")
    try:
        import openpyxl

        # not read_only: merged ranges are known only to full worksheets; data_only: cached formula values
        book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, BadZipFile, InvalidFileException … for damage
        raise IngestError(path, f"not a valid .xlsx ({type(exc).__name__})") from exc

    def rows(ws: Any) -> Iterator[list[str]]:
        if (ws.max_row or 0) * (ws.max_column or 0) > MAX_CELLS:
            raise IngestError(
                path, f"sheet '{ws.title}' is too large ({ws.max_row} rows × {ws.max_column} columns)"
            )
        for row in ws.iter_rows():
            yield [_cell_text(c.value, c.number_format) for c in row]

    visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
    try:
        lines = _sheet_lines((i, rows(ws)) for i, ws in enumerate(visible, 1))
    except IngestError:
        raise
    except Exception as exc:  # noqa: BLE001 — damage can surface while cells are read
        raise IngestError(path, f"not a valid .xlsx ({type(exc).__name__})") from exc
    return lines, _warnings(lines, len(visible))


def xls_lines(path: Path, data: bytes) -> tuple[list[SourceLine], list[str]]:
    """Lines of a legacy .xls workbook (BIFF, read with xlrd); raise IngestError when it cannot be read."""
    from assistant.ingest.loaders import IngestError

    try:
        import xlrd

        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=False)
    except Exception as exc:  # xlrd.XLRDError, CompDocError, struct errors …
        raise IngestError(path, f"not a valid .xls ({type(exc).__name__}: {exc})"[:200]) from exc

    def number_format(cell: Any) -> str | None:
        try:
            return book.format_map[book.xf_list[cell.xf_index].format_key].format_str
        except (IndexError, KeyError, AttributeError):
            return None

    def value(cell: Any) -> Any:
        if cell.ctype == xlrd.XL_CELL_DATE:
            try:
                return xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)
            except (ValueError, OverflowError):
                return cell.value
        if cell.ctype == xlrd.XL_CELL_BOOLEAN:
            return bool(cell.value)
        if cell.ctype == xlrd.XL_CELL_ERROR:
            return ""
        return cell.value

    def rows(sh: Any) -> Iterator[list[str]]:
        if sh.nrows * sh.ncols > MAX_CELLS:
            raise IngestError(path, f"sheet '{sh.name}' is too large ({sh.nrows} rows × {sh.ncols} columns)")
        for r in range(sh.nrows):
            yield [_cell_text(value(c), number_format(c)) for c in sh.row(r)]

    visible = [book.sheet_by_index(i) for i in range(book.nsheets) if book.sheet_by_index(i).visibility == 0]
    lines = _sheet_lines((i, rows(sh)) for i, sh in enumerate(visible, 1))
    return lines, _warnings(lines, len(visible))
