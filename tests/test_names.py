"""Department names by rule: full names, place-stripped names, in-order short forms, ties, unknown
departments (also in follow-ups), and the same scored matching for metric names."""

from __future__ import annotations

import pytest

from assistant.answer.names import abbreviation_gaps, best_short_forms, match_departments, metric_short_forms
from assistant.answer.session import Session
from assistant.answer.understand import understand
from assistant.naming import department_aliases
from assistant.store.vocabulary import Vocabulary, fold

# Departments that are NOT in the corpus: the rules must hold for any name.
NAMES = [
    "上海市普陀区文化和旅游局",
    "上海市普陀区商务委员会",
    "上海市普陀区规划和自然资源局",
    "中共上海市普陀区委社会工作部",
    "上海市普陀区人民政府办公室",
    "上海市普陀区人民政府万里街道办事处",
    "上海市普陀区医疗保障局",
    "上海市普陀区司法局",
    "峨山彝族自治县医疗保障局",
    "峨山彝族自治县财政局",
]


def vocabulary(names: list[str]) -> Vocabulary:
    aliases: dict[str, list[str]] = {}
    for name in names:
        for alias in [name, *department_aliases(name)]:
            aliases.setdefault(alias, []).append(name)
    return Vocabulary.build(aliases, [])


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return vocabulary(NAMES)


@pytest.mark.parametrize(
    ("phrase", "department"),
    [
        ("上海市普陀区文化和旅游局", "上海市普陀区文化和旅游局"),
        ("普陀区文化和旅游局", "上海市普陀区文化和旅游局"),
        ("区文旅局", "上海市普陀区文化和旅游局"),
        ("文旅局", "上海市普陀区文化和旅游局"),
        ("普陀文旅局", "上海市普陀区文化和旅游局"),
        ("商务委", "上海市普陀区商务委员会"),
        ("普陀区商务委", "上海市普陀区商务委员会"),
        ("规划资源局", "上海市普陀区规划和自然资源局"),
        ("区规划资源局", "上海市普陀区规划和自然资源局"),
        ("社工部", "中共上海市普陀区委社会工作部"),
        ("普陀区委社工部", "中共上海市普陀区委社会工作部"),
        ("政府办", "上海市普陀区人民政府办公室"),
        ("区政府办公室", "上海市普陀区人民政府办公室"),
        ("万里街道", "上海市普陀区人民政府万里街道办事处"),
        ("普陀区万里街道办", "上海市普陀区人民政府万里街道办事处"),
        ("万里街道办事处", "上海市普陀区人民政府万里街道办事处"),
        ("普陀区医保局", "上海市普陀区医疗保障局"),
        ("司法局", "上海市普陀区司法局"),
        ("峨山县医保局", "峨山彝族自治县医疗保障局"),
        ("峨山医保局", "峨山彝族自治县医疗保障局"),
        ("峨山彝族自治县医保局", "峨山彝族自治县医疗保障局"),
        ("峨山县财政局", "峨山彝族自治县财政局"),
    ],
)
def test_short_forms_of_names_not_in_the_corpus(vocab: Vocabulary, phrase: str, department: str) -> None:
    q = fold(f"{phrase}2025年因公出国预算多少？")
    m = match_departments(q, vocab)
    assert m.departments == [department]
    assert m.spans == [(0, len(phrase))]  # the coverage check relies on the span
    assert m.unknown is None and m.ambiguous == []


def test_a_name_several_departments_share_is_no_department(vocab: Vocabulary) -> None:
    m = match_departments(fold("医保局2021年基本支出是多少？"), vocab)
    assert m.departments == []
    assert m.ambiguous == ["上海市普陀区医疗保障局", "峨山彝族自治县医疗保障局"]


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("峨山县卫健局21年的三公经费支出多少？", "峨山县卫健局"),
        ("那峨山县卫健局呢？", "峨山县卫健局"),
        ("普陀区委宣传部2024年度决算三公经费是多少？", "普陀区委宣传部"),
        ("上海市普陀区教育局的基本支出", "上海市普陀区教育局"),
        ("请问普陀区卫健委2025年预算", "普陀区卫健委"),
        ("长寿路街道2025年项目支出", "长寿路街道"),
        ("教育局2021年基本支出", "教育局"),
        ("普陀区的卫健委2025年预算", "卫健委"),
        ("大城县医保局2021年基本支出", "大城县医保局"),
        ("大城县医疗保障局2021年基本支出", "大城县医疗保障局"),
        ("浦东新区社工部2024年基本支出", "浦东新区社工部"),
    ],
)
def test_a_department_we_lack_is_unknown_even_when_its_place_is_known(
    vocab: Vocabulary, question: str, phrase: str
) -> None:
    m = match_departments(fold(question), vocab)
    assert m.unknown == phrase
    assert m.departments == []


