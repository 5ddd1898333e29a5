"""Plans de comptes (nomenclatures): finding them, reading them once, looking codes up.

A plan is published per year, norme and déclinaison, at
``{year}/{norme}/{declinaison}/planDeCompte.xml`` under a base that is either a
local mirror directory or a base URL (``Settings.plans_de_comptes``, downloaded once into a cache
by ``fetch.open_location``). When the document's year has no plan, the nearest
year's is used (the caller reports it); when none exists, conversion goes on
without labels. A code missing from that plan is looked for in the other years'
plans (``OtherYears``): codes come and go from one year to the next, and documents
often keep a code of the previous year's nomenclature.

Structure read (the rest is ignored)::

    Nomenclature
      Nature/Chapitres/Chapitre      Code Libelle Section(I|F) TypeChapitre
      Nature/Comptes/Compte...       nested; Code Libelle DR RR DOES ROES DOIS ROIS
      Fonction/Chapitres/Chapitre    same attributes as nature chapters
      Fonction/Comptes/Compte...     nested; the functional accounts: a function prefixed with
                                     the two digits of its functional chapter (93024: chapter
                                     930, function 024), or a non-ventilated chapter (922)
      Fonction/RefFonctionnelles/RefFonc...   nested; Code Libelle

The crosswalk between two plans (``comparable_chapters``) is kept simple: a chapter is comparable
across two plans (M14 then M57, say) when both have a chapter of that code in the same section,
and, when both plans give it accounts, its accounts are of the same sens (dépense: DR, DOES, DOIS;
recette: RR, ROES, ROIS) in both. 011, 012, 65, 66, 70 … keep their meaning from M14 to M57; the
M57 functional chapters (930, 900 …) or M14's 656 have no counterpart.
"""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from lxml import etree

from ckanext.budgetod.core.errors import DocumentError, NomenclatureError
from ckanext.budgetod.core.report import PlanPart
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem.reader import MAX_VALUE_LENGTH, PROLOG_LIMIT, check_prolog, shown

# How far from the document's year a plan may be taken.
MAX_YEAR_DISTANCE = 5
# A plan is a few hundred kilobytes; anything far larger is not a plan.
MAX_PLAN_BYTES = 16 * 2**20
PLAN_FILE = "planDeCompte.xml"

_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
                   "remove_blank_text": True, "remove_comments": True, "remove_pis": True}


@dataclass(frozen=True)
class Chapter:
    code: str
    label: str
    section: str  # "I" investissement, "F" fonctionnement, "" unknown
    kind: str  # TypeChapitre


@dataclass(frozen=True)
class Account:
    code: str
    label: str
    chapters: dict[str, str]  # column (DR, RR, DOES, ROES, DOIS, ROIS) -> chapter code


ACCOUNT_COLUMNS = ("DR", "RR", "DOES", "ROES", "DOIS", "ROIS")
# The functional chapter digits a prefixed Fonction starts with (93 of 93024).
FUNCTION_PREFIX_LENGTH = 2


