"""Development stand-in for Apache Solr, for the local CKAN dev/test stack only.

THIS IS NOT SOLR AND MUST NOT BE USED IN PRODUCTION. Production runs real
Apache Solr configured with CKAN's official Solr schema and configuration
(ckan/config/solr/schema.xml, or the ckan/ckan-solr images).

Why it exists: CKAN 2.11 cannot create datasets, organisations or harvest
sources without a Solr endpoint, and Solr cannot be installed on our dev
machines. This server, written with the standard library only, speaks the
subset of the Solr HTTP API that CKAN 2.11/2.12 and ckanext-harvest send
through pysolr:

* ``/select`` (GET, or POST form): lucene syntax for ``q``/``fq`` (``+ - !
  NOT AND OR && ||``, groups, ``field:value``, ``field:(a OR b)``, phrases,
  ``*``/``?`` wildcards, ``[a TO b]``/``{a TO b}`` ranges with ``*`` and
  ``NOW``), dismax/edismax free text over ``qf`` with ``mm``, plus ``q.op``,
  ``df``, ``sort``, ``start``, ``rows``, ``fl`` (only the schema's stored
  fields are returned), ``facet.field`` with ``facet.limit``,
  ``facet.mincount`` and ``facet.sort``; answers in Solr's JSON shape.
* ``/update``: XML (``add``, ``delete`` by id or by query, ``commit``,
  ``optimize``) and JSON arrays of documents (what pysolr sends), with the
  ``commit``/``softCommit``/``commitWithin`` parameters. As in Solr, changes
  are only visible to searches after a commit.
* ``/schema?wt=schema.xml`` and ``/admin/file?file=schema.xml`` (CKAN's
  startup schema version check), JSON ``/schema``, ``/schema/name``,
  ``/schema/version``, ``/schema/uniquekey``, and ``/admin/ping``.
  Anything else gets a Solr-style JSON error (400/404).

Not supported: local params ``{!...}``, date math beyond plain ``NOW``,
facet queries/ranges/pivots, highlighting, grouping, cursors, atomic updates,
nested documents, JSON update commands, other ``wt`` than json.

Documents are checked against the rules of CKAN's schema.xml that matter to
CKAN (uniqueKey ``index_id``, required fields, multiValued fields, date and
int types, stored fields, copyFields into ``text``). Text analysis is a rough
approximation of Solr's (accent folding, lower-casing, splitting on
punctuation, crude plural stripping; no synonyms, stop words or real
stemming) and scores are simple weighted match counts, so result *ordering*
by relevance differs from Solr's.

On every commit the whole committed index is written atomically to the JSON
``--data-file`` and it is loaded again at start. Uncommitted changes are lost
when the server stops (real Solr would replay its transaction log).

Run: python devstack/solr_standin.py --host 127.0.0.1 --port 8983 --data-file PATH
"""
from __future__ import annotations

import argparse
import collections
import datetime
import fnmatch
import functools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import traceback
import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Optional
from urllib.parse import parse_qs, urlsplit

DATA_FILE_FORMAT = "ckanext-budgetod-solr-standin"
DEFAULT_SCHEMA_NAME = "ckan-2.11"  # CKAN 2.11 accepts schema versions 2.8-2.11


# --- Schema: the parts of CKAN's schema.xml that change behaviour ----------

class FieldSpec(NamedTuple):
    type: str            # Solr field type name from CKAN's schema.xml
    multi: bool = False  # multiValued
    stored: bool = True  # returned in search results


# How each schema type is matched: exact strings, analysed text, n-grams...
KIND_OF_TYPE = {"string": "string", "text": "text", "text_general": "text",
                "text_ngram": "ngram", "date": "date", "int": "int"}

_STRING_FIELDS = ("index_id id site_id entity_type dataset_type state name revision_id "
                  "version url ckan_url download_url license license_id organization "
                  "capacity data_dict validated_data_dict _version_").split()
_RELATIONSHIP_FIELDS = ("depends_on dependency_of derives_from has_derivation links_to "
                        "linked_from child_of parent_of").split()

