"""Replaying a threshold rule: the pure lifecycle walk, the store's judging against
alerting.thresholds (both backends), and a replay of the live rule reproducing what real tier
runs against the sandbox opened and resolved."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.replay import Counts, replay_target
from healthmon.alerting.thresholds import ThresholdRule, defaults_for, evaluate, merge_rules
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.flows.replay import preview
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status, Tier
from healthmon.sandbox import RunningSandbox, SandboxState, start_in_thread, write_bed
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from healthmon.storage.replay import Bounds, ReplayQuery, RulePair, judged_history, scale
from healthmon.storage.results import record_results
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import AppFactory
from tests.support.sandbox_state import fresh_state

POLICY = AlertPolicy()
T0 = 1_800_000_000.0
STEP = 60.0


def walk(statuses: str, step: float = STEP, cap_s: float = 120.0, **policy: int | float) -> Counts:
    times = [T0 + i * step for i in range(len(statuses))]
    return replay_target(times, statuses, AlertPolicy(**policy), times[-1] + step, cap_s)  # type: ignore[arg-type]


# -- the lifecycle walk -------------------------------------------------------------------------

# ranks: 0 healthy, 1 unknown, 2 degraded, 3 unhealthy
WALKS: list[tuple[str, str, int, int]] = [
    ("one bad result opens nothing", "0030000", 0, 0),
    ("two in a row open, two healthy resolve", "0033000", 1, 1),
    ("one healthy result does not resolve", "0033033", 1, 0),
    ("a change of bad status restarts the streak", "03232", 0, 0),
    ("unknown counts as not healthy", "110000", 1, 1),
    ("degraded then unhealthy keeps one alert", "22333300", 1, 1),
    ("two episodes, two alerts", "3300330000", 2, 2),
    ("still open at the end", "000333", 1, 0),
]


@pytest.mark.parametrize(
    ("statuses", "opened", "resolved"), [w[1:] for w in WALKS], ids=[w[0] for w in WALKS]
)
def test_open_after_and_resolve_after_as_live(statuses: str, opened: int, resolved: int) -> None:
    walked = walk(statuses)
    assert (walked.alerts, walked.resolved) == (opened, resolved)


def test_the_confirmation_counts_come_from_the_policy() -> None:
    assert walk("0330000", open_after=3).alerts == 0
    assert walk("0333000", open_after=3, resolve_after=4).resolved == 0
    assert walk("03330000", open_after=3, resolve_after=4).resolved == 1


def test_flapping_opens_at_once_and_holds_the_resolve_until_the_window_empties() -> None:
    # every result a change: the 6th change (the 7th result) flaps, so a single bad result opens
    flapping = "0202020" + "3" + "000"
    # at 60 s a result, the window of 600 s opened by the first change still holds 6 changes
    walked = walk(flapping, flap_window_s=600.0)
    assert walked.alerts == 1
    # the healthy run after it resolves only once a result falls past the window: the window
    # opened at the first change (t = 60 s), so the first result after 660 s
    assert walked.resolved == 0
    assert walk(flapping + "0", flap_window_s=600.0).resolved == 0  # t = 660: not past it
    assert walk(flapping + "00", flap_window_s=600.0).resolved == 1
    # with a short window the changes never add up to 6: the single bad result opens nothing
    assert walk(flapping, flap_window_s=120.0).alerts == 0


def test_time_degraded_and_unhealthy_until_the_next_result_capped() -> None:
    walked = walk("0223000", step=60.0, cap_s=1000.0)
    assert (walked.degraded_s, walked.unhealthy_s) == (120.0, 60.0)
    # a gap past the staleness bound counts only up to it (no data beyond)
    times = [T0, T0 + 60, T0 + 4000, T0 + 4060]
    gapped = replay_target(times, "0200", POLICY, T0 + 4120, 300.0)
    assert gapped.degraded_s == 300.0
    # the last result stands until the window's end, capped too
    assert replay_target([T0], "3", POLICY, T0 + 90, 300.0).unhealthy_s == 90.0


# -- the store's judging, held to alerting.thresholds --------------------------------------------

RULES = [
    ThresholdRule(metric="m", degraded=10, unhealthy=20),
    ThresholdRule(metric="m", degraded=10),
    ThresholdRule(metric="m", unhealthy=20),
    ThresholdRule(metric="m", degraded=20, unhealthy=20),
    ThresholdRule(metric="m", degraded=7, unhealthy=1, inverse=True),
    ThresholdRule(metric="m", degraded=0, inverse=True),
]
VALUES = [-5.0, 0.0, 0.5, 1.0, 6.9, 7.0, 7.1, 10.0, 15.0, 20.0, 25.0]


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_scale_judges_as_the_rule_does(rule: ThresholdRule) -> None:
    steps = scale(Bounds(rule.degraded, rule.unhealthy, rule.inverse))
    for value in VALUES:
        assert steps.rank(value) == rule.judge(value).rank, value
    assert steps.rank(None) == 0


SERVICE = "shopify"
METRIC = "rate_limit_remaining_pct"
THEN = merge_rules(defaults_for(SERVICE).values())
OWN = [
    (Status.HEALTHY, None),
    (Status.DEGRADED, "HTTP 429"),
    (Status.UNHEALTHY, "timeout"),
    (Status.UNKNOWN, "monitor error: boom"),
]


def _raw(rng: random.Random, tenant: str, at: datetime) -> CheckResult:
    status, reason = rng.choice(OWN) if rng.random() < 0.3 else OWN[0]
    details: dict[str, object] = {"http_status": 200}
    if reason:
        details["reason"] = reason
    if rng.random() < 0.9:
        details[METRIC] = rng.choice([1.0, 4.0, 5.0, 12.0, 20.0, 35.0, 80.0])
    latency = rng.choice([None, 150.0, 2500.0, 12000.0])
    return CheckResult(SERVICE, tenant, Tier.CORE, status, latency, details, at)


def _ambiguous(raw: CheckResult, recorded: CheckResult) -> bool:
    """The one case history cannot tell apart (storage/replay.py): the metric decided the status
    and the monitor's own verdict, worse than healthy but better than that, lost its reason."""
    breach = next((b for b in recorded.details.get("breaches", []) if b["metric"] == METRIC), None)
    return (
        breach is not None
        and Status(breach["level"]) is recorded.status
        and raw.status not in (Status.HEALTHY, recorded.status)
    )


