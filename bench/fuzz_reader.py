"""Fuzz the TOTEM reader and the SCDL conversion path (a bench tool: never run in CI).

What is fuzzed is what a harvest, a hand upload and ``budgetod convert --report`` run on a
third-party document, the one pipeline (``core/pipeline.py``): the conversion (hardened reading,
plan de comptes lookup, CSV writing), then the validation (frictionless against the SCDL schema),
the JSON report in French and English; plus ``reader.inspect_document`` (``budgetod inspect``).
The contract checked for every example:

- the outcome is a conversion or a ``BudgetodError`` whose cause is one clear line naming the
  file, renderable in French and English; never another exception;
- no example runs longer than ``--example-timeout`` seconds (SIGALRM in-process; a faulthandler
  watchdog ends the process if the parser itself hangs without returning to Python);
- memory stays bounded (peak RSS over ``--rss-limit-mb`` is a finding; the address space is
  capped by ``--memory-limit-mb`` so that a runaway allocation is a MemoryError, not the OOM killer);
- a converted CSV has the SCDL header, one row per line read, ASCII decimal amounts, and
  ``inspect`` agrees with ``convert``;
- semantics-preserving rewritings of a sample (other encoding with its declaration, a BOM,
  prefixed namespace, comments, character references, the CFU wrapper...) give the same CSV
  bytes, or the same error, as the sample itself.

Inputs are built by Hypothesis strategies that know the TOTEM structure: the real documents of
``../shared/data/totem`` (and ``broken/``), whole and trimmed to a few lines, mutated at the tree
level (element deletion, duplication, reordering, renaming, namespace changes; codes, amounts
such as ``1e400``, ``NaN``, ``-0``, huge digit strings, non-ASCII digits...), at the byte level
(flips, truncation, splices), in their prolog (encoding declarations that lie, UTF-16, BOMs,
DOCTYPE and entity injections), at the parser's limits (deep nesting, huge attributes, wide
elements) and in the CFU wrapper; documents generated from scratch; and mutated plans de comptes
served from a temporary mirror. Examples run in batches of Hypothesis runs (one seed each, derived
from ``--seed``); a finding is shrunk by Hypothesis, reduced further line by line, and saved under
``.local/fuzz/findings/<signature>/`` (document, plan if any, traceback, how it was made).

    .local/venv/bin/python bench/fuzz_reader.py [--examples N] [--seconds S] [--seed X]
    .local/venv/bin/python bench/fuzz_reader.py --replay .local/fuzz/findings/<dir>/document.xml

Stops at N examples or S seconds, whichever comes first (600 s when neither is given); exits 1
when anything was found. Hypothesis is a bench-only dependency: ``pip install -e '.[bench]'``.
The sample documents and plans are third-party data read in place, never copied into the repository.
"""
from __future__ import annotations

import argparse
import collections
import copy
import csv
import datetime
import faulthandler
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))  # ckanext (also installed editable) and tests.totem.totem_factory
FUZZ_DIR = REPOSITORY / ".local" / "fuzz"  # git-ignored, as all of .local/
FINDINGS_DIR = FUZZ_DIR / "findings"
# Hypothesis' own files (its constants cache) there too, not in a .hypothesis/ of the working directory.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(FUZZ_DIR / "hypothesis"))

try:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - told to the user
    raise SystemExit("hypothesis is missing (a bench-only dependency): "
                     ".local/venv/bin/pip install -e '.[bench]'") from None

from lxml import etree

from ckanext.budgetod.core import messages
from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.pipeline import Pipeline
from ckanext.budgetod.core.scdl.conversion import CODRD, OPBUDG, SCDL_FIELDS, SECTIONS
from ckanext.budgetod.core.settings import Settings
from ckanext.budgetod.core.totem import nomenclature
from ckanext.budgetod.core.contract import NATDEC_SCDL_LABELS
from ckanext.budgetod.core.totem.reader import AMOUNT_ELEMENTS, TOTEM_NAMESPACE, inspect_document
from tests.totem.totem_factory import CFU_NAMESPACE, COMPTABLE_NAMESPACE, Line, totem_document

SHARED_DATA = REPOSITORY / ".." / "shared" / "data"
TOTEM_DIR = SHARED_DATA / "totem"
PLANS_DIR = SHARED_DATA / "plans-de-comptes"
SCHEMA_PATH = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"

NS = TOTEM_NAMESPACE
ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
XML_DECLARATION = re.compile(r"^\ufeff?<\?xml[^>]*\?>")
# Characters XML 1.0 cannot carry at all, even as character references.
NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
THIS_YEAR = datetime.date.today().year
# Fixed parts of the French messages that their English versions lack: none may show in an English cause.
FRENCH_ONLY = sorted({
    fragment.strip(" :«»()")
    for texts in messages.MESSAGES.values()
    for fragment in re.split(r"\{[^}]*\}", texts["fr"])
    if len(fragment.strip(" :«»()")) >= 12 and fragment.strip(" :«»()") not in texts["en"]
})


def q(name: str, namespace: str | None = NS) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


def xml_safe(text: str) -> str:
    return NOT_XML_CHAR.sub("", text)


# --- samples (seeds) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    encoding: str  # the declared encoding, as a Python codec name


