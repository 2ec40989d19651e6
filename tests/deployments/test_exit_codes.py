"""Every command keeps its exit codes: the store unreachable is 3 with one line, a store
without tables and bad usage are 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from healthmon.deployments.cli import app
from tests.support.app import SECRET_KEY
from tests.support.servers import free_port

runner = CliRunner()

STORE_COMMANDS = [
    ["db", "upgrade"],
    ["check", "--tier", "critical"],
    ["tenants", "list"],
    ["tenants", "remove", "acme"],
    ["tenants", "add", "acme", "--name", "Acme"],
    ["alerts", "list"],
    ["alerts", "ack", "1"],
    ["alerts", "resolve", "1"],
    ["alerts", "deliver"],
    ["silences", "list"],
    ["silences", "end", "1"],
    ["watchdog", "--once"],
]


@pytest.fixture
def down_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "healthmon.yaml"
    config.write_text(yaml.safe_dump({"services": {"redis": {"url": "redis://127.0.0.1:1/0"}}}))
    return {
        "HEALTHMON_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/healthmon",
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
        "HEALTHMON_CONFIG": str(config),
        "HEALTHMON_REDIS_URL": "",
        "PREFECT_API_URL": "",
    }


@pytest.mark.parametrize("argv", STORE_COMMANDS, ids=" ".join)
def test_the_store_unreachable_is_exit_3_with_one_line(argv: list[str], down_env: dict[str, str]) -> None:
    done = runner.invoke(app, argv, env=down_env)
    assert done.exit_code == 3, (done.output, done.exception)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "database" in lines[0], done.stderr
    assert "Traceback" not in done.output


@pytest.mark.parametrize(
    "argv",
    [["tenants", "list"], ["alerts", "list"], ["silences", "list"], ["check", "--tier", "critical"]],
    ids=" ".join,
)
def test_a_store_without_tables_says_to_migrate(
    argv: list[str], tmp_path: Path, down_env: dict[str, str]
) -> None:
    env = {**down_env, "HEALTHMON_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = runner.invoke(app, argv, env=env)
    assert done.exit_code == 2, (done.output, done.exception)
    assert "healthmon db upgrade" in done.stderr


def test_check_names_an_unknown_or_unchecked_tenant(sqlite_url: str, down_env: dict[str, str]) -> None:
    env = {**down_env, "HEALTHMON_DATABASE_URL": sqlite_url}
    unknown = runner.invoke(app, ["check", "--tenant", "nope"], env=env)
    assert unknown.exit_code == 2 and "--tenant: no tenant 'nope'" in unknown.stderr
    added = runner.invoke(
        app,
        [
            "tenants", "add", "acme", "--integration", "shopify",
            "--set", "shop=acme.myshopify.com", "--set", "access_token=shpat_0123456789",
        ],
        env=env,
    )
    assert added.exit_code == 0, added.stderr
    wrong_tier = runner.invoke(app, ["check", "--tier", "critical", "--tenant", "acme"], env=env)
    assert wrong_tier.exit_code == 2
    assert "--tenant: 'acme' has no integration this check covers" in wrong_tier.stderr
    assert "its integrations: shopify" in wrong_tier.stderr
    disabled = runner.invoke(app, ["tenants", "add", "acme", "--disabled"], env=env)
    assert disabled.exit_code == 0, disabled.stderr
    off = runner.invoke(app, ["check", "--tenant", "acme"], env=env)
    assert off.exit_code == 2 and "is disabled" in off.stderr


def test_unknown_service_and_bad_arguments_exit_2(down_env: dict[str, str]) -> None:
    service = runner.invoke(app, ["check", "--service", "stripey"], env=down_env)
    assert service.exit_code == 2 and "--service: unknown service 'stripey'" in service.stderr
    not_a_number = runner.invoke(app, ["alerts", "ack", "twelve"], env=down_env)
    assert not_a_number.exit_code == 2 and "alert_id" in not_a_number.output
