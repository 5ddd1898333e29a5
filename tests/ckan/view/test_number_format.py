"""The page's number formatters write exactly what babel writes, the amounts' fast path included."""
import random
from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_percent

from ckanext.budgetod.view import helpers


def amounts() -> list[str]:
    chosen = random.Random(20261203)
    values = ["0", "-0", "0.00", "-0.001", "0.005", "0.015", "0.025", "-0.005", "1", "-1", "999.995", "1000",
              "-1234567.89", "12345678901234.5", "1E+3", "1.5E-1", "123.456", "-98765.4321", "NaN", "Infinity",
              "-Infinity", "abc", ""]
    for _ in range(3000):
        digits = chosen.randint(1, 15)
        scale = chosen.randint(0, 4)
        text = str(chosen.randrange(10 ** digits))
        if scale:
            text = text.rjust(scale + 1, "0")
            text = f"{text[:-scale]}.{text[-scale:]}"
        values.append(("-" if chosen.random() < 0.3 else "") + text)
    return values


@pytest.mark.parametrize("locale", ["fr_FR", "en_GB"])
def test_amounts_as_babel_writes_them(locale):
    fast = helpers.amount_formatter(locale)
    for value in amounts():
        try:
            expected = format_currency(Decimal(value), "EUR", locale=locale)
        except ArithmeticError:
            expected = ""
        assert fast(value) == expected, value


@pytest.mark.parametrize("locale", ["fr_FR", "en_GB"])
def test_rates_as_babel_writes_them(locale):
    rate = helpers.rate_formatter(locale)
    for part, whole in [("1", "3"), ("-2.5", "7"), ("0", "5"), ("123456", "100"), ("0.0005", "1")]:
        expected = format_percent(Decimal(part) / Decimal(whole), format="#,##0.0 %", locale=locale)
        assert rate(part, whole) == expected
    assert rate("1", "0") == ""
    assert rate("x", "1") == ""