_TRUSTED_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def declared_encoding(data: bytes) -> str:
    match = re.match(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*encoding=[\"']([^\"']+)", data)
    return match.group(1).decode("ascii").lower() if match else "utf-8"


def trimmed(data: bytes, keep_lines: int, keep_children: int = 2) -> bytes:
    """A real document cut down to its first lines and a few annex and accounting entries."""
    root = etree.fromstring(data, _TRUSTED_PARSER)
    for budget in root.iter(q("Budget")):
        for line in budget.findall(q("LigneBudget"))[keep_lines:]:
            budget.remove(line)
    for annexes in root.iter(q("Annexes")):
        for block in annexes:
            for child in list(block)[keep_children:]:
                block.remove(child)
    for comptable in root.iter("{*}DocumentComptable"):
        for parent in list(comptable.iter()):
            repeated = [child for child in parent if isinstance(child.tag, str)
                        and etree.QName(child).localname in ("LigneComptable", "Gestion")]
            for child in repeated[keep_children:]:
                parent.remove(child)
    return etree.tostring(root.getroottree(), encoding=declared_encoding(data).upper(), xml_declaration=True)


def load_seeds() -> list[Seed]:
    """Trimmed samples first (smallest first: Hypothesis shrinks toward the first), then whole ones."""
    documents = sorted(TOTEM_DIR.glob("*.xml"))
    broken = sorted((TOTEM_DIR / "broken").glob("*.xml"))
    if not documents:
        raise SystemExit(f"no sample document in {TOTEM_DIR}")
    seeds = []
    for path in documents:
        data = path.read_bytes()
        seeds.append(Seed(f"{path.stem}~12", trimmed(data, 12), declared_encoding(data)))
        seeds.append(Seed(f"{path.stem}~1", trimmed(data, 1, 1), declared_encoding(data)))
    seeds.sort(key=lambda seed: len(seed.data))
    seeds += [Seed(path.stem, path.read_bytes(), declared_encoding(path.read_bytes())) for path in documents + broken]
    return seeds


# --- values --------------------------------------------------------------------------------------

AMOUNTS = [
    "1e400", "NaN", "nan", "Infinity", "-inf", "-0", "+0", "-0.00", "0", "", " ", " 12.50 ", "\t7\n", "1.",
    ".5", "+.5", ".", "-", "+", "1,5", "1 000", "0x1A", "1_000", "12.3.4", "١٢٣", "１２３", "٣.٥", "²", "½",
    "12e", "1E5", "--1", "\u00a012", "12\u200b", "abc", "𝟙𝟚", "0" * 40, "-" + "9" * 15 + ".99",
    "123456789012.34", "0.001", "1e-400",
]
LINE_CODES = ["D", "R", "d", "r", " D ", "X", "", "0", "1", "2", "3", "true", "false", "TRUE", "True", "٠", "１",
              "DR", "D" * 1000, " ", "\u00a0D", "R\u200b"]
SIRETS = ["21560046100010", "2156004610001", "215600461000100", "٢١٥٦٠٠٤٦١٠٠٠١٠", "２１５６００４６１０００１０",
          " 21560046100010 ", "", "2156004610001O", "00000000000000", "1" * 5000, "21560046100010\n"]
YEARS = ["2022", "2021", "2018", "2023", "1999", "2000", "0000", "9999", "２０２２", "٢٠٢٢", "+2022", "2022 ", "20.2",
         "02022", str(THIS_YEAR + 2), str(THIS_YEAR + 3), "", "-2022", "1e3", "2012", "2030"]
NATDECS = ["01", "02", "03", "09", "10", "1", "00", "11", "٠١", "１０", " 01", "", "1O"]
NOMENCLATURES = [
    "M14-M14_COM_500_3500", "M57-M57_A", "M57-M57", "M4-M43", "M4-M43_D", "M14-M14", "M14-M57", "M0-M0",
    "M14-M14_" + "A" * 5000, "M14-M14_" + "A" * 300, "M57-M57_" + "A1_" * 320, "m14-m14_com", "M14-M14__X", "M14-M14_COM_500_3500/../x", "M１４-M１４", "M999-M999",
    "M52-M52", "M71-M71", "M61-M61", "M14-M14_CE", "M21-M21", "M57-M57_D", "M832-M832_X", "", " M57-M57_A ",
    "M4-M4", "M14-M14_COM_SUP3500",
]
CODES = ["", "0", "6", "9", "60", "023", "001", "002", "021", "024", "2313", "6064", "65", "4581", "45811", "7067",
         "28128", "908", "01", "0" * 30, "9" * 31, "１２", "٦٠٦٤", "60 64", "6064\u200b", "A1", "-1", "6.5", "é",
         "60641", "6" * 12, "1" * 10, "60\n64", "6064\x85", "60\u202864", "60\t64", "6" * 999]
SECTION_CODES = ["I", "F", "i", "", "X", "IF", " I", "F\u200b"]
GENERIC = ["", " ", "x", "<", "&", "\"", "'", "\n", "\r\n", "\t", "😀", "\u202e", "\ufeff", "é", "\ufffd",
           "%s{0}{x}", "{element}", "{{", "}", "\\", "’", "a" * 300, "true", "1", "-", "NaN"]
CALCULATED = ["true", "false", "TRUE", "1", " true", "", "true "]
HEADER_ELEMENTS = {
    "IdEtab": SIRETS, "Exer": YEARS, "NatDec": NATDECS, "Nomenclature": NOMENCLATURES, "IdEtabPal": SIRETS,
    "CodTypBud": ["P", "A", "", "p", "X", "AA"], "IdColl": SIRETS,
}
NAMESPACES = [NS, None, CFU_NAMESPACE, COMPTABLE_NAMESPACE, "urn:x", NS + "/", NS.upper(), "http://www.minefi.gouv.fr"]
ELEMENT_NAMES = [
    "DocumentBudgetaire", "CompteFinancierUnique", "Budget", "LigneBudget", "EnTeteBudget", "BlocBudget",
    "EnTeteDocBudgetaire", "Scellement", "Nature", "ContNat", "Fonction", "Operation", "CodRD", "OpBudg",
    "TypOpBudg", "ArtSpe", "MtPrev", "MtReal", "CredOuv", "CaracSup", "MtSup", "Annexes", "DATA_EMPRUNT",
    "EMPRUNT", "DocumentComptable", "IdEtab", "Exer", "NatDec", "Nomenclature", "LibelleColl", "CodBud",
    "InformationsGenerales", "VersionSchema", "x", "_", "é", "a.b",
]
ATTRIBUTE_NAMES = ["V", "V", "V", "calculated", "Code", "md5", "sha1", "date", "x", "xml:lang", "{urn:x}V"]
ENTITY_REFERENCES = ["&xxe;", "&amp;", "&#0;", "&#x110000;", "&#xD800;", "&lt;", "&#38;#38;", "&#x41;", "&unknown;",
                     "&#9999999999;", "&#x32;&#x30;&#x32;&#x32;", "&#1633;", "&#65296;", "&#10;", "&#13;", "&#9;"]
BYTE_TOKENS = [
    b"<", b"</", b">", b"/>", b"&", b"&amp;", b"&#0;", b"&#x10FFFF;", b"&#xD800;", b"]]>", b"<![CDATA[x]]>",
    b"<!--", b"-->", b"<?", b"?>", b"<?x y?>", b'<!DOCTYPE x [<!ENTITY e "x">]>', b"&e;", b"\x00", b"\x01",
    b"\xef\xbb\xbf", b"\xff\xfe", b"\xc3", b"\xe9", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b' xmlns="urn:x"', b' xmlns:db="' + NS.encode() + b'"', b' calculated="true"', b"<LigneBudget>",
    b"</LigneBudget>", b"<Budget>", b"</Budget>", b'<Nature V="6064"/>', b'<CodRD V="D"/>', b'V="1e400"',
    b'<DocumentBudgetaire xmlns="' + NS.encode() + b'">', b"</DocumentBudgetaire>", b"\r", b"\n", b" ",
    b'"', b"'", b"=", b"<a:b>", b"xmlns:a=''", b"<\x00>",
]
DOCTYPES = [
    b"<!DOCTYPE DocumentBudgetaire>",
    b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>',
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd">',
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    b'<!DOCTYPE r [<!ATTLIST LigneBudget calculated CDATA "true">]>',
    b"<!doctype r>",
    b"<!ELEMENT x ANY>",
    b"<![CDATA[x]]>",
    b"<!-->",
    b"<!",
]
DECLARED_ENCODINGS = [
    "UTF-8", "utf-8", "utf8", "UTF8", "ISO-8859-1", "iso-8859-1", "latin1", "LATIN1", "l1", "ISO-8859-15",
    "windows-1252", "cp1252", "US-ASCII", "ascii", "UTF-16", "UTF-16LE", "UTF-32", "EBCDIC-US", "IBM037",
    "Shift_JIS", "x-nonexistent", "", " UTF-8", "UTF-8 ", "UTF-7", "ucs-2", "koi8-r", "GB18030", "iso_8859-1",
    "ISO-2022-JP", "latin-1",
]
ACTUAL_ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16-le", "utf-16-be", "utf-32-le", "ascii", "utf-7", "cp037",
                    "shift_jis", "iso-8859-15"]
BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xef\xbb",
        b"\xef\xbb\xbf\xef\xbb\xbf"]
DECLARATION_STYLES = [
    '<?xml version="1.0" encoding="{e}"?>', "<?xml version='1.0' encoding='{e}'?>", '<?xml version="1.1" encoding="{e}"?>',
    '<?xml version="1.0" encoding="{e}" standalone="yes"?>', '<?xml encoding="{e}"?>', '<?XML version="1.0" encoding="{e}"?>',
    '<?xml version="1.0"  encoding = "{e}" ?>', "", '<?xml version="1.0"?>', '<?xml version="2.0" encoding="{e}"?>',
    ' <?xml version="1.0" encoding="{e}"?>', '<?xml version="1.0" encoding="{e}"?><?xml version="1.0"?>',
    '<?xml version="1.0" encoding="{e}"',
]
HUGE_SIZES = [1_000, 100_000, 1_000_000, 9_999_000, 10_000_100, 25_000_000]
DEPTHS = [3, 100, 250, 254, 256, 300, 2_000, 100_000]
WIDTHS = [10, 1_000, 50_000, 300_000]


def real_codes() -> tuple[list[str], list[str]]:
    """Account and function codes of two real plans: lines that look like real ones."""
    natures, functions = set(), set()
    for relative in ("2022/M14/M14_COM_500_3500", "2023/M57/M57_A"):
        path = PLANS_DIR / relative / "planDeCompte.xml"
        if path.is_file():
            plan = nomenclature.load_plan(str(path))
            natures.update(plan.accounts)
            natures.update(plan.chapters)
            functions.update(plan.functions)
    return sorted(natures) or ["6064"], sorted(functions) or ["822"]


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    document: bytes
    steps: list[str]
    plan: bytes | None = None  # served from a temporary mirror at plan_relative
    plan_relative: str | None = None
    expect_same_as: str | None = None  # a seed whose outcome this rewriting must reproduce
    max_bytes: int | None = None

    def describe(self) -> str:
        text = " | ".join(self.steps)
        return text if len(text) < 2000 else text[:2000] + "…"

    def __repr__(self) -> str:  # what Hypothesis prints: short, whatever the document's size
        return f"Case({len(self.document)} bytes: {self.describe()[:300]})"


def pick(draw, items, label=None):
    return items[draw(st.integers(0, len(items) - 1), label=label)]


def pick_weighted(draw, weighted):
    total = sum(weight for weight, _ in weighted)
    number = draw(st.integers(0, total - 1))
    for weight, value in weighted:
        if number < weight:
            return value
        number -= weight
    raise AssertionError


def value_for(draw, kind: str) -> str:
    """A value for an attribute of the given kind: listed edge cases, or generated ones."""
    lists = {"amount": AMOUNTS, "code": CODES, "line_code": LINE_CODES, "section": SECTION_CODES,
             "calculated": CALCULATED, "generic": GENERIC}
    choice = draw(st.integers(0, 9))
    if choice <= 5 and kind in lists:
        return pick(draw, lists[kind])
    if choice == 6:
        return pick(draw, GENERIC)
    if choice == 7:  # digits of any script, any length
        return draw(st.text(alphabet=st.characters(categories=("Nd",)), min_size=1, max_size=40))
    if choice == 8:
        digits = pick(draw, ["9", "0", "6", "1"])
        return digits * pick(draw, [15, 31, 256, 999, 1_001, 5_000, 60_000, 400_000]) + pick(draw, ["", ".5", "e9"])
    if kind == "amount":
        return str(draw(st.decimals(allow_nan=True, allow_infinity=True)))
    return xml_safe(draw(st.text(max_size=40)))