FIELDS: dict[str, FieldSpec] = {
    **{name: FieldSpec("string") for name in _STRING_FIELDS},
    **{name: FieldSpec("text", multi=True, stored=False)
       for name in ["text", "urls"] + _RELATIONSHIP_FIELDS},
    **{name: FieldSpec("string", multi=True) for name in ("tags", "groups", "res_format",
                                                          "res_url", "res_type")},
    **{name: FieldSpec("text_general") for name in ("author", "author_email", "maintainer",
                                                    "maintainer_email")},
    **{name: FieldSpec("date") for name in ("metadata_created", "metadata_modified",
                                            "indexed_ts")},
    **{name: FieldSpec("int", stored=False) for name in (
        "views_total", "views_recent", "resources_accessed_total",
        "resources_accessed_recent")},
    "title": FieldSpec("text"),
    "notes": FieldSpec("text"),
    "title_ngram": FieldSpec("text_ngram"),
    "name_ngram": FieldSpec("text_ngram"),
    "permission_labels": FieldSpec("string", multi=True, stored=False),
    "res_name": FieldSpec("text_general", multi=True),
    "res_description": FieldSpec("text_general", multi=True),
    "title_string": FieldSpec("string", stored=False),
}
# Longest pattern first: Solr picks the most specific dynamic field.
DYNAMIC_FIELDS: list[tuple[str, FieldSpec]] = [
    ("res_extras_*", FieldSpec("text", multi=True)),
    ("extras_*", FieldSpec("text")),
    ("vocab_*", FieldSpec("string", multi=True)),
    ("*_date", FieldSpec("date")),
    ("*", FieldSpec("string", stored=False)),
]
COPY_FIELDS = [("url", "urls"), ("title", "title_ngram"), ("name", "name_ngram"),
               ("ckan_url", "urls"), ("download_url", "urls"), ("res_url", "urls"),
               ("extras_*", "text"), ("res_extras_*", "text"), ("vocab_*", "text"),
               ("urls", "text"), ("name", "text"), ("title", "text"), ("license", "text"),
               ("notes", "text"), ("tags", "text"), ("groups", "text"),
               ("organization", "text"), ("res_name", "text"), ("res_description", "text"),
               ("maintainer", "text"), ("author", "text")]
UNIQUE_KEY = "index_id"
REQUIRED_FIELDS = ("index_id", "id", "site_id")


def field_spec(name: str) -> FieldSpec:
    if name in FIELDS:
        return FIELDS[name]
    for pattern, spec in DYNAMIC_FIELDS:
        if fnmatch.fnmatchcase(name, pattern):
            return spec
    return DYNAMIC_FIELDS[-1][1]


def field_kind(name: str) -> str:
    return KIND_OF_TYPE[field_spec(name).type]


class SolrError(Exception):
    """A request error reported to the client in Solr's JSON error shape."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- Values: text analysis and dates ----------------------------------------

def fold(text: str) -> str:
    """Lower-case and strip accents, like Solr's ASCIIFolding + LowerCase filters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@functools.lru_cache(maxsize=65536)
def analyse(text: str) -> tuple[str, ...]:
    """Approximate CKAN's `text` analyser: split words/numbers, fold, crude stem."""
    tokens = re.findall(r"[^\W\d_]+|\d+", fold(text))
    # Plural stripping stands in for the Snowball stemmer so "budgets" finds "budget".
    return tuple(t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t
                 for t in tokens)


_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z\Z")


def parse_date(text: str, now: datetime.datetime) -> datetime.datetime:
    """Parse a Solr date (UTC with the trailing Z Solr requires) or NOW."""
    text = text.strip()
    if text == "NOW":
        return now
    match = _DATE_RE.match(text)
    try:
        millis = int((match.group(7) or "")[:3].ljust(3, "0"))  # Solr keeps milliseconds
        return datetime.datetime(*map(int, match.groups()[:6]), microsecond=millis * 1000)
    except (AttributeError, ValueError):  # no match, or e.g. month 13
        raise SolrError(400, f"Invalid Date String:'{text}' (the Solr stand-in supports "
                             "YYYY-MM-DDThh:mm:ss[.fff]Z and NOW, without date math)")


def format_date(moment: datetime.datetime) -> str:
    """Format as Solr returns dates: UTC, whole seconds or milliseconds, trailing Z."""
    base = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")
    millis = moment.microsecond // 1000
    return f"{base}.{millis:03d}Z" if millis else base + "Z"


def date_key(formatted: str) -> str:
    """Sortable key for a date produced by format_date (fixed millisecond width)."""
    return formatted[:19] + (formatted[19:-1] or ".000")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# --- Query parsing (the lucene syntax subset CKAN sends) ---------------------

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"
ANY_CHARS, ONE_CHAR = "\x00", "\x01"  # unescaped * and ? inside a wildcard term


@dataclass
class MatchAll:
    boost: float = 1.0


@dataclass
class Term:
    field: Optional[str]  # None: the default fields (df, or qf for dismax)
    text: str
    wildcard: Optional[str] = None  # text with ANY_CHARS/ONE_CHAR markers, if any
    boost: float = 1.0


@dataclass
class Range:
    field: Optional[str]
    low: Optional[str]   # None: open-ended (*)
    high: Optional[str]
    include_low: bool = True
    include_high: bool = True
    boost: float = 1.0


@dataclass
class BoolQuery:
    clauses: list  # [(occur, query)]
    min_should: int = 0  # dismax "mm"
    boost: float = 1.0


class Token(NamedTuple):
    kind: str  # LPAREN RPAREN AND OR NOT PLUS MINUS FIELD TERM PHRASE RANGE BOOST FUZZY
    text: str = ""
    wildcard: Optional[str] = None
    bounds: tuple = ()


