"""Uptime rollup: up and observed seconds per target and complete hour, and which hours of
each service are rolled up with which caps.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from healthmon.storage.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # silences are not subtracted here: a silenced hour is read from history (storage/uptime.py)
    op.create_table(
        "uptime_hours",
        sa.Column("service", sa.String(40), primary_key=True),
        # '' for a platform service, as service_status keys it, so the key works on both dialects
        sa.Column("tenant_id", sa.String(64), primary_key=True, server_default=""),
        sa.Column("hour", UtcDateTime, primary_key=True),
        sa.Column("up_s", sa.Float, nullable=False),
        sa.Column("seen_s", sa.Float, nullable=False),
    )
    op.create_table(
        "uptime_rollups",
        sa.Column("service", sa.String(40), primary_key=True),
        sa.Column("hour", UtcDateTime, primary_key=True),
        # the caps the hour was computed with: a tally with other caps reads history instead
        sa.Column("stale_after", sa.Float, nullable=False),
        sa.Column("interval_scale", sa.Float, nullable=False),
        sa.Column("rolled_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("uptime_rollups")
    op.drop_table("uptime_hours")