class Mutator:
    """Tree-level mutations of a parsed document, each recorded as a step."""

    def __init__(self, draw, root, steps: list[str]):
        self.draw, self.root, self.steps = draw, root, steps

    def elements(self, tag=None):
        found = [element for element in self.root.iter(tag) if isinstance(element.tag, str)]
        return found or [self.root]

    def choose(self, elements):
        return elements[self.draw(st.integers(0, 10**6)) % len(elements)]

    def by_local(self, names):
        return [element for element in self.elements()
                if etree.QName(element).localname in names] or self.elements()

    def set_value(self, element, value, attribute="V"):
        try:
            element.set(attribute, xml_safe(value))
        except ValueError:  # an attribute name lxml refuses
            return
        self.steps.append(f"set {etree.QName(element).localname}/@{attribute}={value[:60]!r}"
                          + (f"(+{len(value)} chars)" if len(value) > 60 else ""))

    def mutate(self):
        operation = pick(self.draw, [
            "amount", "line_code", "code", "header", "attribute", "delete", "duplicate", "swap", "move",
            "rename", "renamespace", "text", "comment", "calculated", "section", "clear", "add_line", "reverse",
            "delete_attribute", "entity_text",
        ])
        getattr(self, f"op_{operation}")()

    def op_amount(self):
        self.set_value(self.choose(self.by_local(AMOUNT_ELEMENTS)), value_for(self.draw, "amount"))

    def op_line_code(self):
        self.set_value(self.choose(self.by_local(("CodRD", "OpBudg", "TypOpBudg", "ArtSpe"))),
                       value_for(self.draw, "line_code"))

    def op_code(self):
        self.set_value(self.choose(self.by_local(("Nature", "ContNat", "Fonction", "Operation"))),
                       value_for(self.draw, "code"))

    def op_header(self):
        element = self.choose(self.by_local(tuple(HEADER_ELEMENTS)))
        values = HEADER_ELEMENTS.get(etree.QName(element).localname, GENERIC)
        self.set_value(element, pick(self.draw, values) if self.draw(st.booleans()) else value_for(self.draw, "generic"))

    def op_attribute(self):
        self.set_value(self.choose(self.elements()), value_for(self.draw, "generic"), pick(self.draw, ATTRIBUTE_NAMES))

    def op_delete_attribute(self):
        element = self.choose(self.elements())
        if element.attrib:
            name = sorted(element.attrib)[0]
            del element.attrib[name]
            self.steps.append(f"delete {etree.QName(element).localname}/@{name}")

    def op_section(self):
        self.set_value(self.choose(self.by_local(("CaracSup",))), value_for(self.draw, "section"))

    def op_calculated(self):
        self.set_value(self.choose(self.by_local(("LigneBudget",))), value_for(self.draw, "calculated"), "calculated")

    def op_delete(self):
        element = self.choose(self.elements())
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
            self.steps.append(f"delete {etree.QName(element).localname}")

    def op_duplicate(self):
        element = self.choose(self.elements())
        if element.getparent() is not None:
            times = pick(self.draw, [1, 1, 2, 50])
            if times > 2 and sum(1 for _ in element.iter()) > 200:
                times = 2  # a document of a few megabytes at most: the limits strategy does the rest
            for _ in range(times):
                element.addnext(copy.deepcopy(element))
            self.steps.append(f"duplicate {etree.QName(element).localname} x{times}")

    def op_swap(self):
        element = self.choose(self.elements())
        following = element.getnext()
        if following is not None:
            element.addprevious(following)
            self.steps.append(f"swap {etree.QName(element).localname} with its next sibling")

    def op_reverse(self):
        element = self.choose(self.elements())
        children = list(element)
        for child in children:
            element.remove(child)
        for child in reversed(children):
            element.append(child)
        self.steps.append(f"reverse the children of {etree.QName(element).localname}")

    def op_move(self):
        element, parent = self.choose(self.elements()), self.choose(self.elements())
        if element is parent or element.getparent() is None or element in parent.iterancestors():
            return
        parent.insert(self.draw(st.integers(0, 3)), element)
        self.steps.append(f"move {etree.QName(element).localname} into {etree.QName(parent).localname}")

    def op_rename(self):
        element = self.choose(self.elements())
        name = pick(self.draw, ELEMENT_NAMES)
        element.tag = q(name, etree.QName(element).namespace)
        self.steps.append(f"rename to {name}")

    def op_renamespace(self):
        element = self.choose(self.elements())
        namespace = pick(self.draw, NAMESPACES)
        targets = list(element.iter()) if self.draw(st.booleans()) else [element]
        for target in targets:
            if isinstance(target.tag, str):
                target.tag = q(etree.QName(target).localname, namespace)
        self.steps.append(f"namespace {namespace!r} on {etree.QName(element).localname} ({len(targets)} elements)")

    def op_text(self):
        element = self.choose(self.elements())
        text = value_for(self.draw, "generic")
        if self.draw(st.booleans()):
            element.text = xml_safe(text)
        else:
            element.tail = xml_safe(text)
        self.steps.append(f"text {text[:40]!r} in {etree.QName(element).localname}")

    def op_entity_text(self):
        # Serialised escaped; byte-level mutations carry the raw references.
        self.set_value(self.choose(self.elements()), pick(self.draw, ENTITY_REFERENCES))

    def op_comment(self):
        element = self.choose(self.elements())
        node = etree.Comment(" c ") if self.draw(st.booleans()) else etree.PI("x", 'V="6064"')
        element.insert(self.draw(st.integers(0, 3)), node)
        self.steps.append(f"comment or PI in {etree.QName(element).localname}")

    def op_clear(self):
        element = self.choose(self.elements())
        for child in list(element):
            element.remove(child)
        self.steps.append(f"empty {etree.QName(element).localname}")

    def op_add_line(self):
        budget = self.choose(self.by_local(("Budget",)))
        line = etree.SubElement(budget, q("LigneBudget", etree.QName(budget).namespace))
        for name, kind in (("Nature", "code"), ("ContNat", "code"), ("Fonction", "code"), ("CodRD", "line_code"),
                           ("OpBudg", "line_code"), ("MtPrev", "amount"), ("MtReal", "amount")):
            if self.draw(st.integers(0, 3)):
                etree.SubElement(line, q(name)).set("V", xml_safe(value_for(self.draw, kind)))
        self.steps.append("add a line: " + etree.tostring(line, encoding="unicode")[:300])


def serialise(draw, root, seed: Seed, steps: list[str]) -> bytes:
    encoding = pick(draw, [seed.encoding, seed.encoding, "UTF-8", "ISO-8859-1", "US-ASCII", "windows-1252"])
    if encoding.lower() != seed.encoding:
        steps.append(f"serialised as {encoding}")
    return etree.tostring(root.getroottree(), encoding=encoding.upper(), xml_declaration=True)


def parsed(seed: Seed):
    return etree.fromstring(seed.data, _TRUSTED_PARSER)


def byte_mutations(draw, data: bytes, steps: list[str], seeds: list[Seed]) -> bytes:
    for _ in range(draw(st.integers(1, 6))):
        data = bytearray(data)
        position = draw(st.integers(0, max(len(data), 1) * 4)) % (len(data) + 1)
        operation = pick(draw, ["flip", "set", "insert", "delete", "duplicate", "truncate", "splice", "replace_value"])
        if operation == "flip" and position < len(data):
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "set" and position < len(data):
            data[position] = pick(draw, [0, 0xFF, 0x80, 0x3C, 0x3E, 0x26, 0x22, 0xC3, 0xE9, 0x20, 0x0A, 0x7F])
        elif operation == "insert":
            data[position:position] = pick(draw, BYTE_TOKENS)
        elif operation == "delete":
            del data[position:position + pick(draw, [1, 2, 10, 100, 10_000])]
        elif operation == "duplicate":
            length = pick(draw, [1, 20, 500, 10_000])
            data[position:position] = data[position:position + length] * pick(draw, [1, 2, 100])
        elif operation == "truncate":
            del data[position:]
        elif operation == "splice" and seeds:
            other = pick(draw, seeds).data
            start = draw(st.integers(0, len(other) * 4)) % (len(other) + 1)
            data = data[:position] + other[start:]
        elif operation == "replace_value":
            values = list(re.finditer(rb'V="[^"]*"', data))
            if values:
                match = values[draw(st.integers(0, 10**6)) % len(values)]
                replacement = b'V="' + pick(draw, ENTITY_REFERENCES).encode() + b'"'
                data = data[:match.start()] + replacement + data[match.end():]
        steps.append(f"bytes: {operation} at {position}")
        data = bytes(data)
    return bytes(data)


def seed_text(seed: Seed) -> str:
    text = seed.data.decode(seed.encoding, "replace")
    return XML_DECLARATION.sub("", text, count=1).lstrip("\ufeff")


