"""Tests for the development Solr stand-in (devstack/solr_standin.py).

Each test runs the server in-process on a free port and talks HTTP to it, with
the parameters and documents CKAN 2.11 / ckanext-harvest actually send.
"""
import hashlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import xml.dom.minidom

import pytest

from devstack import solr_standin

SITE_ID = "default"
# What ckan.lib.search.query.PackageSearchQuery.run adds for free-text queries.
CKAN_DISMAX = {"defType": "dismax", "qf": "name^4 title^4 tags^2 groups^2 text",
               "mm": "2<-1 5<80%", "tie": "0.1", "q.op": "AND", "df": "text"}
CKAN_SUPPORTED_SCHEMA_VERSIONS = ["2.8", "2.9", "2.10", "2.11"]


class Client:
    """A running stand-in plus small HTTP helpers (urllib only)."""

    def __init__(self, data_file):
        self.server = solr_standin.make_server("127.0.0.1", 0, str(data_file))
        # A short poll interval only makes shutdown() return sooner (default 0.5 s).
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/solr/ckan"

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()  # returns once serve_forever has stopped
            self.server.server_close()
            self.thread.join()

    def request(self, path, params=None, body=None, content_type=None):
        """Return (HTTP status, raw body) without raising on HTTP errors."""
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        request = urllib.request.Request(url, data=body)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, path, params=None, body=None, content_type=None, expect=200):
        status, raw = self.request(path, params, body, content_type)
        assert status == expect, raw
        return json.loads(raw)

    def select(self, **params):
        return self.json("/select", params)

    def names(self, **params):
        params.setdefault("rows", 100)
        params.setdefault("fl", "name")
        return [doc["name"] for doc in self.select(**params)["response"]["docs"]]

    def add(self, docs, commit=True):
        params = {"commit": "true"} if commit else None
        return self.json("/update", params, json.dumps(docs).encode(),
                         "application/json; charset=utf-8")

    def update_xml(self, xml_text, expect=200, **params):
        return self.json("/update", params, xml_text.encode(), "text/xml; charset=utf-8",
                         expect=expect)


@pytest.fixture
def data_file(tmp_path):
    return tmp_path / "solr-index.json"


@pytest.fixture
def start_server(data_file):
    clients = []

    def start(path=data_file):
        clients.append(Client(path))
        return clients[-1]

    yield start
    for client in clients:
        client.stop()


@pytest.fixture
def solr(start_server):
    return start_server()


def ckan_doc(name, title, **fields):
    """A document shaped like the one PackageSearchIndex.index_package sends."""
    doc = {"id": f"id-{name}", "name": name, "title": title, "site_id": SITE_ID,
           "entity_type": "package", "dataset_type": "dataset", "state": "active",
           "capacity": "public", "private": False, "num_resources": 1,
           "permission_labels": ["public"], "metadata_created": "2024-01-01T00:00:00Z",
           "metadata_modified": "2024-01-01T00:00:00Z", "title_string": title,
           "validated_data_dict": json.dumps({"name": name, "title": title})}
    doc.update(fields)
    doc["index_id"] = hashlib.md5(f"{doc['id']}{doc['site_id']}".encode()).hexdigest()
    return doc


CATALOGUE = [
    ckan_doc("budget-2024", "Budget primitif 2024", notes="Budget de la commune de Lyon",
             tags=["budget", "finances"], organization="lyon",
             res_format=["CSV", "CSV", "XML"], harvest_source_id="src-1",
             metadata_modified="2024-03-01T10:00:00.250Z"),
    ckan_doc("compte-2023", "Compte administratif 2023", notes="Comptes et budgets exécutés",
             tags=["finances"], organization="lyon", res_format=["CSV"],
             metadata_modified="2023-06-01T00:00:00Z"),
    ckan_doc("economie-locale", "Économie locale", notes="Indicateurs économiques",
             tags=["economie"], organization="paris", res_format=["PDF"],
             metadata_modified="2024-05-01T00:00:00Z"),
    ckan_doc("private-budget", "Budget confidentiel", capacity="private", private=True,
             organization="lyon", permission_labels=["member-org-lyon"],
             metadata_modified="2024-04-01T00:00:00Z"),
    ckan_doc("deleted-budget", "Budget supprimé", state="deleted"),
    ckan_doc("lyon-harvest", "Moissonnage Lyon", dataset_type="harvest"),
    ckan_doc("budget-elsewhere", "Budget ailleurs", site_id="other-site"),
]
PUBLIC_DATASETS = {"budget-2024", "compte-2023", "economie-locale"}


