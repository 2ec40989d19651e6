"""Housekeeping flows: history and alert retention, and the hourly uptime rollup's catch-up."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from prefect import flow

from healthmon.flows.app import hosted_app
from healthmon.flows.run_names import RETENTION, this_run_name
from healthmon.monitors.registry import MONITORS
from healthmon.storage.retention import apply_retention
from healthmon.storage.uptime_hours import roll_up


def _run_name() -> str:
    """The run's name, e.g. "retention 2026-12-01" (flows/run_names.py)."""
    return this_run_name(RETENTION)


@flow(name="retention", flow_run_name=_run_name, log_prints=False, persist_result=False)
async def retention() -> dict[str, Any]:
    """Partitions a week ahead; history older than retention.history_days dropped by whole
    partitions (PostgreSQL) or deleted in batches (SQLite), and rows dated outside the kept
    range either way deleted; resolved alerts older than retention.alerts_days deleted with
    their deliveries. Then every complete hour of history not yet in the uptime rollup is
    rolled up (reads roll up only a share of what they miss, so this keeps 30-day figures
    fast). Returns the RetentionReport as a dict: `history_rows_deleted` counts every history
    row removed (`future_rows_deleted` of them dated after the range), and `uptime_hours_rolled`."""
    app = hosted_app()
    cfg = app.config.retention
    report = await asyncio.to_thread(apply_retention, app.engine, cfg.history_days, cfg.alerts_days)
    rolled = await asyncio.to_thread(
        roll_up, app.engine, sorted(MONITORS), datetime.now(UTC), app.config.watchdog.stale_after
    )
    return {**asdict(report), "uptime_hours_rolled": rolled}
