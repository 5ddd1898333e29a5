"""Streaming, hardened reader of TOTEM budget documents (``DocumentBudgetaire``).

Documents come from third parties, so the reader trusts nothing: the size is
checked before parsing, any DOCTYPE is refused before the XML parser sees it
(no DTD, no entity, hence no XXE nor entity expansion), the parser itself is
configured to never resolve entities nor touch the network, and ``iterparse``
only reports the elements the conversion reads: each is cleared, with what
precedes it, as soon as it is read. The elements never reported (annexes, unknown
elements, anything a document holds) are freed before each read of the file: below
every open element, the children already complete are deleted, except those of a line
or header block being read (at most ``MAX_CHILDREN``). Memory stays flat whatever the
size and the content, and the filtering of events stays in libxml2.

A ``CompteFinancierUnique`` (CFU) wraps a ``DocumentComptable`` (ignored) and
the ``DocumentBudgetaire`` that is read.
"""
from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from lxml import etree

from ckanext.budgetod.core import contract
from ckanext.budgetod.core.errors import DocumentError
from ckanext.budgetod.core.settings import DEFAULT_MAX_DOCUMENT_SIZE

TOTEM_NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
DEFAULT_MAX_BYTES = DEFAULT_MAX_DOCUMENT_SIZE

AMOUNT_ELEMENTS = ("MtReal", "MtBudgPrec", "MtRARPrec", "MtPropNouv", "MtPrev", "CredOuv", "MtRAR3112")
# The longest value the reader takes from a document, in characters: ten times the longest the
# XSD allows among them (100, LibelleColl), so that no genuine document meets it. Without it a code
# or amount could be megabytes long (libxml2 allows 10 MB attribute values), and the CSV it gives
# could not even be read back for validation (fuzzing: csv's 128 KiB field limit).
MAX_VALUE_LENGTH = 1000
MIN_YEAR = 2000
# Budgets are voted before their year starts; two years ahead is already generous.
MAX_YEARS_AHEAD = 2

PROLOG_LIMIT = 64 * 1024
_ACCEPTED_ENCODINGS = {
    "utf-8": "UTF-8", "utf8": "UTF-8",
    "iso-8859-1": "ISO-8859-1", "iso8859-1": "ISO-8859-1", "iso_8859-1": "ISO-8859-1",
    "latin1": "ISO-8859-1", "latin-1": "ISO-8859-1", "l1": "ISO-8859-1",
    "us-ascii": "US-ASCII", "ascii": "US-ASCII",
    # Supersets of ISO-8859-1 that producers sometimes declare.
    "iso-8859-15": "ISO-8859-15", "windows-1252": "WINDOWS-1252", "cp1252": "WINDOWS-1252",
}
_XML_DECLARATION = re.compile(
    rb"<\?xml\s+version\s*=\s*[\"'][^\"']*[\"']"
    rb"(?:\s+encoding\s*=\s*[\"']([^\"']*)[\"'])?"
    rb"(?:\s+standalone\s*=\s*[\"'][^\"']*[\"'])?\s*\?>"
)
# ASCII digits only: Python's \d also matches Arabic-Indic or full-width digits, which int() and
# Decimal() accept but no SCDL consumer does.
_YEAR = re.compile(r"[0-9]{4}")
# NORME-DECLINAISON, e.g. M14-M14_COM_500_3500, M4-M43_D, M57-M57_A: the déclinaison
# extends the norme's name, in capitals, digits and underscores.
_NOMENCLATURE = re.compile(r"(M[0-9]{1,3})-(M[0-9]{1,3}[A-Z0-9]*(?:_[A-Z0-9]+)*)")
# The longest published one has 20 characters (M14-M14_COM_500_3500). The déclinaison becomes a
# directory name in the plans de comptes mirror, and a name of 256 bytes or more made the lookup
# fail with an OSError (File name too long) instead of a clear error (fuzzing).
_NOMENCLATURE_MAX_LENGTH = 40
# xs:decimal, the type of every TOTEM amount.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Allowed line codes ("" when the element is absent and optional).
_CODRD_VALUES = ("D", "R")
_OPBUDG_VALUES = ("", "0", "1")
_TYPOPBUDG_VALUES = ("", "1", "2")
_ARTSPE_VALUES = ("", "true", "false", "1", "0")
_VALID_LINE_CODES = frozenset(
    (codrd, opbudg, typopbudg, artspe) for codrd in _CODRD_VALUES for opbudg in _OPBUDG_VALUES
    for typopbudg in _TYPOPBUDG_VALUES for artspe in _ARTSPE_VALUES)


