"""`healthmon alerts ack|resolve` with several ids or a whole --group, and one note."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from healthmon.deployments.cli import app
from healthmon.storage import alerts as store
from healthmon.storage.db import make_engine
from tests.support.alert_groups import open_group, tenants
from tests.support.app import SECRET_KEY

runner = CliRunner()


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    return {
        "HEALTHMON_DATABASE_URL": sqlite_url,
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
        "HEALTHMON_CONFIG": "",
        "HEALTHMON_REDIS_URL": "",
        "PREFECT_API_URL": "",
    }


def rows(url: str, ids: list[int]) -> list[tuple[str, str | None, str | None]]:
    found = store.alerts_by_ids(make_engine(url), ids)
    return [
        (found[i]["status"], found[i]["acknowledged_by"] or found[i]["resolved_by"], found[i]["note"])
        for i in ids
    ]


def test_acknowledge_a_group_then_resolve_by_ids(env: dict[str, str]) -> None:
    url = env["HEALTHMON_DATABASE_URL"]
    group = open_group(make_engine(url), "meta_ads", tenants(5))
    other = open_group(make_engine(url), "shopify", ["t000"])

    acked = runner.invoke(
        app,
        ["alerts", "ack", "--group", "meta_ads|health", "--note", "rotating tokens", "--by", "alice"],
        env=env,
    )
    assert acked.exit_code == 0, acked.output
    assert f"5 acknowledged by alice ({', '.join(map(str, group))})" in acked.stderr
    assert rows(url, group) == [("acknowledged", "alice", "rotating tokens")] * 5
    assert rows(url, other) == [("open", None, None)]

    chosen = [group[0], group[1], other[0]]
    resolved = runner.invoke(app, ["alerts", "resolve", *map(str, chosen), "--by", "bob"], env=env)
    assert resolved.exit_code == 0, resolved.output
    assert "3 resolved by bob" in resolved.stderr
    # resolved alerts keep the note they had; acknowledging them again changes nothing
    assert [r[0] for r in rows(url, chosen)] == ["resolved"] * 3
    again = runner.invoke(app, ["alerts", "ack", str(group[0]), str(group[2]), "--by", "carol"], env=env)
    assert again.exit_code == 0, again.output
    assert f"0 acknowledged by carol; 2 unchanged ({group[0]}, {group[2]})" in again.stderr
    assert rows(url, [group[2]]) == [("acknowledged", "alice", "rotating tokens")]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["alerts", "ack"], "give alert ids or --group KEY"),
        (["alerts", "resolve", "1", "--group", "meta_ads|health"], "give alert ids or --group KEY"),
        (["alerts", "ack", "--group", "meta ads"], "--group: must be service|condition"),
        (["alerts", "ack", "1", "--note", "x" * 1001], "--note: at most 1,000 characters"),
        (["alerts", "resolve", "1", "999999"], "no alert 999999; nothing was changed"),
    ],
)
def test_bad_usage_exits_2_and_changes_nothing(env: dict[str, str], argv: list[str], message: str) -> None:
    url = env["HEALTHMON_DATABASE_URL"]
    (alert_id,) = open_group(make_engine(url), "meta_ads", ["t000"])
    assert alert_id == 1
    done = runner.invoke(app, argv, env=env)
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.stderr.split())
    assert rows(url, [alert_id]) == [("open", None, None)]
