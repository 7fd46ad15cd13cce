"""Compose: every Chinese sentence of an answer, and the value and citation records it carries.

Operations (operate.py) decide what the figures are; the wording of them lives here only.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from assistant.models import Answer, AnswerValue, Citation, Fact, LineHit, Query, Report, ValueCitation

WAN = Decimal(10000)
UNSPECIFIED_DEPARTMENT = "未指定部门，按各部门分别列出："


def fmt(value: Decimal) -> str:
    """A number as reports write it: thousands separators, the stated decimals kept."""
    sign = "-" if value < 0 else ""
    text = f"{abs(value):f}"
    whole, _, frac = text.partition(".")
    whole = f"{int(whole):,}"
    return sign + whole + (f".{frac}" if frac else "")


def money_text(value: Decimal, unit: str) -> str:
    """`5,406.00元（约0.54万元）` / `0.45万元（4,500元）`: the stated figure plus its conversion."""
    if unit == "元":
        wan = (value / WAN).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"{fmt(value)}元（约{fmt(wan)}万元）" if abs(value) >= 100 else f"{fmt(value)}元"
    if unit == "万元":
        yuan = value * WAN
        yuan = yuan.quantize(Decimal("0.01")) if yuan != yuan.to_integral() else yuan.quantize(Decimal(1))
        return f"{fmt(value)}万元（{fmt(yuan)}元）"
    return f"{fmt(value)}{unit}"


def round2(value: Decimal) -> Decimal:
    """Rounded to two decimals, half up (percentages and derived amounts)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def value_of(
    f: Fact,
    value: Decimal | None = None,
    unit: str | None = None,
    metric: str | None = None,
    qualifier: str | None = None,
) -> AnswerValue:
    """An AnswerValue citing the fact (optionally carrying a value computed from it)."""
    return AnswerValue(
        value=str(f.value if value is None else value),
        unit=unit or f.unit,
        metric=metric or f.metric,
        qualifier=qualifier if qualifier is not None else f.qualifier,
        department=f.department,
        year=f.year,
        citation=ValueCitation(doc=f.doc, line=f.line, page=f.page, snippet=f.snippet),
        flags=list(f.flags),
    )


def citation_of(f: Fact) -> Citation:
    """A citation of the lines a fact comes from."""
    return Citation(
        doc=f.doc, line_start=f.line, line_end=f.line_end or f.line, page=f.page, snippet=f.snippet
    )


def where(f: Fact) -> str:
    """`file 第N行` (and page for PDFs), for derivation notes."""
    page = f"第{f.page}页" if f.page else ""
    return f"{f.doc} {page}第{f.line}行"


def amount(f: Fact) -> str:
    """`5,406.00元` — a fact's figure as stated, for derivations."""
    return f"{fmt(f.value)}{f.unit}"


# ----------------------------------------------------------------------------- sentences of lookups


def fact_sentence(r: Report, best: Fact, others: list[Fact]) -> str:
    """`部门2021年指标（代码）（栏目）：金额；其他栏目…。（文件 第N行）` with the fact's flags spelled out."""
    qual = f"（{best.qualifier}）" if best.qualifier else ""
    year = best.year or r.year
    code = f"（{best.code}）" if best.code else ""
    s = f"{r.department}{year}年{best.metric}{code}{qual}：{money_text(best.value, best.unit)}"
    extra = []
    for f in others[1:]:
        if (
            f.qualifier
            and f.qualifier != best.qualifier
            and f.table_id == best.table_id
            and f.line == best.line
        ):
            extra.append(f"{f.qualifier}{money_text(f.value, f.unit)}")
    if extra:
        s += "；" + "，".join(extra[:3])
    flags = []
    if "conflict" in best.flags:
        alt = [f for f in others if "conflict" in f.flags and f.value_yuan != best.value_yuan]
        flags.append(
            "注意：报告中同一指标有不一致的数字"
            + "".join(f"，{where(f)}为{money_text(f.value, f.unit)}" for f in alt[:2])
        )
    if "column_uncertain" in best.flags:
        flags.append("注：该数字所在栏目由表内勾稽关系推断")
    if "ocr" in best.flags:  # a number read from a scanned page (ingest/ocr.py)
        flags.append("（OCR识别）")
    return s + "。" + (" " + "；".join(flags) if flags else "") + f"（{where(best)}）"


