"""Small TOTEM documents and plans de comptes, built for unit tests.

``totem_document(...)`` returns the bytes of a ``DocumentBudgetaire`` (or of a
``CompteFinancierUnique`` wrapping one) whose header and lines are given as
arguments; ``plan_de_comptes(...)`` the bytes of a minimal plan. Both follow
the structure of the real files in ../shared/data.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

TOTEM_NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
CFU_NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/doccfu"
COMPTABLE_NAMESPACE = "http://www.minefi.gouv.fr/cp/demat/doccomptable"


@dataclass
class Line:
    """One LigneBudget; None leaves an element out."""

    nature: str | None = "6064"
    codrd: str | None = "D"
    contnat: str | None = None
    fonction: str | None = None
    contfon: str | None = None
    operation: str | None = None
    opbudg: str | None = "0"
    typopbudg: str | None = None
    artspe: str | None = "false"
    section: str | None = None
    amounts: dict[str, str] = field(default_factory=lambda: {"MtPrev": "100.00", "CredOuv": "100.00"})
    calculated: bool = False
    extra: str = ""  # raw XML appended inside the line

    def xml(self) -> str:
        parts = []
        for name, value in (("Nature", self.nature), ("Fonction", self.fonction), ("Operation", self.operation),
                            ("ContNat", self.contnat), ("ArtSpe", self.artspe), ("ContFon", self.contfon),
                            ("CodRD", self.codrd)):
            if value is not None:
                parts.append(f"<{name} V={quoteattr(value)}/>")
        parts += [f"<{name} V={quoteattr(value)}/>" for name, value in self.amounts.items()]
        if self.opbudg is not None:
            parts.append(f"<OpBudg V={quoteattr(self.opbudg)}/>")
        if self.typopbudg is not None:
            parts.append(f"<TypOpBudg V={quoteattr(self.typopbudg)}/>")
        parts.append('<MtSup Code="BudgetHorsRAR" V="1.00"/>')
        if self.section is not None:
            parts.append(f'<CaracSup Code="TypOpe" V="1"/><CaracSup Code="Section" V={quoteattr(self.section)}/>')
        attributes = ' calculated="true"' if self.calculated else ""
        return f"<LigneBudget{attributes}>{''.join(parts)}{self.extra}</LigneBudget>\n"


def totem_document(
    lines: list[Line] | None = None,
    *,
    siret: str | None = "21560046100010",
    year: str | None = "2022",
    natdec: str | None = "01",
    nomenclature: str | None = "M14-M14_COM_500_3500",
    collectivite: str = "CRACH",
    etablissement: str = "BUDGET PRINCIPAL",
    budget_type: str | None = "P",
    main_siret: str | None = None,
    decision_number: str | None = None,
    decision_date: str | None = "2022-04-04",
    encoding: str = "UTF-8",
    cfu: bool = False,
    with_budget: bool = True,
    annexes: str = "",
    before_root: str = "",
) -> bytes:
    """A TOTEM document; ``encoding`` is both declared and used to encode the text."""
    lines = [Line()] if lines is None else lines
    header = [
        ("LibelleEtab", etablissement), ("IdEtab", siret), ("CodColl", "520"), ("CodInseeColl", "56046"),
        ("CodBud", "00"), ("Nomenclature", nomenclature),
    ]
    bloc = [
        ("NatDec", natdec), ("NumDec", decision_number), ("Exer", year), ("DteDec", decision_date),
        ("NatVote", "FcIc"), ("CodTypBud", budget_type), ("IdEtabPal", main_siret),
    ]
    budget = (
        "<Budget>\n<EnTeteBudget>" + _leaves(header) + "</EnTeteBudget>\n"
        "<BlocBudget>" + _leaves(bloc) + "</BlocBudget>\n"
        '<InformationsGenerales><Information Code="PopTot" V="3000"/></InformationsGenerales>\n'
        + "".join(line.xml() for line in lines)
        + (f"<Annexes>{annexes}</Annexes>\n" if annexes else "")
        + "</Budget>\n"
    ) if with_budget else ""
    document = (
        "<VersionSchema V=\"100\"/>\n"
        '<Scellement md5="C2AD100CFDB19AE28D5BF4454461F5E7" sha1="D3076262EBE7EE60086DB285A1D5D02910ECDB15" '
        'date="2022-04-07T10:16:21.216+02:00"/>\n'
        "<EnTeteDocBudgetaire>" + _leaves([("LibelleColl", collectivite), ("IdColl", "21560046100010")])
        + "</EnTeteDocBudgetaire>\n" + budget
    )
    if cfu:
        body = (
            f'<doccfu:CompteFinancierUnique xmlns:doccfu="{CFU_NAMESPACE}">\n'
            f'<DocumentComptable xmlns="{COMPTABLE_NAMESPACE}"><EnteteComptable><Infos>'
            '<Nomenclature V="M57_A"/><Exercice V="1999"/></Infos></EnteteComptable>'
            "<Budget><LigneBudget><Nature V=\"999\"/><CodRD V=\"X\"/></LigneBudget></Budget>"
            "</DocumentComptable>\n"
            f'<DocumentBudgetaire xmlns="{TOTEM_NAMESPACE}">\n{document}</DocumentBudgetaire>\n'
            "</doccfu:CompteFinancierUnique>\n"
        )
    else:
        body = f'<DocumentBudgetaire xmlns="{TOTEM_NAMESPACE}">\n{document}</DocumentBudgetaire>\n'
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n{before_root}{body}'
    return text.encode(encoding)


@dataclass(frozen=True)
class ExpectedFunction:
    """A generated line's Fonction, and the BGT_FONCTION and label the plan gives it."""

    line: Line
    code: str
    label: str


