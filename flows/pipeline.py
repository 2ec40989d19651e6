"""One tier run: plan -> check -> alert -> report, free of Prefect.

`run_tier` is the pipeline; its steps come as one `Steps`, chosen once by the caller:
`DirectSteps` calls them here (`healthmon check` without a Prefect API: importing Prefect
alone costs ~2 s), flows/tier_run.py's steps run them as Prefect tasks. A check step is
handed a `BatchRef` (ids and counts only): it loads its targets' settings and credentials
itself, checks the batch concurrently, evaluates and records it in bulk, and returns counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from healthmon.alerting.thresholds import ThresholdRule, evaluate, merge_rules
from healthmon.flows.alerts import Alerted, AlertSummary, alert_run
from healthmon.flows.app import App
from healthmon.flows.refs import BatchRef, RunRef, TierRequest
from healthmon.flows.report import RunReport, build_report
from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.redaction import secrets_of
from healthmon.monitors.registry import MONITORS, monitors_for_tier
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import TIERS, CheckResult, Outcome, Status, Tier
from healthmon.monitors.runner import run_batch
from healthmon.storage.cache import CHANGES_CHANNEL
from healthmon.storage.crypto import CredentialError
from healthmon.storage.queries import invalidate_views
from healthmon.storage.results import record_results
from healthmon.storage.status import cache_entries, checked_by_schedule_since, load_latest
from healthmon.storage.tenants import load_integration, tenants_with
from healthmon.storage.thresholds import load_overrides
from healthmon.storage.tier_runs import finish_run, start_run
from healthmon.storage.types import tenant_key

log = logging.getLogger("healthmon.tier")

#: a target checked less than this share of the interval ago is skipped by a non-forced run;
#: the slack keeps a run that starts a little early from skipping everything
SKIP_WITHIN_SHARE = 0.75
#: share of the tier deadline given to checks; the rest is kept for recording and reporting
CHECK_SHARE_OF_DEADLINE = 0.8


@dataclass(frozen=True)
class Plan:
    batches: tuple[BatchRef, ...]
    targets: int
    skipped: int
    #: why targets were skipped, for the run's report (None when none were)
    skip_reason: str | None = None

    @property
    def services(self) -> set[str]:
        return {b.service for b in self.batches}


@dataclass(frozen=True)
class BatchSummary:
    service: str
    number: int
    checked: int
    not_healthy: int


@dataclass
class TierSummary:
    run_id: str
    tier: str
    trigger: str
    targets: int
    checked: int
    skipped: int
    not_healthy: int
    duration_s: float
    skip_reason: str | None = None
    alerts: AlertSummary = field(default_factory=AlertSummary)
    report: RunReport = field(default_factory=RunReport)

    @property
    def notifications(self) -> int:
        return self.alerts.notifications

    def line(self) -> str:
        """One line for the run's state message and log: what it checked, skipped and found
        (not healthy counts the tier's current state, whichever run found it)."""
        skipped = f"skipped {self.skipped}" + (f" ({self.skip_reason})" if self.skip_reason else "")
        parts = [
            f"checked {self.checked}",
            skipped,
            f"{len(self.report.not_healthy)} not healthy",
        ]
        if self.report.stale:
            parts.append(f"{self.report.stale} stale")
        parts += [
            f"{self.alerts.opened} alerts opened",
            f"{self.alerts.resolved} resolved",
            f"{self.alerts.notifications} notifications queued",
        ]
        return " · ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["report"] = self.report.as_dict()
        data["notifications"] = self.notifications
        return data


def _selected(app: App, tier: Tier, services: Sequence[str] | None) -> list[Monitor]:
    if services:
        return [m for m in monitors_for_tier(tier) if m.service in services]
    return [MONITORS[name] for name in app.scheduled_services(tier)]


def plan_tier(app: App, request: TierRequest, run: RunRef) -> Plan:
    """The run's batches. A scheduled (not forced) run skips targets that a scheduled run of
    this tier checked within SKIP_WITHIN_SHARE of the served interval: a duplicate scheduled
    run. A result of a manual run never counts here, so it never pushes a scheduled check later."""
    spec = TIERS[request.tier]
    batch_size = app.config.run.batch_size
    window_s = spec.interval_s * request.interval_scale * SKIP_WITHIN_SHARE
    cutoff = datetime.now(UTC) - timedelta(seconds=window_s)
    batches: list[BatchRef] = []
    targets = skipped = 0
    for monitor in _selected(app, request.tier, request.services):
        if monitor.per_tenant:
            ids: list[str | None] = list(tenants_with(app.engine, monitor.service))
            if request.tenant is not None:
                ids = [t for t in ids if t == request.tenant]
        else:
            ids = [None]
        targets += len(ids)
        if not request.forced:
            fresh = checked_by_schedule_since(
                app.engine, monitor.service, request.tier, cutoff, spec.deadline_s
            )
            kept = [t for t in ids if t not in fresh]
            skipped += len(ids) - len(kept)
            ids = kept
        for number, start in enumerate(range(0, len(ids), batch_size), start=1):
            batches.append(BatchRef(run, monitor.service, number, tuple(ids[start : start + batch_size])))
    reason = f"checked by a scheduled run in the last {window_s:.0f} s" if skipped else None
    return Plan(tuple(batches), targets, skipped, reason)


def _targets(
    app: App, monitor: Monitor, tenant_ids: Sequence[str | None], tier: Tier
) -> tuple[list[Target], list[CheckResult]]:
    """Settings and decrypted credentials per target, loaded here and never passed around."""
    options = app.service_options(monitor.service)
    previous = load_latest(app.engine, [monitor.service], tenant_ids) if monitor.uses_previous else {}
    targets: list[Target] = []
    failed: list[CheckResult] = []
    if not monitor.per_tenant:
        prev = previous.get((monitor.service, None))
        targets.append(
            Target(monitor.service, None, options, secrets_of(options), prev.details if prev else {})
        )
        return targets, failed
    ids = [t for t in tenant_ids if t is not None]
    try:
        if app.cipher is None:
            raise CredentialError("HEALTHMON_SECRET_KEY is not set, tenant credentials cannot be read")
        loaded = load_integration(app.engine, app.cipher, monitor.service, ids)
    except CredentialError as exc:
        outcome = Outcome.unknown(str(exc), error="credentials")
        now = datetime.now(UTC)
        failed = [
            CheckResult(monitor.service, t, tier, outcome.status, None, dict(outcome.details), now)
            for t in ids
        ]
        return targets, failed
    service_secrets = secrets_of(options)
    for tenant_id in ids:
        tenant_settings = loaded.get(tenant_id, {})
        settings = {**options, **tenant_settings}
        prev = previous.get((monitor.service, tenant_id))
        targets.append(
            Target(
                monitor.service,
                tenant_id,
                settings,
                service_secrets | secrets_of(tenant_settings),
                prev.details if prev else {},
            )
        )
    return targets, failed


def _rules(
    app: App, service: str, tenant_ids: Sequence[str | None]
) -> dict[str, dict[str, ThresholdRule]]:
    """Effective rules per tenant key: defaults < config < service-wide table rows < tenant rows.
    Tenants without rows of their own share one mapping (a batch's rules are not per-check
    objects: most tenants override nothing)."""
    overrides = load_overrides(app.engine, service, tenant_ids)
    base = merge_rules(
        app.rules_for(service).values(), [ThresholdRule(**r) for r in overrides.get("", [])]
    )
    rules: dict[str, dict[str, ThresholdRule]] = {}
    for t in tenant_ids:
        key = tenant_key(t)
        own = overrides.get(key) if key else None
        rules[key] = merge_rules(base.values(), [ThresholdRule(**r) for r in own]) if own else base
    return rules


def record_batch(
    app: App, results: list[CheckResult], run_id: str, ttl_s: int, once_key: str | None = None
) -> int:
    """Record a batch's results: history and latest status, the cache, the views; one call per
    batch (the check step's, or the flow process's for a batch whose worker was lost). With
    `once_key` a target the run already recorded is left out (`record_results`). Returns how
    many were recorded."""
    # what was recorded: a result from a clock running ahead is recorded at the store's time
    recorded = record_results(app.engine, results, run_id, app.config.alerting.flap_window_s, once_key)
    if recorded:
        app.cache.set_many(cache_entries(recorded), ttl_s)
        invalidate_views(app.cache)
    return len(recorded)


def once_key(batch: BatchRef) -> str:
    """What the recorders of one batch of one run share (`record_results`' `once_key`)."""
    return f"{batch.run.run_id}/{batch.service}/{batch.number}"


async def check_batch(app: App, batch: BatchRef, once: bool = False) -> BatchSummary:
    """Check and record the batch. With `once` (a batch that another process may record as
    lost meanwhile: flows/dispatch.py) a target the run already recorded is not recorded again."""
    monitor = MONITORS[batch.service]
    tier = batch.run.tier
    targets, failed = await asyncio.to_thread(_targets, app, monitor, batch.tenant_ids, tier)
    deadline = time.monotonic() + (batch.run.checks_end_at - time.time())
    run = app.config.run
    in_flight = min(len(targets), run.max_in_flight_per_service, run.batch_in_flight)
    async with BatchResources(http_limit=max(1, in_flight), session=app.shared_http()) as resources:
        checked = await run_batch(
            monitor,
            targets,
            resources,
            tier,
            app.policy(batch.service),
            deadline,
            upstream=app.upstream_gate(batch.service),
        )
    rules = await asyncio.to_thread(_rules, app, batch.service, batch.tenant_ids)
    results = [evaluate(r, rules[tenant_key(r.tenant_id)]) for r in checked] + failed
    key = once_key(batch) if once else None
    await asyncio.to_thread(record_batch, app, results, batch.run.run_id, TIERS[tier].cache_ttl_s, key)
    return BatchSummary(
        batch.service, batch.number, len(results), sum(r.status is not Status.HEALTHY for r in results)
    )


class Steps(Protocol):
    """The three steps a tier run hands out; with Prefect each is a task (flows/tier_run.py)."""

    @property
    def processes(self) -> int:
        """Processes the check step spreads batches over (flows/dispatch.py), 1 for this one."""
        ...

    async def plan(self, request: TierRequest, run: RunRef) -> Plan: ...

    async def check(self, batch: BatchRef) -> BatchSummary: ...

    async def alert(self, run: RunRef) -> Alerted: ...


@dataclass(frozen=True)
class DirectSteps:
    """The steps as plain calls in this process, on `app`."""

    app: App

    @property
    def processes(self) -> int:
        return 1

    async def plan(self, request: TierRequest, run: RunRef) -> Plan:
        return await asyncio.to_thread(plan_tier, self.app, request, run)

    async def check(self, batch: BatchRef) -> BatchSummary:
        return await check_batch(self.app, batch)

    async def alert(self, run: RunRef) -> Alerted:
        return await alert_run(self.app, run)


async def run_tier(app: App, request: TierRequest, steps: Steps | None = None) -> TierSummary:
    """Run one tier: record the run, plan it, check its batches (at most
    `run.batches_per_service` of a service at once, sharing one HTTP session), alert on the
    results, report the tier's state, and record how it ended. Steps that spread batches over
    several processes get that many times as many batches of a service at once."""
    steps = steps or DirectSteps(app)
    spec = TIERS[request.tier]
    started = time.time()
    run = RunRef(
        str(uuid.uuid4()),
        request.tier,
        started + spec.deadline_s * CHECK_SHARE_OF_DEADLINE,
        request.interval_scale,
    )
    await asyncio.to_thread(
        start_run, app.engine, run.run_id, request.tier, request.trigger, request.flow_run_id
    )
    try:
        plan = await steps.plan(request, run)
        # each process gets as many batches of a service as one process would
        width = app.config.run.batches_per_service * steps.processes
        lanes = {s: asyncio.Semaphore(width) for s in plan.services}

        async def one(batch: BatchRef) -> BatchSummary:
            async with lanes[batch.service]:
                return await steps.check(batch)

        async with app.http_lease():
            summaries: list[BatchSummary] = list(await asyncio.gather(*(one(b) for b in plan.batches)))
        alerted = await steps.alert(run)
        state = alerted.state
        report = build_report(
            state.rows,
            run.run_id,
            state.read_at,
            app.config.watchdog.stale_after,
            run.interval_scale,
            checked=sum(s.checked for s in summaries),
            skipped=plan.skipped,
            alerts=alerted.summary,
            tenant_names=state.tenant_names,
            dashboard_url=app.alerting.dashboard_url,
        )
        if report.changes:
            stamp = {"tier": request.tier.value, "run_id": run.run_id, "at": datetime.now(UTC).isoformat()}
            await asyncio.to_thread(
                app.cache.publish, CHANGES_CHANNEL, [{**asdict(c), **stamp} for c in report.changes]
            )
    except BaseException as exc:
        await asyncio.to_thread(
            finish_run,
            app.engine,
            run.run_id,
            state="failed",
            targets=0,
            checked=0,
            skipped=0,
            not_healthy=0,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        raise
    summary = TierSummary(
        run_id=run.run_id,
        tier=request.tier.value,
        trigger=request.trigger,
        targets=plan.targets,
        skipped=plan.skipped,
        skip_reason=plan.skip_reason,
        checked=sum(s.checked for s in summaries),
        not_healthy=sum(s.not_healthy for s in summaries),
        duration_s=round(time.time() - started, 3),
        alerts=alerted.summary,
        report=report,
    )
    await asyncio.to_thread(
        finish_run,
        app.engine,
        run.run_id,
        state="completed",
        targets=summary.targets,
        checked=summary.checked,
        skipped=summary.skipped,
        not_healthy=summary.not_healthy,
    )
    if app.config.watchdog.heartbeat_url:
        await ping_heartbeat(app.config.watchdog.heartbeat_url)
    return summary


async def ping_heartbeat(url: str, timeout_s: float = 5.0) -> bool:
    """Tell an outside dead-man's switch that a tier run completed. A failing ping is logged
    (without the URL, which often holds a token) and never fails the run."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.get(url)
        if answer.status_code < 400:
            return True
        log.warning("heartbeat ping answered HTTP %s", answer.status_code)
    except httpx.HTTPError as exc:
        log.warning("heartbeat ping failed: %s", type(exc).__name__)
    return False
