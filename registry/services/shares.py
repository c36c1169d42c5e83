"""Percentage shares: exact parsing, the rule that a set sums to 100, and amounts split by shares."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import floor

from flask_babel import gettext as _

from registry.errors import ValidationError
from registry.models.project import SHARE_SCALE, SHARE_WHOLE

TOLERANCE_PPM = 100  # 0.01 percentage point


def to_ppm(value: Decimal | str | int, field: str) -> int:
    """A percentage (0 < p <= 100, at most 4 decimals) as parts per million."""
    try:
        percent = Decimal(str(value))
    except InvalidOperation:
        message = _("%(value)s is not a percentage", value=repr(value))
        raise ValidationError(message, {field: [message]}) from None
    ppm = percent * SHARE_SCALE
    if ppm != ppm.to_integral_value():
        message = _("Share %(value)s has more than 4 decimals", value=value)
        raise ValidationError(message, {field: [message]})
    if not 0 < ppm <= SHARE_WHOLE:
        message = _("Share %(value)s must be above 0 and at most 100", value=value)
        raise ValidationError(message, {field: [message]})
    return int(ppm)


def check_total(shares_ppm: Iterable[int], field: str) -> None:
    """Raise unless the shares add up to 100 within 0.01."""
    shares = list(shares_ppm)
    if not shares:
        return
    total = sum(shares)
    if abs(total - SHARE_WHOLE) > TOLERANCE_PPM:
        percent = f"{(Decimal(total) / SHARE_SCALE).normalize():f}"
        message = _("Shares must add up to 100; these add up to %(total)s", total=percent)
        raise ValidationError(message, {field: [message]})


def split_evenly(n: int) -> list[int]:
    """n shares in ppm that add up to exactly 100 % (the remainder goes to the first ones)."""
    base, remainder = divmod(SHARE_WHOLE, n)
    return [base + (1 if i < remainder else 0) for i in range(n)]


def share_text(ppm: int) -> str:
    """A share as a plain percentage string: 1_000_000 -> "100", 333_333 -> "33.3333"."""
    return f"{(Decimal(ppm) / SHARE_SCALE).normalize():f}"


# The row of the amounts of projects that have no priority area.
UNALLOCATED_AREA = "Unallocated"


def allocate(exact: Sequence[Fraction | int], total: Fraction | int) -> tuple[list[int], int]:
    """Round ``exact`` values to integers that add up to the rounded ``total`` (largest remainder:
    each value is floored and the missing units go to the largest fractional parts, ties to the
    earlier value). Every page and report that splits amounts by shares rounds this way."""
    target = round(total)  # Fraction.__round__ is exact, ties to even
    if all(type(x) is int for x in exact) and sum(exact) == target:
        return list(exact), target  # whole minor units already (rows without share weighting)
    floors = [floor(x) for x in exact]
    missing = target - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    out = list(floors)
    for i in order[:missing]:
        out[i] += 1
    return out, target
