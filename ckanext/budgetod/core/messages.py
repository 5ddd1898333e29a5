"""Every user-facing text of the core and of what the portal writes into data (reports, harvest
errors, sync states, published metadata), in French (default) and English; the web pages' own texts
are CKAN's gettext catalogues (i18n/).

The core runs outside CKAN (command line, tests), so it cannot rely on CKAN's
gettext catalogues: texts live here, keyed by a stable message id that reports
also carry, so a caller (CKAN, a harvester) can re-render them in its own language.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping

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
    "error_described": {
        "fr": "{source}: {cause}",
        "en": "{source}: {cause}",
    },
    "none_given": {
        "fr": "(aucun)",
        "en": "(none)",
    },
    "type_unknown": {
        "fr": "inconnu",
        "en": "unknown",
    },
    "udata_status_error": {
        "fr": "{text} (HTTP {status})",
        "en": "{text} (HTTP {status})",
    },
    "udata_status_error_detail": {
        "fr": "{text} (HTTP {status}) : {detail}",
        "en": "{text} (HTTP {status}): {detail}",
    },
    "quoted": {
        "fr": "« {text} »",
        "en": "\"{text}\"",
    },
    "validation_type_number": {"fr": "un nombre", "en": "a number"},
    "validation_type_integer": {"fr": "un nombre entier", "en": "an integer"},
    "validation_type_year": {"fr": "une année sur 4 chiffres", "en": "a 4-digit year"},
    "validation_type_date": {"fr": "une date AAAA-MM-JJ", "en": "a YYYY-MM-DD date"},
    "validation_type_boolean": {"fr": "un booléen", "en": "a boolean"},
    "validation_type_other": {"fr": "du type {type}", "en": "of type {type}"},
    "validation_hint_number": {
        "fr": " (séparateur décimal : le point, sans espace ni symbole)",
        "en": " (decimal separator: point, no spaces or symbols)",
    },
    "validation_type_error": {
        "fr": "« {cell} » n'est pas {type}{hint}.",
        "en": "\"{cell}\" is not {type}{hint}.",
    },
    "validation_siret_check": {
        "fr": "« {cell} » n'est pas un numéro SIRET valide (14 chiffres avec une clé de contrôle correcte attendus).",
        "en": "\"{cell}\" is not a valid SIRET number (14 digits with a correct check digit expected).",
    },
    "validation_missing_label": {
        "fr": "colonne « {field} » absente de l'en-tête (position {position} attendue).",
        "en": "column \"{field}\" is missing from the header (expected at position {position}).",
    },
    "validation_extra_label": {
        "fr": "colonne « {label} » en trop (position {position}) : elle n'est pas dans le schéma.",
        "en": "extra column \"{label}\" (position {position}): it is not in the schema.",
    },
    "validation_incorrect_label": {
        "fr": "en-tête « {label} » en position {position}, « {field} » attendu.",
        "en": "header \"{label}\" at position {position}, \"{field}\" expected.",
    },
    "validation_duplicate_label": {
        "fr": "colonne « {label} » en double (position {position}).",
        "en": "duplicate column \"{label}\" (position {position}).",
    },
    "validation_blank_label": {"fr": "en-tête vide en position {position}.", "en": "blank header at position {position}."},
    "validation_blank_header": {"fr": "en-tête entièrement vide.", "en": "header is completely blank."},
    "validation_blank_row": {"fr": "ligne vide.", "en": "blank row."},
    "validation_missing_cell": {
        "fr": "valeur manquante pour « {field} » : la ligne a moins de colonnes que l'en-tête.",
        "en": "missing value for \"{field}\": the row has fewer columns than the header.",
    },
    "validation_extra_cell": {
        "fr": "valeur « {cell} » en trop en position {position} : la ligne a plus de colonnes que l'en-tête.",
        "en": "extra value \"{cell}\" at position {position}: the row has more columns than the header.",
    },
    "validation_unique_error": {
        "fr": "valeur « {cell} » en double alors qu'elle doit être unique.",
        "en": "duplicate value \"{cell}\" where values must be unique.",
    },
    "validation_other_error": {"fr": "erreur {kind} : {detail}", "en": "{detail} ({kind})"},
    "validation_constraint_required": {"fr": "valeur obligatoire manquante.", "en": "required value is missing."},
    "validation_constraint_enum": {
        "fr": "« {cell} » n'est pas une valeur autorisée ; valeurs possibles : {value}.",
        "en": "\"{cell}\" is not an allowed value; possible values: {value}.",
    },
    "validation_constraint_pattern": {
        "fr": "« {cell} » n'a pas le format attendu (motif {value}).",
        "en": "\"{cell}\" does not have the expected format (pattern {value}).",
    },
    "validation_constraint_min_length": {
        "fr": "« {cell} » est trop court (au moins {value} caractères).",
        "en": "\"{cell}\" is too short (at least {value} characters).",
    },
    "validation_constraint_max_length": {
        "fr": "« {cell} » est trop long (au plus {value} caractères).",
        "en": "\"{cell}\" is too long (at most {value} characters).",
    },
    "validation_constraint_minimum": {
        "fr": "« {cell} » est inférieur au minimum {value}.",
        "en": "\"{cell}\" is below the minimum {value}.",
    },
    "validation_constraint_maximum": {
        "fr": "« {cell} » est supérieur au maximum {value}.",
        "en": "\"{cell}\" is above the maximum {value}.",
    },
    "validation_constraint_other": {
        "fr": "« {cell} » ne respecte pas la contrainte {name} ({value}).",
        "en": "\"{cell}\" does not satisfy the {name} constraint ({value}).",
    },
    "validation_at_row": {"fr": "ligne {row}", "en": "row {row}"},
    "validation_count_row": {"fr": "{count} ligne", "en": "{count} row"},
    "validation_count_rows": {"fr": "{count} lignes", "en": "{count} rows"},
    "validation_count_error": {"fr": "{count} erreur", "en": "{count} error"},
    "validation_count_errors": {"fr": "{count} erreurs", "en": "{count} errors"},
    "validation_at_least": {"fr": "au moins {count}", "en": "at least {count}"},
    "validation_group_on_field": {"fr": "{count} × {type} sur {field}", "en": "{count} × {type} on {field}"},
    "validation_summary_valid": {"fr": "Valide : {rows}, aucune erreur.", "en": "Valid: {rows}, no errors."},
    "validation_summary_invalid": {
        "fr": "Invalide : {errors} sur {rows} ({breakdown}).",
        "en": "Invalid: {errors} in {rows} ({breakdown}).",
    },
    "validation_issue_at": {"fr": "  - {place} : {message}", "en": "  - {place}: {message}"},
    "validation_more_errors": {"fr": "  … et {more} autres.", "en": "  … {more} more."},
    "validation_warning": {
        "fr": "Avertissement : {warning}",
        "en": "Warning: {warning}",
    },
    "metadata_unknown_placeholder": {
        "fr": "« {key} » : variable {{{field}}} inconnue ; variables possibles : {possible}",
        "en": "\"{key}\": unknown placeholder {{{field}}}; possible placeholders: {possible}",
    },
    "publish_dataset_of_another_organisation": {
        "fr": "ce jeu de données appartient à l'organisation « {owner} » : une source d'une autre organisation ne peut ni le modifier ni le déplacer (seul un administrateur du portail change l'organisation d'un jeu de données)",
        "en": "this dataset belongs to the organisation '{owner}': a source of another organisation may neither change nor move it (only a sysadmin changes a dataset's organisation)",
    },
    "publish_dataset_of_no_organisation": {
        "fr": "ce jeu de données n'appartient à aucune organisation : une source d'organisation ne peut ni le modifier ni se l'approprier (seul un administrateur du portail le peut)",
        "en": "this dataset belongs to no organisation: a source of an organisation may neither change nor take it (only a sysadmin may)",
    },
    "action_document_unreadable": {
        "fr": "document illisible, laissé de côté (le journal du serveur dit pourquoi)",
        "en": "unreadable document, left out (the server log says why)",
    },
    "plain_text": {
        "fr": "{text}",
        "en": "{text}",
    },
    "cli_unexpected_error": {
        "fr": "erreur inattendue ({kind}) : {detail} — relancer avec --debug pour la trace",
        "en": "unexpected error ({kind}): {detail} — run again with --debug for the traceback",
    },
    # --- fetch -------------------------------------------------------------------------------------
    "fetch_unspecified_address": {
        "fr": "adresse non spécifiée",
        "en": "unspecified address",
    },
    "fetch_loopback_address": {
        "fr": "adresse de bouclage (loopback)",
        "en": "loopback address",
    },
    "fetch_link_local_address": {
        "fr": "adresse lien-local",
        "en": "link-local address",
    },
    "fetch_site_local_address_ipv6_fec0": {
        "fr": "adresse site-local (IPv6 fec0::/10)",
        "en": "site-local address (IPv6 fec0::/10)",
    },
    "fetch_multicast_address": {
        "fr": "adresse multicast",
        "en": "multicast address",
    },
    "fetch_reserved_address": {
        "fr": "adresse réservée",
        "en": "reserved address",
    },
    "fetch_private_address": {
        "fr": "adresse privée",
        "en": "private address",
    },
    "fetch_special_purpose_address_not_globally": {
        "fr": "adresse à usage spécial, non routable sur Internet (registre IANA)",
        "en": "special-purpose address, not globally routable (IANA registry)",
    },
    "fetch_address_not_globally_routable": {
        "fr": "adresse non routable sur Internet",
        "en": "address not globally routable",
    },
    "fetch_total_time_exchange_exceeded_connection": {
        "fr": "durée totale de l'échange dépassée (connexion, en-têtes et corps)",
        "en": "total time of the exchange exceeded (connection, headers and body)",
    },
    "fetch_more_than_redirects": {
        "fr": "plus de {max_redirects} redirections",
        "en": "more than {max_redirects} redirects",
    },
    "fetch_response_larger_than_byte_limit": {
        "fr": "réponse plus grosse que la limite de {max_bytes} octets",
        "en": "response larger than the {max_bytes}-byte limit",
    },
    "fetch_could_not_connect": {
        "fr": "connexion impossible ({detail})",
        "en": "could not connect ({detail})",
    },
    "fetch_truncated_response_bytes_received_announced": {
        "fr": "réponse tronquée : {size} octets reçus sur {promised} annoncés",
        "en": "truncated response: {size} bytes received of {promised} announced",
    },
    "fetch_unsupported_scheme_local_directory_http": {
        "fr": "schéma « {scheme} » non pris en charge (répertoire local, http ou https)",
        "en": "unsupported scheme '{scheme}' (local directory, http or https)",
    },
    "fetch_relative_path_refused_plain_names": {
        "fr": "chemin relatif refusé (noms simples séparés par « / » attendus, sans « .. »)",
        "en": "relative path refused (plain names separated by '/' expected, no '..')",
    },
    "fetch_mirror_not_existing_directory": {
        "fr": "le miroir n'est pas un répertoire existant",
        "en": "the mirror is not an existing directory",
    },
    "fetch_file_missing_from_mirror": {
        "fr": "fichier absent du miroir",
        "en": "file missing from the mirror",
    },
    "fetch_base_url_cannot_have_query": {
        "fr": "une URL de base ne peut pas avoir de requête ni de fragment",
        "en": "a base URL cannot have a query or a fragment",
    },
    "fetch_not_found_http": {
        "fr": "introuvable (HTTP {status})",
        "en": "not found (HTTP {status})",
    },
    "fetch_server_answered_http": {
        "fr": "le serveur a répondu HTTP {status}",
        "en": "server answered HTTP {status}",
    },
    "fetch_scheme_refused_only_http_https": {
        "fr": "schéma « {scheme} » refusé, seuls http et https sont acceptés",
        "en": "scheme '{scheme}' refused, only http and https are accepted",
    },
    "fetch_url_without_host_name": {
        "fr": "URL sans nom d'hôte",
        "en": "URL without a host name",
    },
    "fetch_host_name_could_not_resolved": {
        "fr": "nom d'hôte « {host} » introuvable ({exc})",
        "en": "host name '{host}' could not be resolved ({exc})",
    },
    "fetch_connection_timed_out_s": {
        "fr": "délai de connexion dépassé ({_connect_timeout:g} s)",
        "en": "connection timed out ({_connect_timeout:g} s)",
    },
    "fetch_unusable_cache_directory": {
        "fr": "répertoire de cache inutilisable ({strerror})",
        "en": "unusable cache directory ({strerror})",
    },
    "fetch_unexpected_response_http": {
        "fr": "réponse inattendue (HTTP {status})",
        "en": "unexpected response (HTTP {status})",
    },
    "fetch_invalid_url": {
        "fr": "URL invalide ({exc})",
        "en": "invalid URL ({exc})",
    },
    "fetch_refused": {
        "fr": "{reason} {address} refusée",
        "en": "{reason} {address} refused",
    },
    "fetch_read_timed_out_s": {
        "fr": "délai de lecture dépassé ({read_timeout:g} s)",
        "en": "read timed out ({read_timeout:g} s)",
    },
    "fetch_tls_failure": {
        "fr": "échec TLS ({detail})",
        "en": "TLS failure ({detail})",
    },
    "fetch_http_exchange_failed": {
        "fr": "échange HTTP interrompu ({exc!r})",
        "en": "HTTP exchange failed ({exc!r})",
    },
    # --- udata -------------------------------------------------------------------------------------
    "udata_data_refused": {
        "fr": "données refusées",
        "en": "data refused",
    },
    "udata_api_key_missing_refused": {
        "fr": "clé d'API absente ou refusée",
        "en": "API key missing or refused",
    },
    "udata_permission_denied_api_key_does": {
        "fr": "droits insuffisants : la clé d'API ne permet pas cette modification",
        "en": "permission denied: the API key does not allow this change",
    },
    "udata_not_found": {
        "fr": "introuvable",
        "en": "not found",
    },
    "udata_deleted": {
        "fr": "supprimé",
        "en": "deleted",
    },
    "udata_upload_too_large_server": {
        "fr": "envoi trop volumineux pour le serveur",
        "en": "upload too large for the server",
    },
    "udata_file_type_refused": {
        "fr": "type de fichier refusé",
        "en": "file type refused",
    },
    "udata_too_many_requests_server_asks": {
        "fr": "trop de requêtes, le serveur demande d'attendre",
        "en": "too many requests, the server asks to wait",
    },
    "udata_timed_out": {
        "fr": "délai dépassé",
        "en": "timed out",
    },
    "udata_connection_closed_server": {
        "fr": "connexion coupée par le serveur",
        "en": "connection closed by the server",
    },
    "udata_server_error": {
        "fr": "erreur du serveur",
        "en": "server error",
    },
    "udata_unexpected_answer": {
        "fr": "réponse inattendue",
        "en": "unexpected answer",
    },
    "udata_invalid_api_key_printable_ascii": {
        "fr": "clé d'API invalide (caractères ASCII imprimables attendus)",
        "en": "invalid API key (printable ASCII characters expected)",
    },
    "udata_reply_not_json_object": {
        "fr": "la réponse n'est pas un objet JSON",
        "en": "the reply is not a JSON object",
    },
    "udata_http_answer_that_not_json": {
        "fr": "réponse HTTP {status} qui n'est pas du JSON",
        "en": "HTTP {status} answer that is not JSON",
    },
    "udata_unexpected_http_redirect_write": {
        "fr": "redirection HTTP {status} inattendue pour une écriture",
        "en": "unexpected HTTP {status} redirect for a write",
    },
    "udata_redirect_another_host_refused_write": {
        "fr": "redirection vers un autre hôte refusée pour une écriture ({host})",
        "en": "redirect to another host refused for a write ({host})",
    },
    "udata_result_page_without_data_list": {
        "fr": "page de résultats sans liste « data »",
        "en": "result page without a 'data' list",
    },
    "udata_file_upload_unreadable": {
        "fr": "fichier à envoyer illisible : {path} ({strerror})",
        "en": "file to upload unreadable: {path} ({strerror})",
    },
    "udata_certificate_refused": {
        "fr": "certificat refusé ({verify_message})",
        "en": "certificate refused ({verify_message})",
    },
    # --- urls --------------------------------------------------------------------------------------
    "urls_ckan_dataset_organization_dataset_name": {
        "fr": "jeu de données ou d'organisation CKAN (…/dataset/<nom> ou …/organization/<nom>)",
        "en": "a CKAN dataset or organization (…/dataset/<name> or …/organization/<name>)",
    },
    "urls_udata_dataset_organization_datasets_id": {
        "fr": "jeu de données ou d'organisation udata (…/datasets/<id>/ ou …/organizations/<id>/)",
        "en": "a udata dataset or organization (…/datasets/<id>/ or …/organizations/<id>/)",
    },
    # --- source_config -----------------------------------------------------------------------------
    "source_config_list_urls_non_empty_strings": {
        "fr": "une liste d'URL (chaînes non vides)",
        "en": "a list of URLs (non-empty strings)",
    },
    "source_config_regular_expression_non_empty_string": {
        "fr": "une expression régulière (chaîne non vide)",
        "en": "a regular expression (non-empty string)",
    },
    "source_config_id_slug_data_gouv_fr": {
        "fr": "l'identifiant ou le slug d'une organisation data.gouv.fr",
        "en": "the id or slug of a data.gouv.fr organisation",
    },
    "source_config_string": {
        "fr": "une chaîne",
        "en": "a string",
    },
    "source_config_list": {
        "fr": "une liste",
        "en": "a list",
    },
    "source_config_json_object": {
        "fr": "un objet JSON",
        "en": "a JSON object",
    },
    "source_config_invalid_pattern_regular_expression_re2": {
        "fr": "expression régulière « pattern » invalide : {detail} (syntaxe RE2 : ni référence arrière ni assertion avant/arrière, taille bornée)",
        "en": "invalid 'pattern' regular expression: {detail} (RE2 syntax: no backreferences nor lookarounds, bounded size)",
    },
    "source_config_must": {
        "fr": "« {field} » doit être {expected}",
        "en": "'{field}' must be {expected}",
    },
    "source_option_kind": {
        "fr": "la nature de l'URL ; par défaut devinée (extension, forme de page CKAN ou udata, sinon le contenu servi).",
        "en": "what the URL is; guessed when absent (extension, CKAN or udata page shape, else the content served).",
    },
    "source_option_urls": {
        "fr": "adresses moissonnées à la place de l'URL de la source (qui ne sert alors que de nom), chacune traitée comme une URL de source.",
        "en": "locations harvested instead of the source URL (which then only names the source), each handled like a source URL.",
    },
    "source_option_pattern": {
        "fr": "ne garder que les documents dont l'URL contient une correspondance ; syntaxe RE2 (temps linéaire), sans référence arrière ni assertion avant/arrière.",
        "en": "keep only the documents whose URL matches; RE2 syntax (linear time), no backreferences nor lookarounds.",
    },
    "source_option_grouping": {
        "fr": "un jeu de données par budget et exercice, ou un par document.",
        "en": "one dataset per budget and year, or one per document.",
    },
    "source_option_metadata": {
        "fr": "champs de la fiche de métadonnées remplacés pour cette source (voir plus bas).",
        "en": "metadata template fields replaced for this source (see below).",
    },
    "source_option_datagouv": {
        "fr": "synchronisation data.gouv.fr de cette source ; toute clé non déclarée (`organisation`…) est refusée.",
        "en": "data.gouv.fr synchronisation of this source; any key not declared (`organisation`…) is refused.",
    },
    "source_config_looks_like_secret_harvest_source": {
        "fr": "{what} ressemble à un secret : la configuration d'une source de moissonnage est publique, les secrets (clés d'API, jetons, mots de passe) se placent dans le fichier ini de CKAN",
        "en": "{what} looks like a secret: a harvest source's configuration is public, secrets (API keys, tokens, passwords) belong in CKAN's ini file",
    },
    "source_config_pattern_exceeds_characters": {
        "fr": "« pattern » dépasse {max_pattern_chars} caractères",
        "en": "'pattern' exceeds {max_pattern_chars} characters",
    },
    "source_config_unknown_key": {
        "fr": "clé « {key} » inconnue dans la configuration (clés admises : {allowed})",
        "en": "unknown configuration key '{key}' (allowed keys: {allowed})",
    },
    "source_config_unknown_key_in_section": {
        "fr": "clé « {key} » inconnue dans la configuration (clés admises dans « {section} » : {allowed})",
        "en": "unknown configuration key '{key}' (allowed keys in '{section}': {allowed})",
    },
    "source_config_configuration_too_long_characters_most": {
        "fr": "configuration trop longue ({config_text_count} caractères, {max_config_chars} au plus)",
        "en": "configuration too long ({config_text_count} characters, at most {max_config_chars})",
    },
    "source_config_configuration_must_json_object": {
        "fr": "la configuration doit être un objet JSON ({{…}})",
        "en": "the configuration must be a JSON object ({{…}})",
    },
    "source_config_not_valid_absolute_http_https": {
        "fr": "« {url} » n'est pas une URL http ou https absolue valide",
        "en": "'{url}' is not a valid absolute http or https URL",
    },
    "source_config_user_information_url": {
        "fr": "l'identifiant inclus dans l'URL {hostname}",
        "en": "the user information in the URL of {hostname}",
    },
    "source_config_must_one_got": {
        "fr": "« {field} » doit valoir l'un de {choices} (reçu : {value!r})",
        "en": "'{field}' must be one of {choices} (got {value!r})",
    },
    "source_config_key_repeated_configuration": {
        "fr": "clé « {key} » répétée dans la configuration",
        "en": "key '{key}' repeated in the configuration",
    },
    "source_config_invalid_json_configuration_line_column": {
        "fr": "configuration JSON invalide, ligne {lineno} colonne {colno} : {msg}",
        "en": "invalid JSON configuration, line {lineno} column {colno}: {msg}",
    },
    "source_config_url_parameter": {
        "fr": "le paramètre d'URL « {name} »",
        "en": "URL parameter '{name}'",
    },
    "source_option_datagouv_organization": {
        "fr": "l'organisation data.gouv.fr (identifiant ou slug) où vont ses jeux de données.",
        "en": "the data.gouv.fr organisation (id or slug) its datasets go to.",
    },
    "source_config_not_address": {
        "fr": "{location} n'est pas une adresse de {kind_page_shape}",
        "en": "{location} is not the address of {kind_page_shape}",
    },
    "source_config_key": {
        "fr": "la clé « {field} »",
        "en": "key '{field}'",
    },
    # --- validation --------------------------------------------------------------------------------
    "validation_not_table_schema_no_fields": {
        "fr": "ce n'est pas un Table Schema (pas de liste « fields »)",
        "en": "not a Table Schema (no 'fields' list)",
    },
    "validation_binary_file_not_csv": {
        "fr": "fichier binaire, ce n'est pas un CSV",
        "en": "binary file, not a CSV",
    },
    "validation_xml_html_content_not_csv": {
        "fr": "contenu XML ou HTML, ce n'est pas un CSV",
        "en": "XML or HTML content, not a CSV",
    },
    "validation_formula_like_cells": {
        "fr": "colonne {name} : {count} cellule(s) de texte ont =, +, - ou @ au début ou après une virgule, un point-virgule, une tabulation ou un saut de ligne (la première ligne {row}) ; un tableur pourrait les exécuter comme des formules. Le schéma SCDL les admet et le CSV garde le texte du document tel quel : l'ouvrir par une importation en texte.",
        "en": "column {name}: {count} text cell(s) have =, +, - or @ at their start or after a comma, semicolon, tab or line break (the first on row {row}); a spreadsheet could run them as formulas. The SCDL schema allows them and the CSV keeps the document's text as written: open it through a text import.",
    },
    "validation_invalid_table_schema": {
        "fr": "Table Schema invalide ({message})",
        "en": "invalid Table Schema ({message})",
    },
    "validation_unreadable_as_csv_table": {
        "fr": "illisible comme tableau CSV ({message})",
        "en": "unreadable as a CSV table ({message})",
    },
    "validation_schema_not_found": {
        "fr": "schéma introuvable",
        "en": "schema not found",
    },
    "validation_unreadable_schema": {
        "fr": "schéma illisible ({exc})",
        "en": "unreadable schema ({exc})",
    },
    "validation_unreadable_file": {
        "fr": "fichier illisible ({strerror})",
        "en": "unreadable file ({strerror})",
    },
    "validation_not_utf_8_encoded_invalid": {
        "fr": "n'est pas encodé en UTF-8 (octet invalide ligne {line})",
        "en": "not UTF-8 encoded (invalid byte on line {line})",
    },
    "validation_not_readable_csv_line": {
        "fr": "ce n'est pas un CSV lisible (ligne {line_num} : {exc})",
        "en": "not a readable CSV (line {line_num}: {exc})",
    },
    "validation_custom_check_not_supported_skipped": {
        "fr": "contrôle personnalisé « {name} » non pris en charge, ignoré",
        "en": "custom check '{name}' not supported, skipped",
    },
    # --- archive -----------------------------------------------------------------------------------
    "archive_archive_refused_entries_most": {
        "fr": "archive refusée : {entries} entrées, {max_archive_entries} au plus",
        "en": "archive refused: {entries} entries, at most {max_archive_entries}",
    },
    "archive_archive_refused_central_directory_bytes": {
        "fr": "archive refusée : répertoire central de {directory_bytes} octets, {limit} au plus",
        "en": "archive refused: central directory of {directory_bytes} bytes, at most {limit}",
    },
    "archive_entry_missing_from_archive_refused": {
        "fr": "entrée absente de l'archive (ou refusée : pas un document .xml, nom dangereux)",
        "en": "entry missing from the archive (or refused: not an .xml document, unsafe name)",
    },
    "archive_archive_refused_unsafe_entry_name": {
        "fr": "archive refusée : nom d'entrée dangereux « {name} » (chemin absolu, « .. » ou barre oblique inverse)",
        "en": "archive refused: unsafe entry name '{name}' (absolute path, '..' or backslash)",
    },
    "archive_archive_refused_entry_would_decompress": {
        "fr": "archive refusée : l'entrée « {name} » décompressée ferait {file_size} octets, {max_document_size} au plus",
        "en": "archive refused: entry '{name}' would decompress to {file_size} bytes, at most {max_document_size}",
    },
    "archive_archive_refused_suspicious_compression_ratio": {
        "fr": "archive refusée : taux de compression suspect pour « {name} » ({file_size} octets pour {compress_size} compressés, bombe de décompression ?)",
        "en": "archive refused: suspicious compression ratio for '{name}' ({file_size} bytes from {compress_size} compressed; decompression bomb?)",
    },
    "archive_archive_refused_more_than_bytes": {
        "fr": "archive refusée : plus de {max_archive_total_bytes} octets une fois décompressée",
        "en": "archive refused: more than {max_archive_total_bytes} bytes once decompressed",
    },
    "archive_not_readable_zip_archive": {
        "fr": "ce n'est pas une archive ZIP lisible ({exc})",
        "en": "not a readable ZIP archive ({exc})",
    },
    "archive_corrupt_unreadable_archive_entry": {
        "fr": "entrée d'archive corrompue ou illisible ({exc})",
        "en": "corrupt or unreadable archive entry ({exc})",
    },
    "archive_entry_larger_than_byte_limit": {
        "fr": "entrée plus grosse que la limite de {max_bytes} octets",
        "en": "entry larger than the {max_bytes}-byte limit",
    },
    # --- catalogue ---------------------------------------------------------------------------------
    "catalogue_more_than_result_pages_listing": {
        "fr": "plus de {max_listing_pages} pages de résultats : liste abandonnée",
        "en": "more than {max_listing_pages} result pages: listing abandoned",
    },
    "catalogue_error": {
        "fr": "erreur",
        "en": "error",
    },
    "catalogue_api_http": {
        "fr": "API {api} : {what} (HTTP {status}){detail}",
        "en": "{api} API: {what} (HTTP {status}){detail}",
    },
    "catalogue_api_response_not_json_object": {
        "fr": "API {api} : la réponse n'est pas un objet JSON",
        "en": "{api} API: the response is not a JSON object",
    },
    "catalogue_not_address": {
        "fr": "ce n'est pas une adresse de {kind_page_shape}",
        "en": "not the address of {kind_page_shape}",
    },
    "catalogue_ckan_api_organization_without_name": {
        "fr": "API CKAN : organisation sans nom",
        "en": "CKAN API: organization without a name",
    },
    "catalogue_ckan_api_failed": {
        "fr": "API CKAN : échec de {action}{_api_error_detail}",
        "en": "CKAN API: {action} failed{_api_error_detail}",
    },
    "catalogue_catalogue_changed_while_being_listed": {
        "fr": "le catalogue a changé pendant la lecture ({first} puis {current} jeux de données) : liste abandonnée, elle sera reprise au prochain moissonnage",
        "en": "the catalogue changed while being listed ({first} then {current} datasets): listing abandoned, it will be retried at the next harvest",
    },
    "catalogue_ckan_api_package_search_response": {
        "fr": "API CKAN : réponse de package_search sans « results » ni « count »",
        "en": "CKAN API: package_search response without 'results' and 'count'",
    },
    "catalogue_udata_api_result_page_without": {
        "fr": "API udata : page de résultats sans « data » ni « total »",
        "en": "udata API: result page without 'data' and 'total'",
    },
    "catalogue_udata_api_unexpected_next_page": {
        "fr": "API udata : « next_page » inattendu ({next_page!r})",
        "en": "udata API: unexpected 'next_page' ({next_page!r})",
    },
    # --- common ------------------------------------------------------------------------------------
    "common_more_than_documents_source_refused": {
        "fr": "plus de {max_documents} documents : source refusée (limite ckanext.budgetod.max_documents_per_source)",
        "en": "more than {max_documents} documents: source refused (limit ckanext.budgetod.max_documents_per_source)",
    },
    # --- index -------------------------------------------------------------------------------------
    "index_index_page_too_large_bytes": {
        "fr": "page d'index trop grosse ({size} octets, {max_page_bytes} au plus)",
        "en": "index page too large ({size} bytes, at most {max_page_bytes})",
    },
    # --- listing -----------------------------------------------------------------------------------
    "listing_unrecognised_content_type_neither_xml": {
        "fr": "contenu non reconnu (type « {content_type} ») : ni document XML, ni archive ZIP, ni page HTML",
        "en": "unrecognised content (type '{content_type}'): neither an XML document, a ZIP archive nor an HTML page",
    },
    "listing_unreadable_source": {
        "fr": "source illisible : {cause}",
        "en": "unreadable source: {cause}",
    },
    # --- retrieval ---------------------------------------------------------------------------------
    "retrieval_server_answered_http_304_not": {
        "fr": "le serveur a répondu HTTP 304 (non modifié) à une requête non conditionnelle",
        "en": "server answered HTTP 304 (not modified) to an unconditional request",
    },
    # --- synchroniser ------------------------------------------------------------------------------
    "synchroniser_no_data_gouv_fr_api": {
        "fr": "aucune clé d'API data.gouv.fr n'est configurée (ou variable d'environnement {datagouv_api_key_env})",
        "en": "no data.gouv.fr API key is configured (or environment variable {datagouv_api_key_env})",
    },
    "synchroniser_no_data_gouv_fr_organisation": {
        "fr": "aucune organisation data.gouv.fr n'est attribuée à l'organisation « {owner} » du portail : un administrateur du portail l'attribue dans {organizations_option} ; rien n'est envoyé",
        "en": "no data.gouv.fr organisation is tied to the portal organisation '{owner}': a sysadmin ties one in {organizations_option}; nothing is sent",
    },
    "synchroniser_data_gouv_fr_organisation_asked": {
        "fr": "l'organisation data.gouv.fr « {named} » demandée n'est pas celle de l'organisation « {owner} » du portail (« {tied} », fixée par un administrateur) : refusé, rien n'est envoyé",
        "en": "the data.gouv.fr organisation '{named}' asked for is not the one of the portal organisation '{owner}' ('{tied}', set by a sysadmin): refused, nothing is sent",
    },
    "synchroniser_spatial_zone_not_resolved_data": {
        "fr": "zone spatiale {level} {code} non résolue par data.gouv.fr ({problem}) : champ spatial laissé vide, la prochaine synchronisation le complétera",
        "en": "spatial zone {level} {code} not resolved by data.gouv.fr ({problem}): spatial left empty, the next sync fills it in",
    },
    "synchroniser_unknown_zone": {
        "fr": "zone inconnue",
        "en": "unknown zone",
    },
    "synchroniser_no_data_gouv_fr_organisation_2": {
        "fr": "aucune organisation data.gouv.fr n'est configurée ; le jeu de données {udata_dataset_id} publié auparavant est laissé tel quel",
        "en": "no data.gouv.fr organisation is configured; the dataset {udata_dataset_id} published before is left as it is",
    },
    "synchroniser_organisation_not_found_on_data": {
        "fr": "organisation introuvable sur data.gouv.fr",
        "en": "organisation not found on data.gouv.fr",
    },
    "synchroniser_data_gouv_fr": {
        "fr": "data.gouv.fr : {error}",
        "en": "data.gouv.fr: {error}",
    },
    # --- targets -----------------------------------------------------------------------------------
    "targets_unknown_value_possible_values": {
        "fr": "valeur « {on_delete} » inconnue ; valeurs possibles : {choices}",
        "en": "unknown value '{on_delete}'; possible values: {choices}",
    },
    "targets_each_item_reads_portal_organisation": {
        "fr": "« {item} » : chaque élément s'écrit organisation-du-portail=organisation-udata, une fois par organisation du portail",
        "en": "'{item}': each item reads portal-organisation=udata-organisation, once per portal organisation",
    },
    # --- metadata ----------------------------------------------------------------------------------
    "metadata_unreadable_metadata_template": {
        "fr": "fiche de métadonnées illisible ({strerror})",
        "en": "unreadable metadata template ({strerror})",
    },
    "metadata_metadata_template_not_valid_yaml": {
        "fr": "fiche de métadonnées en YAML invalide ({error})",
        "en": "metadata template is not valid YAML ({error})",
    },
    "metadata_metadata_template_must_mapping_key": {
        "fr": "la fiche de métadonnées doit être un objet (clé : valeur)",
        "en": "the metadata template must be a mapping (key: value)",
    },
    "metadata_unknown_key_s_possible_keys": {
        "fr": "clé(s) inconnue(s) : {unknown} ; clés possibles : {possible}, extras",
        "en": "unknown key(s): {unknown}; possible keys: {possible}, extras",
    },
    "metadata_extras_must_mapping_key_value": {
        "fr": "« extras » doit être un objet (clé : valeur)",
        "en": "\"extras\" must be a mapping (key: value)",
    },
    "metadata_fields_are_computed_harvester": {
        "fr": "les champs {fields} sont calculés par le moissonneur",
        "en": "the fields {fields} are computed by the harvester",
    },
    "metadata_tags_must_list_keywords": {
        "fr": "« tags » doit être une liste de mots-clés",
        "en": "\"tags\" must be a list of keywords",
    },
    "metadata_must_text": {
        "fr": "« {key} » doit être un texte",
        "en": "\"{key}\" must be a text",
    },
    "metadata_malformed_braces_write_literal_braces": {
        "fr": "« {key} » : accolades mal formées ({error}) ; écrire {{{{ et }}}} pour des accolades",
        "en": "\"{key}\": malformed braces ({error}); write {{{{ and }}}} for literal braces",
    },
    # --- summary -----------------------------------------------------------------------------------
    "summary_sections_directions_operations": {
        "fr": "sections × sens × opérations",
        "en": "sections × directions × operations",
    },
    "summary_chapters": {
        "fr": "chapitres",
        "en": "chapters",
    },
    "summary_functions": {
        "fr": "fonctions",
        "en": "functions",
    },
    "summary_nature_accounts": {
        "fr": "comptes par nature",
        "en": "nature accounts",
    },
    "summary_summary_would_take_bytes_most": {
        "fr": "le résumé ferait {size} octets, {max_summary_bytes} au plus",
        "en": "the summary would take {size} bytes, at most {max_summary_bytes}",
    },
    "summary_not_utf_8_encoded": {
        "fr": "n'est pas encodé en UTF-8",
        "en": "not UTF-8 encoded",
    },
    "summary_unreadable_csv": {
        "fr": "CSV illisible ({error})",
        "en": "unreadable CSV ({error})",
    },
    "summary_more_than_distinct_not_budget": {
        "fr": "plus de {max_groups} {what} distincts : ce n'est pas un budget qu'une visualisation peut montrer",
        "en": "more than {max_groups} distinct {what}: not a budget a visualisation can show",
    },
    "summary_header_not_scdl_budget_schema": {
        "fr": "l'en-tête n'est pas celui du schéma SCDL budget",
        "en": "the header is not the SCDL budget schema's",
    },
    # --- collectivite ------------------------------------------------------------------------------
    "collectivite_no_plan_de_comptes_published": {
        "fr": "aucun plan de comptes {nomenclature} n'est publié pour {exercice} ni les années voisines",
        "en": "no plan de comptes {nomenclature} is published for {exercice} or the years around it",
    },
    # --- the data.gouv.fr command line --------------------------------------------------------------
    "datagouv_cli_help": {
        "fr": "Synchronise les jeux de données budgétaires avec data.gouv.fr (API udata v1).",
        "en": "Synchronise the budget datasets with data.gouv.fr (udata API v1).",
    },
    "datagouv_cli_short_help": {
        "fr": "synchronisation data.gouv.fr",
        "en": "data.gouv.fr sync",
    },
    "datagouv_cli_sync_help": {
        "fr": "Synchronise DATASET (identifiant ou nom), ou --all, tout de suite, dans ce processus. Les jeux de données inchangés ne coûtent aucun appel. Code de sortie : 0 fait, 1 des jeux de données ont échoué (leur état dit pourquoi), 2 rien n'a pu être fait.",
        "en": "Sync DATASET (id or name), or --all, now, in this process. Unchanged datasets cost no call. Exit status: 0 done, 1 some datasets failed (their state says why), 2 nothing could be done.",
    },
    "datagouv_cli_sync_short_help": {
        "fr": "synchroniser maintenant",
        "en": "sync now",
    },
    "datagouv_cli_opt_all": {
        "fr": "tous les jeux de données budgétaires",
        "en": "every budget dataset",
    },
    "datagouv_cli_opt_dry_run": {
        "fr": "dire seulement ce qui serait écrit",
        "en": "only say what would be written",
    },
    "datagouv_cli_status_help": {
        "fr": "L'état de synchronisation de chaque jeu de données : en attente, synchronisé ou en erreur, tentatives, dernier succès, identifiant udata.",
        "en": "The sync state of every dataset: pending, in sync or error, attempts, last success, udata id.",
    },
    "datagouv_cli_status_short_help": {
        "fr": "état de la synchronisation",
        "en": "sync state",
    },
    # --- mapping -----------------------------------------------------------------------------------
    "mapping_resource_s_file_missing_from": {
        "fr": "le fichier de la ressource manque dans le stockage du portail",
        "en": "the resource's file is missing from the portal's storage",
    },
    # --- publish -----------------------------------------------------------------------------------
    "publish_document_published_there_harvest_source": {
        "fr": "le document {key} y est publié par la source de moissonnage « {source} » ; une autre source ne le remplace pas (supprimer cette source d'abord)",
        "en": "the document {key} is published there by the harvest source '{source}'; another source does not replace it (delete that source first)",
    },
    "publish_file_cause": {
        "fr": "{name} : {cause}",
        "en": "{name}: {cause}",
    },
    # The published resources' names and descriptions (rendered in the metadata's language).
    "publish_stage": {
        "fr": "{etape}, exercice {exercice}",
        "en": "{etape}, financial year {exercice}",
    },
    "publish_scdl_name": {
        "fr": "{stage} — données au format SCDL (CSV)",
        "en": "{stage} — data in the SCDL format (CSV)",
    },
    "publish_totem_name": {
        "fr": "{stage} — document budgétaire TOTEM (XML)",
        "en": "{stage} — TOTEM budget document (XML)",
    },
    "publish_report_name": {
        "fr": "{stage} — rapport de validation SCDL (JSON)",
        "en": "{stage} — SCDL validation report (JSON)",
    },
    "publish_scdl_description": {
        "fr": "{stage}, {budget} : données au format national SCDL « budget » (schéma {schema} {version}), converties du document TOTEM publié à côté.",
        "en": "{stage}, {budget}: data in the national SCDL \"budget\" format (schema {schema} {version}), converted from the TOTEM document published beside it.",
    },
    "publish_totem_description": {
        "fr": "{stage}, {budget} : document budgétaire TOTEM d'origine ({nomenclature}), données personnelles occultées (CRPA, article L311-7).",
        "en": "{stage}, {budget}: the original TOTEM budget document ({nomenclature}), personal data occulted (CRPA, article L311-7).",
    },
    "publish_report_description_valid": {
        "fr": "Rapport de validation du CSV contre le schéma SCDL, avec les contrôles de Validata : valide.",
        "en": "Validation report of the CSV against the SCDL schema, with Validata's checks: valid.",
    },
    "publish_report_description_invalid": {
        "fr": "Rapport de validation du CSV contre le schéma SCDL, avec les contrôles de Validata : non valide.",
        "en": "Validation report of the CSV against the SCDL schema, with Validata's checks: not valid.",
    },
    "publish_failure_report_name": {
        "fr": "Rapport de conversion TOTEM → SCDL (JSON)",
        "en": "TOTEM → SCDL conversion report (JSON)",
    },
    "publish_failure_report_description": {
        "fr": "Le document TOTEM déposé n'a pas pu être converti au format SCDL : ce rapport dit pourquoi.",
        "en": "The TOTEM document uploaded could not be converted to the SCDL format: this report says why.",
    },
    # --- plugin ------------------------------------------------------------------------------------
    "harvester_description": {
        "fr": "Documents budgétaires TOTEM (fichier, page d'index, archive ZIP, portail CKAN ou udata), convertis au format SCDL budget et validés. Configuration (JSON, facultative) : {keys}",
        "en": "TOTEM budget documents (file, index page, ZIP archive, CKAN or udata portal), converted to SCDL budget and validated. Configuration (JSON, optional): {keys}",
    },
    "unexpected_error_see_server_log": {
        "fr": "erreur inattendue ({kind} : {detail}), voir le journal du serveur",
        "en": "unexpected error ({kind}: {detail}), see the server log",
    },
    "plugin_document_abandoned_processing_took_over": {
        "fr": "document abandonné : son traitement a dépassé {seconds} s (réglage ckanext.budgetod.object_time_budget)",
        "en": "document abandoned: its processing took over {seconds} s (setting ckanext.budgetod.object_time_budget)",
    },
    "plugin_mb_document_not_published_portal": {
        "fr": "document de {megabytes} Mo non publié : le portail refuse les fichiers de plus de {limit_mb} Mo (réglage ckan.max_resource_size)",
        "en": "{megabytes} MB document not published: the portal refuses files over {limit_mb} MB (setting ckan.max_resource_size)",
    },
    "plugin_invalid_document_address_character_that": {
        "fr": "adresse de document invalide (caractère impossible à enregistrer), document ignoré",
        "en": "invalid document address (a character that cannot be stored), document skipped",
    },
    "plugin_scdl_csv_not_valid_nothing": {
        "fr": "CSV SCDL non conforme, rien n'est publié. {summary}",
        "en": "SCDL CSV not valid, nothing published. {summary}",
    },
    "plugin_ckan_refused_publication": {
        "fr": "publication refusée par CKAN ({details})",
        "en": "CKAN refused the publication ({details})",
    },
}


def current_language() -> str:
    """The language chosen by BUDGETOD_LANG, French when unset or unknown."""
    language = os.environ.get(LANGUAGE_ENV, "").strip().lower()[:2]
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _language(lang: str | None) -> str:
    """``lang`` when it is one of ours, else the current language."""
    return lang if lang in LANGUAGES else current_language()


def text(message_id: str, lang: str | None = None, **params: object) -> str:
    """Render a message in ``lang`` (default: current language) with its parameters."""
    return Message(message_id, params).render(lang)


class Message:
    """A user-facing text: the id of its templates in ``MESSAGES`` and their parameters, rendered in
    French or English when shown. A parameter that is itself a message is rendered in the same
    language; ``str()`` follows $BUDGETOD_LANG (French by default)."""

    __slots__ = ("id", "params")

    def __init__(self, message_id: str, params: Mapping[str, object] | None = None, /, **named: object):
        if message_id not in MESSAGES:
            raise KeyError(f"no message {message_id!r} in the catalogue")
        self.id = message_id
        self.params: dict[str, object] = {**(params or {}), **named}

    def render(self, lang: str | None = None) -> str:
        language = _language(lang)
        values = {name: value.render(language) if isinstance(value, _RENDERED) else value
                  for name, value in self.params.items()}
        return MESSAGES[self.id][language].format(**values)

    def __str__(self) -> str:
        return self.render()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.id, self.params) == (other.id, other.params)

    __hash__ = None  # type: ignore[assignment]  # its parameters are a dict

    def __repr__(self) -> str:
        return f"Message({self.id!r}, {self.params!r})"


class QuotedList:
    """Values each quoted as the language quotes them (« a », « b » / "a", "b"), for a message."""

    __slots__ = ("values",)

    def __init__(self, values: object):
        self.values = list(values) if isinstance(values, (list, tuple)) else [values]

    def render(self, lang: str | None = None) -> str:
        return ", ".join(Message("quoted", text=value).render(lang) for value in self.values)


class Decimals:
    """A number shown with ``places`` decimals, as the language writes it (1,5 / 1.5)."""

    __slots__ = ("places", "value")

    def __init__(self, value: float, places: int):
        self.value, self.places = value, places

    def render(self, lang: str | None = None) -> str:
        shown = f"{self.value:.{self.places}f}"
        return shown.replace(".", ",") if _language(lang) == "fr" else shown


class PerLanguage:
    """A text another module renders in each language itself (a validation verdict), for a message."""

    __slots__ = ("rendered",)

    def __init__(self, rendered: Callable[[str], str]):
        self.rendered = rendered

    def render(self, lang: str | None = None) -> str:
        return self.rendered(_language(lang))


# The parameters a message renders in its own language.
_RENDERED = (Message, QuotedList, Decimals, PerLanguage)


def both_languages(message: Message) -> str:
    """One stored text for both audiences (harvest reports, sync states): French / English."""
    return f"{message.render('fr')} / {message.render('en')}"
