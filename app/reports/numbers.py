"""Exact arithmetic for published figures: Decimal throughout, rounded half-up to one decimal at the end.

Float rounding is never used for a printed figure: ``round(0.05, 1)`` gives 0.1 or 0.0 depending on the
binary value, while a supervisor's notice rounds 0.05 up, always.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ONE_DECIMAL = Decimal("0.1")
HUNDRED = Decimal(100)


def to_decimal(value: float | int | Decimal | None) -> Decimal:
    """A database number as the Decimal it was meant to be (a float's ``repr`` is its shortest form)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


# Scores carry at most a few decimals (half points); sums computed in floating point by the database are
# snapped back to that grid, so 87.4 + 87.5 is 174.9 and not 174.90000000000001.
SUM_GRID = Decimal("0.000001")


def exact_sum(value: float | int | Decimal | None) -> Decimal:
    return to_decimal(value).quantize(SUM_GRID, rounding=ROUND_HALF_UP)


def round_half_up(value: Decimal, places: Decimal = ONE_DECIMAL) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def share(count: int, total: int) -> Decimal | None:
    """``count`` as an unrounded percentage of ``total``; None when there is nothing to divide by."""
    if total <= 0:
        return None
    return Decimal(count) * HUNDRED / Decimal(total)


def mean(total: Decimal, count: int) -> Decimal | None:
    if count <= 0:
        return None
    return total / Decimal(count)


def population_stdev(total: Decimal, total_of_squares: Decimal, count: int) -> Decimal | None:
    """Population standard deviation from the sum and sum of squares (every examinee is observed)."""
    if count <= 0:
        return None
    n = Decimal(count)
    variance = (n * total_of_squares - total * total) / (n * n)
    return max(variance, Decimal(0)).sqrt()


def published(value: Decimal | None) -> float | None:
    """The one-decimal half-up figure as a JSON number."""
    return None if value is None else float(round_half_up(value))


def raw(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def format_percent(value: Decimal | None) -> str:
    """A rate as the notice prints it: ``100%`` for a clean sweep, else one decimal (``6.0%``)."""
    if value is None:
        return "—"
    rounded = round_half_up(value)
    if rounded == HUNDRED:
        return "100%"
    return f"{rounded}%"


def format_number(value: Decimal | None) -> str:
    return "—" if value is None else f"{round_half_up(value)}"
