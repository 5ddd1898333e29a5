"""Alembic environment of the budgetod plugin, run by CKAN's `ckan db` commands.

CKAN keeps each plugin's revision in a table of its own, named after the migration directory
(budgetod_alembic_version), beside its core alembic_version. Logging is CKAN's: this file leaves
it alone.
"""
import os

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
VERSION_TABLE = f"{os.path.basename(os.path.dirname(__file__))}_alembic_version"


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
                      version_table=VERSION_TABLE, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