def prolog_variant(draw, seed: Seed, steps: list[str]) -> bytes:
    """Encoding declarations that lie, BOMs, UTF-16/32, DOCTYPEs and entities in the prolog."""
    body = seed_text(seed)
    kind = pick(draw, ["encoding", "encoding", "doctype", "doctype", "prolog_junk"])
    if kind == "encoding":
        declared = pick(draw, DECLARED_ENCODINGS)
        actual = pick(draw, ACTUAL_ENCODINGS)
        style = pick(draw, DECLARATION_STYLES)
        bom = pick(draw, BOMS)
        declaration = style.format(e=declared)
        data = bom + (declaration + "\n" + body).encode(actual, "xmlcharrefreplace" if actual in (
            "ascii", "latin-1", "cp1252", "iso-8859-15", "cp037", "shift_jis") else "strict")
        steps.append(f"declared {declared!r} ({style[:30]!r}), encoded {actual}, BOM {bom!r}")
        return data
    head = seed.data[:XML_DECLARATION.match(seed.data.decode("latin-1")).end()] \
        if XML_DECLARATION.match(seed.data.decode("latin-1")) else b""
    rest = seed.data[len(head):]
    if kind == "doctype":
        doctype = pick(draw, DOCTYPES)
        where = pick(draw, ["after_declaration", "after_comment", "after_long_prolog", "inside_root", "first",
                            "after_pi", "twice", "with_reference"])
        if where == "after_declaration":
            data = head + b"\n" + doctype + rest
        elif where == "after_comment":
            data = head + b"\n<!-- producer -->\n" + doctype + rest
        elif where == "after_long_prolog":
            data = head + b"\n" + b"<!-- padding -->\n" * pick(draw, [100, 4_000, 5_000]) + doctype + rest
        elif where == "inside_root":
            index = rest.find(b">", rest.find(b"<", 1)) + 1 if rest.find(b"<", 1) >= 0 else len(rest)
            data = head + rest[:index] + doctype + rest[index:]
        elif where == "after_pi":
            data = head + b'\n<?xml-stylesheet href="x.xsl"?>\n' + doctype + rest
        elif where == "twice":
            data = head + doctype + doctype + rest
        elif where == "with_reference":
            data = head + doctype + re.sub(rb'V="[^"]*"', b'V="&xxe;&c;"', rest, count=20)
        else:
            data = doctype + head + rest
        steps.append(f"DOCTYPE {doctype[:40]!r} {where}")
        return data
    junk = pick(draw, [b"\n" * 70_000, b" " * 65_536, b"<!-- " + b"x" * 70_000 + b" -->", b"<?pi " + b"y" * 70_000 + b"?>",
                       b"<!-- unterminated", b"<?pi unterminated", b"text before root", b"\x00", b"]]>",
                       b"<!-- a --><!-- b --><?c d?>", b"\r\n\r\n"])
    steps.append(f"prolog junk {junk[:30]!r} (+{len(junk)} bytes)")
    return head + junk + rest


def cfu_variant(draw, seeds: list[Seed], steps: list[str]) -> tuple[bytes, str | None]:
    """Wrap a DocumentBudgetaire in CompteFinancierUnique variants; the canonical ones must convert alike."""
    seed = pick(draw, [seed for seed in seeds if b"CompteFinancierUnique" not in seed.data[:2000]])
    document = parsed(seed)
    namespace = pick(draw, [CFU_NAMESPACE, CFU_NAMESPACE, None, NS, "urn:x"])
    comptable = pick(draw, ["before", "after", "none", "totem_budget_inside", "holds_the_document", "twice_document",
                            "nested_wrapper", "wrong_namespace_document", "nested_cfu", "document_root_wraps_cfu",
                            "empty"])
    nsmap = {"doccfu": namespace} if namespace else None
    cfu = etree.Element(q("CompteFinancierUnique", namespace), nsmap=nsmap)

    def accounting():
        element = etree.Element(q("DocumentComptable", COMPTABLE_NAMESPACE), nsmap={None: COMPTABLE_NAMESPACE})
        etree.SubElement(element, q("Budget", COMPTABLE_NAMESPACE))
        etree.SubElement(element[0], q("LigneBudget", COMPTABLE_NAMESPACE)).set("V", "1")
        return element

    same = None
    if comptable in ("before", "after", "none"):
        if comptable == "before":
            cfu.append(accounting())
        cfu.append(copy.deepcopy(document))
        if comptable == "after":
            cfu.append(accounting())
        same = seed.name
    elif comptable == "totem_budget_inside":
        cfu.append(accounting())
        etree.SubElement(cfu[0], q("Budget"))
        cfu.append(copy.deepcopy(document))
    elif comptable == "holds_the_document":
        cfu.append(accounting())
        cfu[0].append(copy.deepcopy(document))
    elif comptable == "twice_document":
        cfu.append(copy.deepcopy(document))
        cfu.append(copy.deepcopy(document))
    elif comptable == "nested_wrapper":
        wrapper = etree.SubElement(cfu, q("Wrapper", namespace))
        wrapper.append(copy.deepcopy(document))
    elif comptable == "wrong_namespace_document":
        moved = copy.deepcopy(document)
        moved.tag = q("DocumentBudgetaire", "urn:x")
        cfu.append(moved)
    elif comptable == "nested_cfu":
        inner = etree.SubElement(cfu, q("CompteFinancierUnique", namespace))
        inner.append(copy.deepcopy(document))
    elif comptable == "document_root_wraps_cfu":
        inner = etree.SubElement(cfu, q("CompteFinancierUnique", namespace))
        inner.append(copy.deepcopy(document))
        outer = copy.deepcopy(document)
        outer.insert(0, cfu)
        cfu = outer
    steps.append(f"CFU wrapper ns={namespace!r} variant={comptable} of {seed.name}")
    if namespace != CFU_NAMESPACE:
        same = None
    return etree.tostring(cfu.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True), same


