"""Load corpus files (.txt/.md, .docx, .pdf, .html/.htm, .xlsx/.xls) into ``Document`` records with
citable lines.

Line numbers are what a reader can check: for text files the file's own 1-based lines (empty lines
included, so ``doc.lines[n - 1].line == n``); for DOCX the order of emitted lines (paragraphs and
table rows in body order); for PDFs lines built from positioned words, numbered through the whole
document, page 1 first (pages without a text layer are read by OCR, ingest/ocr.py); web pages and
workbooks have their own modules (ingest/html.py, ingest/excel.py). Each line keeps ``raw`` (as
shown) and ``text`` (``normalize_text(raw)``).
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from assistant.ingest.normalize import normalize_lines, normalize_text
from assistant.ingest.ocr import page_ranges
from assistant.models import Cell, Document, SourceLine

__all__ = ["IngestError", "load_document", "decode_text", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = (".txt", ".md", ".docx", ".pdf", ".html", ".htm", ".xlsx", ".xls")

# A cell boundary inside a PDF line: a horizontal gap wider than this many character widths.
CELL_GAP_CHARS = 1.5
# Words whose tops differ by less than this fraction of the font size share a line.
LINE_TOP_TOLERANCE = 0.45
# Characters closer than this (points) form one word (pdfplumber's default of 3 glues a right-aligned
# number to the next column's label when the gap is 2.8pt, as on page 13 of the 政府办 report).
WORD_X_TOLERANCE = 1.5
# Bounds that keep a hostile file from exhausting memory or time. Real reports are far smaller
# (text exports < 1 MB, PDFs < 20 MB); the size is checked before anything is read.
MAX_TEXT_BYTES = 16 * 1024 * 1024
MAX_BINARY_BYTES = 200 * 1024 * 1024  # .pdf / .docx / .xlsx / .xls
MAX_LINE_CHARS = 20_000  # a longer line is cut (with a warning): no report line is that long


class IngestError(Exception):
    """A file that cannot be loaded; ``str(err)`` is a one-line message naming the file and cause."""

    def __init__(self, path: Path | str, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path.name}: {cause}")


def load_document(path: Path) -> Document:
    """Load one corpus file into a ``Document``; raise ``IngestError`` with a user message on failure."""
    path = Path(path)
    suffix = path.suffix.lower()
    limit = MAX_TEXT_BYTES if suffix in (".txt", ".md", ".html", ".htm") else MAX_BINARY_BYTES
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IngestError(path, "not a regular file")
        if size > limit:
            raise IngestError(
                path,
                f"file too large ({size / 2**20:.1f} MB; the limit for {suffix or 'such'} "
                f"files is {limit // 2**20} MB)",
            )
        with path.open("rb") as fh:
            data = fh.read(limit + 1)  # bounded even if the file grows meanwhile
    except OSError as exc:
        raise IngestError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise IngestError(path, f"file too large (more than {limit // 2**20} MB)")
    if not data.strip():
        raise IngestError(path, "empty file")
    sha = hashlib.sha256(data).hexdigest()
    if suffix in (".txt", ".md"):
        text, encoding = decode_text(data, path)
        del data
        lines, warnings = _text_lines(text)
        return Document(
            doc=path.name,
            path=str(path),
            sha256=sha,
            filetype="txt",
            encoding=encoding,
            lines=lines,
            warnings=warnings,
        )
    if suffix == ".docx":
        lines, warnings = _docx_lines(path, data)
        return Document(
            doc=path.name, path=str(path), sha256=sha, filetype="docx", lines=lines, warnings=warnings
        )
    if suffix == ".pdf":
        lines, warnings = _pdf_lines(path, data)
        return Document(
            doc=path.name, path=str(path), sha256=sha, filetype="pdf", lines=lines, warnings=warnings
        )
    if suffix == ".xls" and data.startswith(b"PK\x03\x04"):
        suffix = ".xlsx"  # a workbook saved as .xlsx and named .xls
    elif suffix in (".xls", ".xlsx") and data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        suffix = ".html"  # portals' "Excel" downloads are often HTML tables named .xls
    if suffix in (".html", ".htm"):
        from assistant.ingest.html import decode_html, html_lines

        text, encoding = decode_html(data)
        del data
        try:
            lines, warnings = html_lines(text)
        except (ValueError, TypeError) as exc:  # lxml: a document it cannot parse at all
            raise IngestError(path, f"not a readable web page ({type(exc).__name__}: {exc})"[:200]) from exc
        if not any(sl.text for sl in lines):
            raise IngestError(path, "web page has no text")
        return Document(
            doc=path.name,
            path=str(path),
            sha256=sha,
            filetype="html",
            encoding=encoding,
            lines=lines,
            warnings=warnings,
        )
    if suffix in (".xlsx", ".xls"):
        from assistant.ingest.excel import xls_lines, xlsx_lines

        lines, warnings = (xlsx_lines if suffix == ".xlsx" else xls_lines)(path, data)
        if not lines:
            raise IngestError(path, warnings[0] if warnings else "workbook has no cells with values")
        filetype = "xlsx" if suffix == ".xlsx" else "xls"
        return Document(
            doc=path.name, path=str(path), sha256=sha, filetype=filetype, lines=lines, warnings=warnings
        )
    raise IngestError(
        path,
        f"unsupported file type '{path.suffix or '(none)'}' (use .txt, .md, .docx, .pdf, .html, .xlsx or .xls)",
    )


# ---------------------------------------------------------------- text files


def _looks_binary(text: str) -> bool:
    """Many control characters (other than tab/newline/CR/FF) or private-use glyphs mean binary."""
    if not text:
        return False
    # each distinct character is classified once, then counted (a text has few distinct characters)
    bad = sum(
        text.count(ch)
        for ch in set(text)
        if (unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch not in "\t\n\r\f\v") or ch == "\ufffd"
    )
    return bad / len(text) > 0.02


def _utf16_without_bom(data: bytes) -> str | None:
    """Recognise BOM-less UTF-16 from the NUL pattern of mostly-ASCII text."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    for enc, nuls, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nuls > 0.3 * half and other < 0.05 * half:
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                return None
    return None


