"""Opening an alert group the way a tier run does: one decision, one alert per tenant, each
notified to a channel (so that acknowledge and resolve have somebody to tell)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine

from healthmon.alerting.lifecycle import HEALTH, AlertChange, Decision, signature
from healthmon.alerting.notification import Kind, Severity
from healthmon.flows import alerts as flow_alerts
from healthmon.storage import alerts as store


def tenants(count: int, prefix: str = "t") -> list[str]:
    return [f"{prefix}{n:03d}" for n in range(count)]


def open_group(
    engine: Engine,
    service: str,
    tenant_ids: Sequence[str | None],
    severity: Severity = Severity.P3,
    reason: str = "access token expires in 4 days",
    status: str = "degraded",
    channel: str = "slack",
    at: datetime | None = None,
) -> list[int]:
    """The ids of the alerts opened (service|tenant|health for each tenant), in tenant order."""
    signatures = [signature(service, t, HEALTH) for t in tenant_ids]
    decision = Decision(
        changes=[
            AlertChange(
                sig,
                service,
                tenant,
                HEALTH,
                severity,
                f"{service} {status} ({tenant or 'platform'})",
                {"status": status, "reason": reason},
            )
            for sig, tenant in zip(signatures, tenant_ids, strict=True)
        ],
        notify=[(sig, Kind.TRIGGER) for sig in signatures],
    )
    flow_alerts.apply_decision(engine, decision, lambda *_: [channel], at or datetime.now(UTC))
    by_signature = {
        a["signature"]: int(a["id"]) for a in store.list_alerts(engine, ["open", "acknowledged"], 100_000)
    }
    return [by_signature[sig] for sig in signatures]
