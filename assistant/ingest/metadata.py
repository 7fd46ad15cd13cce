"""Report metadata from a document's content: department, year, kind (预算/决算), title, aliases.

Nothing is taken from the file name: corpus files are named by hashes, and a file name can lie.
"""

from __future__ import annotations

import re
from collections import Counter

from assistant.models import Document, Report, ReportKind

__all__ = ["detect_metadata", "department_aliases", "ORG_ABBREVIATIONS"]

# Common abbreviations of department bodies (full → short forms used in questions and prose).
ORG_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "医疗保障局": ("医保局",),
    "医疗保障事务中心": ("医保中心",),
    "人民政府办公室": ("政府办公室", "政府办"),
    "人民政府办公厅": ("政府办公厅",),
    "社会工作部": ("社工部",),
    "卫生健康局": ("卫健局",),
    "卫生健康委员会": ("卫健委",),
    "卫生和计划生育局": ("卫计局",),
    "人力资源和社会保障局": ("人社局",),
    "人力资源和社会保障厅": ("人社厅",),
    "发展和改革委员会": ("发改委",),
    "发展和改革局": ("发改局",),
    "住房和城乡建设局": ("住建局",),
    "市场监督管理局": ("市场监管局",),
    "文化和旅游局": ("文旅局",),
    "文化广电和旅游局": ("文广旅局",),
    "退役军人事务局": ("退役军人局",),
    "应急管理局": ("应急局",),
    "交通运输局": ("交通局",),
    "机关事务管理局": ("机管局",),
    "教育体育局": ("教体局",),
    "自然资源和规划局": ("自然资源局", "资规局"),
    "农业农村局": ("农业局",),
    "生态环境局": ("环保局",),
    "政法委员会": ("政法委",),
    "统一战线工作部": ("统战部",),
    "纪律检查委员会": ("纪委",),
    "残疾人联合会": ("残联",),
    "总工会": ("工会",),
    "教育局": (),
    "财政局": (),
    "民政局": (),
    "公安局": (),
    "司法局": (),
    "审计局": (),
    "统计局": (),
    "商务局": (),
    "水务局": (),
    "水利局": (),
    "林业局": (),
    "税务局": (),
    "组织部": (),
    "宣传部": (),
}

# Names of the 55 minorities as used in autonomous-area names (彝族自治县 → 县).
_ETHNIC = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|高山|拉祜|水|东乡|纳西|"
    "景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|乌孜别克|俄罗斯|鄂温克|德昂|"
    "保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各"
)
_AUTONOMOUS = re.compile(rf"^(.{{2,6}}?)(?:(?:{_ETHNIC})族?)+自治(县|旗|州)$")
# One administrative division at the start of a name: 上海市, 普陀区, 峨山彝族自治县, 凉山彝族自治州 …
_DIVISION = re.compile(
    r"^[\u4e00-\u9fff]{1,16}?(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|州|地区|盟|县|区|旗)"
)
# Suffixes that end a department name.
_ORG_SUFFIX = re.compile(r"(?:局|办公室|办公厅|委员会|部|厅|委|中心|院|所|馆|站|队|会|办|处|署|社|联)$")
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
        warnings=warnings,
    )


# ---------------------------------------------------------------- aliases


def _split_name(name: str) -> tuple[list[str], bool, str]:
    """Split '中共上海市普陀区委社会工作部' into (['上海市', '普陀区'], committee=True, '社会工作部')."""
    rest = name.removeprefix("中共")
    divisions: list[str] = []
    known_org = next((o for o in sorted(ORG_ABBREVIATIONS, key=len, reverse=True) if rest.endswith(o)), None)
    while True:
        m = _DIVISION.match(rest)
        if not m:
            break
        remainder = rest[m.end() :]
        # never eat into the department body itself
        if len(remainder) < 2 or (known_org and len(remainder) < len(known_org)):
            break
        divisions.append(m.group(0))
        rest = remainder
    committee = bool(divisions) and rest.startswith("委") and len(rest) > 2
    if committee:
        rest = rest[1:]
    return divisions, committee, rest


def _division_variants(division: str) -> list[str]:
    """峨山彝族自治县 → [峨山彝族自治县, 峨山县]."""
    out = [division]
    m = _AUTONOMOUS.match(division)
    if m:
        out.append(m.group(1) + m.group(2))
    return out


def _place_base(division: str) -> str | None:
    """普陀区 → 普陀, 固原市 → 固原 (only when two or more characters remain)."""
    m = re.fullmatch(r"(.{2,})(?:省|市|州|县|区|旗)", division)
    return m.group(1) if m else None


def department_aliases(name: str) -> list[str]:
    """Other ways to say a department's name, longest first (the name itself is not included).

    Derived from the name's structure: administrative divisions (上海市 / 普陀区), a party-committee
    marker (中共…区委…), and the body (医疗保障局) with its common abbreviations (医保局). Examples:
    峨山彝族自治县医疗保障局 → 峨山县医疗保障局, 峨山县医保局, 峨山医保局, 峨山 …;
    上海市普陀区人民政府办公室 → 普陀区人民政府办公室, 普陀区政府办, 区政府办, 政府办 ….
    """
    name = name.strip()
    if not name:
        return []
    divisions, committee, org = _split_name(name)
    orgs = [org, *ORG_ABBREVIATIONS.get(org, ())]
    aliases: set[str] = set()
    if name.startswith("中共"):
        aliases.add(name.removeprefix("中共"))
    if divisions:
        last = divisions[-1]
        for variant in _division_variants(last):
            for k in range(len(divisions)):
                chain = "".join(divisions[k:-1]) + variant
                for o in orgs:
                    aliases.add(chain + o)
                    if committee:
                        aliases.add(chain + "委" + o)
            aliases.add(variant)
            base = None if "自治" in variant else _place_base(variant)
            if base:
                aliases.add(base)
                aliases.update(base + o for o in orgs[1:] or orgs)
            level = variant[-1]
            for o in orgs:
                aliases.add(level + o)
                if committee:
                    aliases.add(level + "委" + o)
    aliases.update(orgs)
    aliases.discard(name)
    return sorted((a for a in aliases if a and len(a) >= 2), key=lambda a: (-len(a), a))
