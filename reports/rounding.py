"""Controlled rounding of a cross-tab: every row and every column adds up to its own figure.

A cross-tab's cells are exact rationals (minor units). Rounding each cell on its own, or all
of them by largest remainder against the grand total, gives rows that no longer add up to
the report by the row dimension alone ("By region") nor columns to the report by the column
dimension ("By priority area"). Here the row and column totals are fixed first (each the
largest-remainder rounding of its exact total, exactly as the one-dimensional report rounds
it), then each cell is rounded down or up so that both sets of totals are met:

1. every cell is floored; row ``i`` then misses ``r_i`` units and column ``j`` misses ``c_j``
   (both add up to the same number, since both sets of totals add up to the grand total);
2. a cell with a fractional part can take one unit (it then shows its ceiling), an exact
   cell none: a transportation problem with capacities 0 or 1;
3. the units go first, greedily, to the cells with the largest fractional parts;
4. what the greedy pass could not place is placed by augmenting paths (Dinic's maximum
   flow on the cells: moving a unit from one cell of a row to another keeps the row's total),
   which finds a placement whenever one exists;
5. rarely none exists: the row totals and the column totals were each rounded on their own
   and can ask for a unit in a cell that has no fractional part (0.3 + 0.3 in one row, 0.4
   in another row and column: the first row gets the unit, and so does the other column).
   Then the fewest possible cells (one per missing unit) take a unit beyond their ceiling,
   and the caller is told which, to say so in the report.

Every cell is therefore within one minor unit of its exact value except those reported.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping
from fractions import Fraction

Exact = Fraction | int


def _floor_and_fraction(value: Exact) -> tuple[int, Fraction | None]:
    if type(value) is int:
        return value, None
    whole = value.numerator // value.denominator
    rest = value.numerator - whole * value.denominator
    return whole, (Fraction(rest, value.denominator) if rest else None)


def controlled_round(
    exact: Mapping[tuple[Hashable, Hashable], Exact],
    row_totals: Mapping[Hashable, int],
    column_totals: Mapping[Hashable, int],
) -> tuple[dict[tuple[Hashable, Hashable], int], list[tuple[Hashable, Hashable]]]:
    """Round each cell ``(row, column)`` of ``exact`` to a neighbouring integer so that the cells
    of each row add up to ``row_totals[row]`` and those of each column to ``column_totals[column]``.

    The totals must be roundings (floor or ceiling) of the exact row and column sums and add up
    to the same grand total. Returns the rounded cells (a cell absent from ``exact`` is an exact
    zero; it appears in the result only if it had to take a unit) and the cells that could not
    stay within one unit of their exact value (empty unless the totals conflict, see above).
    The order of ``row_totals`` and ``column_totals`` breaks ties between equal fractions.
    """
    rows = {key: i for i, key in enumerate(row_totals)}
    cols = {key: j for j, key in enumerate(column_totals)}
    n_rows = len(rows)
    row_need = list(row_totals.values())
    col_need = list(column_totals.values())
    out: dict[tuple[Hashable, Hashable], int] = {}
    cell_keys: list[tuple[Hashable, Hashable]] = []
    cell_row: list[int] = []
    cell_col: list[int] = []
    fractions: list[Fraction] = []
    for key, value in exact.items():
        i, j = rows[key[0]], cols[key[1]]
        whole, frac = _floor_and_fraction(value)
        out[key] = whole
        row_need[i] -= whole
        col_need[j] -= whole
        if frac is not None:
            cell_keys.append(key)
            cell_row.append(i)
            cell_col.append(j)
            fractions.append(frac)
    if sum(row_need) != sum(col_need):
        raise ValueError("The row totals and the column totals do not add up to the same grand total")
    if any(n < 0 for n in row_need) or any(n < 0 for n in col_need):
        raise ValueError("A row or column total is below the floor of its exact sum")
    if not any(row_need):
        return out, []

    n = len(cell_keys)
    # Largest fraction first; ties in the order of the rows, then of the columns. Two different
    # fractions with denominators up to D differ by at least 1/D^2, so floor(fraction * D^2) is
    # an integer key in the same order (and far cheaper to sort than the fractions).
    scale = max(f.denominator for f in fractions) ** 2 if fractions else 1
    rank = [f.numerator * scale // f.denominator for f in fractions]
    order = sorted(range(n), key=lambda c: (-rank[c], cell_row[c], cell_col[c]))
    taken = [False] * n
    for c in order:
        i, j = cell_row[c], cell_col[c]
        if row_need[i] and col_need[j]:
            taken[c] = True
            row_need[i] -= 1
            col_need[j] -= 1

    # Arcs of the residual graph, in order of preference: from a row to the columns where it
    # can still take a unit (largest fraction first), from a column to the rows where a unit
    # can be taken back (smallest fraction first). Nodes: rows 0..R-1, columns R..R+C-1.
    by_row: list[list[int]] = [[] for _ in range(n_rows)]
    by_col: list[list[int]] = [[] for _ in range(len(cols))]
    for c in order:
        by_row[cell_row[c]].append(c)
    for c in reversed(order):
        by_col[cell_col[c]].append(c)

    def step(node: int, c: int) -> int | None:
        """The node an arc through cell ``c`` leads to from ``node``, if the arc is open."""
        if node < n_rows:
            return n_rows + cell_col[c] if not taken[c] else None
        return cell_row[c] if taken[c] else None

    def arcs(node: int) -> list[int]:
        return by_row[node] if node < n_rows else by_col[node - n_rows]

    _max_flow(n_rows, len(cols), row_need, col_need, taken, arcs, step)

    beyond: list = []
    if any(row_need):
        open_cells = {cell_keys[c] for c in range(n) if not taken[c]}
        beyond = _place_conflicts(n_rows, rows, cols, exact, row_need, col_need, arcs, step, taken, out, open_cells)
    for c in range(n):
        if taken[c]:
            out[cell_keys[c]] += 1
    return out, [key for key in beyond if abs(out[key] - exact.get(key, 0)) >= 1]


def _max_flow(n_rows, n_cols, row_need, col_need, taken, arcs, step) -> None:
    """Dinic's algorithm: move units along shortest augmenting paths, a level graph at a time."""
    size = n_rows + n_cols
    while any(row_need):
        level = [-1] * size
        queue = deque(i for i in range(n_rows) if row_need[i])
        for i in queue:
            level[i] = 0
        sink_level = None
        while queue:
            node = queue.popleft()
            if sink_level is not None and level[node] >= sink_level:
                continue
            for c in arcs(node):
                nxt = step(node, c)
                if nxt is None or level[nxt] != -1:
                    continue
                level[nxt] = level[node] + 1
                if nxt >= n_rows and col_need[nxt - n_rows] and sink_level is None:
                    sink_level = level[nxt]
                queue.append(nxt)
        if sink_level is None:
            return  # no augmenting path: the flow is maximal
        pointer = [0] * size
        for source in range(n_rows):
            while row_need[source] and level[source] == 0:
                path = _find_path(source, level, sink_level, pointer, n_rows, col_need, arcs, step)
                if path is None:
                    break
                for c in path:
                    taken[c] = not taken[c]
                row_need[source] -= 1


