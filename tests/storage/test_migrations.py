"""Every schema change is a migration: the migrated database matches the models, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from plugin.storage import migrate
from plugin.storage.models import Base


def test_migrations_match_the_models_and_go_down_and_up_again(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
    migrate.downgrade(database_url, "base")
    assert set(inspect(create_engine(database_url)).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(database_url)
    assert {"shops", "orders", "incidents", "webhook_deliveries", "compensations", "messages"} <= set(
        inspect(create_engine(database_url)).get_table_names())
    engine.dispose()