class PlanDeComptes:
    """The lookups a conversion needs from one plan de comptes.

    Prefix lookups only try the code lengths the plan has (a handful): a document's code may be
    of any length, and trying each of its prefixes made a conversion quadratic in it (fuzzing: a
    Nature of a million digits took minutes). ``chapters``, ``accounts`` and ``functions`` are
    read-only once the plan is built.
    """

    def __init__(self, location: str, norme: str, declinaison: str, chapters: dict[str, Chapter],
                 accounts: dict[str, Account], functions: dict[str, str],
                 function_chapters: frozenset[str] = frozenset(),
                 functional_accounts: dict[str, Account] | None = None):
        self.location = location
        self.norme = norme
        self.declinaison = declinaison
        self.chapters = chapters
        self.accounts = accounts
        self.functions = functions
        self.function_chapters = function_chapters
        self.functional_accounts = functional_accounts or {}
        # The prefixes of ventilated functional chapters (M57: 90 investissement, 93 fonctionnement):
        # those of the functional accounts voted at a shorter chapter (93024 at 930).
        self.function_prefixes = frozenset(
            code[:FUNCTION_PREFIX_LENGTH] for code, account in self.functional_accounts.items()
            if any(len(chapter) < len(code) for chapter in account.chapters.values()))
        self._chapter_lengths = _lengths_longest_first(chapters)
        self._account_lengths = _lengths_longest_first(accounts)
        self._function_lengths = _lengths_longest_first(functions)

    def chapter(self, code: str) -> Chapter | None:
        return self.chapters.get(code)

    @functools.cached_property
    def chapter_sens(self) -> dict[str, frozenset[str]]:
        """Chapter code → the sens ("D", "R") of the accounts, by nature or function, voted at it."""
        sens: dict[str, set[str]] = {}
        for account in (*self.accounts.values(), *self.functional_accounts.values()):
            for column, chapter in account.chapters.items():
                sens.setdefault(chapter, set()).add(column[0])
        return {chapter: frozenset(values) for chapter, values in sens.items()}

    def chapter_by_prefix(self, code: str) -> Chapter | None:
        """The chapter whose code is the longest proper prefix of ``code`` (2313 → 23)."""
        for length in self._chapter_lengths:
            if length < len(code):
                chapter = self.chapters.get(code[:length])
                if chapter is not None:
                    return chapter
        return None

    def accounts_by_prefix(self, code: str) -> Iterator[Account]:
        """The accounts whose code is ``code`` or a prefix of it, longest first (6518, 651, 65)."""
        for length in self._account_lengths:
            if length <= len(code):
                account = self.accounts.get(code[:length])
                if account is not None:
                    yield account

    def parent_account(self, code: str) -> Account | None:
        """The account whose code is the longest proper prefix of ``code`` (6518 → 651)."""
        for account in self.accounts_by_prefix(code):
            if len(account.code) < len(code):
                return account
        return None

    def function_chapter(self, fonction: str) -> Chapter | None:
        """The non-ventilated functional chapter (922, 940) a line's Fonction is, or None."""
        if fonction in self.function_chapters and fonction[:FUNCTION_PREFIX_LENGTH] not in self.function_prefixes:
            return self.chapters.get(fonction)
        return None

    def function_code(self, fonction: str) -> str:
        """The plan's function code a line's Fonction stands for.

        Large M57 communes vote by nature with a functional presentation: their Fonction is the
        function prefixed with the digits of its functional chapter (93024 → 024, 904221 → 4221).
        A Fonction that is a function of the plan (024, and any other nomenclature's) is kept.
        """
        if (fonction not in self.functions and len(fonction) > FUNCTION_PREFIX_LENGTH
                and fonction[:FUNCTION_PREFIX_LENGTH] in self.function_prefixes):
            return fonction[FUNCTION_PREFIX_LENGTH:]
        return fonction

    def parent_function(self, code: str) -> tuple[str, str] | None:
        for length in self._function_lengths:
            if length < len(code):
                label = self.functions.get(code[:length])
                if label is not None:
                    return code[:length], label
        return None


def _lengths_longest_first(codes: Iterable[str]) -> tuple[int, ...]:
    return tuple(sorted({len(code) for code in codes}, reverse=True))


@dataclass(frozen=True)
class PlanLookup:
    """Which plan serves a document: ``plan`` is None when none was found."""

    nomenclature: str
    requested_year: int
    used_year: int | None
    plan: PlanDeComptes | None

    @property
    def year_fallback(self) -> bool:
        return self.used_year is not None and self.used_year != self.requested_year

    def to_dict(self) -> PlanPart:
        return {
            "nomenclature": self.nomenclature,
            "requested_year": self.requested_year,
            "used_year": self.used_year,
            "location": self.plan.location if self.plan else None,
        }


def candidate_years(year: int) -> list[int]:
    """The exact year, then nearer years first, the earlier one first at equal distance."""
    years = [year]
    for distance in range(1, MAX_YEAR_DISTANCE + 1):
        years += [year - distance, year + distance]
    return years