def _find_path(source, level, sink_level, pointer, n_rows, col_need, arcs, step) -> list[int] | None:
    """One path of the level graph from ``source`` to a column that still misses units."""
    nodes, cells = [source], []
    while nodes:
        node = nodes[-1]
        if node >= n_rows and level[node] == sink_level and col_need[node - n_rows]:
            col_need[node - n_rows] -= 1
            return cells
        advanced = False
        if level[node] < sink_level:
            out = arcs(node)
            while pointer[node] < len(out):
                c = out[pointer[node]]
                pointer[node] += 1  # the arc is used up (reversed) or leads nowhere in this phase
                nxt = step(node, c)
                if nxt is not None and level[nxt] == level[node] + 1:
                    nodes.append(nxt)
                    cells.append(c)
                    advanced = True
                    break
        if not advanced:
            level[node] = -2  # a dead end for the rest of the phase
            nodes.pop()
            if cells:
                cells.pop()
    return None


def _place_conflicts(n_rows, rows, cols, exact, row_need, col_need, arcs, step, taken, out, open_cells) -> list:
    """Place the units no rounding within one unit can place: one cell beyond its ceiling each;
    returns those cells."""
    row_keys = list(rows)
    col_keys = list(cols)
    off: list = []  # cells already beyond their range: the next unit goes elsewhere if it can
    while any(row_need):
        # Rows reachable from a row that misses a unit, by moving units within the rows' ranges.
        parent: dict[int, tuple[int, int] | None] = {}
        queue = deque()
        for i in range(n_rows):
            if row_need[i]:
                parent[i] = None
                queue.append(i)
        while queue:
            node = queue.popleft()
            for c in arcs(node):
                nxt = step(node, c)
                if nxt is not None and nxt not in parent:
                    parent[nxt] = (node, c)
                    queue.append(nxt)
        depth = {i: _depth(parent, i) for i in range(n_rows) if i in parent}
        # (after the maximum flow no cell can still take a unit within its range; were one
        # left, it would come first), a cell with money rather than an empty one, a cell not
        # already off, the nearest
        i, j = min(
            ((i, j) for j, need in enumerate(col_need) if need for i in depth),
            key=lambda ij: (
                (row_keys[ij[0]], col_keys[ij[1]]) not in open_cells,
                exact.get((row_keys[ij[0]], col_keys[ij[1]]), 0) == 0,
                (row_keys[ij[0]], col_keys[ij[1]]) in off,
                depth[ij[0]],
                ij[1],
                ij[0],
            ),
        )
        column = col_keys[j]
        node = i
        while parent[node] is not None:
            prev, c = parent[node]
            taken[c] = not taken[c]
            node = prev
        row_need[node] -= 1
        col_need[j] -= 1
        key = (row_keys[i], column)
        out[key] = out.get(key, 0) + 1
        if key not in off:
            off.append(key)
    return off


def _depth(parent: dict, node: int) -> int:
    depth = 0
    while parent[node] is not None:
        node = parent[node][0]
        depth += 1
    return depth
