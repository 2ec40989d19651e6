"""Reading a flow run's log lines back from the Prefect API."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId


async def log_lines(client: PrefectClient, run_id: UUID, wanted: str, timeout_s: float = 30.0) -> list[str]:
    """The run's log lines once one contains `wanted` (logs reach the API in batches)."""
    by_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [log.message for log in await client.read_logs(log_filter=by_run)]
        if any(wanted in line for line in lines):
            return lines
        assert time.monotonic() < deadline, f"no log line with {wanted!r} in {lines}"
        await asyncio.sleep(0.2)
