"""Assign the numbers of a row to the table's columns, using the table's own identities.

Text exports drop empty cells (`210 卫生健康支出 11,096,362.29 11,012,712.25 83,650.04` in a table of
seven columns). The first number is the row total; the other numbers keep their order, so each row
has a few order-preserving placements. The placements are narrowed by:
  - columns that are empty in the table's 合计 row stay empty in every row;
  - a child row cannot exceed its parent (classification code prefix) in any column;
  - the children of a parent add up to the parent in every column.
When one placement survives it is certain; otherwise the leftmost placement is kept and the row is
flagged ``column_uncertain`` so answers can say so.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from assistant.models import SourceLine, TableRow
from assistant.parse.rows import Segment

TOL = Decimal("0.01")
MAX_COMBINATIONS = 4096
TOTAL_LABELS = ("合计", "总计")

Placement = tuple[int, ...]  # column index of each value


def _placements(n_values: int, n_columns: int) -> list[Placement]:
    if n_values >= n_columns:
        return [tuple(range(n_columns))]
    if n_values <= 1:
        return [(0,)] if n_values == 1 else [()]
    return [(0, *rest) for rest in itertools.combinations(range(1, n_columns), n_values - 1)]


def _parent(code: str | None) -> str | None:
    if not code:
        return None
    return code[:-2] if len(code) > 3 else ""  # "" = the table's 合计 row


class _Row:
    def __init__(self, seg: Segment, src: SourceLine, line_end: int, columns: tuple[str, ...]) -> None:
        self.seg, self.src, self.line_end, self.columns = seg, src, line_end, columns
        vals = seg.values
        if seg.exact_positions or len(vals) == len(columns):
            self.options: list[Placement] = [tuple(range(min(len(vals), len(columns))))]
            self.values = vals[: len(columns)]
            self.uncertain = len(vals) > len(columns)
        elif len(vals) > len(columns):
            # More numbers than the schema knows (a wider variant of the table): only the total is sure.
            self.options, self.values, self.uncertain = [(0,)], vals[:1], True
        else:
            self.options, self.values, self.uncertain = _placements(len(vals), len(columns)), vals, False

    def vector(self, placement: Placement) -> list[Decimal | None]:
        out: list[Decimal | None] = [None] * len(self.columns)
        for v, c in zip(self.values, placement, strict=False):
            out[c] = v
        return out

    @property
    def is_total(self) -> bool:
        return self.seg.code is None and self.seg.label.replace(" ", "") in TOTAL_LABELS


def _nz(v: Decimal | None) -> bool:
    return v is not None and v != 0


def assign_columns(
    segments: list[tuple[Segment, SourceLine, int]],
    columns_by_side: list[tuple[str, ...]],
    alt_single: tuple[str, ...],
    parts_sum: bool,
    hints: dict[str, Decimal | None] | None = None,
) -> tuple[list[TableRow], list[str], list[str]]:
    """Rows with values placed in columns, the table's column names, and failed identity checks.

    ``hints`` maps column names to totals stated elsewhere in the report (None: stated as empty).
    """
    single_side = all(seg.side == 0 for seg, _, _ in segments)
    rows: list[_Row] = []
    for seg, src, end in segments:
        if alt_single and single_side:
            cols = alt_single
        else:
            cols = columns_by_side[min(seg.side, len(columns_by_side) - 1)]
        rows.append(_Row(seg, src, end, cols))

    _narrow(rows, hints or {})
    failed = _check(rows, parts_sum)
    out: list[TableRow] = []
    for r in rows:
        if not r.seg.label and not r.seg.code:
            continue
        vec = r.vector(r.options[0])
        out.append(
            TableRow(
                label=r.seg.label,
                code=r.seg.code,
                values=vec,
                columns=list(r.columns),
                line=r.src.line,
                line_end=r.line_end if r.line_end != r.src.line else None,
                page=r.src.page,
                snippet=r.src.raw.strip(),
                column_uncertain=r.uncertain or len(r.options) > 1,
            )
        )
    names: list[str] = []
    for side in [alt_single] if alt_single and single_side else columns_by_side:
        names.extend(c for c in side if c not in names)
    return out, names, failed


def _narrow(rows: list[_Row], hints: dict[str, Decimal | None]) -> None:
    total = next((r for r in rows if r.is_total and r.seg.side == 0), None)
    if total is not None and len(total.options) > 1:
        # Columns named in the 收支总表 tell which parts the 合计 row can hold (其他收入 83,650.04 …).
        def fits(p: Placement) -> bool:
            for v, c in zip(total.values, p, strict=False):
                name = total.columns[c]
                if c > 0 and name in hints:
                    hint = hints[name]
                    if hint is None:
                        return False
                    # several placements only for rows without explicit empty cells (not exact_positions)
                    assert v is not None
                    if abs(hint - v) > TOL:
                        return False
            return True

        total.options = [p for p in total.options if fits(p)] or total.options
        # Still open: assume the leftmost placement (基本支出/项目支出, 财政拨款收入 come first in
        # practice) so the children can be solved against it; the 合计 row stays flagged.
        if len(total.options) > 1:
            total.uncertain = True
            total.options = total.options[:1]
    if total is not None and len(total.options) == 1:
        present = {c for c, v in enumerate(total.vector(total.options[0])) if _nz(v)}
        for r in rows:
            if r is total or len(r.options) == 1 or r.columns != total.columns:
                continue
            keep = [p for p in r.options if all(c in present or c == 0 for c in p)]
            r.options = keep or r.options
    by_code = {r.seg.code: r for r in rows if r.seg.code}
    children: dict[str, list[_Row]] = {}
    for r in rows:
        pcode = _parent(r.seg.code)
        if pcode is not None:
            children.setdefault(pcode, []).append(r)
    # Top-down: parents are resolved before their children (shorter codes first).
    for parent_code in sorted(children, key=len):
        parent = total if parent_code == "" else by_code.get(parent_code)
        if parent is None or len(parent.options) != 1:
            continue
        pvec = parent.vector(parent.options[0])
        kids = [k for k in children[parent_code] if k.columns == parent.columns]
        for k in kids:
            keep = [
                p
                for p in k.options
                if all(
                    (pc := pvec[c]) is not None and v is not None and v <= pc + TOL
                    for v, c in zip(k.values, p, strict=False)
                    if _nz(v)
                )
            ]
            k.options = keep or k.options
        _solve_sums(kids, pvec)


def _solve_sums(kids: list[_Row], pvec: list[Decimal | None]) -> None:
    """Keep the placements of sibling rows whose column sums equal the parent's."""
    ambiguous = [k for k in kids if len(k.options) > 1]
    if not ambiguous:
        return
    n = 1
    for k in ambiguous:
        n *= len(k.options)
    if n > MAX_COMBINATIONS:
        return
    fixed = [Decimal(0)] * len(pvec)
    for k in kids:
        if len(k.options) == 1:
            for c, v in enumerate(k.vector(k.options[0])):
                if v is not None:
                    fixed[c] += v
    solutions: list[tuple[Placement, ...]] = []
    for combo in itertools.product(*(k.options for k in ambiguous)):
        sums = list(fixed)
        for k, p in zip(ambiguous, combo, strict=True):
            for v, c in zip(k.values, p, strict=False):
                if v is not None:
                    sums[c] += v
        if all(abs(sums[c] - (pvec[c] or 0)) <= TOL for c in range(1, len(pvec))):
            solutions.append(combo)
    if not solutions:
        return
    for i, k in enumerate(ambiguous):
        choices = sorted({s[i] for s in solutions})
        k.options = choices


def _check(rows: list[_Row], parts_sum: bool) -> list[str]:
    """Identities of the table: total = sum of parts; parent = sum of children (first column)."""
    failed: list[str] = []
    if parts_sum:
        for r in rows:
            if len(r.options) != 1 or len(r.values) < 2:
                continue
            vec = r.vector(r.options[0])
            if vec[0] is None:
                continue
            parts = sum((v for v in vec[1:] if v is not None), Decimal(0))
            if abs(parts - vec[0]) > TOL:
                failed.append(f"line {r.src.line}: {r.seg.label} 合计 {vec[0]} ≠ 各列之和 {parts}")
    by_parent: dict[str, list[_Row]] = {}
    for r in rows:
        p = _parent(r.seg.code)
        if p:
            by_parent.setdefault(p, []).append(r)
    for r in rows:
        kids = by_parent.get(r.seg.code or "\0")
        if not kids or not r.values or r.values[0] is None:
            continue
        total = sum((k.values[0] for k in kids if k.values and k.values[0] is not None), Decimal(0))
        if abs(total - r.values[0]) > TOL:
            failed.append(
                f"line {r.src.line}: {r.seg.code} {r.seg.label} {r.values[0]} ≠ 下级科目之和 {total}"
            )
    return failed
