"""Reports as people publish them, made from the real shared reports (not hand-written fixtures):
004's text export written as a saved web page (UTF-8 and GBK) and as Excel workbooks (.xlsx, .xls),
and the 社工部 PDF rendered into an image-only PDF that only OCR can read. Each must give the facts
that the original gives."""

from __future__ import annotations

import html
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.ingest.loaders import IngestError, load_document
from assistant.parse.facts import parse_document
from tests.conftest import CORPUS, write_config

DOC004 = "004_a15be56197084065.txt"
SHEGONG = "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"
GOV_OFFICE = "上海市普陀区人民政府办公室25年预算.pdf"
NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")
STANDARD = [f"公开0{i}表" for i in range(1, 7)]


# ------------------------------------------------------------- making the other forms from 004


def _blocks(path: Path) -> list[tuple[str, list[list[str]]]]:
    """The text export as ("p", [[line]]) paragraphs and ("table", rows of cells) blocks, in order."""
    blocks: list[tuple[str, list[list[str]]]] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if "\t" in line:
            if not blocks or blocks[-1][0] != "table":
                blocks.append(("table", []))
            blocks[-1][1].append(line.split("\t"))
        elif line.strip():
            blocks.append(("p", [[line.strip()]]))
    return blocks


def _spans(rows: list[list[str]]) -> list[list[tuple[str, int, int]]]:
    """Header rows (no numbers) as a portal's editor merges them: a heading over the empty cells to its
    right (colspan) or, alone in its column, over the empty cell below (rowspan)."""
    width = max(map(len, rows))
    grid = [r + [""] * (width - len(r)) for r in rows]
    header = [not any(NUMBER.match(c) for c in row) for row in grid]
    covered: set[tuple[int, int]] = set()
    out = []
    for r, row in enumerate(grid):
        cells = []
        for c, text in enumerate(row):
            if (r, c) in covered:
                continue
            cs = rs = 1
            if header[r] and text:
                while c + cs < width and not row[c + cs] and (r, c + cs) not in covered:
                    cs += 1
                if cs == 1 and r + 1 < len(grid) and header[r + 1] and not grid[r + 1][c]:
                    rs = 2
            covered.update((r + dr, c + dc) for dr in range(rs) for dc in range(cs))
            cells.append((text, cs, rs))
        out.append(cells)
    return out


