"""Synthetic corpora for scale tests: N realistic reports made from the five .txt reports in corpus/.

    python -m bench.synth OUT_DIR [-n 500] [--seed 7]

Every generated report is one source report (000–004: space-separated, tab-separated and
doubled-character PDF text; 预算 or 决算 as the source is) with

- another department: an invented place (青山县, 白水市松林区 …, the same kind of division as the
  source: county, city + district, or city) and another body (教育局, 卫生健康局, 财政局 …). Every
  form of the source's name is replaced — the full name, the aliases the pipeline derives
  (峨山县医保局, 峨山县医疗保障局, 峨山 …) and character-doubled forms of PDF text;
- another report year (2019–2024): every "20xx年" is shifted by the same number of years, so the
  上年 year stays year − 1;
- amounts multiplied by one integer factor per report (1, 2 or 3). Only money is scaled: numbers with
  two decimals or thousands separators, and integers followed by 元/万元; never percentages, counts
  (人, 辆, 批次), row numbers or classification codes. With an integer factor every table identity
  (合计 = sum of parts) still holds exactly, and two-decimal values stay two-decimal (Decimal
  arithmetic). A narrative figure that the source rounded to 万元 is scaled as written, so it may
  differ from the exact table figure by up to factor × 0.005 万元 — as rounding in real reports does.

Each (department, year) is generated once. Deterministic from the seed. Nothing is written into
corpus/. ``generate`` returns ground truth: (question, expected value, unit) lookups derived from the
source report's facts as the real pipeline parses them (load_document + parse_document), scaled.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SOURCES = (
    "000_db59d6f0fba66678.txt",  # 峨山彝族自治县医疗保障局 2021 决算, space-separated tables
    "001_8ee0239607d3cbd9.txt",  # 广元市昭化区医疗保障局 2021 决算, tab-separated (docx export)
    "002_20041eb3cb8715ee.txt",  # 大城县医疗保障局 2021 预算, narrative-heavy
    "003_d6208e3fa212963b.txt",  # 攀枝花市仁和区医疗保障局 2020 决算, doubled-character PDF text
    "004_a15be56197084065.txt",  # 固原市医疗保障局 2020 决算, markdown-ish
)
YEARS = tuple(range(2019, 2025))
FACTORS = (1, 2, 3)

# Invented places: first character × second character (青山, 白水, 石门 …).
_FIRST = "青白石云松金桃柳梅竹丰安兴永泰和新乐宁清"
_SECOND = "山水溪岭河湖川林原峰"
PLACES = tuple(a + b for a in _FIRST for b in _SECOND)  # 200 names
ORGS = (
    "教育局",
    "卫生健康局",
    "财政局",
    "农业农村局",
    "民政局",
    "公安局",
    "司法局",
    "审计局",
    "统计局",
    "商务局",
    "水务局",
    "林业局",
    "交通运输局",
    "应急管理局",
    "住房和城乡建设局",
    "市场监督管理局",
    "文化和旅游局",
    "退役军人事务局",
    "生态环境局",
    "人力资源和社会保障局",
)
# Source body and its short forms (in the text) → replaced by the new body.
SOURCE_ORG = ("医疗保障局", "医保局")

# Metrics whose values the ground truth states (as the pipeline names them).
TRUTH_METRICS = ("三公经费", "本年支出合计", "基本工资")

_MONEY_RE = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d{2})(?![\d%％])"  # 1,234.56 / 1234.56 / 1,234
    r"|(?<![\d.,])(\d+(?:\.\d+)?)(?=\s*(?:亿元|万元|千元|元))"  # 6 万元 / 12.5元
)
_YEAR_RE = re.compile(r"(?<![\d.,])(20[0-3]\d)((?:\1){0,3})(?![\d.,])(?=\s*年)")


@dataclass
class Truth:
    """A lookup the generator knows the answer of."""

    question: str
    value: Decimal
    unit: str  # 元 / 万元
    metric: str
    department: str
    year: int
    doc: str

    @property
    def value_yuan(self) -> Decimal:
        return self.value * 10000 if self.unit == "万元" else self.value


@dataclass
class SynthReport:
    doc: str  # file name
    path: Path
    source: str
    department: str
    short_names: list[str]
    year: int
    kind: str
    factor: int
    place: str = ""
    org: str = ""
    truths: list[Truth] = field(default_factory=list)


@dataclass
class Source:
    name: str
    text: str
    department: str
    names: list[str]  # every form of the name in the text, longest first
    place_kind: str  # "county" | "city_district" | "city"
    year: int
    kind: str
    facts: list  # assistant.models.Fact


def _place_kind(department: str) -> str:
    head = department.removesuffix("医疗保障局")
    if re.search(r"市.+区$", head):
        return "city_district"
    if head.endswith("县"):
        return "county"
    return "city"


def _fold_place(department: str) -> str:
    return department.removesuffix("医疗保障局")


@cache
def load_source(name: str) -> Source:
    """A source report, parsed by the real pipeline (for its metadata and facts)."""
    from assistant.ingest.loaders import load_document
    from assistant.parse.facts import parse_document

    path = CORPUS / name
    doc = load_document(path)
    parsed = parse_document(doc)
    rep = parsed.report
    assert rep.department and rep.year and rep.kind, f"{name}: metadata not found"
    text = path.read_text(encoding=doc.encoding or "utf-8")
    names = sorted({rep.department, *rep.aliases}, key=len, reverse=True)
    return Source(
        name=name,
        text=text,
        department=rep.department,
        names=names,
        place_kind=_place_kind(rep.department),
        year=rep.year,
        kind=rep.kind,
        facts=parsed.facts,
    )


def _new_place(kind: str, rng: random.Random, used: set[str]) -> tuple[str, list[str]]:
    """(full division, [division variants]) e.g. ('白水市松林区', ['松林区'])."""
    if kind == "county":
        p = rng.choice(PLACES)
        return f"{p}县", []
    if kind == "city":
        p = rng.choice(PLACES)
        return f"{p}市", []
    a, b = rng.sample(PLACES, 2)
    return f"{a}市{b}区", [f"{b}区"]


def _name_map(src: Source, place: str, org: str) -> list[tuple[str, str]]:
    """(old, new) replacements for every name form of the source, longest first.

    Each alias of the source is split into its place part and its body part; the place part maps to
    the corresponding part of the new place, the body (医疗保障局 / 医保局) to the new body.
    """
    old_place = _fold_place(src.department)  # 峨山彝族自治县 / 广元市昭化区 / 固原市
    # place forms of the source: full, short (峨山县), last division (昭化区), base (峨山, 昭化), level (县)
    m = re.match(r"^(.+?[市州])?(.+?)(彝族自治县|县|区|市)$", old_place)
    assert m, old_place
    new_m = re.match(r"^(.+?市)?(.+?)(县|区|市)$", place)
    assert new_m, place
    o_city, o_base, o_level = m.group(1) or "", m.group(2), m.group(3)
    n_city, n_base, n_level = new_m.group(1) or "", new_m.group(2), new_m.group(3)
    short_level = "县" if o_level == "彝族自治县" else o_level
    pairs: dict[str, str] = {}
    if o_city and n_city:
        pairs[o_city] = n_city
        pairs[o_city.removesuffix("市")] = n_city.removesuffix("市")
    pairs[old_place] = place
    pairs[o_base + o_level] = n_base + n_level
    pairs[o_base + short_level] = n_base + n_level
    pairs[o_base] = n_base
    out: dict[str, str] = {}
    for op, np_ in pairs.items():
        for ob in SOURCE_ORG:
            out[op + ob] = np_ + org
    for ob in SOURCE_ORG:
        out[short_level + ob] = n_level + org
        out[ob] = org
    out.update(pairs)
    for alias in src.names:
        if alias not in out and alias.endswith(SOURCE_ORG):
            out[alias] = place + org
    return sorted(out.items(), key=lambda kv: len(kv[0]), reverse=True)


def _name_replacer(pairs: list[tuple[str, str]]):  # noqa: ANN202
    """A function replacing longest forms first, in one pass (a replaced span is never rescanned)."""
    forms: list[tuple[str, str]] = []
    for old, new in pairs:
        forms.append((old, new))
        if len(old) >= 2:
            for k in (2, 4):  # doubled-character PDF text: 峨峨山山县县
                forms.append(("".join(ch * k for ch in old), "".join(ch * k for ch in new)))
    forms.sort(key=lambda kv: len(kv[0]), reverse=True)
    table = dict(forms)
    rx = re.compile("|".join(re.escape(o) for o, _ in forms))
    return lambda text: rx.sub(lambda m: table[m.group(0)], text)


def _replace_names(text: str, pairs: list[tuple[str, str]]) -> str:
    return _name_replacer(pairs)(text)


def scale_money(text: str, factor: int) -> str:
    """Every money amount × factor, written as before (thousands separators, number of decimals)."""
    if factor == 1:
        return text

    def sub(m: re.Match[str]) -> str:
        s = m.group(1) or m.group(2)
        commas = "," in s
        v = Decimal(s.replace(",", "")) * factor
        exp = Decimal(s.replace(",", "")).as_tuple().exponent
        places = -exp if isinstance(exp, int) and exp < 0 else 0
        return f"{v:,.{places}f}" if commas else f"{v:.{places}f}"

    return _MONEY_RE.sub(sub, text)


def shift_years(text: str, delta: int) -> str:
    if delta == 0:
        return text

    def sub(m: re.Match[str]) -> str:
        y = str(int(m.group(1)) + delta)
        reps = len(m.group(0)) // 4
        return y * reps

    return _YEAR_RE.sub(sub, text)


def text_transform(src: Source, place: str, org: str, year: int, factor: int):  # noqa: ANN201
    """The string function ``transform`` applies (names, years, money), for labels and snippets."""
    names = _name_replacer(_name_map(src, place, org))
    delta = year - src.year
    return lambda s: scale_money(shift_years(names(s), delta), factor)


def transform(src: Source, place: str, org: str, year: int, factor: int) -> str:
    """The source's text as the report of ``place + org`` for ``year``, amounts × factor."""
    text = _replace_names(src.text, _name_map(src, place, org))
    text = shift_years(text, year - src.year)
    return scale_money(text, factor)


