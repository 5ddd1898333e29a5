"""The data.gouv.fr sync state of each budget dataset, kept in the portal's database.

One row per CKAN dataset. It holds what a sync needs to be idempotent and to resume after a
restart: the udata ids written so far (saved as soon as each object exists remotely), the
fingerprint of the content last published, and what administrators read: the status, the last
message, the number of attempts since the last success.

The row has no foreign key to ``package``: a purged dataset's row still knows which udata dataset
to take down.
"""
from __future__ import annotations

import datetime
from typing import Any, cast

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

STATUS_PENDING, STATUS_OK, STATUS_ERROR = "pending", "ok", "error"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


# Typed Any: the ORM turns these class attributes into plain values on rows, which type checkers
# cannot follow without a SQLAlchemy plugin (none works for both SQLAlchemy 1.4 and 2.0).
_column: Any = sa.Column


class DatagouvSync(tk.BaseModel):  # type: ignore[misc]
    __tablename__ = "budgetod_datagouv_sync"

    package_id = _column(sa.UnicodeText, primary_key=True)
    package_name = _column(sa.UnicodeText, nullable=False, default="")
    status = _column(sa.UnicodeText, nullable=False, default=STATUS_PENDING)
    message = _column(sa.UnicodeText, nullable=False, default="")
    # Attempts since the last success (0 once it succeeds).
    attempts = _column(sa.Integer, nullable=False, default=0)
    # Times are UTC. When the portal last changed the dataset: a sync that started before keeps it pending.
    changed = _column(sa.DateTime)
    last_attempt = _column(sa.DateTime)
    last_success = _column(sa.DateTime)
    # The organisation (id) the udata dataset belongs to, for taking it down once the
    # portal dataset and its harvest source are gone.
    udata_organization = _column(sa.UnicodeText)
    udata_dataset_id = _column(sa.UnicodeText)
    # CKAN resource id -> {"id": udata resource id, "file": digest of the file uploaded, or null}.
    udata_resources = _column(postgresql.JSONB, nullable=False, default=dict)
    # Fingerprint of everything the last successful sync published (see synchroniser.fingerprint).
    content_hash = _column(sa.UnicodeText)

    def as_dict(self) -> dict[str, Any]:
        def iso(moment: datetime.datetime | None) -> str | None:
            return moment.isoformat(timespec="seconds") if moment else None

        return {
            "package_id": self.package_id,
            "package_name": self.package_name,
            "status": self.status,
            "message": self.message,
            "attempts": self.attempts,
            "changed": iso(self.changed),
            "last_attempt": iso(self.last_attempt),
            "last_success": iso(self.last_success),
            "udata_organization": self.udata_organization,
            "udata_dataset_id": self.udata_dataset_id,
            "udata_resources": dict(self.udata_resources or {}),
        }


def get(package_id: str) -> DatagouvSync | None:
    return cast("DatagouvSync | None", model.Session.get(DatagouvSync, package_id))


def mark_pending(package_id: str, package_name: str) -> None:
    """Record, in the caller's transaction, that the dataset changed and must be synced."""
    now = utcnow()
    insert = postgresql.insert(DatagouvSync.__table__).values(
        package_id=package_id, package_name=package_name, status=STATUS_PENDING, message="",
        attempts=0, changed=now, udata_resources={})
    model.Session.execute(insert.on_conflict_do_update(
        index_elements=[DatagouvSync.package_id],
        set_={"package_name": package_name, "status": STATUS_PENDING, "changed": now}))


def all_rows() -> list[DatagouvSync]:
    return cast("list[DatagouvSync]", model.Session.query(DatagouvSync).order_by(DatagouvSync.package_name).all())