def ckan_filters(fq="", labels=("public",), include_private=False, states=("active",)):
    """The fq list package_search + PackageSearchQuery.run send for a search."""
    if not include_private:
        fq = "+capacity:public " + fq
    fq += " +state:({})".format(" OR ".join(states))
    return [fq, f'+site_id:"{SITE_ID}"',
            "+permission_labels:(%s)" % " OR ".join(f'"{label}"' for label in labels)]


@pytest.fixture
def catalogue(solr):
    solr.add(CATALOGUE)
    return solr


def test_added_documents_are_searchable_after_commit(solr):
    doc = ckan_doc("budget-2024", "Budget primitif 2024", tags=["budget"],
                   metadata_modified="2024-03-01T10:00:00.123456Z")
    solr.add([doc], commit=False)
    assert solr.select(q='id:"id-budget-2024"')["response"]["numFound"] == 0

    solr.update_xml("<commit/>")
    found = solr.select(q='id:"id-budget-2024"', fl="*,score")["response"]
    assert found["numFound"] == 1
    stored = found["docs"][0]
    assert stored["name"] == "budget-2024" and stored["tags"] == ["budget"]
    assert stored["metadata_modified"] == "2024-03-01T10:00:00.123Z"  # Solr keeps ms
    assert stored["index_id"] == doc["index_id"] and "indexed_ts" in stored
    assert stored["score"] > 0
    # Fields the schema does not store are searchable but never returned.
    for not_stored in ("permission_labels", "title_string", "text", "private"):
        assert not_stored not in stored

    ckan_fl = solr.select(q="*:*", fl="id validated_data_dict")["response"]["docs"]
    assert ckan_fl == [{"id": "id-budget-2024", "validated_data_dict": doc["validated_data_dict"]}]


def test_xml_add_multivalued_fields_and_overwrite_by_index_id(solr):
    xml_doc = """<add><doc>
        <field name="index_id">idx-1</field><field name="id">id-1</field>
        <field name="site_id">default</field><field name="name">first</field>
        <field name="tags">a</field><field name="tags">b</field>
        <field name="title">{title}</field></doc></add>"""
    solr.update_xml(xml_doc.format(title="First title"), commit="true")
    solr.update_xml(xml_doc.format(title="Second title"), commit="true")
    docs = solr.select(q="*:*")["response"]["docs"]
    assert [(d["title"], d["tags"]) for d in docs] == [("Second title", ["a", "b"])]

    # The uniqueKey is index_id (id + site_id), not id: another site's copy is kept.
    solr.add([ckan_doc("first", "Other site", id="id-1", site_id="other-site")])
    assert solr.select(q='id:"id-1"')["response"]["numFound"] == 2


