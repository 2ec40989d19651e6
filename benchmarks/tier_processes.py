"""One core tier over 1 and 2 worker processes: checks/s and CPU per check, per engine.

    .venv/bin/python benchmarks/tier_processes.py [--tenants 4000] [--rounds 3]
        [--modes inprocess dask taskworkers] [--processes 2] [--latency-ms 50] [--in-flight 200]
        [--batch-size 200]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--redis-url URL]

Against sandbox Shopify shops (a process of its own, answering after --latency-ms), on a
PostgreSQL database of its own (`bench_proc_<N>_<random>`, made and dropped here) with Redis db 13, under
a real `prefect server start` (each check batch is a task run), after one uncounted warm-up
round (imports and pools in the workers), it runs the tier-check flow
(forced, shopify only) in each mode, the modes alternating round by round:
- inprocess: `run.processes` 1, every batch checked in this process (the default);
- dask: `run.processes` --processes, batches sent to a prefect-dask LocalCluster of that many
  worker processes, one thread each (flows/dispatch.py); the cluster's start is timed apart;
- taskworkers: the prototype it was measured against: --processes `prefect.task_worker.serve`
  processes (one task at a time each), batches handed out with `check_batch_task.delay()`.
Every mode has at most --in-flight checks against the upstream (the workers split it). Per
mode it prints the median wall time and checks/s, and the CPU per check (user+sys) of the flow's
process, of the worker processes and of the Prefect server, with the 1-minute load
average; it ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil
import yaml
from sqlalchemy import text

from benchmarks.scratch import scratch_database
from benchmarks.stopping import stop
from tests.support.prefect_home import seed_prefect_home
from tests.support.servers import free_port, wait_port

SECRET = "benchmark-secret-key-0123456789"
MODES = ("inprocess", "dask", "taskworkers")


def cpu_of(pids: list[int]) -> float:
    """User+sys CPU seconds of these processes and their children so far (gone ones count 0)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                times = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
    return total


def own_cpu() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


@dataclass(frozen=True)
class Bed:
    n: int
    config_path: Path
    config: dict[str, Any]


@contextmanager
def child(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(argv, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)


@contextmanager
def prefect_server(tmp: Path) -> Iterator[subprocess.Popen[bytes]]:
    home = seed_prefect_home(tmp / "prefect")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with child(argv, env, tmp / "prefect.log") as proc:
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the Prefect server did not start (see {tmp / 'prefect.log'})")
            time.sleep(0.2)
        # for the workers this process starts, and for this process, whose Prefect settings
        # were read when prefect was first imported
        os.environ["PREFECT_API_URL"] = url
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: url}):
            yield proc


