"""Report metadata from a document's content: department, year, kind (预算/决算), title, aliases.

Nothing is taken from the file name: corpus files are named by hashes, and a file name can lie.
"""

from __future__ import annotations

import re
from collections import Counter

from assistant.models import Document, Report, ReportKind, ReportScope
from assistant.naming import _ORG_SUFFIX, ORG_ABBREVIATIONS, department_aliases

__all__ = ["detect_metadata", "department_aliases", "detect_scope", "ORG_ABBREVIATIONS"]

_CJK_RUN = r"[\u4e00-\u9fff()]"

# Labelled fields that name the reporting department (value on the same line or the next one).
_LABELS = (
    "预算主管部门",
    "公开部门",
    "编制单位",
    "编制部门",
    "主管部门",
    "资金使用单位",
    "预算单位",
    "部门",
    "单位",
)
_LABEL_SAME_LINE = re.compile(
    r"(?:^|[^\u4e00-\u9fff])(" + "|".join(_LABELS) + r")\s*[:：]?\s*(" + _CJK_RUN + r"{3,40})(?=\s|$)"
)
_LABEL_HINT = re.compile("|".join(sorted({label[-2:] for label in _LABELS})))  # 部门|单位: in every label
_CJK_NAME = re.compile(_CJK_RUN + r"{4,40}")
_LABEL_ONLY = re.compile(r"^\s*(" + "|".join(_LABELS) + r")\s*[:：]?\s*$")
# A title: "<department> 2021 年部门预算…", "<department> 2024 年度部门决算", "<dept> 部门决算".
_TITLE = re.compile(
    r"(" + _CJK_RUN + r"{3,40}?)\s*(?:(\d{4})\s*年度?)?\s*(?:区级|县级|市级|省级)?\s*(?:部门|单位)(预算|决算)"
)
_YEAR_TITLE = re.compile(r"(?<!\d)(\d{4})\s*年度?\s*(?:区级|县级|市级|省级)?\s*(?:部门|单位)(预算|决算)")
_YEAR_DEGREE = re.compile(r"(?<!\d)(\d{4})\s*年度(?!\d)")
_YEAR_ANY = re.compile(r"(?<![\d.])(\d{4})\s*年(?!\d)")
# years written after these words are comparison years (比2020年增加 …)
_COMPARISON_BEFORE = ("比", "较", "与", "同", "至", "上年", "截至", "截止", "对比", "相比")


def _is_department(name: str) -> bool:
    return len(name) >= 4 and bool(_ORG_SUFFIX.search(name)) and not name.startswith(("本", "该", "我"))


def _clean_name(name: str) -> str:
    # "(本级)" and similar notes after the name are not part of it
    return re.sub(r"\((?:本级|机关|汇总|合并)\)$", "", name).strip()


def _head_text(doc: Document) -> tuple[str, list[str]]:
    """The title area: first page's lines (PDF) or first non-empty lines, joined without separators."""
    lines = [sl for sl in doc.lines if sl.text.strip()]
    if doc.filetype == "pdf" and lines:
        first_page = lines[0].page
        head = [sl.text for sl in lines if sl.page == first_page][:6]
    else:
        head = [sl.text for sl in lines[:4]]
    # a title broken over lines ("中共上海市普陀区委" / "社会工作部 2024 年度" / "部门决算") is rejoined
    return "".join(_head_parts(head)), head


def _head_parts(head: list[str]) -> list[str]:
    return [t.replace("\t", " ").strip() for t in head]


def _valid_year(y: str) -> int | None:
    value = int(y)
    return value if 1990 <= value <= 2100 else None


def _labelled_departments(doc: Document) -> Counter[str]:
    found: Counter[str] = Counter()
    texts = [sl.text for sl in doc.lines]
    for i, text in enumerate(texts):
        if not _LABEL_HINT.search(text):
            continue  # no label can match (most lines)
        for m in _LABEL_SAME_LINE.finditer(text):
            name = _clean_name(m.group(2))
            if _is_department(name):
                found[name] += 1
        if _LABEL_ONLY.match(text):
            nxt = next((t.strip() for t in texts[i + 1 : i + 4] if t.strip()), "")
            name = _clean_name(nxt)
            if _CJK_NAME.fullmatch(name) and _is_department(name):
                found[name] += 1
    return found


_ORG_MENTION = re.compile(
    r"[\u4e00-\u9fff]{2,24}?(?:" + "|".join(sorted(ORG_ABBREVIATIONS, key=len, reverse=True)) + r")"
)


def _frequent_department(doc: Document) -> str | None:
    """The most frequent full department name in the text (longest form wins ties)."""
    counts: Counter[str] = Counter()
    for sl in doc.lines:
        for m in _ORG_MENTION.finditer(sl.text):
            name = m.group(0)
            # cut leading prose: keep from the first administrative division or 中共
            div = re.search(r"(中共)?[\u4e00-\u9fff]{2,8}?(?:省|市|州|县|区|旗)", name)
            if div:
                name = name[div.start() :]
            counts[name] += 1
    if not counts:
        return None
    return max(counts, key=lambda n: (counts[n], len(n), n))