def change_line(f: Fact) -> str:
    """One stated change against last year, indented under the figure."""
    return f"  {f.qualifier}：{money_text(f.value, f.unit)}（{where(f)}）"


NO_CHANGE_STATED = "  报告中没有找到这一项与上年相比的增减数。"


def reason_line(snippet: str) -> str:
    """The report's own explanation of a figure."""
    return f"  原因：{snippet}"


def part_line(metric: str, f: Fact) -> str:
    """One part of a total, under the total's sentence."""
    code = f"（{f.code}）" if f.code else ""
    return f"  · {metric}{code}：{money_text(f.value, f.unit)}（{f.qualifier or ''}）"


def unspecified(text: str) -> str:
    """The answer over every department, when the question named none."""
    return UNSPECIFIED_DEPARTMENT + "\n" + text


# ----------------------------------------------------------------------------- computed figures


def previous_year(
    department: str | None, year: int, metric: str | None, value: Decimal, unit: str, report_year: int | None
) -> str:
    return f"{department}{year}年{metric}为{money_text(value, unit)}（由{report_year}年报告所述增减额推算）。"


def previous_year_derivation(
    year: int, report_year: int | None, base: Fact, change: Fact, prev: Decimal
) -> str:
    return (
        f"{year}年 = {report_year}年{amount(base)}（{where(base)}） − 增减额 {amount(change)}（{where(change)}）"
        f" = {fmt(prev)}{base.unit}"
    )


def year_on_year(
    cur: Fact, prev: Fact, prev_report: Report, diff: Decimal, unit: str, pct: Decimal | None
) -> tuple[str, str]:
    """(line, derivation) of a change computed from last year's report of the same department."""
    rate_ = f"，{'增长' if diff >= 0 else '下降'}{abs(pct)}%" if pct is not None else ""
    return (
        f"  比{prev_report.year}年{'增加' if diff >= 0 else '减少'}{money_text(abs(diff), unit)}{rate_}"
        f"（{prev_report.year}年报告为{money_text(prev.value, prev.unit)}）",
        f"{cur.year}年 {amount(cur)}（{where(cur)}） − {prev_report.year}年 {amount(prev)}（{where(prev)}）"
        f" = {fmt(diff)}{unit}" + (f"；÷ {amount(prev)} × 100% = {pct}%" if pct is not None else ""),
    )


def rate(r: Report, metric: str | None, budget: Fact, final: Fact, value: Decimal) -> tuple[str, str]:
    """(sentence, derivation) of an execution rate."""
    return (
        f"{r.department}{r.year}年{metric}预算执行率为{value}%（决算数{money_text(final.value, final.unit)}"
        f" ÷ 预算数{money_text(budget.value, budget.unit)}）。",
        f"执行率 = 决算数 {amount(final)}（{where(final)}） ÷ 预算数 {amount(budget)}（{where(budget)}）"
        f" × 100% = {value}%",
    )


def budget_gap(r: Report, metric: str | None, budget: Fact, final: Fact, gap: Decimal) -> tuple[str, str]:
    """(sentence, derivation) of 预算数 − 决算数."""
    return (
        f"{r.department}{r.year}年{metric}决算数比预算数{'少' if gap >= 0 else '多'}"
        f"{money_text(abs(gap), final.unit)}（预算{amount(budget)}，决算{amount(final)}）。",
        f"差额 = 预算数 {amount(budget)}（{where(budget)}） − 决算数 {amount(final)}（{where(final)}）"
        f" = {fmt(gap)}{final.unit}",
    )