# (base, norme, declinaison, year, cache_dir, allow_private) -> the plan's local path, None when not published.
_locations: dict[tuple[str, str, str, int, str | None, bool], str | None] = {}
_locations_lock = threading.Lock()


def find_plan(norme: str, declinaison: str, year: int, settings: Settings) -> PlanLookup:
    """Locate and read the plan for a document under ``settings.plans_de_comptes``; NotFound
    everywhere gives ``plan=None``.

    Any other fetch failure (unreachable server, refused address, missing mirror
    directory) raises: the plan may exist, and converting without it would
    silently degrade the output.
    """
    for candidate in candidate_years(year):
        plan = plan_of_year(norme, declinaison, candidate, settings)
        if plan is not None:
            return PlanLookup(f"{norme}-{declinaison}", year, candidate, plan)
    return PlanLookup(f"{norme}-{declinaison}", year, None, None)


def plan_of_year(norme: str, declinaison: str, year: int, settings: Settings) -> PlanDeComptes | None:
    """The plan of exactly ``year``, None when it is not published; other fetch failures raise."""
    key = (settings.plans_de_comptes, norme, declinaison, year, settings.cache_dir, settings.network.allow_private)
    with _locations_lock:
        located, known = key in _locations, _locations.get(key)
    # Located before but gone since (a cache emptied under a long-running process): look again.
    if not located or (known is not None and not os.path.isfile(known)):
        known = _locate(f"{year}/{norme}/{declinaison}/{PLAN_FILE}", settings)
        with _locations_lock:
            _locations[key] = known
    return None if known is None else load_plan(known)


def _locate(relative: str, settings: Settings) -> str | None:
    from ckanext.budgetod.core.net.fetch import NotFound, open_location  # network machinery only when a plan is needed

    try:
        return open_location(settings.plans_de_comptes, relative, settings, max_bytes=MAX_PLAN_BYTES)
    except NotFound:
        return None


def comparable_chapters(before: PlanDeComptes, after: PlanDeComptes) -> frozenset[str]:
    """The chapter codes whose figures compare from a year under ``before`` to one under ``after``
    (the crosswalk of the module docstring)."""
    comparable = set()
    for code, chapter in after.chapters.items():
        previous = before.chapters.get(code)
        if previous is None or previous.section != chapter.section:
            continue
        sens_before, sens_after = before.chapter_sens.get(code), after.chapter_sens.get(code)
        if sens_before and sens_after and sens_before != sens_after:
            continue
        comparable.add(code)
    return frozenset(comparable)


Found = TypeVar("Found")


class OtherYears:
    """The plans of a nomenclature for the years around the document's but the one used, nearest
    first, each read only when a code is missing from every nearer plan."""

    def __init__(self, plan_of: Callable[[int], PlanDeComptes | None], lookup: PlanLookup):
        self._plan_of = plan_of
        self._years = ([year for year in candidate_years(lookup.requested_year) if year != lookup.used_year]
                       if lookup.plan is not None else [])
        self._read: list[tuple[int, PlanDeComptes]] = []

    def first(self, find: Callable[[PlanDeComptes], Found | None]) -> tuple[int, Found] | None:
        """(year, value) of the nearest plan where ``find`` gives a value, or None."""
        for year, plan in self._plans():
            value = find(plan)
            if value is not None:
                return year, value
        return None

    def _plans(self) -> Iterator[tuple[int, PlanDeComptes]]:
        yield from self._read
        while self._years:
            year = self._years.pop(0)
            plan = self._plan_of(year)
            if plan is not None:
                self._read.append((year, plan))
                yield year, plan