@contextmanager
def prepared(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[Bed, subprocess.Popen[bytes]]]:
    """The sandbox with N shops, the store migrated with them imported, HEALTHMON_* set for
    this process and every worker it starts."""
    port = free_port()
    bed_dir = tmp / "bed"
    sandbox_argv = [
        sys.executable, "-m", "healthmon.sandbox",
        "--port", str(port), "--tenants", str(args.tenants), "--bed", str(bed_dir),
    ]
    with (
        child(sandbox_argv, dict(os.environ), tmp / "sandbox.log") as sandbox,
        scratch_database(args.database_url, f"bench_proc_{args.tenants}") as db,
    ):
        wait_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        httpx.post(
            f"{base}/_sandbox/faults", json={"service": "shopify", "kind": "latency", "ms": args.latency_ms}
        ).raise_for_status()
        services = yaml.safe_load((bed_dir / "healthmon.yaml").read_text())["services"]
        # the same checks in flight against the upstream in every mode: the workers' share
        config = {
            "services": {"shopify": services["shopify"]},
            "run": {
                "processes": args.processes,
                "batch_size": args.batch_size,
                "max_in_flight_per_service": max(1, args.in_flight // args.processes),
            },
        }
        config_path = tmp / "healthmon.yaml"
        config_path.write_text(yaml.safe_dump(config))
        os.environ.update(
            {
                "HEALTHMON_DATABASE_URL": db,
                "HEALTHMON_SECRET_KEY": SECRET,
                "HEALTHMON_CONFIG": str(config_path),
                "HEALTHMON_REDIS_URL": args.redis_url,
                "HEALTHMON_DATA_DIR": str(tmp / "data"),
            }
        )
        for command in (["db", "upgrade"], ["tenants", "import", str(bed_dir / "tenants.yaml")]):
            subprocess.run(
                [sys.executable, "-m", "healthmon.deployments.cli", *command],
                env=dict(os.environ),
                check=True,
                capture_output=True,
            )
        yield Bed(args.tenants, config_path, config), sandbox


@dataclass
class Sample:
    seconds: float
    flow_cpu_s: float
    workers_cpu_s: float
    server_cpu_s: float
    not_healthy: int = 0


async def one_run(
    mode: str, processes: int, in_flight: int, worker_pids: list[int], server_pid: int
) -> tuple[Sample, dict[str, Any]]:
    from healthmon.flows.app import build_app, hosting
    from healthmon.flows.tier_run import tier_check
    from healthmon.monitors.result import Tier

    runtime = build_app()
    # in this process, all of --in-flight; in the workers, their share (the config file's)
    update: dict[str, int] = (
        {"processes": processes}
        if mode == "dask"
        else {"processes": 1, "max_in_flight_per_service": in_flight}
    )
    run = runtime.config.run.model_copy(update=update)
    runtime.config = runtime.config.model_copy(update={"run": run})
    before = (own_cpu(), cpu_of(worker_pids), cpu_of([server_pid]))
    started = time.perf_counter()
    with hosting(runtime):
        if mode == "taskworkers":
            summary = (await delay_flow()).as_dict()
        else:
            summary = await tier_check(Tier.CORE, services=["shopify"], force=True)
    seconds = time.perf_counter() - started
    after = (own_cpu(), cpu_of(worker_pids), cpu_of([server_pid]))
    if summary["not_healthy"]:
        with runtime.engine.connect() as conn:
            why = conn.execute(
                text(
                    "SELECT details->>'error', count(*) FROM health_check_history "
                    "WHERE run_id = :r AND status <> 'healthy' GROUP BY 1"
                ),
                {"r": summary["run_id"]},
            ).all()
        print(f"{mode}: {summary['not_healthy']} not healthy: {dict(why)}", flush=True)
    runtime.close()
    return Sample(seconds, after[0] - before[0], after[1] - before[1], after[2] - before[2]), summary


async def delay_flow() -> Any:
    """The taskworkers prototype: the pipeline in a flow, each batch a `.delay()`ed task run."""
    from prefect import flow

    from healthmon.flows.app import hosted_app
    from healthmon.flows.pipeline import BatchSummary, run_tier
    from healthmon.flows.refs import BatchRef, TierRequest
    from healthmon.flows.tier_run import PrefectSteps, check_batch_task
    from healthmon.monitors.result import Tier

    class DelaySteps(PrefectSteps):
        @property
        def processes(self) -> int:
            return WORKERS

        async def check(self, batch: BatchRef) -> BatchSummary:
            future = check_batch_task.delay(batch)
            await future.wait_async()
            # typed as the task's coroutine, but it is the awaited task's result
            result: Any = await future.result_async()
            return cast(BatchSummary, result)

    @flow(name="tier-check-taskworkers", persist_result=False)
    async def taskworker_tier() -> Any:
        request = TierRequest(Tier.CORE, ("shopify",), None, True, "benchmark")
        return await run_tier(hosted_app(), request, DelaySteps())

    return await taskworker_tier()


WORKERS = 2


@contextmanager
def task_workers(n: int, tmp: Path) -> Iterator[list[int]]:
    code = (
        "from prefect.task_worker import serve\n"
        "from healthmon.flows.tier_run import check_batch_task\n"
        "serve(check_batch_task, limit=1)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=dict(os.environ),
            stdout=(tmp / f"taskworker{i}.log").open("ab"), stderr=subprocess.STDOUT,
        )
        for i in range(n)
    ]
    try:
        # a task worker subscribes over a websocket once started: wait until each logged it
        deadline = time.monotonic() + 60
        while not all("Starting task worker" in (tmp / f"taskworker{i}.log").read_text() for i in range(n)):
            if time.monotonic() > deadline:
                raise RuntimeError("task workers did not start")
            time.sleep(0.2)
        time.sleep(1.0)  # the subscription follows the log line; no condition to wait on is exposed
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return round(total / 2**20, 1)


