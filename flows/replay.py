"""Replay a proposed threshold rule against the stored history: the one way for the API and
the dashboard. Which rule applies where is the tier run's layering (flows/pipeline._rules):
defaults < config < the service-wide override < a tenant's override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthmon.alerting.replay import Replay, replay
from healthmon.alerting.thresholds import ThresholdRule
from healthmon.flows.alerting_setup import build_policy
from healthmon.flows.app import App
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS
from healthmon.storage.replay import NO_RULE, Bounds, ReplayQuery, RulePair, judged_history
from healthmon.storage.thresholds import list_overrides
from healthmon.storage.types import PLATFORM

#: the history kept (retention), so the most a replay can look back
WINDOW_DAYS = 30


def _bounds(rule: ThresholdRule | None) -> Bounds:
    return NO_RULE if rule is None else Bounds(rule.degraded, rule.unhealthy, rule.inverse)


def replay_query(
    app: App, service: str, proposed: ThresholdRule, tenant: str | None, until: datetime
) -> ReplayQuery:
    """The metric's current rule per target, and where the proposed one would apply: one
    tenant (its override), or the service-wide layer (every target without its own override)."""
    metric = proposed.metric
    own = {
        str(r["tenant_id"]): Bounds(r["degraded"], r["unhealthy"], bool(r["inverse"]))
        for r in list_overrides(app.engine, service)
        if r["metric"] == metric
    }
    service_wide = own.pop(PLATFORM, None)
    if service_wide is None:
        service_wide = _bounds(app.rules_for(service).get(metric))
    since = until - timedelta(days=WINDOW_DAYS)
    if tenant is not None:
        current = own.get(tenant, service_wide)
        return ReplayQuery(service, metric, since, until, RulePair(current, _bounds(proposed)), tenant=tenant)
    return ReplayQuery(
        service,
        metric,
        since,
        until,
        RulePair(service_wide, _bounds(proposed)),
        per_tenant={t: RulePair(b, b) for t, b in own.items()},
    )


def preview(
    app: App, service: str, proposed: ThresholdRule, tenant: str | None = None, now: datetime | None = None
) -> Replay:
    """What the proposed rule would have done over the last WINDOW_DAYS, beside the current one.
    The rule is validated (alerting.thresholds.validate_rule) and the tenant checked by the caller."""
    until = now or datetime.now(UTC)
    query = replay_query(app, service, proposed, tenant, until)
    tier = MONITORS[service].tier
    return replay(
        judged_history(app.engine, query),
        build_policy(app.config.alerting),
        until.timestamp(),
        TIERS[tier].stale_after_s(app.config.watchdog.stale_after),
        WINDOW_DAYS,
    )