def test_a_known_and_an_unknown_department_is_not_answerable(vocab: Vocabulary) -> None:
    m = match_departments(fold("峨山县医保局和卫健局谁的办公费多"), vocab)
    assert m.departments == ["峨山彝族自治县医疗保障局"] and m.unknown == "卫健局"
    assert understand("峨山县医保局和卫健局谁的办公费多", vocab).mentions_other


@pytest.mark.parametrize(
    "question",
    [
        "这五个医保局里哪个公务接待费最高？",
        "各部门的办公费合计",
        "普陀区政府办2025年办公费预算是多少元？",
        "峨山县医保局县级以上离休干部医疗费项目还剩多少",
        "峨山县医保局村级代办员补助资金",
        "峨山县医保局2021年共举办了几次培训？",
        "峨山县医保局对乡镇卫生院的补助",
        "峨山县医保局医保服务中心建设项目预算",
        "峨山县医保局的医保服务中心建设项目预算",
    ],
)
def test_common_words_ending_like_a_department_are_not_unknown(vocab: Vocabulary, question: str) -> None:
    assert match_departments(fold(question), vocab).unknown is None


def test_abbreviation_gaps_and_scores() -> None:
    assert abbreviation_gaps("商务委", "商务委") == 0
    assert abbreviation_gaps("社工部", "社会工作部") == 2
    assert abbreviation_gaps("规划资源局", "规划和自然资源局") == 1  # 规划|和自然|资源局
    assert abbreviation_gaps("工社部", "社会工作部") is None  # order matters
    assert best_short_forms("公车运行费", ["公务接待费", "公务用车运行维护费", "公用经费"]) == [
        "公务用车运行维护费"
    ]


def test_metric_short_form_by_the_same_rule() -> None:
    vocab = Vocabulary.build({}, [("公务用车运行维护费", "公务用车运行维护费"), ("公务接待费", "公务接待费")])
    assert metric_short_forms("公车运行费", vocab) == ["公务用车运行维护费"]
    assert "公务接待费" not in metric_short_forms("公车费", vocab)  # it has no 车
    assert metric_short_forms("差旅费", vocab) == []


# ---------------------------------------------------------------- the real corpus


def _rule_short_form(body: str) -> str:
    """A short form by the usual rule of Chinese abbreviations, independent of the matcher: the first
    character of each two-character word of the body's stem, then its type character
    (医疗保障局 → 医保局, 社会工作部 → 社工部)."""
    stem, kind = body[:-1], body[-1]
    return "".join(stem[i] for i in range(0, len(stem), 2)) + kind


CORPUS_DEPARTMENTS = {
    "峨山彝族自治县医疗保障局": ["峨山县", "峨山"],
    "广元市昭化区医疗保障局": ["昭化区", "昭化", "广元市昭化区"],
    "大城县医疗保障局": ["大城县", "大城"],
    "攀枝花市仁和区医疗保障局": ["仁和区", "仁和"],
    "固原市医疗保障局": ["固原市", "固原"],
    "中共上海市普陀区委社会工作部": ["普陀区委", "区", "普陀区"],
}


def test_every_corpus_department_by_its_rule_short_forms(engine) -> None:
    departments = {r.department for r in engine.reports()}
    assert set(CORPUS_DEPARTMENTS) <= departments
    for dept, places in CORPUS_DEPARTMENTS.items():
        body = dept.removeprefix("中共").split("区委")[-1].split("自治县")[-1].split("区")[-1].split("县")[-1]
        body = body.split("市")[-1]
        short = _rule_short_form(body)
        for place in places:
            for form in (place + body, place + short):
                m = match_departments(fold(f"{form}2021年基本支出是多少？"), engine.vocab)
                assert m.departments == [dept], form
                assert m.spans == [(0, len(form))], form
    m = match_departments(fold("普陀区政府办2025年基本支出"), engine.vocab)
    assert m.departments == ["上海市普陀区人民政府办公室"]