def limits_variant(draw, seed: Seed, steps: list[str]) -> bytes:
    """Deep nesting, huge values and wide elements, built as text: the parser's limits."""
    data = seed.data
    line_start = data.find(b"<LigneBudget")
    if line_start < 0:
        line_start = data.find(b"<", data.find(b"<DocumentBudgetaire") + 1)
    line_end = data.find(b"</LigneBudget>", line_start) + len(b"</LigneBudget>") if line_start >= 0 else -1
    kind = pick(draw, ["nest", "nest_open", "huge_value", "huge_text", "many_attributes", "many_lines",
                       "wide", "long_name", "many_namespaces", "huge_comment", "nest_lines"])
    if kind in ("nest", "nest_open", "nest_lines"):
        depth = pick(draw, DEPTHS)
        name = b"LigneBudget" if kind == "nest_lines" else b"X"
        opening, closing = b"<" + name + b">", b"</" + name + b">"
        inner = data[line_start:line_end] if line_end > line_start else b""
        middle = opening * depth + inner + (closing * depth if kind != "nest_open" else b"")
        steps.append(f"{kind} depth {depth}")
        return data[:line_start] + middle + data[line_start:]
    if kind in ("huge_value", "huge_text", "huge_comment"):
        size = pick(draw, HUGE_SIZES)
        filler = pick(draw, [b"9", b"x", b"\xc3\xa9" if seed.encoding == "utf-8" else b"\xe9", b"&#x39;", b" "])
        chunk = filler * max(1, size // len(filler))
        if kind == "huge_value":
            values = list(re.finditer(rb'V="[^"]*"', data))
            match = values[draw(st.integers(0, 10**6)) % len(values)] if values else None
            steps.append(f"huge value {filler!r} x{size}")
            if match is None:
                return data
            return data[:match.start()] + b'V="' + chunk + b'"' + data[match.end():]
        insert = (b"<!--" + chunk.replace(b"--", b"..") + b"-->") if kind == "huge_comment" else chunk.replace(b"<", b"")
        position = line_start + data[line_start:].find(b">") + 1 if line_start >= 0 else len(data) // 2
        steps.append(f"{kind} {filler!r} x{size}")
        return data[:position] + insert + data[position:]
    if kind == "many_attributes":
        count = pick(draw, WIDTHS)
        attributes = b"".join(b' a%d="%d"' % (number, number) for number in range(count))
        position = line_start + len(b"<LigneBudget")
        steps.append(f"{count} attributes on a line")
        return data[:position] + attributes + data[position:]
    if kind == "many_namespaces":
        count = pick(draw, WIDTHS)
        declarations = b"".join(b' xmlns:n%d="urn:n%d"' % (number, number) for number in range(count))
        position = line_start + len(b"<LigneBudget")
        steps.append(f"{count} namespace declarations on a line")
        return data[:position] + declarations + data[position:]
    if kind == "many_lines":
        count = pick(draw, [100, 5_000, 20_000])
        steps.append(f"first line x{count}")
        return data[:line_end] + data[line_start:line_end] * count + data[line_end:]
    if kind == "wide":
        count = pick(draw, WIDTHS)
        steps.append(f"{count} children in a line")
        position = line_start + data[line_start:].find(b">") + 1
        return data[:position] + b'<MtSup V="1"/>' * count + data[position:]
    length = pick(draw, [100, 50_001, 200_000])
    steps.append(f"element name of {length} characters")
    position = line_start + data[line_start:].find(b">") + 1
    return data[:position] + b"<" + b"N" * length + b"/>" + data[position:]


@st.composite
def scratch_tree(draw):
    """Any XML from the TOTEM vocabulary (and some other), generated from nothing."""
    def build(depth):
        namespace = pick(draw, NAMESPACES[:4]) if draw(st.integers(0, 4)) == 0 else NS
        element = etree.Element(q(pick(draw, ELEMENT_NAMES), namespace))
        for _ in range(draw(st.integers(0, 2))):
            name = pick(draw, ATTRIBUTE_NAMES[:7])
            element.set(name, xml_safe(value_for(draw, pick(draw, ["amount", "code", "line_code", "generic"]))))
        if depth < 6:
            for _ in range(draw(st.integers(0, 4))):
                element.append(build(depth + 1))
        return element

    root = build(0)
    root.tag = q(pick(draw, ["DocumentBudgetaire", "CompteFinancierUnique", "Budget", "x"]),
                 pick(draw, [NS, CFU_NAMESPACE, None]))
    encoding = pick(draw, ["UTF-8", "ISO-8859-1", "US-ASCII"])
    return etree.tostring(root, encoding=encoding, xml_declaration=draw(st.booleans()))


@st.composite
def structured_document(draw, natures, functions):
    """A well-formed TOTEM document whose header and lines are drawn: exercises the conversion itself."""
    def code(kind_values):
        choice = draw(st.integers(0, 5))
        if choice <= 2:
            return pick(draw, kind_values)
        return None if choice == 3 else value_for(draw, "code")

    lines = []
    for _ in range(draw(st.integers(0, 12))):
        amounts = {name: value_for(draw, "amount") if draw(st.integers(0, 5)) == 0
                   else str(draw(st.decimals(min_value=-10**12, max_value=10**12, places=2)))
                   for name in AMOUNT_ELEMENTS if draw(st.integers(0, 2)) == 0}
        lines.append(Line(
            nature=code(natures), contnat=code(natures), fonction=code(functions), operation=code(CODES),
            codrd=pick(draw, ["D", "R", "D", "R", None, *LINE_CODES]), opbudg=pick(draw, ["0", "1", "0", None, "2"]),
            typopbudg=pick(draw, [None, "1", "2", "", "3"]), artspe=pick(draw, ["false", "true", None, "1", "0", "x"]),
            section=pick(draw, [None, None, *SECTION_CODES]), amounts=amounts,
            calculated=draw(st.integers(0, 6)) == 0))
    header = dict(
        siret=pick(draw, ["21560046100010", "21560046100010", "21930048700013", *SIRETS, None]),
        year=pick(draw, ["2022", "2021", "2023", "2018", "2013", *YEARS, None]),
        natdec=pick(draw, ["01", "02", "03", "09", "10", *NATDECS, None]),
        nomenclature=pick(draw, [*NOMENCLATURES[:4], *NOMENCLATURES, None]),
        budget_type=pick(draw, ["P", "A", None, "X"]),
        main_siret=pick(draw, [None, "21560046100010", "21930048700013", ""]),
        decision_number=pick(draw, [None, "1", "2", "", "x" * 300]),
        collectivite=xml_safe(pick(draw, ["CRACH", "", "Saint-Étienne", *GENERIC])),
        etablissement=xml_safe(pick(draw, ["BUDGET PRINCIPAL", "LOTISSEMENT", "", *GENERIC])),
        encoding=pick(draw, ["UTF-8", "ISO-8859-1"]),
        cfu=draw(st.integers(0, 4)) == 0,
    )
    try:
        data = totem_document(lines, **header)
    except UnicodeEncodeError:
        header["encoding"] = "UTF-8"
        data = totem_document(lines, **header)
    return data, f"structured document: {len(lines)} lines, header {header}"


def metamorphic_variant(draw, seed: Seed, steps: list[str]) -> bytes:
    """A rewriting that changes no information: the outcome must be the seed's."""
    kind = pick(draw, ["encoding", "bom", "prefix", "comments", "character_references", "whitespace", "crlf",
                       "single_quotes", "attribute_order", "end_tags", "unknown_elements", "declaration_alias"])
    steps.append(f"same meaning: {kind}")
    if kind in ("encoding", "bom", "declaration_alias"):
        text = seed_text(seed)
        if kind == "bom":
            return b"\xef\xbb\xbf" + ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")
        if kind == "declaration_alias":
            codec, names = pick(draw, [("latin-1", ["latin1", "ISO_8859-1", "iso-8859-1", "l1", "LATIN-1"]),
                                       ("utf-8", ["utf8", "Utf-8", "UTF8"])])
            name = pick(draw, names)
            steps.append(f"declared {name}")
            return (f'<?xml version="1.0" encoding="{name}"?>\n' + text).encode(codec, "xmlcharrefreplace")
        encoding = pick(draw, ["UTF-8", "ISO-8859-1", "US-ASCII", "windows-1252", "ISO-8859-15", None])
        if encoding is None:  # no declaration: UTF-8
            return text.encode("utf-8")
        return etree.tostring(parsed(seed).getroottree(), encoding=encoding, xml_declaration=True)
    root = parsed(seed)
    if kind == "prefix":
        namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if prefix is not None}
        namespaces["db"] = NS
        clone = etree.Element(root.tag, nsmap=namespaces)
        for name, value in root.attrib.items():
            clone.set(name, value)
        clone.text = root.text
        for child in root:
            clone.append(copy.deepcopy(child))
        etree.cleanup_namespaces(clone, top_nsmap=namespaces)
        return etree.tostring(clone, encoding=seed.encoding.upper(), xml_declaration=True)
    if kind == "comments":
        for element in list(root.iter()):
            if isinstance(element.tag, str) and draw(st.integers(0, 3)) == 0:
                element.insert(0, etree.Comment(" c ") if draw(st.booleans()) else etree.PI("x", 'V="9"'))
        return etree.tostring(root.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True)
    if kind == "unknown_elements":
        for line in list(root.iter(q("LigneBudget")))[:50]:
            etree.SubElement(line, q("LibCpte")).set("V", "libellé")
            etree.SubElement(line, q("MtSup")).set("Code", "X")
        return etree.tostring(root.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True)
    if kind == "attribute_order":
        for element in root.iter():
            if isinstance(element.tag, str) and len(element.attrib) > 1:
                items = list(element.attrib.items())
                element.attrib.clear()
                for name, value in reversed(items):
                    element.set(name, value)
        return etree.tostring(root.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True)
    if kind == "whitespace":
        for element in root.iter():
            element.tail = None if element.getparent() is not None else element.tail
            if isinstance(element.tag, str) and len(element):
                element.text = None
        pretty = draw(st.booleans())
        return etree.tostring(root.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True,
                              pretty_print=pretty)
    data = etree.tostring(root.getroottree(), encoding=seed.encoding.upper(), xml_declaration=True)
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "single_quotes":
        return re.sub(rb'(\s[\w:]+)="([^"\']*)"', rb"\1='\2'", data)
    if kind == "end_tags":
        return re.sub(rb"<([\w:]+)((?:\s+[\w:]+=\"[^\"]*\")*)\s*/>", rb"<\1\2></\1>", data)
    # character_references: a few attribute values written with numeric references
    def reference(match):
        value = match.group(1)
        if not value.isascii() or b"&" in value:
            return match.group(0)
        return b'V="' + b"".join(b"&#%d;" % byte if index % 2 == 0 else b"&#x%x;" % byte
                                 for index, byte in enumerate(value)) + b'"'
    return re.sub(rb'V="([^"]*)"', reference, data)


def plan_variant(draw, seed: Seed, steps: list[str], plan_locations: dict) -> tuple[bytes, str]:
    """The sample's own plan de comptes, mutated, served from a temporary mirror."""
    relative, plan_path = plan_locations[seed.name]
    data = Path(plan_path).read_bytes()
    kind = pick(draw, ["looked_up", "looked_up", "tree", "tree", "bytes", "prolog", "huge", "root"])
    if kind == "looked_up":
        # One value of an entry the sample's lines look up: what reaches the CSV.
        root = etree.fromstring(data, _TRUSTED_PARSER)
        used = set(re.findall(rb'<(?:Nature|ContNat|Fonction) V="([^"]*)"', seed.data))
        looked_up = [element for element in root.iter("Compte", "Chapitre", "RefFonc")
                     if element.get("Code", "").encode() in used] or list(root.iter("Compte"))
        element = looked_up[draw(st.integers(0, 10**6)) % len(looked_up)]
        name = pick(draw, ["Libelle", "Libelle", "Libelle", "Code", "Section", "DR", "RR", "DOES", "DOIS"])
        value = pick(draw, ["é" * 1_001, "6" * 200_000, "x\ny", "\u2028", ""]) if draw(st.booleans()) \
            else pick(draw, [*GENERIC, *CODES])
        element.set(name, xml_safe(value))
        steps.append(f"plan: {element.get('Code', '')[:20]} {element.tag}/@{name}={value[:40]!r} ({len(value)} chars)")
        data = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)
    elif kind in ("tree", "root"):
        root = etree.fromstring(data, _TRUSTED_PARSER)
        mutator = Mutator(draw, root, steps)
        if kind == "root":
            root.tag = pick(draw, ["Nomenclature2", "{urn:x}Nomenclature", "DocumentBudgetaire"])
            steps.append(f"plan root renamed {root.tag}")
        # Entries the sample's lines look up, most of the time: a plan has thousands of others.
        used = set(re.findall(rb'<(?:Nature|ContNat|Fonction) V="([^"]*)"', seed.data))
        looked_up = [element for element in root.iter("Compte", "Chapitre", "RefFonc")
                     if element.get("Code", "").encode() in used]
        for _ in range(draw(st.integers(1, 4))):
            if looked_up and draw(st.integers(0, 3)):
                element = mutator.choose(looked_up)
            else:
                element = mutator.choose(mutator.by_local(("Compte", "Chapitre", "RefFonc")))
            operation = pick(draw, ["attribute", "attribute", "attribute", "delete", "duplicate", "nest", "clear",
                                    "move"])
            if operation == "attribute":
                name = pick(draw, ["Libelle", "Code", "Libelle", "Section", "DR", "RR", "DOES", "ROES", "DOIS",
                                   "ROIS", "TypeChapitre", "Libelle"])
                value = value_for(draw, pick(draw, ["code", "generic", "section"])) if draw(st.integers(0, 3)) \
                    else pick(draw, ["é", "6", " "]) * pick(draw, [1_001, 200_000])
                mutator.set_value(element, value, name)
            elif operation == "nest":
                depth = pick(draw, [10, 300, 3000])
                parent = element
                for _ in range(depth):
                    parent = etree.SubElement(parent, "Compte", Code="6")
                steps.append(f"plan: nest Compte depth {depth}")
            else:
                getattr(mutator, f"op_{operation}")()
        data = etree.tostring(root.getroottree(), encoding="UTF-8", xml_declaration=True)
    elif kind == "bytes":
        data = byte_mutations(draw, data, steps, [])
    elif kind == "prolog":
        junk = pick(draw, DOCTYPES + [b"\xff\xfe", b"", b"<!-- " + b"x" * 70_000 + b" -->"])
        data = data.replace(b"?>", b"?>" + junk, 1)
        steps.append(f"plan prolog {junk[:40]!r}")
    else:
        size = pick(draw, [16 * 2**20 + 1, 3_000_000])
        data = data.replace(b"<Nature>", b"<Nature><!--" + b"x" * size + b"-->", 1)
        steps.append(f"plan padded by {size} bytes")
    return data, relative