# What a message must not show raw: control characters, line and paragraph separators.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shown(value: object, limit: int = 40) -> str:
    """A value read from a document (or a parser's message about it), as a message shows it.

    Errors are one line, ``error: <file>: <cause>``, and so are log lines: control characters
    and line separators are written as escapes (``\\n``, ``\\x85``), and what is longer than
    ``limit`` characters is cut, with "…". Fuzzing found a raw NEL (U+0085) in a code, and libxml2
    messages that quote the document over several lines.
    """
    text = str(value)
    cut = text[:limit]
    cut = _UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), cut)
    return cut + "…" if len(text) > limit else cut


_NAMESPACE_PREFIX = f"{{{TOTEM_NAMESPACE}}}"


def _tag(name: str) -> str:
    return _NAMESPACE_PREFIX + name


_LINE = _tag("LigneBudget")
_CARAC_SUP = _tag("CaracSup")
_NATURE, _CONTNAT, _FONCTION, _OPERATION, _CODRD, _OPBUDG, _TYPOPBUDG, _ARTSPE = (
    _tag(name) for name in ("Nature", "ContNat", "Fonction", "Operation", "CodRD", "OpBudg", "TypOpBudg", "ArtSpe"))
_AMOUNT_TAGS = tuple(_tag(name) for name in AMOUNT_ELEMENTS)
_HEADER_BLOCKS = frozenset(_tag(name) for name in ("EnTeteDocBudgetaire", "EnTeteBudget", "BlocBudget"))
_SCELLEMENT = _tag("Scellement")
_BUDGET = _tag("Budget")
_DOCUMENT_BUDGETAIRE = _tag("DocumentBudgetaire")
_REPORTED_TAGS = (_LINE, *_HEADER_BLOCKS, _SCELLEMENT, _BUDGET, _DOCUMENT_BUDGETAIRE)
# Elements read when they end, through their children: those children stay until then.
_READ_PARENTS = frozenset((_LINE, *_HEADER_BLOCKS))
# Children of one line or header block: the XSD allows a few dozen.
MAX_CHILDREN = 1000
SAFE_PARSER_OPTIONS = {
    "resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False,
    "dtd_validation": False, "attribute_defaults": False,
}


# The header elements the reader keeps (DocumentHeader).
_HEADER_ELEMENTS_READ = ("IdEtab", "LibelleEtab", "LibelleColl", "IdColl", "CodInseeColl", "Nomenclature", "NatDec",
                         "NumDec", "Exer", "DteDec", "CodBud", "CodTypBud", "IdEtabPal", "LibelleEtabPal")


@dataclass(frozen=True)
class Seal:
    """The ``Scellement`` of a document: checksums and date set by the producing software."""

    md5: str | None
    sha1: str | None
    date: str | None


