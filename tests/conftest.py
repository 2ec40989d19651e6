"""Real PostgreSQL and Redis for every test, a clean database per test, Prefect's harness once.

Cheap to load: healthmon's parts are imported by the fixtures that use them, so a test module
pays only for what it needs. Shared helpers live in tests/support, not here."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from tests.support.app import SECRET_KEY, AppFactory
from tests.support.pg_pool import PgPool
from tests.support.serve import SERVED_MODULES
from tests.support.servers import start_postgres, start_redis

if TYPE_CHECKING:
    from healthmon.config import HealthmonConfig
    from healthmon.flows.app import App


#: property-based API tests and the plugins they need: loaded only when such tests are collected
#: (pyproject's addopts leaves them out), so that one module's run does not pay ~1 s for them
PROPERTY_TESTS = Path(__file__).parent / "api" / "test_schema.py"
PROPERTY_PLUGINS = {
    "hypothesispytest": "_hypothesis_pytestplugin",
    "schemathesis": "schemathesis.pytest.plugin",
}


def pytest_configure(config: pytest.Config) -> None:
    wanted = [Path(str(a).split("::")[0]).resolve() for a in config.args] or [Path.cwd().resolve()]
    if any(PROPERTY_TESTS == a or a in PROPERTY_TESTS.parents for a in wanted):
        for name, module in PROPERTY_PLUGINS.items():
            if config.pluginmanager.get_plugin(name) is None:  # not already loaded by its entry point
                config.pluginmanager.import_plugin(module)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The served modules go first: under xdist (--dist loadfile --no-loadscope-reorder, each
    worker sorting its collection the same way) their minutes start at once rather than last."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in SERVED_MODULES)  # stable


def _pg_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


class _Server(Protocol):
    url: str

    def stop(self) -> None: ...


def _server_url(
    variable: str, default: str, answers: Callable[[str], bool], start: Callable[[], _Server]
) -> Iterator[str]:
    """The URL in `variable` (else `default`) if a server answers there, else a throwaway server's."""
    # set but empty means unset, as for every HEALTHMON_* variable
    url = os.environ.get(variable) or default
    if answers(url):
        yield url
        return
    server = start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL superuser URL: HEALTHMON_TEST_DATABASE_URL, the local server, or a throwaway one."""
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    yield from _server_url("HEALTHMON_TEST_DATABASE_URL", local, _pg_answers, start_postgres)


def _own_redis_db(url: str) -> str:
    """Under pytest-xdist (`make test` runs two workers) each worker gets a database of its
    own on a shared server (gw0 the one named, gw1 the next, and so on), so that cache keys and pub/sub
    channels of one worker's tests never meet the other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + int(worker[2:])) % 16}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    local = "redis://127.0.0.1:6379/0"
    for url in _server_url("HEALTHMON_TEST_REDIS_URL", local, _redis_answers, start_redis):
        yield _own_redis_db(url)


def _admin(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def _with_db(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template(pg_server_url: str) -> Iterator[str]:
    """A migrated template database; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    from healthmon.storage.db import make_engine
    from healthmon.storage.migrate import upgrade

    name = f"healthmon_tpl_{uuid.uuid4().hex[:8]}"
    with _admin(pg_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_with_db(pg_server_url, name))
    upgrade(engine)
    engine.dispose()
    yield name
    with _admin(pg_server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_pool(pg_server_url: str, pg_template: str) -> Iterator[PgPool]:
    pool = PgPool(pg_server_url, pg_template)
    yield pool
    pool.close()


@pytest.fixture
def pg_url(pg_server_url: str, pg_pool: PgPool) -> Iterator[str]:
    """An empty migrated database of this test's own (tests/support/pg_pool.py)."""
    name = pg_pool.take()
    yield _with_db(pg_server_url, name)
    pg_pool.give_back(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from healthmon.storage.db import make_engine
    from healthmon.storage.migrate import upgrade

    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "healthmon.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Storage tests run on both backends."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """Build an App from a config dict; it is also hosted (flows.app.hosting) for the code that
    Prefect starts, as the CLI does, so the flow tests run on it."""
    from healthmon.config import HealthmonConfig, Settings
    from healthmon.config.loader import parse_config
    from healthmon.flows.app import build_app, hosting

    made: list[tuple[App, Any]] = []

    def factory(
        database_url: str,
        config: dict[str, Any] | HealthmonConfig | None = None,
        redis_url: str | None = None,
        secret_key: str | None = SECRET_KEY,
    ) -> App:
        settings = Settings(
            database_url=database_url,
            redis_url=redis_url,
            secret_key=SecretStr(secret_key) if secret_key else None,
            data_dir=tmp_path,
        )
        cfg = config if isinstance(config, HealthmonConfig) else parse_config(config or {}, env={})
        runtime = build_app(settings, cfg)
        ctx = hosting(runtime)
        ctx.__enter__()
        made.append((runtime, ctx))
        return runtime

    yield factory
    for runtime, ctx in reversed(made):
        ctx.__exit__(None, None, None)
        runtime.close()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (a real API on a temporary database), started once per worker,
    on a database already migrated (tests/support/prefect_home.py): ~10 s instead of ~20."""
    from unittest import mock

    import prefect.testing.utilities as harness
    from prefect.testing.utilities import prefect_test_harness

    from tests.support.prefect_home import migrated_database

    # the harness puts its database in a directory of its own making: made here, with the
    # migrated database in it under the harness's name for it
    home = Path(tempfile.mkdtemp(prefix="prefect-harness-"))
    shutil.copyfile(migrated_database(), home / "prefect-test.db")
    seeded = mock.patch.object(harness, "mkdtemp", lambda: str(home))
    with seeded, prefect_test_harness(server_startup_timeout=60):
        yield
