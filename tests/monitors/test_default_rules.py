"""Every fault the sandbox can inject, for every monitor, is not healthy under the default rules.

Each case injects one fault kind, runs the check over loopback as a tier run does (the runner,
the monitor's own timeout, then `evaluate` with the built-in rules: the sandbox's config has no
`thresholds`, so the defaults are the effective rules) and asserts the status and what decided
it: the monitor's error class, the rule that breached, or both. The cases are held against the
sandbox's own list of fault kinds (`sandbox.faults.SERVICE_KINDS`), so a new kind or a new
sandbox service without a case here fails `test_every_fault_kind_has_a_case`.

docs/monitors.md ("Default rules") is held to `alerting.thresholds` by the tests at the end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from healthmon.alerting.thresholds import COMMON_RULES, DEFAULT_RULES, ThresholdRule, defaults_for, evaluate
from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.monitors.runner import RunPolicy, run_check
from healthmon.sandbox.faults import SERVICE_KINDS
from healthmon.sandbox.server import RunningSandbox
from tests.support.servers import PgServer, RedisServer, start_postgres, start_redis
from tests.support.vendor_cases import assert_no_secret, run_monitor, settings_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "monitors.md"

#: the sandbox services each monitor calls (Google Ads refreshes its token at Google OAuth)
CALLS: dict[str, tuple[str, ...]] = {
    **{
        m.service: (m.service,)
        for m in MONITORS.values()
        if m.service not in ("postgres", "redis", "prefect")
    },
    "google_ads": ("google_ads", "google_oauth"),
}
#: sandbox services no monitor checks: they stand in for the alert channels
CHANNELS = frozenset({"slack_webhook", "pagerduty", "webhook"})
#: monitors of real servers, not of the sandbox (their faults: tests/monitors/test_postgres.py,
#: tests/monitors/test_redis.py, and a real Prefect API: tests/monitors/test_prefect.py); the
#: healthy baseline of postgres and redis is below
REAL_SERVERS = frozenset({"postgres", "redis", "prefect"})

#: Kinds that model a server that works differently, not one that fails: the monitor must
#: stay healthy. MCP answering as an event stream is allowed by the transport, and a server
#: without the 2026-07-28 era is what the monitor's fallback to the handshake is for.
COMPATIBLE: dict[tuple[str, str], str] = {
    ("mcp", "sse"): "Streamable HTTP lets a server answer any request as text/event-stream",
    ("mcp", "legacy_only"): "the 2025 handshake era is still a valid MCP server",
}

#: Run under the check's own timeout these take seconds each, so they run side by side.
SLOW_KINDS = frozenset({"latency", "hang"})
#: the runner timeout for `hang` cases (a tier run uses the monitor's own, 10 s for HTTP)
HANG_TIMEOUT_S = 1.0
#: how far past the rule's degraded bound a `latency` case answers
LATENCY_MARGIN_MS = 250


@dataclass(frozen=True)
class Expect:
    status: Status
    #: the monitor's error class (`details.error`), when the monitor decides
    error: str | None = None
    #: the metric whose default rule breaches, when a rule decides
    breach: str | None = None


@dataclass(frozen=True)
class Case:
    monitor: str
    service: str  # the sandbox service the fault goes to
    kind: str
    expect: Expect
    params: Mapping[str, Any] = field(default_factory=dict)
    scope: str | None = None  # a tenant, or a status page; None: every one
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        where = self.service if self.service == self.monitor else f"{self.monitor}@{self.service}"
        extra = ",".join(f"{k}={v}" for k, v in self.params.items())
        scope = f"[{self.scope}]" if self.scope else ""
        return f"{where}/{self.kind}{scope}" + (f"({extra})" if extra else "")


U, D, K, H = Status.UNHEALTHY, Status.DEGRADED, Status.UNKNOWN, Status.HEALTHY

TRANSPORT: dict[str, Expect] = {
    "http_error": Expect(U, "vendor_error"),
    "malformed_json": Expect(U, "bad_body"),
    "oversize": Expect(U, "oversize"),
    "reset": Expect(U, "reset"),
    "hang": Expect(U, "timeout"),
    "latency": Expect(D, breach="latency_ms"),
}
CREDENTIALS: dict[str, Expect] = {
    "revoked": Expect(U, "auth"),
    "expired": Expect(U, "auth"),
    "rate_limited": Expect(D, "rate_limited"),
}
STANDARD = {**TRANSPORT, **CREDENTIALS}
#: a throttled answer that also reports no headroom left: the headroom rule makes it unhealthy
THROTTLED_EMPTY = Expect(U, "rate_limited", "rate_limit_remaining_pct")
NO_HEADROOM = Expect(U, breach="rate_limit_remaining_pct")
#: a status page the monitor cannot read says nothing about the vendor: "could not decide"
UNREADABLE = Expect(K, "unreadable")

#: (monitor, sandbox service) -> what each fault kind of that service gives with the defaults
EXPECTED: dict[tuple[str, str], dict[str, Expect]] = {
    ("shopify", "shopify"): {
        **STANDARD,
        "rate_limited": THROTTLED_EMPTY,
        "near_limit": NO_HEADROOM,
        "shop_frozen": Expect(U, "account"),
    },
    ("stripe", "stripe"): STANDARD,
    ("inngest", "inngest"): {**STANDARD, "failed_jobs": Expect(D, breach="failed_runs")},
    ("mcp", "mcp"): {**STANDARD, "sse": Expect(H), "legacy_only": Expect(H)},
    ("wise", "wise"): {**STANDARD, "profile_deactivated": Expect(U, "account")},
    ("meta_ads", "meta_ads"): {
        **STANDARD,
        "rate_limited": THROTTLED_EMPTY,
        "near_limit": NO_HEADROOM,
        "account_disabled": Expect(U, "account"),
        "token_expiring": Expect(D, breach="token_expires_in_days"),
    },
    ("google_ads", "google_ads"): {**STANDARD, "customer_missing": Expect(U, "config")},
    ("google_ads", "google_oauth"): {**TRANSPORT, "latency": Expect(D, breach="token_refresh_ms")},
    ("tiktok_ads", "tiktok_ads"): {
        **STANDARD,
        "advertiser_disabled": Expect(U, "account"),
        "balance_low": Expect(D, breach="balance"),
    },
    ("mux", "mux"): {**STANDARD, "rate_limited": THROTTLED_EMPTY, "near_limit": NO_HEADROOM},
    ("assemblyai", "assemblyai"): {**STANDARD, "balance_negative": Expect(U, "account")},
    ("slack", "slack"): STANDARD,
    ("yotpo", "yotpo"): STANDARD,
    ("loop", "loop"): {**STANDARD, "error_in_200": Expect(U, "auth")},
    ("vercel", "vercel"): {
        **STANDARD,
        "near_limit": NO_HEADROOM,
        "deployment_error": Expect(U, "deployment"),
    },
    ("statuspage", "statuspage"): {
        **{kind: UNREADABLE for kind in TRANSPORT},
        "latency": Expect(D, breach="latency_ms"),
        "statuspage": Expect(U, "incident"),
        "slack_incident": Expect(D, "incident"),
    },
}

#: the same kinds with parameters that take another path through the monitor or the rules
VARIANTS: list[Case] = [
    Case("shopify", "shopify", "shop_frozen", Expect(U, "account"), {"status": 423}),
    Case("shopify", "shopify", "near_limit", Expect(D, breach="rate_limit_remaining_pct"), {"pct": 85}),
    Case("inngest", "inngest", "failed_jobs", Expect(U, breach="failed_runs"), {"count": 30, "spacing_s": 5}),
    Case("meta_ads", "meta_ads", "account_disabled", Expect(D, "account"), {"account_status": 9}),
    Case("meta_ads", "meta_ads", "token_expiring", Expect(U, breach="token_expires_in_days"), {"days": 0.5}),
    Case(
        "meta_ads",
        "meta_ads",
        "token_expiring",
        Expect(D, breach="data_access_expires_in_days"),
        {"days": 60, "data_access_days": 3},
    ),
    Case(
        "tiktok_ads",
        "tiktok_ads",
        "advertiser_disabled",
        Expect(D, "account"),
        {"status": "STATUS_PENDING_CONFIRM"},
    ),
    Case("tiktok_ads", "tiktok_ads", "balance_low", Expect(D, breach="balance"), {"balance": -12.5}),
    Case("stripe", "stripe", "http_error", Expect(U, "client_error"), {"status": 400}),
    Case("vercel", "vercel", "deployment_error", Expect(U, "deployment"), {"state": "CANCELED"}),
    Case(
        "vercel", "vercel", "deployment_error", Expect(D, "deployment"), {"state": "BUILDING", "age_s": 3600}
    ),
    Case("statuspage", "statuspage", "statuspage", Expect(D, "incident"), {"indicator": "minor"}),
    Case("statuspage", "statuspage", "slack_incident", Expect(U, "incident"), {"type": "outage"}),
    # one page of eight unreadable: still "could not decide", never healthy
    Case("statuspage", "statuspage", "http_error", UNREADABLE, scope="mux"),
]


def _cases() -> list[Case]:
    cases = [
        Case(monitor, service, kind, expect)
        for (monitor, service), kinds in EXPECTED.items()
        for kind, expect in sorted(kinds.items())
    ]
    return cases + VARIANTS


CASES = _cases()
FAST = [c for c in CASES if c.kind not in SLOW_KINDS]
SLOW = [c for c in CASES if c.kind in SLOW_KINDS]


async def check_with_defaults(monitor: Monitor, settings: Mapping[str, Any], timeout_s: float) -> CheckResult:
    """One check as a tier run makes it, judged by the built-in rules.

    The re-check of an unhealthy result is off: a fault that stays in place gives the same
    verdict twice, and every case would cost the re-check's wait.
    """
    return evaluate(await run_monitor(monitor, settings, timeout_s), defaults_for(monitor.service))


def _latency_ms(case: Case) -> int:
    rule = defaults_for(case.monitor)[case.expect.breach or "latency_ms"]
    assert rule.degraded is not None
    return int(rule.degraded) + LATENCY_MARGIN_MS


async def run_case(sandbox: RunningSandbox, bed: Mapping[str, Any], case: Case) -> CheckResult:
    monitor = MONITORS[case.monitor]
    settings = {**settings_for(bed, monitor), **case.settings}
    params = dict(case.params)
    timeout = monitor.default_timeout_s
    if case.kind == "latency":
        params.setdefault("ms", _latency_ms(case))
    elif case.kind == "hang":
        timeout = HANG_TIMEOUT_S
        if case.monitor == "statuspage":
            # each page has its own timeout inside the check (8 s, under the check's 10 s);
            # scaled down here so the page's own path is the one tested
            settings["page_timeout_s"] = HANG_TIMEOUT_S / 2
            timeout = HANG_TIMEOUT_S * 2
    sandbox.state.add_fault(case.service, case.kind, case.scope, **params)
    try:
        result = await check_with_defaults(monitor, settings, timeout)
    finally:
        sandbox.state.clear_faults(case.service, case.scope, case.kind)
    assert_no_secret(result, settings)
    return result


def problem(case: Case, result: CheckResult) -> str | None:
    """What is wrong with `result` for `case`, or None."""
    d = result.details
    breached = {b["metric"] for b in d.get("breaches", [])}
    want = case.expect
    wrong: list[str] = []
    if result.status is not want.status:
        wrong.append(f"status {result.status.value}, expected {want.status.value}")
    if want.status is Status.HEALTHY:
        if breached or d.get("reason"):
            wrong.append(f"healthy with breaches {sorted(breached)} / reason {d.get('reason')!r}")
    else:
        if not d.get("reason"):
            wrong.append("no reason")
        if want.error is not None and d.get("error") != want.error:
            wrong.append(f"error {d.get('error')!r}, expected {want.error!r}")
        if want.breach is not None and want.breach not in breached:
            wrong.append(f"no breach of {want.breach} (breaches: {sorted(breached)})")
        if want.breach is None and breached:
            wrong.append(f"unexpected breaches {sorted(breached)}")
    return f"{case.id}: {'; '.join(wrong)}; details {d}" if wrong else None


# -- the fault table against the sandbox's own list ---------------------------------------------


def test_every_fault_kind_has_a_case() -> None:
    assert set(CALLS) | REAL_SERVERS == set(MONITORS)
    called = {service for services in CALLS.values() for service in services}
    assert called | CHANNELS == set(SERVICE_KINDS), "a sandbox service nobody checks, or a new one"
    assert not called & CHANNELS
    injectable = {(m, s, k) for m, services in CALLS.items() for s in services for k in SERVICE_KINDS[s]}
    covered = {(m, s, k) for (m, s), kinds in EXPECTED.items() for k in kinds}
    assert covered == injectable
    assert {(c.monitor, c.service, c.kind) for c in VARIANTS} <= injectable


def test_only_compatible_variants_stay_healthy() -> None:
    healthy = {(c.monitor, c.kind) for c in CASES if c.expect.status is Status.HEALTHY}
    assert healthy == set(COMPATIBLE)


def test_the_sandbox_config_sets_no_thresholds(bed: Mapping[str, Any]) -> None:
    # so that the built-in defaults are the effective rules, as in a tier run without overrides
    assert all("thresholds" not in options for options in bed["services"].values())


@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
async def test_fault_is_not_healthy_by_default(
    sandbox: RunningSandbox, bed: Mapping[str, Any], case: Case
) -> None:
    wrong = problem(case, await run_case(sandbox, bed, case))
    if wrong:
        pytest.fail(wrong)


async def test_slow_faults_are_not_healthy_by_default(
    sandbox: RunningSandbox, bed: Mapping[str, Any]
) -> None:
    """`latency` and `hang` for every monitor: one monitor's cases in turn, monitors side by side."""
    by_monitor: dict[str, list[Case]] = {}
    for case in SLOW:
        by_monitor.setdefault(case.monitor, []).append(case)

    async def in_turn(cases: list[Case]) -> list[str | None]:
        return [problem(case, await run_case(sandbox, bed, case)) for case in cases]

    found = await asyncio.gather(*(in_turn(cases) for cases in by_monitor.values()))
    problems = [p for group in found for p in group if p]
    if problems:
        pytest.fail("\n".join(problems))
    assert set(by_monitor) == set(CALLS)


