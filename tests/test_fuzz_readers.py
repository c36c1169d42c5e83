"""Fuzzing the readers: real small files (XLSX, the donor template, ODS, XLS, CSV, IATI XML, CRS
text and zip) mutated byte-wise (bits flipped, cut short, bytes inserted) are either read or
refused with a RegistryError of the 4xx family, never another exception (which the API would
answer with a 500), never a crash.

Derandomized: the same examples run on every machine, so CI is stable; a failure names its
example, which hypothesis prints as the seed file and the mutations to apply.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers.api import detect
from importers.pipeline import check_upload
from importers.pipeline.readers import _read
from registry.errors import RegistryError
from tests.importers.helpers import csv_bytes, xlsx
from tests.importers.iati_xml import activity, document
from tests.importers.test_crs import HEADER as CRS_HEADER
from tests.importers.test_crs import ROWS as CRS_ROWS
from tests.importers.test_crs import pipe_text

ROWS = [["Project reference", "Title", "Country", "Transaction type", "Amount", "Currency", "Value date"]] + [
    [f"FZ-{i}", "Connected clinics", "Kenya", "commitment", str(1000 + i), "USD", "2021-01-04"] for i in range(12)
]
# The kind a file of each name is read as when its content no longer says (as the upload's
# detection would fall back on its extension).
SEEDS = ("rows.xlsx", "template.xlsx", "rows.ods", "rows.xls", "rows.csv", "activities.xml", "crs.txt", "crs.zip")


def _seeds(tmp_path) -> dict[str, bytes]:
    import pandas as pd
    import xlwt

    from importers.template import template_workbook

    seeds = {"rows.xlsx": xlsx(ROWS, tmp_path / "seed.xlsx").read_bytes(), "template.xlsx": template_workbook(rows=20)}
    out = io.BytesIO()
    pd.DataFrame(ROWS[1:], columns=ROWS[0]).to_excel(out, engine="odf", index=False)
    seeds["rows.ods"] = out.getvalue()
    book = xlwt.Workbook()
    sheet = book.add_sheet("Projects")
    for r, row in enumerate(ROWS):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    seeds["rows.xls"] = out.getvalue()
    seeds["rows.csv"] = csv_bytes(ROWS)
    seeds["activities.xml"] = document(activity(), activity("XM-TEST-1-P2"))
    seeds["crs.txt"] = pipe_text().encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("CRS 2020 data.txt", pipe_text(CRS_HEADER, CRS_ROWS))
    seeds["crs.zip"] = out.getvalue()
    return seeds


@pytest.fixture
def seeds(app, tmp_path):
    return _seeds(tmp_path)


# One mutation: ("flip", where, bit), ("cut", where, 0) or ("insert", where, bytes); "where" is a
# fraction of the file's length, so the same mutation lands in every seed.
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    out = bytearray(data)
    for op, where, arg in mutations:
        if not out:
            break
        i = min(int(where * len(out)), len(out) - 1)
        if op == "flip":
            out[i] ^= 1 << arg
        elif op == "cut":
            del out[i:]
        else:
            out[i:i] = arg
    return bytes(out)


def read_upload(path, name: str) -> None:
    """What an upload goes through before and while it is read (the API's order)."""
    check_upload(path, name)
    # A CRS file is read as CRS (as flask import crs does): damaged, it no longer says what it is.
    kind = "crs" if name.startswith("crs") else detect(path.read_bytes(), name)
    result = _read(kind, path, name, {"currency": "USD"})
    list(result.records)


def _settle(seeds, tmp_path, name: str, mutations: list[tuple]) -> str:
    path = tmp_path / name
    path.write_bytes(mutate(seeds[name], mutations))
    try:
        read_upload(path, name)
    except RegistryError as refused:
        assert 400 <= refused.code < 500, refused
        assert refused.message
        return "refused"
    return "read"


def test_the_seeds_are_read(seeds, tmp_path):
    for name in SEEDS:
        assert _settle(seeds, tmp_path, name, []) == "read", name


@settings(
    max_examples=260,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(name=st.sampled_from(SEEDS), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_files_are_read_or_refused_with_a_4xx(seeds, tmp_path, name, mutations):
    _settle(seeds, tmp_path, name, mutations)
