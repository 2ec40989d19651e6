"""Every monitor test runs against the sandbox over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from healthmon.sandbox import SandboxState, start_in_thread, write_bed
from healthmon.sandbox.server import RunningSandbox
from tests.support.servers import RedisServer, start_redis

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


@pytest.fixture
def small_redis() -> Iterator[RedisServer]:
    """A Redis at its memory limit after a few MB, evicting the least recently used keys."""
    server = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")
    yield server
    server.stop()