# -- normal data stays healthy -----------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(CALLS))
async def test_healthy_sandbox_is_healthy_by_default(
    sandbox: RunningSandbox, bed: Mapping[str, Any], service: str
) -> None:
    monitor = MONITORS[service]
    result = await check_with_defaults(monitor, settings_for(bed, monitor), monitor.default_timeout_s)
    assert result.status is Status.HEALTHY, result.details
    assert "breaches" not in result.details and "reason" not in result.details
    # the rules had something to judge: at least the latency
    assert result.latency_ms is not None


@pytest.fixture(scope="module")
def fresh_postgres() -> Iterator[PgServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fresh_redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


async def test_healthy_postgres_is_healthy_by_default(fresh_postgres: PgServer) -> None:
    monitor = MONITORS["postgres"]
    result = await check_with_defaults(monitor, {"dsn": fresh_postgres.url}, monitor.default_timeout_s)
    assert result.status is Status.HEALTHY, result.details
    assert "breaches" not in result.details
    judged = set(defaults_for("postgres")) & {k for k, v in result.details.items() if v is not None}
    assert {"connections_used_pct", "longest_query_s", "replication_lag_s"} <= judged


async def test_healthy_redis_is_healthy_by_default_twice(fresh_redis: RedisServer) -> None:
    # the second run has the first as its previous result, so the delta rules judge too
    monitor = MONITORS["redis"]
    first = await check_with_defaults(monitor, {"url": fresh_redis.url}, monitor.default_timeout_s)
    target = Target("redis", None, {"url": fresh_redis.url}, frozenset(), first.details)
    async with BatchResources() as resources:
        raw = await run_check(monitor, target, resources, Tier.CRITICAL, RunPolicy(timeout_s=2.5))
    second = evaluate(raw, defaults_for("redis"))
    for result in (first, second):
        assert result.status is Status.HEALTHY, result.details
        assert "breaches" not in result.details
    assert second.details["evicted_keys_delta"] == 0 and second.details["rejected_connections_delta"] == 0


async def test_redis_evictions_are_degraded_by_default(small_redis: RedisServer) -> None:
    """A cache at its limit evicting keys: the eviction rule speaks beside the memory rules."""
    monitor = MONITORS["redis"]
    first = await check_with_defaults(monitor, {"url": small_redis.url}, monitor.default_timeout_s)
    client = aioredis.Redis.from_url(small_redis.url)
    try:
        value = b"x" * 10_000
        for start in range(0, 2_000, 100):
            async with client.pipeline(transaction=False) as pipe:
                for n in range(start, start + 100):
                    pipe.set(f"k{n}", value)
                await pipe.execute()
        assert int((await client.info("stats"))["evicted_keys"]) > 0
    finally:
        await client.aclose()
    target = Target("redis", None, {"url": small_redis.url}, frozenset(), first.details)
    async with BatchResources() as resources:
        raw = await run_check(monitor, target, resources, Tier.CRITICAL, RunPolicy(timeout_s=2.5))
    result = evaluate(raw, defaults_for("redis"))
    breaches = {b["metric"]: b["level"] for b in result.details["breaches"]}
    assert breaches.get("evicted_keys_delta") == "degraded", result.details
    assert result.status is not Status.HEALTHY and result.details["reason"]


def test_absent_or_null_metrics_give_no_verdict() -> None:
    """Rules on metrics a check may not report (no pool, first run, a page of no events)."""
    for service in MONITORS:
        rules = defaults_for(service)
        bare = CheckResult(service, None, MONITORS[service].tier, Status.HEALTHY, None, {}, datetime.now(UTC))
        nulls = bare.with_status(Status.HEALTHY, **{metric: None for metric in rules})
        for result in (bare, nulls):
            judged = evaluate(result, rules)
            assert judged.status is Status.HEALTHY and "breaches" not in judged.details, service


# -- docs/monitors.md "Default rules" is exact ---------------------------------------------------

_BOUND = re.compile(r"(degraded|unhealthy) (≥|≤) (-?[\d.]+)")


@dataclass(frozen=True)
class DocRow:
    service: str
    metric: str
    rule: ThresholdRule | None  # None: informational, or the monitor decides
    text: str


def doc_rows() -> list[DocRow]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Default rules", 1)[1].split("\n## ", 1)[0]
    rows: list[DocRow] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[1].startswith("`"):
            continue
        service, metrics, rule_text = cells[0], cells[1], cells[2]
        bounds = _BOUND.findall(rule_text)
        rule = None
        if bounds:
            values = {level: float(value) for level, _sign, value in bounds}
            inverse = {sign for _level, sign, _value in bounds} == {"≤"}
            rule = ThresholdRule(metric="x", inverse=inverse, **values)
        else:
            assert rule_text.startswith(("informational", "monitor decides")), line
        for metric in re.findall(r"`([a-z_]+)`", metrics):
            named = None if rule is None else rule.model_copy(update={"metric": metric})
            rows.append(DocRow(service, metric, named, rule_text))
    return rows


def documented(service: str, metric: str, rows: list[DocRow]) -> DocRow | None:
    own = [r for r in rows if r.service == service and r.metric == metric]
    shared = [r for r in rows if r.service == "any" and r.metric == metric]
    assert len(own) <= 1 and len(shared) <= 1, (service, metric)
    found = own or shared
    return found[0] if found else None


def test_docs_name_every_metric_with_its_default_rule() -> None:
    rows = doc_rows()
    assert {r.service for r in rows} <= {"any", *MONITORS}
    for service, monitor in MONITORS.items():
        rules = defaults_for(service)
        for metric in sorted(
            {"latency_ms", *monitor.metrics, *(r.metric for r in DEFAULT_RULES.get(service, ()))}
        ):
            row = documented(service, metric, rows)
            assert row is not None, f"docs/monitors.md: no default-rule row for {service} {metric}"
            assert row.rule == rules.get(metric), f"{service} {metric}: docs say {row.text!r}"


def test_docs_rules_are_the_built_in_ones() -> None:
    common = {r.metric: r for r in COMMON_RULES}
    for row in doc_rows():
        if row.service == "any":
            assert row.rule == common.get(row.metric), row
        else:
            assert row.rule == defaults_for(row.service).get(row.metric), row


def test_every_service_rule_is_on_a_metric_the_monitor_reports() -> None:
    # so that `PUT /api/thresholds/{service}/{metric}` accepts an override of it
    for service, rules in DEFAULT_RULES.items():
        assert {r.metric for r in rules} <= {"latency_ms", *MONITORS[service].metrics}, service
