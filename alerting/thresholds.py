"""Threshold rules: turn latency and metrics into a status.

A normal rule says "above is worse" (latency, connection usage); an inverse rule says
"below is worse" (rate-limit headroom, days to token expiry). A value equal to a bound
counts as past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

from monitors.result import CheckResult, Status


class ThresholdRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    degraded: float | None = None
    unhealthy: float | None = None
    inverse: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.degraded is None and self.unhealthy is None:
            raise ValueError(f"rule for {self.metric!r} needs a degraded or an unhealthy bound")
        if self.degraded is not None and self.unhealthy is not None:
            if not self.inverse and self.degraded > self.unhealthy:
                raise ValueError(
                    f"rule for {self.metric!r}: degraded bound {self.degraded:g} is past the unhealthy "
                    f"bound {self.unhealthy:g} (above is worse, so degraded must be the lower)"
                )
            if self.inverse and self.degraded < self.unhealthy:
                raise ValueError(
                    f"rule for {self.metric!r}: degraded bound {self.degraded:g} is past the unhealthy "
                    f"bound {self.unhealthy:g} (inverse: below is worse, so degraded must be the higher)"
                )
        return self

    def judge(self, value: float) -> Status:
        def past(bound: float | None) -> bool:
            return bound is not None and (value <= bound if self.inverse else value >= bound)

        if past(self.unhealthy):
            return Status.UNHEALTHY
        if past(self.degraded):
            return Status.DEGRADED
        return Status.HEALTHY


def _rules(*pairs: tuple[str, float | None, float | None]) -> tuple[ThresholdRule, ...]:
    return tuple(ThresholdRule(metric=m, degraded=d, unhealthy=u) for m, d, u in pairs)


#: Built-in defaults per service; config and the alert_thresholds table override them.
DEFAULT_RULES: Mapping[str, tuple[ThresholdRule, ...]] = {
    "postgres": _rules(
        ("latency_ms", 250, 1000),
        ("connections_used_pct", 80, 95),
        ("longest_query_s", 300, 1800),
        ("longest_idle_in_transaction_s", 60, 600),
        ("replication_lag_s", 30, 300),
    ),
    "redis": _rules(
        ("latency_ms", 100, 500),
        ("memory_used_pct", 90, 98),
        ("clients_used_pct", 80, 95),
        ("rejected_connections_delta", 1, None),
        ("mem_fragmentation_ratio", 1.5, 3.0),
    ),
}

#: Any service without its own latency rule gets this one.
DEFAULT_LATENCY_RULE = ThresholdRule(metric="latency_ms", degraded=2000, unhealthy=10000)

#: Metrics that mean the same wherever a monitor reports them.
COMMON_RULES: tuple[ThresholdRule, ...] = (
    DEFAULT_LATENCY_RULE,
    # headroom left in the vendor's rate limit, in percent
    ThresholdRule(metric="rate_limit_remaining_pct", degraded=20, unhealthy=5, inverse=True),
    # days until a credential stops working
    ThresholdRule(metric="token_expires_in_days", degraded=7, unhealthy=1, inverse=True),
)


def merge_rules(*layers: Iterable[ThresholdRule]) -> dict[str, ThresholdRule]:
    """Later layers replace earlier ones metric by metric."""
    merged: dict[str, ThresholdRule] = {}
    for layer in layers:
        for rule in layer:
            merged[rule.metric] = rule
    return merged


def with_sources(
    layers: Sequence[tuple[str, Iterable[ThresholdRule]]],
) -> dict[str, tuple[ThresholdRule, str]]:
    """Like merge_rules, keeping the name of the layer each effective rule comes from."""
    merged: dict[str, tuple[ThresholdRule, str]] = {}
    for source, rules in layers:
        for rule in rules:
            merged[rule.metric] = (rule, source)
    return merged


def defaults_for(service: str) -> dict[str, ThresholdRule]:
    return merge_rules(COMMON_RULES, DEFAULT_RULES.get(service, ()))


def _value(result: CheckResult, metric: str) -> float | None:
    raw: Any = result.latency_ms if metric == "latency_ms" else result.details.get(metric)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw)


def evaluate(
    result: CheckResult, rules: Mapping[str, ThresholdRule] | Sequence[ThresholdRule]
) -> CheckResult:
    """The final status is the worse of the monitor's own and the thresholds'."""
    items = rules.values() if isinstance(rules, Mapping) else rules
    breaches: list[dict[str, Any]] = []
    verdict = Status.HEALTHY
    for rule in items:
        value = _value(result, rule.metric)
        if value is None:
            continue
        level = rule.judge(value)
        if level is Status.HEALTHY:
            continue
        bound = rule.unhealthy if level is Status.UNHEALTHY else rule.degraded
        breaches.append({"metric": rule.metric, "value": value, "bound": bound, "level": level.value})
        verdict = verdict.worse(level)
    if not breaches:
        return result
    final = result.status.worse(verdict)
    extra: dict[str, Any] = {"breaches": breaches}
    if final is not result.status or "reason" not in result.details:
        worst = max(breaches, key=lambda b: Status(b["level"]).rank)
        sign = "<=" if rules_inverse(items, worst["metric"]) else ">="
        extra["reason"] = f"{worst['metric']} {worst['value']:g} {sign} {worst['bound']:g}"
    return result.with_status(final, **extra)


def rules_inverse(rules: Iterable[ThresholdRule], metric: str) -> bool:
    return any(r.inverse for r in rules if r.metric == metric)
