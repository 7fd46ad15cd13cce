"""绩效指标 tables of PDF text whose rows wrap over several lines (``产出指标 数量指标`` / ``救助对象人数 （人``
/ ``次）`` / ``>= 3400 人/人次 3679 …``): neither the tab nor the space layout of generic_layout sees them,
since no one line holds a label and its numbers.

The rule is the one the tables themselves state (``一级指标包含产出指标、效益指标、满意度指标``): under a
header naming 一级指标 / 二级指标 / 三级指标, a row begins at a line that starts with an 二级指标 word
(数量指标, 质量指标 … 服务对象满意度指标), after an 一级指标 word on the same or an earlier line; its 三级指标
is the text after that word up to the first cell break (a space, or a line that starts with a number),
wrapped lines joined; its 指标值 is the first value written with a comparison (``≥90%``, ``=6户``,
``>= 3400 人``), the way target values are written in these tables. A row without such a value (``显著``,
``= 有效改善``) gives no cell, so descriptions and prose never become numbers.
"""

from __future__ import annotations

import re

from assistant.models import SourceLine
from assistant.parse.generic_layout import UNIT_ALT, Region, Row, with_values
from assistant.parse.rows import clean_label

__all__ = ["indicator_regions"]

_LEVEL1 = r"(?:产出|效益|效果|满意度)指标"
_LEVEL2 = r"(?:数量|质量|时效|成本|经济效益|社会效益|生态效益|可持续影响|服务对象满意度)指标"
_LEVEL1_ONLY_RE = re.compile(rf"^({_LEVEL1})$")
_ROW_START_RE = re.compile(rf"^(?:(?P<l1>{_LEVEL1})\s*)?(?P<l2>{_LEVEL2})(?:\s+(?P<rest>.*))?$")
_HEADER_WORDS = ("一级指标", "二级指标", "三级指标")
# A target value: a comparison, a number, the unit as written (spaces between them allowed); a unit
# that runs on into a word (12 个月) is not one of the written units, so the value keeps none.
_TARGET_RE = re.compile(
    rf"(?P<cmp>>=|<=|[≥≤≧≦=＝><])\s*(?P<num>\d+(?:\.\d+)?)\s*(?:(?P<unit>{UNIT_ALT})(?![\u4e00-\u9fff]))?"
)
# Where a table ends: a note, the next project, another table's title, a part heading.
_END_RE = re.compile(r"^(?:备注|其他需要说明|项目名称|第.部分|[（(][一二三四五六七八九十]+[)）])")
_PROJECT_LINE_RE = re.compile(r"^项目名称\s+(?P<name>\S.*)$")
MAX_TITLE_GAP = 12  # lines between a table's title and its header (目标 text may stand between)
MAX_LABEL_LINES = 6  # a 三级指标 wrapped over more lines than this is not one cell


def _is_header(text: str) -> bool:
    flat = text.replace(" ", "")
    return all(w in flat for w in _HEADER_WORDS)


def _label_and_rest(parts: list[tuple[str, bool]]) -> tuple[str, str]:
    """The 三级指标 cell at the start of a row's text lines (each with whether the export ended it with a
    space), and the text after it."""
    label = ""
    texts = [t for t, _ in parts]
    for k, (raw, spaced_end) in enumerate(parts[:MAX_LABEL_LINES]):
        part = re.sub(r"\s+(?=[（(])", "", raw.strip())  # 救助对象人数 （人次）: one cell
        if not part:
            continue
        if _TARGET_RE.match(part) or part[0].isdigit():
            return label, " ".join(texts[k:])
        head, _, tail = part.partition(" ")
        label += head
        # A space inside the line, or at its end (where the export writes one after each cell's last
        # line: ``督检查 ``), ends the cell; a line without one wraps on (``对定点医药机构监`` / ``督检查``).
        if tail or spaced_end:
            return label, " ".join([tail, *texts[k + 1 :]])
    return label, " ".join(texts[MAX_LABEL_LINES:]) if label else ""


def _spaced_end(ln: SourceLine) -> bool:
    return (ln.raw or ln.text).rstrip("\r\n").endswith((" ", "\u3000"))


def _row(l1: str, l2: str, lines: list[SourceLine], first_text: str) -> Row | None:
    parts = [(first_text, _spaced_end(lines[0])), *((ln.text, _spaced_end(ln)) for ln in lines[1:])]
    label, rest = _label_and_rest(parts)
    m = _TARGET_RE.search(rest)
    if not label or m is None:
        return None
    value = f"{m.group('cmp')}{m.group('num')}{m.group('unit') or ''}"
    return with_values(Row([l1, l2, label, value], lines[0], lines[-1].line))


def indicator_regions(lines: list[SourceLine], skip: set[int]) -> list[Region]:
    """The wrapped 绩效指标 tables of ``lines`` (lines in ``skip`` belong to tables found already)."""
    content = [ln for ln in lines if ln.text.strip() and ln.line not in skip]
    out: list[Region] = []
    project: str | None = None
    for h, ln in enumerate(content):
        text = ln.text.strip()
        if m := _PROJECT_LINE_RE.match(text):
            project = m.group("name").strip()
        if not _is_header(text):
            continue
        title = next(
            (
                t
                for t in (c.text.strip() for c in reversed(content[max(0, h - MAX_TITLE_GAP) : h]))
                if t.endswith("表") and len(t) <= 60
            ),
            None,
        )
        if title is None:
            continue
        title_ln = next(c for c in reversed(content[:h]) if c.text.strip() == title)
        rows = _rows(content[h + 1 :])
        if not rows:
            continue
        head = Row(["一级指标", "二级指标", "三级指标", "指标值"], ln, ln.line)
        lead = [Row(["项目名称", project], ln, ln.line)] if project else []
        # The title without its list number (``11、门诊特殊疾病鉴定项目绩效目标表``): questions name the project.
        name = clean_label(title).lstrip(".、．")
        out.append(Region(name, title_ln.line, [*lead, head, *rows], None, partial=True))
        project = None
    return out


def _rows(after: list[SourceLine]) -> list[Row]:
    """The rows under a header, up to the end of the table."""
    rows: list[Row] = []
    l1 = ""
    current: tuple[str, str, str, list[SourceLine]] | None = None

    def flush() -> None:
        if current is not None and (row := _row(*current[:2], current[3], current[2])):
            rows.append(row)

    for ln in after:
        text = ln.text.strip()
        if _END_RE.match(text) or _is_header(text) or (text.endswith("表") and len(text) <= 60):
            break
        if m := _LEVEL1_ONLY_RE.match(text):
            flush()
            current, l1 = None, m.group(1)
            continue
        if m := _ROW_START_RE.match(text):
            flush()
            l1 = m.group("l1") or l1
            current = (l1, m.group("l2"), m.group("rest") or "", [ln])
            continue
        if current is not None:
            current[3].append(ln)
    flush()
    return rows
