"""The tier-check flow: the pipeline's steps as Prefect tasks, a report for the Prefect UI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.states import Completed

from healthmon.flows.alerts import AlertSummary, alert_step, deliver_pending
from healthmon.flows.pipeline import BatchSummary, Plan, check_batch, execute_tier, plan_tier_async
from healthmon.flows.report import publish_report
from healthmon.monitors.result import Tier
from healthmon.storage.tier_runs import MANUAL, SCHEDULE

# cache_policy=NONE: a repeated identical call must check again, never be a cache hit
plan_task = task(name="plan", cache_policy=NONE, persist_result=False)(plan_tier_async)
check_batch_task = task(name="check-batch", cache_policy=NONE, persist_result=False)(check_batch)
alert_task = task(name="alert", cache_policy=NONE, persist_result=False)(alert_step)


async def _alert(tier: str, run_id: str) -> AlertSummary:
    return await alert_task.with_options(task_run_name=f"alert {tier}")(tier, run_id)


async def _plan(
    tier: str, services: list[str] | None, tenant: str | None, force: bool, interval_scale: float
) -> Plan:
    named = plan_task.with_options(task_run_name=f"plan {tier}")
    return await named(tier, services, tenant, force, interval_scale)


async def _check(
    tier: str, service: str, tenant_ids: list[str | None], run_id: str, number: int, deadline_epoch: float
) -> BatchSummary:
    named = check_batch_task.with_options(task_run_name=f"{tier}/{service} batch {number}")
    return await named(tier, service, tenant_ids, run_id, number, deadline_epoch)


def _flow_run_name() -> str:
    tier = flow_run.parameters.get("tier", "?")
    return f"{tier} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z"


def _trigger() -> str:
    """Scheduled when Prefect's scheduler made the run; anything else (the UI's Run button,
    `prefect deployment run`, a direct call) was started by hand."""
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    return SCHEDULE if run is not None and run.auto_scheduled else MANUAL


@flow(name="tier-check", flow_run_name=_flow_run_name, log_prints=False, persist_result=False)
async def tier_check(
    tier: str,
    services: list[str] | None = None,
    tenant: str | None = None,
    force: bool = False,
    trigger: str | None = None,
    interval_scale: float = 1.0,
) -> Any:
    """Check one tier: every monitor of it, every tenant that has the integration.

    `trigger` is read from the run itself unless given: a run started by hand checks every
    target; a scheduled one skips what a scheduled run checked moments ago. `interval_scale`
    is what `healthmon serve --interval-scale` served the schedules with.

    It ends in a Completed state whose message is the run's one-line summary; a direct call
    (`await tier_check(...)`) gets that state's data, the summary as a dict."""
    Tier(tier)  # a bad tier name fails the run before anything is written
    summary = await execute_tier(
        tier,
        services,
        tenant,
        force,
        trigger or _trigger(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
        interval_scale=interval_scale,
        plan_step=_plan,
        check_step=_check,
        alert_step=_alert,
    )
    line = summary.line()
    get_run_logger().info("%s: %s", tier, line)
    await publish_report(summary.tier, summary.report, line)
    return Completed(message=line, data={k: v for k, v in summary.as_dict().items() if k != "report"})


@flow(name="deliver-notifications", log_prints=False, persist_result=False)
async def deliver_notifications(ignore_backoff: bool = False) -> dict[str, int]:
    """Retry notifications whose channel failed, with backoff; runs every minute when served."""
    report = await deliver_pending(ignore_backoff)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
