"""Prefect, which schedules healthmon's own runs: its API, healthmon's deployments (their late
runs, their last completed run, whether a runner polls them) and the workers of their pools.

Known Prefect 3 behaviours this watches for: after a stall late runs pile up and are replayed
(PrefectHQ/prefect#15886), a worker counts as offline only after 3 missed heartbeats, and the
scheduler falls behind on a loaded database (#18861). A run every minute hides none of them for
long, so every call is a batch (one per kind of question, one per tier deployment for its last
completion), never one per flow run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from healthmon.monitors.base import CheckFailed, Target
from healthmon.monitors.http import HttpMonitor, Reply, dig, error_message, failure, fetch, http_metrics
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier

DEFAULT_TAG = "healthmon"
#: Prefect's own PREFECT_API_SERVICES_LATE_RUNS_AFTER_SECONDS: a Scheduled run this far past its
#: start is Late, whether or not the server's late-runs service has renamed it yet
DEFAULT_LATE_AFTER_S = 15.0
#: Prefect's default API limit; a filter asking for more is refused (422)
PAGE = 200
#: a tier deployment without a completed run for this many intervals is not running
COMPLETED_WITHIN_INTERVALS = 2
#: a worker whose heartbeat is older than this many of its intervals is offline, whatever its
#: stored status says (the server's own marking needs its foreman service running)
MISSED_HEARTBEATS = 3
DEFAULT_HEARTBEAT_S = 30.0
#: reasons named in one result; the counts carry the rest
MAX_REASONS = 5
TIER_DEPLOYMENT_PREFIX = "tier-"


@dataclass(frozen=True)
class Deployment:
    id: str
    name: str
    paused: bool
    #: Prefect's READY: a runner or worker polled it lately
    ready: bool
    #: the shortest active interval schedule, None for cron-only (retention) or none
    interval_s: float | None
    pool: str | None
    created: datetime | None
    last_polled: datetime | None

    @property
    def is_tier(self) -> bool:
        return self.name.startswith(TIER_DEPLOYMENT_PREFIX)


@dataclass(frozen=True)
class Pool:
    name: str
    #: push and managed pools run without workers of their own
    needs_workers: bool
    paused: bool
    online: int
    last_heartbeat: datetime | None


class PrefectMonitor(HttpMonitor):
    service = "prefect"
    tier = Tier.CRITICAL
    required = ("api_url",)
    # four round trips on (usually) loopback inside the critical tier's 10 s
    default_timeout_s = 5.0
    description = (
        "GET /health, POST /deployments/filter (deployment_tag), /flow_runs/filter (late runs; "
        "last completed per tier deployment), /work_pools/filter, /work_pools/<pool>/workers/filter"
    )
    metrics = http_metrics(
        "late_runs",
        "oldest_late_s",
        "since_completed_s",
        "deployments",
        "deployments_not_ready",
        "paused",
        "pools_without_worker",
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        api = str(s["api_url"]).rstrip("/")
        headers = {"Accept": "application/json"}
        if s.get("api_key"):
            headers["Authorization"] = f"Bearer {s['api_key']}"
        tag = str(s.get("deployment_tag") or DEFAULT_TAG)
        late_after_s = float(s.get("late_after_s") or DEFAULT_LATE_AFTER_S)
        client = _Client(resources, api, headers)

        health = await fetch(resources, "GET", f"{api}/health", headers=headers)
        if health.status != 200:
            raise CheckFailed(failure(health, _detail(health)))
        if health.json() is not True:
            raise health.bad_body("the health answer is not true")
        # lateness is judged on the server's clock, the one its scheduled times are written in
        now = _server_time(health) or datetime.now(UTC)

        deployments = _deployments(
            await client.post("deployments/filter", {"deployments": {"tags": {"all_": [tag]}}, "limit": PAGE})
        )
        if not deployments:
            return Outcome.degraded(
                f"no deployment tagged {tag}: nothing of healthmon is scheduled on this Prefect",
                health.latency_ms,
                http_status=200,
                deployments=0,
            )
        async with _tasks() as group:
            due_before = now - timedelta(seconds=late_after_s)
            late_call = group.create_task(client.late_runs(deployments, due_before))
            completed_calls = {
                d.id: group.create_task(client.last_completed(d.id)) for d in deployments if d.is_tier
            }
            pools_call = group.create_task(client.pools(sorted({d.pool for d in deployments if d.pool}), now))
        return _decide(
            now,
            health.latency_ms,
            deployments,
            late_call.result(),
            {id_: call.result() for id_, call in completed_calls.items()},
            pools_call.result(),
        )


class _Client:
    """The batched reads of one check, each through the shared HTTP layer."""

    def __init__(self, resources: BatchResources, api: str, headers: Mapping[str, str]) -> None:
        self.resources, self.api, self.headers = resources, api, headers

    async def post(self, path: str, body: Mapping[str, Any]) -> list[Any]:
        url = f"{self.api}/{path}"
        reply = await fetch(self.resources, "POST", url, headers=self.headers, json_body=body)
        if reply.status != 200:
            raise CheckFailed(failure(reply, _detail(reply)))
        data = reply.json()
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise reply.bad_body(f"{path}: expected a list of objects")
        return data

    async def late_runs(self, deployments: Sequence[Deployment], due_before: datetime) -> list[Any]:
        body = {
            "flow_runs": {
                "deployment_id": {"any_": [d.id for d in deployments]},
                # AwaitingRetry is a Scheduled state too, but a retry, not a missed start
                "state": {"name": {"any_": ["Scheduled", "Late"]}},
                "expected_start_time": {"before_": _iso(due_before)},
            },
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": PAGE,
        }
        return await self.post("flow_runs/filter", body)

    async def last_completed(self, deployment_id: str) -> datetime | None:
        body = {
            "flow_runs": {
                "deployment_id": {"any_": [deployment_id]},
                "state": {"type": {"any_": ["COMPLETED"]}},
            },
            "sort": "END_TIME_DESC",
            "limit": 1,
        }
        runs = await self.post("flow_runs/filter", body)
        if not runs:
            return None
        # a state forced to Completed may carry no end time; its timestamp is when it completed
        return _time(runs[0].get("end_time")) or _time(dig(runs[0], "state", "timestamp"))

    async def pools(self, names: Sequence[str], now: datetime) -> dict[str, Pool | None]:
        """Each pool named, None for one that does not exist."""
        if not names:
            return {}
        found = await self.post("work_pools/filter", {"work_pools": {"name": {"any_": list(names)}}})
        by_name = {str(p.get("name")): p for p in found}
        wanted = [name for name in names if name in by_name and _needs_workers(by_name[name])]
        async with _tasks() as group:
            calls = {
                name: group.create_task(self.post(f"work_pools/{quote(name, safe='')}/workers/filter", {}))
                for name in wanted
            }
        pools: dict[str, Pool | None] = {}
        for name in names:
            raw = by_name.get(name)
            if raw is None:
                pools[name] = None
                continue
            workers = calls[name].result() if name in calls else []
            beats = [t for t in (_time(w.get("last_heartbeat_time")) for w in workers) if t is not None]
            pools[name] = Pool(
                name=name,
                needs_workers=name in calls,
                paused=raw.get("is_paused") is True,
                online=sum(_online(w, now) for w in workers),
                last_heartbeat=max(beats, default=None),
            )
        return pools


def _decide(
    now: datetime,
    latency_ms: float,
    deployments: Sequence[Deployment],
    late_runs: Sequence[Mapping[str, Any]],
    completed: Mapping[str, datetime | None],
    pools: Mapping[str, Pool | None],
) -> Outcome:
    unhealthy: list[str] = []
    degraded: list[str] = []
    late_starts: dict[str, list[datetime]] = {}
    for run in late_runs:
        start = _time(run.get("expected_start_time"))
        if start is not None:
            late_starts.setdefault(str(run.get("deployment_id")), []).append(start)
    oldest_late_s = 0.0
    since_completed: list[float] = []
    for d in deployments:
        if d.paused:
            # the stop of `healthmon serve` pauses its deployments: nothing of it will run
            degraded.append(f"{d.name}: paused")
            continue
        starts = late_starts.get(d.id, [])
        if starts:
            lateness = max(0.0, (now - min(starts)).total_seconds())
            oldest_late_s = max(oldest_late_s, lateness)
            what = f"{d.name}: {_runs(len(starts))} late, oldest {_duration(lateness)}"
            if d.interval_s is not None and lateness > d.interval_s:
                unhealthy.append(f"{what} (interval {_duration(d.interval_s)})")
            else:
                degraded.append(what)
        if d.is_tier and d.interval_s is not None:
            last = completed.get(d.id)
            # the server's Date has whole seconds: a run that just ended may read as ahead of it
            since = max(0.0, (now - (last or d.created or now)).total_seconds())
            since_completed.append(since)
            if since > COMPLETED_WITHIN_INTERVALS * d.interval_s:
                when = "no completed run for" if last else "never completed, created"
                unhealthy.append(
                    f"{d.name}: {when} {_duration(since)}{'' if last else ' ago'}"
                    f" (interval {_duration(d.interval_s)})"
                )
        if d.pool is None and not d.ready:
            # a served deployment has no pool: its readiness is its runner polling it
            polled = f"last polled {_clock(d.last_polled, now)}" if d.last_polled else "never polled"
            unhealthy.append(f"{d.name}: NOT_READY, no runner polls it ({polled})")
    without_worker = 0
    for name, pool in pools.items():
        if pool is None:
            unhealthy.append(f"pool {name}: does not exist")
        elif pool.paused:
            degraded.append(f"pool {name}: paused")
        elif pool.needs_workers and pool.online == 0:
            without_worker += 1
            beat = "no worker yet"
            if pool.last_heartbeat is not None:
                beat = f"last heartbeat {_clock(pool.last_heartbeat, now)}"
            unhealthy.append(f"pool {name}: no online worker ({beat})")
    details: dict[str, Any] = {
        "http_status": 200,
        "deployments": len(deployments),
        "deployments_not_ready": sum(not d.ready and d.pool is None and not d.paused for d in deployments),
        "paused": sum(d.paused for d in deployments),
        "late_runs": len(late_runs),
        "oldest_late_s": round(oldest_late_s, 1),
        "since_completed_s": round(max(since_completed), 1) if since_completed else None,
        "pools_without_worker": without_worker,
    }
    if len(late_runs) >= PAGE:
        details["late_runs_capped"] = True
    if late_starts:
        names = {d.id: d.name for d in deployments}
        details["late_by_deployment"] = {names.get(k, k): len(v) for k, v in sorted(late_starts.items())}
    reasons = unhealthy + degraded
    if len(reasons) > MAX_REASONS:
        reasons = [*reasons[:MAX_REASONS], f"and {len(reasons) - MAX_REASONS} more"]
    if unhealthy:
        return Outcome.unhealthy("; ".join(reasons), latency_ms, **details)
    if degraded:
        return Outcome.degraded("; ".join(reasons), latency_ms, **details)
    return Outcome.healthy(latency_ms, **details)


def _deployments(raw: Sequence[Mapping[str, Any]]) -> list[Deployment]:
    found = []
    for d in raw:
        # cron and rrule schedules (retention) have no interval to judge lateness by
        intervals = [
            float(interval)
            for entry in d.get("schedules") or []
            if isinstance(entry, dict)
            and entry.get("active", True)
            and isinstance(interval := dig(entry, "schedule", "interval"), int | float)
        ]
        found.append(
            Deployment(
                id=str(d.get("id")),
                name=str(d.get("name")),
                paused=d.get("paused") is True,
                ready=d.get("status") == "READY",
                interval_s=min(intervals, default=None),
                pool=str(d["work_pool_name"]) if d.get("work_pool_name") else None,
                created=_time(d.get("created")),
                last_polled=_time(d.get("last_polled")),
            )
        )
    return found


def _needs_workers(pool: Mapping[str, Any]) -> bool:
    kind = str(pool.get("type") or "")
    return not (kind.endswith(":push") or kind.startswith("prefect:managed"))


def _online(worker: Mapping[str, Any], now: datetime) -> bool:
    if worker.get("status") != "ONLINE":
        return False
    beat = _time(worker.get("last_heartbeat_time"))
    interval = worker.get("heartbeat_interval_seconds")
    every = float(interval) if isinstance(interval, int | float) and interval > 0 else DEFAULT_HEARTBEAT_S
    return beat is not None and (now - beat).total_seconds() <= MISSED_HEARTBEATS * every


@asynccontextmanager
async def _tasks() -> AsyncIterator[asyncio.TaskGroup]:
    """A TaskGroup that fails with its first task's own exception, so that a CheckFailed from
    one call ends the check with its outcome (the others are cancelled)."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failed:
        raise _first(failed) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _server_time(reply: Reply) -> datetime | None:
    raw = reply.headers.get("date")
    try:
        return None if raw is None else parsedate_to_datetime(raw).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _detail(reply: Reply) -> str | None:
    return error_message(reply.body, ("detail",), ("detail", 0, "msg"))


def _runs(count: int) -> str:
    return f"{count} run{'s' if count != 1 else ''}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _clock(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    at = at.astimezone(UTC)
    return at.strftime("%H:%MZ" if now - at < timedelta(hours=20) else "%Y-%m-%d %H:%MZ")