@pytest.mark.parametrize("filters, expected", [
    (ckan_filters(), PUBLIC_DATASETS | {"lyon-harvest"}),
    (ckan_filters(" -dataset_type:harvest"), PUBLIC_DATASETS),  # ckanext-harvest's filter
    (ckan_filters("+dataset_type:harvest"), {"lyon-harvest"}),
    (ckan_filters("-dataset_type:harvest", labels=("public", "member-org-lyon"),
                  include_private=True), PUBLIC_DATASETS | {"private-budget"}),
    (ckan_filters("-dataset_type:harvest", labels=("public", "creator-u1"),
                  include_private=True), PUBLIC_DATASETS),
    (ckan_filters("-dataset_type:harvest", states=("active", "deleted")),
     PUBLIC_DATASETS | {"deleted-budget"}),
    (ckan_filters("tags:finances"), {"budget-2024", "compte-2023"}),
    (ckan_filters('res_format:"CSV" organization:lyon'), {"budget-2024", "compte-2023"}),
    (ckan_filters("organization:(lyon OR paris) -tags:economie"), {"budget-2024", "compte-2023"}),
    (ckan_filters('+harvest_source_id:"src-1"'), {"budget-2024"}),
    (ckan_filters("harvest_source_id:[* TO *]"), {"budget-2024"}),
    (ckan_filters("-harvest_source_id:[* TO *] -dataset_type:harvest"),
     {"compte-2023", "economie-locale"}),
    # ckanext-harvest's CKAN harvester "modified since" filter (microseconds, Z).
    (ckan_filters("metadata_modified:[2024-01-01T00:00:00.123456Z TO *]"),
     {"budget-2024", "economie-locale"}),
    (ckan_filters("metadata_modified:{2023-06-01T00:00:00Z TO NOW]"),
     {"budget-2024", "economie-locale", "lyon-harvest"}),
    (ckan_filters("name:budget*"), {"budget-2024"}),
    (ckan_filters("title:BUDGET AND NOT tags:finances"), set()),
    (ckan_filters("(title:economie OR notes:commune)"), {"budget-2024", "economie-locale"}),
    # Lucene's rules: after CKAN's "+capacity:public " prefix, a bare "a OR b" is optional.
    (ckan_filters("title:economie OR notes:commune"), PUBLIC_DATASETS | {"lyon-harvest"}),
    (['+site_id:"other-site"'], {"budget-elsewhere"}),
], ids=lambda value: None)
def test_filter_queries_as_ckan_sends_them(catalogue, filters, expected):
    assert set(catalogue.names(q="*:*", fq=filters, **{"q.op": "AND"})) == expected


@pytest.mark.parametrize("params, expected", [
    (dict(CKAN_DISMAX, q="budget"), ["budget-2024", "compte-2023"]),  # title^4 first
    (dict(CKAN_DISMAX, q="ECONOMIE"), ["economie-locale"]),  # case and accents folded
    (dict(CKAN_DISMAX, q="budget primitif"), ["budget-2024"]),  # 2 terms: both required
    (dict(CKAN_DISMAX, q="budget lyon"), ["budget-2024", "compte-2023"]),  # organization
    (dict(CKAN_DISMAX, q="budget commune lyon nulle-part"), ["budget-2024"]),  # mm 2<-1
    (dict(CKAN_DISMAX, q='"compte administratif"'), ["compte-2023"]),
    (dict(CKAN_DISMAX, q='"administratif compte"'), []),
    (dict(CKAN_DISMAX, q="economie-locale"), ["economie-locale"]),
    ({"q": "tags:economie", "q.op": "AND"}, ["economie-locale"]),
    ({"q": "budget", "df": "notes"}, ["budget-2024", "compte-2023"]),
    # package_autocomplete's query
    ({"q": 'name_ngram:"ECO" OR title_ngram:"ECO" OR name:"ECO" OR title:"ECO"',
      "q.op": "AND"}, ["economie-locale"]),
    # PackageSearchQuery.get_index's query
    ({"q": 'name:"compte-2023" OR id:"compte-2023"'}, ["compte-2023"]),
], ids=lambda value: None)
def test_free_text_and_fielded_q(catalogue, params, expected):
    params = dict(params, fq=ckan_filters("-dataset_type:harvest"),
                  sort="score desc, metadata_modified desc")
    assert catalogue.names(**params) == expected


