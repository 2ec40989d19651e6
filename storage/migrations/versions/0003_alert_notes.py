"""Notes on acknowledge and resolve; updated_by on tenants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_alerts") as batch:
        # what the person who acknowledged or resolved the alert wrote about it
        batch.add_column(sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platform_alerts") as batch:
        batch.drop_column("note")
