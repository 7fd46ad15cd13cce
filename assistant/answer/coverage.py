"""Coverage of a question by its understanding: what no slot and no function word explains.

The slots (department, year, metric, column, 预算/决算) mark the characters they were read from;
here the words of operations, units and the plain grammar of a question (的, 是, 多少, 呢, 请问 …)
are marked too. What is left is the residue: a number is stated with confidence only when it is
empty ("峨山医保局特困人员参保缴费资助标准是多少" leaves "特困人员缴费资助标准" when only 参保 is known).
"""

from __future__ import annotations

import re

# Words that ask for an operation, a column side or a unit: they are slots' words, not content.
SLOT_WORDS = (
    "执行率",
    "完成率",
    "执行数",
    "执行了",
    "执行",
    "完成",
    "占比",
    "比重",
    "比例",
    "比率",
    "百分之几",
    "百分比",
    "个百分点",
    "百分点",
    "相差",
    "差额",
    "差了",
    "差",
    "增长率",
    "增长",
    "增加",
    "减少",
    "下降",
    "降低",
    "变化",
    "增减",
    "变动",
    "同比",
    "增幅",
    "降幅",
    "幅度",
    "节约",
    "节省",
    "超支",
    "超出",
    "结余",
    "剩余",
    "还剩",
    "没执行",
    "未执行",
    "一共",
    "合计",
    "总共",
    "加起来",
    "加上",
    "之和",
    "总和",
    "总计",
    "各项",
    "分别",
    "有哪些",
    "明细",
    "构成",
    "由哪些",
    "包括",
    "哪个",
    "哪一个",
    "谁",
    "最高",
    "最多",
    "最大",
    "最低",
    "最少",
    "最小",
    "更高",
    "更低",
    "更大",
    "更小",
    "更多",
    "更少",
    "较高",
    "较低",
    "较大",
    "较小",
    "较多",
    "较少",
    "更",
    "较",
    "比",
    "多",
    "少",
    "占",
    "调整预算数",
    "调整预算",
    "年初预算",
    "预算数",
    "决算数",
    "预算",
    "决算",
    "上年",
    "去年",
    "今年",
    "前年",
    "上一年",
    "本年度",
    "上年度",
    "当年",
    "本年",
    "全年",
    "年度",
    "相比",
    "相较",
    "对比",
    "取得",
    "换成",
    "换算",
    "折合",
    "哪些",
    "哪几个",
    "哪几项",
    "哪里",
    "哪",
    "科目",
    "经济分类",
    "功能分类",
    "经济科目分类",
    "分类",
    "一般公共预算",
    "政府性基金预算",
    "国有资本经营预算",
    "财政拨款",
    "万人",
    "万",
    # The report's scope (answer/scope.py reads it): 单位/本级 or 部门.
    "机关本级",
    "本级",
    "单位预算",
    "单位决算",
    "部门预算",
    "部门决算",
    "部门汇总",
    "含下属",
    "包括下属",
    "机关",
    # Where in the report: the tables' names (the figure's row and column are the slots).
    "绩效自评表",
    "绩效目标表",
    "项目支出绩效自评表",
    "绩效指标表",
    "自评表",
    "目标表",
    "收入决算表",
    "支出决算表",
    "收入预算表",
    "支出预算表",
    "收支总表",
    "决算表",
    "预算表",
    "资产占用表",
    "固定资产占用表",
    "明细表",
    "情况表",
    "万元",
    "亿元",
    "元",
    "%",
    "％",
)
# The grammar of a question and words every amount question may carry.
FUNCTION_WORDS = (
    "请问",
    "请",
    "告诉我",
    "帮我",
    "查一下",
    "查询",
    "一下",
    "是多少",
    "有多少",
    "为多少",
    "多少钱",
    "多少",
    "几",
    "多大",
    "什么",
    "怎样",
    "如何",
    "吗",
    "呢",
    "啊",
    "呀",
    "吧",
    "了",
    "的",
    "得",
    "是",
    "为",
    "有",
    "在",
    "共",
    "总",
    "其中",
    "那么",
    "那",
    "还有",
    "另外",
    "这个",
    "这笔",
    "那笔",
    "这",
    "该",
    "其",
    "本",
    "各",
    "和",
    "与",
    "及",
    "以及",
    "或",
    "或者",
    "跟",
    "同",
    "中",
    "里",
    "内",
    "里面",
    "当中",
    "方面",
    "给",
    "按",
    "对",
    "从",
    "到",
    "用于",
    "用了",
    "花了",
    "花",
    "实际",
    "安排",
    "金额",
    "数额",
    "资金",
    "经费",
    "费用",
    "支出",
    "收入",
    "总额",
    "总数",
    "数字",
    "数",
    "钱",
    "情况",
    "规模",
    "水平",
    "部门",
    "单位",
    "本部门",
    "本单位",
    "全局",
    "报告",
    "表",
    "公开",
    "年",
    "度",
    "月",
    "元",
    "大概",
    "大约",
    "约",
    "达到",
    "涉及",
    "包含",
    "登记",
    "列示",
    "列出",
    "显示",
    "反映",
    "记录",
    "填报",
    "公开的",
    "达",
    "要求",
    "定",
    "是否",
    "还",
    "又",
    "也",
    "都",
    "就",
    "能",
    "可以",
)
# Looked up as a set, longest first (a regex of these hundreds of words costs milliseconds to compile
# on every cold `assistant ask`).
_WORDS = frozenset(SLOT_WORDS) | frozenset(FUNCTION_WORDS)
_LONGEST = max(len(w) for w in _WORDS)
# Patterns of slot words: a count of named items (两项, 这五个), a classification code (2101501), a
# percentage the question quotes (增长100%).
_PATTERN_RE = re.compile(
    r"(哪个|哪一个|哪些|哪家|各个?|每个|这些|那些|这几个|几个)(部门|单位|局|委|办|街道|镇|中心)|(多少|几|\d)(万人|人次|批次|团组|个|台|辆|次|件|名|项|人|分|家|户)(?![目员数])|这?[一二三四五六七八九十两]+[个项家笔类种]|[（(][类款项][）)]|(?<!\d)\d{3,7}(?![\d年])|\d+(?:\.\d+)?[%％]"
)