@dataclass
class DocumentHeader:
    """What the document says about itself, validated."""

    root: str
    encoding: str
    siret: str
    etablissement: str
    collectivite: str
    collectivite_siret: str
    insee: str
    nomenclature: str
    norme: str
    declinaison: str
    exercice: int
    natdec: str
    decision_number: str
    decision_date: str
    budget_code: str
    budget_type: str
    main_siret: str
    main_name: str
    seal: Seal | None

    @property
    def natdec_label(self) -> str:
        return contract.NATDEC_SCDL_LABELS[self.natdec]

    @property
    def is_annex(self) -> bool:
        """An annex budget (CodTypBud A), or one attached to another établissement's budget."""
        if self.budget_type:
            return self.budget_type == "A"
        return bool(self.main_siret) and self.main_siret != self.siret

    @property
    def budget_name(self) -> str:
        """The name identifying the budget: the collectivité's, plus the annex's own name."""
        if self.is_annex and self.etablissement and self.etablissement != self.collectivite:
            return f"{self.collectivite} - {self.etablissement}" if self.collectivite else self.etablissement
        return self.collectivite or self.etablissement

    @property
    def annex_suffix(self) -> str:
        """``annexe-{budget code}`` for an annex budget, "" for a main one: an annex may carry its
        main budget's SIRET (crach-lotissement does), so the SIRET alone cannot tell them apart."""
        return contract.annex_suffix(self.budget_code) if self.is_annex else ""

    @property
    def document_key(self) -> str:
        """What a newer version of the same budget act replaces (``contract.document_key``): SIRET,
        year, stage; for the stages a year may hold several of (DM, BS) the decision number, else
        its date; the annex."""
        return contract.document_key(self.siret, self.exercice, self.natdec,
                                     self.decision_number or self.decision_date, self.annex_suffix)


@dataclass
class DocumentInfo:
    """A document's header and line counts, as ``budgetod inspect`` shows them."""

    source: str
    size: int
    header: DocumentHeader
    lines_total: int
    lines_calculated: int

    def to_dict(self) -> dict[str, Any]:
        header = self.header
        seal = header.seal
        return {
            "source": self.source,
            "size": self.size,
            "root": header.root,
            "encoding": header.encoding,
            "siret": header.siret,
            "etablissement": header.etablissement,
            "collectivite": header.collectivite,
            "collectivite_siret": header.collectivite_siret or None,
            "code_insee": header.insee or None,
            "budget": {
                "name": header.budget_name,
                "code": header.budget_code or None,
                "type": header.budget_type or None,
                "annex": header.is_annex,
                "main_siret": header.main_siret or None,
                "main_name": header.main_name or None,
            },
            "nomenclature": {
                "code": header.nomenclature,
                "norme": header.norme,
                "declinaison": header.declinaison,
            },
            "exercice": header.exercice,
            "etape": {"code": header.natdec, "label": header.natdec_label},
            "decision": {
                "number": header.decision_number or None,
                "date": header.decision_date or None,
            },
            "document_key": header.document_key,
            "lines": {
                "total": self.lines_total,
                "calculated": self.lines_calculated,
                "detail": self.lines_total - self.lines_calculated,
            },
            "seal": None if seal is None else {"md5": seal.md5, "sha1": seal.sha1, "date": seal.date},
        }


class BudgetLine(NamedTuple):
    """One non-calculated ``LigneBudget``: its codes, and its amounts as written (None when absent).

    ``number`` is the line's rank among all the document's ``LigneBudget``.
    """

    number: int
    nature: str = ""
    contnat: str = ""
    fonction: str = ""
    operation: str = ""
    codrd: str = ""
    opbudg: str = ""
    typopbudg: str = ""
    artspe: str = ""
    section: str = ""
    amounts: tuple[str | None, ...] = (None,) * len(AMOUNT_ELEMENTS)


