"""Housekeeping flows: history and alert retention."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from prefect import flow

from healthmon.flows.app import hosted_app
from healthmon.storage.retention import apply_retention


@flow(name="retention", log_prints=False, persist_result=False)
async def retention() -> dict[str, Any]:
    """Partitions a week ahead; history older than retention.history_days dropped by whole
    partitions (PostgreSQL) or deleted in batches (SQLite), and rows dated outside the kept
    range either way deleted; resolved alerts older than retention.alerts_days deleted with
    their deliveries. Returns the RetentionReport as a dict: `history_rows_deleted` counts
    every history row removed (`future_rows_deleted` of them dated after the range)."""
    app = hosted_app()
    cfg = app.config.retention
    report = await asyncio.to_thread(apply_retention, app.engine, cfg.history_days, cfg.alerts_days)
    return asdict(report)
