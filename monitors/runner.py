"""Runs checks so that a monitor never raises and a hanging upstream costs one timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from healthmon.monitors.base import CheckFailed, Monitor, Target
from healthmon.monitors.redaction import redact
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Outcome, Status, Tier


@dataclass(frozen=True)
class RunPolicy:
    timeout_s: float
    #: re-checks of a failing result inside the same run before it counts
    confirm_retries: int = 1
    confirm_delay_s: float = 0.2
    #: checks running at once in this batch
    concurrency: int = 20


def _missing(monitor: Monitor, target: Target) -> list[str]:
    return [key for key in monitor.required if target.settings.get(key) in (None, "")]


async def _attempt(monitor: Monitor, target: Target, resources: BatchResources, timeout_s: float) -> Outcome:
    try:
        async with asyncio.timeout(timeout_s):
            return await monitor.check(target, resources)
    except CheckFailed as failed:
        return failed.outcome
    except TimeoutError:
        return Outcome.unhealthy(f"no answer within {timeout_s:g}s", error="timeout")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a monitor bug must not take the run down; it is "could not decide"
        return Outcome.unknown(f"monitor error: {type(exc).__name__}: {exc}", error="monitor_error")


async def run_check(
    monitor: Monitor,
    target: Target,
    resources: BatchResources,
    tier: Tier,
    policy: RunPolicy,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Check one target; `deadline` (monotonic seconds) bounds the check and its re-checks."""
    missing = _missing(monitor, target)
    if missing:
        outcome = Outcome.unknown(f"not configured: missing {', '.join(missing)}", error="not_configured")
    else:
        outcome = await _attempt(monitor, target, resources, _budget(policy.timeout_s, deadline, clock))
        retries = 0
        while outcome.status is Status.UNHEALTHY and retries < policy.confirm_retries:
            budget = _budget(policy.timeout_s, deadline, clock) - policy.confirm_delay_s
            if budget <= 0.05:
                break
            retries += 1
            await asyncio.sleep(policy.confirm_delay_s)
            first = outcome
            outcome = await _attempt(monitor, target, resources, budget)
            if outcome.status is Status.UNHEALTHY:
                outcome = Outcome(outcome.status, outcome.latency_ms, {**outcome.details, "confirmed": True})
            else:
                # A blip that went away on the re-check: keep a trace of it for the operator.
                outcome = Outcome(
                    outcome.status,
                    outcome.latency_ms,
                    {**outcome.details, "recovered_on_retry": first.reason},
                )
    # a copy either way: redact builds a new mapping when there are secrets to look for
    details = redact(outcome.details, target.secrets) if target.secrets else dict(outcome.details)
    return CheckResult(
        service=target.service,
        tenant_id=target.tenant_id,
        tier=tier,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        details=details,
        checked_at=datetime.now(UTC),
    )


def _budget(timeout_s: float, deadline: float | None, clock: Callable[[], float]) -> float:
    if deadline is None:
        return timeout_s
    return max(0.0, min(timeout_s, deadline - clock()))


async def run_batch(
    monitor: Monitor,
    targets: Sequence[Target],
    resources: BatchResources,
    tier: Tier,
    policy: RunPolicy,
    deadline: float | None = None,
    upstream: asyncio.Semaphore | None = None,
) -> list[CheckResult]:
    """Check every target concurrently: at most `policy.concurrency` at once in this batch, and
    within `upstream`, a cap shared by every batch that calls the same vendor."""
    # A fixed set of workers pulling targets, not a task per target waiting on a semaphore:
    # at 10,000 targets the waiting tasks and their futures cost more than the checks' own
    # bookkeeping (measured, docs/performance.md).
    results: list[CheckResult | None] = [None] * len(targets)
    queue = iter(enumerate(targets))

    async def worker() -> None:
        for index, target in queue:
            if upstream is None:
                results[index] = await run_check(monitor, target, resources, tier, policy, deadline)
            else:
                async with upstream:
                    results[index] = await run_check(monitor, target, resources, tier, policy, deadline)

    workers = min(len(targets), max(1, policy.concurrency))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return [r for r in results if r is not None]
