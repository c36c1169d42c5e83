import datetime as dt
from decimal import Decimal, localcontext

import pytest

from registry import money
from registry.errors import ConversionError, MoneyError


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("99999999999999.99", "USD", 9999999999999999),  # the largest amount
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("-20.50", "GBP", -2050),
    ],
)
def test_amounts_round_trip_exactly_through_minor_units(text, currency, minor):
    amount = money.parse_amount(text, currency)
    assert money.to_minor(amount, currency) == minor
    assert money.from_minor(minor, currency) == Decimal(text)


@pytest.mark.parametrize(("text", "currency"), [("10.001", "USD"), ("10.5", "JPY"), ("1.2345", "KWD")])
def test_more_decimals_than_the_currency_allows_is_rejected_not_rounded(text, currency):
    with pytest.raises(MoneyError, match=f"more decimals than {currency} allows"):
        money.parse_amount(text, currency)


@pytest.mark.parametrize("text", ["100000000000000", "-12345678901234567.89", "1E+30"])
def test_amounts_of_a_hundred_trillion_or_more_are_refused(text):
    """Typing mistakes, and beyond what the minor-unit columns hold once converted."""
    with pytest.raises(MoneyError, match="too large"):
        money.parse_amount(text, "USD")


def test_a_decimal_beyond_the_28th_digit_still_counts():
    with pytest.raises(MoneyError, match="more decimals"):
        money.parse_amount("1000.5000000000000000000000000001", "EUR")
    assert money.parse_amount("0.000", "EUR") == 0 and money.parse_amount("1E+2", "JPY") == 100


def test_trailing_zeros_beyond_the_decimals_are_fine():
    assert money.parse_amount("10.500", "USD") == Decimal("10.5")


def test_floats_are_refused():
    with pytest.raises(MoneyError, match="decimal strings"):
        money.parse_amount(0.1, "USD")


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", ""])
def test_non_numbers_are_refused(bad):
    with pytest.raises(MoneyError):
        money.parse_amount(bad, "USD")


def test_unknown_currency_is_named_in_the_error():
    with pytest.raises(MoneyError, match="'XYZ'"):
        money.parse_amount("1", "XYZ")


def test_conversion_uses_the_ecb_rate_of_the_value_date():
    # ECB reference rate on 2020-01-02: 1 EUR = 1.1193 USD
    result = money.convert(Decimal("1000.00"), "EUR", "USD", dt.date(2020, 1, 2))
    assert result.rate == Decimal("1.1193")
    assert result.rate_date == dt.date(2020, 1, 2)
    assert result.amount == Decimal("1119.30")


def test_cross_rates_go_through_the_euro_exactly():
    # 2020-01-02: USD 1.1193, JPY 121.75 per EUR
    result = money.convert(Decimal("1000"), "JPY", "USD", dt.date(2020, 1, 2))
    with localcontext() as ctx:
        ctx.prec = money.RATE_PRECISION
        expected_rate = Decimal("1.1193") / Decimal("121.75")
    assert result.rate == expected_rate
    assert result.amount == Decimal("9.19")


def test_a_weekend_uses_the_latest_earlier_rate_and_says_which():
    saturday = dt.date(2020, 1, 4)
    result = money.convert(Decimal("100.00"), "EUR", "USD", saturday)
    assert result.rate_date == dt.date(2020, 1, 3)


def test_a_date_before_the_rates_is_an_error_naming_currency_and_date():
    with pytest.raises(ConversionError) as info:
        money.convert(Decimal("100"), "EUR", "USD", dt.date(1990, 5, 1))
    assert "1990-05-01" in info.value.message
    assert "EUR" in info.value.message or "USD" in info.value.message
    assert info.value.date == dt.date(1990, 5, 1)


def test_a_currency_no_source_has_is_an_error_not_one_to_one():
    # North Korea's won: neither the ECB nor the IMF publishes it.
    with pytest.raises(ConversionError, match="ECB does not publish KPW, and the IMF publishes no annual average"):
        money.convert(Decimal("100"), "KPW", "USD", dt.date(2020, 1, 2))


def test_a_gap_longer_than_the_allowed_age_falls_back_to_the_imf_annual_average():
    # The ECB stopped publishing the rouble on 2022-03-01; the IMF's 2022 average (68.48... RUB per USD).
    result = money.convert(Decimal("1000"), "RUB", "USD", dt.date(2022, 6, 1))
    assert result.source == "imf_annual" and result.rate_date == dt.date(2022, 12, 31)


def test_recent_dates_after_the_last_publication_use_the_last_rate():
    last = money.rate_table().bounds("USD")[1]
    result = money.convert(Decimal("1.00"), "EUR", "USD", last + dt.timedelta(days=30))
    assert result.rate_date == last


def test_same_currency_is_the_identity():
    result = money.convert(Decimal("12.34"), "USD", "USD", dt.date(1980, 1, 1))
    assert (result.amount, result.rate) == (Decimal("12.34"), Decimal(1))


def test_no_float_on_the_rate_path():
    table = money.rate_table()
    rate, _ = table.per_euro("GBP", dt.date(2015, 6, 1), 7)
    assert isinstance(rate, Decimal)


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("2,500,000", "2500000"), ("1,250.50", "1250.50"), ("2 500 000", "2500000"), ("-1,000,000.25", "-1000000.25")],
)
def test_amounts_typed_with_thousands_separators_are_read(typed, amount):
    assert money.parse_amount(typed, "USD") == Decimal(amount)


