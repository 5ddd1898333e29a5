"""data.gouv.fr sync state

Revision ID: f52dd038cebc
Revises:
Create Date: 2026-11-26 22:18:38.750786

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'f52dd038cebc'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budgetod_datagouv_sync",
        sa.Column("package_id", sa.UnicodeText, primary_key=True),
        sa.Column("package_name", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("status", sa.UnicodeText, nullable=False, server_default="pending"),
        sa.Column("message", sa.UnicodeText, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("changed", sa.DateTime),
        sa.Column("last_attempt", sa.DateTime),
        sa.Column("last_success", sa.DateTime),
        sa.Column("udata_organization", sa.UnicodeText),
        sa.Column("udata_dataset_id", sa.UnicodeText),
        sa.Column("udata_resources", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("content_hash", sa.UnicodeText),
    )


def downgrade() -> None:
    op.drop_table("budgetod_datagouv_sync")