def test_sort_and_paging(catalogue):
    public = dict(q="*:*", fq=ckan_filters())
    assert catalogue.names(sort="metadata_modified desc", **public) == [
        "economie-locale", "budget-2024", "lyon-harvest", "compte-2023"]
    assert catalogue.names(sort="score desc, metadata_modified desc", **public) == [
        "economie-locale", "budget-2024", "lyon-harvest", "compte-2023"]
    assert catalogue.names(sort="title_string asc", **public) == [
        "budget-2024", "compte-2023", "lyon-harvest", "economie-locale"]  # "É" sorts last
    # Documents without the sort field come last, whatever the direction.
    assert catalogue.names(sort="organization desc, name asc", **public) == [
        "economie-locale", "budget-2024", "compte-2023", "lyon-harvest"]

    pages = [catalogue.select(sort="name asc", rows=2, start=start, fl="name", **public)
             for start in (0, 2, 4)]
    assert [p["response"]["numFound"] for p in pages] == [4, 4, 4]
    assert [p["response"]["start"] for p in pages] == [0, 2, 4]
    assert [[d["name"] for d in p["response"]["docs"]] for p in pages] == [
        ["budget-2024", "compte-2023"], ["economie-locale", "lyon-harvest"], []]

    for bad_sort, message in (("title sideways", "Can't determine a Sort Order"),
                              ("tags asc", "can not sort on multivalued field")):
        error = catalogue.json("/select", {"q": "*:*", "sort": bad_sort}, expect=400)
        assert message in error["error"]["msg"]


def test_facet_counts(catalogue):
    params = {"q": "*:*", "fq": ckan_filters("-dataset_type:harvest"), "rows": 0,
              "facet": "true", "facet.field": ["tags", "organization", "res_format"],
              "facet.limit": 50, "facet.mincount": 1}
    result = catalogue.select(**params)
    assert result["response"]["numFound"] == 3 and result["response"]["docs"] == []
    counts = result["facet_counts"]
    assert set(counts) >= {"facet_queries", "facet_fields", "facet_ranges"}
    assert counts["facet_fields"] == {
        "tags": ["finances", 2, "budget", 1, "economie", 1],
        "organization": ["lyon", 2, "paris", 1],
        "res_format": ["CSV", 2, "PDF", 1, "XML", 1],  # documents, not occurrences
    }
    limited = catalogue.select(**dict(params, **{"facet.limit": 1}))
    assert limited["facet_counts"]["facet_fields"]["tags"] == ["finances", 2]
    by_index = catalogue.select(**dict(params, **{"facet.sort": "index"}))
    assert by_index["facet_counts"]["facet_fields"]["tags"] == [
        "budget", 1, "economie", 1, "finances", 2]
    narrowed = catalogue.select(**dict(params, q="tags:economie"))
    assert narrowed["facet_counts"]["facet_fields"]["organization"] == ["paris", 1]
    assert "facet_counts" not in catalogue.select(q="*:*")


def test_delete_by_id_and_by_query(catalogue):
    everything = {"q": "*:*", "fq": [], "fl": "name"}
    compte = next(doc for doc in CATALOGUE if doc["name"] == "compte-2023")
    catalogue.update_xml(f"<delete><id>{compte['index_id']}</id></delete>", commit="true")
    assert "compte-2023" not in catalogue.names(**everything)

    # PackageSearchIndex.delete_package's query; not visible until committed.
    catalogue.update_xml("<delete><query>+entity_type:package AND +(id:\"id-economie-locale\""
                         f" OR name:\"id-economie-locale\") AND +site_id:\"{SITE_ID}\""
                         "</query></delete>")
    assert "economie-locale" in catalogue.names(**everything)
    catalogue.update_xml("<commit/>")
    assert "economie-locale" not in catalogue.names(**everything)

    # harvest_source_clear's query, then ckan.lib.search.clear_index's.
    catalogue.update_xml(f'<delete><query> +harvest_source_id:"src-1" +site_id:"{SITE_ID}" '
                         "</query></delete>", commit="true")
    assert "budget-2024" not in catalogue.names(**everything)
    catalogue.update_xml(f'<delete><query>+site_id:"{SITE_ID}"</query></delete>',
                         commit="true")
    assert catalogue.names(**everything) == ["budget-elsewhere"]


