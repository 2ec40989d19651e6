"""What a demo that did not stop cleanly (killed, or a second Ctrl-C) left on its own Prefect
server, cleared before `healthmon serve` starts again.

Its flow runs still look Running and hold their deployment's one concurrency slot. The
server keeps the slots' leases in memory only, so after its restart nothing ever frees them,
and every new run of those deployments is cancelled ("Deployment concurrency limit reached"):
a restarted demo would never check those tiers again. And the runs scheduled while the demo
was down would all be replayed at once (PrefectHQ/prefect#15886). At this point nothing runs
on the server, which is the demo's alone, so all of that is safe to clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

#: the states of a flow run that a live runner would still be working on
_UNFINISHED = ["PENDING", "RUNNING", "CANCELLING"]


@dataclass(frozen=True)
class Leftovers:
    crashed: int
    slots_freed: int
    missed: int

    def line(self) -> str | None:
        """One line for the log, or None when there was nothing to clear."""
        if not (self.crashed or self.slots_freed or self.missed):
            return None
        return (
            f"the last demo did not stop cleanly: {self.crashed} of its flow runs marked crashed, "
            f"{self.slots_freed} concurrency slots freed, {self.missed} missed runs dropped"
        )


async def _flow_runs(client: httpx.AsyncClient, flow_runs: dict[str, Any]) -> list[dict[str, Any]]:
    answer = await client.post("/flow_runs/filter", json={"flow_runs": flow_runs})
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


async def clear_leftovers(api_url: str) -> Leftovers:
    """Mark the unfinished flow runs crashed, free the deployments' slots and drop the runs
    that were due while the demo was down; `api_url` is the server's API (".../api")."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10.0) as client:
        unfinished = await _flow_runs(client, {"state": {"type": {"any_": _UNFINISHED}}})
        crashed = {"type": "CRASHED", "message": "the demo stopped without ending this run"}
        for run in unfinished:
            answer = await client.post(
                f"/flow_runs/{run['id']}/set_state", json={"state": crashed, "force": True}
            )
            answer.raise_for_status()

        answer = await client.post("/v2/concurrency_limits/filter", json={})
        answer.raise_for_status()
        held = [c for c in answer.json() if c["name"].startswith("deployment:") and c["active_slots"]]
        for limit in held:
            freed = await client.patch(f"/v2/concurrency_limits/{limit['id']}", json={"active_slots": 0})
            freed.raise_for_status()

        now = datetime.now(UTC).isoformat()
        due = {"state": {"type": {"any_": ["SCHEDULED"]}}, "expected_start_time": {"before_": now}}
        missed = await _flow_runs(client, due)
        for run in missed:
            dropped = await client.delete(f"/flow_runs/{run['id']}")
            if dropped.status_code != 404:  # gone already is as good
                dropped.raise_for_status()
    return Leftovers(len(unfinished), len(held), len(missed))
