"""One tier's check step spread over worker processes, with Dask through `prefect-dask`.

Chosen by measurement over Prefect's own task workers (docs/performance.md, "One tier over
several processes"). With `run.processes` > 1 (or `run.dask_address`) each per-tenant batch of
the tier-check flow is still one Prefect task run, `check-batch`, in the flow run's process;
that task hands the checking to a worker of the `DaskTaskRunner`'s cluster: a local cluster of
`run.processes` worker processes started once per process and kept for its later runs, or the
workers of the `distributed` scheduler at `run.dask_address`. The worker runs a plain function,
not a Prefect task: a task engine per batch in a worker cost ~200 ms of CPU, measured. A
platform service's batch (one target) is checked in the flow run's own process.

What a worker is sent is the `BatchRef` (ids only); it finds its App through `hosted_app()`,
built from the HEALTHMON_* environment and the config file it inherited (a local cluster's
workers are children of the flow run's process) or was started with (`dask worker` on
another machine), and loads and decrypts credentials itself.

Exactly once per run:
- the local cluster's scheduler never re-runs a batch whose worker died (`allowed_failures`
  0): its future fails at once with KilledWorker;
- a scheduler given by address may re-run it (`distributed.scheduler.allowed-failures`,
  3 by default): the worker first reads which of its targets the run already recorded (the
  latest-status row carries the run id, written in the same transaction as the history row)
  and checks only the others, so a re-run never records a target twice;
- a batch whose worker died, or that has not answered by the tier's deadline, does not
  vanish: each of its targets the run has not recorded gets an `unknown` result, reason
  "worker lost", recorded by the flow run's process;
- a worker that was only late, still alive past the deadline, and the flow process recording
  its batch as lost record under one key (`pipeline.once_key`: run, service, batch): they take
  turns, and whichever comes second leaves out each target the other recorded
  (`record_results`' `once_key`), so a late worker's results never follow the "worker lost" rows.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NONE

from healthmon.config.schema import RunConfig
from healthmon.flows.app import App, hosted_app
from healthmon.flows.pipeline import (
    CHECK_SHARE_OF_DEADLINE,
    BatchSummary,
    check_batch,
    once_key,
    record_batch,
)
from healthmon.flows.refs import BatchRef
from healthmon.flows.tier_run import PrefectSteps
from healthmon.monitors.result import TIERS, CheckResult, Outcome, Status
from healthmon.storage.results import recorded_in_run

if TYPE_CHECKING:
    import distributed
    from prefect_dask import DaskTaskRunner

log = logging.getLogger("healthmon.dispatch")

#: the `error` detail of a result made for a target whose batch's worker was lost
WORKER_LOST = "worker_lost"
#: a worker thread per process: one batch at a time each (docs/performance.md: more threads
#: share one GIL and bought nothing measurable)
THREADS_PER_WORKER = 1


def _recorded_summary(
    batch: BatchRef, done: dict[str | None, str], fresh: BatchSummary | None
) -> BatchSummary:
    earlier = sum(status != Status.HEALTHY.value for status in done.values())
    return BatchSummary(
        batch.service,
        batch.number,
        len(done) + (fresh.checked if fresh else 0),
        earlier + (fresh.not_healthy if fresh else 0),
    )


async def check_batch_once(app: App, batch: BatchRef) -> BatchSummary:
    """Check and record the batch's targets this run has not recorded yet (all of them, unless
    the engine is re-running the batch), and count the batch's recorded results."""
    done = await asyncio.to_thread(
        recorded_in_run, app.engine, batch.service, batch.run.run_id, batch.tenant_ids
    )
    todo = tuple(t for t in batch.tenant_ids if t not in done)
    if done:
        log.warning(
            "%s batch %s of run %s: %s targets already recorded, checking the other %s",
            batch.service, batch.number, batch.run.run_id, len(done), len(todo),
        )
    fresh = await check_batch(app, dataclasses.replace(batch, tenant_ids=todo), once=True) if todo else None
    return _recorded_summary(batch, done, fresh)


def check_in_worker(batch: BatchRef) -> BatchSummary:
    """The check step in a worker process, on the process's own App (`hosted_app`), in an event
    loop of its own. A plain function, not a Prefect task: a task engine per batch in a worker
    cost ~200 ms of CPU (docs/performance.md); the batch's task run is the flow process's."""
    return asyncio.run(check_batch_once(hosted_app(), batch))


@task(
    name="check-batch",
    cache_policy=NONE,
    persist_result=False,
    task_run_name="{batch.run.tier}/{batch.service} batch {batch.number}",
)
async def check_batch_spread_task(batch: BatchRef) -> BatchSummary:
    """The batch's task run, in the flow run's process, while a Dask worker checks it."""
    app = hosted_app()
    runner = await asyncio.to_thread(cluster_runner, app.config.run)
    return await check_by_worker(app, runner, batch)


