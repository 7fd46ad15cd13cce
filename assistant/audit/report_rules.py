"""Rules over the report's identity: its department's name, its year in headings and dates, and the
tables its contents list."""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.audit.context import AuditContext
from assistant.audit.findings import Finding, FindingValue
from assistant.parse.schemas import match_schema

# A placeholder left where the department's name belongs: XX局, ××单位, 某某部门.
_PLACEHOLDER_RE = re.compile(
    r"(?:[XxＸ]{2,}|×{2,}|某某|＊{2,}|\*{2,})\s*(?:部门|单位|[局委办厅处部院所站队中])"
)
_ORDINAL = (
    r"(?:第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+、|\([一二三四五六七八九十\d]+\)|\d+[、.．])?"
)
# A heading that gives the report's year: "[ordinal] [department] 2021年(度)…决算/预算/情况…" on a short
# line without sentence punctuation.
_HEADING_YEAR_RE = re.compile(
    r"^\s*" + _ORDINAL + r"\s*(?P<dept>[^\d，。；]{0,30}?)\s*(?P<year>\d{4})\s*年\s*度?"
    r"[^，。；\d]{0,24}?(?:决算|预算|情况|说明|表)[)）\s]*$"
)
_HEADING_MAX = 60
# 截至2021年12月31日 / 截止时间：2020年12月31日 / 截至2021年底.
_DATE_RE = re.compile(r"截[至止](?:时间)?[:：]?\s*(\d{4})\s*年\s*(?:\d{1,2}\s*月|底|末)")
_SPACE_RE = re.compile(r"\s+")
_TOC_RE = re.compile(
    r"^\s*(?:\[bookmark:[^\]]*\]\s*)*[-•·]?\s*(?:[一二三四五六七八九十]+、|\d+[.、．])\s*(?P<title>.{2,40}?表)"
    r"\s*[.…·\-—\s\d]*$"
)


def check_department_name(ctx: AuditContext) -> Iterator[Finding]:
    """A placeholder where the department's name belongs (XX局, ××单位, 某某部门) in any line, and
    another place's department of the same kind (…县医疗保障局) named in "<部门>2021年度部门决算"."""
    dept = ctx.report.department
    places = _place_names(ctx)
    for ln in ctx.doc.lines:
        m = _PLACEHOLDER_RE.search(ln.text)
        if m is not None:
            yield Finding.on_line(
                "report.department",
                "error",
                ctx.report.doc,
                ln,
                f"部门名称处是占位符「{m.group(0)}」" + (f"，应为「{dept}」" if dept else ""),
            )
            continue
        if not dept or not places:
            continue
        for t in _TITLE_NAME_RE.finditer(ln.text):
            name = _LEAD_WORDS.sub("", t.group("name"))
            if name[-_BODY_CHARS:] == dept[-_BODY_CHARS:] and not any(p in name for p in places):
                yield Finding.on_line(
                    "report.department", "error", ctx.report.doc, ln, f"「{name}」不是本报告的部门「{dept}」"
                )
                break


# "<部门> 2021 年度部门决算": the name of the department a title is about.
_TITLE_NAME_RE = re.compile(
    r"(?P<name>[\u4e00-\u9fff()]{3,30}?(?:局|委员会|办公室|部|厅|中心|院|所|站|会))\s*"
    r"(?:\(本级\))?\s*\d{4}\s*年\s*度?\s*(?:部门|单位)?\s*(?:决算|预算)"
)
_LEAD_WORDS = re.compile(r"^(?:第[一二三四五六七八九十]+部分|现将|纳入|根据|按照|关于|经)+")
# A department of the same kind ends the same way (医疗保障局 → 保障局).
_BODY_CHARS = 3
_BODY_END = frozenset("局部办委厅院所站会心室")


def _place_names(ctx: AuditContext) -> set[str]:
    """The parts of the department's names that say where it is (大城, 大城县, 普陀区 …)."""
    dept = ctx.report.department or ""
    return {a for a in ctx.report.aliases if len(a) >= 2 and a in dept and a[-1] not in _BODY_END}