_TERM_STOP = set('()"^~[]{}:')
_PHRASE_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_NUMBER_RE = re.compile(r"[\d.]*")
_RANGE_BODY_RE = re.compile(r'(?:[^\]}"\\]|\\.|"(?:[^"\\]|\\.)*")*[\]}]')
_RANGE_RE = re.compile(r'\s*("(?:[^"\\]|\\.)*"|\S+)\s+TO\s+("(?:[^"\\]|\\.)*"|\S+)\s*\Z')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def tokenise(query: str) -> list[Token]:
    tokens, i, n = [], 0, len(query)
    single = {"(": "LPAREN", ")": "RPAREN", "+": "PLUS", "-": "MINUS", "!": "NOT"}
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in single:
            tokens.append(Token(single[char]))
            i += 1
        elif query.startswith("&&", i) or query.startswith("||", i):
            tokens.append(Token("AND" if char == "&" else "OR"))
            i += 2
        elif char == '"':
            match = _PHRASE_RE.match(query, i)
            if not match:
                raise SolrError(400, f"Cannot parse '{query}': unterminated phrase")
            tokens.append(Token("PHRASE", _unescape(match.group(1))))
            i = match.end()
        elif char in "^~":
            match = _NUMBER_RE.match(query, i + 1)
            tokens.append(Token("BOOST" if char == "^" else "FUZZY", match.group()))
            i = match.end()
        elif char in "[{":
            end = _RANGE_BODY_RE.match(query, i + 1)
            inner = _RANGE_RE.match(query[i + 1:end.end() - 1]) if end else None
            if not inner:
                raise SolrError(400, f"Cannot parse '{query}': bad range query")
            low, high = (None if b == "*" else _unescape(b.strip('"')) for b in inner.groups())
            tokens.append(Token("RANGE", bounds=(low, high, char == "[",
                                                 query[end.end() - 1] == "]")))
            i = end.end()
        elif char in _TERM_STOP:
            raise SolrError(400, f"Cannot parse '{query}': unexpected '{char}'")
        else:
            text, wildcard, i = _read_term(query, i)
            if i < n and query[i] == ":":
                tokens.append(Token("FIELD", text))
                i += 1
            elif text in ("AND", "OR", "NOT") and wildcard is None:
                tokens.append(Token(text))
            else:
                tokens.append(Token("TERM", text, wildcard))
    return tokens


def _read_term(query: str, i: int) -> tuple[str, Optional[str], int]:
    text, marked, has_wildcard = [], [], False
    while i < len(query):
        char = query[i]
        if char == "\\" and i + 1 < len(query):
            text.append(query[i + 1])
            marked.append(query[i + 1])
            i += 2
            continue
        if char.isspace() or char in _TERM_STOP:
            break
        if char in "*?":
            has_wildcard = True
            marked.append(ANY_CHARS if char == "*" else ONE_CHAR)
        else:
            marked.append(char)
        text.append(char)
        i += 1
    return "".join(text), ("".join(marked) if has_wildcard else None), i


class QueryParser:
    """Recursive descent over tokens, applying Lucene's classic clause rules."""

    def __init__(self, query: str, default_and: bool):
        self.query = query
        self.tokens = tokenise(query)
        self.position = 0
        self.default_and = default_and
        # edismax only applies mm when the user wrote no explicit operators.
        self.has_explicit_operators = any(
            t.kind in ("OR", "NOT", "PLUS", "MINUS") for t in self.tokens)

    def parse(self) -> BoolQuery:
        query = self._parse_clauses(field=None)
        if self._peek() is not None:
            self._fail("unexpected ')'")
        return query

    def _fail(self, reason: str):
        raise SolrError(400, f"org.apache.solr.search.SyntaxError: Cannot parse "
                             f"'{self.query}': {reason}")

    def _peek(self) -> Optional[Token]:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> Token:
        token = self._peek()
        if token is None:
            self._fail("Encountered <EOF>")
        self.position += 1
        return token

    def _parse_clauses(self, field: Optional[str]) -> BoolQuery:
        clauses: list = []
        while (token := self._peek()) is not None and token.kind != "RPAREN":
            conjunction = self._take().kind if token.kind in ("AND", "OR") else None
            modifier = None
            if self._peek() is not None and self._peek().kind in ("PLUS", "MINUS", "NOT"):
                modifier = MUST if self._take().kind == "PLUS" else MUST_NOT
            self._add_clause(clauses, conjunction, modifier, self._parse_clause(field))
        return BoolQuery(clauses)

    def _add_clause(self, clauses, conjunction, modifier, query):
        # Same rules as Lucene's classic QueryParser.addClause.
        if clauses and clauses[-1][0] != MUST_NOT:
            if conjunction == "AND":
                clauses[-1] = (MUST, clauses[-1][1])
            elif conjunction == "OR" and self.default_and:
                clauses[-1] = (SHOULD, clauses[-1][1])
        if modifier == MUST_NOT:
            occur = MUST_NOT
        elif modifier == MUST or conjunction == "AND" or (self.default_and and conjunction != "OR"):
            occur = MUST
        else:
            occur = SHOULD
        clauses.append((occur, query))

    def _parse_clause(self, field: Optional[str]):
        token = self._take()
        if token.kind == "FIELD":
            field, token = token.text, self._take()
        if token.kind == "LPAREN":
            query = self._parse_clauses(field)
            if self._take().kind != "RPAREN":
                self._fail("missing ')'")
        elif token.kind == "TERM" and field == "*" and token.text == "*":
            query = MatchAll()
        elif token.kind in ("TERM", "PHRASE"):
            query = Term(field, token.text, token.wildcard)
        elif token.kind == "RANGE":
            query = Range(field, *token.bounds)
        else:
            self._fail(f"unexpected {token.kind}")
        while self._peek() is not None and self._peek().kind in ("BOOST", "FUZZY"):
            modifier = self._take()
            if modifier.kind == "BOOST":
                try:
                    query.boost = float(modifier.text)
                except ValueError:
                    self._fail("bad boost")
        return query


