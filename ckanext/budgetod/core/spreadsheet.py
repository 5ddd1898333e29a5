"""Text a spreadsheet could run as a formula ("CSV injection"), and how an export neutralises it (no CKAN here).

A spreadsheet runs a cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (or their full-width
forms, which some locales read alike), and some trim leading blanks and quotes before looking.
Which text makes a cell is not the writer's choice: French Excel opens a ``.csv`` with ``;`` as
separator, English Excel with ``,``, an import may split on tabs, and a line break inside a cell
may start a row; quotes protect only in the reader that agrees on the separator. So a text is
cut at every ``,`` ``;`` tab, CR and LF, and each piece that could be a cell in some reader is
checked: ``formula_risk`` says whether one piece starts like a formula, ``neutralised`` puts an
apostrophe before each such piece (spreadsheets show it as text). Text without such a piece is
unchanged, and empty text stays empty.
"""
from __future__ import annotations

import re

FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"
# A piece starts at the text's start or after a break (what a reader may take as the end of a
# cell); its first character is the first after the blanks and quotes a reader may skip.
_PIECE_STARTING_A_FORMULA = re.compile(f'(^|[,;\\t\\r\\n])(?=[ "\\u00a0]*[{re.escape(FORMULA_STARTS)}])')


def formula_risk(text: str) -> bool:
    """Whether some reader of a CSV holding ``text`` could see a cell starting like a formula."""
    return _PIECE_STARTING_A_FORMULA.search(text) is not None


def neutralised(text: str) -> str:
    """``text`` with an apostrophe before every piece (see the module docstring) that starts like a formula."""
    return _PIECE_STARTING_A_FORMULA.sub(r"\1'", text)
