"""Split one table line into row segments: classification code, label and the numbers by column.

A line may hold several rows side by side (收入 | 支出 in 收支总表; 人员经费 | 公用经费 | 资本性支出 in
基本支出表): a new segment starts where text or a code follows a number. Tab-separated lines keep their
empty cells as explicit gaps; space-separated lines lose them (the column solver deals with that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

NUM_RE = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")
DASH_RE = re.compile(r"^[—\-－–]+$")
CODE_RE = re.compile(r"^\d{3}(\d{2}){0,2}$")
# 类 款 项 printed in separate columns: "201 03 01 行政运行".
SPLIT_CODE_RE = re.compile(r"^(\d{3})[ \t]+(\d{2})(?:[ \t]+(\d{2}))?(?=[ \t]+\D)")
_GLUED_AMOUNT = re.compile(r"(\d\.\d\d)(?=[^\d\s%])")
_CODE_AND_LABEL = re.compile(r"^(\d{3}(?:\d{2}){0,2})\s+(\D.*)$")
_LABEL_AND_AMOUNT = re.compile(r"\S\s+-?[\d,]+(\.\d+)?$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SPACES = re.compile(r"\s+")
_QIZHONG = re.compile(r"^其中[:：]")
ORDINAL_RE = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十\d]+）|\([一二三四五六七八九十\d]+\)|\d+[．.、](?!\d))\s*"
)


@dataclass
class Segment:
    """One row of a table: code, label, values (None for an explicit empty cell or a dash)."""

    code: str | None = None
    label: str = ""
    values: list[Decimal | None] = field(default_factory=list)
    exact_positions: bool = False  # empty cells were kept (tabs, dashes), so positions are trustworthy
    side: int = 0


def to_decimal(tok: str) -> Decimal | None:
    """A number token ('11,598,130.25', '6', '98.81%') as Decimal; None when it is not a number."""
    t = tok.strip().rstrip("%")
    if not NUM_RE.match(tok.strip()):
        return None
    try:
        return Decimal(t.replace(",", ""))
    except InvalidOperation:
        return None


def _tokens(line: str) -> tuple[list[str], bool]:
    """Cells of a line: tab cells (keeping empties) or whitespace tokens; and whether tabs were used."""
    # PDF text can glue an amount to the next label: "91,016,775.35一、一般公共服务支出".
    line = _GLUED_AMOUNT.sub(r"\1 ", line.rstrip())
    m = SPLIT_CODE_RE.match(line.strip())
    if m:
        code = "".join(g for g in m.groups() if g)
        line = code + " " + line.strip()[m.end() :].lstrip()
    if "\t" in line:
        cells = [c.strip() for c in line.split("\t")]
        out: list[str] = []
        for c in cells:
            # A tab cell "201 一般公共服务支出" holds code and label together; "公用经费合计 127989.14"
            # holds a label and its amount.
            mm = _CODE_AND_LABEL.match(c)
            if mm:
                out.extend([mm.group(1), mm.group(2)])
            elif _LABEL_AND_AMOUNT.search(c) and _CJK.search(c):
                label, _, num = c.rpartition(" ")
                out.extend([label.strip(), num])
            else:
                out.append(c)
        return out, True
    return line.split(), False


def split_segments(
    line: str, has_row_numbers: bool, codes: frozenset[str] | set[str] = frozenset()
) -> list[Segment]:
    """Parse one table line into segments. ``has_row_numbers``: the table has a 行次 column; ``codes``:
    tokens known to be classification codes from the layout (pdf_cells.codes_in)."""
    cells, tabbed = _tokens(line)
    segs: list[Segment] = []
    side = 0
    cur = Segment(exact_positions=tabbed)
    state = "start"  # start | label | values
    pending_empty = 0
    last_rowno = -1

    def flush() -> None:
        # An empty left side (only its 行次 printed) still counts as a side.
        nonlocal cur, side
        if cur.label or cur.values or cur.code:
            segs.append(cur)
        side += 1
        cur = Segment(exact_positions=tabbed, side=side)

    for i, tok in enumerate(cells):
        # Tab cells: the next cell that holds something ("201 | | 一般公共服务支出": 类 code, an empty 款
        # cell, the label).
        nxt = (
            next((c for c in cells[i + 1 :] if c), "")
            if tabbed
            else (cells[i + 1] if i + 1 < len(cells) else "")
        )
        if tok == "":
            if state == "values":
                pending_empty += 1
            continue
        num = to_decimal(tok)
        is_code = bool(CODE_RE.match(tok)) and (
            tok in codes
            or nxt != ""
            and (
                (to_decimal(nxt) is None and not DASH_RE.match(nxt))
                # A code whose label wrapped onto the lines around it: "2080505 6.18 6.18".
                or (len(tok) in (5, 7) or (len(tok) == 3 and i == 0))
                and state in ("start", "values")
            )
        )
        if is_code and (state != "label" or not cur.label or cur.code):
            if state == "values" or cur.label:
                flush()
            cur.code = tok
            state = "label"
            pending_empty = 0
            continue
        if num is not None or DASH_RE.match(tok):
            bare = num is not None and "," not in tok and "." not in tok and len(tok) <= 3
            if state != "values" and has_row_numbers and bare and (cur.label or cur.code or state == "start"):
                # The first bare small integer after a label is its 行次, not an amount.
                assert num is not None  # bare implies a number
                state = "values"
                pending_empty = 0
                last_rowno = int(num)
                continue
            if (
                state == "values"
                and has_row_numbers
                and bare
                and not cur.values
                and last_rowno >= 0
                and num is not None
                and int(num) > last_rowno
            ):
                # Right after a 行次 comes a bigger bare integer: the next side's 行次 (its label is empty).
                flush()
                last_rowno = int(num)
                continue
            if state == "values" and tabbed:
                cur.values.extend([None] * pending_empty)
            pending_empty = 0
            state = "values"
            cur.values.append(num)
            if DASH_RE.match(tok):
                cur.exact_positions = True
            continue
        # Text.
        if state == "values" or (state == "label" and cur.label and ORDINAL_RE.match(tok) and not cur.code):
            # A new ordinal label after a label without numbers: "八、其他收入 八、社会保障和就业支出".
            flush()
        cur.label = (cur.label + " " + tok).strip() if cur.label else tok
        state = "label"
        pending_empty = 0
    flush()
    for s in segs:
        s.label = _SPACES.sub("", s.label) if _CJK.search(s.label) else s.label
    return segs


def clean_label(label: str) -> str:
    """The label without ordinals (一、 （一） 1．) and quotes, for matching."""
    out = ORDINAL_RE.sub("", label)
    out = _QIZHONG.sub("", out)
    return out.replace("“", "").replace("”", "").replace('"', "").strip()