def minimum_should_match(spec: str, optional: int) -> int:
    """Evaluate a dismax mm spec such as '2<-1 5<80%' for `optional` clauses."""
    try:
        chosen: Optional[str] = spec.strip()
        if "<" in chosen:
            chosen = None
            for part in spec.split():
                threshold, _, value = part.partition("<")
                if optional > int(threshold):
                    chosen = value
            if chosen is None:
                return optional
        if chosen.endswith("%"):
            percent = int(chosen[:-1])
            computed = optional * abs(percent) // 100
            required = computed if percent >= 0 else optional - computed
        else:
            number = int(chosen)
            required = number if number >= 0 else optional + number
    except ValueError:
        raise SolrError(400, f"Invalid 'mm' value: '{spec}'")
    return max(0, min(optional, required))


# --- Matching documents --------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def wildcard_regex(marked: str, folded: bool) -> re.Pattern:
    parts = []
    for char in marked:
        if char == ANY_CHARS:
            parts.append(".*")
        elif char == ONE_CHAR:
            parts.append(".")
        else:
            parts.append(re.escape(fold(char) if folded else char))
    return re.compile("".join(parts), re.S)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Matcher:
    """Decides whether a parsed query matches a document, and how well (score)."""

    def __init__(self, default_fields: list[tuple[str, float]], now: datetime.datetime):
        self.default_fields = default_fields
        self.now = now

    def score(self, query, doc: dict) -> Optional[float]:
        """None if `doc` does not match, otherwise a positive score."""
        if isinstance(query, MatchAll):
            return query.boost
        if isinstance(query, BoolQuery):
            return self._score_bool(query, doc)
        fields = [(query.field, 1.0)] if query.field else self.default_fields
        best = None
        for field, weight in fields:
            values = as_list(doc.get(field))
            if values and self._leaf_matches(query, field_kind(field), values):
                best = max(best or 0.0, weight * query.boost)
        return best

    def _score_bool(self, query: BoolQuery, doc: dict) -> Optional[float]:
        total, should_total, should_matched, has_must = 0.0, 0, 0, False
        for occur, clause in query.clauses:
            score = self.score(clause, doc)
            if occur == MUST:
                has_must = True
                if score is None:
                    return None
                total += score
            elif occur == MUST_NOT:
                if score is not None:
                    return None
            else:
                should_total += 1
                if score is not None:
                    should_matched += 1
                    total += score
        required = max(query.min_should, 1 if should_total and not has_must else 0)
        if should_matched < required:
            return None
        if not has_must and not should_total:
            if not query.clauses:
                return None  # an empty query matches nothing
            total = 1.0  # purely negative: like Solr, match everything else
        return total * query.boost

    def _leaf_matches(self, query, kind: str, values: list) -> bool:
        if isinstance(query, Range):
            return self._range_matches(query, kind, values)
        if query.wildcard is not None:
            if query.wildcard == ANY_CHARS:  # field:* means "has a value"
                return True
            pattern = wildcard_regex(query.wildcard, kind in ("text", "ngram"))
            if kind == "text":
                candidates = [token for value in values for token in analyse(str(value))]
            else:
                candidates = [fold(str(v)) if kind == "ngram" else str(v) for v in values]
            return any(pattern.fullmatch(candidate) for candidate in candidates)
        if kind == "string":
            return query.text in values
        if kind == "int":
            return self._int(query.text) in values
        if kind == "date":
            return format_date(parse_date(query.text, self.now)) in values
        if kind == "ngram":  # n-grams: every query word is a substring
            words = fold(query.text).split()
            return bool(words) and any(all(w in fold(v) for w in words) for v in values)
        wanted = analyse(query.text)  # text: token, or consecutive tokens for phrases
        if not wanted:
            return False
        for value in values:
            tokens = analyse(str(value))
            if any(tokens[i:i + len(wanted)] == wanted
                   for i in range(len(tokens) - len(wanted) + 1)):
                return True
        return False

    def _range_matches(self, query: Range, kind: str, values: list) -> bool:
        low, high = (self._sort_key(kind, bound) if bound is not None else None
                     for bound in (query.low, query.high))
        if kind == "text":
            keys = [token for value in values for token in analyse(str(value))]
        else:
            keys = [self._sort_key(kind, value) for value in values]
        for key in keys:
            above = low is None or key > low or (query.include_low and key == low)
            below = high is None or key < high or (query.include_high and key == high)
            if above and below:
                return True
        return False

    def _sort_key(self, kind: str, value: Any):
        if kind == "date":
            return date_key(format_date(parse_date(str(value), self.now)))
        if kind == "int":
            return self._int(value)
        if kind == "text":
            return fold(str(value))
        return str(value)

    @staticmethod
    def _int(value: Any) -> int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SolrError(400, f"Invalid Number: {value}")


