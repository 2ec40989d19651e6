"""The watchdog against a real `healthmon serve`: serve stops, one stale alert per channel;
serve starts again, one resolve. Serve's own runs are recorded as scheduled (a run by hand is
manual: tests/flows/test_flow_prefect.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text

from healthmon.sandbox import RunningSandbox, SandboxState, start_in_thread
from healthmon.storage.db import make_engine
from tests.support.serve import serve_env, start, stop
from tests.support.servers import free_port
from tests.support.waiting import wait_until

SCALE = "0.2"  # critical every 12 s
CRITICAL_S = 60 * float(SCALE)
#: stale after 4 intervals (48 s), not the default 2: a 12 s tier on a 2-core box running other
#: tests beside it (two pytest workers) may really miss one run, and this test is about a stop
STALE_AFTER = 4


@pytest.fixture
def receiver() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(0)) as running:
        yield running


def _scalar(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_watchdog_alerts_once_when_serve_stops_and_resolves_when_it_is_back(
    tmp_path: Path, pg_server_url: str, redis_url: str, sqlite_url: str, receiver: RunningSandbox
) -> None:
    config = tmp_path / "healthmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "services": {"postgres": {"dsn": pg_server_url}, "redis": {"url": redis_url}},
                "channels": {"webhook": {"url": f"{receiver.base_url}/webhook/oncall"}},
                "watchdog": {"check_every_s": 0.5, "stale_after": STALE_AFTER},
            }
        )
    )
    env = serve_env(tmp_path, config, sqlite_url)
    prefect_port = str(free_port())
    # the critical tier alone (the config has nothing for the others to check), deliver at its
    # own minute: each run is a flow-run process, and this test is about the watchdog
    serve_argv = ["serve", "--prefect-port", prefect_port, "--tier-interval", f"critical={CRITICAL_S:g}"]
    serve_argv += ["--delivery-interval", "60"]
    engine = make_engine(sqlite_url)
    serve_log, watchdog_log = tmp_path / "serve.log", tmp_path / "watchdog.log"

    def received(kind: str) -> list[dict[str, Any]]:
        return [
            r["body"]
            for r in receiver.state.received("webhook")
            if r["body"]["service"] == "healthmon" and r["body"]["kind"] == kind
        ]

    def completed_critical() -> int:
        sql = "SELECT count(*) FROM tier_runs WHERE tier='critical' AND state='completed'"
        return int(_scalar(engine, sql))

    serve = start(serve_argv, env, serve_log)
    watchdog: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: completed_critical() >= 1, 120, "a completed critical run", every_s=0.5)
        # the one to keep alive where serve is not (serve runs a watchdog of its own too)
        watchdog = start(["watchdog", "--interval-scale", SCALE], env, watchdog_log)
        assert received("trigger") == []  # serving: fresh, nothing said
        assert stop(serve) == 0

        wait_until(lambda: received("trigger"), 90, "the stale alert on the webhook", every_s=0.5)
        stopped_runs = completed_critical()
        alert = received("trigger")[0]
        assert alert["signature"] == "healthmon|-|stale:critical"
        assert alert["severity"] == "p1" and alert["tenant"] is None
        # results and the run that made them age together: whichever the watchdog saw first
        assert "no completed critical run" in alert["reason"] or "no fresh result" in alert["reason"]

        serve = start(serve_argv, env, serve_log)
        wait_until(lambda: received("resolve"), 120, "the resolve on the webhook", every_s=0.5)
        assert completed_critical() > stopped_runs
    finally:
        if serve.poll() is None:
            stop(serve)
        if watchdog is not None and watchdog.poll() is None:
            assert stop(watchdog) == 0
    # once per channel, not once per look: the stopped serve's alert was told once and resolved
    # once. A loaded machine may let the tier go stale again after that (a real episode of its
    # own, a new alert); whatever follows must still alternate, one trigger per alert.
    said = [
        (r["body"]["kind"], r["body"]["alert_id"])
        for r in receiver.state.received("webhook")
        if r["body"]["service"] == "healthmon"
    ]
    first = alert["alert_id"]
    assert [kind for kind, alert_id in said if alert_id == first] == ["trigger", "resolve"]
    assert [kind for kind, _ in said][:2] == ["trigger", "resolve"]
    assert all(a != b for (a, _), (b, _) in pairwise(said)), said
    sql = f"SELECT status FROM platform_alerts WHERE id={int(first)}"
    assert _scalar(engine, sql) == "resolved"
    sql = "SELECT count(*) FROM tier_runs WHERE trigger='schedule' AND state='completed'"
    assert _scalar(engine, sql) >= 2  # serve's own runs are Prefect's scheduled runs
    assert "STALE" in watchdog_log.read_text()
