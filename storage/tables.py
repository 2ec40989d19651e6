"""The tables named in DESIGN.md. Migrations in storage/migrations create them; keep both in step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from healthmon.storage.types import JsonType, UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime, nullable=nullable, index=index))


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    enabled: bool = Field(default=True)
    #: non-secret integration settings: {"shopify": {"shop": "acme.myshopify.com"}, ...}
    integrations: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    #: per-integration secrets, each a Fernet token: {"shopify": "gAAAA..."}
    credentials: dict[str, str] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class HealthCheckHistory(SQLModel, table=True):
    """One row per check. On PostgreSQL partitioned by day on checked_at (see migrations)."""

    __tablename__ = "health_check_history"
    __table_args__ = (Index("ix_history_service_tenant_time", "service", "tenant_id", "checked_at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    checked_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, primary_key=True))
    service: str = Field(sa_column=Column(String(40), nullable=False))
    tenant_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    tier: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    latency_ms: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    run_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))


class ServiceStatus(SQLModel, table=True):
    """Latest result per (service, tenant); tenant_id '' for platform services."""

    __tablename__ = "service_status"

    service: str = Field(sa_column=Column(String(40), primary_key=True))
    tenant_id: str = Field(default="", sa_column=Column(String(64), primary_key=True, server_default=""))
    tier: str = Field(sa_column=Column(String(16), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    latency_ms: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    checked_at: datetime = _ts()
    #: when the status last changed
    since: datetime = _ts()
    previous_status: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    run_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    #: consecutive results with the current status
    consecutive: int = Field(default=1)
    #: status changes counted since flips_since (a fixed window restarted when it expires)
    flips: int = Field(default=0)
    flips_since: datetime | None = _ts(nullable=True)


class AlertThreshold(SQLModel, table=True):
    """Overrides: tenant_id '' is a service-wide default, otherwise one tenant's override."""

    __tablename__ = "alert_thresholds"
    __table_args__ = (UniqueConstraint("service", "tenant_id", "metric", name="uq_thresholds_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    service: str = Field(sa_column=Column(String(40), nullable=False))
    tenant_id: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    metric: str = Field(sa_column=Column(String(80), nullable=False))
    degraded: float | None = None
    unhealthy: float | None = None
    inverse: bool = Field(default=False)
    updated_at: datetime = _ts()
    updated_by: str | None = Field(default=None, max_length=100)


class PlatformAlert(SQLModel, table=True):
    __tablename__ = "platform_alerts"
    __table_args__ = (
        # at most one live alert per signature; resolved ones are history
        Index(
            "uq_alerts_active_signature",
            "signature",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        Index("ix_alerts_status_severity", "status", "severity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    signature: str = Field(sa_column=Column(String(255), nullable=False))
    service: str = Field(sa_column=Column(String(40), nullable=False))
    tenant_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    condition: str = Field(sa_column=Column(String(80), nullable=False))
    severity: str = Field(sa_column=Column(String(4), nullable=False))
    status: str = Field(default="open", sa_column=Column(String(16), nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    count: int = Field(default=1)
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()
    last_notified_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = _ts(nullable=True, index=True)
    #: the severity last notified; None = never notified (held by a silence or a rollup)
    notified_severity: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    flapping: bool = Field(default=False)
    #: why notifications are held back right now ("silence:<id>", "rollup"), if they are
    held: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    #: the note written on acknowledge or resolve, the latest one
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AlertDelivery(SQLModel, table=True):
    """One notification to one channel; committed before it is sent."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_deliveries_pending", "delivered_at", "next_attempt_at"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_deliveries_group", "group_key", "channel", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("platform_alerts.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    channel: str = Field(sa_column=Column(String(20), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JsonType, nullable=False))
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)
    #: pending -> delivered, or failed (not retryable, or out of attempts)
    status: str = Field(default="pending", sa_column=Column(String(12), nullable=False))
    #: a sender's lease: nobody else sends this row before it expires
    claimed_until: datetime | None = _ts(nullable=True)
    #: the channel's reference for later updates (Slack "channel:ts")
    ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    #: the alert group ("service|condition") this notice goes out with, as one message per
    #: group and channel; null for a notice sent on its own (migration 0004)
    group_key: str | None = Field(default=None, sa_column=Column(String(130), nullable=True))


class Silence(SQLModel, table=True):
    __tablename__ = "silences"

    id: int | None = Field(default=None, primary_key=True)
    service: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    tenant_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    starts_at: datetime = _ts()
    ends_at: datetime = _ts()
    #: a recurring window, e.g. {"weekdays": [6], "start": "02:00", "duration_min": 60}
    recurrence: dict[str, Any] | None = Field(default=None, sa_column=Column(JsonType, nullable=True))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)


class TierRun(SQLModel, table=True):
    """One row per tier run: when each tier last ran, what it covered, how it ended."""

    __tablename__ = "tier_runs"
    __table_args__ = (Index("ix_tier_runs_tier_started", "tier", "started_at"),)

    id: str = Field(sa_column=Column(String(36), primary_key=True))
    tier: str = Field(sa_column=Column(String(16), nullable=False))
    trigger: str = Field(default="schedule", sa_column=Column(String(16), nullable=False))
    state: str = Field(default="running", sa_column=Column(String(16), nullable=False))
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    targets: int = Field(default=0)
    checked: int = Field(default=0)
    skipped: int = Field(default=0)
    not_healthy: int = Field(default=0)
    flow_run_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class UptimeHour(SQLModel, table=True):
    """Up and observed seconds of one target in one complete hour, silences not subtracted
    (storage/uptime_hours.py); tenant_id '' for platform services (migration 0005)."""

    __tablename__ = "uptime_hours"

    service: str = Field(sa_column=Column(String(40), primary_key=True))
    tenant_id: str = Field(default="", sa_column=Column(String(64), primary_key=True, server_default=""))
    hour: datetime = Field(sa_column=Column(UtcDateTime, primary_key=True))
    up_s: float = Field(sa_column=Column(Float, nullable=False))
    seen_s: float = Field(sa_column=Column(Float, nullable=False))


class UptimeRollup(SQLModel, table=True):
    """One row per rolled-up hour of a service, with the caps its uptime_hours rows were
    computed with: a tally asking with other caps does not use them (migration 0005)."""

    __tablename__ = "uptime_rollups"

    service: str = Field(sa_column=Column(String(40), primary_key=True))
    hour: datetime = Field(sa_column=Column(UtcDateTime, primary_key=True))
    stale_after: float = Field(sa_column=Column(Float, nullable=False))
    interval_scale: float = Field(sa_column=Column(Float, nullable=False))
    rolled_at: datetime = _ts()


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel declares it untyped
    return table


#: the tables as SQLAlchemy Core sees them: what every query of storage/ is written against
TENANTS = _table(Tenant)
HISTORY = _table(HealthCheckHistory)
SERVICE_STATUS = _table(ServiceStatus)
THRESHOLDS = _table(AlertThreshold)
ALERTS = _table(PlatformAlert)
DELIVERIES = _table(AlertDelivery)
SILENCES = _table(Silence)
TIER_RUNS = _table(TierRun)
UPTIME_HOURS = _table(UptimeHour)
UPTIME_ROLLUPS = _table(UptimeRollup)