class TotemReader:
    """Reads one TOTEM document in a single streaming pass.

    ``header`` is available first (it precedes the lines), then ``lines()``
    yields the non-calculated lines; ``lines_total`` and ``lines_calculated``
    are final once ``lines()`` is exhausted.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES):
        self.source = os.fspath(path)
        self.lines_total = 0
        self.lines_calculated = 0
        self.size, self._encoding = _check_file(self.source, max_bytes)
        self._header: DocumentHeader | None = None
        self._file: BinaryIO | None = None
        self._root_tag = ""
        self._root = self._root_name()
        self._stream = self._parse()
        self._first_line: BudgetLine | None = None
        self._exhausted = False

    def __enter__(self) -> TotemReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @property
    def encoding(self) -> str:
        """The document's encoding, by the canonical name libxml2 is given."""
        return self._encoding

    @property
    def header(self) -> DocumentHeader:
        if self._header is None:
            self._first_line = next(self._stream, None)
            if self._first_line is None:
                self._exhausted = True
        assert self._header is not None  # set before the first line, or at the end, or raised
        return self._header

    def lines(self) -> Iterator[BudgetLine]:
        self.header  # noqa: B018 - reads up to the first line, validating the header
        if self._first_line is not None:
            line, self._first_line = self._first_line, None
            yield line
        if not self._exhausted:
            yield from self._stream
            self._exhausted = True

    def info(self) -> DocumentInfo:
        """Read the whole document (counting its lines) and describe it."""
        for _line in self.lines():
            pass
        return DocumentInfo(self.source, self.size, self.header, self.lines_total, self.lines_calculated)

    def _error(self, message_id: str, **params: object) -> DocumentError:
        return DocumentError.from_message(self.source, message_id, **params)

    def _open(self) -> BinaryIO:
        try:
            return open(self.source, "rb")
        except OSError as error:
            raise self._error("file_unreadable", reason=error.strerror or str(error)) from None

    def _root_name(self) -> str:
        """Look at the root element alone, so that foreign XML is refused before a full read."""
        with self._open() as stream:
            events = etree.iterparse(stream, events=("start",), encoding=self._encoding, **SAFE_PARSER_OPTIONS)
            try:
                _event, root = next(events)
            except etree.XMLSyntaxError as error:
                raise self._malformed(error) from None
        tag = root.tag
        if ":" in tag and not tag.startswith("{"):
            # An undeclared prefix: libxml2 logs it without stopping (the full read raises it at
            # the end) and leaves "prefix:name" as the tag, which lxml's QName refuses with a
            # ValueError (found by fuzzing).
            entry = next((entry for entry in events.error_log if entry.domain == etree.ErrorDomains.NAMESPACE), None)
            raise self._malformed_entry(entry.message if entry is not None else f"undeclared prefix in {tag}",
                                        entry.line if entry is not None else root.sourceline or 1)
        self._root_tag = tag
        namespace, _, localname = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if localname == "CompteFinancierUnique":
            return "CompteFinancierUnique"
        if localname == "DocumentBudgetaire":
            if namespace != TOTEM_NAMESPACE:
                raise self._error("wrong_namespace", element=localname, namespace=TOTEM_NAMESPACE)
            return "DocumentBudgetaire"
        raise self._error("not_totem_root", root=shown(localname, 60))

    def syntax_error(self, error: etree.XMLSyntaxError) -> DocumentError:
        """The one-line error of a libxml2 syntax error met reading this document."""
        return self._malformed(error)

    def _malformed(self, error: etree.XMLSyntaxError) -> DocumentError:
        # The bare parser message: lxml's str() repeats the file name.
        last = error.error_log.last_error if error.error_log else None
        detail = last.message if last is not None else error.msg or ""
        line = last.line if last is not None else (error.position or (0, 0))[0]
        return self._malformed_entry(detail, line)

    def _malformed_entry(self, detail: str, line: int) -> DocumentError:
        # libxml2 messages may quote the document over several lines: one line, cut.
        return self._error("malformed_xml", line=line, detail=shown(" ".join(detail.split()), 200))

    def _parse(self) -> Iterator[BudgetLine]:
        self._file = self._open()
        header_values: dict[str, str] = {}
        seal = None
        budgets = 0
        budget_documents = 1 if self._root == "DocumentBudgetaire" else 0
        # The encoding as check_prolog understood it, by its canonical name: libxml2 does not know
        # every alias accepted there ("latin-1": fuzzing), and the two must never disagree.
        # The root's start event gives the tree that _SweptFile frees between reads.
        swept = _SweptFile(self._file, self)
        events = etree.iterparse(swept, events=("start", "end"), tag=(self._root_tag, *_REPORTED_TAGS),
                                 remove_blank_text=True, remove_comments=True, remove_pis=True,
                                 collect_ids=False, encoding=self._encoding, **SAFE_PARSER_OPTIONS)
        try:
            for event, element in events:
                if event == "start":
                    if swept.root is None:
                        swept.root = element
                    continue
                tag = element.tag
                if tag == _LINE:
                    if self._header is None:
                        self._header = self._validated_header(header_values, seal)
                    self.lines_total += 1
                    if element.get("calculated") == "true":
                        self.lines_calculated += 1  # a total: counted, not converted
                    else:
                        yield self._line(element)
                elif tag in _HEADER_BLOCKS:
                    for child in element:
                        name = child.tag
                        if isinstance(name, str) and name.startswith(_NAMESPACE_PREFIX):
                            header_values.setdefault(name[len(_NAMESPACE_PREFIX):], _cleaned(child.get("V")))
                elif tag == _SCELLEMENT:
                    seal = Seal(element.get("md5"), element.get("sha1"), element.get("date"))
                elif tag == _BUDGET:
                    budgets += 1
                    if budgets > 1:
                        raise self._error("several_budgets", index=budgets)
                elif tag == _DOCUMENT_BUDGETAIRE:
                    budget_documents += 1
                _forget(element)
        except etree.XMLSyntaxError as error:
            raise self._malformed(error) from None
        except OSError as error:
            raise self._error("file_unreadable", reason=error.strerror or str(error)) from None
        finally:
            self.close()
        if budget_documents == 0:
            raise self._error("cfu_without_budget_document")
        if budgets == 0:
            raise self._error("no_budget")
        if self._header is None:
            self._header = self._validated_header(header_values, seal)

    def _line(self, element: etree._Element) -> BudgetLine:
        # The hot path of a conversion: one pass over the children, then plain lookups.
        values: dict[str, str | None] = {}
        section = None
        for child in element:
            tag = child.tag
            if tag == _CARAC_SUP:
                if child.get("Code") == "Section":
                    section = child.get("V")
            else:
                values[tag] = child.get("V")
        amounts = tuple(values.get(tag) for tag in _AMOUNT_TAGS)
        for amount in amounts:
            if amount is not None and (len(amount) > MAX_VALUE_LENGTH or not _DECIMAL.fullmatch(amount)):
                amounts = self._checked_amounts(amounts)
                break
        line = BudgetLine(
            self.lines_total,
            _cleaned(values.get(_NATURE)),
            _cleaned(values.get(_CONTNAT)),
            _cleaned(values.get(_FONCTION)),
            _cleaned(values.get(_OPERATION)),
            _cleaned(values.get(_CODRD)),
            _cleaned(values.get(_OPBUDG)),
            _cleaned(values.get(_TYPOPBUDG)),
            _cleaned(values.get(_ARTSPE)),
            _cleaned(section),
            amounts,
        )
        if (line.codrd, line.opbudg, line.typopbudg, line.artspe) not in _VALID_LINE_CODES:
            self._reject_codes(line)
        if len(max(line[1:10], key=len)) > MAX_VALUE_LENGTH:
            self._reject_long_value(line)
        return line

    def _reject_long_value(self, line: BudgetLine) -> None:
        for element, value in zip(("Nature", "ContNat", "Fonction", "Operation", "CodRD", "OpBudg", "TypOpBudg",
                                   "ArtSpe", "CaracSup Section"), line[1:10], strict=True):
            if len(value) > MAX_VALUE_LENGTH:
                raise self._error("line_value_too_long", index=line.number, element=element, length=len(value),
                                  limit=MAX_VALUE_LENGTH)

    def _checked_amounts(self, amounts: tuple[str | None, ...]) -> tuple[str | None, ...]:
        """Amounts stripped of surrounding blanks; an error names the first that is no decimal."""
        checked = []
        for position, amount in enumerate(amounts):
            if amount is not None:
                amount = amount.strip()
                if len(amount) > MAX_VALUE_LENGTH:
                    raise self._error("line_value_too_long", index=self.lines_total, element=AMOUNT_ELEMENTS[position],
                                      length=len(amount), limit=MAX_VALUE_LENGTH)
                if not _DECIMAL.fullmatch(amount):
                    raise self._error("invalid_amount", index=self.lines_total, element=AMOUNT_ELEMENTS[position],
                                      value=shown(amount))
            checked.append(amount)
        return tuple(checked)

    def _reject_codes(self, line: BudgetLine) -> None:
        # Enumerated codes the XSD requires: a wrong one means the line cannot be read safely.
        if not line.codrd:
            raise self._error("missing_line_element", index=line.number, element="CodRD")
        for element, value, allowed in (("CodRD", line.codrd, _CODRD_VALUES),
                                        ("OpBudg", line.opbudg, _OPBUDG_VALUES),
                                        ("TypOpBudg", line.typopbudg, _TYPOPBUDG_VALUES),
                                        ("ArtSpe", line.artspe, _ARTSPE_VALUES)):
            if value not in allowed:
                raise self._error("invalid_line_value", index=line.number, element=element,
                                  value=shown(value), expected=", ".join(choice for choice in allowed if choice))

    def _validated_header(self, values: dict[str, str], seal: Seal | None) -> DocumentHeader:
        for element in ("IdEtab", "Nomenclature", "NatDec", "Exer"):
            if not values.get(element):
                raise self._error("missing_header_element", element=element)
        for element in _HEADER_ELEMENTS_READ:
            if len(values.get(element, "")) > MAX_VALUE_LENGTH:
                raise self._error("header_value_too_long", element=element, length=len(values[element]),
                                  limit=MAX_VALUE_LENGTH)
        siret = values["IdEtab"]
        if not contract.is_siret(siret):
            raise self._error("invalid_siret", value=shown(siret))
        year = values["Exer"]
        maximum = datetime.date.today().year + MAX_YEARS_AHEAD
        if not _YEAR.fullmatch(year) or not MIN_YEAR <= int(year) <= maximum:
            raise self._error("invalid_year", value=shown(year), minimum=MIN_YEAR, maximum=maximum)
        natdec = values["NatDec"]
        if natdec not in contract.NATDEC_SCDL_LABELS:
            raise self._error("unknown_natdec", value=shown(natdec), expected=", ".join(contract.NATDEC_SCDL_LABELS))
        nomenclature = values["Nomenclature"]
        match = _NOMENCLATURE.fullmatch(nomenclature) if len(nomenclature) <= _NOMENCLATURE_MAX_LENGTH else None
        if match is None or not match.group(2).startswith(match.group(1)):
            raise self._error("invalid_nomenclature", value=shown(nomenclature, 60))
        return DocumentHeader(
            root=self._root,
            encoding=self._encoding,
            siret=siret,
            etablissement=values.get("LibelleEtab", ""),
            collectivite=values.get("LibelleColl", ""),
            collectivite_siret=values.get("IdColl", ""),
            insee=values.get("CodInseeColl", ""),
            nomenclature=nomenclature,
            norme=match.group(1),
            declinaison=match.group(2),
            exercice=int(year),
            natdec=natdec,
            decision_number=values.get("NumDec", ""),
            decision_date=values.get("DteDec", ""),
            budget_code=values.get("CodBud", ""),
            budget_type=values.get("CodTypBud", ""),
            main_siret=values.get("IdEtabPal", ""),
            main_name=values.get("LibelleEtabPal", ""),
            seal=seal,
        )