# --- Documents: turning update input into stored documents ---------------------

def build_document(pairs: list[tuple[str, Any]], now: datetime.datetime) -> dict:
    """Validate and normalise (field, value) pairs the way CKAN's schema would."""
    received: dict[str, list] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not name:
            raise SolrError(400, "Every field needs a name")
        if value is not None:
            received.setdefault(name, [])
            received[name].append(_convert(field_spec(name), name, value, now))
    if UNIQUE_KEY not in received:
        raise SolrError(400, f"Document is missing mandatory uniqueKey field: {UNIQUE_KEY}")
    doc_id = received[UNIQUE_KEY][0]
    for name in REQUIRED_FIELDS:
        if name not in received:
            raise SolrError(400, f"[doc={doc_id}] missing required field: {name}")
    document = {name: list(items) for name, items in received.items()}
    document.setdefault("indexed_ts", [format_date(now)])  # schema default="NOW"
    # copyField copies only what the client sent, never values copied by another rule.
    for source, destination in COPY_FIELDS:
        for name, items in received.items():
            if name != destination and fnmatch.fnmatchcase(name, source):
                document.setdefault(destination, []).extend(str(v) for v in items)
    for name, converted in document.items():
        if not field_spec(name).multi and len(converted) > 1:
            raise SolrError(400, f"ERROR: [doc={doc_id}] multiple values encountered for "
                                 f"non multiValued field {name}: {converted}")
    return {name: (converted if field_spec(name).multi else converted[0])
            for name, converted in document.items()}