@pytest.mark.parametrize("typed", ["12,5", "1,250", "1,25,000"])
def test_an_ambiguous_comma_is_refused_with_a_hint(typed):
    with pytest.raises(MoneyError, match="use a dot for decimals"):
        money.parse_amount(typed, "USD")


def test_forms_and_the_finder_take_grouped_amounts(client):
    response = client.get("/api/v1/funding-sources/match?country=NPL&priority_area=23b&amount=2,500,000&currency=USD")
    assert response.status_code == 200, response.get_json()
    response = client.get("/api/v1/funding-sources/match?country=NPL&priority_area=23b&amount=12,5&currency=USD")
    assert response.status_code == 422
    assert "use a dot for decimals" in str(response.get_json())


def test_integer_division_rounds_like_decimal_half_even():
    """Imports and reports convert in integers; they must round exactly as Decimal does."""
    import random
    from decimal import ROUND_HALF_EVEN
    from fractions import Fraction

    rng = random.Random(4)
    cases = [(5, 2), (-5, 2), (7, 2), (-7, 2), (1, 3), (-1, 3), (0, 7), (25, 10), (35, 10), (-25, 10)]
    cases += [(rng.randint(-(10**18), 10**18), rng.randint(1, 10**12)) for _ in range(2000)]
    for num, den in cases:
        with localcontext() as ctx:
            ctx.prec = 60  # exact for these sizes
            expected = (Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        assert money.divide_half_even(num, den) == int(expected) == round(Fraction(num, den)), (num, den)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("EUR", "USD"),
        ("JPY", "USD"),
        ("USD", "JPY"),
        ("ISK", "KRW"),
        ("GBP", "SEK"),
        # currencies fixed to the euro, both ways
        ("XOF", "USD"),
        ("USD", "XAF"),
        ("KMF", "EUR"),
        ("CVE", "JPY"),
        ("EUR", "BAM"),
    ],
)
def test_converting_minor_units_in_integers_equals_convert(source, target):
    import random

    rng = random.Random(23)
    for _ in range(500):
        day = dt.date(2019, 1, 2) + dt.timedelta(days=rng.randint(0, 2400))
        minor = rng.randint(-(10**15), 10**15)
        amount = money.from_minor(minor, source)
        expected = money.convert(amount, source, target, day)
        rate, _day = money.exchange_rate(source, target, day)
        converted = money.convert_minor(minor, money.minor_ratio(rate, source, target))
        assert converted == money.to_minor(expected.amount, target), (amount, source, target, day)


# --------------------------------------------------------------------------- currencies fixed to the euro


@pytest.mark.parametrize(
    ("code", "per_euro", "decimals"),
    [
        ("XOF", "655.957", 0),
        ("XAF", "655.957", 0),
        ("KMF", "491.96775", 0),
        ("CVE", "110.265", 2),
        ("BAM", "1.95583", 2),
        ("STN", "24.5", 2),
    ],
)
def test_currencies_fixed_to_the_euro_convert_at_their_legal_parity(code, per_euro, decimals):
    day = dt.date(2023, 5, 14)  # a Sunday: the ECB publishes nothing, the parity holds all the same
    from_euro = money.convert(Decimal("1000.00"), "EUR", code, day)
    assert from_euro.rate == Decimal(per_euro)
    assert from_euro.amount == money.quantize(Decimal("1000") * Decimal(per_euro), code)
    assert from_euro.rate_date == day
    assert money.minor_units(code) == decimals
    to_euro = money.convert(Decimal(per_euro) * 1000, code, "EUR", day)
    assert to_euro.amount == Decimal("1000.00")


def test_a_cfa_franc_amount_reaches_the_dollar_through_the_ecb_euro_rate_of_its_day():
    # 2024-06-28: 1 EUR = 1.0705 USD (ECB); 1 EUR = 655.957 XOF (fixed)
    result = money.convert(Decimal("65595700"), "XOF", "USD", dt.date(2024, 6, 30))  # a Sunday
    with localcontext() as ctx:
        ctx.prec = money.RATE_PRECISION
        expected_rate = Decimal("1.0705") / Decimal("655.957")
    assert result.rate == expected_rate
    assert result.rate_date == dt.date(2024, 6, 28)  # the ECB day whose dollar rate was used
    assert result.amount == Decimal("107050.00")
    back = money.convert(Decimal("107050.00"), "USD", "XOF", dt.date(2024, 6, 28))
    assert back.amount == Decimal("65595700")


def test_the_two_cfa_francs_are_at_par():
    result = money.convert(Decimal("1250000"), "XOF", "XAF", dt.date(2010, 3, 3))
    assert (result.amount, result.rate) == (Decimal("1250000"), Decimal(1))


def test_a_parity_does_not_reach_back_before_1999():
    # Before the euro, XOF converts at the IMF's annual average, and the euro had none.
    with pytest.raises(ConversionError, match="EUR on 1998-12-31") as info:
        money.convert(Decimal("1000"), "XOF", "EUR", dt.date(1998, 12, 31))
    assert "the IMF annual averages of EUR start in 1999" in info.value.message
    assert money.convert(Decimal("1000"), "XOF", "EUR", dt.date(1999, 1, 1)).amount == Decimal("1.52")
    assert money.convert(Decimal("1000"), "XOF", "USD", dt.date(1998, 12, 31)).source == "imf_annual"


def test_forms_offer_the_currencies_fixed_to_the_euro():
    assert {"XOF", "XAF", "KMF", "CVE", "BAM"} <= set(money.convertible_currencies())
    assert money.is_convertible("XOF")
    assert money.is_convertible("KES")  # IMF annual averages
    assert not money.is_convertible("KPW")
