"""`healthmon serve`'s Prefect runner, which starts only the newest due run of each deployment.

Prefect's runner submits every scheduled run it finds due at once (PrefectHQ/prefect#15886,
#9054: no option skips stale ones), and the deployment's limit (1, CANCEL_NEW) then admits
whichever asks first: after a stall that was the oldest as often as the newest (8 trials). This
runner ends the older due runs Superseded before it submits anything (flows/superseded.py), so
they cost no process; the tier run's own check stays for runs started any other way.

It reaches into the runner's poller, which Prefect does not promise to keep: when the poller is
not where it was, serve says so and the tier run's own check alone keeps stale runs from checking.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.objects import FlowRun
from prefect.runner import Runner

from healthmon.flows.superseded import newest_due, superseded_state

log = logging.getLogger("healthmon.serve")

Poll = Callable[[], Awaitable[list[FlowRun]]]


class NewestDueRunner(Runner):
    async def __aenter__(self) -> Any:
        entered = await super().__aenter__()
        poller = getattr(self, "_scheduled_run_poller", None)
        poll: Poll | None = getattr(poller, "_get_scheduled_flow_runs", None)
        if poller is None or poll is None:
            log.warning(
                "this Prefect's runner has no scheduled-run poller where healthmon looks for it: "
                "stale runs are left to each tier run's own check"
            )
            return entered
        poller._get_scheduled_flow_runs = self._newest_only(poll)
        return entered

    def _newest_only(self, poll: Poll) -> Poll:
        async def newest_only() -> list[FlowRun]:
            return await supersede_stale(self._client, await poll())

        return newest_only


async def supersede_stale(client: PrefectClient, runs: list[FlowRun]) -> list[FlowRun]:
    """End the stale runs among the scheduled `runs` a runner polled Superseded, and return
    those it should start (`newest_due`)."""
    now = datetime.now(UTC)
    chosen = newest_due(runs, now)
    for run, newer in chosen.stale:
        assert run.expected_start_time is not None
        state = superseded_state(newer, run.expected_start_time, now)
        try:
            await client.set_flow_run_state(run.id, state)
        except Exception as exc:  # the run stays Scheduled: a later poll or its own check decides
            log.warning("could not supersede %s (%s: %s)", run.name, type(exc).__name__, exc)
            continue
        log.info("%s: %s", run.name, state.message)
    return chosen.start