def case_strategy(seeds: list[Seed], natures, functions, plan_locations):
    trimmed_seeds = [seed for seed in seeds if "~" in seed.name]
    document_seeds = [seed for seed in seeds if "~" in seed.name or seed.data.count(b"<LigneBudget") < 5000]

    @st.composite
    def cases(draw):
        kind = pick_weighted(draw, [(14, "tree"), (10, "bytes"), (6, "tree+bytes"), (10, "prolog"), (7, "cfu"),
                                    (6, "limits"), (6, "scratch"), (12, "structured"), (12, "metamorphic"),
                                    (8, "plan"), (1, "random"), (1, "size")])
        seed = pick_weighted(draw, [(9, trimmed_seeds), (1, document_seeds)])
        seed = pick(draw, seed)
        steps = [f"{kind} from {seed.name}"]
        case = Case(b"", steps)
        if kind in ("tree", "tree+bytes"):
            root = parsed(seed)
            mutator = Mutator(draw, root, steps)
            for _ in range(draw(st.integers(1, 4))):
                mutator.mutate()
            case.document = serialise(draw, root, seed, steps)
            if kind == "tree+bytes":
                case.document = byte_mutations(draw, case.document, steps, seeds)
        elif kind == "bytes":
            case.document = byte_mutations(draw, seed.data, steps, seeds)
        elif kind == "prolog":
            case.document = prolog_variant(draw, seed, steps)
        elif kind == "cfu":
            case.document, case.expect_same_as = cfu_variant(draw, trimmed_seeds, steps)
        elif kind == "limits":
            case.document = limits_variant(draw, seed, steps)
        elif kind == "scratch":
            case.document = draw(scratch_tree())
        elif kind == "structured":
            case.document, description = draw(structured_document(natures, functions))
            steps[0] = description
        elif kind == "metamorphic":
            case.document = metamorphic_variant(draw, seed, steps)
            case.expect_same_as = seed.name
        elif kind == "plan":
            usable = [seed for seed in trimmed_seeds if seed.name in plan_locations] or trimmed_seeds
            seed = pick(draw, usable)
            steps[0] = f"plan from {seed.name}"
            case.document = seed.data
            if seed.name in plan_locations:
                case.plan, case.plan_relative = plan_variant(draw, seed, steps, plan_locations)
        elif kind == "random":
            case.document = draw(st.one_of(st.binary(max_size=2000),
                                           st.text(max_size=2000).map(lambda text: text.encode("utf-8", "replace"))))
        else:
            case.document = seed.data
            case.max_bytes = pick(draw, [1, len(seed.data) - 1, len(seed.data), len(seed.data) + 1])
            steps.append(f"max_bytes {case.max_bytes}")
        return case

    return cases()


# --- running one case ---------------------------------------------------------------------------


class ExampleTimeout(BaseException):
    """Raised by SIGALRM in the example: a BaseException, so that no ``except Exception`` hides it."""


def _alarm(_signum, _frame):
    raise ExampleTimeout()


@dataclass
class Outcome:
    label: str  # grouped outcome: "ok", "ok, invalid: ...", "DocumentError: malformed_xml"...
    finding: str | None = None  # a signature when the contract is broken
    detail: str = ""
    csv: bytes | None = None
    message_id: str | None = None
    seconds: float = 0.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def exception_signature(stage: str, error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "ckanext" in frame.filename] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"exception {stage} {type(error).__name__} at {where}"


