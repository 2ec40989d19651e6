"""`healthmon check` against the sandbox with the config it writes: every monitor, real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from healthmon.monitors.registry import MONITORS
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from tests.support import cli
from tests.support.app import SECRET_KEY

TENANTS = 3


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(TENANTS)) as sandbox:
        yield sandbox


def healthmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return cli.healthmon(*args, env=env, timeout=120)


def test_every_monitor_is_healthy_then_a_fault_is_reported(
    running: RunningSandbox, tmp_path: Path, sqlite_url: str, pg_server_url: str, redis_url: str
) -> None:
    config_path, tenants_path = write_bed(tmp_path, running.base_url, running.state)
    config = yaml.safe_load(config_path.read_text())
    config["services"]["postgres"] = {"dsn": pg_server_url}
    config["services"]["redis"] = {"url": redis_url}
    config_path.write_text(yaml.safe_dump(config))
    env = {
        "HEALTHMON_CONFIG": str(config_path),
        "HEALTHMON_DATABASE_URL": sqlite_url,
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
    }
    env.pop("PREFECT_API_URL", None)
    assert healthmon("tenants", "import", str(tenants_path), env=env).returncode == 0

    done = healthmon("check", "--json", env=env)
    results = [json.loads(line) for line in done.stdout.splitlines()]
    not_healthy = [
        (r["service"], r["tenant"], r["details"].get("reason")) for r in results if r["status"] != "healthy"
    ]
    assert not_healthy == [] and done.returncode == 0, done.stderr
    # prefect is checked only where a Prefect API is given (PREFECT_API_URL or services.prefect)
    checked = set(MONITORS) - {"prefect"}
    assert {r["service"] for r in results} == checked
    per_tenant = sum(m.per_tenant for m in MONITORS.values())
    assert len(results) == per_tenant * TENANTS + len(checked) - per_tenant

    # a fault injected through the control endpoint shows up with its reason
    fault = {"service": "vercel", "kind": "deployment_error"}
    assert httpx.post(f"{running.base_url}/_sandbox/faults", json=fault).status_code < 300
    try:
        broken = healthmon("check", "--service", "vercel", "--json", env=env)
    finally:
        httpx.post(f"{running.base_url}/_sandbox/reset")
    (vercel,) = [json.loads(line) for line in broken.stdout.splitlines()]
    assert broken.returncode == 1 and vercel["status"] == "unhealthy"
    assert "ERROR" in vercel["details"]["reason"]


def test_sandbox_command_serves_and_writes_a_test_bed(tmp_path: Path) -> None:
    from tests.support.servers import free_port, wait_port

    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthmon.deployments.cli",
            "sandbox",
            "--port",
            str(port),
            "--tenants",
            "4",
            "--config-out",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port, timeout=30)
        config = yaml.safe_load((tmp_path / "healthmon.yaml").read_text())
        tenants = yaml.safe_load((tmp_path / "tenants.yaml").read_text())["tenants"]
        assert len(tenants) == 4
        stripe = config["services"]["stripe"]
        reply = httpx.get(
            f"{stripe['base_url']}/v1/balance", headers={"Authorization": f"Bearer {stripe['api_key']}"}
        )
        assert reply.status_code == 200 and reply.json()["object"] == "balance"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
