"""The standard tables of 部门预算/决算 reports, as data: how to recognise each table by its title and
what its columns are. ``{q}`` in a column name stands for 预算数 or 决算数 (from the report's kind).

Order matters: the first schema whose pattern matches a title wins, so specific titles come first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSchema:
    """A kind of standard table: its name, title pattern and columns (one list per side)."""

    name: str
    pattern: re.Pattern[str]
    sides: tuple[tuple[str, ...], ...]
    parts_sum_to_first: bool = False  # column 0 is the total of the other columns
    alt_single_side: tuple[str, ...] = field(default=())  # layout when a row has one side only
    total_metric: str | None = None  # what the table's 合计/总计 row measures (三公经费, 收支总计 …)
    row_metrics: tuple[tuple[str, str], ...] = ()  # (label, metric) where a row means more than its label


def _s(
    name: str,
    pattern: str,
    *sides: tuple[str, ...],
    parts_sum: bool = False,
    alt: tuple[str, ...] = (),
    total: str | None = None,
    rows: tuple[tuple[str, str], ...] = (),
) -> TableSchema:
    return TableSchema(name, re.compile(pattern), sides, parts_sum, alt, total, rows)


GPB_FUNDS = ("合计", "一般公共预算财政拨款", "政府性基金预算财政拨款", "国有资本经营预算财政拨款")

SCHEMAS: tuple[TableSchema, ...] = (
    _s("三公经费表", r"三公.{0,12}(经费|费用).*表", ("预算数", "决算数"), total="三公经费"),
    _s(
        "财政拨款收支总表",
        r"财政拨款收(入)?支(出)?.{0,6}总表",
        ("{q}",),
        GPB_FUNDS,
        total="财政拨款收支总计",
        # Its 本年收入合计/本年支出合计 count 财政拨款 only, not the department's whole income.
        rows=(("本年收入合计", "财政拨款收入"), ("本年支出合计", "财政拨款支出")),
    ),
    _s("收支总表", r"(收入支出|收支).{0,6}总表", ("{q}",), ("{q}",), total="收支总计"),
    _s(
        "基本支出表", r"基本支出.{0,20}表", ("{q}",), ("{q}",), ("{q}",), alt=("合计", "人员经费", "公用经费")
    ),
    _s("项目支出表", r"^(?!.*(绩效|指标)).*项目支出.{0,12}表$", ("合计",)),
    _s("政府性基金表", r"政府性基金.{0,20}表", ("合计", "基本支出", "项目支出"), parts_sum=True),
    _s("国有资本经营表", r"国有资本经营.{0,20}表", ("合计", "基本支出", "项目支出"), parts_sum=True),
    _s(
        "一般公共预算支出表",
        r"一般公共预算.{0,12}支出.{0,12}表",
        ("合计", "基本支出", "项目支出"),
        parts_sum=True,
    ),
    _s(
        "收入表",
        r"收入.{0,4}(决算|预算)?表$",
        (
            "本年收入合计",
            "财政拨款收入",
            "上级补助收入",
            "事业收入",
            "经营收入",
            "附属单位上缴收入",
            "其他收入",
        ),
        parts_sum=True,
    ),
    _s(
        "支出表",
        r"支出.{0,4}(决算|预算)?表$",
        ("本年支出合计", "基本支出", "项目支出", "上缴上级支出", "经营支出", "对附属单位补助支出"),
        parts_sum=True,
    ),
)

# Words of a table title line; a title is short and names one of the schemas.
TITLE_MAX_LEN = 40
_SPACES = re.compile(r"\s+")
_TOC_ENTRY = re.compile(r"^[一二三四五六七八九十]+、")
_NOT_AMOUNTS = re.compile(r"绩效|指标|自评|目录")


def match_schema(title: str) -> TableSchema | None:
    """The schema whose pattern matches a (normalised, space-free) title line, or None."""
    if not title.rstrip().endswith("表"):
        return None  # most lines: the test below, without removing the spaces first
    t = _SPACES.sub("", title)
    if len(t) > TITLE_MAX_LEN or not t.endswith("表") or "。" in t or "，" in t:
        return None
    t = t.lstrip("-—•·")
    if _TOC_ENTRY.match(t):  # a table of contents entry, not a table
        return None
    if _NOT_AMOUNTS.search(t):  # performance tables have no amounts by column
        return None
    for schema in SCHEMAS:
        if schema.pattern.search(t):
            return schema
    return None
