"""`healthmon alerts list | ack | resolve | deliver` as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from healthmon.alerting.lifecycle import AlertChange, Decision
from healthmon.alerting.notification import Kind, Severity
from healthmon.flows import alerts as flow_alerts
from healthmon.sandbox import SandboxState, start_in_thread
from healthmon.sandbox.server import RunningSandbox
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from tests.support.cli import healthmon, json_lines


@pytest.fixture(scope="module")
def pagerduty() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(0)) as sandbox:
        yield sandbox


def test_alert_commands(tmp_path: Path, sqlite_url: str, pagerduty: RunningSandbox) -> None:
    config = tmp_path / "healthmon.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "channels": {
                    "pagerduty": {
                        "routing_key": pagerduty.state.platform.pagerduty_routing_key,
                        "events_url": f"{pagerduty.base_url}/pagerduty/v2/enqueue",
                    }
                }
            }
        )
    )
    env = {"HEALTHMON_DATABASE_URL": sqlite_url, "HEALTHMON_CONFIG": str(config)}
    engine = make_engine(sqlite_url)
    decision = Decision(
        changes=[
            AlertChange(
                "redis|-|health",
                "redis",
                None,
                "health",
                Severity.P1,
                "redis unhealthy (platform)",
                {"status": "unhealthy", "reason": "connection refused"},
            )
        ],
        notify=[("redis|-|health", Kind.TRIGGER)],
    )
    queued = flow_alerts.apply_decision(engine, decision, lambda *_: ["pagerduty"], datetime.now(UTC))
    assert len(queued) == 1

    delivered = healthmon("alerts", "deliver", "--now", env=env)
    assert delivered.returncode == 0 and "delivered 1" in delivered.stderr
    listed = json_lines(healthmon("alerts", "list", "--json", env=env))
    assert [(a["title"], a["status"]) for a in listed] == [("redis unhealthy (platform)", "open")]
    alert_id = str(listed[0]["id"])

    acked = healthmon("alerts", "ack", alert_id, "--by", "bob", env=env)
    assert acked.returncode == 0, acked.stderr
    resolved = healthmon("alerts", "resolve", alert_id, "--by", "bob", env=env)
    assert resolved.returncode == 0, resolved.stderr
    actions = [e["body"]["event_action"] for e in pagerduty.state.received("pagerduty")]
    assert actions == ["trigger", "acknowledge", "resolve"]
    (row,) = store.list_alerts(engine, ["resolved"])
    assert (row["acknowledged_by"], row["resolved_by"]) == ("bob", "bob")

    assert healthmon("alerts", "ack", "9999", env=env).returncode == 2
    assert healthmon("alerts", "list", "--status", "closed", env=env).returncode == 2
    table = healthmon("alerts", "list", "--status", "resolved", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0 and "redis unhealthy" in table.stdout


def test_silence_commands(tmp_path: Path, sqlite_url: str) -> None:
    env = {"HEALTHMON_DATABASE_URL": sqlite_url, "HEALTHMON_CONFIG": ""}
    added = healthmon(
        "silences", "add", "--service", "postgres", "--minutes", "30", "--reason", "upgrade", env=env
    )
    assert added.returncode == 0, added.stderr
    weekly = healthmon(
        "silences",
        "add",
        "--everything",
        "--reason",
        "sunday deploys",
        "--by",
        "carol",
        "--weekdays",
        "6",
        "--start",
        "02:00",
        "--duration-min",
        "90",
        env=env,
    )
    assert weekly.returncode == 0, weekly.stderr
    listed = json_lines(healthmon("silences", "list", "--json", env=env))
    assert (listed[0]["service"], listed[0]["tenant"], listed[0]["active_now"]) == ("postgres", None, True)
    assert listed[1]["recurrence"] == {"weekdays": [6], "start": "02:00", "duration_min": 90.0}
    assert (listed[1]["everything"], listed[1]["created_by"], listed[1]["reason"]) == (
        True,
        "carol",
        "sunday deploys",
    )
    bad = healthmon(
        "silences",
        "add",
        "--service",
        "redis",
        "--reason",
        "x",
        "--start",
        "25:00",
        "--duration-min",
        "5",
        env=env,
    )
    assert bad.returncode == 2 and "recurrence.start" in bad.stderr
    assert healthmon("silences", "end", str(listed[0]["id"]), env=env).returncode == 0
    assert healthmon("silences", "end", str(listed[0]["id"]), env=env).returncode == 2
