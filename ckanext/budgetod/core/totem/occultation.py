"""Occultation of personal data in TOTEM documents (CRPA article L311-7).

TOTEM annexes name natural persons: subsidy beneficiaries, loan beneficiaries, individual pay.
Before a document is published, the values the rules designate (``occultation_rules.yaml``, or a
file of the same shape) are replaced by a fixed text. Every other byte is copied as it is, so the
encoding declaration, the formatting, the namespace prefixes and the budget lines stay exactly as
written, and the document converts to the same SCDL CSV.

How, in one streaming pass with memory flat in the document's size:

- libxml2 parses the chunks as a SAX parser with no Python callback (C speed), with the reader's
  hardened options: the output is kept only when the whole document is well-formed, and errors are
  the conversion's.
- A byte scanner looks for the tags the rules name alone (by local name, whatever the prefix), plus
  comments, CDATA sections and processing instructions so that nothing inside them is taken for a
  tag, and rewrites the designated values in place: the non-namespace attributes (TOTEM's ``V``)
  and any content. In a well-formed document every other ``<`` starts a tag, so no tag is missed.
  It never backtracks: each byte is looked at a bounded number of times, whatever the input.
- A row whose condition comes after its values (``CodNatJurBenefCA`` after ``LibOrgaBenef``) is
  held until its end; one longer than ``ROW_HOLD_LIMIT`` is treated as personal (the safe side).

What the occulter cannot classify is occulted or refused, never published as it is:

- comments and processing instructions are dropped (the XML declaration is no processing
  instruction and stays);
- an element a rule names, found outside a row of a rule naming it, is occulted;
- a row's code is read as a TOTEM reader reads it: exactly as written (trimmed), and only from an
  element of the TOTEM namespace; a code in another namespace is absent;
- a document declaring a namespace URI outside ``KNOWN_NAMESPACES`` (free text a name could hide in)
  is refused.
"""
from __future__ import annotations

import bisect
import contextlib
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import yaml
from lxml import etree

from ckanext.budgetod.core.errors import BudgetodError, DocumentError
from ckanext.budgetod.core.report import OccultationPart
from ckanext.budgetod.core.totem.reader import (
    DEFAULT_MAX_BYTES,
    SAFE_PARSER_OPTIONS,
    TOTEM_NAMESPACE,
    TotemReader,
    shown,
)