def _is_content(ch: str) -> bool:
    # a comparison, not a CJK character-class regex (compiled on every cold ask)
    return "\u4e00" <= ch <= "\u9fff" or ch.isascii() and ch.isalnum()


def _word_at(text: str, i: int) -> int:
    """Length of the longest slot or function word starting at ``text[i]`` (0: none)."""
    for k in range(min(_LONGEST, len(text) - i), 0, -1):
        if text[i : i + k] in _WORDS:
            return k
    return 0


def _without_words(run: str) -> str:
    out, i = [], 0
    while i < len(run):
        k = _word_at(run, i)
        if k:
            i += k
        else:
            out.append(run[i])
            i += 1
    return "".join(out)


# The unit a question asks its number in (多少人 → 人, 多少钱 → 元 …), most specific first.
EXPECTED_UNITS: tuple[tuple[re.Pattern[str], str], ...] = (
    # (?![目员数]): 多少项目预算资金 asks for money, 多少人员经费 too; 项目, 人员 are nouns, not units.
    (re.compile(r"(多少|几)人次"), "人次"),
    (re.compile(r"(多少|几)批次?"), "批次"),
    (re.compile(r"(多少|几)(个|名)?(人|名)(?![目员数])"), "人"),
    (re.compile(r"(多少|几)辆"), "辆"),
    (re.compile(r"(多少|几)台"), "台"),
    (re.compile(r"(多少|几)件"), "件"),
    (re.compile(r"(多少|几)项(?![目员数])"), "项"),
    (re.compile(r"(多少|几)次"), "次"),
    (re.compile(r"(多少|几)个(?![人目员数]|百分点)"), "个"),
    (re.compile(r"(多少|几)分|得分"), "分"),
    (re.compile(r"百分之几|百分点|比例|比重|占比|[率%％]"), "%"),
    (re.compile(r"多少万元"), "万元"),
    (re.compile(r"多少钱|多少元|金额|资金|经费|费用|支出|收入|预算|决算"), "元"),
)


# The units an expected unit accepts in a report's figure (a count asked 多少人 may be written 名 or 万人).
COMPATIBLE: dict[str, set[str]] = {
    "元": {"元", "万元", "亿元"},
    "万元": {"元", "万元", "亿元"},
    "人": {"人", "名", "万人"},
    "人次": {"人次"},
    "批次": {"批次", "次"},
    "次": {"次", "人次", "批次"},
    "个": {"个", "项", "家"},
    "项": {"项", "个"},
    "%": {"%", "％"},
    "台": {"台", "台(套)", "套"},
    "辆": {"辆", "台"},
    "件": {"件", "台", "个", "台(套)", "套"},
    "分": {"分"},
}


def expected_unit(q: str) -> str | None:
    """The unit the (folded) question asks its number in, or None."""
    for pattern, unit in EXPECTED_UNITS:
        if pattern.search(q):
            return unit
    return None


def residue(q: str, covered: bytearray, names: list[str] | None = None) -> list[str]:
    """The stretches of ``q`` that neither the slots (``covered``, one byte per character) nor a
    slot or function word explains, each without the function words at its edges. A stretch whose
    characters all occur, in order, in a name the slots matched (昭化医保 → 广元市昭化区医疗保障局;
    出国（境） → 因公出国（境）费) is a short form of that name, not residue."""
    marks = bytearray(covered)
    for m in _PATTERN_RE.finditer(q):
        marks[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    out: list[str] = []
    i, n = 0, len(q)
    while i < n:
        if marks[i]:
            i += 1
            continue
        j = i
        while j < n and not marks[j]:
            j += 1
        run = q[i:j]
        if any(_is_content(ch) for ch in _without_words(run)):
            out.append(_trim(run))
        i = j
    return explained_by([r for r in out if r], names or [])


def _in_order(part: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in part)


def explained_by(residue: list[str], names: list[str]) -> list[str]:
    """The residue without the stretches that are short forms (characters in order) of ``names``."""
    return [r for r in residue if not any(_in_order(r, n) for n in names if n)]


# The endings of a department's name (…局 …委 …办 …部 …中心 …街道 …镇 …院 …厅).
DEPARTMENT_ENDINGS = ("局", "委员会", "委", "办公室", "办", "部", "中心", "街道", "镇", "院", "厅", "所")


def unknown_department(residue: list[str]) -> str | None:
    """A residue stretch naming a department (峨山县卫健局 → 卫健局), which the corpus does not have."""
    return next(
        (r for r in residue if any(r.endswith(e) and len(r) > len(e) for e in DEPARTMENT_ENDINGS)), None
    )


def _trim(run: str) -> str:
    """A stretch without punctuation and without the function words it starts or ends with."""
    run = "".join(ch for ch in run if _is_content(ch))
    while True:
        k = _word_at(run, 0)
        if k and k < len(run):
            run = run[k:]
            continue
        tail = next((n for n in range(min(_LONGEST, len(run) - 1), 0, -1) if run[-n:] in _WORDS), 0)
        if tail:
            run = run[:-tail]
            continue
        return run
