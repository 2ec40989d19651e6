from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from healthmon.alerting.thresholds import ThresholdRule, defaults_for, evaluate, merge_rules
from healthmon.monitors.result import CheckResult, Status, Tier


def result(status: Status = Status.HEALTHY, latency: float | None = 10.0, **details: object) -> CheckResult:
    return CheckResult("postgres", None, Tier.CRITICAL, status, latency, dict(details), datetime.now(UTC))


def test_normal_rule_above_is_worse() -> None:
    rule = ThresholdRule(metric="latency_ms", degraded=100, unhealthy=500)
    assert rule.judge(99) is Status.HEALTHY
    assert rule.judge(100) is Status.DEGRADED
    assert rule.judge(500) is Status.UNHEALTHY


def test_inverse_rule_below_is_worse() -> None:
    rule = ThresholdRule(metric="rate_limit_remaining_pct", degraded=20, unhealthy=5, inverse=True)
    assert rule.judge(50) is Status.HEALTHY
    assert rule.judge(20) is Status.DEGRADED
    assert rule.judge(4) is Status.UNHEALTHY


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metric": "latency_ms", "degraded": 500, "unhealthy": 100},
        {"metric": "token_expires_in_days", "degraded": 3, "unhealthy": 7, "inverse": True},
        {"metric": "latency_ms"},
    ],
)
def test_contradictory_rules_are_rejected_by_name(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match=str(kwargs["metric"])):
        ThresholdRule(**kwargs)  # type: ignore[arg-type]


def test_final_status_is_the_worse_of_monitor_and_thresholds() -> None:
    rules = defaults_for("postgres")
    breached = evaluate(result(connections_used_pct=85.0), rules)
    assert breached.status is Status.DEGRADED
    assert breached.details["breaches"][0]["metric"] == "connections_used_pct"
    assert breached.reason == "connections_used_pct 85 >= 80"
    # the monitor's own verdict is never softened by thresholds
    down = evaluate(result(Status.UNHEALTHY, None, reason="connection refused"), rules)
    assert down.status is Status.UNHEALTHY and down.reason == "connection refused"
    assert evaluate(result(latency=2000.0), rules).status is Status.UNHEALTHY


def test_non_numeric_and_missing_metrics_are_ignored() -> None:
    rules = merge_rules([ThresholdRule(metric="x", degraded=1)])
    assert evaluate(result(x="many"), rules).status is Status.HEALTHY
    assert evaluate(result(x=True), rules).status is Status.HEALTHY
    assert evaluate(result(), rules).status is Status.HEALTHY


def test_later_layers_replace_metric_by_metric() -> None:
    base = defaults_for("postgres")
    merged = merge_rules(base.values(), [ThresholdRule(metric="latency_ms", degraded=5, unhealthy=10)])
    assert merged["latency_ms"].degraded == 5
    assert merged["connections_used_pct"] == base["connections_used_pct"]


def test_status_ordering() -> None:
    assert Status.worst([Status.HEALTHY, Status.UNKNOWN]) is Status.UNKNOWN
    assert Status.worst([Status.UNKNOWN, Status.DEGRADED]) is Status.DEGRADED
    assert Status.UNHEALTHY.worse(Status.DEGRADED) is Status.UNHEALTHY
