"""The lifecycle decision, case by case (pure: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthmon.alerting.lifecycle import AlertView, TargetState, decide, signature
from healthmon.alerting.notification import Kind, Severity
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.silences import SilenceView, validate_recurrence
from healthmon.monitors.result import Status, Tier

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = AlertPolicy()


def state(
    status: Status = Status.UNHEALTHY,
    consecutive: int = 2,
    flips: int = 0,
    service: str = "postgres",
    tenant: str | None = None,
    tier: Tier = Tier.CRITICAL,
) -> TargetState:
    return TargetState(
        service,
        tenant,
        tier,
        status,
        consecutive,
        flips,
        "connection refused",
        {"reason": "connection refused", "error": "connect"},
        NOW,
    )


def alert(
    severity: Severity = Severity.P1,
    status: str = "open",
    notified: Severity | None = Severity.P1,
    last_notified: datetime | None = NOW,
    service: str = "postgres",
    tenant: str | None = None,
    condition: str = "health",
    alert_id: int = 7,
) -> AlertView:
    return AlertView(
        alert_id,
        signature(service, tenant, condition),
        service,
        tenant,
        condition,
        severity,
        status,
        3,
        last_notified,
        notified,
        False,
    )


def test_opens_only_after_the_streak_and_pages_once() -> None:
    assert decide([state(consecutive=1)], [], [], POLICY, NOW).changes == []
    opened = decide([state(consecutive=2)], [], [], POLICY, NOW)
    (change,) = opened.changes
    assert (change.id, change.severity, change.title) == (None, Severity.P1, "postgres unhealthy (platform)")
    assert opened.notify == [("postgres|-|health", Kind.TRIGGER)]
    # a repeat updates the alert and does not page again
    repeat = decide([state(consecutive=3)], [alert()], [], POLICY, NOW + timedelta(minutes=1))
    assert [c.id for c in repeat.changes] == [7] and repeat.notify == []


def test_severity_follows_tier_and_status() -> None:
    cases = [
        (Tier.CRITICAL, Status.UNHEALTHY, Severity.P1),
        (Tier.CORE, Status.UNHEALTHY, Severity.P2),
        (Tier.INTEGRATION, Status.UNHEALTHY, Severity.P2),
        (Tier.EXTERNAL, Status.UNHEALTHY, Severity.P3),
        (Tier.CRITICAL, Status.DEGRADED, Severity.P3),
        (Tier.CORE, Status.UNKNOWN, Severity.P3),
    ]
    for tier, status, severity in cases:
        assert POLICY.severity_for(tier, status) is severity


def test_renotify_after_the_interval_unless_acknowledged() -> None:
    later = NOW + timedelta(seconds=1800)
    assert decide([state()], [alert()], [], POLICY, later).notify == [(7, Kind.RENOTIFY)]
    assert decide([state()], [alert(status="acknowledged")], [], POLICY, later).notify == []
    assert decide([state()], [alert()], [], POLICY, later - timedelta(seconds=1)).notify == []


def test_escalation_notifies_at_once_even_when_acknowledged() -> None:
    was_degraded = alert(Severity.P3, status="acknowledged", notified=Severity.P3)
    assert decide([state()], [was_degraded], [], POLICY, NOW).notify == [(7, Kind.ESCALATE)]
    # and a fall back to degraded does not notify
    assert decide([state(Status.DEGRADED)], [alert()], [], POLICY, NOW).notify == []


def test_recovery_resolves_after_the_healthy_streak_with_one_notice() -> None:
    assert decide([state(Status.HEALTHY, consecutive=1)], [alert()], [], POLICY, NOW).resolve == []
    healed = decide([state(Status.HEALTHY, consecutive=2)], [alert()], [], POLICY, NOW)
    assert healed.resolve == [7] and healed.notify == [(7, Kind.RESOLVE)]
    # an alert nobody was told about resolves quietly
    quiet = decide([state(Status.HEALTHY, consecutive=2)], [alert(notified=None)], [], POLICY, NOW)
    assert quiet.resolve == [7] and quiet.notify == []


def test_a_flapping_target_notifies_once_and_does_not_resolve_on_each_flip() -> None:
    opened = decide([state(consecutive=1, flips=6)], [], [], POLICY, NOW)
    assert opened.notify == [("postgres|-|health", Kind.TRIGGER)] and opened.changes[0].flapping
    flip = decide([state(Status.HEALTHY, consecutive=2, flips=7)], [alert()], [], POLICY, NOW)
    assert flip.resolve == [] and flip.notify == []
    again = decide([state(consecutive=1, flips=8)], [alert()], [], POLICY, NOW)
    assert again.notify == []


def tenants(n_bad: int, n_total: int) -> list[TargetState]:
    return [
        state(
            Status.UNHEALTHY if i < n_bad else Status.HEALTHY,
            service="shopify",
            tenant=f"t{i:03d}",
            tier=Tier.CORE,
        )
        for i in range(n_total)
    ]


def test_a_vendor_outage_is_one_rollup_alert() -> None:
    decision = decide(
        tenants(50, 200),
        [alert(Severity.P2, service="shopify", tenant="t001")],
        [],
        POLICY,
        NOW,
        vendor_status={"shopify": "shopify status page reports major"},
    )
    rollups = [c for c in decision.changes if c.condition == "rollup"]
    (rollup,) = rollups
    assert rollup.title == "shopify failing for 50 of 200 tenants" and len(rollup.details["tenants"]) == 50
    assert rollup.details["vendor_status"] == "shopify status page reports major"
    assert decision.notify == [("shopify|-|rollup", Kind.TRIGGER)]
    # the tenant alert that was already open is held, and no other tenant alert opens
    held = [c for c in decision.changes if c.condition == "health"]
    assert [(c.id, c.held) for c in held] == [(7, "rollup")]


def test_few_failing_tenants_alert_one_by_one() -> None:
    decision = decide(tenants(2, 200), [], [], POLICY, NOW)
    assert sorted(k for k, _ in decision.notify) == ["shopify|t000|health", "shopify|t001|health"]


def test_the_rollup_resolves_when_the_outage_ends() -> None:
    rollup = alert(Severity.P2, service="shopify", condition="rollup")
    decision = decide(tenants(1, 200), [rollup], [], POLICY, NOW)
    assert decision.resolve == [7] and (7, Kind.RESOLVE) in decision.notify


def test_silence_holds_and_releases() -> None:
    silence = SilenceView(1, "postgres", None, NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    held = decide([state()], [], [silence], POLICY, NOW)
    assert held.changes[0].held == "silence:1" and held.notify == []
    # the problem outlasts the window: the held alert (never notified) is sent now
    released = decide(
        [state()], [alert(notified=None, last_notified=None)], [silence], POLICY, NOW + timedelta(hours=2)
    )
    assert released.notify == [(7, Kind.TRIGGER)] and released.changes[0].held is None
    # another service is not silenced
    assert decide([state(service="redis")], [], [silence], POLICY, NOW).notify


def test_recurring_maintenance_window() -> None:
    weekly = SilenceView(
        2,
        None,
        "acme",
        NOW - timedelta(days=30),
        NOW + timedelta(days=30),
        {"weekdays": [6], "start": "23:30", "duration_min": 60},
    )
    sunday_late = datetime(2026, 11, 29, 23, 45, tzinfo=UTC)  # a Sunday
    monday_early = datetime(2026, 11, 30, 0, 20, tzinfo=UTC)
    assert weekly.active(sunday_late) and weekly.active(monday_early)
    assert not weekly.active(datetime(2026, 11, 30, 0, 31, tzinfo=UTC))
    assert not weekly.active(datetime(2026, 11, 28, 23, 45, tzinfo=UTC))
    assert weekly.matches("shopify", "acme") and not weekly.matches("shopify", "other")
    for bad in (
        {"start": "25:00", "duration_min": 5},
        {"start": "01:00", "duration_min": 0},
        {"start": "01:00", "duration_min": 5, "weekdays": [7]},
    ):
        try:
            validate_recurrence(bad)
        except ValueError as exc:
            assert str(exc).startswith("recurrence.")
        else:
            raise AssertionError(f"accepted {bad}")