def _detect_department(doc: Document, head: str) -> tuple[str | None, str]:
    """(department, how it was found)."""
    title_name = None
    m = _TITLE.search(head)
    if m and _is_department(_clean_name(m.group(1))):
        title_name = _clean_name(m.group(1))
    labelled = _labelled_departments(doc)
    if labelled:
        best = max(labelled, key=lambda n: (labelled[n], len(n), n))
        if title_name is None or (best != title_name and best.endswith(title_name)):
            return best, "label"  # the label gives the fuller form (攀枝花市仁和区… vs 仁和区…)
    if title_name:
        return title_name, "title"
    frequent = _frequent_department(doc)
    return (frequent, "frequency") if frequent else (None, "")


def _detect_year(doc: Document, head: str) -> int | None:
    for rx in (_YEAR_TITLE, _YEAR_DEGREE, _YEAR_ANY):
        m = rx.search(head)
        if m and (y := _valid_year(m.group(1))):
            return y
    body = "\n".join(sl.text for sl in doc.lines)
    for rx in (_YEAR_TITLE, _YEAR_DEGREE, _YEAR_ANY):
        counts: Counter[int] = Counter()
        for m in rx.finditer(body):
            before = body[max(0, m.start() - 4) : m.start()]
            if any(before.rstrip().endswith(w) for w in _COMPARISON_BEFORE):
                continue
            if y := _valid_year(m.group(1)):
                counts[y] += 1
        if counts:
            return max(counts, key=lambda y: (counts[y], y))
    return None


def _detect_kind(doc: Document, head: str) -> ReportKind | None:
    m = re.search(r"(?:部门|单位)(预算|决算)", head)
    if m:
        return "决算" if m.group(1) == "决算" else "预算"
    body = "\n".join(sl.text for sl in doc.lines)
    # 决算 reports are full of "预算" (一般公共预算, 预算数), so count report-level words only
    jue = len(re.findall(r"(?:部门|单位)决算|决算(?:总)?表|决算数|决算情况", body))
    yu = len(re.findall(r"(?:部门|单位)预算|预算(?:总)?表(?!.{0,3}决算)", body))
    if jue == yu == 0:
        return None
    return "决算" if jue > yu else "预算"


_SCOPE = re.compile(r"(部门|单位)\s*(?:预算|决算)")


def detect_scope(title: str) -> ReportScope:
    """部门 for a 部门预算/决算 (the department with its subordinate units), 单位 for a 单位预算/决算 (the
    organ alone), read from the title; 部门 when the title says neither (the usual published form)."""
    m = _SCOPE.search(title)
    return "单位" if m and m.group(1) == "单位" else "部门"


def _title_line(head_lines: list[str], head: str) -> str | None:
    """The report's own title: the _TITLE match, completed to the end of its line."""
    m = _TITLE.search(head)
    if not m:
        return None
    # end of the head line in which the match ends: the title does not run into the next line
    line_end, pos = len(head), 0
    for part in _head_parts(head_lines):
        pos += len(part)
        if pos >= m.end():
            line_end = pos
            break
    end = m.end()
    tail = head[end:line_end]
    if not m.group(2):
        # a year on the next line: "固原市医疗保障局 部门决算" / "(2020 年度)"
        y = re.match(r"\s*\(?\s*\d{4}\s*年度?\s*\)?", head[end:])
        if y and end + y.end() > line_end:
            tail = head[end : end + y.end()]
    return re.sub(r"\s+", " ", head[m.start() : end] + tail).strip()


def detect_metadata(doc: Document) -> Report:
    """Department, year, kind and title of a report, found in its content; warnings say what is missing."""
    head, head_lines = _head_text(doc)
    department, _how = _detect_department(doc, head)
    year = _detect_year(doc, head)
    kind = _detect_kind(doc, head)
    title = _title_line(head_lines, head)
    scope = detect_scope(title or head)
    warnings = []
    if department is None:
        warnings.append("department not found in the text")
    if year is None:
        warnings.append("report year not found in the text")
    if kind is None:
        warnings.append("report kind (预算/决算) not found in the text")
    if title is None and department and year and kind:
        title = f"{department}{year}年度部门{kind}"
        warnings.append("no title line; title composed from the metadata")
    elif title is None:
        warnings.append("title not found in the text")
    return Report(
        doc=doc.doc,
        path=doc.path,
        sha256=doc.sha256,
        department=department,
        aliases=department_aliases(department) if department else [],
        year=year,
        kind=kind,
        title=title,
        scope=scope,
        warnings=warnings,
    )