def m57_function_lines(plan_path: Path, form: str) -> list[ExpectedFunction]:
    """Lines of a real M57 plan's functions, each with what the conversion must write.

    ``form`` "plain": Fonction is the function (024), as small communes vote. "prefixed": the
    functional presentation of large communes, Fonction prefixed with the two digits of its
    functional chapter (93024 under ContFon 930, 904221 under 904), in both sections; and the
    non-ventilated functional chapters (92x, 94x, 95x) written as Fonction. The expectations are
    read from the plan's XML here, apart from the code under test.
    """
    from lxml import etree

    root = etree.parse(str(plan_path)).getroot()
    functions = {element.get("Code"): element.get("Libelle").strip()
                 for element in root.iterfind("Fonction/RefFonctionnelles//RefFonc")}
    chapters = {element.get("Code"): element.get("Libelle").strip()
                for element in root.iterfind("Fonction/Chapitres/Chapitre")}
    if form == "plain":
        return [ExpectedFunction(Line(nature="6064", fonction=code), code, label) for code, label in functions.items()]
    expected = []
    for prefix, nature in (("90", "2128"), ("93", "6064")):  # investissement, fonctionnement
        for code, label in functions.items():
            expected.append(ExpectedFunction(Line(nature=nature, fonction=prefix + code, contfon=prefix + code[0]),
                                             code, label))
    for chapter, label in chapters.items():
        if chapter[:2] in ("92", "94", "95"):
            expected.append(ExpectedFunction(Line(nature="6064", fonction=chapter, contfon=chapter), chapter, label))
    return expected


def _leaves(pairs) -> str:
    return "".join(f"<{name} V={quoteattr(value)}/>" for name, value in pairs if value is not None)


def write_totem(path: Path, **options) -> Path:
    path.write_bytes(totem_document(**options))
    return path


