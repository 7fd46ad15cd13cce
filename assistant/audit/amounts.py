"""Comparing two stated figures: the same, differing only by rounding 元 into 万元, or different."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from assistant.parse.lexicon import to_yuan

Agreement = Literal["same", "rounding", "different"]
# One hundredth of a 万元: the last digit a figure in 万元 shows.
WAN_QUANTUM_YUAN = Decimal(100)
CENT = Decimal("0.01")


def quantum_yuan(value: Decimal, unit: str) -> Decimal:
    """The value of the last digit a figure shows, in 元 (0.45万元 → 100元; 4,523.00元 → 0.01元)."""
    exp = value.as_tuple().exponent
    digits = Decimal(1).scaleb(exp if isinstance(exp, int) else -2)
    return to_yuan(digits, unit) or digits


def agreement(a: Decimal, a_unit: str, b: Decimal, b_unit: str) -> Agreement:
    """Whether two money figures agree at the precision of the rounder one.

    0.45万元 and 4,523.00元 are the same; 307.82万元 and 307.83万元 (or 3,078,250元) differ only by the
    rounding of 元 into 万元, which the audit reports as info, not as an error.
    """
    ya, yb = to_yuan(a, a_unit), to_yuan(b, b_unit)
    if ya is None or yb is None:
        return "same" if a == b and a_unit == b_unit else "different"
    q = max(quantum_yuan(a, a_unit), quantum_yuan(b, b_unit), CENT)
    diff = abs(ya - yb)
    if diff <= q / 2 or diff <= CENT:
        return "same"
    if q >= WAN_QUANTUM_YUAN and diff <= q:
        return "rounding"
    return "different"


def sum_agreement(total: Decimal, parts: Decimal, n_parts: int, unit: str | None) -> Agreement:
    """Whether a table's total equals the sum of its parts (0.01 tolerance; in a 万元 table the sum of
    n rounded parts may be off by up to n × 0.005万元, which is rounding, not an error)."""
    diff = abs(total - parts)
    if diff <= CENT:
        return "same"
    if unit == "万元" and diff <= max(CENT, Decimal("0.005") * n_parts):
        return "rounding"
    return "different"


def show(value: Decimal | None) -> str | None:
    """A figure as a plain decimal string (None for a blank cell)."""
    return None if value is None else format(value, "f")