def share(r: Report, part: str, whole: str, n: Fact, d: Fact, value: Decimal) -> tuple[str, str]:
    """(sentence, derivation) of a share: part ÷ whole."""
    return (
        f"{r.department}{r.year}年{part}占{whole}的{value}%（{money_text(n.value, n.unit)}"
        f" ÷ {money_text(d.value, d.unit)}）。",
        f"占比 = {part} {amount(n)}（{where(n)}） ÷ {whole} {amount(d)}（{where(d)}） × 100% = {value}%",
    )


def total(r: Report, names: str, parts: list[tuple[str, Fact]], value: Decimal, unit: str) -> tuple[str, str]:
    """(sentence, derivation) of a sum of named items."""
    return (
        f"{r.department}{r.year}年{names}合计{money_text(value, unit)}（"
        + "，".join(f"{m}{money_text(f.value, f.unit)}" for m, f in parts)
        + "）。",
        " + ".join(f"{m} {amount(f)}（{where(f)}）" for m, f in parts) + f" = {fmt(value)}{unit}",
    )


def metric_difference(
    r: Report, a: tuple[str, Fact], b: tuple[str, Fact], diff: Decimal, unit: str
) -> tuple[str, str]:
    """(sentence, derivation) of A − B, two metrics of one report."""
    (ma, fa), (mb, fb) = a, b
    word = "多" if diff >= 0 else "少"
    return (
        f"{r.department}{r.year}年{ma}比{mb}{word}{money_text(abs(diff), unit)}（{ma}{money_text(fa.value, fa.unit)}，"
        f"{mb}{money_text(fb.value, fb.unit)}）。",
        f"{ma} {amount(fa)}（{where(fa)}） − {mb} {amount(fb)}（{where(fb)}） = {fmt(diff)}{unit}",
    )


def department_difference(
    metric: str | None, ra: Report, fa: Fact, rb: Report, fb: Fact, diff: Decimal
) -> tuple[str, str]:
    """(sentence, derivation) of one metric of two departments, in 元."""
    text = (
        f"{ra.department}{fa.year}年{metric}{money_text(fa.value, fa.unit)}，{rb.department}{fb.year}年"
        f"{money_text(fb.value, fb.unit)}，相差{money_text(abs(diff), '元')}。"
    )
    if fa.year != fb.year:
        text += "（注意：两个数字来自不同年度的报告）"
    return text, (
        f"{fmt(fa.value_yuan or Decimal(0))}元（{where(fa)}） − {fmt(fb.value_yuan or Decimal(0))}元"
        f"（{where(fb)}） = {fmt(diff)}元"
    )


def ranking(q: Query, rows: list[tuple[Decimal, Fact, Report]]) -> tuple[str, str]:
    """(text, derivation) of departments ranked by one metric, the top one first."""
    top = rows[0]
    word = "最低" if q.operation == "rank_min" else "最高"
    lines = [f"{top[2].department}{top[1].year}年{q.metric}{word}：{money_text(top[1].value, top[1].unit)}。"]
    # A budget is not a final account, and one year is not another: say when the figures differ so.
    quals = sorted({f.qualifier or "" for _, f, _ in rows} - {""})
    years = sorted({f.year for _, f, _ in rows if f.year})
    if len(quals) > 1 or len(years) > 1:
        what = "；".join(
            x
            for x in [
                "、".join(f"{y}年" for y in years) if len(years) > 1 else "",
                "、".join(quals) if len(quals) > 1 else "",
            ]
            if x
        )
        lines.append(f"注意：比较的数字年度或口径不同（{what}），仅供参考。")
    lines.append("各部门：")
    for _, f, r in rows:
        lines.append(
            f"  {r.department} {f.year}年 {f.qualifier or ''} {money_text(f.value, f.unit)}（{where(f)}）"
        )
    return "\n".join(
        lines
    ), f"按折合为元的金额排序：{', '.join(f'{r.department} {fmt(v)}' for v, _, r in rows)}"