class _SweptFile:
    """The document's file as ``iterparse`` reads it: before each read, what is parsed and will
    never be reported is freed (iterparse reads only once every pending event was handled)."""

    def __init__(self, file: BinaryIO, reader: TotemReader):
        self._file = file
        self._reader = reader
        self.root: etree._Element | None = None

    def read(self, size: int) -> bytes:
        if self.root is not None:
            self._sweep(self.root)
        return self._file.read(size)

    def _sweep(self, element: etree._Element) -> None:
        # Down the open elements (each the last child of the one above): the children before
        # the last one are complete, and read already if they were ever to be.
        while len(element):
            if element.tag in _READ_PARENTS:
                if len(element) > MAX_CHILDREN:
                    raise self._reader._error("too_many_children", element=shown(etree.QName(element).localname),
                                              line=element.sourceline or 0, limit=MAX_CHILDREN)
            elif len(element) > 1:
                del element[:-1]
            element = element[-1]


def _forget(element: etree._Element) -> None:
    """Free an element already read, and the siblings before it that nobody will read."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _cleaned(value: str | None) -> str:
    return value.strip() if value else ""


def _check_file(source: str, max_bytes: int) -> tuple[int, str]:
    """Size and prolog checks made before any XML parsing; returns (size, encoding)."""
    try:
        size = os.stat(source).st_size
        if not os.path.isfile(source):
            raise DocumentError.from_message(source, "not_a_regular_file")
    except FileNotFoundError:
        raise DocumentError.from_message(source, "file_not_found") from None
    except OSError as error:
        raise DocumentError.from_message(source, "file_unreadable",
                                         reason=error.strerror or str(error)) from None
    if size == 0:
        raise DocumentError.from_message(source, "file_empty")
    if size > max_bytes:
        raise DocumentError.from_message(source, "file_too_large", size=size, limit=max_bytes)
    try:
        with open(source, "rb") as stream:
            head = stream.read(PROLOG_LIMIT)
    except OSError as error:
        raise DocumentError.from_message(source, "file_unreadable",
                                         reason=error.strerror or str(error)) from None
    return size, check_prolog(source, head, complete=size <= PROLOG_LIMIT)


def check_prolog(source: str, head: bytes, *, complete: bool) -> str:
    """Check what precedes the root element: accepted encoding, no DOCTYPE.

    Returns the declared encoding. ``complete`` tells whether ``head`` is the whole file.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00\x00<")):
        raise DocumentError.from_message(source, "unsupported_encoding", encoding="UTF-16/UTF-32")
    byte_order_mark = head.startswith(b"\xef\xbb\xbf")
    position = 3 if byte_order_mark else 0
    encoding = "UTF-8"
    declaration = _XML_DECLARATION.match(head, position)
    if declaration is not None:
        declared = (declaration.group(1) or b"UTF-8").decode("ascii", "replace")
        if declared.strip().lower() not in _ACCEPTED_ENCODINGS:
            raise DocumentError.from_message(source, "unsupported_encoding", encoding=shown(declared))
        # The byte order mark wins over the declaration, as in libxml2.
        encoding = "UTF-8" if byte_order_mark else _ACCEPTED_ENCODINGS[declared.strip().lower()]
        position = declaration.end()
    elif re.match(rb"<\?xml\s", head[position:position + 6]):
        raise DocumentError.from_message(source, "malformed_xml_declaration")
    while True:
        while position < len(head) and head[position] in b" \t\r\n":
            position += 1
        if position >= len(head):
            if complete:
                # Only a prolog: let the parser say the root element is missing.
                return encoding
            raise DocumentError.from_message(source, "prolog_too_long", limit=PROLOG_LIMIT)
        if head.startswith(b"<!--", position):
            end = head.find(b"-->", position + 4)
            position = end + 3 if end >= 0 else len(head)
        elif head.startswith(b"<?", position):
            end = head.find(b"?>", position + 2)
            position = end + 2 if end >= 0 else len(head)
        elif head.startswith(b"<!", position):
            # DOCTYPE is the only other markup allowed here: always refused.
            raise DocumentError.from_message(source, "doctype_forbidden")
        elif head.startswith(b"<", position):
            return encoding
        else:
            raise DocumentError.from_message(source, "not_xml")


def read_header(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentHeader:
    """The validated header alone, reading no further than the first line."""
    with TotemReader(path, max_bytes=max_bytes) as reader:
        return reader.header


def inspect_document(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentInfo:
    """Describe a document: header, line counts, encoding, seal."""
    with TotemReader(path, max_bytes=max_bytes) as reader:
        return reader.info()