def decode_text(data: bytes, path: Path | str = "<bytes>") -> tuple[str, str]:
    """Decode a text file's bytes; return (text, encoding name). Raise IngestError for binary data.

    Order: BOMs (UTF-8, UTF-16), strict UTF-8, BOM-less UTF-16, strict GB18030 (superset of GBK/GB2312).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", data)]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", data)]
    else:
        if b"\x00" in data:
            text16 = _utf16_without_bom(data)
            if text16 is not None and not _looks_binary(text16):
                return text16, "utf-16"
            raise IngestError(path, "binary file, not text (contains NUL bytes)")
        candidates = [("utf-8", data), ("gb18030", data)]
    for enc, payload in candidates:
        try:
            text = payload.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            raise IngestError(path, "binary file, not text (too many control characters)")
        if not text.strip():
            raise IngestError(path, "empty file")
        return text, enc
    raise IngestError(path, "undecodable text (neither UTF-8, UTF-16 nor GB18030/GBK)")


@lru_cache(maxsize=1)
def _source_lines() -> TypeAdapter[list[SourceLine]]:
    return TypeAdapter(list[SourceLine])


def _text_lines(text: str) -> tuple[list[SourceLine], list[str]]:
    # split on \n only: str.splitlines also splits on \x0c, \x1c, \u2028 …, shifting line numbers
    # away from what editors and `grep -n` show
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()  # the final newline does not start a line
    raws = []
    long_lines: list[int] = []
    for i, part in enumerate(parts, 1):
        raw = part[:-1] if part.endswith("\r") else part
        raw = raw.lstrip("\ufeff") if i == 1 else raw
        if len(raw) > MAX_LINE_CHARS:
            long_lines.append(i)
            raw = raw[:MAX_LINE_CHARS]
        raws.append(raw)
    texts = normalize_lines(raws)  # = normalize_text of each line, in one pass over the document
    # validated as one list: a third cheaper than one SourceLine(...) call per line
    out = _source_lines().validate_python(
        [
            {"line": i, "text": text, "raw": raw}
            for i, (text, raw) in enumerate(zip(texts, raws, strict=True), 1)
        ]
    )
    warnings = []
    if long_lines:
        shown = ", ".join(map(str, long_lines[:5])) + (" …" if len(long_lines) > 5 else "")
        warnings.append(f"lines longer than {MAX_LINE_CHARS} characters cut: {shown}")
    return out, warnings


# ---------------------------------------------------------------- DOCX


def _docx_blocks(document: Any) -> Iterator[Any]:
    """Paragraphs and tables of the body in document order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            yield Table(child, document)


