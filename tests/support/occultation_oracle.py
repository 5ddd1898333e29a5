"""An independent oracle of the occultation, for the core's and the portal's tests.

It reads documents as trees with lxml and applies the default rules by their meaning (row ancestors,
the row's code, namespaces resolved), where the product rewrites bytes: a row's code is read as a TOTEM
reader reads it (from the TOTEM namespace only, trimmed), an element a rule names outside a row of a
rule naming it is designated, and comments and processing instructions must be gone.
"""
from __future__ import annotations

from lxml import etree

from ckanext.budgetod.core.totem.occultation import load_rules

REPLACEMENT = "Occultation article L311-7 CRPA"
TOTEM = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
RULES = load_rules()
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def _local(element) -> str:
    return etree.QName(element).localname


def codes(row, element_name: str) -> list[str]:
    return [" ".join((code.get("V") or "").split()) for code in row.iter(f"{{{TOTEM}}}{element_name}")
            if (code.get("V") or "").strip()]


def designated(root) -> set:
    """The elements the default rules designate."""
    found = set()
    named_in_rows = {element for rule in RULES.rules if rule.row is not None for element in rule.elements}
    classified = {element for rule in RULES.rules if rule.row is not None for row in root.iter(f"{{*}}{rule.row}")
                  for element in row.iter(etree.Element) if element is not row and _local(element) in rule.elements}
    # Outside the rows whose rules name it: not classified, so designated.
    found.update(element for element in root.iter(etree.Element)
                 if _local(element) in named_in_rows and element not in classified)
    for rule in RULES.rules:
        if rule.row is None:
            found.update(element for element in root.iter(etree.Element) if _local(element) in rule.elements)
            continue
        for row in root.iter(f"{{*}}{rule.row}"):
            if rule.condition is not None and not rule.condition.personal(codes(row, rule.condition.element)):
                continue
            found.update(element for element in row.iter(etree.Element)
                         if element is not row and _local(element) in rule.elements)
    return found


def _values(element) -> list[str]:
    return [*element.attrib.values(), element.text or ""]


def personal_values(original: bytes) -> set[str]:
    """Values found in designated elements only, nowhere else in the document."""
    root = etree.fromstring(original, _PARSER)
    targets = designated(root)
    personal = {value for element in targets for value in _values(element) if value.strip()}
    personal -= {value for element in root.iter(etree.Element) if element not in targets
                 for value in _values(element)}
    personal.discard(REPLACEMENT)
    return personal


def public_values(document: bytes) -> set[str]:
    """The values of the elements no rule designates: what may be published."""
    root = etree.fromstring(document, _PARSER)
    targets = designated(root)
    return {value for element in root.iter(etree.Element) if element not in targets for value in _values(element)}


def named_persons(original: bytes, *others: bytes) -> set[str]:
    """The personal values that are words (names, labels), which no figure of a CSV can match by chance,
    and that no published value of ``original`` or ``others`` contains (a club named like a person's
    row in one place may get a public subsidy in another)."""
    published = "\n".join(set().union(*(public_values(document) for document in (original, *others))))
    return {value for value in personal_values(original)
            if sum(char.isalpha() for char in value) >= 4 and value not in published}


def assert_occulted(original: bytes, occulted: bytes) -> int:
    """Every designated element holds only the replacement, everything else is unchanged; returns the
    number of designated elements with a value."""
    before = etree.fromstring(original, _PARSER)
    after = etree.fromstring(occulted, _PARSER)
    targets = designated(before)

    def compare(old, new):
        assert new.tag == old.tag and new.nsmap == old.nsmap
        if old in targets:
            for name, value in old.attrib.items():
                assert new.get(name) == (REPLACEMENT if value else value), (old.tag, name)
            if len(old) or (old.text or "").strip():
                assert len(new) == 0 and new.text == REPLACEMENT, old.tag
            else:
                assert new.text == old.text
            return
        assert dict(new.attrib) == dict(old.attrib), old.tag
        assert _text_runs(new) == _text_runs(old), old.tag
        old_children = [child for child in old if isinstance(child.tag, str)]
        new_children = [child for child in new if isinstance(child.tag, str)]
        assert len(old_children) == len(new_children), old.tag
        for old_child, new_child in zip(old_children, new_children, strict=True):
            compare(old_child, new_child)

    compare(before, after)
    assert not after.getroottree().xpath("//comment() | //processing-instruction()")
    remaining = {value for element in after.iter(etree.Element) for value in _values(element)}
    assert not personal_values(original) & remaining
    return sum(1 for element in targets if any(value.strip() for value in _values(element)))


def _text_runs(element) -> list[str]:
    """The text before each child element and after the last one, comments and processing instructions
    left out (they are dropped from a published document, their tails joined to the text before)."""
    runs = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            runs.append(child.tail or "")
        else:
            runs[-1] += child.tail or ""
    return runs


def leftover_personal_values(document: bytes) -> list[str]:
    """The values of designated elements that are not the replacement (none in an occulted document)."""
    root = etree.fromstring(document, _PARSER)
    return [value for element in designated(root) for value in _values(element)
            if value.strip() and value != REPLACEMENT]