def _html(path: Path, charset: str | None, merged: bool = False) -> str:
    """A portal-like page: site navigation, script and footer around the report's paragraphs and tables
    (``merged``: header cells merged with colspan/rowspan)."""
    out = ["<!DOCTYPE html><html><head>"]
    if charset:
        out.append(f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">')
    out.append(
        "<title>部门决算公开</title><script>var total = '9,999,999.99';</script>"
        "<style>td{border:1px}</style></head><body>"
    )
    out.append('<div class="top-nav"><a href="/">首页</a> <a href="/gk">政府信息公开</a> 2099年</div>')
    out.append('<nav><ul><li>机构概况</li><li>财政预决算 12,345.67</li></ul></nav><div class="article">')
    for kind, rows in _blocks(path):
        if kind == "p":
            out.append(f"<p>{html.escape(rows[0][0])}</p>")
            continue
        out.append('<table border="1" cellspacing="0">')
        if merged:
            for cells in _spans(rows):
                out.append(
                    "<tr>"
                    + "".join(
                        f'<th colspan="{cs}" rowspan="{rs}">{html.escape(t)}</th>'
                        if cs > 1 or rs > 1
                        else f"<td>{html.escape(t)}</td>"
                        for t, cs, rs in cells
                    )
                    + "</tr>"
                )
        else:
            for row in rows:
                out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        out.append("</table>")
    out.append(
        '</div><div id="footer">版权所有：某某市人民政府 电话：0954-1234567 2099年</div></body></html>'
    )
    return "\n".join(out)


def _sheets(path: Path) -> list[tuple[str, list[list[str]]]]:
    """One sheet per table, holding the lines above it since the previous table (title, 公开NN表,
    金额单位) as one-cell rows; the text after the last table on a sheet of its own."""
    sheets: list[tuple[str, list[list[str]]]] = []
    pending: list[list[str]] = []
    for kind, rows in _blocks(path):
        if kind == "p":
            pending.extend(rows)
            continue
        names = [m.group(1) for r in pending if (m := re.fullmatch(r"公开\s*(\d+)\s*表", r[0]))]
        name = f"公开{names[-1]}表" if names else f"表{len(sheets) + 1}"
        sheets.append((name, pending + rows))
        pending = []
    if pending:
        sheets.append(("说明", pending))
    return sheets


def _number(cell: str) -> tuple[float, str] | None:
    """A cell that is a number: its value and the number format a report's workbook would give it."""
    if not NUMBER.match(cell):
        return None
    plain = cell.replace(",", "")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return float(plain), ("#,##0." + "0" * decimals if decimals else "General")


def _xlsx(path: Path, out: Path) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in _sheets(path):
        ws = book.create_sheet(name)
        for r, cells in enumerate(rows, 1):
            for c, text in enumerate(cells, 1):
                if not text:
                    continue
                num = _number(text)
                cell = ws.cell(row=r, column=c, value=num[0] if num else text)
                if num:
                    cell.number_format = num[1]
    book.save(out)
    return out


def _xls(path: Path, out: Path) -> Path:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    styles: dict[str, xlwt.XFStyle] = {}
    for name, rows in _sheets(path):
        ws = book.add_sheet(name)
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                if not text:
                    continue
                num = _number(text)
                if num:
                    style = styles.setdefault(num[1], xlwt.easyxf(num_format_str=num[1]))
                    ws.write(r, c, num[0], style)
                else:
                    ws.write(r, c, text)
    book.save(str(out))
    return out


# ------------------------------------------------------------- what must come out


def _row_walk(parsed) -> dict[str, list[tuple]]:  # noqa: ANN001
    """公开01–06表 row by row: label, code, the numbers and their columns, and the checks that failed."""
    return {
        t.table_id: [(r.label, r.code, tuple(r.values), tuple(r.columns), r.column_uncertain) for r in t.rows]
        + [("failed", len(t.failed_checks))]
        for t in parsed.tables
        if t.table_id in STANDARD
    }


@pytest.fixture(scope="module")
def original():
    return parse_document(load_document(CORPUS / DOC004))


def _assert_004_facts(parsed, original) -> None:  # noqa: ANN001
    def has(metric: str, qualifier: str | None, value: str, table: str | None = None) -> None:
        found = [
            f
            for f in parsed.facts
            if f.metric == metric
            and f.qualifier == qualifier
            and f.value == Decimal(value)
            and (table is None or f.table_id == table)
        ]
        assert found, (metric, qualifier, value)

    has("本年支出合计", "决算数", "3470158.34", "公开01表")
    has("卫生健康支出", "决算数", "3320099.84", "公开01表")
    has("信息化建设", "项目支出", "1818019.76", "公开03表")
    assert parsed.report.department == original.report.department == "固原市医疗保障局"
    assert (parsed.report.year, parsed.report.kind) == (2020, "决算")
    walk, expected = _row_walk(parsed), _row_walk(original)
    assert sorted(expected) == STANDARD
    for table_id in STANDARD:
        assert walk.get(table_id) == expected[table_id], table_id
    # the narrative gives the same numbers too (paragraphs kept in order)
    narrative = Counter((f.metric, f.qualifier, f.value) for f in parsed.facts if f.source == "narrative")
    assert narrative == Counter(
        (f.metric, f.qualifier, f.value) for f in original.facts if f.source == "narrative"
    )


@pytest.mark.parametrize(
    "charset,encoding,merged", [("utf-8", "utf-8", False), ("gb2312", "gbk", True), (None, "gbk", False)]
)
def test_web_page_of_004(tmp_path, original, charset, encoding, merged) -> None:
    p = tmp_path / "固原市医保局2020年决算.htm"
    page = _html(CORPUS / DOC004, charset, merged)
    assert not merged or ('colspan="3"' in page and 'rowspan="2"' in page)
    p.write_bytes(page.encode(encoding))
    doc = load_document(p)
    assert doc.filetype == "html" and doc.encoding in ("utf-8", "gb18030")
    texts = [sl.text for sl in doc.lines]
    # site navigation, scripts and footer are dropped; the report's paragraphs are kept in order
    assert not any("9,999,999.99" in t or "12,345.67" in t or "版权所有" in t or "首页" in t for t in texts)
    assert texts.index("第二部分 2020 年度部门决算表") < texts.index("收入支出决算总表")
    _assert_004_facts(parse_document(doc), original)


def test_workbook_xlsx_of_004(tmp_path, original) -> None:
    doc = load_document(_xlsx(CORPUS / DOC004, tmp_path / "固原市医保局2020年决算报表.xlsx"))
    assert doc.filetype == "xlsx"
    # a sheet is the page of its lines: 公开03表 is the third sheet, 信息化建设 one of its rows
    row = next(sl for sl in doc.lines if sl.raw.split("\t")[1:3] == ["2101504", "信息化建设"])
    assert row.page == 3 and row.raw.split("\t")[3] == "1818019.76"
    _assert_004_facts(parse_document(doc), original)


def test_workbook_xls_of_004(tmp_path, original) -> None:
    doc = load_document(_xls(CORPUS / DOC004, tmp_path / "固原市医保局2020年决算报表.xls"))
    assert doc.filetype == "xls"
    _assert_004_facts(parse_document(doc), original)


def test_xls_that_is_a_web_page_or_an_xlsx(tmp_path, original) -> None:
    """Portals serve HTML tables and .xlsx files under an .xls name: read by what the bytes are."""
    html_xls = tmp_path / "决算报表.xls"
    html_xls.write_bytes(_html(CORPUS / DOC004, "gbk").encode("gbk"))
    xlsx_xls = _xlsx(CORPUS / DOC004, tmp_path / "报表.xlsx").rename(tmp_path / "报表2.xls")
    for path, filetype in ((html_xls, "html"), (xlsx_xls, "xlsx")):
        doc = load_document(path)
        assert doc.filetype == filetype
        _assert_004_facts(parse_document(doc), original)


def test_numbers_are_read_as_stored(tmp_path) -> None:
    """A workbook's numbers come from the cell values and formats, not from display text."""
    import openpyxl

    from assistant.ingest.excel import number_text

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["合计", 0.1 + 0.2, 1234567.5, 42320, 0.256, 3470158.34])
    for cell, fmt in zip(ws[1][1:], ["#,##0.00", "#,##0.00", "General", "0.0%", "General"], strict=True):
        cell.number_format = fmt
    ws.merge_cells("A2:C2")
    ws["A2"] = "金额单位：元"
    book.save(tmp_path / "t.xlsx")
    doc = load_document(tmp_path / "t.xlsx")
    assert [sl.raw for sl in doc.lines] == [
        "合计\t0.30\t1234567.50\t42320\t25.6%\t3470158.34",
        "金额单位：元",
    ]
    assert number_text(2.675, "0.00") == "2.68" and number_text(7.0, None) == "7"


