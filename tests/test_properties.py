"""Property-based tests (hypothesis): normaliser, number parser, table-row parser and question parser
never raise, and keep their stated invariants on arbitrary text."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.answer.understand import understand
from assistant.ingest.normalize import format_number, normalize_text, parse_number
from assistant.parse.rows import split_segments
from assistant.store.vocabulary import Vocabulary

# text that looks like report lines: CJK, full-width forms, digits, separators, tabs, odd controls
REPORTISH = st.text(
    alphabet=st.one_of(
        st.sampled_from(
            list(
                "0123456789０１２３４５６７８９,，.．%％()（）-—－ \t\u3000年万元合计支出收入类款项"
                "一般公共预算三公经费峨山县医保局比上年增减：:;；。、\r\x0c\u200b\ufeff"
            )
        ),
        st.characters(),
    ),
    max_size=200,
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(REPORTISH)
def test_normalize_is_idempotent(raw):
    once = normalize_text(raw)
    assert normalize_text(once) == once


@FAST
@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=2
    )
)
def test_format_then_parse_round_trips(d):
    assert parse_number(format_number(d)) == d


@FAST
@given(REPORTISH)
def test_parse_number_never_raises(s):
    v = parse_number(s)
    assert v is None or v.is_finite()


@FAST
@given(REPORTISH, st.booleans())
def test_split_segments_never_raises(line, has_row_numbers):
    split_segments(normalize_text(line), has_row_numbers)
    split_segments(line, has_row_numbers)


EMPTY_VOCAB = Vocabulary.build({}, [])
VOCAB = Vocabulary.build(
    {"峨山县医保局": ["峨山彝族自治县医疗保障局"], "峨山彝族自治县医疗保障局": ["峨山彝族自治县医疗保障局"]},
    [("三公经费", "三公经费"), ("一般公共服务支出", "一般公共服务支出")],
)


@FAST
@given(REPORTISH)
def test_understand_never_raises(question):
    for vocab in (EMPTY_VOCAB, VOCAB):
        q = understand(question, vocab)
        assert q.year is None or isinstance(q.year, int)
