"""Text a spreadsheet could run as a formula, whatever separator it splits a CSV line on."""
from __future__ import annotations

import pytest

from ckanext.budgetod.core.spreadsheet import FORMULA_STARTS, formula_risk, neutralised


def pieces_as_cells(text: str) -> list[str]:
    """What readers may take as cells: the text cut at each separator a spreadsheet may use."""
    cells = [text]
    for separator in (",", ";", "\t", "\r", "\n"):
        cells = [piece for cell in cells for piece in cell.split(separator)]
    return cells


def runs_as_formula(cell: str) -> bool:
    return cell.lstrip(' "\u00a0')[:1] in set(FORMULA_STARTS)


@pytest.mark.parametrize("text", [
    "=1+1", "+33 1 23", "-2+3", "@SUM(A1)", "x;=cmd|' /C calc'!A0", "Achats, =HYPERLINK(\"x\")",
    "a\t@b", "a\r\n=b", "a\n+b", ' "=1', "x;;=y", "\t=1", "\uff1d1", "x; \u00a0-1"])
def test_every_piece_starting_like_a_formula_gets_an_apostrophe(text):
    assert formula_risk(text)
    assert any(runs_as_formula(cell) for cell in pieces_as_cells(text))
    safe = neutralised(text)
    assert not any(runs_as_formula(cell) for cell in pieces_as_cells(safe))
    assert safe.replace("'", "") == text.replace("'", "")  # only apostrophes added


@pytest.mark.parametrize("text", ["", "Achats", "Charges de personnel", "a-b", "12.50", "x; y", "Dépenses – autres"])
def test_other_text_is_unchanged_and_empty_stays_empty(text):
    assert not formula_risk(text)
    assert neutralised(text) == text
