"""Alembic environment: the caller hands over a connection (storage.migrate.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import healthmon.storage.tables  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