@pytest.mark.parametrize(
    "question",
    [
        "峨山县卫健局21年的三公经费支出多少？",
        "普陀区商务委2025年的收入预算一共有多少？",
        "昭化区财政局2021年机关运行经费花了多少？",
        "上海市普陀区委宣传部2024年度决算三公经费是多少？",
        "大城县教育局2021年基本支出预算",
    ],
)
def test_an_unknown_department_is_not_found_never_a_number(engine, question: str) -> None:
    a = engine.ask(question, Session())
    assert a.kind == "not_found"
    assert a.values == []


def test_unknown_department_in_follow_ups_is_not_found(engine) -> None:
    s = Session()
    first = engine.ask("普陀区政府办2025年因公出国（境）费预算是多少？", s)
    assert first.values and first.kind == "lookup"
    for follow_up in ("普陀区商务委2025年因公出国预算多少", "那2024年呢？", "其中公务接待费呢？"):
        a = engine.ask(follow_up, s)
        assert a.kind == "not_found", follow_up
        assert a.values == [], follow_up
    s = Session()
    engine.ask("峨山县医保局2021年三公经费是多少", s)
    a = engine.ask("那峨山县卫健局呢", s)
    assert a.kind == "not_found" and a.values == []
    back = engine.ask("峨山县医保局呢？", s)  # naming a known department again answers again
    assert back.values and back.values[0].department == "峨山彝族自治县医疗保障局"


def test_a_subordinate_unit_is_its_department(engine) -> None:
    m = match_departments(fold("仁和区医疗保障事务中心有多少个参公编制？"), engine.vocab)
    assert m.departments == ["攀枝花市仁和区医疗保障局"] and m.unknown is None


def test_a_tie_between_departments_named_with_their_place_is_a_clarify_question() -> None:
    vocab = vocabulary([*NAMES, "浙江省舟山市普陀区医疗保障局"])
    tie = match_departments(fold("普陀区医保局2024年基本支出是多少"), vocab)
    assert tie.departments == [] and tie.clarify == ["上海市普陀区医疗保障局", "浙江省舟山市普陀区医疗保障局"]
    assert understand("普陀区医保局2024年基本支出是多少", vocab).clarify_departments == tie.clarify
    one = match_departments(fold("上海市普陀区医保局2024年基本支出是多少"), vocab)
    assert one.departments == ["上海市普陀区医疗保障局"] and one.clarify == []
    one = match_departments(fold("舟山市普陀区医疗保障局2024年基本支出是多少"), vocab)
    assert one.departments == ["浙江省舟山市普陀区医疗保障局"]
    bare = match_departments(fold("医保局2024年基本支出是多少"), vocab)
    assert bare.clarify == [] and len(bare.ambiguous) == 3  # a bare type name: no department in particular


def test_metric_short_forms_from_the_store(engine) -> None:
    # keys written by the build (terms kind tkey): the store answers as the in-memory vocabulary does
    assert "公务用车运行维护费" in metric_short_forms("公车运行维护费", engine.vocab)
    memory = Vocabulary.build({}, engine.con.execute("SELECT metric, label FROM labels"))
    for phrase in ("机关运行费", "一般公共预算拨款支出"):
        assert metric_short_forms(phrase, engine.vocab) == metric_short_forms(phrase, memory)
    assert metric_short_forms("机关运行费", engine.vocab) == ["机关运行经费"]
    assert metric_short_forms("一般公共预算拨款支出", engine.vocab) == ["一般公共预算财政拨款支出"]


def test_repl_use_resolves_short_forms_by_the_same_rule(engine) -> None:
    from assistant.repl.commands import resolve_department

    assert resolve_department(engine, "普陀社会工作部") == ("中共上海市普陀区委社会工作部", [])
    assert resolve_department(engine, "普陀区政府办公室") == ("上海市普陀区人民政府办公室", [])
    assert resolve_department(engine, "峨山县卫健局")[0] is None
