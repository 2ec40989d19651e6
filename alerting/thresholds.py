"""Threshold rules: turn latency and metrics into a status.

A normal rule says "above is worse" (latency, connection usage); an inverse rule says
"below is worse" (rate-limit headroom, days to token expiry). A value equal to a bound
counts as past it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status


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
        # spelled out, without a helper per call: evaluation judges every metric of every check
        unhealthy, degraded = self.unhealthy, self.degraded
        if self.inverse:
            if unhealthy is not None and value <= unhealthy:
                return Status.UNHEALTHY
            if degraded is not None and value <= degraded:
                return Status.DEGRADED
        else:
            if unhealthy is not None and value >= unhealthy:
                return Status.UNHEALTHY
            if degraded is not None and value >= degraded:
                return Status.DEGRADED
        return Status.HEALTHY


def _rules(*pairs: tuple[str, float | None, float | None]) -> tuple[ThresholdRule, ...]:
    return tuple(ThresholdRule(metric=m, degraded=d, unhealthy=u) for m, d, u in pairs)


#: Built-in defaults per service; config and the alert_thresholds table override them.
#: docs/monitors.md ("Default rules") lists every metric of every monitor with its rule and why;
#: tests/monitors/test_default_rules.py holds the two to each other and to the sandbox's faults.
#: Severity follows the tier (alerting/policy.py): only an unhealthy critical result pages
#: (p1), so bounds on critical metrics leave room before "unhealthy", and a degraded bound is
#: a chat message (p3) that may be noisier.
DEFAULT_RULES: Mapping[str, tuple[ThresholdRule, ...]] = {
    "postgres": _rules(
        ("latency_ms", 250, 1000),
        ("connections_used_pct", 80, 95),
        ("longest_query_s", 300, 1800),
        ("longest_idle_in_transaction_s", 60, 600),
        ("replication_lag_s", 30, 300),
        # requests queued for a connection of a pool handed in by a long-running process; a
        # pool that starves ends in the monitor's own `pool_timeout` (unhealthy)
        ("pool_requests_waiting", 5, None),
    ),
    "redis": _rules(
        ("latency_ms", 100, 500),
        ("memory_used_pct", 90, 98),
        ("clients_used_pct", 80, 95),
        ("rejected_connections_delta", 1, None),
        ("mem_fragmentation_ratio", 1.5, 3.0),
        # keys dropped for maxmemory since the last run: data lost unless Redis is only a
        # cache, so worth a look, never a page
        ("evicted_keys_delta", 1, None),
    ),
    # `inngest/function.failed` events in the window (1 h by default): a function fails only
    # after its retries are spent. A few an hour is the usual background of bad input; 25 is
    # a failing dependency or deploy. A full page (100) counts as 100, far past either bound.
    "inngest": _rules(("failed_runs", 5, 25)),
    # the OAuth refresh is a call of its own before the Ads call that `latency_ms` times
    "google_ads": _rules(("token_refresh_ms", 2000, 10000)),
    # the access-token mint before the products read that `latency_ms` times
    "yotpo": _rules(("token_ms", 2000, 10000)),
    "meta_ads": (
        # the 90-day data-access window: when it closes, reads fail until the user re-authorises
        ThresholdRule(metric="data_access_expires_in_days", degraded=7, unhealthy=1, inverse=True),
    ),
    "tiktok_ads": (
        # The balance is in the advertiser's own currency, so only zero means the same for
        # every tenant: a prepaid account stops delivering ads. Degraded, not unhealthy: the
        # tenant's billing fixes it, not on-call. A tenant with a higher floor (or a credit
        # line that reports 0) sets its own rule in alert_thresholds.
        ThresholdRule(metric="balance", degraded=0, inverse=True),
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


def evaluate(
    result: CheckResult, rules: Mapping[str, ThresholdRule] | Sequence[ThresholdRule]
) -> CheckResult:
    """The final status is the worse of the monitor's own and the thresholds'.

    A result no rule finds past a bound is returned as it is: nothing is allocated for it."""
    items = rules.values() if isinstance(rules, dict | Mapping) else rules
    breaches: list[dict[str, Any]] = []
    verdict = Status.HEALTHY
    details = result.details
    for rule in items:
        metric = rule.metric
        raw: Any = result.latency_ms if metric == "latency_ms" else details.get(metric)
        if raw is None or raw.__class__ is bool or not isinstance(raw, int | float):
            continue
        value = float(raw)
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


# -- validating a rule someone types ----------------------------------------------------------

#: Metrics whose value may go below zero: a prepaid balance on credit, a credential or data
#: window already past its expiry. Every other metric (latencies, durations, counts,
#: percentages, ratios) cannot, so a negative bound there is a typo that would judge every
#: result past it.
SIGNED_METRICS = frozenset({"balance", "token_expires_in_days", "data_access_expires_in_days"})


class RuleInputError(ValueError):
    """Every problem of a rule typed into the API or the dashboard, as (field, message); the
    fields are `service`, `metric`, `degraded`, `unhealthy` and `inverse`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


def settable_metrics(service: str) -> list[str]:
    """Every metric the service's monitor reports, and latency, which every check has."""
    monitor = MONITORS.get(service)
    return sorted({"latency_ms", *monitor.metrics}) if monitor is not None else []


def parse_bound(value: object) -> float | None:
    """A bound as typed: a number, or text holding one; None or blank text is "no bound".
    ValueError says what is wrong: text that is not a number is an error, never "unchanged"."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            shown = repr(text) if len(text) <= 20 else "that text"
            raise ValueError(f"must be a number, not {shown}") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise ValueError("must be a number")
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def validate_rule(
    service: str, metric: str, degraded: object, unhealthy: object, inverse: object = False
) -> ThresholdRule:
    """The one check of a threshold rule set by hand (API and dashboard): a metric the
    service's monitor reports; numbers; not below 0 unless the metric can be (SIGNED_METRICS);
    at least one bound; and the bounds in order (above is worse: degraded <= unhealthy;
    inverse: degraded >= unhealthy). Raises RuleInputError naming every field at fault."""
    problems: list[tuple[str, str]] = []
    known = settable_metrics(service)
    if not known:
        problems.append(("service", f"unknown service {service!r} (one of {', '.join(sorted(MONITORS))})"))
    elif metric not in known:
        problems.append(("metric", f"{service} reports no metric {metric!r} (one of {', '.join(known)})"))
    bounds: dict[str, float | None] = {}
    for field, raw in (("degraded", degraded), ("unhealthy", unhealthy)):
        try:
            bound = parse_bound(raw)
        except ValueError as exc:
            problems.append((field, str(exc)))
            continue
        if bound is not None and bound < 0 and metric not in SIGNED_METRICS:
            problems.append((field, f"must not be negative: {metric} cannot go below 0"))
            continue
        bounds[field] = bound
    if not isinstance(inverse, bool):
        problems.append(("inverse", "must be true or false"))
    if problems or not isinstance(inverse, bool):
        raise RuleInputError(problems)
    try:
        return ThresholdRule(metric=metric, inverse=inverse, **bounds)
    except ValidationError as exc:
        # the rule's own checks are about the pair of bounds; `degraded` is the one to move
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise RuleInputError([("degraded", message)]) from None