# A plan close to M14_COM_500_3500, reduced to what the tests look up.
DEFAULT_CHAPTERS = [
    # code, label, section
    ("011", "Charges à caractère général", "F"),
    ("040", "Opérations d'ordre de transfert entre sections", "I"),
    ("041", "Opérations patrimoniales", "I"),
    ("042", "Opérations d'ordre de transfert entre sections", "F"),
    ("043", "Opérations d'ordre à l'intérieur de la section de fonctionnement", "F"),
    ("16", "Emprunts et dettes assimilées", "I"),
    ("21", "Immobilisations corporelles", "I"),
    ("23", "Immobilisations en cours", "I"),
    ("65", "Autres charges de gestion courante", "F"),
    ("70", "Produits des services, du domaine et ventes diverses", "F"),
    ("4581", "Opérations sous mandat (dépenses)", "I"),
]
DEFAULT_FUNCTION_CHAPTERS = [("908", "Aménagement et services urbains, environnement", "I")]
# code, label, {column: chapter}, children
DEFAULT_ACCOUNTS = [
    ("60", "Achats et variations des stocks", {}, [
        ("6064", "Fournitures administratives", {"DR": "011"}, []),
    ]),
    ("65", "Autres charges de gestion courante", {}, [
        ("651", "Redevances pour concessions", {}, [
            ("6511", "Redevances pour logiciels", {"DR": "65"}, []),
        ]),
    ]),
    ("70", "Produits des services", {}, [
        ("7067", "Redevances périscolaires", {"RR": "70"}, []),
    ]),
    ("16", "Emprunts et dettes assimilées", {}, [
        ("1641", "Emprunts en euros", {"DR": "16", "RR": "16"}, []),
    ]),
    ("21", "Immobilisations corporelles", {}, [
        ("2128", "Autres agencements", {"DR": "21", "DOES": "040", "DOIS": "041", "ROIS": "041"}, []),
    ]),
    ("23", "Immobilisations en cours", {}, [
        ("2313", "Constructions", {"DR": "23", "DOIS": "041"}, []),
    ]),
    ("28", "Amortissements", {}, [
        ("28128", "Amortissement des agencements", {"ROES": "040"}, []),
    ]),
    ("68", "Dotations aux amortissements", {}, [
        ("6811", "Dotations aux amortissements", {"DOES": "042"}, []),
    ]),
    ("4581", "Opérations sous mandat (dépenses)", {"DR": "4581"}, []),
]
DEFAULT_FUNCTIONS = [("8", "Aménagement", [("82", "Aménagement urbain", [("822", "Voirie", [])])])]


def plan_de_comptes(norme: str = "M14", declinaison: str = "M14_COM_500_3500", year: int = 2022, *,
                    chapters=None, function_chapters=None, accounts=None, functions=None) -> bytes:
    def chapter_xml(items):
        return "".join(f'<Chapitre Code="{code}" Libelle={quoteattr(label)} Section="{section}" TypeChapitre="C"/>'
                       for code, label, section in items)

    def account_xml(items):
        xml = ""
        for code, label, columns, children in items:
            attributes = "".join(f' {column}="{chapter}"' for column, chapter in columns.items())
            xml += f'<Compte Code="{code}" Libelle={quoteattr(label)}{attributes}>{account_xml(children)}</Compte>'
        return xml

    def function_xml(items):
        return "".join(f'<RefFonc Code="{code}" Libelle={quoteattr(label)}>{function_xml(children)}</RefFonc>'
                       for code, label, children in items)

    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<?xml-stylesheet type="text/xsl" href="planCompte.xsl"?>\n<!-- test plan -->\n'
        f'<Nomenclature Norme="{norme}" Declinaison="{declinaison}" Exer="{year}">'
        f"<Nature><Chapitres>{chapter_xml(DEFAULT_CHAPTERS if chapters is None else chapters)}</Chapitres>"
        f"<Comptes>{account_xml(DEFAULT_ACCOUNTS if accounts is None else accounts)}</Comptes></Nature>"
        "<Fonction><Chapitres>"
        f"{chapter_xml(DEFAULT_FUNCTION_CHAPTERS if function_chapters is None else function_chapters)}"
        "</Chapitres><Comptes/>"
        f"<RefFonctionnelles>{function_xml(DEFAULT_FUNCTIONS if functions is None else functions)}"
        "</RefFonctionnelles></Fonction></Nomenclature>\n"
    ).encode()


def write_plan(base: Path, year: int = 2022, norme: str = "M14", declinaison: str = "M14_COM_500_3500",
               **options) -> Path:
    """Write ``{base}/{year}/{norme}/{declinaison}/planDeCompte.xml`` and return it."""
    path = base / str(year) / norme / declinaison / "planDeCompte.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plan_de_comptes(norme, declinaison, year, **options))
    return path


