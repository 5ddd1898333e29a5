"""The data.gouv.fr sync: which datasets go where (``targets``), what each becomes there (``mapping``),
the idempotent writes (``synchroniser``) and their state kept in the portal's database (``state``)."""
from ckanext.budgetod.datagouv.sync.mapping import KEY_DATASET, KEY_DOCUMENT, KEY_PORTAL_URL, KEY_RESOURCE, KEY_ROLE
from ckanext.budgetod.datagouv.sync.synchroniser import (
    AMBIGUOUS_CREATE_TRIES,
    Outcome,
    Synchroniser,
    dataset_page,
    status,
)
from ckanext.budgetod.datagouv.sync.targets import (
    OPTION,
    ORGANIZATIONS_OPTION,
    SyncError,
    candidate_ids,
    checked,
    client,
    is_candidate,
    parse_organizations,
)

__all__ = [
    "AMBIGUOUS_CREATE_TRIES", "KEY_DATASET", "KEY_DOCUMENT", "KEY_PORTAL_URL", "KEY_RESOURCE", "KEY_ROLE",
    "OPTION", "ORGANIZATIONS_OPTION", "Outcome", "SyncError", "Synchroniser",
    "candidate_ids", "checked", "client", "dataset_page", "is_candidate", "parse_organizations", "status",
]
