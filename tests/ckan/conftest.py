"""Integration tests: CKAN 2.11 with the extension, against the real local stack."""
import pytest


@pytest.fixture
def clean_db(with_plugins, reset_db, reset_index, migrate_db_for):
    # Plugins first: the harvest and activity migrations belong to plugins that must be loaded.
    reset_db()
    migrate_db_for("harvest")
    migrate_db_for("activity")
    migrate_db_for("budgetod")
    # The index of the previous test's datasets would outlive them.
    reset_index()
