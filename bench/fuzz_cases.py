"""The fuzzer's inputs: Hypothesis strategies that mutate the samples (tree, bytes, prolog, CFU
wrapper, parser limits, plans de comptes) or build documents from scratch."""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from fuzz_documents import (
    ACTUAL_ENCODINGS,
    AMOUNTS,
    ATTRIBUTE_NAMES,
    BOMS,
    BYTE_TOKENS,
    CALCULATED,
    CODES,
    DECLARATION_STYLES,
    DECLARED_ENCODINGS,
    DEPTHS,
    DOCTYPES,
    ELEMENT_NAMES,
    ENTITY_REFERENCES,
    GENERIC,
    HEADER_ELEMENTS,
    HUGE_SIZES,
    LINE_CODES,
    NAMESPACES,
    NATDECS,
    NOMENCLATURES,
    NS,
    SECTION_CODES,
    SIRETS,
    TRUSTED_PARSER,
    WIDTHS,
    XML_DECLARATION,
    YEARS,
    Seed,
    q,
    xml_safe,
)
from hypothesis import strategies as st
from lxml import etree

from ckanext.budgetod.core.totem.reader import AMOUNT_ELEMENTS
from tests.support.totem_factory import CFU_NAMESPACE, COMPTABLE_NAMESPACE, Line, totem_document

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
        value = pick(self.draw, values) if self.draw(st.booleans()) else value_for(self.draw, "generic")
        self.set_value(element, value)

    def op_attribute(self):
        self.set_value(self.choose(self.elements()), value_for(self.draw, "generic"), pick(self.draw, ATTRIBUTE_NAMES))

    def op_delete_attribute(self):
        element = self.choose(self.elements())
        if element.attrib:
            name = min(element.attrib)
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
    return etree.fromstring(seed.data, TRUSTED_PARSER)


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
    junk = pick(draw, [b"\n" * 70_000, b" " * 65_536, b"<!-- " + b"x" * 70_000 + b" -->",
                       b"<?pi " + b"y" * 70_000 + b"?>", b"<!-- unterminated", b"<?pi unterminated",
                       b"text before root", b"\x00", b"]]>", b"<!-- a --><!-- b --><?c d?>", b"\r\n\r\n"])
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
        comment = b"<!--" + chunk.replace(b"--", b"..") + b"-->"
        insert = comment if kind == "huge_comment" else chunk.replace(b"<", b"")
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
    header = {
        "siret": pick(draw, ["21560046100010", "21560046100010", "21930048700013", *SIRETS, None]),
        "year": pick(draw, ["2022", "2021", "2023", "2018", "2013", *YEARS, None]),
        "natdec": pick(draw, ["01", "02", "03", "09", "10", *NATDECS, None]),
        "nomenclature": pick(draw, [*NOMENCLATURES[:4], *NOMENCLATURES, None]),
        "budget_type": pick(draw, ["P", "A", None, "X"]),
        "main_siret": pick(draw, [None, "21560046100010", "21930048700013", ""]),
        "decision_number": pick(draw, [None, "1", "2", "", "x" * 300]),
        "collectivite": xml_safe(pick(draw, ["CRACH", "", "Saint-Étienne", *GENERIC])),
        "etablissement": xml_safe(pick(draw, ["BUDGET PRINCIPAL", "LOTISSEMENT", "", *GENERIC])),
        "encoding": pick(draw, ["UTF-8", "ISO-8859-1"]),
        "cfu": draw(st.integers(0, 4)) == 0,
    }
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
        root = etree.fromstring(data, TRUSTED_PARSER)
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
        root = etree.fromstring(data, TRUSTED_PARSER)
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


