"""The conversion rule of registry.money on small rate files built here.

Each expected figure is worked out by hand from the rates written below (the text an ECB or
IMF file would publish), with Decimal: never by asking registry.money.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from registry import money
from registry.errors import ConversionError

# Units per 1 EUR, newest day first and a trailing comma, as the ECB writes them.
ECB = """Date,USD,GBP,JPY,
2021-01-05,1.2000,0.9000,124.00,
2021-01-04,1.2500,0.9100,126.00,
2020-12-31,1.2271,0.89903,126.49,
2020-06-02,1.1174,0.89033,121.24,
"""
# Units per 1 USD, annual averages, as the IMF series ENDA (codeforIATI's columns).
IMF = """Date,Rate,Currency,Frequency,Source,Country code,Country
2019-12-31,112.6,NPR,A,IMF,NP,Nepal
2020-12-31,118.3,NPR,A,IMF,NP,Nepal
2018-12-31,27.4,ETB,A,IMF,ET,Ethiopia
2020-12-31,21.5,ETB,A,IMF,ET,Ethiopia
2020-12-31,0.709,JOD,A,IMF,JO,Jordan
1995-12-31,0.63,GBP,A,IMF,GG,Guernsey
1995-12-31,0.6335,GBP,A,IMF,GB,United Kingdom
1998-12-31,589.95,XOF,A,IMF,BJ,Benin
1998-12-31,589.9,XOF,A,IMF,7A,West African Economic and Monetary Union (WAEMU)
2020-12-31,93.5,USD,A,IMF,HT,Haiti
2020-12-31,1,USD,A,IMF,US,United States
"""


@pytest.fixture
def rates():
    """The two files above in force instead of the shipped ones."""
    with money.rates_in_force(ecb=money.RateTable.from_ecb_text(ECB), imf=money.AnnualTable.from_text(IMF)):
        yield


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def per(text: str) -> Decimal:
    """1 / rate, to the 12 significant digits a quotient rate is recorded with."""
    with localcontext() as ctx:
        ctx.prec = 12
        return Decimal(1) / Decimal(text)


def test_an_ecb_currency_converts_at_the_daily_rate_of_its_value_date(rates):
    result = money.convert(Decimal("1000.00"), "EUR", "USD", dt.date(2021, 1, 4))
    assert (result.amount, result.rate, result.rate_date, result.source) == (
        Decimal("1250.00"),
        Decimal("1.2500"),
        dt.date(2021, 1, 4),
        "ecb",
    )


def test_a_weekend_looks_back_to_the_last_published_day(rates):
    # Sunday 2021-01-03: the rate of Thursday 2020-12-31 (1.2271 USD per EUR)
    result = money.convert(Decimal("1000.00"), "EUR", "USD", dt.date(2021, 1, 3))
    assert (result.amount, result.rate_date, result.source) == (Decimal("1227.10"), dt.date(2020, 12, 31), "ecb")


@pytest.mark.parametrize(
    ("amount", "currency", "rate_text"),
    [("1000000.00", "NPR", "118.3"), ("2500000.00", "ETB", "21.5"), ("1000.500", "JOD", "0.709")],
)
def test_a_currency_the_ecb_lacks_converts_at_the_imf_annual_average_of_its_year(rates, amount, currency, rate_text):
    result = money.convert(Decimal(amount), currency, "USD", dt.date(2020, 6, 15))
    assert result.rate == per(rate_text)
    assert result.amount == cents(Decimal(amount) * per(rate_text))
    # the year of the rate, recorded as its 31 December, and the source says annual
    assert (result.rate_date, result.source) == (dt.date(2020, 12, 31), "imf_annual")


def test_nepal_rupees_by_hand():
    """1,000,000 NPR at 118.3 NPR per USD: 1 / 118.3 = 0.00845308537616 (12 digits) -> 8,453.09 USD."""
    with money.rates_in_force(ecb=money.RateTable.from_ecb_text(ECB), imf=money.AnnualTable.from_text(IMF)):
        result = money.convert(Decimal("1000000.00"), "NPR", "USD", dt.date(2020, 3, 1))
    assert (result.rate, result.amount) == (Decimal("0.00845308537616"), Decimal("8453.09"))


def test_a_date_before_the_ecb_series_takes_the_imf_year_of_the_issuer(rates):
    # GBP in 1995: no ECB rate yet; the United Kingdom's row (0.6335), not Guernsey's (0.63)
    result = money.convert(Decimal("633.50"), "GBP", "USD", dt.date(1995, 6, 1))
    assert (result.rate, result.rate_date, result.source) == (per("0.6335"), dt.date(1995, 12, 31), "imf_annual")
    assert result.amount == cents(Decimal("633.50") * per("0.6335")) == Decimal("1000.00")


def test_a_pegged_currency_before_1999_takes_the_currency_unions_own_row(rates):
    # XOF in 1998: no euro parity yet; the WAEMU's row (589.9), not Benin's (589.95)
    result = money.convert(Decimal("589900"), "XOF", "USD", dt.date(1998, 7, 1))
    assert (result.amount, result.source) == (cents(Decimal("589900") * per("589.9")), "imf_annual")


def test_the_dollar_is_the_united_states_row_not_another_countrys(rates):
    # Haiti's row under USD carries gourdes per dollar: NPR -> USD must not use it
    assert money.quote("USD", "NPR", dt.date(2020, 5, 5)).rate == Decimal("118.3")


def test_the_latest_imf_year_serves_the_next_year_and_no_later(rates):
    result = money.convert(Decimal("1183.00"), "NPR", "USD", dt.date(2021, 12, 31))
    assert (result.rate_date, result.amount) == (dt.date(2020, 12, 31), cents(Decimal("1183.00") * per("118.3")))
    with pytest.raises(ConversionError) as info:
        money.convert(Decimal("1183.00"), "NPR", "USD", dt.date(2022, 1, 1))
    message = info.value.message
    assert "NPR on 2022-01-01" in message and "end in 2020 (they serve dates up to 2021-12-31)" in message


def test_a_currency_fixed_to_the_euro_goes_through_its_parity(rates):
    # 655.957 XOF per EUR (legal), 1.2500 USD per EUR (ECB, 2021-01-04)
    result = money.convert(Decimal("655957"), "XOF", "USD", dt.date(2021, 1, 4))
    with localcontext() as ctx:
        ctx.prec = 12
        rate = Decimal("1.2500") / Decimal("655.957")
    assert (result.rate, result.amount, result.source) == (rate, Decimal("1250.00"), "ecb+parity")
    assert money.quote("EUR", "XOF", dt.date(2021, 1, 4)).source == "parity"


def test_a_cross_rate_between_the_euro_and_the_nepal_rupee_mixes_ecb_and_imf(rates):
    # NPR per EUR = 118.3 NPR per USD x 1.2271 USD per EUR (ECB, 2020-12-31) = 145.16593
    result = money.convert(Decimal("1000.00"), "EUR", "NPR", dt.date(2020, 12, 31))
    assert result.rate == Decimal("118.3") * Decimal("1.2271") == Decimal("145.16593")
    assert (result.amount, result.source, result.rate_date) == (
        Decimal("145165.93"),
        "ecb+imf_annual",
        dt.date(2020, 12, 31),
    )
    back = money.convert(Decimal("145165.93"), "NPR", "EUR", dt.date(2020, 12, 31))
    with localcontext() as ctx:
        ctx.prec = 12
        rate = Decimal(1) / Decimal("145.16593")
    assert back.rate == rate and back.source == "ecb+imf_annual"


def test_two_imf_currencies_convert_through_the_dollar(rates):
    # ETB -> NPR: 118.3 / 21.5 NPR per ETB
    with localcontext() as ctx:
        ctx.prec = 12
        rate = Decimal("118.3") / Decimal("21.5")
    found = money.quote("ETB", "NPR", dt.date(2020, 2, 2))
    assert (found.rate, found.source) == (rate, "imf_annual")


@pytest.mark.parametrize(
    ("currency", "day", "why"),
    [
        ("NPR", dt.date(1010, 12, 9), "the IMF annual averages of NPR start in 2019"),
        ("EUR", dt.date(1010, 12, 9), "no ECB rate for USD on 1010-12-09"),
        ("KPW", dt.date(2020, 6, 1), "the ECB does not publish KPW, and the IMF publishes no annual average of KPW"),
        ("ETB", dt.date(2019, 6, 1), "the IMF publishes no annual average of ETB for 2019"),
    ],
)
def test_what_no_source_converts_is_an_error_that_says_why(rates, currency, day, why):
    with pytest.raises(ConversionError) as info:
        money.convert(Decimal("10"), currency, "USD", day)
    assert why in info.value.message and day.isoformat() in info.value.message
    assert money.to_usd_or_none(Decimal("10"), currency, day) is None


def test_the_shipped_files_are_read_from_the_registrys_data_not_a_package():
    assert money.rate_file("ecb").parent.name == "data" and money.rate_file("ecb").name == "ecb_rates.zip"
    assert money.rate_file("imf").name == "imf_rates.csv"
    # the published values of the shipped files (ECB 2020-01-02 USD 1.1193; IMF NPR 2020 for Nepal)
    assert money.rate_table().per_euro("USD", dt.date(2020, 1, 2), 7) == (Decimal("1.1193"), dt.date(2020, 1, 2))
    assert money.annual_table().per_usd("NPR", dt.date(2020, 5, 1)) == (Decimal("118.3451872759857"), 2020)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Date,Rate,Currency\n2020-12-31,118.3,NPR\n2021-12-31,abc,NPR\n", "line 3, column Rate: 'abc'"),
        ("Date,Rate,Currency\n2020-13-31,118.3,NPR\n", "line 2, column Date: '2020-13-31'"),
        ("Date,Rate,Currency\n2020-12-31,0,NPR\n", "line 2, column Rate: '0'"),
        ("Date,Rate,Currency\n2020-12-31,1.5,Nepal\n", "line 2, column Currency: 'Nepal'"),
        ("Date,Value,Currency\n2020-12-31,1.5,NPR\n", "line 1: missing column(s) Rate"),
    ],
)
def test_a_bad_imf_file_says_where_and_what(text, where):
    with pytest.raises(money.RatesFileError, match="imf.csv") as info:
        money.AnnualTable.from_text(text, "imf.csv")
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("Date,USD,\n2021-01-04,1.25,\n2021-01-01,1,2,\n", "line 3: more values than currencies"),
        ("Date,USD,\n2021-01-04,1.2.5,\n", "line 2, column USD: '1.2.5'"),
        ("Date,USD,\n04/01/2021,1.25,\n", "line 2, column Date: '04/01/2021'"),
        ("Day,USD,\n2021-01-04,1.25,\n", "line 1: the first column should be 'Date'"),
    ],
)
def test_a_bad_ecb_file_says_where_and_what(text, where):
    with pytest.raises(money.RatesFileError) as info:
        money.check_ecb_text(text, "ecb.csv")
    assert where in str(info.value)
