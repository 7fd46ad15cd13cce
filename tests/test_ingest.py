"""Loaders on the real corpus and on broken inputs."""

import random
from pathlib import Path

import pytest

from assistant.ingest.loaders import IngestError, load_document

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
TXT_000 = CORPUS / "000_db59d6f0fba66678.txt"
PDF_GOV = CORPUS / "上海市普陀区人民政府办公室25年预算.pdf"
PDF_SOCIAL = CORPUS / "中共上海市普陀区委社会工作部 2024 年度部门决算.pdf"


@pytest.fixture(scope="module")
def doc000():
    return load_document(TXT_000)


@pytest.fixture(scope="module")
def gov_pdf():
    return load_document(PDF_GOV)


@pytest.fixture(scope="module")
def social_pdf():
    return load_document(PDF_SOCIAL)


def test_txt_lines_are_file_lines(doc000) -> None:
    file_lines = TXT_000.read_text(encoding="utf-8").split("\n")
    assert doc000.filetype == "txt" and doc000.encoding == "utf-8"
    assert doc000.doc == TXT_000.name
    assert [sl.line for sl in doc000.lines] == list(range(1, len(doc000.lines) + 1))
    assert doc000.lines[4].raw == file_lines[4] == "部门：峨山彝族自治县医疗保障局 金额单位：元"
    assert doc000.lines[4].text == "部门:峨山彝族自治县医疗保障局 金额单位:元"
    assert all(sl.page is None and sl.cells is None for sl in doc000.lines)
    import hashlib

    assert doc000.sha256 == hashlib.sha256(TXT_000.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("codec", "prefix", "expected_encoding"),
    [("gbk", b"", "gb18030"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("utf-16", b"", "utf-16")],
)
def test_encodings_load_identically(doc000, tmp_path, codec, prefix, expected_encoding) -> None:
    text = TXT_000.read_text(encoding="utf-8")
    copy = tmp_path / f"copy_{codec}.txt"
    copy.write_bytes(prefix + text.encode(codec))
    doc = load_document(copy)
    assert doc.encoding == expected_encoding
    assert [(sl.line, sl.text, sl.raw) for sl in doc.lines] == [
        (sl.line, sl.text, sl.raw) for sl in doc000.lines
    ]


def test_crlf_lines(tmp_path) -> None:
    p = tmp_path / "crlf.txt"
    p.write_bytes("第一行\r\n\r\n第三行 1,000.00\r\n".encode())
    doc = load_document(p)
    assert [(sl.line, sl.raw) for sl in doc.lines] == [(1, "第一行"), (2, ""), (3, "第三行 1,000.00")]


def _expect_error(path: Path, fragment: str) -> None:
    with pytest.raises(IngestError) as info:
        load_document(path)
    msg = str(info.value)
    assert path.name in msg and fragment in msg and "\n" not in msg


def test_empty_file(tmp_path) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    _expect_error(p, "empty")


def test_binary_junk_txt(tmp_path) -> None:
    p = tmp_path / "junk.txt"
    p.write_bytes(random.Random(0).randbytes(4096))
    _expect_error(p, "binary")


def test_control_chars_txt(tmp_path) -> None:
    p = tmp_path / "ctrl.txt"
    p.write_bytes(bytes(range(1, 32)) * 50)
    _expect_error(p, "binary")


def test_truncated_pdf(tmp_path) -> None:
    p = tmp_path / "truncated.pdf"
    p.write_bytes(PDF_GOV.read_bytes()[:2048])
    _expect_error(p, "truncated or damaged PDF")


def test_not_a_pdf(tmp_path) -> None:
    p = tmp_path / "fake.pdf"
    p.write_bytes("这不是PDF".encode())
    _expect_error(p, "not a PDF")


def _blank_pdf() -> bytes:
    """A one-page PDF without any text (what a scan without OCR looks like to the loader)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length 18 >>\nstream\n0 0 m 100 100 l S\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def test_pdf_without_text_needs_ocr(tmp_path, monkeypatch) -> None:
    # a page with a drawing and no text: OCR runs on it, finds nothing, and the page is named
    monkeypatch.setenv("ASSISTANT_OCR_CACHE_DIR", str(tmp_path / "ocr"))
    p = tmp_path / "scan.pdf"
    p.write_bytes(_blank_pdf())
    _expect_error(p, "no text layer, and OCR found none on page(s) 1")


def test_fake_docx(tmp_path) -> None:
    p = tmp_path / "report.docx"
    p.write_bytes(b"this is not a zip")
    _expect_error(p, "not a valid .docx")


def test_zip_that_is_not_docx(tmp_path) -> None:
    import zipfile

    p = tmp_path / "other.docx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "hi")
    _expect_error(p, "not a valid .docx")


def test_unsupported_extension(tmp_path) -> None:
    p = tmp_path / "table.ods"
    p.write_bytes(b"PK\x03\x04")
    _expect_error(p, "unsupported file type")
    p = tmp_path / "table.xlsx"  # a supported type whose bytes are not a workbook
    p.write_bytes(b"PK\x03\x04")
    _expect_error(p, "not a valid .xlsx")


def test_docx_body_order_and_cells(tmp_path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("部门：测试县医疗保障局")
    t = d.add_table(rows=2, cols=3)
    for r, row in enumerate([["项目", "合计", "基本支出"], ["行政运行", "1,000.00", "１００.00"]]):
        for c, text in enumerate(row):
            t.cell(r, c).text = text
    d.add_paragraph("（一）说明")
    p = tmp_path / "t.docx"
    d.save(str(p))
    doc = load_document(p)
    assert doc.filetype == "docx"
    assert [sl.text for sl in doc.lines] == [
        "部门:测试县医疗保障局",
        "项目\t合计\t基本支出",
        "行政运行\t1,000.00\t100.00",
        "(一)说明",
    ]
    assert [sl.line for sl in doc.lines] == [1, 2, 3, 4]
    sl = doc.lines[2]
    assert sl.cells is not None and [c.text for c in sl.cells] == ["行政运行", "1,000.00", "100.00"]
    assert [(c.x0, c.x1) for c in sl.cells] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    assert sl.raw == "行政运行\t1,000.00\t１００.00"


def _find(doc, text):
    hits = [sl for sl in doc.lines if sl.text == text]
    assert len(hits) >= 1, text
    return hits


def test_pdf_gov_row_cells(gov_pdf) -> None:
    assert gov_pdf.filetype == "pdf" and gov_pdf.warnings == []
    assert [sl.line for sl in gov_pdf.lines] == list(range(1, len(gov_pdf.lines) + 1))
    pages = [sl.page for sl in gov_pdf.lines]
    assert pages == sorted(pages) and pages[0] == 1 and pages[-1] == 22
    rows = _find(gov_pdf, "201\t03\t01\t行政运行\t12,029,501.84\t11,919,501.84\t110,000.00")
    row = rows[0]
    assert row.page == 11  # 部门支出预算总表 (the same row recurs on page 14)
    assert [sl.page for sl in rows] == [11, 14]
    assert [c.text for c in row.cells] == [
        "201",
        "03",
        "01",
        "行政运行",
        "12,029,501.84",
        "11,919,501.84",
        "110,000.00",
    ]
    xs = [(c.x0, c.x1) for c in row.cells]
    assert all(0 < x0 < x1 < 842 for x0, x1 in xs)  # landscape A4, real page coordinates
    assert xs == sorted(xs)
    # header cells of the same table: numbers overlap their header horizontally
    header = next(
        sl for sl in gov_pdf.lines if sl.page == 11 and sl.text.endswith("合计\t基本支出\t项目支出")
    )
    head = {c.text: (c.x0, c.x1) for c in header.cells}
    for name, cell in zip(["合计", "基本支出", "项目支出"], row.cells[4:], strict=True):
        h0, h1 = head[name]
        assert cell.x0 < h1 and h0 < cell.x1, name


def test_pdf_gov_glued_number_split_at_ruling(gov_pdf) -> None:
    # extract_text() shows "91,016,775.35一、一般公共服务支出"; the table ruling separates them
    row = _find(
        gov_pdf, "一、一般公共预算资金\t91,016,775.35\t一、一般公共服务支出\t82,096,797.42\t82,096,797.42"
    )[0]
    assert row.page == 13


def test_pdf_social_row(social_pdf) -> None:
    rows = _find(social_pdf, "201\t一般公共服务支出\t264.87\t62.63\t202.24")
    assert rows[0].page == 8
    cells = rows[0].cells
    assert [c.text for c in cells] == ["201", "一般公共服务支出", "264.87", "62.63", "202.24"]
    assert all(0 < c.x0 < c.x1 < 842 for c in cells)


def test_pdf_chinese_prose_has_no_spurious_spaces(social_pdf) -> None:
    texts = [sl.text for sl in social_pdf.lines if sl.page == 4]
    assert "中共上海市普陀区委社会工作部负责贯彻落实党中央有关方针" in texts
    title = [sl.text for sl in social_pdf.lines if sl.page == 1]
    assert title == ["中共上海市普陀区委", "社会工作部 2024 年度", "部门决算"]