def _convert(spec: FieldSpec, name: str, raw: Any, now: datetime.datetime) -> Any:
    kind = KIND_OF_TYPE[spec.type]
    if isinstance(raw, (dict, list)):
        raise SolrError(400, f"Field '{name}': atomic updates and nested documents are not "
                             "supported by the Solr stand-in")
    if kind == "int":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise SolrError(400, f"ERROR: Error adding field '{name}'='{raw}': Invalid Number")
        return Matcher._int(raw if not isinstance(raw, float) else int(raw))
    if kind == "date":
        return format_date(parse_date(str(raw), now))
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def parse_update_body(body: bytes, content_type: str) -> list[tuple[str, Any]]:
    """Turn an /update body into commands: (add, pairs) (delete_id, id)
    (delete_query, q) (commit, None)."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SolrError(400, "Update bodies must be UTF-8")
    if not text:
        return []
    if "json" in content_type or text[0] in "[{":
        try:
            docs = json.loads(text)
        except ValueError as error:
            raise SolrError(400, f"Cannot parse provided JSON: {error}")
        if not isinstance(docs, list) or not all(isinstance(doc, dict) for doc in docs):
            raise SolrError(400, "The Solr stand-in accepts JSON updates as an array of "
                                 "documents only (as pysolr sends them); use XML for commands")
        return [("add", [(name, item) for name, value in doc.items()
                         for item in (value if isinstance(value, list) else [value])])
                for doc in docs]
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise SolrError(400, f"Cannot parse provided XML: {error}")
    commands = []
    for element in ([root] if root.tag in ("add", "delete", "commit", "optimize")
                    else list(root)):
        if element.tag == "add":
            for doc in element:
                commands.append(("add", _xml_doc_pairs(doc)))
        elif element.tag == "delete":
            for target in element:
                if target.tag not in ("id", "query"):
                    raise SolrError(400, f"Unexpected delete element: {target.tag}")
                commands.append((f"delete_{target.tag}", (target.text or "").strip()))
        elif element.tag in ("commit", "optimize"):
            commands.append(("commit", None))
        else:
            raise SolrError(400, f"Unexpected XML tag /{element.tag}")
    return commands


def _xml_doc_pairs(doc) -> list[tuple[str, Any]]:
    pairs = []
    if doc.tag != "doc":
        raise SolrError(400, f"Unexpected <{doc.tag}> inside <add>")
    for field in doc:
        if field.tag != "field" or field.get("update") is not None:
            raise SolrError(400, "Nested documents and atomic updates are not supported "
                                 "by the Solr stand-in")
        if field.get("null") != "true":
            pairs.append((field.get("name"), field.text or ""))
    return pairs


# --- The index -------------------------------------------------------------------

class SolrIndex:
    """Documents by uniqueKey; searches only see what was committed, as in Solr."""

    def __init__(self, data_file: Optional[str]):
        self._lock = threading.Lock()
        self._data_file = data_file
        self._pending: dict[str, dict] = {}  # every change, committed or not
        self._visible: dict[str, dict] = {}  # snapshot taken at the last commit
        if data_file and os.path.exists(data_file):
            with open(data_file, encoding="utf-8") as handle:
                stored = json.load(handle)
            if not isinstance(stored, dict) or stored.get("format") != DATA_FILE_FORMAT:
                raise ValueError(f"{data_file} is not a Solr stand-in data file")
            self._pending = {doc[UNIQUE_KEY]: doc for doc in stored["docs"]}
            self._visible = dict(self._pending)

    def visible_docs(self) -> list[dict]:
        with self._lock:
            return list(self._visible.values())

    def apply(self, commands: list[tuple[str, Any]], commit: bool, now) -> None:
        # Validate documents and parse queries before changing anything.
        prepared = [build_document(argument, now) if command == "add" else
                    QueryParser(argument, default_and=False).parse()
                    if command == "delete_query" else argument
                    for command, argument in commands]
        matcher = Matcher([("text", 1.0)], now)
        with self._lock:
            for (command, _), argument in zip(commands, prepared):
                if command == "add":
                    # Overwriting re-adds at the end, like Solr's internal doc order.
                    self._pending.pop(argument[UNIQUE_KEY], None)
                    self._pending[argument[UNIQUE_KEY]] = argument
                elif command == "delete_id":
                    self._pending.pop(argument, None)
                elif command == "delete_query":
                    self._pending = {key: doc for key, doc in self._pending.items()
                                     if matcher.score(argument, doc) is None}
                elif command == "commit":
                    self._commit()
            if commit:
                self._commit()

    def _commit(self) -> None:
        self._visible = dict(self._pending)
        if self._data_file:
            self._write(list(self._visible.values()))

    def _write(self, docs: list[dict]) -> None:
        # Temp file + os.replace: a crash mid-write never leaves a truncated index.
        directory = os.path.dirname(os.path.abspath(self._data_file))
        os.makedirs(directory, exist_ok=True)
        handle, temp_path = tempfile.mkstemp(dir=directory, suffix=".tmp",
                                             prefix=os.path.basename(self._data_file) + ".")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as temp:
                json.dump({"format": DATA_FILE_FORMAT, "docs": docs}, temp, ensure_ascii=False)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_path, self._data_file)
        except BaseException:
            if os.path.exists(temp_path):
                os.unlink(temp_path)
            raise


# --- Request handling (independent of HTTP) ------------------------------------------

class Params:
    """Request parameters; Solr reads the first value of single-valued ones."""

    def __init__(self, values: dict[str, list[str]]):
        self.values = values

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.values.get(name, [default])[0]

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def int(self, name: str, default: int) -> int:
        raw = self.get(name)
        try:
            return default if raw is None or raw == "" else int(raw)
        except ValueError:
            raise SolrError(400, f"Invalid integer for parameter {name}: '{raw}'")

    def echo(self) -> dict:
        return {k: (v[0] if len(v) == 1 else v) for k, v in self.values.items()}


class SolrStandin:
    def __init__(self, data_file: Optional[str], schema_name: str = DEFAULT_SCHEMA_NAME):
        self.index = SolrIndex(data_file)
        self.schema_name = schema_name

    def handle(self, path: str, params: Params, body: bytes, content_type: str):
        """Return (status, content type, bytes) for a request on `path`."""
        segments = [s for s in path.split("/") if s]
        for start in range(len(segments)):  # skip any /solr/<core>/ prefix
            handler = "/".join(segments[start:])
            if handler in ("select", "query", "update", "update/json", "update/xml",
                           "admin/ping", "admin/file") or segments[start] == "schema":
                break
        else:
            raise SolrError(404, f"Unknown path: {path} (not handled by the Solr stand-in)")
        if handler in ("select", "query"):
            return self._json(self.select(params))
        if handler.startswith("update"):
            return self._json(self.update(params, body, content_type))
        if handler == "admin/ping":
            return self._json({"responseHeader": self._header(params), "status": "OK"})
        if handler == "admin/file" and params.get("file") not in ("schema.xml",
                                                                  "managed-schema"):
            raise SolrError(404, f"Can not find: {params.get('file')}")
        if handler == "admin/file" or params.get("wt") == "schema.xml":
            return 200, "application/xml; charset=utf-8", self.schema_xml()
        return self._json(self.schema_json(handler))

    @staticmethod
    def _json(payload: dict):
        return 200, "application/json; charset=utf-8", json.dumps(payload).encode("utf-8")

    @staticmethod
    def _header(params: Optional[Params] = None) -> dict:
        header = {"status": 0, "QTime": 0}
        if params is not None:
            header["params"] = params.echo()
        return header

    # /update
    def update(self, params: Params, body: bytes, content_type: str) -> dict:
        commands = parse_update_body(body, content_type)
        commit = any(params.get(name, "false").lower() == "true"
                     for name in ("commit", "softCommit", "optimize"))
        # commitWithin is a deadline; committing at once honours it.
        commit = commit or params.get("commitWithin") is not None
        self.index.apply(commands, commit, utc_now())
        return {"responseHeader": self._header()}

    # /select
    def select(self, params: Params) -> dict:
        now = utc_now()  # one NOW per request, as in Solr
        if (params.get("wt") or "json") != "json":
            raise SolrError(400, "The Solr stand-in only answers wt=json")
        query, matcher = self._main_query(params, now)
        filter_matcher = Matcher([(params.get("df", "text"), 1.0)], now)
        filters = [self._parse_lucene(fq, params) for fq in params.all("fq") if fq.strip()]
        all_docs = self.index.visible_docs()
        matched = []
        for doc in all_docs:
            if all(filter_matcher.score(f, doc) is not None for f in filters):
                score = matcher.score(query, doc)
                if score is not None:
                    matched.append((doc, score))
        matched = self._sort(matched, params.get("sort") or "score desc", filter_matcher)
        start, rows = params.int("start", 0), params.int("rows", 10)
        fl = [f for f in re.split(r"[,\s]+", params.get("fl") or "*") if f] or ["*"]
        response = {"numFound": len(matched), "start": start, "numFoundExact": True,
                    "docs": [self._stored_view(doc, score, fl)
                             for doc, score in matched[max(start, 0):max(start, 0) + max(rows, 0)]]}
        if "score" in fl:
            response["maxScore"] = max((score for _, score in matched), default=0.0)
        result = {"responseHeader": self._header(params), "response": response}
        if (params.get("facet") or "false").lower() in ("true", "on"):
            result["facet_counts"] = self._facets(params, [d for d, _ in matched], all_docs)
        return result

    def _parse_lucene(self, text: str, params: Params) -> BoolQuery:
        if text.lstrip().startswith("{!"):
            raise SolrError(400, "Local parameters ({!...}) are not supported by the "
                                 "Solr stand-in")
        return QueryParser(text, default_and=(params.get("q.op") or "OR").upper() == "AND").parse()

    def _main_query(self, params: Params, now):
        def_type = params.get("defType") or "lucene"
        q = params.get("q") or ""
        if def_type in ("lucene", "standard"):
            return (self._parse_lucene(q, params) if q.strip() else BoolQuery([]),
                    Matcher([(params.get("df", "text"), 1.0)], now))
        if def_type not in ("dismax", "edismax"):
            raise SolrError(400, f"Unknown query parser '{def_type}' (the Solr stand-in "
                                 "supports lucene, dismax and edismax)")
        if not q.strip():
            q_alt = params.get("q.alt") or ""
            return (self._parse_lucene(q_alt, params) if q_alt.strip() else BoolQuery([]),
                    Matcher([(params.get("df", "text"), 1.0)], now))
        default_fields = []
        for item in (params.get("qf") or "").split():
            name, _, weight = item.partition("^")
            try:
                default_fields.append((name, float(weight or 1)))
            except ValueError:
                raise SolrError(400, f"Invalid qf boost: {item}")
        query = QueryParser(q, default_and=False)
        parsed = query.parse()
        if not query.has_explicit_operators:
            default_mm = "100%" if def_type == "dismax" or (
                (params.get("q.op") or "OR").upper() == "AND") else "0%"
            optional = sum(1 for occur, _ in parsed.clauses if occur == SHOULD)
            parsed.min_should = minimum_should_match(params.get("mm") or default_mm, optional)
        return parsed, Matcher(default_fields or [(params.get("df", "text"), 1.0)], now)

    def _sort(self, matched, sort_spec: str, matcher: Matcher):
        keys = []
        for part in (p.strip() for p in sort_spec.split(",")):
            words = part.split()
            if len(words) != 2 or words[1].lower() not in ("asc", "desc"):
                raise SolrError(400, "Can't determine a Sort Order (asc or desc) in sort "
                                     f"spec '{sort_spec}'")
            if words[0] != "score" and field_spec(words[0]).multi:
                raise SolrError(400, f"can not sort on multivalued field: {words[0]}")
            keys.append((words[0], words[1].lower() == "desc"))
        # Stable sorts from the last key to the first; missing values sort last.
        for field, descending in reversed(keys):
            if field == "score":
                matched.sort(key=lambda item: item[1], reverse=descending)
                continue
            kind = field_kind(field)
            present = [item for item in matched if item[0].get(field) is not None]
            present.sort(key=lambda item: matcher._sort_key(kind, item[0][field]),
                         reverse=descending)
            matched = present + [item for item in matched if item[0].get(field) is None]
        return matched

    @staticmethod
    def _stored_view(doc: dict, score: float, fl: list[str]) -> dict:
        patterns = [f for f in fl if "*" in f]
        view = {name: value for name, value in doc.items()
                if field_spec(name).stored and (name in fl or any(
                    fnmatch.fnmatchcase(name, pattern) for pattern in patterns))}
        if "score" in fl:
            view["score"] = score
        return view

    def _facets(self, params: Params, matched: list[dict], all_docs: list[dict]) -> dict:
        fields = {}
        for raw_field in params.all("facet.field"):
            field = re.sub(r"^\{!.*?\}", "", raw_field).strip()
            kind = field_kind(field)

            def terms(doc):
                values = as_list(doc.get(field))
                if kind == "text":
                    return {token for value in values for token in analyse(str(value))}
                return {str(value) for value in values}

            counts: collections.Counter = collections.Counter()
            for doc in matched:
                counts.update(terms(doc))  # documents are counted, not occurrences
            mincount = params.int("facet.mincount", 0)
            if mincount <= 0:  # Solr then also lists index terms with zero count
                for doc in all_docs:
                    for term in terms(doc):
                        counts[term] += 0
            limit = params.int("facet.limit", 100)
            order = params.get("facet.sort") or ("count" if limit > 0 else "index")
            items = [(term, count) for term, count in counts.items() if count >= mincount]
            items.sort(key=(lambda tc: tc[0]) if order in ("index", "lex", "false")
                       else (lambda tc: (-tc[1], tc[0])))
            if limit >= 0:
                items = items[:limit]
            fields[field] = [part for term_count in items for part in term_count]
        # facet.query, facet.range... are not supported: CKAN does not send them.
        return {"facet_queries": {}, "facet_fields": fields, "facet_ranges": {},
                "facet_intervals": {}, "facet_heatmaps": {}}

    # /schema
    def schema_xml(self) -> bytes:
        # CKAN's startup check reads only the root element's name="ckan-X.Y".
        root = ElementTree.Element("schema", name=self.schema_name, version="1.6")
        ElementTree.SubElement(root, "uniqueKey").text = UNIQUE_KEY
        return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)

    def schema_json(self, handler: str) -> dict:
        parts = {"schema/name": {"name": self.schema_name}, "schema/version": {"version": 1.6},
                 "schema/uniquekey": {"uniqueKey": UNIQUE_KEY}}
        parts["schema"] = {"schema": {k: v for part in parts.values() for k, v in part.items()}}
        if handler not in parts:
            raise SolrError(404, f"Unknown schema path: /{handler}")
        return {"responseHeader": self._header(), **parts[handler]}


# --- HTTP -------------------------------------------------------------------------

def error_body(status: int, message: str) -> bytes:
    return json.dumps({
        "responseHeader": {"status": status, "QTime": 0},
        "error": {"metadata": ["error-class", "org.apache.solr.common.SolrException",
                               "root-error-class", "org.apache.solr.common.SolrException"],
                  "msg": message, "code": status}}).encode("utf-8")


class SolrRequestHandler(BaseHTTPRequestHandler):
    server_version = "SolrStandin/1.0"

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._reply(400, "application/json", error_body(400, "Unsupported HTTP method"))

    do_DELETE = do_PATCH = do_HEAD = do_PUT

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            content_type = self.headers.get("Content-Type", "")
            values = parse_qs(url.query, keep_blank_values=True)
            if content_type.startswith("application/x-www-form-urlencoded"):
                for name, items in parse_qs(body.decode("utf-8"),
                                            keep_blank_values=True).items():
                    values.setdefault(name, []).extend(items)
                body = b""
            reply = self.server.app.handle(url.path, Params(values), body, content_type)
        except SolrError as error:
            reply = (error.status, "application/json; charset=utf-8",
                     error_body(error.status, error.message))
        except Exception as error:  # a bug here must not take the server down
            traceback.print_exc(file=sys.stderr)
            reply = (500, "application/json; charset=utf-8",
                     error_body(500, f"Solr stand-in internal error: {error!r}"))
        self._reply(*reply)

    def _reply(self, status: int, content_type: str, payload: bytes):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)


class SolrStandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app: SolrStandin, quiet: bool = False):
        super().__init__(address, SolrRequestHandler)
        self.app = app
        self.quiet = quiet


def make_server(host: str, port: int, data_file: Optional[str],
                schema_name: str = DEFAULT_SCHEMA_NAME, quiet: bool = True) -> SolrStandinServer:
    """Bind (port 0 picks a free port) without serving; call serve_forever()."""
    return SolrStandinServer((host, port), SolrStandin(data_file, schema_name), quiet=quiet)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description="Solr stand-in for the local CKAN dev stack (NOT for production).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8983)
    parser.add_argument("--data-file", help="JSON file the committed index is kept in "
                                            "(omit to keep the index in memory only)")
    parser.add_argument("--schema-name", default=DEFAULT_SCHEMA_NAME,
                        help="schema name reported to CKAN's version check")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.data_file, args.schema_name, args.quiet)
    # Stopping the stack sends SIGTERM: exit through `finally` to close the socket.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"Solr stand-in (development only) on http://{args.host}:{server.server_address[1]}"
          f"/solr/ckan, data file: {args.data_file or '(memory only)'}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