def test_index_survives_a_restart(start_server, data_file):
    first = start_server()
    first.add(CATALOGUE[:3])
    first.add([ckan_doc("never-committed", "Pas de commit")], commit=False)
    first.stop()

    assert [p.name for p in data_file.parent.iterdir()] == [data_file.name]  # no temp file
    assert len(json.loads(data_file.read_text())["docs"]) == 3

    second = start_server()
    assert set(second.names(q="*:*")) == {"budget-2024", "compte-2023", "economie-locale"}
    # Copied and analysed fields were kept too: free text still works.
    assert second.names(q="budgets", **{"defType": "dismax", "qf": "text"}) == [
        "budget-2024", "compte-2023"]
    second.update_xml('<delete><query>name:"compte-2023"</query></delete>', commit="true")
    assert len(json.loads(data_file.read_text())["docs"]) == 2


def test_unreadable_data_file_stops_startup(data_file):
    data_file.write_text('{"something": "else"}')
    with pytest.raises(ValueError):
        solr_standin.make_server("127.0.0.1", 0, str(data_file))


@pytest.mark.parametrize("path, params, body, status, message", [
    ("/nowhere", None, None, 404, "Unknown path"),
    ("/select", {"q": "title:(budget"}, None, 400, "Cannot parse"),
    ("/select", {"q": "*:*", "fq": "{!tag=x}state:active"}, None, 400, "Local parameters"),
    ("/select", {"q": "*:*", "rows": "many"}, None, 400, "Invalid integer"),
    ("/update", None, b"<add><doc><field name='id'>x", 400, "Cannot parse provided XML"),
    ("/update", None, json.dumps([{"id": "x", "site_id": "s"}]).encode(), 400,
     "missing mandatory uniqueKey field: index_id"),
    ("/update", None, json.dumps([{"index_id": "i", "id": "x", "site_id": "s",
                                   "name": ["a", "b"]}]).encode(), 400,
     "multiple values encountered for non multiValued field name"),
    ("/update", None, json.dumps([{"index_id": "i", "id": "x", "site_id": "s",
                                   "metadata_modified": "2024-01-01"}]).encode(), 400,
     "Invalid Date String"),
    ("/schema/nothing", None, None, 404, "Unknown schema path"),
], ids=lambda value: None)
def test_bad_requests_get_solr_errors_and_the_server_keeps_serving(
        solr, path, params, body, status, message):
    content_type = None
    if body is not None:
        content_type = "application/json" if body.startswith(b"[") else "text/xml"
    error = solr.json(path, params, body, content_type, expect=status)
    assert error["error"]["code"] == status and message in error["error"]["msg"]
    assert solr.json("/admin/ping")["status"] == "OK"


def test_internal_errors_do_not_stop_the_server(solr, monkeypatch, capsys):
    def broken_select(params):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(solr.server.app, "select", broken_select)
    error = solr.json("/select", {"q": "*:*"}, expect=500)
    assert "simulated bug" in error["error"]["msg"]
    assert "simulated bug" in capsys.readouterr().err  # traceback logged
    assert solr.json("/admin/ping")["status"] == "OK"


def test_ping_and_schema_satisfy_ckan_startup_check(solr):
    assert solr.json("/admin/ping/", {"wt": "json"})["status"] == "OK"
    # check_solr_schema_version fetches these and parses them with minidom.
    for path, params in (("/schema", {"wt": "schema.xml"}),
                         ("/admin/file/", {"file": "schema.xml"})):
        status, body = solr.request(path, params)
        assert status == 200
        name = xml.dom.minidom.parseString(body).documentElement.getAttribute("name")
        assert name == "ckan-2.11"
        assert name.split("-")[1] in CKAN_SUPPORTED_SCHEMA_VERSIONS
    assert solr.json("/schema/name")["name"] == "ckan-2.11"
    assert solr.json("/schema/uniquekey")["uniqueKey"] == "index_id"
    assert solr.json("/admin/file/", {"file": "solrconfig.xml"}, expect=404)


