"""Turning weights into exact percentage shares that add up to 100."""

from __future__ import annotations

from decimal import Decimal

from registry.models.project import SHARE_SCALE, SHARE_WHOLE


def shares_from_weights(weights: list[Decimal]) -> list[Decimal]:
    """Percentages (4 decimals, as the registry stores them) proportional to ``weights``,
    adding up to exactly 100; equal shares when the weights are all zero."""
    n = len(weights)
    if n == 0:
        return []
    total = sum(weights)
    if total <= 0 or any(w < 0 for w in weights):
        weights, total = [Decimal(1)] * n, Decimal(n)
    exact = [w * SHARE_WHOLE / total for w in weights]
    floors = [int(x) for x in exact]
    left = SHARE_WHOLE - sum(floors)
    # Largest remainders first; ties to the earlier entry, so results are stable.
    order = sorted(range(n), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(ppm) / SHARE_SCALE for ppm in floors]