class Runner:
    """Runs a case through the harvest's path and checks the contract."""

    def __init__(self, work: Path, timeout: float, hard_timeout: float):
        self.work = work
        self.timeout = timeout
        self.hard_timeout = hard_timeout
        self.document = work / "document.xml"
        self.output = work / "scdl.csv"
        self.cache = work / "cache"
        self.plans = work / "plans"
        self.hang_log = open(work / "hang-traceback.txt", "w")  # noqa: SIM115 - open for the whole run
        signal.signal(signal.SIGALRM, _alarm)

    def run(self, case: Case) -> Outcome:
        self.document.write_bytes(case.document)
        if self.output.exists():
            self.output.unlink()
        plans = str(PLANS_DIR)
        if case.plan is not None:
            shutil.rmtree(self.plans, ignore_errors=True)
            plan_path = self.plans / case.plan_relative / "planDeCompte.xml"
            plan_path.parent.mkdir(parents=True)
            plan_path.write_bytes(case.plan)
            nomenclature.clear_caches()
            plans = str(self.plans)
        stage = ["start"]
        faulthandler.dump_traceback_later(self.hard_timeout, exit=True, file=self.hang_log)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        started = time.perf_counter()
        try:
            outcome = self._pipeline(case, plans, stage)
        except ExampleTimeout:
            outcome = Outcome("timeout", f"timeout in {stage[0]}", f"more than {self.timeout} s in {stage[0]}")
        except MemoryError as error:
            outcome = Outcome("MemoryError", f"memory in {stage[0]}", "".join(traceback.format_exception(error)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            faulthandler.cancel_dump_traceback_later()
            if case.plan is not None:
                nomenclature.clear_caches()
        outcome.seconds = time.perf_counter() - started
        if outcome.finding is None and outcome.seconds > self.timeout:
            outcome.finding = "slow example"
            outcome.detail = f"{outcome.seconds:.1f} s"
        return outcome

    def _pipeline(self, case: Case, plans: str, stage: list[str]) -> Outcome:
        document = str(self.document)
        options = {} if case.max_bytes is None else {"max_bytes": case.max_bytes}
        try:
            settings = Settings(plans_de_comptes=plans, scdl_schema=str(SCHEMA_PATH), cache_dir=str(self.cache))
            if case.max_bytes is not None:
                settings = settings.replace(max_document_size=case.max_bytes)
            pipeline = Pipeline(settings)
            stage[0] = "convert"
            processed = pipeline.run(document, str(self.output), validate=False)
            result = processed.conversion
            stage[0] = "validate"
            processed = pipeline.validated(processed)
            report = processed.validation
            stage[0] = "report"
            json.dumps(processed.report, ensure_ascii=False)
        except BudgetodError as error:
            return self._failure(case, error, stage[0], document, options)
        except Exception as error:  # noqa: BLE001 - exactly what the fuzzer looks for
            return Outcome(f"{type(error).__name__} (unexpected)", exception_signature(stage[0], error),
                           "".join(traceback.format_exception(error)))
        stage[0] = "check output"
        for warning in result.warnings:
            for lang in ("fr", "en"):
                text = warning.message(lang)
                if re.search(r"[\x00-\x1f\x7f\u2028\u2029\x85]", text) or len(text) > 600:
                    return Outcome("ok, but a warning is not one short line",
                                   f"warning not one short line ({warning.code})", repr(text[:600]))
        csv_bytes = self.output.read_bytes()
        problem = self._check_csv(csv_bytes, result)
        if problem:
            return Outcome("ok, but wrong output", f"output: {problem.split(':')[0]}", problem, csv_bytes)
        stage[0] = "inspect"
        try:
            info = inspect_document(document, **options)
        except Exception as error:  # noqa: BLE001
            return Outcome("inspect fails on a converted document", exception_signature("inspect", error),
                           "".join(traceback.format_exception(error)), csv_bytes)
        if (info.lines_total, info.lines_calculated) != (result.info.lines_total, result.info.lines_calculated):
            return Outcome("inspect disagrees", "inspect disagrees with convert",
                           f"{info.lines_total}/{info.lines_calculated} vs "
                           f"{result.info.lines_total}/{result.info.lines_calculated}", csv_bytes)
        if report.valid:
            label = "ok, valid"
        else:
            kinds = sorted({error.type for error in report.errors})
            label = "ok, invalid: " + ", ".join(kinds)
        return Outcome(label, csv=csv_bytes)

    def _failure(self, case: Case, error: BudgetodError, stage: str, document: str, options: dict) -> Outcome:
        kind = type(error).__name__
        message_id = error.message_id or (error.cause.en if isinstance(error.cause, messages.Bilingual) else None)
        label = f"{kind}: {error.message_id or re.sub(r'[0-9]+', 'N', str(message_id))[:70]}"
        problems: list[tuple[str, str]] = []  # (stable kind, detail)
        try:
            lines = {lang: error.describe(lang) for lang in ("fr", "en")}
            causes = {lang: error.localized_cause(lang) for lang in ("fr", "en")}
            str(error)
        except Exception as exception:  # noqa: BLE001
            return Outcome(label, exception_signature(f"{stage}/error message", exception),
                           "".join(traceback.format_exception(exception)))
        if not error.source:
            problems.append(("error names no file", ""))
        elif isinstance(error, DocumentError) and error.source != document:
            problems.append(("DocumentError names another file", error.source))
        for lang in ("fr", "en"):
            if not causes[lang].strip():
                problems.append((f"empty cause ({lang})", ""))
            if re.search(r"[\x00-\x1f\x7f\u2028\u2029\x85]", lines[lang]):
                problems.append(("cause not on one line", repr(lines[lang][:300])))
            if len(causes[lang]) > 600:
                problems.append(("cause too long", f"{len(causes[lang])} characters ({lang})"))
        french = next((fragment for fragment in FRENCH_ONLY if fragment in causes["en"]), None)
        if french is not None:
            problems.append(("French in the English cause", f"{french!r} in {causes['en'][:300]!r}"))
        if error.message_id is not None and error.message_id not in messages.MESSAGES:
            problems.append(("unknown message id", error.message_id))
        if error.message_id is None and not isinstance(error.cause, messages.Bilingual):
            problems.append(("cause in one language only", str(error.cause)[:200]))
        if stage == "validate" and type(error).__name__ == "UnusableInput":
            problems.append(("validation cannot read the converted CSV", lines["en"]))
        if not problems and stage == "convert" and isinstance(error, DocumentError):
            # budgetod inspect must refuse the document for the same reason.
            try:
                inspect_document(document, **options)
                problems.append(("inspect accepts what convert refused", str(error.message_id)))
            except DocumentError as inspected:
                if inspected.message_id != error.message_id:
                    problems.append(("inspect and convert refuse for different reasons",
                                     f"{inspected.message_id} / {error.message_id}"))
            except Exception as exception:  # noqa: BLE001
                return Outcome(label, exception_signature("inspect", exception),
                               "".join(traceback.format_exception(exception)))
        if problems:
            kind = problems[0][0]
            return Outcome(label, f"error contract: {kind} [{label}]",
                           "\n".join(f"{name}: {detail}" for name, detail in problems) + "\n\n" + lines["en"],
                           message_id=error.message_id)
        return Outcome(label, message_id=error.message_id or label, detail=lines["en"])

    @staticmethod
    def _check_csv(data: bytes, result) -> str | None:
        if data.startswith(b"\xef\xbb\xbf") or data.split(b"\n", 1)[0].endswith(b"\r"):
            return "csv: BOM or CRLF"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            return f"csv not UTF-8: {error}"
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or tuple(rows[0]) != SCDL_FIELDS:
            return "header: not the SCDL header"
        if len(rows) - 1 != result.rows:
            return f"rows: {len(rows) - 1} in the CSV, {result.rows} reported"
        amounts = range(SCDL_FIELDS.index("BGT_MTREAL"), SCDL_FIELDS.index("BGT_MTRAR3112") + 1)
        natdecs = set(NATDEC_SCDL_LABELS.values())
        for number, row in enumerate(rows[1:], 1):
            if len(row) != len(SCDL_FIELDS):
                return f"row width: row {number} has {len(row)} cells"
            cells = dict(zip(SCDL_FIELDS, row))
            if not re.fullmatch(r"[0-9]{14}", cells["BGT_SIRET"]):
                return f"siret: {cells['BGT_SIRET'][:40]!r}"
            if not re.fullmatch(r"[0-9]{4}", cells["BGT_ANNEE"]):
                return f"year: {cells['BGT_ANNEE'][:40]!r}"
            if cells["BGT_NATDEC"] not in natdecs or cells["BGT_CODRD"] not in CODRD.values() \
                    or cells["BGT_OPBUDG"] not in OPBUDG.values():
                return f"enumerations: {cells['BGT_NATDEC']!r} {cells['BGT_CODRD']!r} {cells['BGT_OPBUDG']!r}"
            if cells["BGT_SECTION"] not in ("", *SECTIONS.values()):
                return f"section: {cells['BGT_SECTION'][:40]!r}"
            for index in amounts:
                if row[index] and not ASCII_DECIMAL.fullmatch(row[index]):
                    return f"amount: {SCDL_FIELDS[index]} {row[index][:40]!r}"
        return None


# --- the run -------------------------------------------------------------------------------------


class FuzzFinding(Exception):
    """Raised inside Hypothesis for a new finding, so that it shrinks it; one subclass per signature."""


@dataclass
class State:
    runner: Runner
    baselines: dict
    max_examples: int | None
    deadline: float | None
    rss_limit_mb: float
    examples: int = 0
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    kinds: collections.Counter = field(default_factory=collections.Counter)
    kind_seconds: collections.Counter = field(default_factory=collections.Counter)
    findings: dict = field(default_factory=dict)  # signature -> saved directory
    occurrences: collections.Counter = field(default_factory=collections.Counter)
    smallest: dict = field(default_factory=dict)  # signature -> (case, outcome) within the current batch
    classes: dict = field(default_factory=dict)
    slowest: tuple = (0.0, "")
    fuzzer_errors: list = field(default_factory=list)
    seconds_total: float = 0.0

    def finding_class(self, signature: str):
        if signature not in self.classes:
            self.classes[signature] = type(f"Finding{len(self.classes)}", (FuzzFinding,), {})
        return self.classes[signature]

    def execute(self, case: Case) -> Outcome:
        peak_before = peak_rss_mb()
        outcome = self.runner.run(case)
        self.examples += 1
        self.seconds_total += outcome.seconds
        kind = case.steps[0].split(" ")[0]
        self.kinds[kind] += 1
        self.kind_seconds[kind] += outcome.seconds
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, case.describe()[:200])
        if outcome.finding is None and case.expect_same_as is not None:
            expected = self.baselines[case.expect_same_as]
            if (outcome.csv, outcome.message_id) != (expected.csv, expected.message_id):
                outcome.finding = f"rewriting changes the outcome ({case.steps[1] if len(case.steps) > 1 else ''})"[:90]
                outcome.detail = (f"expected {expected.label} ({expected.message_id}), got {outcome.label} "
                                  f"({outcome.message_id}); CSV equal: {outcome.csv == expected.csv}\n{outcome.detail}")
        peak_after = peak_rss_mb()
        if outcome.finding is None and peak_after > self.rss_limit_mb and peak_after > peak_before:
            # This example raised the process' peak over the limit (ru_maxrss never goes down: a peak
            # reached while generating examples is reported at the end, not blamed on an example).
            outcome.finding = "memory: peak RSS over the limit"
            outcome.detail = f"peak RSS {peak_before:.0f} MB before the example, {peak_after:.0f} MB after"
        self.outcomes[outcome.label if outcome.finding is None else f"FINDING {outcome.finding}"] += 1
        return outcome


def save_finding(signature: str, case: Case, outcome: Outcome, reduced: bytes | None, seed_value: int) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", signature.lower()).strip("-")[:60] + "-" + \
        hashlib.sha1(signature.encode()).hexdigest()[:8]
    directory = FINDINGS_DIR / slug
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "document.xml").write_bytes(case.document)
    if reduced is not None and reduced != case.document:
        (directory / "document-reduced.xml").write_bytes(reduced)
    plan_option = ""
    if case.plan is not None:
        (directory / "plan" / case.plan_relative).mkdir(parents=True, exist_ok=True)
        (directory / "plan" / case.plan_relative / "planDeCompte.xml").write_bytes(case.plan)
        plan_option = f" --replay-plans {directory / 'plan'}"
    (directory / "finding.txt").write_text(
        f"signature: {signature}\nseed: {seed_value}\noutcome: {outcome.label}\nseconds: {outcome.seconds:.2f}\n"
        f"made by: {case.describe()}\nsize: {len(case.document)} bytes"
        + (f", reduced to {len(reduced)}" if reduced is not None else "") + "\n"
        f"replay: .local/venv/bin/python bench/fuzz_reader.py --replay {directory / 'document.xml'}{plan_option}\n\n"
        f"{outcome.detail}\n", encoding="utf-8")
    return directory


