"""The rate files in force: the shipped ones in ``registry/data/``, or a file loaded with
``flask reference rates load`` into the instance folder (``RATES_DIR``), which overrides the
shipped one so that an upgrade never changes a figure by itself; and the legal euro
parities. A table is read once per file version."""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from flask import current_app, has_app_context

from registry.money.amounts import currencies
from registry.money.rate_tables import AnnualTable, RateTable

ECB_FILE = "ecb_rates.zip"  # shipped: the ECB's eurofxref-hist.zip
ECB_LOADED = "ecb_rates.csv"  # loaded into RATES_DIR: the CSV inside whatever was loaded
IMF_FILE = "imf_rates.csv"


def _rates_dir_text() -> str | None:
    if not has_app_context():
        return None
    return current_app.config.get("RATES_DIR") or None


def rates_dir() -> Path | None:
    """The folder of loaded rate files (the app's ``RATES_DIR``), when there is an app."""
    value = _rates_dir_text()
    return Path(value) if value else None


def shipped_file(name: str) -> Path:
    return Path(str(resources.files("registry").joinpath(f"data/{name}")))


def rate_file(kind: str) -> Path:
    """The file read for ``kind`` ("ecb" or "imf"): the loaded one if any, else the shipped one."""
    folder = rates_dir()
    loaded = ECB_LOADED if kind == "ecb" else IMF_FILE
    if folder is not None and (folder / loaded).is_file():
        return folder / loaded
    return shipped_file(ECB_FILE if kind == "ecb" else IMF_FILE)


_TABLES: dict[tuple[str, str, int], RateTable | AnnualTable] = {}
_TRIAL: dict[str, RateTable | AnnualTable] = {}  # tables put in force for a while (what a file would change)


@contextmanager
def rates_in_force(ecb: RateTable | None = None, imf: AnnualTable | None = None) -> Iterator[None]:
    """Convert with these tables instead of the files, inside the block (a file's trial run)."""
    before = dict(_TRIAL)
    if ecb is not None:
        _TRIAL["ecb"] = ecb
    if imf is not None:
        _TRIAL["imf"] = imf
    try:
        yield
    finally:
        _TRIAL.clear()
        _TRIAL.update(before)


# A process looks for a newly loaded file at most this often (a report converts thousands of
# (currency, day) groups: a file-system check for each would cost more than the conversions).
RECHECK_SECONDS = 5.0


class _Looked(NamedTuple):
    """When (``time.monotonic()``) a kind's file was last looked for, and the table found."""

    at: float
    table: RateTable | AnnualTable


_RECENT: dict[tuple[str, str | None], _Looked] = {}


def forget_tables() -> None:
    """Look for the rate files again at the next conversion (after a file is loaded)."""
    _RECENT.clear()


def _table(kind: str):
    """The table of a file, read once per file version (a newly loaded file is read again)."""
    if kind in _TRIAL:
        return _TRIAL[kind]
    memo_key = (kind, _rates_dir_text())
    recent = _RECENT.get(memo_key)
    now = time.monotonic()
    if recent is not None and now - recent.at < RECHECK_SECONDS:
        return recent.table
    found = _read_table(kind)
    _RECENT[memo_key] = _Looked(now, found)
    return found


def _read_table(kind: str):
    path = rate_file(kind)
    key = (kind, str(path), os.stat(path).st_mtime_ns)
    found = _TABLES.get(key)
    if found is None:
        if kind == "ecb":
            found = RateTable.from_ecb_file(path)
        else:
            found = AnnualTable.from_text(path.read_text("utf-8-sig"), path.name)
        for old in [k for k in _TABLES if k[0] == kind]:
            del _TABLES[old]
        _TABLES[key] = found
    return found


def rate_table() -> RateTable:
    """The ECB rate history in force (read once per file)."""
    return _table("ecb")


def annual_table() -> AnnualTable:
    """The IMF annual averages in force (read once per file)."""
    return _table("imf")


@dataclass(frozen=True)
class EuroPeg:
    """A currency fixed by law to the euro: ``per_euro`` units for 1 EUR from ``valid_from``."""

    currency: str
    per_euro: Decimal
    valid_from: dt.date
    source: str


@cache
def euro_pegs() -> dict[str, EuroPeg]:
    """ISO code -> its legal fixed parity to the euro, from the shipped ``euro_pegs.csv``."""
    text = resources.files("registry").joinpath("data/euro_pegs.csv").read_text("utf-8")
    pegs = {}
    for row in csv.DictReader(text.splitlines()):
        since = dt.date.fromisoformat(row["valid_from"])
        pegs[row["code"]] = EuroPeg(row["code"], Decimal(row["per_euro"]), since, row["source"])
    return pegs


def convertible_currencies() -> list[str]:
    """The ISO codes the registry can convert (ECB reference rates, currencies fixed to the
    euro, IMF annual averages, USD and EUR), sorted: what forms offer wherever an amount is
    converted to US dollars."""
    known = rate_table().currencies | euro_pegs().keys() | annual_table().currencies | {"USD", "EUR"}
    return sorted(code for code in currencies() if code in known)


def is_convertible(code: str) -> bool:
    """True when amounts in ``code`` can be converted to other currencies (on some dates)."""
    return code in convertible_currencies()
