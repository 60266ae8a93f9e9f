"""How a question behaved: the flag rule shared by the bank's statistics and each exam's item analysis.

- ``negative_discrimination``: the corrected item–total (item–rest) correlation is below 0;
- ``too_hard``: fewer than 20% answer it correctly; ``too_easy``: more than 95% do.
The bank flags a question only once it has been answered ``BANK_MIN_ANSWERS`` times; an exam's item
analysis flags what that exam saw.
"""

from __future__ import annotations

import math
from enum import StrEnum

HARD_FACILITY = 0.2
EASY_FACILITY = 0.95
BANK_MIN_ANSWERS = 20


class QuestionFlag(StrEnum):
    negative_discrimination = "negative_discrimination"
    too_hard = "too_hard"
    too_easy = "too_easy"


FLAG_LABELS = {
    QuestionFlag.negative_discrimination: "区分度为负",
    QuestionFlag.too_hard: "过难",
    QuestionFlag.too_easy: "过易",
}


def item_flags(facility: float | None, discrimination: float | None) -> list[str]:
    """The flags of one item from its facility (share correct) and corrected item–total correlation."""
    flags = []
    if discrimination is not None and discrimination < 0:
        flags.append(QuestionFlag.negative_discrimination.value)
    if facility is not None and facility < HARD_FACILITY:
        flags.append(QuestionFlag.too_hard.value)
    if facility is not None and facility > EASY_FACILITY:
        flags.append(QuestionFlag.too_easy.value)
    return flags


def correlation_from_sums(n: int, sx: float, sy: float, sxy: float, sxx: float, syy: float) -> float | None:
    """Pearson correlation from the sums SQL aggregates; None when either side does not vary."""
    if n < 2:
        return None
    x_spread = n * sxx - sx * sx
    y_spread = n * syy - sy * sy
    if x_spread <= 1e-9 or y_spread <= 1e-9:
        return None
    return (n * sxy - sx * sy) / math.sqrt(x_spread * y_spread)


def encode_flags(flags: list[str]) -> str:
    return f",{','.join(flags)}," if flags else ""


def decode_flags(stored: str | None) -> list[str]:
    return [flag for flag in (stored or "").split(",") if flag]