def load_plan(path: str) -> PlanDeComptes:
    """Read a plan file, once per process for a given file content."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise NomenclatureError.from_message(path, "plan_unreadable",
                                             detail=error.strerror or str(error)) from None
    return _load_plan(path, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=64)
def _load_plan(path: str, _mtime_ns: int, size: int) -> PlanDeComptes:
    if size > MAX_PLAN_BYTES:
        raise NomenclatureError.from_message(path, "plan_too_large", size=size)
    try:
        with open(path, "rb") as stream:
            content = stream.read()
    except OSError as error:
        raise NomenclatureError.from_message(path, "plan_unreadable",
                                             detail=error.strerror or str(error)) from None
    # Plans may come from a remote mirror: same DOCTYPE refusal as documents.
    try:
        encoding = check_prolog(path, content[:PROLOG_LIMIT], complete=len(content) <= PROLOG_LIMIT)
    except DocumentError as error:
        # The reader's cause is a message: rendered in the language the plan's error is shown in.
        raise NomenclatureError.from_message(path, "plan_unreadable", detail=error.cause) from None
    try:
        # The encoding by its canonical name, as for documents: libxml2 does not know every alias.
        root = etree.fromstring(content, etree.XMLParser(encoding=encoding, **_PARSER_OPTIONS))
    except etree.XMLSyntaxError as error:
        # libxml2 messages may quote the file over several lines: one line, cut.
        raise NomenclatureError.from_message(path, "plan_unreadable",
                                             detail=shown(" ".join(str(error.msg).split()), 200)) from None
    if root.tag != "Nomenclature":
        raise NomenclatureError.from_message(path, "plan_not_a_plan", root=shown(root.tag, 60))
    return _plan_from_tree(path, root)


def _plan_from_tree(path: str, root: etree._Element) -> PlanDeComptes:
    chapters: dict[str, Chapter] = {}
    # Nature chapters first: they win over a function chapter with the same code.
    for chapter in root.iterfind("Nature/Chapitres/Chapitre"):
        _add_chapter(path, chapters, chapter)
    for chapter in root.iterfind("Fonction/Chapitres/Chapitre"):
        _add_chapter(path, chapters, chapter)
    accounts: dict[str, Account] = {}
    for account in root.iterfind("Nature/Comptes//Compte"):
        _add_account(path, accounts, account)
    functional_accounts: dict[str, Account] = {}
    for account in root.iterfind("Fonction/Comptes//Compte"):
        _add_account(path, functional_accounts, account)
    functions: dict[str, str] = {}
    for function in root.iterfind("Fonction/RefFonctionnelles//RefFonc"):
        code = _value(path, function, "Code")
        if code:
            functions.setdefault(code, _value(path, function, "Libelle"))
    function_chapters = frozenset(code for code in (_value(path, chapter, "Code")
                                                    for chapter in root.iterfind("Fonction/Chapitres/Chapitre"))
                                  if code)
    return PlanDeComptes(path, root.get("Norme", ""), root.get("Declinaison", ""),
                         chapters, accounts, functions, function_chapters, functional_accounts)


def _add_account(path: str, accounts: dict[str, Account], element: etree._Element) -> None:
    code = _value(path, element, "Code")
    if code and code not in accounts:
        columns = {column: _value(path, element, column) for column in ACCOUNT_COLUMNS}
        accounts[code] = Account(code, _value(path, element, "Libelle"),
                                 {column: value for column, value in columns.items() if value})


def _add_chapter(path: str, chapters: dict[str, Chapter], element: etree._Element) -> None:
    code = _value(path, element, "Code")
    if code and code not in chapters:
        chapters[code] = Chapter(code, _value(path, element, "Libelle"), _value(path, element, "Section"),
                                 _value(path, element, "TypeChapitre"))


def _value(path: str, element: etree._Element, attribute: str) -> str:
    """An attribute of the plan, stripped; refused beyond the reader's bound on document values.

    Real labels have 200 characters at most; a label of megabytes (a broken or hostile mirror)
    went into the CSV, which could then not even be read back for validation (fuzzing).
    """
    value: str = (element.get(attribute) or "").strip()
    if len(value) > MAX_VALUE_LENGTH:
        raise NomenclatureError.from_message(path, "plan_value_too_long", attribute=attribute,
                                             element=shown(element.tag, 60), length=len(value),
                                             limit=MAX_VALUE_LENGTH)
    return value


def clear_caches() -> None:
    """Forget located and parsed plans (tests; a long-running process after a mirror update)."""
    with _locations_lock:
        _locations.clear()
    _load_plan.cache_clear()
