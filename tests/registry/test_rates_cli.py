"""`flask reference rates load FILE`: check, diff, audit, install, re-convert on demand."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from sqlalchemy import select

from registry import money
from registry.extensions import db
from registry.models import AuditEvent

IMF_HEADER = "Date,Rate,Currency,Frequency,Source,Country code,Country\n"


def per(text: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 12
        return Decimal(1) / Decimal(text)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.fixture
def rates_dir(app, tmp_path, monkeypatch):
    """A folder of loaded rate files of this test's own."""
    folder = tmp_path / "rates"
    monkeypatch.setitem(app.config, "RATES_DIR", str(folder))
    return folder


@pytest.fixture
def npr_flow(make_project, make_transaction):
    # Converted with the shipped IMF file: 1,000,000 NPR in 2020 at 118.3451872759857 NPR per USD.
    return make_transaction(
        make_project(), amount=Decimal("1000000.00"), currency="NPR", value_date=dt.date(2020, 6, 15)
    )


def _audit_events() -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "exchange_rates")).all()


def test_the_stored_flow_was_converted_at_the_shipped_imf_rate(npr_flow):
    assert npr_flow.usd_amount == cents(Decimal("1000000.00") * per("118.3451872759857"))
    assert (npr_flow.usd_rate_source, npr_flow.usd_rate_date) == ("imf_annual", dt.date(2020, 12, 31))


def test_a_dry_run_shows_the_diff_and_changes_nothing(runner, rates_dir, npr_flow, tmp_path):
    path = tmp_path / "imf.csv"
    path.write_text(IMF_HEADER + "2020-12-31,100,NPR,A,IMF,NP,Nepal\n")
    before = npr_flow.usd_minor
    result = runner.invoke(args=["reference", "rates", "load", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    # 1,000,000 NPR / 100 = 10,000.00 USD instead of the stored value
    old = cents(Decimal("1000000.00") * per("118.3451872759857"))
    assert "1 stored flows get a different USD value" in result.output
    assert f"NPR: 1 flows, USD {old:,} -> 10,000.00 (+{Decimal('10000.00') - old:,})" in result.output
    assert "Dry run: nothing was changed." in result.output
    assert not rates_dir.exists() and _audit_events() == []
    db.session.refresh(npr_flow)
    assert npr_flow.usd_minor == before


def test_loading_puts_the_file_in_force_with_an_audit_entry_and_keeps_stored_flows(
    runner, rates_dir, npr_flow, tmp_path
):
    path = tmp_path / "imf.csv"
    path.write_text(IMF_HEADER + "2020-12-31,100,NPR,A,IMF,NP,Nepal\n")
    before = npr_flow.usd_minor
    result = runner.invoke(args=["reference", "rates", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert (rates_dir / "imf_rates.csv").read_text() == path.read_text()
    assert "run again with --apply" in result.output
    (event,) = _audit_events()
    assert event.after["kind"] == "imf" and event.after["reconverted_flows"] == 0
    assert event.before["file"] == "imf_rates.csv" and event.before["loaded"] is False
    db.session.refresh(npr_flow)
    assert npr_flow.usd_minor == before
    # new conversions use the loaded file
    assert money.convert(Decimal("500.00"), "NPR", "USD", dt.date(2020, 1, 1)).amount == Decimal("5.00")


def test_apply_reconverts_the_stored_flows(runner, rates_dir, npr_flow, tmp_path):
    path = tmp_path / "imf.csv"
    path.write_text(IMF_HEADER + "2020-12-31,100,NPR,A,IMF,NP,Nepal\n")
    result = runner.invoke(args=["reference", "rates", "load", str(path), "--apply"])
    assert result.exit_code == 0, result.output
    assert "1 stored flows re-converted" in result.output
    db.session.refresh(npr_flow)
    assert (npr_flow.usd_amount, npr_flow.usd_rate, npr_flow.usd_rate_source) == (
        Decimal("10000.00"),
        "0.01",
        "imf_annual",
    )
    (event,) = _audit_events()
    assert event.after["reconverted_flows"] == 1


def test_a_file_without_a_currency_leaves_its_flows_unconverted_and_says_so(runner, rates_dir, npr_flow, tmp_path):
    path = tmp_path / "imf.csv"
    path.write_text(IMF_HEADER + "2020-12-31,21.5,ETB,A,IMF,ET,Ethiopia\n")
    result = runner.invoke(args=["reference", "rates", "load", str(path), "--apply"])
    assert result.exit_code == 0, result.output
    assert "NPR: 1 flows, 1 no longer convertible" in result.output
    db.session.refresh(npr_flow)
    assert (npr_flow.usd_minor, npr_flow.usd_rate, npr_flow.usd_rate_source) == (None, None, None)


def test_an_ecb_zip_as_the_ecb_publishes_it(runner, rates_dir, make_project, make_transaction, tmp_path):
    eur = make_transaction(make_project(), amount=Decimal("1000.00"), currency="EUR", value_date=dt.date(2021, 1, 4))
    csv_text = "Date,USD,GBP,\n2021-01-05,1.2000,0.9000,\n2021-01-04,1.2500,0.9100,\n"
    path = tmp_path / "eurofxref-hist.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", csv_text)
    path.write_bytes(buffer.getvalue())
    result = runner.invoke(args=["reference", "rates", "load", str(path), "--apply"])
    assert result.exit_code == 0, result.output
    assert "ECB daily reference rates" in result.output and "2021-01-04 to 2021-01-05" in result.output
    assert (rates_dir / "ecb_rates.csv").read_text() == csv_text
    db.session.refresh(eur)
    assert (eur.usd_amount, eur.usd_rate, eur.usd_rate_date) == (Decimal("1250.00"), "1.2500", dt.date(2021, 1, 4))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            IMF_HEADER + "2020-12-31,118.3,NPR,A,IMF,NP,Nepal\n2021-12-31,1l8.3,NPR,A,IMF,NP,Nepal\n",
            "line 3, column Rate: '1l8.3'",
        ),
        ("Date,USD,\n2021-01-04,N/A,\n2021-01-01,-1.2,\n", "line 3, column USD: '-1.2'"),
    ],
)
def test_a_bad_file_is_refused_with_line_and_value_and_changes_nothing(runner, rates_dir, tmp_path, text, message):
    path = tmp_path / "rates.csv"
    path.write_text(text)
    result = runner.invoke(args=["reference", "rates", "load", str(path)])
    assert result.exit_code != 0
    assert f"rates.csv, {message}" in result.output
    assert not rates_dir.exists() and _audit_events() == []
