"""The structure of department names: administrative divisions, party-committee marker, body and
its type word; the aliases and short-form keys derived from them by rule.

Kept apart from ingest.metadata (which reads reports) because a question needs it too, and an
`assistant ask` must not load the ingest code (loaders, normalisation) to understand one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

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


@lru_cache(maxsize=1)
def _autonomous() -> re.Pattern[str]:
    # compiled on first use: a question that names no autonomous area does not pay for it
    return re.compile(rf"^(.{{2,6}}?)(?:(?:{_ETHNIC})族?)+自治(县|旗|州)$")


# One administrative division at the start of a name: 上海市, 普陀区, 峨山彝族自治县, 凉山彝族自治州 …
@lru_cache(maxsize=1)
def _division() -> re.Pattern[str]:
    # compiled on first use: its CJK character class costs a millisecond, on every cold ask
    return re.compile(
        r"^[\u4e00-\u9fff]{1,16}?(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|州|地区|盟|县|区|旗)"
    )


# Suffixes that end a department name.
_ORG_SUFFIX = re.compile(r"(?:局|办公室|办公厅|委员会|部|厅|委|中心|院|所|馆|站|队|会|办|处|署|社|联)$")


# ---------------------------------------------------------------- aliases


def _split_name(name: str) -> tuple[list[str], bool, str]:
    """Split '中共上海市普陀区委社会工作部' into (['上海市', '普陀区'], committee=True, '社会工作部')."""
    rest = name.removeprefix("中共")
    divisions: list[str] = []
    known_org = next((o for o in sorted(ORG_ABBREVIATIONS, key=len, reverse=True) if rest.endswith(o)), None)
    while True:
        m = _division().match(rest)
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
    m = _autonomous().match(division) if "自治" in division else None
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


# ---------------------------------------------------------------- forms for short-form matching

# Words that end a department's name. A short form may end where one of them ends, and where the
# multi-character ones start (商务委 ⊂ 商务委员会, 政府办 ⊂ 政府办公室, 残联 ⊂ 残疾人联合会).
_LEADING_CHAR_TYPES = ("委员会", "办公室", "办公厅", "办事处", "联合会")
# A body "X街道办事处" / "X镇人民政府" is also called by its place-like part alone (万里街道).
_INNER_TYPE = re.compile(r"(街道|镇|乡)(?=办事处$|人民政府$)")
# The government itself is no department: "人民政府X" is also called "政府X", and "X" when X is a
# department of its own (人民政府万里街道办事处 → 万里街道办事处) rather than its office (办公室).
_GOVERNMENT = "人民政府"


class DepartmentForms(NamedTuple):
    """How a department's name splits for short-form matching: the place prefixes a question may put
    before it ("" = none) and the body variants, each with the positions where a short form may end.

    A NamedTuple, not a pydantic record: it is a cached value derived in-process, and creating a
    model class costs milliseconds of every cold `assistant ask`."""

    name: str
    places: tuple[str, ...]
    bodies: tuple[tuple[str, tuple[int, ...]], ...]


def _body_ends(body: str) -> tuple[int, ...]:
    ends = {len(body) - 1}
    for word in _LEADING_CHAR_TYPES:
        if body.endswith(word) and len(body) > len(word):
            ends.add(len(body) - len(word))
    for m in _INNER_TYPE.finditer(body):
        ends.add(m.end() - 1)
    return tuple(sorted(ends))


def _body_variants(org: str) -> list[str]:
    out = [org]
    if org.startswith(_GOVERNMENT) and len(org) > len(_GOVERNMENT):
        inner = org[len(_GOVERNMENT) :]
        out.append("政府" + inner)
        if _ORG_SUFFIX.search(inner) and len(inner) >= 4 and not inner.startswith("办公"):
            out.append(inner)
    return out


def _places(name: str) -> list[str]:
    """Every place prefix a question may use before the body: the division chains (上海市普陀区,
    普陀区), their short forms (峨山县 for 峨山彝族自治县, 普陀), the level alone (区) and the
    party-committee forms (普陀区委, 区委, 中共普陀区委)."""
    divisions, committee, _ = _split_name(name)
    places = {""}
    if not divisions:
        return sorted(places)
    last = divisions[-1]
    for variant in _division_variants(last):
        chains = ["".join(divisions[k:-1]) + variant for k in range(len(divisions))]
        for chain in chains:
            places.add(chain)
            if committee:
                places.update({chain + "委", "中共" + chain + "委"})
        base = None if "自治" in variant else _place_base(variant)
        places.add(variant[-1])  # 区政府办, 县医保局
        if committee:
            places.add(variant[-1] + "委")
        if base:
            places.add(base)  # 普陀政府办, 峨山医保局
    return sorted(places)


@lru_cache(maxsize=4096)
def department_forms(name: str) -> DepartmentForms:
    """The places and body variants of a department's name (see DepartmentForms)."""
    _, _, org = _split_name(name.strip())
    bodies = tuple((b, _body_ends(b)) for b in _body_variants(org) if len(b) >= 2)
    return DepartmentForms(name=name, places=tuple(_places(name.strip())), bodies=bodies)


def department_keys(name: str) -> set[str]:
    """The index keys under which a question's short form finds this department: ``place|ab`` with
    ``a`` the first character of a body and ``b`` a character where a short form may end. A short
    form keeps the first and last of these, so a question's phrase is looked up by the same rule
    (assistant.answer.names) without scanning the departments."""
    forms = department_forms(name)
    return {
        f"{place}|{body[0]}{body[e]}" for place in forms.places for body, ends in forms.bodies for e in ends
    }


def department_stems(name: str) -> set[str]:
    """``place#stem`` keys of the names of subordinate units: a unit named after its department's
    body without the type word (仁和区医疗保障事务中心 of 仁和区医疗保障局) is looked up by them."""
    forms = department_forms(name)
    out: set[str] = set()
    for body, _ in forms.bodies:
        stem = next(
            (body[: -len(w)] for w in _LEADING_CHAR_TYPES if body.endswith(w)), _ORG_SUFFIX.sub("", body)
        )
        if len(stem) >= 2 and not stem.endswith("政府") and not stem.startswith(("人民", "政府")):
            out.update(f"{place}#{stem}" for place in forms.places if place)
    return out