def test_pysolr_round_trip_the_way_ckan_uses_it(solr):
    pysolr = pytest.importorskip("pysolr")
    conn = pysolr.Solr(solr.url, timeout=10)
    conn.add([dict(doc, extras_budget_year=2024, author=None) for doc in CATALOGUE],
             commit=True)  # PackageSearchIndex.index_package

    # The query dict PackageSearchQuery.run builds for package_search(q="budget").
    query = dict(CKAN_DISMAX, q="budget", fl="id validated_data_dict",
                 fq=ckan_filters(" -dataset_type:harvest"), rows=11, wt="json",
                 sort="score desc, metadata_modified desc", facet="true",
                 **{"facet.field": ["tags", "organization"], "facet.limit": 50,
                    "facet.mincount": 1})
    results = conn.search(**query)
    assert results.hits == 2
    assert [json.loads(d["validated_data_dict"])["name"] for d in results.docs] == [
        "budget-2024", "compte-2023"]
    assert results.facets["facet_fields"]["tags"] == ["finances", 2, "budget", 1]

    # get_index and get_all_entity_ids.
    found = conn.search(q='name:"economie-locale" OR id:"economie-locale"', rows=1,
                        wt="json", fq=f'+site_id:"{SITE_ID}" +entity_type:package')
    assert found.docs[0]["extras_budget_year"] == "2024"
    ids = conn.search("*:*", fq=f'+site_id:"{SITE_ID}" +state:active ', rows=1000, fl="id")
    assert len(ids.docs) == 5

    # Long queries (many permission labels) arrive as a POST form.
    labels = ["public"] + [f"member-{n:040d}" for n in range(40)]
    many = conn.search("*:*", fq=ckan_filters(labels=labels), rows=0)
    assert many.hits == 4

    with pytest.raises(pysolr.SolrError, match="Can't determine a Sort Order"):
        conn.search("*:*", sort="name upwards")

    conn.delete(q=f'+entity_type:package AND +(id:"id-budget-2024" OR name:"id-budget-2024")'
                  f' AND +site_id:"{SITE_ID}"', commit=False)
    assert conn.search("name:budget-2024").hits == 1
    conn.commit(waitSearcher=False)  # PackageSearchIndex.commit
    assert conn.search("name:budget-2024").hits == 0
    assert json.loads(conn.ping())["status"] == "OK"


def test_ckan_search_code_against_the_standin(catalogue, monkeypatch):
    """Drive ckan.lib.search itself (no database needed for these functions)."""
    search = pytest.importorskip("ckan.lib.search")
    from ckan.common import config
    from ckan.lib.search import common
    from ckan.lib.search.query import PackageSearchQuery

    # CKAN 2.11 reads the Solr address from common.SolrSettings, 2.12 from the config.
    if hasattr(common, "SolrSettings"):
        for attribute, value in (("_is_initialised", True), ("_url", catalogue.url),
                                 ("_user", None), ("_password", None)):
            monkeypatch.setattr(common.SolrSettings, attribute, value)
    for key, value in (("solr_url", catalogue.url), ("solr_user", None), ("solr_password", None)):
        monkeypatch.setitem(config, key, value)
    # Defaults a configured CKAN app would provide.
    monkeypatch.setitem(config, "ckan.site_id", SITE_ID)
    monkeypatch.setitem(config, "search.facets.limit", 50)

    assert common.is_available()
    assert search.check_solr_schema_version() is True

    query = PackageSearchQuery()
    result = query.run({"q": "budget", "fl": "id name", "facet.field": ["organization"],
                        "fq": "-dataset_type:harvest",
                        "sort": "score desc, metadata_modified desc"},
                       permission_labels=["public", "member-org-lyon"])
    assert result["count"] == 3
    assert [r["name"] for r in result["results"]] == [
        "private-budget", "budget-2024", "compte-2023"]
    assert query.facets == {"organization": {"lyon": 3}}
    assert query.get_index("economie-locale")["title"] == "Économie locale"
    assert set(query.get_all_entity_ids()) == {
        f"id-{name}" for name in PUBLIC_DATASETS | {"private-budget", "lyon-harvest"}}
    with pytest.raises(search.SearchQueryError, match="Invalid \"sort\" parameter"):
        query.run({"q": "*:*", "sort": "name sideways"})

    search.clear_all()  # what `ckan search-index clear` does
    assert catalogue.names(q="*:*") == ["budget-elsewhere"]
