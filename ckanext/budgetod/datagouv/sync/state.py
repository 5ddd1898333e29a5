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

import ckan.model as model
import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

STATUS_PENDING, STATUS_OK, STATUS_ERROR = "pending", "ok", "error"


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class DatagouvSync(tk.BaseModel):
    __tablename__ = "budgetod_datagouv_sync"

    package_id = sa.Column(sa.UnicodeText, primary_key=True)
    package_name = sa.Column(sa.UnicodeText, nullable=False, default="")
    status = sa.Column(sa.UnicodeText, nullable=False, default=STATUS_PENDING)
    message = sa.Column(sa.UnicodeText, nullable=False, default="")
    # Attempts since the last success (0 once it succeeds).
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    # Times are UTC. When the portal last changed the dataset: a sync that started before keeps it pending.
    changed = sa.Column(sa.DateTime)
    last_attempt = sa.Column(sa.DateTime)
    last_success = sa.Column(sa.DateTime)
    # The organisation (id) the udata dataset belongs to, for taking it down once the
    # portal dataset and its harvest source are gone.
    udata_organization = sa.Column(sa.UnicodeText)
    udata_dataset_id = sa.Column(sa.UnicodeText)
    # CKAN resource id -> {"id": udata resource id, "file": digest of the file uploaded, or null}.
    udata_resources = sa.Column(postgresql.JSONB, nullable=False, default=dict)
    # Fingerprint of everything the last successful sync published (see synchroniser.fingerprint).
    content_hash = sa.Column(sa.UnicodeText)

    def as_dict(self) -> dict:
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
    return model.Session.get(DatagouvSync, package_id)


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
    return model.Session.query(DatagouvSync).order_by(DatagouvSync.package_name).all()