async def record_lost(app: App, batch: BatchRef, why: str) -> BatchSummary:
    """An `unknown` result for each target of the batch that the run has not recorded."""
    done = await asyncio.to_thread(
        recorded_in_run, app.engine, batch.service, batch.run.run_id, batch.tenant_ids
    )
    outcome = Outcome.unknown(f"worker lost: {why}", error=WORKER_LOST)
    now = datetime.now(UTC)
    lost = [
        CheckResult(batch.service, t, batch.run.tier, outcome.status, None, dict(outcome.details), now)
        for t in batch.tenant_ids
        if t not in done
    ]
    log.error(
        "%s batch %s of run %s: %s; %s targets recorded unknown",
        batch.service, batch.number, batch.run.run_id, why, len(lost),
    )
    ttl = TIERS[batch.run.tier].cache_ttl_s
    # the worker may still be recording (late, not dead): whichever of the two comes second
    # leaves out what the other recorded
    written = await asyncio.to_thread(record_batch, app, lost, batch.run.run_id, ttl, once_key(batch))
    fresh = BatchSummary(batch.service, batch.number, written, written)
    return _recorded_summary(batch, done, fresh)


_runners_lock = threading.Lock()
_runners: dict[tuple[int, str | None], DaskTaskRunner] = {}


def cluster_runner(run: RunConfig) -> DaskTaskRunner:
    """This process's started DaskTaskRunner for `run`: the scheduler at `run.dask_address`, or
    a local cluster of `run.processes` worker processes (started on first use, 3.5-3.8 CPU-seconds
    measured, and kept for the process's later runs). Blocking: call it off the event loop."""
    from prefect_dask import DaskTaskRunner

    key = (run.processes, run.dask_address)
    with _runners_lock:
        runner = _runners.get(key)
        if runner is None:
            if run.dask_address is not None:
                runner = DaskTaskRunner(address=run.dask_address)
            else:
                runner = DaskTaskRunner(
                    cluster_kwargs={
                        "n_workers": run.processes,
                        "threads_per_worker": THREADS_PER_WORKER,
                        "processes": True,
                        # no dashboard, and the scheduler's HTTP endpoint on a port of its
                        # own rather than 8787, which another cluster may hold
                        "dashboard_address": None,
                        # a task whose worker died fails at once, never runs again elsewhere
                        "scheduler_kwargs": {"allowed_failures": 0, "dashboard_address": "127.0.0.1:0"},
                        "silence_logs": logging.WARNING,
                    }
                )
            runner.__enter__()
            # the cluster (and the connection) is made here, not at the first submit
            runner.client  # noqa: B018
            _runners[key] = runner
        return runner


def close_clusters() -> None:
    """Stop every local cluster this process started and close its scheduler connections."""
    with _runners_lock:
        runners = list(_runners.values())
        _runners.clear()
    for runner in runners:
        runner.__exit__(None, None, None)


atexit.register(close_clusters)


async def _settled(future: distributed.Future, timeout_s: float) -> bool:
    """Wait for a distributed future without holding a thread; False when `timeout_s` passed."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    future.add_done_callback(lambda _f: loop.call_soon_threadsafe(wake))
    try:
        await asyncio.wait_for(done, max(0.0, timeout_s))
    except TimeoutError:
        return False
    return True


async def check_by_worker(app: App, runner: DaskTaskRunner, batch: BatchRef) -> BatchSummary:
    """Have a worker check and record the batch, and wait for it until the tier's deadline; a
    batch whose worker died, or that did not answer by then, is recorded as lost here. The
    future's key names the run and the batch: submitted twice, it is still one task."""
    key = f"check-batch-{batch.run.run_id}-{batch.service}-{batch.number}"
    future = await asyncio.to_thread(runner.client.submit, check_in_worker, batch, key=key, pure=False)
    # the worker's checks end at checks_end_at; the rest of the tier's deadline is for recording
    spec = TIERS[batch.run.tier]
    ends_at = batch.run.checks_end_at + spec.deadline_s * (1 - CHECK_SHARE_OF_DEADLINE)
    if not await _settled(future, ends_at - time.time()):
        await asyncio.to_thread(future.cancel)
        return await record_lost(app, batch, "no answer by the tier's deadline")
    try:
        summary: BatchSummary = await asyncio.to_thread(future.result)
    except Exception as exc:
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return await record_lost(app, batch, "its process died")
        if future.status == "error":
            raise  # the check step itself failed, as it would have in this process
        return await record_lost(app, batch, type(exc).__name__)  # cancelled, scheduler gone
    return summary


class DaskSteps(PrefectSteps):
    """The tier-check flow's steps with its per-tenant batches checked by Dask workers."""

    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def processes(self) -> int:
        return self.app.config.run.processes

    async def check(self, batch: BatchRef) -> BatchSummary:
        if batch.tenant_ids == (None,):
            return await super().check(batch)
        return await check_batch_spread_task(batch)
