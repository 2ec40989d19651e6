"""Alerting: status streaks and flips, alert notification state, delivery claims.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from healthmon.storage.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_status") as batch:
        # consecutive results with the current status, for open/resolve streak thresholds
        batch.add_column(sa.Column("consecutive", sa.Integer, nullable=False, server_default="1"))
        # status changes since flips_since, for flap detection
        batch.add_column(sa.Column("flips", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("flips_since", UtcDateTime, nullable=True))
    with op.batch_alter_table("platform_alerts") as batch:
        batch.add_column(sa.Column("notified_severity", sa.String(4), nullable=True))
        batch.add_column(sa.Column("flapping", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("held", sa.String(40), nullable=True))
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("status", sa.String(12), nullable=False, server_default="pending"))
        batch.add_column(sa.Column("claimed_until", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("ref", sa.String(200), nullable=True))
    op.create_index("ix_deliveries_status_next", "alert_deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_status_next", "alert_deliveries")
    with op.batch_alter_table("alert_deliveries") as batch:
        for column in ("ref", "claimed_until", "status"):
            batch.drop_column(column)
    with op.batch_alter_table("platform_alerts") as batch:
        for column in ("held", "flapping", "notified_severity"):
            batch.drop_column(column)
    with op.batch_alter_table("service_status") as batch:
        for column in ("flips_since", "flips", "consecutive"):
            batch.drop_column(column)
