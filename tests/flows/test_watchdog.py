"""The watchdog against the store: stale tiers open one `healthmon` alert, sent through the
normal outbox and routes; fresh tiers resolve it; `healthmon watchdog --once` exit codes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthmon.alerting.watchdog import TierFreshness
from healthmon.flows.app import App
from healthmon.flows.watchdog import tier_intervals, watch_once
from healthmon.monitors.result import Tier
from healthmon.sandbox import RunningSandbox, SandboxState, start_in_thread
from healthmon.storage import alerts as store
from healthmon.storage.tier_runs import SCHEDULE, finish_run, start_run
from tests.support import cli
from tests.support.app import SECRET_KEY, AppFactory
from tests.support.rows import plant_status
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def receiver() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(0)) as sandbox:
        yield sandbox


def config(pg_server_url: str, receiver: RunningSandbox, **extra: Any) -> dict[str, Any]:
    return {
        "services": {"postgres": {"dsn": pg_server_url}},
        "channels": {"webhook": {"url": f"{receiver.base_url}/webhook/oncall"}},
        **extra,
    }


def sent(receiver: RunningSandbox) -> list[tuple[str, str]]:
    return [
        (r["body"]["kind"], r["body"]["signature"])
        for r in receiver.state.received("webhook")
        if r["body"]["service"] == "healthmon"
    ]


def critical_run_at(runtime: App, at: datetime) -> None:
    """A completed scheduled critical run and postgres' result, as of `at`."""
    run_id = f"run-{at.timestamp():.0f}"
    start_run(runtime.engine, run_id, "critical", SCHEDULE)
    finish_run(runtime.engine, run_id, state="completed", targets=1, checked=1, skipped=0, not_healthy=0)
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE tier_runs SET started_at = ?, finished_at = ? WHERE id = ?"
            if runtime.engine.dialect.name == "sqlite"
            else "UPDATE tier_runs SET started_at = %s, finished_at = %s WHERE id = %s",
            (_bind(runtime, at), _bind(runtime, at), run_id),
        )
        conn.exec_driver_sql("DELETE FROM service_status WHERE service = 'postgres'")
    plant_status(runtime.engine, "postgres", "healthy", at, tier="critical")


def _bind(runtime: App, at: datetime) -> Any:
    return at.replace(tzinfo=None).isoformat(" ") if runtime.engine.dialect.name == "sqlite" else at


async def test_a_stale_tier_opens_one_alert_and_a_fresh_one_resolves_it(
    db_url: str, pg_server_url: str, receiver: RunningSandbox, make_app: AppFactory
) -> None:
    receiver.state.clear_received()
    runtime = make_app(db_url, config(pg_server_url, receiver))
    intervals = tier_intervals()
    critical_run_at(runtime, NOW - timedelta(minutes=3))  # 3 intervals ago; the limit is 2

    first = await watch_once(runtime, intervals, now=NOW)
    assert list(first.stale) == ["critical"]
    assert "no completed critical run for 3 min" in first.stale["critical"]
    again = await watch_once(runtime, intervals, now=NOW + timedelta(seconds=15))
    assert (again.opened, again.notifications) == (0, 0)  # one alert, updated, not re-sent
    (alert,) = store.list_alerts(runtime.engine, ["open"])
    assert (alert["service"], alert["tenant_id"], alert["condition"]) == ("healthmon", None, "stale:critical")
    assert alert["severity"] == "p1" and alert["count"] == 2
    assert sent(receiver) == [("trigger", "healthmon|-|stale:critical")]

    critical_run_at(runtime, NOW + timedelta(seconds=20))
    back = await watch_once(runtime, intervals, now=NOW + timedelta(seconds=30))
    assert back.stale == {} and back.resolved == 1
    assert store.list_alerts(runtime.engine, ["open", "acknowledged"]) == []
    assert sent(receiver) == [
        ("trigger", "healthmon|-|stale:critical"),
        ("resolve", "healthmon|-|stale:critical"),
    ]