def _allowed_date_years(ctx: AuditContext) -> set[int]:
    y = ctx.year
    assert y is not None
    # A budget is drawn up before its year: its asset figures are as of the year before (or a month of it).
    return {y} if ctx.report.kind == "决算" else {y - 1, y}


def heading_years(ctx: AuditContext) -> dict[int, int]:
    """Line → year of each heading or table title that states the report's year (…2021年度部门决算表).

    The continuation lines of a paragraph are prose (a PDF wraps sentences into short lines that may
    start with "2023年决算数…"), not headings; a heading also ends with what it names (…决算表, …情况).
    """
    prose = {n for p in ctx.paragraphs for n in set(p.lines) if n != p.lines[0]}
    out: dict[int, int] = {}
    for ln in ctx.doc.lines:
        text = ln.text
        if (
            "\t" in text
            or ln.line in prose
            or len(text.strip()) > _HEADING_MAX
            or re.search(r"[，。；]", text)
        ):
            continue  # table rows compare years side by side; sentences are not headings
        m = _HEADING_YEAR_RE.match(text)
        if m and not re.search(r"[比较与]\s*$", m.group("dept")):
            out[ln.line] = int(m.group("year"))
    return out


def check_report_year(ctx: AuditContext) -> Iterator[Finding]:
    """The report's year in headings and table titles (…2021年度部门决算…) and in 截至…年…月…日
    dates: a 决算 of year Y states Y (its assets as of Y年12月31日); a 预算 of year Y states Y in its
    headings and Y or Y−1 in its dates. The report's year is the one its lines name most."""
    year = ctx.year
    if year is None:
        return
    dates = _allowed_date_years(ctx)
    headings = heading_years(ctx)
    for ln in ctx.doc.lines:
        if ln.line in headings:
            if headings[ln.line] != year:
                yield _year_finding(ctx, ln.line, ln.page, ln.raw, headings[ln.line], year, "标题")
            continue
        if "\t" in ln.text:
            continue
        for d in _DATE_RE.finditer(ln.text):
            if int(d.group(1)) not in dates:
                yield _year_finding(ctx, ln.line, ln.page, ln.raw, int(d.group(1)), year, "日期")


def _year_finding(
    ctx: AuditContext, line: int, page: int | None, raw: str, found: int, year: int, where: str
) -> Finding:
    return Finding(
        rule="report.year",
        severity="error",
        doc=ctx.report.doc,
        page=page,
        line=line,
        message=f"{where}中的年份 {found} 与报告年度 {year} 不符",
        values=[FindingValue(label=where, value=str(found), line=line, page=page)],
        snippet=raw.strip(),
    )


def check_contents(ctx: AuditContext) -> Iterator[Finding]:
    """A table the contents (目录 / 附表 list) names that the report does not contain and never names
    again. Only checked when the report holds some of its tables: a file without any table publishes
    them separately."""
    present = {t.schema_name for t in ctx.tables}
    if not present:
        return
    title_lines = {t.line_start for t in ctx.tables}
    squeezed = {ln.line: _SPACE_RE.sub("", ln.text) for ln in ctx.doc.lines}
    for ln in ctx.doc.lines:
        if ln.line in title_lines:
            continue
        m = _TOC_RE.match(ln.text)
        if m is None:
            continue
        schema = match_schema(m.group("title"))
        if schema is None or schema.name in present:
            continue
        title = _SPACE_RE.sub("", m.group("title"))
        if any(title in text for n, text in squeezed.items() if n != ln.line and not _TOC_RE.match(text)):
            continue  # named again outside the contents (a note that the table is empty or not published)
        yield Finding.on_line(
            "report.contents",
            "error",
            ctx.report.doc,
            ln,
            f"目录列出「{m.group('title')}」，报告中没有这张表",
        )