async def main() -> None:
    global WORKERS
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=200, help="in total, over the processes")
    parser.add_argument("--batch-size", type=int, default=200, help="targets per task (the config default)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    WORKERS = args.processes
    figures: dict[str, Any] = {
        "tenants": args.tenants,
        "processes": args.processes,
        "latency_ms": args.latency_ms,
        "in_flight": args.in_flight,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_1m_at_start": round(os.getloadavg()[0], 2),
        "versions": {
            name: metadata.version(name) for name in ("prefect", "prefect-dask", "distributed", "aiohttp")
        },
    }
    samples: dict[str, list[Sample]] = {m: [] for m in args.modes}
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with prefect_server(tmp) as server, prepared(args, tmp) as (bed, _sandbox):
            print(f"ready: {bed.n} shops, load {os.getloadavg()[0]:.2f}", flush=True)
            from healthmon.flows import dispatch
            from healthmon.flows.app import build_app

            pools: dict[str, list[int]] = {"inprocess": []}
            with ExitStack() as stack:
                if "dask" in args.modes:
                    runtime = build_app()
                    t0, c0 = time.perf_counter(), own_cpu()
                    runner = dispatch.cluster_runner(runtime.config.run)
                    client = runner.client
                    pids = list(client.run(os.getpid).values())
                    extra["dask_start_s"] = round(time.perf_counter() - t0, 2)
                    extra["dask_start_cpu_s_this_process"] = round(own_cpu() - c0, 2)
                    extra["dask_start_cpu_s_workers"] = round(cpu_of(pids), 2)
                    pools["dask"] = pids
                    runtime.close()
                if "taskworkers" in args.modes:
                    pools["taskworkers"] = stack.enter_context(task_workers(args.processes, tmp))
                # round 0 warms up each mode (imports, Apps and connection pools in the workers,
                # the first flow run) and is not counted
                for number in range(args.rounds + 1):
                    order = args.modes if number % 2 == 0 else args.modes[::-1]
                    for mode in order:
                        sample, summary = await one_run(
                            mode, args.processes, args.in_flight, pools[mode], server.pid
                        )
                        assert summary["checked"] == bed.n, (mode, summary)
                        sample.not_healthy = summary["not_healthy"]
                        if number == 0:
                            print(f"warm-up {mode}: {sample.seconds:.2f} s", flush=True)
                            continue
                        samples[mode].append(sample)
                        print(
                            f"round {number} {mode}: {sample.seconds:.2f} s, "
                            f"{bed.n / sample.seconds:.0f}/s; "
                            f"CPU ms per check: flow process {1000 * sample.flow_cpu_s / bed.n:.3f}, "
                            f"workers {1000 * sample.workers_cpu_s / bed.n:.3f}, "
                            f"Prefect server {1000 * sample.server_cpu_s / bed.n:.3f}; "
                            f"load {os.getloadavg()[0]:.2f}",
                            flush=True,
                        )
                for mode, pids in pools.items():
                    if pids:
                        extra[f"{mode}_workers_rss_mb"] = rss_mb(pids)
                extra["flow_process_rss_mb"] = rss_mb([os.getpid()])
            dispatch.close_clusters()
    for mode, rows in samples.items():
        seconds = statistics.median(s.seconds for s in rows)
        flow_ms = 1000 * statistics.median(s.flow_cpu_s for s in rows) / args.tenants
        workers_ms = 1000 * statistics.median(s.workers_cpu_s for s in rows) / args.tenants
        server_ms = 1000 * statistics.median(s.server_cpu_s for s in rows) / args.tenants
        processes = args.processes if mode != "inprocess" else 1
        figures[mode] = {
            "seconds": round(seconds, 3),
            "checks_per_s": round(args.tenants / seconds, 1),
            "checks_per_s_per_process": round(args.tenants / seconds / processes, 1),
            "cpu_ms_per_check_flow_process": round(flow_ms, 3),
            "cpu_ms_per_check_workers": round(workers_ms, 3),
            "cpu_ms_per_check_total": round(flow_ms + workers_ms, 3),
            "cpu_ms_per_check_prefect_server": round(server_ms, 3),
            "not_healthy_per_round": [s.not_healthy for s in rows],
        }
        print(
            f"{mode} (median of {len(rows)}): {figures[mode]['checks_per_s']}/s "
            f"({figures[mode]['checks_per_s_per_process']}/s per process), CPU per check "
            f"{figures[mode]['cpu_ms_per_check_total']} ms (flow {round(flow_ms, 3)}, workers "
            f"{round(workers_ms, 3)}), Prefect server {round(server_ms, 3)} ms"
        )
    figures.update(extra)
    figures["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(f"load average (1 min) at end: {figures['load_1m_at_end']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
