from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from healthmon.config import ConfigError, Settings, load_config
from healthmon.config.loader import parse_config
from healthmon.flows.app import build_app
from healthmon.monitors.redaction import secrets_of
from tests.support.example_config import EXAMPLE, EXAMPLE_ENV


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, env=EXAMPLE_ENV)
    assert config.services["postgres"].options()["dsn"].startswith("postgresql://monitor:pw@")
    assert config.channels.email is not None and config.channels.email.from_ == "healthmon@example.com"


def test_env_references_resolve_with_defaults() -> None:
    config = parse_config(
        {"services": {"redis": {"url": "redis://:${PW}@h:${PORT:-6380}/0"}}}, env={"PW": "x"}
    )
    assert config.services["redis"].options()["url"] == "redis://:x@h:6380/0"


def test_missing_env_reference_names_the_key() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"services": {"postgres": {"dsn": "${NOPE}"}}}, env={})
    assert exc.value.key == "services.postgres.dsn"
    assert "NOPE" in exc.value.message


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"services": {"postgres": {"timeout_s": -1}}}, "services.postgres.timeout_s"),
        ({"channels": {"email": {"host": "h", "from": "a@b", "to": []}}}, "channels.email.to"),
        ({"channels": {"slack": {"channel": "#x"}}}, "channels.slack"),
        ({"routes": [{"severity": ["p9"], "channels": ["slack"]}]}, "routes[0].severity[0]"),
        ({"servcies": {}}, "servcies"),
    ],
)
def test_bad_config_names_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(raw, env={})
    assert exc.value.key == key, str(exc.value)


def test_unknown_service_and_bad_threshold_are_named(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ConfigError, match=r"^services\.postgress: unknown service"):
        build_app(settings, parse_config({"services": {"postgress": {}}}, env={}))
    bad = {
        "services": {
            "postgres": {
                "dsn": "postgresql://u@db/app",
                "thresholds": {"latency_ms": {"degraded": 900, "unhealthy": 100}},
            }
        }
    }
    with pytest.raises(ConfigError) as exc:
        build_app(settings, parse_config(bad, env={}))
    assert exc.value.key == "services.postgres.thresholds.latency_ms"
    assert "past the unhealthy bound" in exc.value.message


def test_bad_yaml_and_unreadable_file(tmp_path: Path) -> None:
    broken = tmp_path / "c.yaml"
    broken.write_text("services: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(broken)
    with pytest.raises(ConfigError, match=r"HEALTHMON_CONFIG: cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_secret_key_must_be_usable(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", secret_key=SecretStr("short"))
    with pytest.raises(ConfigError, match=r"^HEALTHMON_SECRET_KEY"):
        build_app(settings, parse_config({}, env={}))


def test_secrets_are_found_in_options() -> None:
    found = secrets_of(
        {
            "dsn": "postgresql://u:pgpass@h/db",
            "url": "redis://:redispass@h:6379/0",
            "api_key": "sk_1",
            "base_url": "https://api.example",
            "timeout_s": 3,
            "other": "host=h password=kvpass",
        }
    )
    assert found == {"pgpass", "redispass", "sk_1"}
    assert secrets_of({"dsn": "host=h user=u password='kvpass'"}) == {"kvpass"}
