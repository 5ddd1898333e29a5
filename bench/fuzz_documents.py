"""The fuzzer's raw material: the sample documents (seeds), the values a mutation writes, and
names of the TOTEM namespace."""
from __future__ import annotations

import datetime
import re
import sys
from dataclasses import dataclass

from locations import REPOSITORY, SHARED_DATA

sys.path.insert(0, str(REPOSITORY))  # ckanext (also installed editable) and tests.support.totem_factory

from lxml import etree

from ckanext.budgetod.core.totem import nomenclature
from ckanext.budgetod.core.totem.reader import TOTEM_NAMESPACE
from tests.support.totem_factory import CFU_NAMESPACE, COMPTABLE_NAMESPACE

TOTEM_DIR = SHARED_DATA / "totem"
PLANS_DIR = SHARED_DATA / "plans-de-comptes"
SCHEMA_PATH = SHARED_DATA / "scdl-budget" / "schema-0.8.3.json"
NS = TOTEM_NAMESPACE
XML_DECLARATION = re.compile(r"^\ufeff?<\?xml[^>]*\?>")
# Characters XML 1.0 cannot carry at all, even as character references.
NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
THIS_YEAR = datetime.date.today().year




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


TRUSTED_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def declared_encoding(data: bytes) -> str:
    match = re.match(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*encoding=[\"']([^\"']+)", data)
    return match.group(1).decode("ascii").lower() if match else "utf-8"


def trimmed(data: bytes, keep_lines: int, keep_children: int = 2) -> bytes:
    """A real document cut down to its first lines and a few annex and accounting entries."""
    root = etree.fromstring(data, TRUSTED_PARSER)
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
    "M14-M14_" + "A" * 5000, "M14-M14_" + "A" * 300, "M57-M57_" + "A1_" * 320, "m14-m14_com", "M14-M14__X",
    "M14-M14_COM_500_3500/../x", "M１４-M１４", "M999-M999",
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
    (b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'),
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
    '<?xml version="1.0" encoding="{e}"?>', "<?xml version='1.0' encoding='{e}'?>",
    '<?xml version="1.1" encoding="{e}"?>', '<?xml version="1.0" encoding="{e}" standalone="yes"?>',
    '<?xml encoding="{e}"?>', '<?XML version="1.0" encoding="{e}"?>',
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


