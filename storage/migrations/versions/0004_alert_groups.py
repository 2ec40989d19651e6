"""Alert groups: a delivery row names the group it is batched with.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        # "service|condition" for p2/p3 notices that go out as one message per group and
        # channel; null for notices sent on their own (p1, escalations, platform alerts)
        batch.add_column(sa.Column("group_key", sa.String(130), nullable=True))
        batch.create_index("ix_deliveries_group", ["group_key", "channel", "status"])


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_index("ix_deliveries_group")
        batch.drop_column("group_key")
