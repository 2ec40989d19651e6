"""Every monitor test runs against the sandbox over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status
from healthmon.monitors.runner import RunPolicy, run_check
from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox

TENANTS = 5


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with start_in_thread(SandboxState.generate(TENANTS)) as running:
        yield running


@pytest.fixture(scope="session")
def bed(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The sandbox's config and tenants, as `healthmon sandbox --config-out` writes them."""
    config_path, tenants_path = write_bed(tmp_path_factory.mktemp("bed"), sandbox.base_url, sandbox.state)
    return {
        "services": yaml.safe_load(Path(config_path).read_text())["services"],
        "tenants": {
            t["id"]: t["integrations"] for t in yaml.safe_load(Path(tenants_path).read_text())["tenants"]
        },
    }


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").state.reset()


def secrets(settings: dict[str, Any]) -> frozenset[str]:
    from healthmon.monitors.redaction import secrets_of

    return secrets_of(settings)


async def run_monitor(
    monitor: Monitor,
    settings: dict[str, Any],
    tenant_id: str | None = None,
    timeout_s: float = 2.0,
    previous: dict[str, Any] | None = None,
) -> CheckResult:
    """One check as a tier run makes it (runner, timeout, re-check disabled for exact counts)."""
    target = Target(monitor.service, tenant_id, settings, secrets(settings), previous or {})
    async with BatchResources() as resources:
        return await run_check(
            monitor, target, resources, monitor.tier, RunPolicy(timeout_s=timeout_s, confirm_retries=0)
        )


def assert_no_secret(result: CheckResult, settings: dict[str, Any]) -> None:
    text = repr(result.details)
    for secret in secrets(settings):
        assert secret not in text


async def check_fault(
    monitor: Monitor, settings: dict[str, Any], expected: tuple[Any, str], tenant_id: str | None = None
) -> CheckResult:
    """Run a check while a fault is injected: the expected (status, error class), a reason,
    and no secret in the details. Returns the result for further assertions."""
    result = await run_monitor(monitor, settings, tenant_id, timeout_s=1.0)
    assert (result.status, result.details.get("error")) == expected, result.details
    assert result.details["reason"]
    assert_no_secret(result, settings)
    return result


#: failures every HTTP monitor meets the same way through monitors/http.py: (kind, params,
#: status, error class) rows for a `test_faults` parametrization
TRANSPORT_FAULTS: list[tuple[str, dict[str, Any], Status, str]] = [
    ("malformed_json", {}, Status.UNHEALTHY, "bad_body"),
    ("oversize", {"bytes": 3_000_000}, Status.UNHEALTHY, "oversize"),
    ("reset", {}, Status.UNHEALTHY, "reset"),
    ("hang", {}, Status.UNHEALTHY, "timeout"),
]