# ----------------------------------------------------------------------------- not found


def coverage(reports: list[Report]) -> str:
    """The reports the corpus has for the question's departments."""
    have = "；".join(f"{r.department} {r.year}年{r.kind or ''}" for r in reports) or "无"
    return f"语料中相关的报告有：{have}"


def not_found(q: Query, why: str) -> Answer:
    """`在报告中没有找到：部门、年、指标。原因。`"""
    what = "、".join(
        x
        for x in [
            "/".join(q.departments) if q.departments else "",
            f"{q.year}年" if q.year else "",
            q.metric or "",
        ]
        if x
    )
    return Answer(
        question=q.text,
        kind="not_found",
        text=f"在报告中没有找到{('：' + what) if what else '答案'}。{why}。",
    )


UNKNOWN_DEPARTMENT = "语料中没有这个部门的报告"


def clarify_departments(q: Query) -> Answer:
    """A name two departments tie for: ask which one."""
    return Answer(
        question=q.text,
        kind="clarify",
        text="这个名称可以指：" + "、".join(q.clarify_departments) + "。请说明是哪一个部门。",
    )


NO_PAIR = "没有同时找到预算数和决算数"
NO_ADDENDS = "没有找到所有加数"
EMPTY_QUESTION = "请输入一个问题，例如：峨山县医保局2021年三公经费是多少？"


def missing_inputs(names: set[str]) -> str:
    return f"计算占比需要的{'、'.join(sorted(names)) or '两个数字'}没有找到"


def relative_year_note(word: str, base: int, year: int) -> str:
    return f"（“{word}”按报告年度{base}年理解为{year}年。）"


# ----------------------------------------------------------------------------- lines for unexplained words


def _hit_place(h: LineHit) -> str:
    page = f"第{h.page}页" if h.page else ""
    span = f"{h.line}" if h.line == h.line_end else f"{h.line}–{h.line_end}"
    return f"{h.doc} {page}第{span}行"


def hit_citation(h: LineHit) -> Citation:
    """A citation of a found line."""
    return Citation(doc=h.doc, line_start=h.line, line_end=h.line_end, page=h.page, snippet=h.text)


def line_answer(q: Query, r: Report | None, h: LineHit, value: AnswerValue | None) -> Answer:
    """The one line that answers the unexplained words: its figure when it states one, else the line."""
    who = f"{r.department}{r.year or ''}{'年' if r and r.year else ''}" if r else ""
    asked = "、".join(q.residue) + (f"（{q.metric}）" if q.metric else "")
    if value is not None:
        bound = h.bound or ""
        text = f"{who}“{asked}”：{bound}{money_text(Decimal(value.value), value.unit)}（报告原文：{h.text.strip()}）（{_hit_place(h)}）"
        return Answer(question=q.text, kind="lookup", text=text, values=[value], citations=[hit_citation(h)])
    text = f"{who}报告中关于“{asked}”的一行：\n» {h.text.strip()}\n（{_hit_place(h)}）"
    return Answer(question=q.text, kind="retrieval", text=text, citations=[hit_citation(h)])


def not_understood(q: Query, departments: list[str], hits: list[LineHit]) -> Answer:
    """`没有找到'特困人员缴费资助标准'；峨山县医保局的报告中相近的有：…` with the closest lines."""
    asked = "、".join(q.residue)
    where_ = "、".join(departments) or "语料"
    if not hits:
        return Answer(
            question=q.text, kind="not_found", text=f"没有找到“{asked}”（{where_}的报告中没有相关的数字）。"
        )
    lines = [f"没有找到“{asked}”；{where_}的报告中相近的有："]
    lines += [f"  · {h.text.strip()}（{_hit_place(h)}）" for h in hits[:3]]
    return Answer(
        question=q.text,
        kind="not_found",
        text="\n".join(lines),
        citations=[hit_citation(h) for h in hits[:3]],
    )


def unknown_department(name: str) -> str:
    return f"语料中没有“{name}”的报告"