# Annex rows exercising every default occultation rule: codes before and after the names, missing,
# empty or written as a character reference; comments, CDATA and PIs quoting rows; odd spacing.
PERSONAL_ANNEXES = """
<DATA_PROVISION><PROVISION><LibNatProv V="Litige avec M. Jean Provision"/><LibObjProv V="Contentieux Provision"/>
  <MtProv V="10.00"/></PROVISION></DATA_PROVISION>
<DATA_PERSONNEL><PERSONNEL><EmploiGradeAgent V="DGS"/><RemunAgent V="4321.09"/></PERSONNEL></DATA_PERSONNEL>
<DATA_ORGANISME_ENG><ORGANISME_ENG><NomOrgEng V="Jeanne Organisme"/><RSOrgEng V="SARL Jeanne"/>
  </ORGANISME_ENG></DATA_ORGANISME_ENG>
<DATA_CONCOURS>
  <CONCOURS><LibOrgaBenef V="Pierre Apres-Code"/><ObjSubv V="Bourse Pierre"/><CodNatJurBenefCA V="P3"/></CONCOURS>
  <CONCOURS><CodNatJurBenefCA V="P1"/><LibOrgaBenef V="Association des amis"/><ObjSubv V="Fete"/></CONCOURS>
  <CONCOURS><LibOrgaBenef V="Paul Sans-Code"/><DenomOuNumSubv V="Subvention Paul"/>
    <LibPrestaNat V="Prestation Paul"/></CONCOURS>
  <CONCOURS><CodNatJurBenefCA V="&#80;3"/><LibOrgaBenef V='Marie Reference'/></CONCOURS>
  <CONCOURS><CodNatJurBenefCA V=""/><LibOrgaBenef V="Luc Code-Vide"/></CONCOURS>
  <CONCOURS><CodNatJurBenefCA V="U4"/><LibOrgaBenef V="CCAS de Crach"/></CONCOURS>
</DATA_CONCOURS>
<DATA_PRET><PRET><NomBenefPret V="Emile Emprunteur"/><MtPret V="1000"/></PRET></DATA_PRET>
<DATA_AUTRE_ENGAGEMENT>
  <AUTRE_ENGAGEMENT><NomOrgaBenef V="Hugo Garanti"/><NatEng V="Caution Hugo"/><CodTypPersoMorale V="P"/>
    </AUTRE_ENGAGEMENT>
  <AUTRE_ENGAGEMENT><NomOrgaBenef V="Ines Sans-Type"/></AUTRE_ENGAGEMENT>
  <AUTRE_ENGAGEMENT><CodTypPersoMorale V="U"/><NomOrgaBenef V="Office HLM"/><NatEng V="Garantie HLM"/>
    </AUTRE_ENGAGEMENT>
</DATA_AUTRE_ENGAGEMENT>
<DATA_CREDIT_BAIL><CREDIT_BAIL><LibCredBail V="Voiture de Mme Kim"/></CREDIT_BAIL></DATA_CREDIT_BAIL>
<DATA_DETTE><DETTE><LibTypDette V="Dette envers M. Leo"/></DETTE></DATA_DETTE>
<PJRef><NomPJ V="releve-de-M-Noe.pdf"/><IdUnique V="PJ1"/></PJRef>
<DATA_MEMBRESASA><MEMBREASA><Proprietaire V="Olga Proprietaire"/><Surface V="12"/></MEMBREASA></DATA_MEMBRESASA>
<Champ_Editeur V="Note de Remi Editeur"/>
<!-- a comment quoting a row: <CONCOURS><LibOrgaBenef V="comment text"/></CONCOURS> is no element -->
<DATA_FORMATION><FORMATION><Champ_Editeur>Texte de Sarah <![CDATA[avec <CDATA> de Sarah]]></Champ_Editeur>
  <MtFormation V="5 &gt; 4"/></FORMATION></DATA_FORMATION>
<?producer <LibOrgaBenef V="pi text"?>
<DATA_CONCOURS><CONCOURS ><CodNatJurBenefCA  V = "P3" /><LibOrgaBenef
  V="Theo Espaces" Extra='x > y'/></CONCOURS></DATA_CONCOURS>
"""


def _prefixed(document: bytes, encoding: str) -> bytes:
    """The same document with every element in a prefixed namespace (db:), no default namespace."""
    text = document.decode(encoding)
    head, _, body = text.partition("?>")
    body = re.sub(r"<(/?)(?=[A-Za-z])", r"<\1db:", body)
    body = body.replace(' xmlns="', ' xmlns:db="')
    return f"{head}?>{body}".encode(encoding)


def personal_document(encoding="UTF-8", *, prefixed=False, cfu=False) -> bytes:
    """A document whose annexes exercise every default occultation rule (PERSONAL_ANNEXES)."""
    document = totem_document([Line(), Line(nature="7067", codrd="R")], annexes=PERSONAL_ANNEXES, encoding=encoding,
                              cfu=cfu, collectivite="CRACH Élysée")
    return _prefixed(document, encoding) if prefixed else document