@pytest.mark.parametrize(
    ("current", "proposed"),
    [
        (Bounds(20, 5, True), Bounds(40, 10, True)),
        (Bounds(20, 5, True), Bounds(None, 2, True)),
        (Bounds(20, 5, True), Bounds(30, None, False)),  # the other direction
    ],
)
def test_the_store_judges_as_evaluate_would(db_url: str, current: Bounds, proposed: Bounds) -> None:
    """Results recorded as a tier run records them (evaluated under the defaults), then judged by
    the store under two other rules of one metric: each rank is the status evaluate gives the raw
    result under the rules with that metric's rule replaced."""
    rng = random.Random(13)
    engine = make_engine(db_url)
    now = datetime.now(UTC).replace(microsecond=0)
    raws = [_raw(rng, f"t{n}", now - timedelta(minutes=5 * step)) for step in range(1, 40) for n in range(3)]
    recorded = [evaluate(r, THEN) for r in raws]
    record_results(engine, recorded, run_id=None)
    expected: dict[tuple[str, float], tuple[int, int]] = {}
    for raw, rec in zip(raws, recorded, strict=True):
        if _ambiguous(raw, rec):
            continue
        ranks = tuple(
            evaluate(raw, {**THEN, METRIC: ThresholdRule(metric=METRIC, **b._asdict())}).status.rank
            for b in (current, proposed)
        )
        expected[(str(raw.tenant_id), raw.checked_at.timestamp())] = ranks  # type: ignore[assignment]
    assert len(expected) > 0.8 * len(raws)
    query = ReplayQuery(SERVICE, METRIC, now - timedelta(days=30), now, RulePair(current, proposed))
    judged = {
        (str(t.tenant_id), at): (int(c), int(p))
        for t in judged_history(engine, query)
        for at, c, p in zip(t.times, t.current, t.proposed, strict=True)
    }
    for key, ranks in expected.items():
        # a target healthy throughout under both rules is left out of the answer
        assert judged.get(key, (0, 0)) == ranks, key
    engine.dispose()