def test_damaged_and_tableless_files(tmp_path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / DOC004, corpus / DOC004)
    good = _xlsx(CORPUS / DOC004, tmp_path / "good.xlsx").read_bytes()
    (corpus / "损坏的报表.xlsx").write_bytes(good[: len(good) // 2])  # cut in the middle of a download
    (corpus / "说明.htm").write_bytes(
        "<html><body><p>本页面仅有文字说明，没有表格。</p></body></html>".encode()
    )
    (corpus / "空白.html").write_bytes(b"<html><head><script>x=1</script></head><body> </body></html>")
    for name, fragment in (("损坏的报表.xlsx", "not a valid .xlsx"), ("空白.html", "web page has no text")):
        with pytest.raises(IngestError) as info:
            load_document(corpus / name)
        assert fragment in str(info.value) and "\n" not in str(info.value)
    doc = load_document(corpus / "说明.htm")
    assert doc.warnings == ["web page has no tables (only its text is indexed)"]

    from assistant.config import load_settings
    from assistant.store.build import build_index

    cfg = write_config(tmp_path, [corpus], tmp_path / "index")
    result = build_index(load_settings(cfg), embed=False, retrieval=False, log=lambda *a: None)
    assert sorted(result.indexed) == sorted([DOC004, "说明.htm"])
    assert [name for name, _ in result.skipped] == ["损坏的报表.xlsx", "空白.html"]
    assert all("\n" not in reason for _, reason in result.skipped)


# ------------------------------------------------------------- a scanned report


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> Path:
    """社工部's report rendered page by page into a PDF of images (no text layer), as a scanner makes it.

    Its OCR results are cached by page-image hash in the user's OCR cache: the first run reads the 24
    pages (~2 minutes on 2 cores), later runs only render and hash them.
    """
    return _image_pdf(CORPUS / SHEGONG, tmp_path_factory.mktemp("scan") / "社工部2024年度决算（扫描件）.pdf")


def _image_pdf(source: Path, out: Path) -> Path:
    """Every page of ``source`` rendered at 200 dpi (grey) into a PDF of images only."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(source))
    images = [pdf[i].render(scale=200 / 72).to_pil().convert("L") for i in range(len(pdf))]
    pdf.close()
    images[0].save(out, save_all=True, append_images=images[1:], resolution=200)
    return out


@pytest.fixture(scope="module")
def scanned_doc(scanned):
    return load_document(scanned)


def test_scanned_report_gives_the_text_layer_facts(scanned_doc) -> None:
    import pdfplumber

    with pdfplumber.open(str(scanned_doc.path)) as pdf:
        assert not any(page.chars for page in pdf.pages)  # really no text layer
    assert all(sl.ocr for sl in scanned_doc.lines)
    assert "pages read by OCR (their numbers are flagged ocr): 1–24" in scanned_doc.warnings
    text_layer = parse_document(load_document(CORPUS / SHEGONG))
    ocr = parse_document(scanned_doc)
    assert ocr.report.department == text_layer.report.department and ocr.report.year == 2024

    def key(f):  # noqa: ANN001, ANN202
        return f.page, f.label, f.qualifier, f.value

    expected, got = Counter(map(key, text_layer.facts)), Counter(map(key, ocr.facts))
    recovered = sum((expected & got).values())
    assert recovered >= 0.95 * sum(expected.values()), (recovered, sum(expected.values()))
    assert not got - expected, sorted(got - expected, key=str)  # no number the text layer lacks
    assert all("ocr" in f.flags for f in ocr.facts)


def test_scanned_budget_report_states_no_number_the_text_layer_lacks(tmp_path) -> None:
    """政府办's report made image-only: amounts of tight columns (no rulings to part them on a scan)
    come back cut, spaced or glued and are mended; every (page, column, value) of the text layer is
    recovered and none that it lacks is stated. Labels may lose a leading 一 (read as a ruling)."""
    path = _image_pdf(CORPUS / GOV_OFFICE, tmp_path / "政府办2025年预算（扫描件）.pdf")
    text_layer = parse_document(load_document(CORPUS / GOV_OFFICE))
    ocr = parse_document(load_document(path))
    expected = Counter((f.page, f.qualifier, f.value) for f in text_layer.facts)
    got = Counter((f.page, f.qualifier, f.value) for f in ocr.facts)
    assert got == expected
    labelled = Counter((f.page, f.label, f.qualifier, f.value) for f in text_layer.facts)
    recovered = sum((labelled & Counter((f.page, f.label, f.qualifier, f.value) for f in ocr.facts)).values())
    assert recovered >= 0.95 * sum(labelled.values())


def test_ocr_is_cached_by_page_image(scanned, scanned_doc, monkeypatch) -> None:
    from assistant.ingest import ocr

    def no_ocr(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("an unchanged page was OCR'd again")

    monkeypatch.setattr(ocr, "_run", no_ocr)
    again = load_document(scanned)
    assert [sl.raw for sl in again.lines] == [sl.raw for sl in scanned_doc.lines]


def test_answer_says_ocr(tmp_path, scanned, scanned_doc) -> None:
    from assistant.answer.engine import Engine
    from assistant.config import load_settings
    from assistant.store.build import build_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(scanned, corpus / scanned.name)
    settings = load_settings(write_config(tmp_path, [corpus], tmp_path / "index"))
    result = build_index(settings, embed=False, retrieval=False, log=lambda *a: None)
    assert result.indexed == [scanned.name]
    engine = Engine(settings)
    try:
        answer = engine.ask("区社工部2024年本年支出合计是多少")
    finally:
        engine.con.close()
    assert answer.values and answer.values[0].value == "307.82" and "ocr" in answer.values[0].flags
    assert "（OCR识别）" in answer.text


def test_mixed_pdf_ocrs_only_its_scanned_page(tmp_path, scanned, scanned_doc) -> None:
    """A text-layer PDF with one scanned page (收入决算表, page 6): that page alone is read by OCR, in
    its place among the lines, and gives the text layer's facts of the page."""
    import pypdfium2

    mixed = pypdfium2.PdfDocument(str(CORPUS / SHEGONG))
    scan = pypdfium2.PdfDocument(str(scanned))
    mixed.del_page(5)
    mixed.import_pages(scan, [5], index=5)
    out = tmp_path / "mixed.pdf"
    mixed.save(str(out))
    mixed.close()
    scan.close()
    doc = load_document(out)
    assert "pages read by OCR (their numbers are flagged ocr): 6" in doc.warnings
    assert {sl.page for sl in doc.lines if sl.ocr} == {6}
    assert [sl.line for sl in doc.lines] == list(range(1, len(doc.lines) + 1))
    pages = [sl.page for sl in doc.lines if sl.page is not None]
    assert len(pages) == len(doc.lines) and pages == sorted(pages)

    def page6(parsed):  # noqa: ANN001, ANN202
        return Counter((f.label, f.qualifier, f.value) for f in parsed.facts if f.page == 6)

    got, expected = page6(parse_document(doc)), page6(parse_document(load_document(CORPUS / SHEGONG)))
    assert len(expected) > 20 and got == expected


def test_stamp_over_a_scan_is_not_its_text(tmp_path, scanned) -> None:
    """A portal stamps 'Page 6 of 24' as text over the scanned image: the page is still OCR'd (a few
    characters over a page-sized image are not a text layer) and its table is read."""
    import ctypes

    import pypdfium2
    import pypdfium2.raw as raw

    pdf = pypdfium2.PdfDocument(str(scanned))
    page = pdf[5]
    stamp = raw.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", 9.0)
    text = ctypes.create_string_buffer("Page 6 of 24\x00".encode("utf-16-le"))
    raw.FPDFText_SetText(stamp, ctypes.cast(text, ctypes.POINTER(raw.FPDF_WCHAR)))
    raw.FPDFPageObj_Transform(stamp, 1, 0, 0, 1, 280, 20)
    raw.FPDFPage_InsertObject(page.raw, stamp)
    assert raw.FPDFPage_GenerateContent(page.raw)
    out = tmp_path / "stamped.pdf"
    pdf.save(str(out))
    pdf.close()
    doc = load_document(out)
    page6 = [sl for sl in doc.lines if sl.page == 6]
    assert page6 and all(sl.ocr for sl in page6)
    assert any(sl.raw.startswith("2013901\t行政运行") for sl in page6)