DEFAULT_RULES_PATH = str(Path(__file__).with_name("occultation_rules.yaml"))
CHUNK_SIZE = 1 << 20
# The most a row awaiting its condition may hold back; past it the row is occulted unconditionally.
ROW_HOLD_LIMIT = 4 << 20
_RULES_FILE_LIMIT = 1 << 20
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Python codecs of the encodings the reader accepts (reader._ACCEPTED_ENCODINGS' canonical names).
_CODECS = {"UTF-8": "utf-8", "ISO-8859-1": "latin-1", "ISO-8859-15": "iso8859-15", "WINDOWS-1252": "cp1252",
           "US-ASCII": "ascii"}
# Where a tag's rest may end or a quoted value begin: one character class, searched without backtracking.
_TAG_STOP = re.compile(rb"""[>"']""")
_ATTRIBUTE = re.compile(rb"""([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot|apos);")
_PREDEFINED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_PREFIX = rb"(?:[^\s<>/:=\"'!?]+:)?"
_WAIT = -1
_SECTION_ENDS = {b"!--": b"-->", b"![CDATA[": b"]]>", b"?": b"?>"}
_CDATA = b"![CDATA["
_UTF8_BOM = b"\xef\xbb\xbf"
# The namespaces TOTEM documents of the known producers declare (the DGFiP's, the W3C's of signatures and
# schemas, the editors' and tools'). Any other URI is free text a name could hide in: refused.
KNOWN_NAMESPACES = frozenset({
    TOTEM_NAMESPACE,
    "http://www.minefi.gouv.fr/cp/demat/doccomptable",
    "http://www.minefi.gouv.fr/cp/demat/doccfu",
    "http://www.w3.org/XML/1998/namespace",
    "http://www.w3.org/2001/XMLSchema",
    "http://www.w3.org/2001/XMLSchema-instance",
    "http://www.w3.org/2007/XMLSchema-versioning",
    "http://www.w3.org/2000/09/xmldsig#",
    "http://www.w3.org/2001/04/xmlenc#",
    "http://uri.etsi.org/01903/v1.1.1#",
    "http://uri.etsi.org/01903/v1.2.2#",
    "http://uri.etsi.org/01903/v1.3.2#",
    "http://projets.admisource.gouv.fr/xemelios/namespaces#added",
    "http://projets.admisource.gouv.fr/xemelios/namespaces#anomally",
    "http://odm-budgetaire.org/technic",
    "odm:enrichissement",
    "http://www.berger-levrault.fr/demat/outils",
})


class RulesError(BudgetodError):
    """The occultation rules file cannot be used."""


# ---------------------------------------------------------------- rules

@dataclass(frozen=True)
class Condition:
    """A code of the row deciding whether it is personal."""

    element: str
    values: frozenset[str]
    # True: the row is personal when the code is NOT among ``values``.
    negated: bool
    or_absent: bool

    @property
    def element_bytes(self) -> bytes:
        return self.element.encode("ascii")

    def personal(self, seen: list[str]) -> bool:
        if not seen:
            return self.or_absent
        return any((value in self.values) != self.negated for value in seen)


@dataclass(frozen=True)
class Rule:
    id: str
    row: str | None  # None: anywhere in the document
    elements: frozenset[str]
    condition: Condition | None = None


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    replacement: str
    source: str = DEFAULT_RULES_PATH

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)


def _rules_error(source: str, reason: str) -> RulesError:
    return RulesError.from_message(source, "occultation_rules_invalid", reason=reason)


def _names(value: object, source: str, where: str) -> list[str]:
    names: list[str] = []
    for name in value if isinstance(value, list) else [value]:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _rules_error(source, f"{where}: {shown(name)}")
        names.append(name)
    return names


def _condition(value: object, source: str, rule_id: str) -> Condition | None:
    if value is None:
        return None
    where = f"{rule_id}.when"
    if not isinstance(value, dict) or set(value) - {"element", "in", "not_in", "or_absent"}:
        raise _rules_error(source, f"{where}: element, in | not_in, or_absent")
    if ("in" in value) == ("not_in" in value):
        raise _rules_error(source, f"{where}: in | not_in")
    codes = value.get("in", value.get("not_in"))
    if not isinstance(codes, list) or not all(isinstance(code, (str, int)) for code in codes):
        raise _rules_error(source, f"{where}: in | not_in")
    or_absent = value.get("or_absent", False)
    if not isinstance(or_absent, bool):
        raise _rules_error(source, f"{where}.or_absent: true | false")
    element = _names(value.get("element"), source, f"{where}.element")
    return Condition(element[0], frozenset(str(code) for code in codes), "not_in" in value, or_absent)


def parse_rules(data: object, source: str) -> Rules:
    """Rules from the parsed YAML; any unknown key or wrong type is an error naming the file."""
    if not isinstance(data, dict) or set(data) - {"replacement", "rules"}:
        raise _rules_error(source, "replacement, rules")
    replacement = data.get("replacement")
    if not isinstance(replacement, str) or not replacement.strip() or len(replacement) > 200:
        raise _rules_error(source, "replacement")
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise _rules_error(source, "rules")
    rules, ids = [], set()
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - {"id", "row", "occult", "when"}:
            raise _rules_error(source, "rules: id, row, occult, when")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not _NAME.fullmatch(rule_id) or rule_id in ids:
            raise _rules_error(source, f"id: {shown(rule_id)}")
        ids.add(rule_id)
        row = entry.get("row")
        if row is not None:
            row = _names(row, source, f"{rule_id}.row")[0]
        elements = _names(entry.get("occult"), source, f"{rule_id}.occult")
        condition = _condition(entry.get("when"), source, rule_id)
        if condition is not None and row is None:
            raise _rules_error(source, f"{rule_id}.when: row")
        rules.append(Rule(rule_id, row, frozenset(elements), condition))
    return Rules(tuple(rules), replacement.strip(), source)


def load_rules(path: str | None = None) -> Rules:
    """The rules of ``path``, or the shipped default (the dtc-innovation anonymisation list)."""
    source = path or DEFAULT_RULES_PATH
    try:
        with open(source, "rb") as stream:
            content = stream.read(_RULES_FILE_LIMIT + 1)
    except OSError as error:
        raise _rules_error(source, error.strerror or str(error)) from None
    if len(content) > _RULES_FILE_LIMIT:
        raise _rules_error(source, f"> {_RULES_FILE_LIMIT} bytes")
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as error:
        raise _rules_error(source, shown(" ".join(str(error).split()), 200)) from None
    return parse_rules(data, source)


# ---------------------------------------------------------------- result

@dataclass
class OccultationResult:
    """How many values each rule occulted (counts only: never the values)."""

    counts: dict[str, int]
    replacement: str

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> OccultationPart:
        return {"total": self.total, "rules": dict(self.counts), "replacement": self.replacement}


# ---------------------------------------------------------------- the rewriter

@dataclass
class _Edit:
    """Bytes [start, end) of the stream replaced by ``replacement``; end None: not known yet."""

    start: int
    end: int | None
    replacement: bytes
    written: bool = False


@dataclass
class _Row:
    name: str
    start: int
    rules: list[Rule]
    depth: int = 1
    seen: dict[str, list[str]] = field(default_factory=dict)
    # Edits of a conditional rule's elements (one list per element), applied if the row is personal.
    pending: dict[str, list[list[_Edit]]] = field(default_factory=dict)
    decided: set[str] = field(default_factory=set)

    @property
    def undecided(self) -> bool:
        return any(rule.condition is not None and rule.id not in self.decided for rule in self.rules)


@dataclass
class _Erasure:
    """The content of an occulted element, erased up to its end tag."""

    name: str
    edit: _Edit
    depth: int = 1


class _Rewriter:
    def __init__(self, rules: Rules, codec: str, write: Callable[[bytes], object], totem_prefixes: set[bytes]):
        self.rules = rules
        self.codec = codec
        self.write = write
        # The prefixes ("" the default) whose elements are taken for TOTEM's (_WellFormedness says which).
        self.totem_prefixes = totem_prefixes
        self.replacement = _escaped(rules.replacement, codec)
        self.by_row: dict[str, list[Rule]] = {}
        self.anywhere: dict[str, Rule] = {}
        # The elements of row rules, by the first rule naming them: occulted outside such a row.
        self.stray: dict[str, Rule] = {}
        self.conditions: set[str] = set()
        for rule in rules.rules:
            if rule.row is None:
                for element in rule.elements:
                    self.anywhere.setdefault(element, rule)
            else:
                self.by_row.setdefault(rule.row, []).append(rule)
                for element in sorted(rule.elements):
                    self.stray.setdefault(element, rule)
                if rule.condition is not None:
                    self.conditions.add(rule.condition.element)
        targets = {element for rule in rules.rules for element in rule.elements}
        # Every tag the rules name, for the careful path; rows and the elements to occult outside rows,
        # for the fast one, which takes a plain row (self-closing elements, no comment...) at once.
        self.token = _token(targets | set(self.by_row) | self.conditions)
        self.fast_token = _token(targets | set(self.by_row))
        # Per row name: its end tag, the elements the rules name, what makes it not plain, its rules,
        # the unconditional rules that apply in it, and the elements its rules name.
        unsafe = _token(set(self.by_row)).pattern.replace(rb"(/?)", rb"/?", 1)
        self.plain_rows = {}
        for row, row_rules in self.by_row.items():
            inner = targets | {rule.condition.element for rule in row_rules if rule.condition is not None}
            self.plain_rows[row.encode("ascii")] = (
                re.compile(rb"</" + _PREFIX + re.escape(row.encode("ascii")) + rb"\s*>"),
                re.compile(rb"<(" + _PREFIX + rb")(" + _alternatives(inner) + rb")(?=[\s/>])"),
                re.compile(unsafe),
                row_rules,
                [rule for rule in row_rules if rule.condition is None] + list(dict.fromkeys(self.anywhere.values())),
                {element for rule in row_rules for element in rule.elements})
        self.targets = targets
        self.counts: Counter[str] = Counter(dict.fromkeys(rules.ids, 0))
        self.buffer = bytearray()
        self.base = 0  # stream offset of buffer[0]
        self.out = 0  # stream offset up to which output is written
        self.scan = 0  # stream offset where scanning resumes
        self.section_end: bytes | None = None  # inside a comment, CDATA section or PI
        self.dropped: _Edit | None = None  # the comment or PI being dropped
        # A tag cut at the end of the buffer: (its stream offset, where to resume, the open quote).
        self.partial_tag: tuple[int, int, bytes | None] | None = None
        self.rows: list[_Row] = []
        self.erasure: _Erasure | None = None
        self.edits: list[_Edit] = []

    # -- feeding

    def feed(self, data: bytes, final: bool = False) -> None:
        self.buffer += data
        self._scan(final)
        self._flush(self._flush_limit(final))

    def _scan(self, final: bool) -> None:
        buffer, base = self.buffer, self.base
        end = base + len(buffer)
        while self.scan < end:
            if self.section_end is not None:
                found = buffer.find(self.section_end, self.scan - base)
                if found < 0:
                    # Keep the bytes that may begin the end marker.
                    self.scan = max(self.scan, end - len(self.section_end) + 1)
                    return
                self.scan = base + found + len(self.section_end)
                self.section_end = None
                if self.dropped is not None:
                    # A comment or PI right after: dropped by the same edit (millions of them in a row
                    # cost one edit, and this loop only).
                    following = buffer[found + 3:found + 7] if buffer[found:found + 3] == b"-->" \
                        else buffer[found + 2:found + 6]
                    if following == b"<!--":
                        self.section_end, self.scan = b"-->", self.scan + 4
                        continue
                    if following[:2] == b"<?":
                        self.section_end, self.scan = b"?>", self.scan + 2
                        continue
                    self.dropped.end = self.scan
                    self.dropped = None
                continue
            careful = bool(self.rows) or self.erasure is not None
            match = (self.token if careful else self.fast_token).search(buffer, self.scan - base)
            if match is None:
                # A tag may be cut at the end of the buffer: resume from its "<".
                last = buffer.rfind(b"<", self.scan - base)
                self.scan = end if final or last < 0 else base + last
                return
            if match.group(1):
                if match.group(1) != _CDATA and self.erasure is None:
                    declaration = self._declaration(match.start(), final)
                    if declaration is None:
                        self.scan = base + match.start()
                        return
                    if not declaration:
                        self.dropped = _Edit(base + match.start(), None, b"")
                        bisect.insort(self.edits, self.dropped, key=_start)
                self.section_end = _SECTION_ENDS[match.group(1)]
                self.scan = base + match.end()
                continue
            tag_end = self._tag_end(match, final)
            if tag_end < 0:
                self.scan = end if final else base + match.start()  # at the end: not well-formed
                return
            if not careful and not match.group(2):
                after = self._plain_row(match, tag_end, final)
                if after == _WAIT:
                    self.scan = base + match.start()
                    return
                if after is not None:
                    self.scan = after
                    continue
            self._tag(match, tag_end)
            self.scan = base + tag_end

    def _tag_end(self, match: re.Match[bytes], final: bool) -> int:
        """The buffer offset just past the ">" of the tag ``match`` begins, or -1 when it is cut at the
        end of the buffer: then where the search stopped is kept, so that it resumes there."""
        start, quote = match.end(), None
        if self.partial_tag is not None and self.partial_tag[0] == self.base + match.start():
            start, quote = self.partial_tag[1] - self.base, self.partial_tag[2]
        self.partial_tag = None
        tag_end, resume, quote = _tag_end(self.buffer, start, quote)
        if tag_end < 0 and not final:
            self.partial_tag = (self.base + match.start(), self.base + resume, quote)
        return tag_end

    def _declaration(self, start: int, final: bool) -> bool | None:
        """Whether the processing instruction at buffer offset ``start`` is the XML declaration (which
        begins the document: kept); None when the bytes that tell have not come yet."""
        stream_start = self.base + start
        if stream_start not in (0, len(_UTF8_BOM)):
            return False
        head = bytes(self.buffer[start:start + 6])
        if len(head) < 6 and not final:
            return None
        return head[:5] == b"<?xml" and head[5:6].isspace() and (
            stream_start == 0 or bytes(self.buffer[:start]) == _UTF8_BOM)

    def _plain_row(self, match: re.Match[bytes], tag_end: int, final: bool) -> int | None:
        """Occult a whole row at once if it is plain: complete in the buffer, only self-closing
        elements inside, no comment, CDATA section, processing instruction or nested row. Returns the
        stream offset after it, _WAIT when its end may come with the next chunk, or None for the
        careful path (which also takes every element occulted anywhere)."""
        plain = self.plain_rows.get(match.group(3))
        if plain is None or self.buffer[tag_end - 2:tag_end] == b"/>":
            return None
        closing_tag, inner_tags, unsafe, rules, anywhere_first, classified = plain
        buffer, base = self.buffer, self.base
        inside = tag_end
        closing = closing_tag.search(buffer, inside)
        if closing is None:
            waiting = not final and len(buffer) - match.start() < ROW_HOLD_LIMIT
            return _WAIT if waiting else None
        end = closing.start()
        if unsafe.search(buffer, inside, end):
            return None
        found = []  # (prefix, element name, start and end of the tag's rest)
        for inner in inner_tags.finditer(buffer, inside, end):
            inner_end, _, _ = _tag_end(buffer, inner.end(), None, end)
            if inner_end < 0 or buffer[inner_end - 2:inner_end] != b"/>":
                return None  # content to erase: the careful path
            found.append((inner.group(1), inner.group(2), inner.end(), inner_end))
        seen: dict[str, list[str]] = {}
        for prefix, name, rest_start, rest_end in found:
            for rule in rules:
                if rule.condition is not None and rule.condition.element_bytes == name:
                    value = self._code(prefix, bytes(buffer[rest_start:rest_end]))
                    if value:
                        seen.setdefault(rule.id, []).append(value)
        # As on the careful path: an unconditional rule first, then a conditional one that holds.
        applicable = anywhere_first + [rule for rule in rules if rule.condition is not None
                                       and rule.condition.personal(seen.get(rule.id, []))]
        for _, name, rest_start, rest_end in found:
            element = name.decode("ascii")
            matched = next((rule for rule in applicable if element in rule.elements), None)
            if matched is None and element not in classified:
                matched = self.stray.get(element)
            if matched is not None:
                edits = self._attribute_edits(rest_start, rest_end)
                if edits:
                    self.counts[matched.id] += 1
                    self.edits.extend(edits)  # after every edit so far: the scan is past them
        return base + closing.end()

    def _tag(self, match: re.Match[bytes], tag_end: int) -> None:
        name = match.group(3).decode("ascii")
        closing = bool(match.group(2))
        empty = self.buffer[tag_end - 2:tag_end] == b"/>"
        start = self.base + match.start()
        if self.erasure is not None:
            if name == self.erasure.name and not empty:
                self.erasure.depth += -1 if closing else 1
                if self.erasure.depth == 0:
                    self.erasure.edit.end = start
                    self.erasure = None
            return
        if closing:
            if name in self.by_row:
                self._close_row(name)
            return
        if name in self.conditions:
            prefix = bytes(self.buffer[match.start() + 1:match.start(3)])
            value = self._code(prefix, bytes(self.buffer[match.end():tag_end]))
            for row in self.rows:
                for rule in row.rules:
                    if rule.condition is not None and rule.condition.element == name and value:
                        row.seen.setdefault(rule.id, []).append(value)
        if name in self.targets:
            self._occult(name, match, tag_end, empty)
        if name in self.by_row and not empty:
            if self.rows and self.rows[-1].name == name:
                self.rows[-1].depth += 1
            else:
                self.rows.append(_Row(name, start, self.by_row[name]))

    def _applicable(self, name: str) -> tuple[Rule, _Row | None] | None:
        candidates: list[tuple[Rule, _Row | None]] = [
            (rule, row) for row in reversed(self.rows) for rule in row.rules if name in rule.elements]
        if name in self.anywhere:
            candidates.append((self.anywhere[name], None))
        if not candidates and name in self.stray:  # outside the rows whose rules classify it
            return self.stray[name], None
        for rule, row in candidates:
            if rule.condition is None or (row is not None and rule.id in row.decided):
                return rule, row
        return candidates[0] if candidates else None

    def _occult(self, name: str, match: re.Match[bytes], tag_end: int, empty: bool) -> None:
        applicable = self._applicable(name)
        if applicable is None:
            return
        rule, row = applicable
        edits = self._attribute_edits(match.end(), tag_end)
        if not empty:
            erase = _Edit(self.base + tag_end, None, self.replacement)
            edits.append(erase)
            self.erasure = _Erasure(name, erase)
        if not edits:
            return
        if rule.condition is not None and row is not None and rule.id not in row.decided:
            row.pending.setdefault(rule.id, []).append(edits)
        else:
            self._apply(rule.id, edits)

    def _attribute_edits(self, start: int, end: int) -> list[_Edit]:
        """The values of the attributes in buffer[start:end] (but namespace declarations), replaced."""
        edits = []
        for attribute in _ATTRIBUTE.finditer(self.buffer, start, end):
            attribute_name = attribute.group(1)
            if attribute_name == b"xmlns" or attribute_name.startswith(b"xmlns:"):
                continue
            group = 2 if attribute.group(2) is not None else 3
            if attribute.start(group) < attribute.end(group):
                edits.append(_Edit(self.base + attribute.start(group), self.base + attribute.end(group),
                                   self.replacement))
        return edits

    def _apply(self, rule_id: str, edits: list[_Edit]) -> None:
        self.counts[rule_id] += 1
        for edit in edits:
            # Mostly appended: a row decided late inserts its edits before those made since it began.
            bisect.insort(self.edits, edit, key=_start)

    def _close_row(self, name: str) -> None:
        if not self.rows or self.rows[-1].name != name:
            return
        row = self.rows[-1]
        row.depth -= 1
        if row.depth:
            return
        self.rows.pop()
        for rule in row.rules:
            if rule.condition is not None and rule.id not in row.decided:
                self._decide(row, rule, rule.condition.personal(row.seen.get(rule.id, [])))

    def _decide(self, row: _Row, rule: Rule, personal: bool) -> None:
        row.decided.add(rule.id)
        for edits in row.pending.pop(rule.id, []):
            if personal:
                self._apply(rule.id, edits)

    def _code(self, prefix: bytes, tag_rest: bytes) -> str:
        """The code a TOTEM reader reads in a condition's tag: its ``V`` trimmed, or "" (absent) when
        the element may be outside the TOTEM namespace (declared so on the tag, or its prefix not
        known as TOTEM's)."""
        prefix = prefix.removesuffix(b":")
        declaration = b"xmlns:" + prefix if prefix else b"xmlns"
        attributes = {attribute.group(1): self._text(attribute) for attribute in _ATTRIBUTE.finditer(tag_rest)}
        if declaration in attributes:
            if attributes[declaration] != TOTEM_NAMESPACE:
                return ""
        elif prefix not in self.totem_prefixes:
            return ""
        return " ".join(attributes.get(b"V", "").split())

    def _text(self, attribute: re.Match[bytes]) -> str:
        raw = attribute.group(2) if attribute.group(2) is not None else attribute.group(3)
        return _CHARACTER_REFERENCE.sub(_unescape, raw.decode(self.codec, "replace"))

    # -- output

    def _flush_limit(self, final: bool) -> int:
        limit = self.base + len(self.buffer) if final else self.scan
        for row in self.rows:
            if row.undecided:
                if limit - row.start > ROW_HOLD_LIMIT:
                    # Too long to wait for its condition: occulted whatever it says.
                    for rule in row.rules:
                        if rule.condition is not None and rule.id not in row.decided:
                            self._decide(row, rule, True)
                else:
                    limit = min(limit, row.start)
                    break
        return limit

    def _flush(self, limit: int) -> None:
        position, done = self.out, 0
        while position < limit:
            edit = self.edits[done] if done < len(self.edits) else None
            if edit is None or edit.start >= limit:
                self.write(bytes(self.buffer[position - self.base:limit - self.base]))
                position = limit
                break
            if position < edit.start:
                self.write(bytes(self.buffer[position - self.base:edit.start - self.base]))
                position = edit.start
            if not edit.written:
                self.write(edit.replacement)
                edit.written = True
            position = max(position, min(limit, edit.end if edit.end is not None else limit))
            if edit.end is not None and position >= edit.end:
                done += 1
            else:
                break
        del self.edits[:done]
        self.out = position
        del self.buffer[:position - self.base]
        self.base = position


def _tag_end(buffer: bytearray, position: int, quote: bytes | None, stop: int | None = None,
             ) -> tuple[int, int, bytes | None]:
    """Where the tag whose rest starts at ``position`` ends (just past its ">", -1 when not before
    ``stop``); if it does not, where to resume and the quote open there. Quoted values may hold ">".
    One forward pass: every byte is looked at once."""
    stop = len(buffer) if stop is None else stop
    while True:
        if quote is not None:
            closing = buffer.find(quote, position, stop)
            if closing < 0:
                return -1, stop, quote
            position, quote = closing + 1, None
        found = _TAG_STOP.search(buffer, position, stop)
        if found is None:
            return -1, stop, None
        if buffer[found.start()] == ord(">"):
            return found.end(), found.end(), None
        position, quote = found.end(), bytes(buffer[found.start():found.end()])


def _alternatives(names: set[str]) -> bytes:
    return b"|".join(re.escape(name.encode("ascii")) for name in sorted(names, key=len, reverse=True))


def _token(names: set[str]) -> re.Pattern[bytes]:
    """Comments, CDATA sections, processing instructions, and the tags of ``names`` (any prefix)."""
    # One "<" then the alternatives: the engine looks for the literal first (twice as fast).
    return re.compile(rb"<(?:(!--|!\[CDATA\[|\?)|(/?)" + _PREFIX + rb"(" + _alternatives(names) + rb")(?=[\s/>]))")


def _start(edit: _Edit) -> int:
    return edit.start


def _escaped(text: str, codec: str) -> bytes:
    escaped = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace('"', "&quot;").replace("'", "&apos;"))
    return escaped.encode(codec, "xmlcharrefreplace")


def _unescape(match: re.Match[str]) -> str:
    reference = match.group(1)
    if reference.startswith("#"):
        try:
            code = int(reference[2:], 16) if reference[1:2] == "x" else int(reference[1:])  # noqa: FURB166 - "#x41"
            return chr(code)
        except (ValueError, OverflowError):
            return match.group()
    return _PREDEFINED_ENTITIES[reference]


class _WellFormedness:
    """The parser target that builds nothing: libxml2 checks the stream with a Python callback on
    namespace declarations only. It refuses an unknown namespace URI, and tells the rewriter which
    prefixes stand for the TOTEM namespace: those bound to it and never to another namespace since
    (a compte financier unique binds the default namespace to its own first). Without positions it
    cannot follow scopes: a prefix rebound once is no longer trusted, and its codes are absent."""

    def __init__(self, path: str, codec: str):
        self.path = path
        self.codec = codec
        self.totem_prefixes: set[bytes] = set()
        self.rebound: set[bytes] = set()

    def start_ns(self, prefix: str | None, uri: str) -> None:
        if uri and uri not in KNOWN_NAMESPACES:
            raise DocumentError.from_message(self.path, "occultation_unknown_namespace")
        key = (prefix or "").encode(self.codec, "xmlcharrefreplace")
        if uri == TOTEM_NAMESPACE:
            if key not in self.rebound:
                self.totem_prefixes.add(key)
        elif key in self.totem_prefixes:
            self.totem_prefixes.discard(key)
            self.rebound.add(key)

    def close(self) -> None:
        return None


# ---------------------------------------------------------------- entry point

def occult_document(source: str | os.PathLike[str], destination: str | os.PathLike[str] | BinaryIO | None, *,
                    rules: Rules | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> OccultationResult:
    """Write the occulted document to ``destination`` (a path, a binary stream, or None to count
    only) and say how many values each rule occulted.

    A path destination is written whole or not at all. Raises DocumentError, with the conversion's
    message, when the document cannot be read: too large, not XML, not TOTEM, malformed.
    """
    rules = rules or load_rules()
    path = os.fspath(source)
    # The conversion's checks and errors on size, prolog and root. The header is not validated:
    # a document the conversion refuses (a wrong SIRET, say) still has its personal data occulted.
    with TotemReader(path, max_bytes=max_bytes) as reader:
        encoding = reader.encoding
    if destination is None:
        return _occult_stream(reader, path, encoding, rules, lambda data: None)
    if not isinstance(destination, (str, os.PathLike)):
        return _occult_stream(reader, path, encoding, rules, destination.write)
    target = os.fspath(destination)
    partial = f"{target}.{os.getpid()}.part"
    try:
        with open(partial, "wb") as output:
            result = _occult_stream(reader, path, encoding, rules, output.write)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return result


def _occult_stream(reader: TotemReader, path: str, encoding: str, rules: Rules,
                   write: Callable[[bytes], object]) -> OccultationResult:
    well_formedness = _WellFormedness(path, _CODECS[encoding])
    # The parser reads each chunk first: the rewriter knows the namespace declarations before it.
    rewriter = _Rewriter(rules, _CODECS[encoding], write, well_formedness.totem_prefixes)
    parser = etree.XMLParser(target=well_formedness, encoding=encoding, **SAFE_PARSER_OPTIONS)
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK_SIZE):
                parser.feed(chunk)
                rewriter.feed(chunk)
        parser.close()
    except etree.XMLSyntaxError as error:
        raise reader.syntax_error(error) from None
    except OSError as error:
        raise DocumentError.from_message(path, "file_unreadable", reason=error.strerror or str(error)) from None
    rewriter.feed(b"", final=True)
    return OccultationResult(dict(rewriter.counts), rules.replacement)
