"""Amounts of an SCDL budget CSV, read and computed within bounds (no CKAN here).

Anyone may publish a CSV, harvested or uploaded, and every budget page computes with other
budgets' amounts (its peers), so one reader decides what an amount is, for the summary of one
resource (``summary``) and of a budget across years (``collectivite``): a plain decimal number as
the Table Schema writes it, of at most ``MAX_AMOUNT_CHARS`` characters, below 10^16 in magnitude
(``MAX_AMOUNT_MAGNITUDE``), with at most ``MAX_FRACTION_DIGITS`` decimals. Anything else ("n/a",
"1E+999999", a 35-digit figure) is unreadable: the caller counts it (``unreadable_amounts``) and
leaves it out, it never raises. A real budget's amounts are below 10^12 with two decimals.

Those bounds make every later step safe. A sum of any number of rows a file can hold (fewer than
10^12) has at most 28 integer and 20 decimal digits: ``EXACT`` (80 digits) keeps it exact, and
would trap rather than round. A quotient (per inhabitant, an execution rate, a median) is at most
such a sum divided by 10^-20 (the smallest amount but zero), under 10^48: ``quotient`` rounds it to
its places within ``_ROUNDING``'s 100 digits, where quantize cannot fail.
"""
from __future__ import annotations

import decimal
import re
from decimal import ROUND_HALF_EVEN, Decimal

MAX_AMOUNT_CHARS = 40
MAX_AMOUNT_MAGNITUDE = 15  # the amount's adjusted exponent: below 10^16
MAX_FRACTION_DIGITS = 20
CENTS = Decimal("0.01")
RATE_PLACES = Decimal("0.0001")
# A number as the Table Schema writes it; the exponent's digits are bounded before Decimal sees it.
_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
# Sums of bounded amounts, exact: Inexact would say otherwise rather than round silently.
EXACT = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
_ROUNDING = decimal.Context(prec=100, rounding=ROUND_HALF_EVEN,
                            traps=[decimal.Overflow, decimal.InvalidOperation, decimal.DivisionByZero])


class UnreadableAmount(ValueError):
    """A cell that is not a plausible amount (see the module docstring)."""


def read_amount(cell: str) -> Decimal | None:
    """The cell's amount; None when it is empty. Raises UnreadableAmount when it is not a plausible amount."""
    cell = cell.strip()
    if not cell:
        return None
    if len(cell) > MAX_AMOUNT_CHARS or not _AMOUNT.fullmatch(cell):
        raise UnreadableAmount(cell[:MAX_AMOUNT_CHARS])
    value = Decimal(cell)
    exponent = value.as_tuple().exponent  # a letter for NaN and infinities, which _AMOUNT refuses already
    if value.adjusted() > MAX_AMOUNT_MAGNITUDE or not isinstance(exponent, int) or exponent < -MAX_FRACTION_DIGITS:
        raise UnreadableAmount(cell)
    return value


def quotient(numerator: Decimal | int, denominator: Decimal | int, places: Decimal) -> Decimal:
    """``numerator / denominator`` rounded half-even to ``places``; both within the module's bounds."""
    return _ROUNDING.divide(Decimal(numerator), Decimal(denominator)).quantize(places, context=_ROUNDING)


def text(value: Decimal) -> str:
    """An amount as the summaries write it: a plain decimal string, never an exponent."""
    return format(value, "f")