def test_a_tenant_override_decides_for_its_tenant(db_url: str) -> None:
    engine = make_engine(db_url)
    now = datetime.now(UTC).replace(microsecond=0)
    results = [
        evaluate(
            CheckResult(
                SERVICE, t, Tier.CORE, Status.HEALTHY, 100.0, {METRIC: 15.0}, now - timedelta(minutes=m)
            ),
            THEN,
        )
        for t in ("a", "b")
        for m in (10, 5)
    ]
    record_results(engine, results, run_id=None)
    rules = RulePair(Bounds(20, 5, True), Bounds(10, 5, True))
    own = {"b": RulePair(Bounds(30, 5, True), Bounds(30, 5, True))}
    query = ReplayQuery(SERVICE, METRIC, now - timedelta(days=1), now, rules, per_tenant=own)
    tracks = {t.tenant_id: (t.current, t.proposed) for t in judged_history(engine, query)}
    # a: degraded now (15 <= 20), healthy under the proposed 10; b keeps its own rule
    assert tracks == {"a": ("22", "00"), "b": ("22", "22")}
    only_b = ReplayQuery(SERVICE, METRIC, now - timedelta(days=1), now, rules, tenant="b")
    assert [t.tenant_id for t in judged_history(engine, only_b)] == ["b"]
    engine.dispose()


# -- the live rule, replayed over real tier runs ---------------------------------------------------


@pytest.fixture(scope="module")
def vendors() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(60)) as sandbox:
        yield sandbox


@pytest.fixture
def state(vendors: RunningSandbox) -> Iterator[SandboxState]:
    yield from fresh_state(vendors)


#: per run, the faults in force: tenant-0001's token revoked (the monitor says unhealthy),
#: tenant-0002 near its rate limit (the threshold says it), tenant-0003 near it for one run
RUNS: list[dict[str, tuple[str, dict[str, Any]]]] = [
    {"tenant-0001": ("revoked", {})},
    {"tenant-0001": ("revoked", {}), "tenant-0002": ("near_limit", {"pct": 97.0})},
    {
        "tenant-0001": ("revoked", {}),
        "tenant-0002": ("near_limit", {"pct": 97.0}),
        "tenant-0003": ("near_limit", {"pct": 97.0}),
    },
    {"tenant-0002": ("near_limit", {"pct": 97.0})},
    {"tenant-0002": ("near_limit", {"pct": 90.0})},
    {"tenant-0002": ("near_limit", {"pct": 90.0})},
    {},
    {},
]


async def test_replaying_the_live_rule_reproduces_what_the_runs_opened(
    db_url: str, vendors: RunningSandbox, state: SandboxState, tmp_path: Path, make_app: AppFactory
) -> None:
    config_path, tenants_path = write_bed(tmp_path, vendors.base_url, state)
    services = yaml.safe_load(config_path.read_text())["services"]
    runtime = make_app(db_url, {"services": {"shopify": services["shopify"]}, "run": {"confirm_retries": 0}})
    assert runtime.cipher is not None
    upsert_tenants(runtime.engine, runtime.cipher, read_tenants_file(tenants_path, env={}))
    for faults in RUNS:
        state.clear_faults()
        for tenant, (kind, params) in faults.items():
            state.add_fault("shopify", kind, tenant=tenant, **params)
        await run_tier(runtime, TierRequest(Tier.CORE, services=("shopify",), force=True))
    alerts = [a for a in store.list_alerts(runtime.engine) if a["condition"] == "health"]
    opened = {a["tenant_id"] for a in alerts}
    resolved = [a for a in alerts if a["status"] == "resolved"]
    assert opened == {"tenant-0001", "tenant-0002"}  # tenant-0003's one bad run opened nothing

    live_rule = runtime.rules_for("shopify")[METRIC]
    later = datetime.now(UTC) + timedelta(seconds=1)
    same = preview(runtime, "shopify", live_rule, now=later)
    assert same.current == same.proposed
    assert (same.current.alerts, same.current.resolved, same.current.tenants) == (
        len(alerts),
        len(resolved),
        len(opened),
    )
    assert same.current.unhealthy_s > 0 and same.current.degraded_s > 0

    # a rule that 3 % headroom does not breach: only the revoked token would have alerted
    looser = ThresholdRule(metric=METRIC, degraded=2, unhealthy=1, inverse=True)
    replayed = preview(runtime, "shopify", looser, now=later)
    assert replayed.current == same.current
    assert (replayed.proposed.alerts, replayed.proposed.tenants) == (1, 1)
    assert replayed.proposed.degraded_s == 0
    # one tenant's override replays that tenant only
    mine = preview(runtime, "shopify", looser, tenant="tenant-0002", now=later)
    assert (mine.current.alerts, mine.proposed.alerts) == (1, 0)
    assert MONITORS["shopify"].per_tenant