def _truths(src: Source, doc: str, department: str, year: int, factor: int) -> list[Truth]:
    """Lookups of the source's facts, transformed: the metric's figure on the report's own side."""
    want = "决算数" if src.kind == "决算" else "预算数"
    out: list[Truth] = []
    for metric in TRUTH_METRICS:
        cands = [
            f
            for f in src.facts
            if f.metric == metric
            and f.qualifier == want
            and f.year == src.year
            and f.unit in ("元", "万元")
            and "conflict" not in f.flags
            and "column_uncertain" not in f.flags
        ]
        if not cands:
            continue
        # the engine prefers exact table figures; the truth is the table figure when there is one
        cands.sort(key=lambda f: (f.source != "table", f.code is not None, f.line))
        f = cands[0]
        out.append(
            Truth(
                question=f"{department}{year}年{metric}是多少",
                value=f.value * factor,
                unit=f.unit,
                metric=metric,
                department=department,
                year=year,
                doc=doc,
            )
        )
    return out


def generate(
    out_dir: str | Path, n: int, seed: int = 7, sources: tuple[str, ...] = SOURCES, write: bool = True
) -> list[SynthReport]:
    """Write ``n`` synthetic reports into ``out_dir`` (created; must not be corpus/) and return them
    with their ground truth. The same (n, seed) gives the same files. ``write=False`` only plans them."""
    out = Path(out_dir).resolve()
    if out == CORPUS.resolve() or CORPUS.resolve() in out.parents:
        raise ValueError("synthetic reports are never written into corpus/")
    if write:
        out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    srcs = [load_source(s) for s in sources]
    seen: set[tuple[str, int]] = set()
    used_places: set[str] = set()
    reports: list[SynthReport] = []
    i = 0
    while len(reports) < n:
        src = srcs[i % len(srcs)]
        i += 1
        place, _ = _new_place(src.place_kind, rng, used_places)
        org = rng.choice(ORGS)
        year = rng.choice(YEARS)
        department = place + org
        if (department, year) in seen:
            continue
        seen.add((department, year))
        factor = rng.choice(FACTORS)
        doc = f"s{len(reports):05d}_{src.name[:3]}.txt"
        path = out / doc
        if write:
            path.write_text(transform(src, place, org, year, factor), encoding="utf-8")
        short = [a for a in (place.split("市")[-1] + org,) if a != department]
        reports.append(
            SynthReport(
                doc=doc,
                path=path,
                source=src.name,
                department=department,
                short_names=short,
                year=year,
                kind=src.kind,
                factor=factor,
                place=place,
                org=org,
                truths=_truths(src, doc, department, year, factor),
            )
        )
    return reports


def unused_department(reports: list[SynthReport]) -> str:
    """A department name of the same shape that was not generated."""
    have = {r.department for r in reports}
    for p in PLACES:
        for org in ORGS:
            name = f"{p}县{org}"
            if name not in have and not any(h.startswith(f"{p}县") for h in have):
                return name
    raise RuntimeError("every department was generated")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    reps = generate(args.out, args.n, args.seed)
    for r in reps[:10]:
        print(
            r.doc,
            r.department,
            r.year,
            r.kind,
            f"×{r.factor}",
            [(t.metric, str(t.value), t.unit) for t in r.truths],
        )
    print(f"{len(reps)} reports → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