def passage_note(q: Query, answer: Answer) -> Answer:
    """A passage answer to a question whose words were not all understood, saying so first."""
    note = f"（没有一个数字能完全对应“{'、'.join(q.residue)}”，以下是报告中相关的段落。）"
    return answer.model_copy(update={"text": f"{note}\n{answer.text}"})


def _line_value(
    r: Report | None, h: LineHit, value: Decimal, unit: str, metric: str, qualifier: str
) -> AnswerValue:
    return AnswerValue(
        value=str(value),
        unit=unit,
        metric=metric,
        qualifier=qualifier,
        department=r.department if r else None,
        year=r.year if r else None,
        citation=ValueCitation(doc=h.doc, line=h.line, page=h.page, snippet=h.text),
    )


def line_sum(
    q: Query, r: Report | None, found: list[tuple[str, LineHit, tuple[str, str | None]]]
) -> Answer | None:
    """The sum of items each stated in a report line (职工医保统筹基金支出904.52万元，个人账户698.60万元)."""
    units = {u for _, _, (_, u) in found}
    unit = units.pop() if len(units) == 1 else None
    if unit is None:  # mixed or unstated units: no sum
        return None
    total_ = sum((Decimal(v) for _, _, (v, _) in found), Decimal(0))
    names = "、".join(item for item, _, _ in found)
    who = f"{r.department}{r.year}年" if r else ""
    text = (
        f"{who}{names}合计{money_text(total_, unit)}（"
        + "，".join(f"{item}{money_text(Decimal(v), unit)}" for item, _, (v, _) in found)
        + "）。"
    )
    der = (
        " + ".join(f"{item} {fmt(Decimal(v))}{u}（{_hit_place(h)}）" for item, h, (v, u) in found)
        + f" = {fmt(total_)}{unit}"
    )
    return Answer(
        question=q.text,
        kind="computed",
        text=text,
        values=[_line_value(r, found[0][1], total_, unit, f"{names}合计", "合计")],
        citations=[hit_citation(h) for _, h, _ in found],
        derivation=[der],
    )


def line_budget_actual(
    q: Query, r: Report | None, h: LineHit, budget: Decimal, actual: Decimal, unit: str, rate_: bool
) -> Answer:
    """执行率 (actual ÷ budget) or the unspent part (budget − actual) of a project's line."""
    asked = "、".join(q.residue)
    who = f"{r.department}{r.year}年" if r else ""
    if rate_:
        value = round2(actual / budget * 100)
        text = f"{who}“{asked}”执行率为{value}%（执行数{money_text(actual, unit)} ÷ 预算数{money_text(budget, unit)}）。"
        der = f"执行率 = 执行数 {fmt(actual)}{unit} ÷ 预算数 {fmt(budget)}{unit}（{_hit_place(h)}） × 100% = {value}%"
        v = _line_value(r, h, value, "%", f"{asked}执行率", "执行率")
    else:
        value = budget - actual
        text = f"{who}“{asked}”预算数{money_text(budget, unit)}，执行数{money_text(actual, unit)}，未执行{money_text(value, unit)}。"
        der = (
            f"预算数 {fmt(budget)}{unit} − 执行数 {fmt(actual)}{unit}（{_hit_place(h)}） = {fmt(value)}{unit}"
        )
        v = _line_value(r, h, value, unit, f"{asked}预算与执行之差", "差额")
    return Answer(
        question=q.text, kind="computed", text=text, values=[v], citations=[hit_citation(h)], derivation=[der]
    )


def table_items(q: Query, what: str, items: list[str], citations: list[Citation]) -> Answer:
    """The projects or the indicators listed by a report's non-standard tables (answer/tables.py)."""
    text = f"{what}（{len(items)}个）：\n" + "\n".join(f"  · {i}" for i in items)
    return Answer(question=q.text, kind="retrieval", text=text, citations=citations)


# ----------------------------------------------------------------------------- figures stated with their year
