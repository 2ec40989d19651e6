"""What a `healthmon serve` (or the demo's) that did not stop cleanly (killed, or a second
Ctrl-C) left on its Prefect server, cleared before serving starts again.

Its flow runs still look Running and hold their deployment's one concurrency slot. The
server keeps the slots' leases in memory only, so after its restart nothing ever frees them,
and every new run of those deployments is cancelled ("Deployment concurrency limit reached"):
a restarted serve would never check those tiers again. And the runs scheduled while it was
down would all be replayed at once (PrefectHQ/prefect#15886). Served deployments have no work
pool, so only the serve that serves them runs them: before that serve starts, nothing runs
them, and all of that is safe to clear.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from healthmon.deployments.serve import prefect_api_client

#: the states of a flow run that a live runner would still be working on
_UNFINISHED = ["PENDING", "RUNNING", "CANCELLING"]


@dataclass(frozen=True)
class Leftovers:
    crashed: int
    slots_freed: int
    missed: int

    def line(self, who: str = "demo") -> str | None:
        """One line for the log (`who` stopped uncleanly: "demo", "serve"), or None when there
        was nothing to clear."""
        if not (self.crashed or self.slots_freed or self.missed):
            return None
        return (
            f"the last {who} did not stop cleanly: {self.crashed} of its flow runs marked crashed, "
            f"{self.slots_freed} concurrency slots freed, {self.missed} missed runs dropped"
        )


async def _flow_runs(
    client: httpx.AsyncClient, flow_runs: dict[str, Any], deployment_ids: Collection[str] | None
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"flow_runs": flow_runs}
    if deployment_ids is not None:
        body["deployments"] = {"id": {"any_": list(deployment_ids)}}
    answer = await client.post("/flow_runs/filter", json=body)
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


async def clear_leftovers(api_url: str, deployment_ids: Collection[str] | None = None) -> Leftovers:
    """Mark the unfinished flow runs crashed, free the deployments' slots and drop the runs
    that were due while nothing served them; `api_url` is the server's API (".../api").
    Only the runs and slots of `deployment_ids` when given (a server that others use too),
    else every deployment's (a server that is the caller's alone)."""
    if deployment_ids is not None and not deployment_ids:
        return Leftovers(0, 0, 0)
    async with prefect_api_client(api_url) as client:
        unfinished = await _flow_runs(client, {"state": {"type": {"any_": _UNFINISHED}}}, deployment_ids)
        crashed = {"type": "CRASHED", "message": "the serve that ran this run stopped without ending it"}
        for run in unfinished:
            answer = await client.post(
                f"/flow_runs/{run['id']}/set_state", json={"state": crashed, "force": True}
            )
            answer.raise_for_status()

        answer = await client.post("/v2/concurrency_limits/filter", json={})
        answer.raise_for_status()
        # a deployment's concurrency limit is named after its id
        names = None if deployment_ids is None else {f"deployment:{d}" for d in deployment_ids}
        held = [
            c
            for c in answer.json()
            if c["name"].startswith("deployment:")
            and c["active_slots"]
            and (names is None or c["name"] in names)
        ]
        for limit in held:
            freed = await client.patch(f"/v2/concurrency_limits/{limit['id']}", json={"active_slots": 0})
            freed.raise_for_status()

        now = datetime.now(UTC).isoformat()
        due = {"state": {"type": {"any_": ["SCHEDULED"]}}, "expected_start_time": {"before_": now}}
        missed = await _flow_runs(client, due, deployment_ids)
        for run in missed:
            dropped = await client.delete(f"/flow_runs/{run['id']}")
            if dropped.status_code != 404:  # gone already is as good
                dropped.raise_for_status()
    return Leftovers(len(unfinished), len(held), len(missed))
