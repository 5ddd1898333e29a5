"""Every user-facing text of the converter core, in French (default) and English.

The core runs outside CKAN (command line, tests), so it cannot rely on CKAN's
gettext catalogues: texts live here, keyed by a stable message id that reports
also carry, so a caller (CKAN, a harvester) can re-render them in its own language.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
LANGUAGE_ENV = "BUDGETOD_LANG"

MESSAGES: dict[str, dict[str, str]] = {
    # --- reading the TOTEM document -------------------------------------------------
    "file_not_found": {
        "fr": "fichier introuvable",
        "en": "file not found",
    },
    "file_unreadable": {
        "fr": "lecture impossible : {reason}",
        "en": "cannot read the file: {reason}",
    },
    "not_a_regular_file": {
        "fr": "ce n'est pas un fichier ordinaire",
        "en": "not a regular file",
    },
    "file_empty": {
        "fr": "fichier vide",
        "en": "empty file",
    },
    "file_too_large": {
        "fr": "fichier trop volumineux : {size} octets pour un maximum de {limit}",
        "en": "file too large: {size} bytes, the limit is {limit}",
    },
    "not_xml": {
        "fr": "ce n'est pas un document XML (contenu binaire ou texte sans balise)",
        "en": "not an XML document (binary content or text without markup)",
    },
    "doctype_forbidden": {
        "fr": "déclaration DOCTYPE refusée : un document TOTEM n'en a pas, et DTD comme entités sont refusées par sécurité",
        "en": "DOCTYPE declaration refused: TOTEM documents have none, and DTDs and entities are refused for safety",
    },
    "prolog_too_long": {
        "fr": "pas d'élément racine dans les {limit} premiers octets",
        "en": "no root element within the first {limit} bytes",
    },
    "unsupported_encoding": {
        "fr": "encodage « {encoding} » non pris en charge (UTF-8 ou ISO-8859-1 attendu)",
        "en": "unsupported encoding \"{encoding}\" (UTF-8 or ISO-8859-1 expected)",
    },
    "malformed_xml_declaration": {
        "fr": "déclaration XML mal formée",
        "en": "malformed XML declaration",
    },
    "malformed_xml": {
        "fr": "XML mal formé ou tronqué (ligne {line}) : {detail}",
        "en": "malformed or truncated XML (line {line}): {detail}",
    },
    "not_totem_root": {
        "fr": "élément racine « {root} » : ce n'est pas un document budgétaire TOTEM (DocumentBudgetaire ou CompteFinancierUnique attendu)",
        "en": "root element \"{root}\": not a TOTEM budget document (DocumentBudgetaire or CompteFinancierUnique expected)",
    },
    "wrong_namespace": {
        "fr": "élément « {element} » hors de l'espace de noms TOTEM {namespace}",
        "en": "element \"{element}\" outside the TOTEM namespace {namespace}",
    },
    "cfu_without_budget_document": {
        "fr": "le compte financier unique ne contient pas de DocumentBudgetaire",
        "en": "the compte financier unique holds no DocumentBudgetaire",
    },
    "no_budget": {
        "fr": "aucun élément Budget : ce n'est pas un document budgétaire TOTEM exploitable",
        "en": "no Budget element: not a usable TOTEM budget document",
    },
    "several_budgets": {
        "fr": "plusieurs éléments Budget dans un même document ({index} au moins)",
        "en": "several Budget elements in one document (at least {index})",
    },
    "missing_header_element": {
        "fr": "élément obligatoire {element} absent de l'en-tête du budget",
        "en": "mandatory element {element} missing from the budget header",
    },
    "invalid_siret": {
        "fr": "SIRET « {value} » invalide (IdEtab) : 14 chiffres attendus",
        "en": "invalid SIRET \"{value}\" (IdEtab): 14 digits expected",
    },
    "invalid_year": {
        "fr": "exercice « {value} » invalide (Exer) : année entre {minimum} et {maximum} attendue",
        "en": "invalid financial year \"{value}\" (Exer): a year between {minimum} and {maximum} expected",
    },
    "unknown_natdec": {
        "fr": "étape budgétaire « {value} » inconnue (NatDec) : {expected} attendu",
        "en": "unknown budget stage \"{value}\" (NatDec): {expected} expected",
    },
    "invalid_nomenclature": {
        "fr": "nomenclature « {value} » invalide : forme NORME-DECLINAISON attendue, par exemple M14-M14_COM_500_3500",
        "en": "invalid nomenclature \"{value}\": NORME-DECLINAISON expected, for example M14-M14_COM_500_3500",
    },
    "invalid_amount": {
        "fr": "LigneBudget n° {index} : montant {element} « {value} » invalide (nombre décimal attendu)",
        "en": "LigneBudget #{index}: invalid amount {element} \"{value}\" (decimal number expected)",
    },
    "invalid_line_value": {
        "fr": "LigneBudget n° {index} : valeur « {value} » invalide pour {element} ({expected} attendu)",
        "en": "LigneBudget #{index}: invalid value \"{value}\" for {element} ({expected} expected)",
    },
    "line_value_too_long": {
        "fr": "LigneBudget n° {index} : valeur de {element} trop longue ({length} caractères, {limit} au plus)",
        "en": "LigneBudget #{index}: {element} value too long ({length} characters, at most {limit})",
    },
    "too_many_children": {
        "fr": "élément {element} (ligne {line}) : plus de {limit} éléments enfants, le schéma TOTEM en prévoit quelques dizaines",
        "en": "element {element} (line {line}): more than {limit} child elements, the TOTEM schema allows a few dozen",
    },
    "header_value_too_long": {
        "fr": "valeur de {element} trop longue dans l'en-tête du budget ({length} caractères, {limit} au plus)",
        "en": "{element} value too long in the budget header ({length} characters, at most {limit})",
    },
    "missing_line_element": {
        "fr": "LigneBudget n° {index} : élément obligatoire {element} absent",
        "en": "LigneBudget #{index}: mandatory element {element} missing",
    },
    # --- nomenclatures (plans de comptes) -----------------------------------------------
    "plan_unreadable": {
        "fr": "plan de comptes inutilisable : {detail}",
        "en": "unusable plan de comptes: {detail}",
    },
    "plan_too_large": {
        "fr": "plan de comptes inutilisable : {size} octets, bien plus qu'un plan de comptes",
        "en": "unusable plan de comptes: {size} bytes, far more than a plan de comptes",
    },
    "plan_value_too_long": {
        "fr": "plan de comptes inutilisable : attribut {attribute} d'un élément {element} trop long ({length} caractères, {limit} au plus)",
        "en": "unusable plan de comptes: {attribute} attribute of a {element} element too long ({length} characters, at most {limit})",
    },
    "plan_not_a_plan": {
        "fr": "plan de comptes inutilisable : élément racine « {root} » au lieu de Nomenclature",
        "en": "unusable plan de comptes: root element \"{root}\" instead of Nomenclature",
    },
    # --- occultation of personal data ---------------------------------------------------
    "occultation_rules_invalid": {
        "fr": "règles d'occultation inutilisables ({reason})",
        "en": "unusable occultation rules ({reason})",
    },
    "occultation_unknown_namespace": {
        "fr": "une déclaration d'espace de noms porte une adresse inconnue (non citée : elle peut contenir "
              "des données personnelles) ; le document ne peut pas être occulté sûrement",
        "en": "a namespace declaration holds an unknown URI (not quoted: it may hold personal data); "
              "the document cannot be occulted safely",
    },
    # --- warnings -----------------------------------------------------------------------
    "warn_plan_year_fallback": {
        "fr": "plan de comptes {nomenclature} absent pour {year} : celui de {used_year} est utilisé",
        "en": "no plan de comptes {nomenclature} for {year}: the {used_year} one is used",
    },
    "warn_plan_missing": {
        "fr": "aucun plan de comptes {nomenclature} pour {year} ni les années voisines : libellés vides, chapitres et sections déduits au mieux",
        "en": "no plan de comptes {nomenclature} for {year} nor nearby years: labels left empty, chapters and sections inferred where possible",
    },
    "warn_nature_label_from_parent": {
        "fr": "compte {nature} absent du plan de comptes : libellé du compte parent {parent} utilisé ({count} ligne(s))",
        "en": "account {nature} missing from the plan de comptes: label of parent account {parent} used ({count} line(s))",
    },
    "warn_nature_from_other_year": {
        "fr": "compte {nature} absent du plan de comptes de {plan_year} : libellé et chapitre pris dans celui de {used_year} ({count} ligne(s))",
        "en": "account {nature} missing from the {plan_year} plan de comptes: label and chapter taken from the {used_year} one ({count} line(s))",
    },
    "warn_nature_unknown": {
        "fr": "compte {nature} absent du plan de comptes, sans compte parent : libellé vide ({count} ligne(s))",
        "en": "account {nature} missing from the plan de comptes, with no parent account: label left empty ({count} line(s))",
    },
    "warn_chapter_from_prefix": {
        "fr": "ContNat {contnat} n'est pas un chapitre : chapitre {chapter} retenu ({count} ligne(s))",
        "en": "ContNat {contnat} is not a chapter: chapter {chapter} used ({count} line(s))",
    },
    "warn_chapter_from_other_year": {
        "fr": "chapitre {contnat} absent du plan de comptes de {plan_year} : libellé pris dans celui de {used_year} ({count} ligne(s))",
        "en": "chapter {contnat} missing from the {plan_year} plan de comptes: label taken from the {used_year} one ({count} line(s))",
    },
    "warn_chapter_unknown": {
        "fr": "aucun chapitre trouvé pour le compte {nature} (ContNat « {contnat} ») : BGT_CONTNAT ou son libellé reste vide ({count} ligne(s))",
        "en": "no chapter found for account {nature} (ContNat \"{contnat}\"): BGT_CONTNAT or its label left empty ({count} line(s))",
    },
    "warn_section_unknown": {
        "fr": "section indéterminée pour le compte {nature} : BGT_SECTION vide ({count} ligne(s))",
        "en": "section undetermined for account {nature}: BGT_SECTION left empty ({count} line(s))",
    },
    "warn_fonction_label_from_parent": {
        "fr": "fonction {fonction} absente du plan de comptes : libellé de la fonction parente {parent} utilisé ({count} ligne(s))",
        "en": "function {fonction} missing from the plan de comptes: label of parent function {parent} used ({count} line(s))",
    },
    "warn_fonction_from_other_year": {
        "fr": "fonction {fonction} absente du plan de comptes de {plan_year} : libellé pris dans celui de {used_year} ({count} ligne(s))",
        "en": "function {fonction} missing from the {plan_year} plan de comptes: label taken from the {used_year} one ({count} line(s))",
    },
    "warn_fonction_unknown": {
        "fr": "fonction {fonction} absente du plan de comptes : libellé vide ({count} ligne(s))",
        "en": "function {fonction} missing from the plan de comptes: label left empty ({count} line(s))",
    },
    # --- command line -------------------------------------------------------------------
    "cli_help": {
        "fr": "Convertit les documents budgétaires TOTEM au format SCDL budget, les valide et les décrit.",
        "en": "Convert TOTEM budget documents to the SCDL budget format, validate and describe them.",
    },
    "cli_convert_help": {
        "fr": "Convertit un ou plusieurs documents TOTEM (fichiers ou répertoires) en CSV SCDL budget. "
        "Sans -o, un document unique est écrit sur la sortie standard. Avec --report, le CSV est aussi "
        "validé et le rapport JSON (un objet, ou une liste pour plusieurs documents) est écrit.",
        "en": "Convert one or more TOTEM documents (files or directories) to SCDL budget CSV. "
        "Without -o a single document goes to standard output. With --report the CSV is also "
        "validated and the JSON report (an object, or a list for several documents) is written.",
    },
    "cli_validate_help": {
        "fr": "Valide un CSV contre le schéma SCDL budget. Code de sortie : 0 valide, 1 invalide, 2 entrée inutilisable.",
        "en": "Validate a CSV against the SCDL budget schema. Exit status: 0 valid, 1 invalid, 2 unusable input.",
    },
    "cli_inspect_help": {
        "fr": "Décrit un document TOTEM en JSON (établissement, exercice, étape, nomenclature, lignes, scellement).",
        "en": "Describe a TOTEM document as JSON (établissement, year, stage, nomenclature, lines, seal).",
    },
    "cli_opt_output": {
        "fr": "CSV de sortie ; répertoire de sortie pour plusieurs documents.",
        "en": "Output CSV; output directory for several documents.",
    },
    "cli_opt_plans": {
        "fr": "Plans de comptes : répertoire ou URL de base (défaut : $BUDGETOD_PLANS_DE_COMPTES ou {default}).",
        "en": "Plans de comptes: directory or base URL (default: $BUDGETOD_PLANS_DE_COMPTES or {default}).",
    },
    "cli_opt_report": {
        "fr": "Écrit un rapport JSON (document, lignes, avertissements, validation).",
        "en": "Write a JSON report (document, rows, warnings, validation).",
    },
    "cli_opt_schema": {
        "fr": "Schéma Table Schema : chemin ou URL (défaut : $BUDGETOD_SCDL_SCHEMA ou le schéma SCDL budget publié).",
        "en": "Table Schema: path or URL (default: $BUDGETOD_SCDL_SCHEMA or the published SCDL budget schema).",
    },
    "cli_opt_json": {
        "fr": "Affiche le rapport complet en JSON.",
        "en": "Print the full report as JSON.",
    },
    "cli_opt_lang": {
        "fr": "Langue des messages (fr ou en ; défaut : $BUDGETOD_LANG ou fr).",
        "en": "Message language (fr or en; default: $BUDGETOD_LANG or fr).",
    },
    "cli_opt_help": {
        "fr": "Affiche cette aide.",
        "en": "Show this message and exit.",
    },
    "cli_opt_debug": {
        "fr": "Affiche la trace complète des erreurs.",
        "en": "Show full tracebacks on errors.",
    },
    "cli_opt_max_bytes": {
        "fr": "Taille maximale d'un document TOTEM, en octets (défaut : {default}).",
        "en": "Maximum size of a TOTEM document, in bytes (default: {default}).",
    },
    "cli_converted": {
        "fr": "{source} → {output} : {rows} ligne(s)",
        "en": "{source} → {output}: {rows} row(s)",
    },
    "cli_validation_outcome": {
        "fr": "{output} : {outcome}",
        "en": "{output}: {outcome}",
    },
    "cli_several_inputs_need_directory": {
        "fr": "plusieurs documents : -o doit désigner un répertoire",
        "en": "several documents: -o must name a directory",
    },
    "cli_no_documents": {
        "fr": "aucun fichier .xml à convertir",
        "en": "no .xml file to convert",
    },
    "cli_progress": {
        "fr": "Conversion",
        "en": "Converting",
    },
    "cli_occult_help": {
        "fr": "Occulte les données personnelles des documents TOTEM (CRPA, art. L311-7) : chaque valeur désignée par les règles est remplacée, le reste du document est inchangé.",
        "en": "Occult the personal data of TOTEM documents (CRPA, art. L311-7): each value the rules designate is replaced, the rest of the document is unchanged.",
    },
    "cli_opt_occult_output": {
        "fr": "Document occulté à écrire (un répertoire si plusieurs documents sont donnés).",
        "en": "Occulted document to write (a directory when several documents are given).",
    },
    "cli_opt_rules": {
        "fr": "Fichier YAML de règles d'occultation (par défaut : $BUDGETOD_OCCULTATION_RULES, sinon les règles livrées).",
        "en": "YAML file of occultation rules (default: $BUDGETOD_OCCULTATION_RULES, else the shipped rules).",
    },
    "cli_occulted": {
        "fr": "{source} → {output} : {total} valeur(s) occultée(s)",
        "en": "{source} → {output}: {total} value(s) occulted",
    },
    "cli_occult_same_file": {
        "fr": "le document occulté remplacerait l'original : donner un autre fichier de sortie",
        "en": "the occulted document would replace the original: give another output file",
    },
    "cli_occult_needs_inputs": {
        "fr": "donner un ou plusieurs documents (ou, sur un portail, --all)",
        "en": "give one or more documents (or, on a portal, --all)",
    },
    "cli_occult_all_alone": {
        "fr": "--all s'emploie seul : il republie chaque document TOTEM du portail avec les règles du fichier ini",
        "en": "--all goes alone: it republishes every TOTEM document of the portal with the ini file's rules",
    },
    "cli_opt_occult_all": {
        "fr": "Republier occulté chaque document TOTEM stocké par le portail (moissonné ou déposé) ; idempotent. La synchronisation data.gouv.fr des jeux de données modifiés suit.",
        "en": "Republish occulted every TOTEM document the portal stores (harvested or uploaded); idempotent. The data.gouv.fr sync of the changed datasets follows.",
    },
    "cli_occult_all_progress": {
        "fr": "Occultation",
        "en": "Occulting",
    },
    "cli_occult_all_dataset": {
        "fr": "{dataset} : {replaced} document(s) republié(s) occulté(s), {total} valeur(s) occultée(s)",
        "en": "{dataset}: {replaced} document(s) republished occulted, {total} value(s) occulted",
    },
    "cli_occult_all_summary": {
        "fr": "{documents} document(s) TOTEM dans {datasets} jeu(x) de données : {replaced} republié(s) occulté(s), {unchanged} déjà occulté(s), {errors} en erreur ; {values} valeur(s) occultée(s) au total",
        "en": "{documents} TOTEM document(s) in {datasets} dataset(s): {replaced} republished occulted, {unchanged} already occulted, {errors} in error; {values} value(s) occulted in all",
    },
    "cli_unexpected_error": {
        "fr": "erreur inattendue ({kind}) : {detail} — relancer avec --debug pour la trace",
        "en": "unexpected error ({kind}): {detail} — run again with --debug for the traceback",
    },
}


def current_language() -> str:
    """The language chosen by BUDGETOD_LANG, French when unset or unknown."""
    language = os.environ.get(LANGUAGE_ENV, "").strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def text(message_id: str, lang: str | None = None, **params: object) -> str:
    """Render a message in ``lang`` (default: current language) with its parameters."""
    translations = MESSAGES[message_id]
    language = lang if lang in LANGUAGES else current_language()
    return translations[language].format(**params)


@dataclass(frozen=True)
class Bilingual:
    """A text written in both languages where it is raised (instead of a MESSAGES id);
    ``str()`` follows $BUDGETOD_LANG (French by default)."""

    fr: str
    en: str

    def render(self, lang: str | None = None) -> str:
        return self.en if (lang or current_language()) == "en" else self.fr

    def __str__(self) -> str:
        return self.render()
