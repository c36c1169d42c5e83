"""Controlled rounding: a cross-tab's rows and columns add up to their own rounded totals."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.rounding import controlled_round


def largest_remainder(values: list[Fraction], total: Fraction) -> list[int]:
    """The textbook rule, written here independently: floor each value, then one unit more to the
    largest remainders (ties to the earlier value) until the sum is the rounded total."""
    target = round(total)
    floors = [floor(v) for v in values]
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    for i in order[: target - sum(floors)]:
        floors[i] += 1
    return floors


def margins(table: dict[tuple[int, int], Fraction]) -> tuple[dict[int, int], dict[int, int]]:
    rows = sorted({r for r, _ in table})
    cols = sorted({c for _, c in table})
    total = sum(table.values(), Fraction(0))
    row_sums = [sum((v for (r, _), v in table.items() if r == row), Fraction(0)) for row in rows]
    col_sums = [sum((v for (_, c), v in table.items() if c == col), Fraction(0)) for col in cols]
    return (
        dict(zip(rows, largest_remainder(row_sums, total), strict=True)),
        dict(zip(cols, largest_remainder(col_sums, total), strict=True)),
    )


def within_one_unit(shown: int, exact: Fraction) -> bool:
    return shown in (floor(exact), ceil(exact))


def any_rounding_within_one_unit(table, row_totals, col_totals) -> bool:
    """Brute force: is there a floor-or-ceiling choice for every cell that meets both margins?"""
    keys = list(table)
    fractional = [k for k in keys if table[k].denominator != 1]
    for ups in itertools.product((0, 1), repeat=len(fractional)):
        shown = {k: floor(table[k]) for k in keys}
        for k, up in zip(fractional, ups, strict=True):
            shown[k] += up
        if all(sum(v for (r, _), v in shown.items() if r == row) == t for row, t in row_totals.items()) and all(
            sum(v for (_, c), v in shown.items() if c == col) == t for col, t in col_totals.items()
        ):
            return True
    return False


values = st.builds(
    Fraction,
    st.integers(min_value=-(10**6), max_value=10**7),
    st.sampled_from([1, 2, 3, 7, 100, 999_999, 10**12]),
)


@st.composite
def tables(draw, max_rows: int = 7, max_cols: int = 7):
    n_rows = draw(st.integers(1, max_rows))
    n_cols = draw(st.integers(1, max_cols))
    cells = draw(
        st.dictionaries(
            st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_cols - 1)), values, min_size=1, max_size=30
        )
    )
    return cells


@settings(max_examples=400, deadline=None, database=None)
@given(tables())
def test_rows_and_columns_add_up_to_their_own_rounded_totals(table):
    row_totals, col_totals = margins(table)
    shown, off = controlled_round(table, row_totals, col_totals)
    for row, target in row_totals.items():
        assert sum(v for (r, _), v in shown.items() if r == row) == target
    for col, target in col_totals.items():
        assert sum(v for (_, c), v in shown.items() if c == col) == target
    assert sum(shown.values()) == round(sum(table.values(), Fraction(0)))
    for key, value in shown.items():
        exact = table.get(key, Fraction(0))
        if key in off:
            assert 1 <= abs(value - exact) < 2, key
        else:
            assert within_one_unit(value, exact), key  # an exact cell keeps its value


@settings(max_examples=300, deadline=None, database=None)
@given(tables(max_rows=4, max_cols=4).filter(lambda t: sum(v.denominator != 1 for v in t.values()) <= 10))
def test_every_cell_stays_within_one_unit_whenever_some_rounding_can(table):
    row_totals, col_totals = margins(table)
    shown, off = controlled_round(table, row_totals, col_totals)
    if any_rounding_within_one_unit(table, row_totals, col_totals):
        assert off == []
    else:
        # each unit that cannot be placed within its cell's range costs exactly one cell
        assert off


def test_conflicting_margins_put_the_fewest_units_beyond_a_cell():
    # Row A: 0.3 + 0.3 = 0.6 beats row B's 0.4, so A shows the cent; column 1 (0.4) beats
    # columns 2 and 3 (0.3 each), so column 1 shows it; A has nothing in column 1.
    table = {("A", 2): Fraction(3, 10), ("A", 3): Fraction(3, 10), ("B", 1): Fraction(4, 10)}
    row_totals, col_totals = margins(table)
    assert row_totals == {"A": 1, "B": 0} and col_totals == {1: 1, 2: 0, 3: 0}
    shown, off = controlled_round(table, row_totals, col_totals)
    assert shown[("A", 1)] == 1 and off == [("A", 1)]
    assert sum(shown.values()) == 1


def test_largest_fractions_take_the_units():
    # Each row and column misses one unit; the two large fractions can take them.
    table = {
        (0, 0): Fraction(9, 10),
        (0, 1): Fraction(1, 10),
        (1, 0): Fraction(1, 10),
        (1, 1): Fraction(9, 10),
    }
    shown, off = controlled_round(table, {0: 1, 1: 1}, {0: 1, 1: 1})
    assert shown == {(0, 0): 1, (0, 1): 0, (1, 0): 0, (1, 1): 1} and off == []


def test_units_the_greedy_pass_cannot_place_are_moved_along_a_path():
    # Greedy gives (0, 0) the unit first (0.9); row 1 and column 1 then need an augmenting
    # path: (1, 0) takes a unit, (0, 0) gives it back, (0, 1) takes it.
    table = {(0, 0): Fraction(9, 10), (0, 1): Fraction(8, 10), (1, 0): Fraction(7, 10)}
    shown, off = controlled_round(table, {0: 1, 1: 1}, {0: 1, 1: 1})
    assert shown == {(0, 0): 0, (0, 1): 1, (1, 0): 1} and off == []


def test_totals_that_do_not_match_are_refused():
    with pytest.raises(ValueError, match="same grand total"):
        controlled_round({(0, 0): Fraction(1, 2)}, {0: 1}, {0: 0})


def test_large_table_is_rounded_quickly():
    import random
    import time

    rnd = random.Random(12)
    table = {
        (i, j): Fraction(rnd.randint(-(10**6), 10**9), rnd.choice([3, 7, 10**12]))
        for i in range(150)
        for j in range(200)
        if rnd.random() < 0.4
    }
    row_sums: dict[int, Fraction] = {}
    col_sums: dict[int, Fraction] = {}
    for (i, j), v in table.items():
        row_sums[i] = row_sums.get(i, 0) + v
        col_sums[j] = col_sums.get(j, 0) + v
    total = sum(row_sums.values())
    rows, cols = sorted(row_sums), sorted(col_sums)
    row_totals = dict(zip(rows, largest_remainder([row_sums[r] for r in rows], total), strict=True))
    col_totals = dict(zip(cols, largest_remainder([col_sums[c] for c in cols], total), strict=True))
    started = time.perf_counter()
    shown, _off = controlled_round(table, row_totals, col_totals)
    assert time.perf_counter() - started < 5
    for row, target in row_totals.items():
        assert sum(v for (r, _), v in shown.items() if r == row) == target


def test_a_report_shows_and_names_a_cell_rounded_beyond_one_cent(app):
    """The conflicting case inside a report: the cent lands in a cell without money, which the
    report then shows (so that its rows still add up) and names in a note."""
    from reports import queries
    from reports.schemas import build_spec
    from reports.shaping import finish

    spec = build_spec(by=["region", "priority_area"], measures=["commitment"])
    # commitments of 0.3, 0.3 and 0.4 cent (numerators over a denominator of 10)
    cells = {
        ("Africa", "23b"): {10: [0, 3, 0, 0, 0]},
        ("Africa", "23c"): {10: [0, 3, 0, 0, 0]},
        ("Asia", "23a"): {10: [0, 4, 0, 0, 0]},
    }
    grand = {10: [0, 10, 0, 0, 0]}
    report = finish(spec, queries.load_reference(), cells, {k: 1 for k in cells}, grand, 1, [], [], True)
    shown = {(r["region"], r["priority_area"]): r["commitment"] for r in report.rows}
    assert shown == {
        ("Africa", "23a"): Decimal("0.01"),
        ("Africa", "23b"): Decimal("0.00"),
        ("Africa", "23c"): Decimal("0.00"),
        ("Asia", "23a"): Decimal("0.00"),
    }
    assert [(m["region"], m["commitment"]) for m in report.margins["region"]] == [
        ("Africa", Decimal("0.01")),
        ("Asia", Decimal("0.00")),
    ]
    assert report.total["commitment"] == Decimal("0.01")
    assert any("1 cell(s)" in note and "Africa / 23a" in note for note in report.notes)
