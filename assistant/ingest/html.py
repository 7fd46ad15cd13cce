"""Saved web pages (.html/.htm) as citable lines: paragraphs in order, table rows as cells.

Government portals publish a report as a page with ``<table>`` rows; saved pages come in UTF-8 or
GB2312/GBK, declared in a ``<meta>`` tag or not. The page is parsed with lxml's HTML parser; scripts,
styles, navigation, headers and footers of the site are dropped. A data table (one without nested
tables and with more than one column) gives one line per row, its cells tab-separated with the empty
ones kept, so positions hold as in DOCX tables; a ``colspan``/``rowspan`` cell keeps its text in its
first grid position and leaves the others empty (a number is never counted twice). Other tables are
page layout: their cells are read as blocks. Line numbers are the order of the emitted lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from assistant.ingest.normalize import normalize_text
from assistant.models import Cell, SourceLine

__all__ = ["html_lines", "decode_html"]

# The encoding a page declares, looked for in its first bytes as browsers do (HTML's pre-scan).
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
# GB2312 and GBK pages often hold characters beyond their declared set: GB18030 is the superset.
_ENCODING_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030"}
_DROPPED_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "nav",
    "footer",
    "select",
    "button",
    "object",
    "embed",
    "svg",
    "canvas",
)
# class/id words of a portal's navigation, breadcrumbs, share bars and footers
_CHROME_WORDS = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|footer|foot|breadcrumbs?|crumbs?|sidebar|copyright|"
    r"share|toolbar|topbar)($|[-_\s\d])",
    re.I,
)
_BLOCK_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd section article main blockquote pre address center form "
    "fieldset caption figcaption figure hr header aside td th tr tbody thead tfoot table body html".split()
)
_SPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u3000]+")
MAX_SPAN = 1000  # a colspan/rowspan beyond this is a damaged page, not a table


def decode_html(data: bytes) -> tuple[str, str]:
    """The page's text and encoding: BOM, then the declared charset, then UTF-8 or GB18030."""
    from assistant.ingest.loaders import decode_text

    if not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        m = _META_CHARSET.search(data[:4096])
        if m:
            declared = m.group(1).decode("ascii").lower()
            encoding = _ENCODING_ALIASES.get(declared, declared)
            try:
                return data.decode(encoding), encoding
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong declaration: fall back to what the bytes are
    return decode_text(data)


def _is_chrome(el: Any) -> bool:
    """Site navigation, breadcrumbs, footers: by tag or by class/id words."""
    if el.tag == "header":
        # a page header belongs to the site unless it sits inside the article
        return not any(a.tag in ("article", "main") for a in el.iterancestors())
    attrs = f"{el.get('class') or ''} {el.get('id') or ''}"
    return bool(attrs.strip()) and bool(_CHROME_WORDS.search(attrs)) and not el.xpath(".//table//td")


def _clean(root: Any) -> None:
    from lxml import etree

    etree.strip_elements(root, *_DROPPED_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    for el in list(root.iter()):
        if isinstance(el.tag, str) and el.getparent() is not None and _is_chrome(el):
            el.drop_tree()  # keeps the tail text, which belongs to the parent


def _text(s: str | None) -> str:
    return _SPACE.sub(" ", s or "")


def _cell_text(cell: Any) -> str:
    return _text(" ".join(cell.itertext())).strip()


def _rows(table: Any) -> list[Any]:
    return table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")


def _is_data_table(table: Any) -> bool:
    if table.xpath(".//table"):
        return False  # tables inside tables: the outer one lays out the page
    return any(len(row.xpath("./td|./th")) > 1 for row in _rows(table))


def _span(cell: Any, name: str) -> int:
    try:
        return max(1, min(int((cell.get(name) or "1").strip()), MAX_SPAN))
    except ValueError:
        return 1


def table_grid(table: Any) -> list[list[str]]:
    """The rows of a data table with colspan/rowspan expanded to grid positions (text in the first)."""
    grid: list[list[str]] = []
    pending: dict[tuple[int, int], str] = {}  # (row, col) positions taken by a rowspan from above
    for r, row in enumerate(_rows(table)):
        out: list[str] = []
        col = 0
        for cell in row.xpath("./td|./th"):
            while (r, col) in pending:
                out.append(pending.pop((r, col)))
                col += 1
            text = _cell_text(cell)
            colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
            for dc in range(colspan):
                out.append(text if dc == 0 else "")
                for dr in range(1, rowspan):
                    pending[(r + dr, col + dc)] = ""
            col += colspan
        while (r, col) in pending:
            out.append(pending.pop((r, col)))
            col += 1
        grid.append(out)
    return grid


def _events(el: Any) -> Iterator[tuple[str, Any]]:
    """("text", s), ("break", None) and ("row", cells) in document order."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "table" and _is_data_table(el):
        yield "break", None
        for caption in el.xpath("./caption"):
            yield "text", _cell_text(caption)
            yield "break", None
        for cells in table_grid(el):
            yield "row", cells
        yield "break", None
        return
    if tag == "br":
        yield "break", None
        return
    block = tag in _BLOCK_TAGS
    if block:
        yield "break", None
    if el.text:
        yield "text", el.text
    for child in el:
        yield from _events(child)
        if child.tail:
            yield "text", child.tail
    if block:
        yield "break", None


def html_lines(text: str) -> tuple[list[SourceLine], list[str]]:
    """Lines of a web page's text (see the module docstring) and the warnings of loading it."""
    import lxml.html

    root = lxml.html.document_fromstring(text)
    _clean(root)
    body = root.find("body")
    lines: list[SourceLine] = []
    buf: list[str] = []
    n_rows = 0

    def flush() -> None:
        raw = _text("".join(buf)).strip()
        buf.clear()
        if raw:
            lines.append(SourceLine(line=len(lines) + 1, text=normalize_text(raw), raw=raw))

    for kind, value in _events(body if body is not None else root):
        if kind == "text":
            buf.append(value)
        elif kind == "break":
            flush()
        else:
            while value and not value[-1]:
                value = value[:-1]  # trailing empty cells carry no position
            if not any(value):
                continue
            n_rows += 1
            raw = "\t".join(value)
            cells = [Cell(text=normalize_text(t), x0=float(i), x1=float(i + 1)) for i, t in enumerate(value)]
            lines.append(SourceLine(line=len(lines) + 1, text=normalize_text(raw), raw=raw, cells=cells))
    flush()
    warnings = [] if n_rows else ["web page has no tables (only its text is indexed)"]
    return lines, warnings