def _docx_lines(path: Path, data: bytes) -> tuple[list[SourceLine], list[str]]:
    if not zipfile.is_zipfile(path):
        raise IngestError(path, "not a valid .docx (not a ZIP/Office Open XML file)")
    try:
        import docx
        from docx.table import Table

        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises several unrelated types for broken packages
        raise IngestError(path, f"not a valid .docx ({type(exc).__name__})") from exc

    lines: list[SourceLine] = []

    def emit(raw: str, cells: list[Cell] | None = None) -> None:
        lines.append(SourceLine(line=len(lines) + 1, text=normalize_text(raw), raw=raw, cells=cells))

    for block in _docx_blocks(document):
        if isinstance(block, Table):
            for row in block.rows:
                texts: list[str] = []
                seen: list[Any] = []
                for cell in row.cells:
                    if any(cell._tc is s for s in seen):
                        continue  # a horizontally merged cell is returned once per grid column
                    seen.append(cell._tc)
                    texts.append(" ".join(p for p in cell.text.split("\n") if p.strip()))
                raw = "\t".join(texts)
                cells = [
                    Cell(text=normalize_text(t), x0=float(i), x1=float(i + 1)) for i, t in enumerate(texts)
                ]
                emit(raw, cells)
        else:
            for part in block.text.split("\n"):  # soft line breaks become lines of their own
                emit(part)
    warnings = [] if any(sl.text for sl in lines) else ["document has no text"]
    return lines, warnings


# ---------------------------------------------------------------- PDF


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def _char_width(word: dict[str, Any]) -> float:
    n = len(word["text"])
    return (word["x1"] - word["x0"]) / n if n else float(word.get("size") or 10.0)


def _join_words(words: list[dict[str, Any]]) -> str:
    """Join words of one cell: no space between CJK characters, one space next to Latin/digits."""
    out = words[0]["text"]
    for prev, word in zip(words, words[1:], strict=False):
        gap = word["x0"] - prev["x1"]
        size = float(word.get("size") or 10.0)
        if gap >= 0.15 * size and not (_is_cjk(out[-1]) and _is_cjk(word["text"][0])):
            out += " "
        out += word["text"]
    return out


def _split_cells(words: list[dict[str, Any]], edges: list[float]) -> list[list[dict[str, Any]]]:
    """Group a line's words into cells at gaps wider than CELL_GAP_CHARS characters or at rulings."""
    groups: list[list[dict[str, Any]]] = [[words[0]]]
    for prev, word in zip(words, words[1:], strict=False):
        gap = word["x0"] - prev["x1"]
        width = min(_char_width(prev), _char_width(word))
        split = gap > CELL_GAP_CHARS * width
        if not split and gap > 1.0:
            # a table ruling (rect side or vertical line) between the two words separates cells
            # (this is what separates "91,016,775.35" from "一、一般公共服务支出" 2.8pt later)
            split = any(prev["x1"] - 0.5 <= x <= word["x0"] + 0.5 for x in edges)
        if split:
            groups.append([word])
        else:
            groups[-1].append(word)
    return groups


def _vertical_edges(page: Any, top: float, bottom: float) -> list[float]:
    """x positions of vertical rulings (rect sides, vertical lines) spanning the band top..bottom."""
    xs: list[float] = []
    mid = (top + bottom) / 2
    for r in page.rects:
        if r["top"] - 1 <= mid <= r["bottom"] + 1:
            xs.extend((r["x0"], r["x1"]))
    for ln in page.lines:
        if abs(ln["x0"] - ln["x1"]) < 1 and ln["top"] - 1 <= mid <= ln["bottom"] + 1:
            xs.append(ln["x0"])
    return xs


