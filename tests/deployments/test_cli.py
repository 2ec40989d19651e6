"""The `healthmon` command as a user runs it: a real process, real servers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from healthmon.storage.db import make_engine
from healthmon.storage.status import load_latest
from tests.support.cli import HEALTHMON, healthmon, json_lines
from tests.support.hang import HangingServer


def write_config(tmp_path: Path, pg: str, redis_url: str) -> Path:
    path = tmp_path / "healthmon.yaml"
    path.write_text(yaml.safe_dump({"services": {"postgres": {"dsn": pg}, "redis": {"url": redis_url}}}))
    return path


def env_for(tmp_path: Path, config: Path, db: str | None = None) -> dict[str, str]:
    env = {"HEALTHMON_CONFIG": str(config), "HEALTHMON_DATA_DIR": str(tmp_path / "data")}
    env["HEALTHMON_DATABASE_URL"] = db or ""
    env.pop("PREFECT_API_URL", None)
    return env


def test_upgrade_then_check_prints_two_healthy_json_lines(
    tmp_path: Path, pg_url: str, pg_server_url: str, redis_url: str
) -> None:
    env = env_for(tmp_path, write_config(tmp_path, pg_server_url, redis_url), db=pg_url)
    upgraded = healthmon("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    done = healthmon("check", "--tier", "critical", "--json", env=env)
    assert done.returncode == 0, done.stderr
    lines = json_lines(done)
    assert sorted((r["service"], r["status"]) for r in lines) == [
        ("postgres", "healthy"),
        ("redis", "healthy"),
    ]
    for line in lines:
        assert set(line) == {"service", "tenant", "tier", "status", "latency_ms", "details", "checked_at"}
        assert line["tenant"] is None and line["tier"] == "critical"
    assert set(load_latest(make_engine(pg_url))) == {("postgres", None), ("redis", None)}


def test_a_hanging_postgres_is_unhealthy_and_redis_still_checked(tmp_path: Path, redis_url: str) -> None:
    hang = HangingServer()
    try:
        config = write_config(tmp_path, f"postgresql://postgres@127.0.0.1:{hang.port}/postgres", redis_url)
        env = env_for(tmp_path, config)  # the embedded SQLite default
        assert healthmon("db", "upgrade", env=env).returncode == 0
        done = healthmon("check", "--tier", "critical", "--json", env=env)
    finally:
        hang.close()
    assert done.returncode == 1, done.stderr
    by_service = {r["service"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert by_service["postgres"]["status"] == "unhealthy"
    assert by_service["postgres"]["details"]["error"] == "timeout"
    assert by_service["redis"]["status"] == "healthy"


def test_table_output_and_single_service(tmp_path: Path, pg_server_url: str, redis_url: str) -> None:
    env = env_for(tmp_path, write_config(tmp_path, pg_server_url, redis_url))
    healthmon("db", "upgrade", env=env)
    done = healthmon("check", "--service", "redis", env=env)
    assert done.returncode == 0, done.stderr
    assert "redis" in done.stdout and "healthy" in done.stdout and "postgres" not in done.stdout


def test_usage_and_configuration_errors_exit_2_and_name_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("services:\n  postgres:\n    dsn: postgresql://u@db/app\n    timeout_s: -3\n")
    env = env_for(tmp_path, config)
    bad_config = healthmon("check", env=env)
    assert bad_config.returncode == 2 and "services.postgres.timeout_s" in bad_config.stderr
    assert healthmon("check", "--tier", "sometimes", env=env).returncode == 2
    unknown = healthmon("check", "--service", "oracle", env=env)
    assert unknown.returncode == 2 and "--service" in unknown.stderr
    mismatch = healthmon("check", "--tier", "core", "--service", "redis", env=env)
    assert mismatch.returncode == 2 and "critical tier" in mismatch.stderr


def test_check_before_upgrade_says_what_to_do(tmp_path: Path, pg_server_url: str, redis_url: str) -> None:
    env = env_for(tmp_path, write_config(tmp_path, pg_server_url, redis_url))
    done = healthmon("check", env=env)
    assert done.returncode == 2 and "healthmon db upgrade" in done.stderr


def test_unreachable_store_exits_3(tmp_path: Path, pg_server_url: str, redis_url: str) -> None:
    env = env_for(
        tmp_path,
        write_config(tmp_path, pg_server_url, redis_url),
        db="postgresql://postgres@127.0.0.1:1/healthmon",
    )
    done = healthmon("db", "upgrade", env=env)
    assert done.returncode == 3 and "cannot reach the database" in done.stderr


def test_monitors_lists_the_critical_tier() -> None:
    done = subprocess.run([*HEALTHMON, "monitors", "--json"], capture_output=True, text=True, check=True)
    rows = json_lines(done)
    assert {(r["service"], r["tier"], r["per_tenant"]) for r in rows} >= {
        ("postgres", "critical", False),
        ("redis", "critical", False),
    }
    assert all(r["metrics"] for r in rows)
