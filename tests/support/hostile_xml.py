"""Unsafe XML prologs (external entities, entity expansion, any DOCTYPE) that every reader of
TOTEM documents must refuse: the reader's tests and the CLI's."""
from tests.support.totem_factory import totem_document

SECRET = "TOP-SECRET-CONTENT-4242"


def xxe_document(tmp_path) -> str:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<!DOCTYPE DocumentBudgetaire [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
            + totem_document(collectivite="&xxe;").decode().split("\n", 1)[1].replace("&amp;xxe;", "&xxe;"))


def billion_laughs() -> str:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10))
    return (f'<?xml version="1.0"?>\n<!DOCTYPE DocumentBudgetaire [{entities}]>\n'
            '<DocumentBudgetaire xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire">'
            "<VersionSchema V=\"&lol9;\"/></DocumentBudgetaire>")


UNSAFE_PROLOGS = {
    "external_dtd": '<!DOCTYPE DocumentBudgetaire SYSTEM "http://127.0.0.1:9/evil.dtd">\n',
    "parameter_entity": '<!DOCTYPE DocumentBudgetaire [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>\n',
    "doctype_after_comment_and_pi": '<!-- a comment --><?pi data?>\n<!DOCTYPE DocumentBudgetaire>\n',
    "lower_case_doctype": "<!doctype DocumentBudgetaire>\n",
}
