"""The `prefect` monitor against a real Prefect API (the session's harness), and against a tiny
HTTP server of its own for the answers a real Prefect never gives; then the default-on rule.

Each test deploys under a tag of its own, so it sees only its own deployments on the shared
harness (and other tests never see them)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
from aiohttp import web

from healthmon.config.loader import parse_config
from healthmon.config.services import with_prefect_default
from healthmon.config.settings import Settings
from healthmon.flows.app import config_problems, service_metrics
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status, Tier
from tests.support.vendor_cases import assert_no_secret, run_monitor

pytestmark = pytest.mark.usefixtures("prefect_harness")
T = TypeVar("T")

MONITOR = MONITORS["prefect"]
#: ports of this module's own servers (nothing listens on REFUSED_PORT)
REFUSED_PORT, FAKE_PORT = 4450, 4451


def _api() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value())


class Bed:
    """Deployments of one test: a flow of its own, its deployments under its own tag."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tag = f"hm-test-{uuid.uuid4().hex[:8]}"
        self.flow_id: UUID | None = None

    async def deploy(
        self, name: str, interval_s: float | None = 300, pool: str | None = None, paused: bool = False
    ) -> UUID:
        from prefect.client.schemas.actions import DeploymentScheduleCreate
        from prefect.client.schemas.schedules import IntervalSchedule

        if self.flow_id is None:
            self.flow_id = await self.client.create_flow_from_name(f"flow-{self.tag}")
        schedules = (
            []
            if interval_s is None
            else [DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=interval_s)))]
        )
        deployment_id: UUID = await self.client.create_deployment(
            flow_id=self.flow_id,
            name=name,
            tags=[self.tag],
            schedules=schedules,
            work_pool_name=pool,
            paused=paused,
        )
        return deployment_id

    async def polled(self, *deployment_ids: UUID) -> None:
        """What a runner polling its deployments does: Prefect marks them READY (in a task of its
        own after it answers, so this waits for it)."""
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        await self.client.get_scheduled_flow_runs_for_deployments(list(deployment_ids))
        only = DeploymentFilter(id=DeploymentFilterId(any_=list(deployment_ids)))

        async def statuses() -> list[Any]:
            return [d.status for d in await self.client.read_deployments(deployment_filter=only)]

        await until(statuses, lambda found: all(s == "READY" for s in found), "deployments READY")

    async def completed(self, deployment_id: UUID) -> None:
        from prefect.states import Completed

        run = await self.client.create_flow_run_from_deployment(deployment_id)
        await self.client.set_flow_run_state(run.id, Completed(), force=True)

    async def scheduled_in_the_past(
        self, deployment_id: UUID, *minutes_ago: float, late: bool = False
    ) -> None:
        from prefect.states import Late, Scheduled

        for minutes in minutes_ago:
            at = datetime.now(UTC) - timedelta(minutes=minutes)
            run = await self.client.create_flow_run_from_deployment(
                deployment_id, state=Scheduled(scheduled_time=at)
            )
            if late:  # as Prefect's late-runs service marks them (the harness does not run it)
                await self.client.set_flow_run_state(run.id, Late(scheduled_time=at), force=True)

    async def check(self, **settings: Any) -> CheckResult:
        return await run_monitor(MONITOR, {"api_url": _api(), "deployment_tag": self.tag, **settings})