def reduce_document(runner: Runner, case: Case, signature: str, budget_seconds: float) -> bytes | None:
    """Line-level delta debugging of the document, keeping the same finding."""
    if signature.startswith(("timeout", "slow", "memory")) or case.expect_same_as is not None:
        return None
    started = time.monotonic()
    lines = case.document.splitlines(keepends=True)
    chunk = max(1, len(lines) // 2)
    while chunk >= 1 and time.monotonic() - started < budget_seconds:
        index, removed_any = 0, False
        while index < len(lines) and time.monotonic() - started < budget_seconds:
            candidate = lines[:index] + lines[index + chunk:]
            trial = Case(b"".join(candidate), case.steps, case.plan, case.plan_relative, None, case.max_bytes)
            if candidate and runner.run(trial).finding == signature:
                lines, removed_any = candidate, True
            else:
                index += chunk
        if not removed_any:
            chunk //= 2
    return b"".join(lines)


def run_batches(state: State, strategy, base_seed: int, batch_size: int, seed_value: int) -> None:
    batch = 0
    while True:
        if state.max_examples is not None and state.examples >= state.max_examples:
            return
        if state.deadline is not None and time.monotonic() >= state.deadline:
            return
        size = batch_size if state.max_examples is None else min(batch_size, state.max_examples - state.examples)
        state.smallest.clear()
        raised: set[str] = set()

        @settings(max_examples=size, deadline=None, database=None, derandomize=False, print_blob=False,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, report_multiple_bugs=True,
                  phases=(Phase.generate, Phase.shrink))
        @hypothesis_seed(base_seed * 1_000_003 + batch)
        @given(strategy)
        def fuzz_one(case):
            outcome = state.execute(case)
            if outcome.finding is None:
                return
            state.occurrences[outcome.finding] += 1
            if outcome.finding in state.findings:
                return  # saved by an earlier batch: counted, not shrunk again
            previous = state.smallest.get(outcome.finding)
            if previous is None or len(case.document) <= len(previous[0].document):
                state.smallest[outcome.finding] = (case, outcome)
            raised.add(outcome.finding)
            raise state.finding_class(outcome.finding)(outcome.finding)

        try:
            fuzz_one()
        except Exception as error:  # noqa: BLE001 - findings are read from state; anything else is ours
            failures = list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]
            for failure in failures:
                if not isinstance(failure, FuzzFinding):
                    state.fuzzer_errors.append("".join(traceback.format_exception(failure)))
                    print(f"  fuzzer error (a bug of this script, batch {batch}):\n"
                          + state.fuzzer_errors[-1], flush=True)
        for signature in sorted(raised):
            case, outcome = state.smallest[signature]
            reduced = reduce_document(state.runner, case, signature, budget_seconds=20)
            directory = save_finding(signature, case, outcome, reduced, seed_value)
            state.findings[signature] = directory
            print(f"  finding: {signature}\n    saved in {directory.relative_to(REPOSITORY)}", flush=True)
        batch += 1
        if batch % 10 == 0:
            print(f"  {state.examples} examples, {len(state.findings)} findings, "
                  f"peak RSS {peak_rss_mb():.0f} MB", flush=True)


def plan_locations_of(seeds: list[Seed]) -> dict:
    """Where each trimmed sample's plan lies in the mirror: (relative directory, path)."""
    from ckanext.budgetod.core.totem.reader import read_header

    locations = {}
    with tempfile.TemporaryDirectory() as directory:
        for seed in seeds:
            if "~" not in seed.name:
                continue
            path = Path(directory) / "seed.xml"
            path.write_bytes(seed.data)
            try:
                header = read_header(path)
            except BudgetodError:
                continue
            lookup = nomenclature.find_plan(str(PLANS_DIR), header.norme, header.declinaison, header.exercice)
            if lookup.plan is not None:
                relative = f"{header.exercice}/{header.norme}/{header.declinaison}"
                locations[seed.name] = (relative, lookup.plan.location)
    return locations


def replay(arguments) -> int:
    work = Path(tempfile.mkdtemp(prefix="budgetod-fuzz-replay-"))
    runner = Runner(work, arguments.example_timeout, arguments.example_timeout * 6)
    case = Case(Path(arguments.replay).read_bytes(), [f"replay {arguments.replay}"])
    if arguments.replay_plans:
        plan_files = sorted(Path(arguments.replay_plans).glob("*/*/*/planDeCompte.xml"))
        if plan_files:
            case.plan = plan_files[0].read_bytes()
            case.plan_relative = str(plan_files[0].parent.relative_to(arguments.replay_plans))
    outcome = runner.run(case)
    print(f"outcome: {outcome.label} in {outcome.seconds:.2f} s")
    if outcome.detail:
        print(outcome.detail)
    if outcome.finding:
        print(f"FINDING: {outcome.finding}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if outcome.finding else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None, help="stop after this many examples")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds (600 when neither --examples nor --seconds is given)")
    parser.add_argument("--seed", type=int, default=None, help="base seed of the Hypothesis runs (random by default)")
    parser.add_argument("--batch", type=int, default=100, help="examples per Hypothesis run")
    parser.add_argument("--example-timeout", type=float, default=5.0, help="seconds one example may take")
    parser.add_argument("--rss-limit-mb", type=float, default=1024, help="peak resident memory that is a finding")
    parser.add_argument("--memory-limit-mb", type=int, default=4096, help="address-space cap (RLIMIT_AS)")
    parser.add_argument("--replay", help="run one saved document and print its outcome")
    parser.add_argument("--replay-plans", help="with --replay: the plan mirror saved beside the document")
    arguments = parser.parse_args()

    os.environ.pop("BUDGETOD_LANG", None)
    os.environ["BUDGETOD_PLANS_DE_COMPTES"] = str(PLANS_DIR)
    os.environ["BUDGETOD_SCDL_SCHEMA"] = str(SCHEMA_PATH)
    limit = arguments.memory_limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    if arguments.replay:
        return replay(arguments)

    if arguments.examples is None and arguments.seconds is None:
        arguments.seconds = 600
    seed_value = arguments.seed if arguments.seed is not None else int.from_bytes(os.urandom(4), "big")
    FUZZ_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"work-{os.getpid()}-", dir=FUZZ_DIR))
    runner = Runner(work, arguments.example_timeout, max(30.0, arguments.example_timeout * 6))
    started = time.monotonic()
    rss_start = current_rss_mb()

    seeds = load_seeds()
    natures, functions = real_codes()
    plan_locations = plan_locations_of(seeds)
    baselines = {}
    for seed in seeds:
        baselines[seed.name] = runner.run(Case(seed.data, [f"seed {seed.name}"]))
        if baselines[seed.name].finding:
            print(f"seed {seed.name} itself breaks the contract: {baselines[seed.name].finding}")
    print(f"fuzz_reader: seed {seed_value}, {len(seeds)} samples "
          f"({sum(1 for outcome in baselines.values() if outcome.label.startswith('ok'))} convert), "
          f"limit {arguments.examples or '-'} examples / {arguments.seconds or '-'} s, "
          f"{arguments.example_timeout} s per example", flush=True)

    deadline = started + arguments.seconds if arguments.seconds else None
    state = State(runner, baselines, arguments.examples, deadline, arguments.rss_limit_mb)
    strategy = case_strategy(seeds, natures, functions, plan_locations)
    try:
        run_batches(state, strategy, seed_value, arguments.batch, seed_value)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    elapsed = time.monotonic() - started

    print(f"\n{state.examples} examples in {elapsed:.0f} s ({state.examples / max(elapsed, 1e-9):.1f}/s; "
          f"{state.seconds_total:.0f} s inside the examples, the rest generating and shrinking)")
    print("by strategy (examples, seconds inside them): " + ", ".join(
        f"{kind} {count} ({state.kind_seconds[kind]:.0f} s)" for kind, count in state.kinds.most_common()))
    print(f"distinct outcomes: {len(state.outcomes)}")
    for label, count in state.outcomes.most_common():
        print(f"  {count:>7}  {label}")
    print(f"slowest example: {state.slowest[0]:.2f} s ({state.slowest[1]})")
    print(f"RSS: {rss_start:.0f} MB at start, {current_rss_mb():.0f} MB at the end, peak {peak_rss_mb():.0f} MB")
    if state.findings:
        print(f"\n{len(state.findings)} finding(s):")
        for signature, directory in state.findings.items():
            print(f"  {signature} (seen {state.occurrences[signature]}x): {directory.relative_to(REPOSITORY)}")
    else:
        print("\nno finding")
    summary = {"seed": seed_value, "examples": state.examples, "seconds": round(elapsed, 1),
               "outcomes": dict(state.outcomes), "peak_rss_mb": round(peak_rss_mb()),
               "findings": {signature: str(directory) for signature, directory in state.findings.items()}}
    (FUZZ_DIR / "last-run.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    runner.hang_log.close()
    shutil.rmtree(work, ignore_errors=True)
    if state.fuzzer_errors:
        print(f"{len(state.fuzzer_errors)} batch(es) ended by an error of the fuzzer itself (see above)")
    return 1 if state.findings or state.fuzzer_errors else 0


if __name__ == "__main__":
    sys.exit(main())
