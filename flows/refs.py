"""What a tier run's steps are handed: which tier, which run, which targets, and by when.

Ids and counts only, never settings or credentials: these are the parameters of the Prefect
tasks (the UI shows them, and a task may run in another process), and a step loads what
it checks from the store itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthmon.monitors.result import Tier
from healthmon.storage.tier_runs import SCHEDULE


@dataclass(frozen=True)
class TierRequest:
    """What a run was asked to do. A run started by hand (`trigger` manual) checks every
    target it names, whatever `force`."""

    tier: Tier
    services: tuple[str, ...] | None = None
    tenant: str | None = None
    force: bool = False
    trigger: str = SCHEDULE
    flow_run_id: str | None = None
    #: what `healthmon serve --interval-scale` served the schedules with
    interval_scale: float = 1.0

    @property
    def forced(self) -> bool:
        return self.force or self.trigger != SCHEDULE


@dataclass(frozen=True)
class RunRef:
    run_id: str
    tier: Tier
    #: when the checks must have ended (epoch seconds): the rest of the deadline is kept for
    #: recording, alerting and the report
    checks_end_at: float
    interval_scale: float = 1.0


@dataclass(frozen=True)
class BatchRef:
    """One batch of one service's targets in one run: the check task's parameter."""

    run: RunRef
    service: str
    number: int
    tenant_ids: tuple[str | None, ...]