def _page_rows(words: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group words into rows by their top coordinate (tolerance relative to the font size)."""
    rows: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["top"], 1), w["x0"])):
        size = float(word.get("size") or (word["bottom"] - word["top"]) or 10.0)
        if rows:
            ref = rows[-1][0]
            if abs(word["top"] - ref["top"]) <= LINE_TOP_TOLERANCE * size:
                rows[-1].append(word)
                continue
        rows.append([word])
    return [sorted(r, key=lambda w: w["x0"]) for r in rows]


def _open_pdf(path: Path) -> Any:
    import pdfplumber

    try:
        return pdfplumber.open(str(path))
    except Exception as exc:  # pdfminer raises many types (PSEOF, PDFSyntaxError, password errors)
        raise IngestError(path, _pdf_cause(exc)) from exc


def _pdf_cause(exc: BaseException) -> str:
    # pdfplumber wraps pdfminer's errors: PdfminerException(PDFPasswordIncorrect()) — look inside
    inner = [a for a in exc.args if isinstance(a, BaseException)]
    parts = [exc, exc.__cause__, exc.__context__, *inner]
    chain = " ".join(f"{type(e).__name__} {e}" for e in parts if e is not None).lower()
    if "password" in chain or "encrypt" in chain:
        return "encrypted PDF (password protected)"
    return f"truncated or damaged PDF ({type(exc).__name__})"


def _pdf_lines(path: Path, data: bytes) -> tuple[list[SourceLine], list[str]]:
    if not data.lstrip()[:5] == b"%PDF-":
        raise IngestError(path, "not a PDF file (no %PDF header)")
    lines: list[SourceLine] = []
    warnings: list[str] = []
    empty_pages: list[int] = []
    pdf = _open_pdf(path)
    try:
        with pdf:
            n_pages = len(pdf.pages)
            scanned = _ocr_scanned_pages(path, pdf, warnings)  # formats hook: scanned pages (ingest/ocr.py)
            for page_no, page in enumerate(pdf.pages, 1):
                words = scanned.get(page_no) or page.extract_words(
                    keep_blank_chars=False,
                    use_text_flow=False,
                    x_tolerance=WORD_X_TOLERANCE,
                    extra_attrs=["size"],
                )
                if not words:
                    empty_pages.append(page_no)
                    continue
                for row in _page_rows(words):
                    top = min(w["top"] for w in row)
                    bottom = max(w["bottom"] for w in row)
                    groups = _split_cells(row, _vertical_edges(page, top, bottom))
                    raws = [_join_words(g) for g in groups]
                    raw = "\t".join(raws) if len(raws) > 1 else raws[0]
                    cells = [
                        Cell(text=normalize_text(t), x0=round(g[0]["x0"], 2), x1=round(g[-1]["x1"], 2))
                        for t, g in zip(raws, groups, strict=True)
                    ]
                    lines.append(
                        SourceLine(
                            line=len(lines) + 1,
                            page=page_no,
                            text=normalize_text(raw),
                            raw=raw,
                            cells=cells,
                            ocr=bool(scanned.get(page_no)),
                        )
                    )
    except IngestError:
        raise
    except Exception as exc:  # damage often surfaces only when a page is parsed
        raise IngestError(path, _pdf_cause(exc)) from exc
    if n_pages == 0:
        raise IngestError(path, "PDF has no pages")
    if not lines:
        raise IngestError(
            path, f"PDF has no text: no text layer, and OCR found none on page(s) {page_ranges(empty_pages)}"
        )
    if empty_pages:
        warnings.append(f"pages without text (no text layer; OCR found none): {page_ranges(empty_pages)}")
    read = sorted(n for n, words in scanned.items() if words)
    if read:
        warnings.append(f"pages read by OCR (their numbers are flagged ocr): {page_ranges(read)}")
    return lines, warnings


def _ocr_scanned_pages(path: Path, pdf: Any, warnings: list[str]) -> dict[int, list[dict[str, Any]]]:
    """OCR words of the pages without a text layer (scanned images), by page number (ingest/ocr.py)."""
    from assistant.ingest.ocr import OcrUnavailable, ocr_pdf_pages, scanned_pages

    pages = scanned_pages(pdf)
    if not pages:
        return {}
    try:
        return ocr_pdf_pages(path, pages)
    except OcrUnavailable as exc:
        if len(pages) == len(pdf.pages):
            raise IngestError(path, f"PDF has no text layer (scanned images) and {exc}") from exc
        warnings.append(f"{exc}: pages without a text layer not read")
        return {}
