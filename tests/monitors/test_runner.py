from __future__ import annotations

import asyncio
from typing import ClassVar

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.redaction import redact
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Status, Tier
from healthmon.monitors.runner import RunPolicy, run_batch, run_check


class Scripted(Monitor):
    """Answers from a script of outcomes (or exceptions, or 'hang'), one per call."""

    service = "scripted"
    tier = Tier.CRITICAL
    required: ClassVar[tuple[str, ...]] = ("url",)

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.calls = 0

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step == "hang":
            await asyncio.Event().wait()
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, Outcome)
        return step


TARGET = Target("scripted", None, {"url": "x://u:hunter2@h"}, frozenset({"hunter2"}))
POLICY = RunPolicy(timeout_s=0.3, confirm_retries=1, confirm_delay_s=0.0)


async def run(monitor: Monitor, target: Target = TARGET, policy: RunPolicy = POLICY) -> object:
    async with BatchResources() as res:
        return await run_check(monitor, target, res, Tier.CRITICAL, policy)


async def test_a_monitor_that_raises_gives_unknown_with_the_reason() -> None:
    result = await run(Scripted(RuntimeError("boom")))
    assert result.status is Status.UNKNOWN  # type: ignore[attr-defined]
    assert result.details["reason"] == "monitor error: RuntimeError: boom"  # type: ignore[attr-defined]


async def test_missing_settings_give_unknown_without_calling() -> None:
    monitor = Scripted(Outcome.healthy(1.0))
    result = await run(monitor, Target("scripted", None, {}))
    assert result.status is Status.UNKNOWN and "missing url" in result.details["reason"]  # type: ignore[attr-defined]
    assert monitor.calls == 0


async def test_a_hang_costs_one_timeout_and_is_confirmed() -> None:
    monitor = Scripted("hang")
    result = await run(monitor)
    assert result.status is Status.UNHEALTHY  # type: ignore[attr-defined]
    assert result.details["error"] == "timeout" and result.details["confirmed"] is True  # type: ignore[attr-defined]
    assert monitor.calls == 2


async def test_a_blip_is_not_counted_when_the_recheck_passes() -> None:
    monitor = Scripted(Outcome.unhealthy("reset"), Outcome.healthy(3.0))
    result = await run(monitor)
    assert result.status is Status.HEALTHY  # type: ignore[attr-defined]
    assert result.details["recovered_on_retry"] == "reset"  # type: ignore[attr-defined]


async def test_no_recheck_when_disabled() -> None:
    monitor = Scripted(Outcome.unhealthy("down"), Outcome.healthy(3.0))
    result = await run(monitor, policy=RunPolicy(timeout_s=0.3, confirm_retries=0))
    assert result.status is Status.UNHEALTHY and monitor.calls == 1  # type: ignore[attr-defined]


async def test_secrets_are_scrubbed_from_details() -> None:
    result = await run(Scripted(Outcome.unhealthy("cannot log in as u:hunter2", extra=["hunter2"])))
    assert "hunter2" not in repr(result.details)  # type: ignore[attr-defined]
    assert redact({"a": ("x hunter2",)}, frozenset({"hunter2"})) == {"a": ["x ***"]}


async def test_the_deadline_bounds_a_whole_batch() -> None:
    loop = asyncio.get_running_loop()
    monitor = Scripted("hang")
    async with BatchResources() as res:
        results = await run_batch(
            monitor,
            [TARGET] * 5,
            res,
            Tier.CRITICAL,
            RunPolicy(timeout_s=30, concurrency=2),
            deadline=loop.time() + 0.3,
        )
    assert [r.status for r in results] == [Status.UNHEALTHY] * 5
    # every check got what was left of the deadline, not its own 30 s
    assert all(r.details["error"] == "timeout" for r in results)