async def test_a_target_without_a_fresh_result_makes_its_tier_stale(
    db_url: str, pg_server_url: str, receiver: RunningSandbox, make_app: AppFactory
) -> None:
    cfg = config(pg_server_url, receiver)
    cfg["services"]["redis"] = {"url": "redis://127.0.0.1:1"}
    runtime = make_app(db_url, cfg)
    critical_run_at(runtime, NOW - timedelta(seconds=10))  # the tier ran, postgres is fresh...
    plant_status(runtime.engine, "redis", "healthy", NOW - timedelta(minutes=10), tier="critical")
    report = await watch_once(runtime, tier_intervals(), now=NOW)  # ...redis has not been checked
    assert report.stale["critical"].startswith("1 of 2 targets have no fresh result, oldest 10 min old")
    (alert,) = store.list_alerts(runtime.engine, ["open"])
    assert alert["details"]["examples"] == ["redis/platform"]


async def test_a_restarted_watchdog_settles_before_it_opens_or_resolves(
    db_url: str, pg_server_url: str, receiver: RunningSandbox, make_app: AppFactory
) -> None:
    runtime = make_app(db_url, config(pg_server_url, receiver))
    critical_run_at(runtime, NOW - timedelta(hours=1))  # healthmon was down for an hour
    started = NOW - timedelta(seconds=30)  # serve (and its watchdog) started 30 s ago
    settling = await watch_once(runtime, tier_intervals(), watching_since=started, now=NOW)
    assert settling.stale == {} and settling.settling == ["critical"]
    assert store.list_alerts(runtime.engine) == []  # no page for a gap that is already closing
    later = await watch_once(
        runtime, tier_intervals(), watching_since=started, now=NOW + timedelta(minutes=2)
    )
    assert list(later.stale) == ["critical"]  # past the first limit: the runs did not come back


async def test_stale_severity_follows_the_tier_and_a_tier_with_nothing_to_check_is_fresh(
    db_url: str, pg_server_url: str, receiver: RunningSandbox, make_app: AppFactory
) -> None:
    key = receiver.state.platform.stripe_key
    cfg = config(pg_server_url, receiver)
    cfg["services"] = {"stripe": {"base_url": f"{receiver.base_url}/stripe", "api_key": key}}
    runtime = make_app(db_url, cfg)
    report = await watch_once(runtime, tier_intervals(), now=NOW)
    assert report.watched == ["core"]  # no postgres or redis configured; no tenants
    (alert,) = store.list_alerts(runtime.engine)
    assert (alert["condition"], alert["severity"]) == ("stale:core", "p2")
    assert "no completed core run yet" in alert["details"]["reason"]


def test_freshness_reasons_say_what_is_old() -> None:
    fresh = TierFreshness(Tier.CORE, 600.0, NOW - timedelta(seconds=30), None, 3)
    assert fresh.fresh(NOW) and fresh.reason(NOW) is None
    nothing = TierFreshness(Tier.CORE, 600.0, None, None, 0)
    assert nothing.fresh(NOW)  # nothing to check: nothing to be stale
    never = TierFreshness(Tier.CORE, 600.0, None, None, 3)
    assert never.reason(NOW) == "no completed core run yet (limit 10 min)"


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return cli.run([*cli.HEALTHMON, "watchdog", *args], env=env, cwd=ROOT, timeout=120)


def test_watchdog_once_exit_codes(
    tmp_path: Path, sqlite_url: str, pg_server_url: str, receiver: RunningSandbox
) -> None:
    path = tmp_path / "healthmon.yaml"
    path.write_text(yaml.safe_dump(config(pg_server_url, receiver)))
    env = {
        **os.environ,
        "HEALTHMON_CONFIG": str(path),
        "HEALTHMON_DATABASE_URL": sqlite_url,
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
    }
    stale = _cli(env, "--once")
    assert stale.returncode == 1, stale.stderr
    assert "critical STALE: no completed critical run yet" in stale.stderr

    done = cli.run([*cli.HEALTHMON, "check", "--tier", "critical"], env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    fresh = _cli(env, "--once")
    assert fresh.returncode == 0, fresh.stderr
    assert "watchdog: critical fresh" in fresh.stderr

    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    down = _cli({**env, "HEALTHMON_DATABASE_URL": nowhere}, "--once")
    assert down.returncode == 3, down.stderr
    assert "database" in down.stderr and "Traceback" not in down.stderr
