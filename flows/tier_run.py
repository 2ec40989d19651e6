"""The tier-check flow: the pipeline (flows/pipeline.py) with its steps as Prefect tasks, and a
report for the Prefect UI; the delivery-retry flow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from prefect.states import Completed

from healthmon.alerting.channels.render import clip, one_line, tenant_label
from healthmon.alerting.delivery import DeliveryReport
from healthmon.flows.alerts import Alerted, alert_run, deliver_pending
from healthmon.flows.app import App, hosted_app
from healthmon.flows.event_loop import runs_flows_here, use_uvloop
from healthmon.flows.pipeline import BatchSummary, DirectSteps, Plan, Steps, check_batch, run_tier
from healthmon.flows.refs import BatchRef, RunRef, TierRequest
from healthmon.flows.report import StatusChange, publish_report
from healthmon.flows.run_names import DELIVER, scheduled_by_prefect, this_run_name
from healthmon.flows.superseded import superseded
from healthmon.monitors.result import Tier
from healthmon.storage.tier_runs import MANUAL, SCHEDULE

# a flow-run process checks on uvloop when installed (flows/event_loop.py): the loop's own work
# is a fifth of a tier run's CPU (docs/performance.md, "Where the CPU per check goes")
if runs_flows_here():
    use_uvloop()

#: status-change lines logged per run; a vendor outage at 1,000 tenants is one line more, not 1,000
MAX_CHANGE_LINES = 50
#: a reason in a log line is cut to this
REASON_CHARS = 300
#: how often a lingering deliver run looks for due notifications
DELIVERY_POLL_S = 5.0


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
    """The pipeline's steps as this flow run's tasks, in its own process."""

    @property
    def processes(self) -> int:
        return 1

    async def plan(self, request: TierRequest, run: RunRef) -> Plan:
        return await plan_task(request, run)

    async def check(self, batch: BatchRef) -> BatchSummary:
        return await check_batch_task(batch)

    async def alert(self, run: RunRef) -> Alerted:
        return await alert_task(run)


def _steps(app: App) -> Steps:
    """In this process unless `run.processes` or `run.dask_address` asks for workers; the
    Dask path is imported only then (prefect_dask and distributed: 0.4 CPU-s to import here)."""
    if app.config.run.spreads:
        from healthmon.flows.dispatch import DaskSteps

        return DaskSteps(app)
    return PrefectSteps()


def _flow_run_name() -> str:
    """The run's name, e.g. "core 2026-12-01 07:35Z", from its scheduled time (flows/run_names.py),
    or its start time and "(by hand)": the name the upcoming run already had."""
    tier = str(flow_run.parameters.get("tier", "?"))
    given = flow_run.parameters.get("trigger")
    return this_run_name(tier, by_hand=None if given is None else given == MANUAL)


def _trigger() -> str:
    """Scheduled when Prefect's scheduler made the run; anything else (the UI's Run button,
    `prefect deployment run`, a direct call) was started by hand."""
    return SCHEDULE if scheduled_by_prefect() else MANUAL


def change_lines(
    changes: Sequence[StatusChange], names: Mapping[str, str], most: int = MAX_CHANGE_LINES
) -> list[str]:
    """One log line per status change, "stripe (platform): healthy -> unhealthy: HTTP 503",
    "shopify Acme Shop (t-0042): degraded -> healthy"; after `most`, one line for the rest.
    Reasons are results' reasons, already free of secrets (monitors/runner.py)."""
    lines = []
    for change in changes[:most]:
        target = tenant_label(change.tenant, names) if change.tenant else "(platform)"
        why = f": {clip(one_line(change.reason), REASON_CHARS)}" if change.reason else ""
        lines.append(f"{change.service} {target}: {change.previous} -> {change.current}{why}")
    if len(changes) > most:
        lines.append(f"... and {len(changes) - most} more changes")
    return lines


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

    A scheduled run of a deployment that finds a newer scheduled run of it already due (a
    pile of late runs after a stall) ends at once in a Cancelled state named "Superseded",
    checking and recording nothing: only the newest due run checks.

    It ends in a Completed state whose message is the run's one-line summary, and logs that
    line and one line per status change; a direct call (`await tier_check(...)`) gets that
    state's data, the summary as a dict."""
    logger = get_run_logger()
    stale = await superseded(logger)
    if stale is not None:
        return stale
    request = TierRequest(
        tier,
        tuple(services) if services else None,
        tenant,
        force,
        trigger or _trigger(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
        interval_scale=interval_scale,
    )
    app = hosted_app()
    summary = await run_tier(app, request, _steps(app))
    line = summary.line()
    logger.info("%s: %s", tier, line)
    # the report step read the names of the tenants it lists (flows.alerts.read_run)
    for change in change_lines(summary.report.changes, summary.report.tenant_names):
        logger.info("%s", change)
    await publish_report(summary.tier, summary.report, line)
    return Completed(message=line, data={k: v for k, v in summary.as_dict().items() if k != "report"})


def delivery_lines(report: DeliveryReport) -> list[str]:
    """A line per channel that had something due ("slack: 3 sent · 1 retrying · 0 gave up"),
    then one per notification given up on. Errors are channels' reasons, scrubbed of their
    secrets where they are made (alerting/channels/failures.py)."""
    lines = [
        f"{name}: {c.delivered} sent · {c.retrying} retrying · {c.failed} gave up"
        + (f" · {c.skipped} follow-ups not sent (trigger never delivered)" if c.skipped else "")
        for name, c in sorted(report.channels.items())
    ]
    for g in report.gave_up[:MAX_CHANGE_LINES]:
        tries = f" after {g.attempts} attempts" if g.attempts else ""
        lines.append(
            f"gave up on notification {g.delivery_id} (alert #{g.alert_id}, {g.channel}, "
            f"{g.kind}){tries}: {clip(one_line(g.error), REASON_CHARS)}"
        )
    if len(report.gave_up) > MAX_CHANGE_LINES:
        lines.append(f"... and {len(report.gave_up) - MAX_CHANGE_LINES} more given up")
    return lines


def _deliver_run_name() -> str:
    return this_run_name(DELIVER)


@flow(name="deliver-notifications", flow_run_name=_deliver_run_name, log_prints=False, persist_result=False)
async def deliver_notifications(
    ignore_backoff: bool = False, linger_s: float = 0.0, poll_s: float = DELIVERY_POLL_S
) -> Any:
    """Send what is due: retries after backoff, and group notifications whose group_wait or
    group_interval ended. Served, it runs every minute and keeps delivering every `poll_s` for
    `linger_s` (most of that minute), so a group's first message goes out within a few seconds
    of its group_wait rather than at the next run.

    Logs per channel what it sent, retried and gave up, and each notification given up on;
    ends in a Completed state whose message is the totals (a direct call gets them as a dict)."""
    logger = get_run_logger()
    app = hosted_app()
    report = DeliveryReport()
    until = time.monotonic() + max(0.0, linger_s)
    while True:
        report.add(await deliver_pending(app, ignore_backoff))
        if time.monotonic() + poll_s > until:
            break
        await asyncio.sleep(poll_s)
    totals = {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
    line = (
        f"{report.delivered} sent · {report.retrying} retrying · {report.failed} gave up"
        if report.tried
        else "nothing due"
    )
    logger.info("deliver: %s", line)
    for detail in delivery_lines(report):
        logger.info("%s", detail)
    return Completed(message=line, data=totals)
