"""The tier-check flow: the pipeline (flows/pipeline.py) with its steps as Prefect tasks, and a
report for the Prefect UI; the delivery-retry flow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.states import Completed

from healthmon.flows.alerts import Alerted, alert_run, deliver_pending
from healthmon.flows.app import hosted_app
from healthmon.flows.pipeline import BatchSummary, DirectSteps, Plan, check_batch, run_tier
from healthmon.flows.refs import BatchRef, RunRef, TierRequest
from healthmon.flows.report import publish_report
from healthmon.monitors.result import Tier
from healthmon.storage.tier_runs import MANUAL, SCHEDULE


# cache_policy=NONE: a repeated identical call must check again, never be a cache hit.
# Each task looks up the process's App once, at its boundary, and passes it down.
@task(name="plan", cache_policy=NONE, persist_result=False, task_run_name="plan {run.tier}")
async def plan_task(request: TierRequest, run: RunRef) -> Plan:
    return await DirectSteps(hosted_app()).plan(request, run)


@task(
    name="check-batch",
    cache_policy=NONE,
    persist_result=False,
    task_run_name="{batch.run.tier}/{batch.service} batch {batch.number}",
)
async def check_batch_task(batch: BatchRef) -> BatchSummary:
    return await check_batch(hosted_app(), batch)


@task(name="alert", cache_policy=NONE, persist_result=False, task_run_name="alert {run.tier}")
async def alert_task(run: RunRef) -> Alerted:
    return await alert_run(hosted_app(), run)


class PrefectSteps:
    """The pipeline's steps as this flow run's tasks."""

    async def plan(self, request: TierRequest, run: RunRef) -> Plan:
        return await plan_task(request, run)

    async def check(self, batch: BatchRef) -> BatchSummary:
        return await check_batch_task(batch)

    async def alert(self, run: RunRef) -> Alerted:
        return await alert_task(run)


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
    tier: Tier,
    services: list[str] | None = None,
    tenant: str | None = None,
    force: bool = False,
    trigger: str | None = None,
    interval_scale: float = 1.0,
) -> Any:
    """Check one tier: every monitor of it, every tenant that has the integration.

    `trigger` is read from the run itself unless given: a run started by hand checks every
    target; a scheduled one skips what a scheduled run checked moments ago. `interval_scale`
    is what `healthmon serve --interval-scale` served the schedules with. A tier Prefect cannot
    read as one fails the run before anything is written.

    It ends in a Completed state whose message is the run's one-line summary; a direct call
    (`await tier_check(...)`) gets that state's data, the summary as a dict."""
    request = TierRequest(
        tier,
        tuple(services) if services else None,
        tenant,
        force,
        trigger or _trigger(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
        interval_scale=interval_scale,
    )
    summary = await run_tier(hosted_app(), request, PrefectSteps())
    line = summary.line()
    get_run_logger().info("%s: %s", tier, line)
    await publish_report(summary.tier, summary.report, line)
    return Completed(message=line, data={k: v for k, v in summary.as_dict().items() if k != "report"})


@flow(name="deliver-notifications", log_prints=False, persist_result=False)
async def deliver_notifications(ignore_backoff: bool = False) -> dict[str, int]:
    """Retry notifications whose channel failed, with backoff; runs every minute when served."""
    report = await deliver_pending(hosted_app(), ignore_backoff)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