async def until(
    read: Callable[[], Awaitable[T]], done: Callable[[T], bool], what: str, timeout_s: float = 20
) -> T:
    """The first value of `read` that is `done`; fails naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}: {value}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def bed() -> AsyncIterator[Bed]:
    from prefect import get_client

    async with get_client() as client:
        yield Bed(client)


async def test_served_deployments_polled_and_completing_are_healthy(bed: Bed) -> None:
    core, deliver = await bed.deploy("tier-core"), await bed.deploy("deliver", 60)
    await bed.polled(core, deliver)
    await bed.completed(core)
    result = await bed.check()
    assert result.status is Status.HEALTHY, result.details
    assert result.tier is Tier.CRITICAL and result.latency_ms is not None
    details = result.details
    assert (details["deployments"], details["deployments_not_ready"], details["paused"]) == (2, 0, 0)
    assert (details["late_runs"], details["oldest_late_s"], details["pools_without_worker"]) == (0, 0, 0)
    assert 0 <= details["since_completed_s"] < 60


async def test_runs_late_by_more_than_an_interval_are_unhealthy_naming_the_deployment(bed: Bed) -> None:
    core = await bed.deploy("tier-core")
    await bed.polled(core)
    await bed.completed(core)
    await bed.scheduled_in_the_past(core, 11, 8)
    await bed.scheduled_in_the_past(core, 6, late=True)
    result = await bed.check()
    assert result.status is Status.UNHEALTHY
    assert result.details["reason"] == "tier-core: 3 runs late, oldest 11 min (interval 5 min)"
    assert result.details["late_runs"] == 3 and 655 < result.details["oldest_late_s"] < 700
    assert result.details["late_by_deployment"] == {"tier-core": 3}


async def test_one_run_late_under_an_interval_is_degraded(bed: Bed) -> None:
    external = await bed.deploy("tier-external", 1800)
    await bed.polled(external)
    await bed.completed(external)
    await bed.scheduled_in_the_past(external, 2)
    result = await bed.check()
    assert result.status is Status.DEGRADED
    assert result.details["reason"] == "tier-external: 1 run late, oldest 2 min"


async def test_a_tier_without_a_completed_run_for_two_intervals_is_unhealthy(bed: Bed) -> None:
    critical = await bed.deploy("tier-critical", 1)
    await bed.polled(critical)
    await bed.completed(critical)
    result = await until(
        bed.check, lambda r: r.status is Status.UNHEALTHY, "2 intervals without a completion"
    )
    assert re.fullmatch(
        r"tier-critical: no completed run for \d s \(interval 1 s\)", result.details["reason"]
    )
    # over 2 s by the monitor's clock; the detail is rounded to 0.1 s, so 2.04 s reads 2.0
    assert result.details["since_completed_s"] >= 2


async def test_a_pool_without_a_worker_is_unhealthy_until_a_worker_heartbeats(bed: Bed) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate

    pool = f"pool-{bed.tag}"
    await bed.client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    core = await bed.deploy("tier-core", pool=pool)
    await bed.completed(core)
    result = await bed.check()
    assert result.status is Status.UNHEALTHY
    assert result.details["reason"] == f"pool {pool}: no online worker (no worker yet)"
    assert result.details["pools_without_worker"] == 1

    await bed.client.send_worker_heartbeat(pool, "worker-1", heartbeat_interval_seconds=30)
    # the client may send it over its worker channel, recorded after the call returns
    result = await until(bed.check, lambda r: r.status is Status.HEALTHY, "the worker counted online")
    assert result.details["pools_without_worker"] == 0


async def test_paused_deployments_are_degraded(bed: Bed) -> None:
    core = await bed.deploy("tier-core", paused=True)
    deliver = await bed.deploy("deliver", 60)
    await bed.polled(deliver)
    result = await bed.check()
    assert result.status is Status.DEGRADED, result.details
    assert result.details["reason"] == "tier-core: paused" and result.details["paused"] == 1
    assert core


async def test_a_served_deployment_no_runner_polls_is_unhealthy(bed: Bed) -> None:
    await bed.deploy("deliver", 60)
    result = await bed.check()
    assert result.status is Status.UNHEALTHY
    assert result.details["reason"] == "deliver: NOT_READY, no runner polls it (never polled)"
    assert result.details["deployments_not_ready"] == 1


async def test_no_deployment_with_the_tag_is_degraded(bed: Bed) -> None:
    result = await bed.check()
    assert result.status is Status.DEGRADED
    assert result.details["reason"].startswith(f"no deployment tagged {bed.tag}")


# -- answers a real Prefect does not give ---------------------------------------------------------

KEY = "pnu_secretsecretsecret1234"


@pytest.fixture
async def fake_api() -> AsyncIterator[dict[str, Any]]:
    """A Prefect API stand-in: `answers` maps a path to (status, body) or "hang"."""
    answers: dict[str, Any] = {}
    never = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = answers.get(request.path, (404, '{"detail": "Not Found"}'))
        if answer == "hang":
            await never.wait()
        status, body = answer
        return web.Response(status=status, text=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", FAKE_PORT).start()
    try:
        yield answers
    finally:
        never.set()
        await runner.cleanup()


FAKE = f"http://127.0.0.1:{FAKE_PORT}/api"


@pytest.mark.parametrize(
    ("answers", "expected", "reason"),
    [
        (
            {"/api/health": (200, '{"status": "ok"}')},
            (Status.UNHEALTHY, "bad_body"),
            "the health answer is not true",
        ),
        (
            {"/api/health": (200, "true"), "/api/deployments/filter": (200, "<html>nonsense")},
            (Status.UNHEALTHY, "bad_body"),
            "malformed JSON in a 200 answer",
        ),
        (
            {"/api/health": (200, "true"), "/api/deployments/filter": (200, '{"a": 1}')},
            (Status.UNHEALTHY, "bad_body"),
            "deployments/filter: expected a list of objects",
        ),
        (
            {"/api/health": (401, f'{{"detail": "invalid key {KEY}"}}')},
            (Status.UNHEALTHY, "auth"),
            "invalid key ***",
        ),
        ({"/api/health": (503, "{}")}, (Status.UNHEALTHY, "vendor_error"), "vendor error (HTTP 503)"),
        ({"/api/health": "hang"}, (Status.UNHEALTHY, "timeout"), "no answer within 0.5s"),
    ],
    ids=["health-not-true", "bad-json", "not-a-list", "auth-echoing-the-key", "5xx", "timeout"],
)
async def test_answers_prefect_never_gives_end_in_a_result_with_a_reason(
    fake_api: dict[str, Any], answers: dict[str, Any], expected: tuple[Status, str], reason: str
) -> None:
    fake_api.update(answers)
    settings = {"api_url": FAKE, "api_key": KEY}
    result = await run_monitor(MONITOR, settings, timeout_s=0.5)
    assert (result.status, result.details.get("error")) == expected, result.details
    assert result.details["reason"] == reason
    assert_no_secret(result, settings)


async def test_a_refused_connection_is_unhealthy() -> None:
    result = await run_monitor(MONITOR, {"api_url": f"http://127.0.0.1:{REFUSED_PORT}/api"})
    assert (result.status, result.details["error"], result.details["reason"]) == (
        Status.UNHEALTHY,
        "connect",
        "connection refused",
    )


async def test_without_an_api_url_it_cannot_decide() -> None:
    result = await run_monitor(MONITOR, {})
    assert result.status is Status.UNKNOWN and result.details["reason"] == "not configured: missing api_url"


# -- on by default where a Prefect API is set --------------------------------------------------


def test_prefect_api_url_turns_the_service_on_unless_the_config_says_otherwise() -> None:
    url = "http://127.0.0.1:4200/api"
    settings = Settings(_env_file=None, PREFECT_API_URL=url)  # type: ignore[call-arg]
    assert settings.prefect_api_url == url
    assert Settings(_env_file=None).prefect_api_url is None  # type: ignore[call-arg]

    defaulted = with_prefect_default({}, url)
    assert defaulted["prefect"].options() == {"api_url": url} and defaulted["prefect"].enabled
    assert with_prefect_default({}, None) == {}  # no Prefect API, no config: not checked at all
    own = parse_config({"services": {"prefect": {"enabled": False}}}, env={}, metrics=service_metrics())
    assert with_prefect_default(own.services, url)["prefect"].enabled is False
    with pytest.raises(ValueError, match="not a URL"):
        with_prefect_default({}, "localhost:4200")


def test_a_prefect_block_of_its_own_passes_the_config_check() -> None:
    raw = {
        "services": {
            "prefect": {
                "api_url": "${PREFECT_API_URL}",
                "api_key": "${PREFECT_API_KEY}",
                "deployment_tag": "healthmon",
                "late_after_s": 30,
                "thresholds": {"late_runs": {"degraded": 1}},
            }
        }
    }
    env = {"PREFECT_API_URL": "https://api.prefect.cloud/api/accounts/a/workspaces/w", "PREFECT_API_KEY": KEY}
    config = parse_config(raw, env=env, metrics=service_metrics())
    assert config_problems(config) == []
    assert config.services["prefect"].options()["api_url"] == env["PREFECT_API_URL"]
