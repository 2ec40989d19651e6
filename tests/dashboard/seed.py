"""Seeding a real database the way healthmon itself writes it: record_results, apply_decision,
upsert_tenants."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.flows import alerts as flow_alerts
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status
from healthmon.storage import alerts as store
from healthmon.storage.crypto import Cipher
from healthmon.storage.results import record_results
from healthmon.storage.tenants import IntegrationInput, upsert_tenants

NOW = datetime.now(UTC).replace(microsecond=0)
TENANTS = ("acme", "globex", "initech")
#: (service, tenant) -> status of the latest result
LATEST: dict[tuple[str, str | None], Status] = {
    ("postgres", None): Status.HEALTHY,
    ("redis", None): Status.DEGRADED,
    ("stripe", None): Status.UNHEALTHY,
    ("mux", None): Status.UNKNOWN,
    ("shopify", "acme"): Status.HEALTHY,
    ("shopify", "globex"): Status.UNHEALTHY,
    ("shopify", "initech"): Status.DEGRADED,
    ("meta_ads", "acme"): Status.HEALTHY,
    ("meta_ads", "globex"): Status.HEALTHY,
}
INTEGRATIONS = {
    "shopify": IntegrationInput({"shop": "x.myshopify.com"}, {"access_token": "shpat_secret"}),
    "meta_ads": IntegrationInput({"ad_account_id": "act_1"}, {"access_token": "meta_secret"}),
}


def result(
    service: str, tenant: str | None, status: Status, at: datetime, latency_ms: float | None = 100.0
) -> CheckResult:
    details: dict[str, Any] = {} if status is Status.HEALTHY else {"reason": f"{service} is {status.value}"}
    return CheckResult(service, tenant, MONITORS[service].tier, status, latency_ms, details, at)


def seed_tenants(engine: Engine, cipher: Cipher, tenants: Sequence[str] = TENANTS) -> None:
    upsert_tenants(
        engine,
        cipher,
        [(t, t.title(), True, {s: INTEGRATIONS[s] for s in ("shopify", "meta_ads")}) for t in tenants],
    )


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def seed_results(engine: Engine, at: datetime | None = None) -> datetime:
    """Two checks per target: a healthy one an hour before `at`, then the latest status at
    `at` (default: now, so that the latest results are fresh however long the session runs).
    Returns `at`."""
    at = at or now()
    earlier = [result(s, t, Status.HEALTHY, at - timedelta(hours=1), 80.0) for (s, t) in LATEST]
    record_results(engine, earlier)
    record_results(engine, [result(s, t, status, at, 120.0) for (s, t), status in LATEST.items()])
    return at


def seed_history(engine: Engine, service: str = "postgres", hours: int = 6) -> list[CheckResult]:
    """One check every 10 minutes with rising latency; unhealthy in the last 30 minutes."""
    results = []
    steps = hours * 6
    for n in range(steps):
        at = NOW - timedelta(minutes=10 * (steps - n))
        status = Status.UNHEALTHY if n >= steps - 3 else Status.HEALTHY
        results.append(result(service, None, status, at, 10.0 + n))
    record_results(engine, results)
    return results


def open_alert(
    engine: Engine,
    service: str = "stripe",
    tenant: str | None = None,
    severity: Severity = Severity.P2,
    title: str | None = None,
) -> int:
    signature = f"{service}|{tenant or '-'}|health"
    decision = Decision(
        changes=[
            AlertChange(
                signature,
                service,
                tenant,
                "health",
                severity,
                title or f"{service} unhealthy ({tenant or 'platform'})",
                {"status": "unhealthy", "reason": "HTTP 503"},
            )
        ],
        notify=[(signature, Kind.TRIGGER)],
    )
    flow_alerts.apply_decision(engine, decision, lambda *_: ["slack"], NOW)
    (row,) = [a for a in store.list_alerts(engine) if a["signature"] == signature]
    return int(row["id"])
