"""Issue 11: bad configuration is refused at load, every problem named by its key.

Table-driven: each row is an input and the exact message it must get. Then the files (not
UTF-8, not YAML, empty), the HEALTHMON_* variables, the configs the repository writes, and the
commands as a user runs them (`healthmon config check`, `healthmon check`).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from healthmon.config import ConfigError, Settings
from healthmon.config.errors import ConfigProblems
from healthmon.config.loader import load_config, parse_config
from healthmon.config.services import MCP_MODERN_VERSION, SERVICE_MODELS, StatuspageOptions
from healthmon.config.settings import load_settings, load_settings_checked
from healthmon.deployments.demo import demo_config
from healthmon.flows.app import config_problems, service_metrics
from healthmon.monitors import mcp
from healthmon.monitors.registry import MONITORS
from healthmon.sandbox.bed import config_for
from healthmon.sandbox.state import SandboxState
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.tenants import IntegrationInput, upsert_tenants
from tests.support import cli
from tests.support.example_config import EXAMPLE, EXAMPLE_ENV

ROOT = Path(__file__).resolve().parents[2]
METRICS = service_metrics()
KEY = "test-secret-key-for-healthmon-0123456789"

PG = {"dsn": "postgresql://monitor@db.internal:5432/platform"}
STRIPE = {"api_key": "sk_test_1"}
SLACK = {"webhook_url": "https://hooks.example/services/T0/B0/x"}
KNOWN_SERVICES = ", ".join(sorted(MONITORS))
NOT_A_URL = "not a URL: expected http:// or https:// and a host, e.g. https://api.example.com"
NOT_A_DSN = (
    "not a PostgreSQL DSN: expected postgresql://user@host:5432/db, or key=value pairs such as "
    "host=db dbname=app"
)
REQUIRED = "required while the service is enabled (or set enabled: false)"


def problems_of(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigProblems) as exc:
        parse_config(raw, env=env or {}, metrics=METRICS)
    return [str(p) for p in exc.value.problems]


# -- unknown keys, at every depth --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"servcies": {}}, "servcies: unknown key; did you mean services?"),
        (
            {"services": {"stripe": {**STRIPE, "timeout": 3}}},
            "services.stripe.timeout: unknown key; did you mean timeout_s?",
        ),
        (
            {"services": {"postgres": {**PG, "long_query": 30}}},
            "services.postgres.long_query: unknown key; did you mean long_query_s?",
        ),
        (
            {"services": {"postgres": {**PG, "thresholds": {"latency_ms": {"degradd": 5}}}}},
            "services.postgres.thresholds.latency_ms.degradd: unknown key; did you mean degraded?",
        ),
        (
            # a key of another service is not accepted as an extra
            {"services": {"redis": {"url": "redis://cache:6379/0", "dsn": "x"}}},
            "services.redis.dsn: unknown key "
            "(known: connect_timeout_s, enabled, slo, thresholds, timeout_s, url)",
        ),
        (
            {"services": {"postgres": {**PG, "base_url": "https://x"}}},
            "services.postgres.base_url: unknown key (known: connect_timeout_s, dsn, enabled, "
            "idle_in_transaction_s, long_query_s, slo, thresholds, timeout_s)",
        ),
        (
            {"channels": {"email": {"host": "h", "from": "a@b", "to": ["c@d"], "pasword": "x"}}},
            "channels.email.pasword: unknown key; did you mean password?",
        ),
        (
            {"channels": {"slack": {**SLACK, "chanel": "#ops"}}},
            "channels.slack.chanel: unknown key; did you mean channel?",
        ),
        ({"run": {"batch_sise": 10}}, "run.batch_sise: unknown key; did you mean batch_size?"),
        ({"alerting": {"open_afer": 3}}, "alerting.open_afer: unknown key; did you mean open_after?"),
        ({"watchdog": {"stale_afer": 3}}, "watchdog.stale_afer: unknown key; did you mean stale_after?"),
        ({"retention": {"history_day": 3}}, "retention.history_day: unknown key; did you mean history_days?"),
        (
            {"services": {"postgress": {}}},
            f"services.postgress: unknown service; did you mean postgres? (known: {KNOWN_SERVICES})",
        ),
    ],
)
def test_unknown_keys_name_the_path_and_the_likely_key(raw: dict[str, Any], expected: str) -> None:
    assert problems_of(raw) == [expected]


def test_a_typo_in_a_route_is_reported_with_what_then_is_missing() -> None:
    raw = {"channels": {"slack": SLACK}, "routes": [{"severity": ["p1"], "chanels": ["slack"]}]}
    assert problems_of(raw) == [
        "routes[0].channels: required key is missing",
        "routes[0].chanels: unknown key; did you mean channels?",
    ]


# -- values parsed at load ---------------------------------------------------------------------


def _stripe(base_url: str) -> dict[str, Any]:
    return {"services": {"stripe": {**STRIPE, "base_url": base_url}}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_stripe("ftp//nope"), f"services.stripe.base_url: {NOT_A_URL}"),
        (_stripe("ftp://files.example.com"), "services.stripe.base_url: scheme ftp:// is not http or https"),
        (_stripe("https://"), "services.stripe.base_url: has no host: expected e.g. https://api.example.com"),
        (
            _stripe("https://api.example.com:99999"),
            "services.stripe.base_url: not a URL (bad host or port): expected e.g. https://api.example.com",
        ),
        (_stripe("https://api.example.com/v1 x"), "services.stripe.base_url: must be a URL without spaces"),
        ({"channels": {"webhook": {"url": "notaurl"}}}, f"channels.webhook.url: {NOT_A_URL}"),
        (
            {"channels": {"slack": {"webhook_url": "hooks.example/x"}}},
            f"channels.slack.webhook_url: {NOT_A_URL}",
        ),
        (
            {"channels": {"slack": {"bot_token": "xoxb", "channel": "#ops", "base_url": "slack"}}},
            f"channels.slack.base_url: {NOT_A_URL}",
        ),
        (
            {"channels": {"pagerduty": {"routing_key": "k", "events_url": "events"}}},
            f"channels.pagerduty.events_url: {NOT_A_URL}",
        ),
        ({"dashboard_url": "healthmon.example.com"}, f"dashboard_url: {NOT_A_URL}"),
        ({"watchdog": {"heartbeat_url": "ping"}}, f"watchdog.heartbeat_url: {NOT_A_URL}"),
        (
            {"services": {"statuspage": {"pages": {"shopify": "status"}}}},
            f"services.statuspage.pages.shopify: {NOT_A_URL}",
        ),
        (
            {"services": {"statuspage": {"slack_status_url": "ftp://x"}}},
            "services.statuspage.slack_status_url: scheme ftp:// is not http or https",
        ),
        ({"services": {"mcp": {"base_url": "mcp.example.com/mcp"}}}, f"services.mcp.base_url: {NOT_A_URL}"),
        (
            {"services": {"google_ads": {"client_id": "c", "client_secret": "s", "oauth_url": "token"}}},
            f"services.google_ads.oauth_url: {NOT_A_URL}",
        ),
        (
            {"services": {"shopify": {"base_url": "https://shop.example.com"}}},
            "services.shopify.base_url: must contain {shop}, e.g. https://{shop}",
        ),
        (
            {"services": {"shopify": {"base_url": "ftp://{shop}"}}},
            "services.shopify.base_url: scheme ftp:// is not http or https",
        ),
        ({"services": {"postgres": {"dsn": "garbage"}}}, f"services.postgres.dsn: {NOT_A_DSN}"),
        (
            {"services": {"postgres": {"dsn": "mysql://u@db/app"}}},
            "services.postgres.dsn: scheme mysql:// is not postgresql: expected "
            + NOT_A_DSN.split("expected ")[1],
        ),
        (
            {"services": {"postgres": {"dsn": "postgresql://u@db:five/app"}}},
            "services.postgres.dsn: the port must be a number",
        ),
        (
            {"services": {"redis": {"url": "notredis://x"}}},
            "services.redis.url: scheme notredis:// is not redis://, rediss:// or unix:// (e.g. redis://host:6379/0)",
        ),
        (
            {"services": {"redis": {"url": "cache:6379"}}},
            "services.redis.url: not a URL: expected redis://, rediss:// or unix:// (e.g. redis://host:6379/0)",
        ),
        (
            {"services": {"redis": {"url": "redis://cache:6379/zero"}}},
            "services.redis.url: the path must be the database number, e.g. redis://host:6379/0",
        ),
        (
            {"services": {"redis": {"url": "unix://"}}},
            "services.redis.url: unix:// needs the socket's path, e.g. unix:///run/redis.sock",
        ),
        (
            {"services": {"wise": {"api_token": "t", "api_path": "v2/profiles"}}},
            "services.wise.api_path: must be a path starting with /, e.g. /v2/profiles",
        ),
        (
            {"services": {"mcp": {"base_url": "https://mcp.example.com/mcp", "mode": "newest"}}},
            f"services.mcp.mode: must be auto, legacy or {MCP_MODERN_VERSION}",
        ),
        (
            {"services": {"postgres": {**PG, "long_query_s": -5}}},
            "services.postgres.long_query_s: Input should be greater than 0",
        ),
        ({"services": {"stripe": 5}}, "services.stripe: must be a mapping"),
        (
            {"services": {"postgres": {**PG, "thresholds": {"latency_ms": 250}}}},
            "services.postgres.thresholds.latency_ms: must be a mapping",
        ),
        (
            {"alerting": {"severity": {"edge.unhealthy": "p1"}}},
            "alerting.severity: key 'edge.unhealthy' must be <tier>.<status>, e.g. core.unhealthy",
        ),
        (
            {"services": {"stripe": {**STRIPE, "enabled": "sometimes"}}},
            "services.stripe.enabled: Input should be a valid boolean, unable to interpret input",
        ),
    ],
)
def test_values_are_parsed_when_the_config_loads(raw: dict[str, Any], expected: str) -> None:
    assert problems_of(raw) == [expected]


@pytest.mark.parametrize(
    "value",
    [
        "https://api.example.com",
        "http://127.0.0.1:8080/stripe",
        "https://[::1]:8443/x",
    ],
)
def test_good_urls_pass(value: str) -> None:
    assert parse_config(_stripe(value), env={}).services["stripe"].options()["base_url"] == value


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://monitor:pw@db.internal:5432/platform",
        "postgres://db/app?sslmode=require",
        "host=db port=5432 dbname=app user=monitor password='p w'",
        "postgresql://h1:5432,h2:5433/app",
    ],
)
def test_good_dsns_pass(dsn: str) -> None:
    assert parse_config({"services": {"postgres": {"dsn": dsn}}}, env={}).services["postgres"].options() == {
        "dsn": dsn
    }


@pytest.mark.parametrize("url", ["redis://cache:6379/0", "rediss://:pw@cache:6380", "unix:///run/redis.sock"])
def test_good_redis_urls_pass(url: str) -> None:
    assert parse_config({"services": {"redis": {"url": url}}}, env={}).services["redis"].options() == {
        "url": url
    }


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ({"services": {"postgres": {"dsn": "host=db password=hunter2 bogus"}}}, "hunter2"),
        ({"services": {"postgres": {"dsn": "mysql://u:hunter2@db/app"}}}, "hunter2"),
        ({"services": {"postgres": {"dsn": "postgresql://u:hunter2@db:x/app"}}}, "hunter2"),
        ({"services": {"redis": {"url": "redis://:hunter2@cache:6379/x"}}}, "hunter2"),
        ({"services": {"redis": {"url": "hunter2@cache:6379"}}}, "hunter2"),
        ({"channels": {"webhook": {"url": "hooks.example/T0/SECRETPATH"}}}, "SECRETPATH"),
        (_stripe("user:hunter2@api.example.com"), "hunter2"),
    ],
)
def test_messages_never_echo_a_secret(raw: dict[str, Any], secret: str) -> None:
    found = problems_of(raw)
    assert found and not any(secret in line for line in found), found


# -- what each service needs, and cross-checks -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"services": {"postgres": {}}}, f"services.postgres.dsn: {REQUIRED}"),
        ({"services": {"postgres": None}}, f"services.postgres.dsn: {REQUIRED}"),
        ({"services": {"postgres": {"dsn": "  "}}}, f"services.postgres.dsn: {REQUIRED}"),
        ({"services": {"redis": {"thresholds": {}}}}, f"services.redis.url: {REQUIRED}"),
        (
            {"services": {"stripe": {"base_url": "https://api.stripe.com"}}},
            f"services.stripe.api_key: {REQUIRED}",
        ),
        ({"services": {"mcp": {"token": "t"}}}, f"services.mcp.base_url: {REQUIRED}"),
        (
            {"services": {"statuspage": {}}},
            "services.statuspage.pages: needs at least one status page (name: URL), or slack_status_url",
        ),
        (
            {"services": {"postgres": {**PG, "thresholds": {"latncy_ms": {"degraded": 100}}}}},
            "services.postgres.thresholds.latncy_ms: unknown metric of postgres; did you mean latency_ms? "
            f"(known: {', '.join(sorted(MONITORS['postgres'].metrics))})",
        ),
        (
            {
                "channels": {"slack": SLACK},
                "routes": [{"severity": ["p1"], "channels": ["slack", "pagerduty"]}],
            },
            "routes[0].channels[1]: channel pagerduty is not configured under channels (configured: slack)",
        ),
        (
            {"routes": [{"severity": ["p1"], "channels": ["webhook"]}]},
            "routes[0].channels[0]: channel webhook is not configured under channels (none is)",
        ),
        (
            {
                "channels": {"slack": SLACK},
                "routes": [{"severity": ["p2"], "services": ["stirpe"], "channels": ["slack"]}],
            },
            f"routes[0].services[0]: unknown service; did you mean stripe? (known: {KNOWN_SERVICES})",
        ),
        (
            {"services": {"postgres": {"dsn": "${PG_DSN}"}}},
            "services.postgres.dsn: environment variable PG_DSN is not set",
        ),
    ],
)
def test_requirements_and_cross_checks(raw: dict[str, Any], expected: str) -> None:
    assert problems_of(raw) == [expected]


def test_a_disabled_service_needs_nothing() -> None:
    config = parse_config(
        {"services": {"postgres": {"enabled": False}, "stripe": {"enabled": "false"}}}, env={}
    )
    assert [svc.enabled for svc in config.services.values()] == [False, False]


def test_every_problem_is_collected_not_only_the_first() -> None:
    raw = {
        "services": {
            "stripe": {"timeout": 3, "base_url": "ftp//nope"},
            "postgres": {"dsn": "garbage", "thresholds": {"latncy_ms": {"degraded": 1}}},
            "redis": {"url": "${REDIS_URL}"},
        },
        "channels": {"webhook": {"url": "notaurl"}},
        "routes": [{"severity": ["p1"], "channels": ["email"]}],
    }
    with pytest.raises(ConfigProblems) as exc:
        parse_config(raw, env={}, metrics=METRICS)
    keys = [p.key for p in exc.value.problems]
    assert sorted(keys) == sorted(
        [
            "services.redis.url",
            "services.stripe.api_key",
            "services.stripe.timeout",
            "services.stripe.base_url",
            "services.postgres.dsn",
            "services.postgres.thresholds.latncy_ms",
            "channels.webhook.url",
            "routes[0].channels[0]",
        ]
    )
    # a command stops at the first, and says there is more
    assert str(exc.value) == f"{exc.value.problems[0]} (and 7 more; `healthmon config check` lists them all)"
    assert isinstance(exc.value, ConfigError) and exc.value.key == keys[0]


def test_threshold_metrics_are_checked_by_the_runtime_too() -> None:
    # a config parsed without the monitors' metrics (as tests and the demo do) is still caught
    config = parse_config(
        {"services": {"redis": {"url": "redis://c:6379/0", "thresholds": {"memory_used": {"degraded": 1}}}}},
        env={},
    )
    found = [str(p) for p in config_problems(config)]
    assert found == [
        "services.redis.thresholds.memory_used: unknown metric of redis; did you mean memory_used_pct? "
        f"(known: {', '.join(sorted(MONITORS['redis'].metrics))})"
    ]


# -- the per-service models match the monitors -------------------------------------------------


def test_every_monitor_has_a_model_in_the_registry_order() -> None:
    assert list(SERVICE_MODELS) == list(MONITORS)


@pytest.mark.parametrize("service", sorted(MONITORS))
def test_required_options_are_the_monitors_platform_requirements(service: str) -> None:
    monitor = MONITORS[service]
    tenant_keys = {*monitor.tenant_public_keys, *monitor.tenant_secret_keys}
    expected = tuple(k for k in monitor.required if k not in tenant_keys)
    if SERVICE_MODELS[service] is not StatuspageOptions:  # needs pages or the Slack page: its own rule
        assert SERVICE_MODELS[service].required_when_enabled == expected


_READS = re.compile(r"(?<![\w.])(?:s|settings|target\.settings)(?:\.get\(|\[)\s*[\"'](\w+)[\"']")


@pytest.mark.parametrize("service", sorted(MONITORS))
def test_every_option_a_monitor_reads_is_declared(service: str) -> None:
    monitor = MONITORS[service]
    read = set(_READS.findall((ROOT / "monitors" / f"{service}.py").read_text()))
    declared = {
        *SERVICE_MODELS[service].model_fields,
        *monitor.tenant_public_keys,
        *monitor.tenant_secret_keys,
    }
    assert read and read <= declared, read - declared


def test_mcp_modern_version_matches_the_monitor() -> None:
    assert MCP_MODERN_VERSION == mcp.MODERN_VERSION


def test_options_are_what_the_file_gives_in_the_shape_monitors_read() -> None:
    config = parse_config(
        {
            "services": {
                "stripe": {**STRIPE, "base_url": "https://api.stripe.com", "timeout_s": 4, "thresholds": {}},
                "wise": {"api_token": "t", "profile_id": 12345},
                "mcp": {
                    "base_url": "https://mcp.example.com/mcp",
                    "protocol_version": yaml.safe_load("2025-11-25"),
                },
                "statuspage": {"pages": {"shopify": "https://www.shopifystatus.com"}},
            }
        },
        env={},
    )
    assert config.services["stripe"].options() == {
        "base_url": "https://api.stripe.com",
        "api_key": "sk_test_1",
    }
    assert config.services["stripe"].timeout_s == 4
    # YAML reads unquoted ids as numbers and versions as dates; the monitors compare text
    assert config.services["wise"].options() == {"api_token": "t", "profile_id": "12345"}
    assert config.services["mcp"].options()["protocol_version"] == "2025-11-25"
    assert config.services["statuspage"].options() == {"pages": {"shopify": "https://www.shopifystatus.com"}}


# -- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "HEALTHMON_CONFIG: {path} is empty (write `services: {{}}` for a config with no services)"),
        (
            b"# nothing yet\n\n",
            "HEALTHMON_CONFIG: {path} is empty (write `services: {{}}` for a config with no services)",
        ),
        (
            b"services:\n  stripe:\n    api_key: caf\xe9\n",
            "HEALTHMON_CONFIG: {path} is not UTF-8 text: line 3, column 17 has the byte 0xe9",
        ),
        (
            b"services: [\n",
            "HEALTHMON_CONFIG: {path} is not valid YAML at line 2, column 1: "
            "expected the node content, but found '<stream end>'",
        ),
        (
            b"services:\n  stripe: {api_key: x\n  redis: y\n",
            "HEALTHMON_CONFIG: {path} is not valid YAML at line 3, column 8: "
            "expected ',' or '}}', but got ':'",
        ),
    ],
)
def test_unreadable_files_name_the_file_and_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "healthmon.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == expected.format(path=path)


def test_problems_in_a_file_carry_their_line_and_duplicates_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "healthmon.yaml"
    path.write_text(
        "services:\n"
        "  stripe:\n"
        "    api_key: sk\n"
        "    timeout: 3\n"
        "  redis:\n"
        "    url: redis://a:6379/0\n"
        "  redis:\n"
        "    url: redis://b:6379/0\n"
    )
    with pytest.raises(ConfigProblems) as exc:
        load_config(path, metrics=METRICS)
    assert [(p.line, str(p)) for p in exc.value.problems] == [
        (4, "services.stripe.timeout: unknown key; did you mean timeout_s?"),
        (7, "services.redis: duplicate key (also on line 5)"),
    ]


def test_a_top_level_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "healthmon.yaml"
    path.write_text("- services\n")
    with pytest.raises(
        ConfigError, match=rf"^\(top level\): {re.escape(str(path))} must be a mapping, not list$"
    ):
        load_config(path)


# -- HEALTHMON_* -------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"HEALTHMON_{name.upper()}", raising=False)
    return monkeypatch


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
@pytest.mark.parametrize("blank", ["", "   "])
def test_an_empty_variable_means_unset(clean_env: pytest.MonkeyPatch, field: str, blank: str) -> None:
    clean_env.setenv(f"HEALTHMON_{field.upper()}", blank)
    assert (
        getattr(load_settings(), field)
        == getattr(Settings(), field)
        == Settings.model_fields[field].get_default(call_default_factory=True)
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "HEALTHMON_REDIS_URL",
            "notredis://x",
            "HEALTHMON_REDIS_URL: scheme notredis:// is not redis://, rediss:// or unix:// (e.g. redis://host:6379/0)",
        ),
        (
            "HEALTHMON_REDIS_URL",
            "redis://:pw@cache:6379/x",
            "HEALTHMON_REDIS_URL: the path must be the database number, e.g. redis://host:6379/0",
        ),
        (
            "HEALTHMON_DATABASE_URL",
            "garbage",
            "HEALTHMON_DATABASE_URL: not a database URL: expected postgresql://user@host:5432/db or "
            "sqlite:///path/healthmon.db",
        ),
        (
            "HEALTHMON_DATABASE_URL",
            "mysql://u:pw@db/healthmon",
            "HEALTHMON_DATABASE_URL: mysql:// is not supported: use postgresql:// (psycopg 3) or sqlite:///path",
        ),
    ],
)
def test_bad_urls_in_the_environment_name_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(exc.value) == expected
    assert "pw" not in str(exc.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEALTHMON_DATABASE_URL", "sqlite://"),
        ("HEALTHMON_DATABASE_URL", "sqlite:////var/lib/healthmon/healthmon.db"),
        ("HEALTHMON_DATABASE_URL", "postgresql://healthmon:pw@db:5432/healthmon"),
        ("HEALTHMON_DATABASE_URL", "postgresql+psycopg://db/healthmon"),
        ("HEALTHMON_REDIS_URL", "rediss://:pw@cache:6380/1"),
        ("HEALTHMON_REDIS_URL", "unix:///run/redis.sock"),
    ],
)
def test_good_urls_in_the_environment_pass(clean_env: pytest.MonkeyPatch, variable: str, value: str) -> None:
    clean_env.setenv(variable, value)
    assert getattr(load_settings(), variable.removeprefix("HEALTHMON_").lower()) == value


def test_every_bad_variable_is_reported_and_the_rest_kept(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("HEALTHMON_REDIS_URL", "notredis://x")
    clean_env.setenv("HEALTHMON_DATABASE_URL", "garbage")
    clean_env.setenv("HEALTHMON_CONFIG", str(tmp_path / "c.yaml"))
    with pytest.raises(ConfigProblems) as exc:
        load_settings()
    assert [p.key for p in exc.value.problems] == ["HEALTHMON_DATABASE_URL", "HEALTHMON_REDIS_URL"]
    settings, problems = load_settings_checked()
    assert len(problems) == 2
    assert (settings.database_url, settings.redis_url, settings.config) == (None, None, tmp_path / "c.yaml")


# -- every config the repository writes still loads --------------------------------------------


def test_the_example_loads_with_every_check() -> None:
    config = load_config(EXAMPLE, env=EXAMPLE_ENV, metrics=METRICS)
    assert config_problems(config) == []
    assert set(config.services) == {"postgres", "redis"}


def test_the_sandbox_bed_and_the_demo_config_load_with_every_check() -> None:
    bed = config_for("http://127.0.0.1:8900", SandboxState.generate(3))
    config = parse_config(bed, env={}, metrics=METRICS)
    # the sandbox stands in for vendors, not for Prefect: prefect comes with PREFECT_API_URL
    assert config_problems(config) == [] and set(config.services) == set(MONITORS) - {
        "postgres",
        "redis",
        "prefect",
    }
    env = {"HEALTHMON_DATABASE_URL": "postgresql://u:pw@db/h", "HEALTHMON_REDIS_URL": "redis://r:6379/0"}
    raw = demo_config(
        bed, "http://127.0.0.1:8900", smtp_port=2525, dashboard_url="http://127.0.0.1:8501", env=env
    )
    demo = parse_config(raw, env=env, metrics=METRICS)
    assert config_problems(demo) == [] and set(demo.services) == set(MONITORS) - {"prefect"}


# -- the commands ------------------------------------------------------------------------------


def healthmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # the suite's own HEALTHMON_* and Prefect settings must not leak into what is checked
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEALTHMON_", "PREFECT_API_URL"))}
    # in this process: these commands refuse or judge the config and start nothing
    return cli.healthmon_in_process(*args, env=env, base=base)


def _env(tmp_path: Path, config: Path | None, db: str | None = None, **more: str) -> dict[str, str]:
    env = {"HEALTHMON_DATA_DIR": str(tmp_path / "data"), "HEALTHMON_SECRET_KEY": KEY, **more}
    if config is not None:
        env["HEALTHMON_CONFIG"] = str(config)
    if db is not None:
        env["HEALTHMON_DATABASE_URL"] = db
    return env


def _write(tmp_path: Path, doc: dict[str, Any] | str) -> Path:
    path = tmp_path / "healthmon.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


BAD_CONFIG = (
    "services:\n"
    "  stripe:\n"
    "    api_key: sk_test_1\n"
    "    timeout: 3\n"
    "  postgres:\n"
    "    dsn: ${MONITOR_DSN}\n"
    "    thresholds:\n"
    "      latncy_ms: {degraded: 100}\n"
    "channels:\n"
    "  webhook: {url: notaurl}\n"
    "routes:\n"
    "  - {severity: [p1], channels: [webhook, slack]}\n"
)


def test_config_check_prints_every_problem_and_exits_2(tmp_path: Path, sqlite_url: str) -> None:
    config = _write(tmp_path, BAD_CONFIG)
    done = healthmon(
        "config", "check", env=_env(tmp_path, config, sqlite_url, HEALTHMON_REDIS_URL="notredis://x")
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("HEALTHMON_REDIS_URL: scheme notredis://")
    assert lines[1:7] == [
        f"{config}:4: services.stripe.timeout: unknown key; did you mean timeout_s?",
        f"{config}:6: services.postgres.dsn: environment variable MONITOR_DSN is not set",
        f"{config}:8: services.postgres.thresholds.latncy_ms: unknown metric of postgres; did you mean "
        f"latency_ms? (known: {', '.join(sorted(MONITORS['postgres'].metrics))})",
        f"{config}:10: channels.webhook.url: {NOT_A_URL}",
        f"{config}:12: routes[0].channels[1]: channel slack is not configured under channels "
        "(configured: webhook)",
        f"6 problems (config {config}; 0 tenants)",
    ]


Tenant = tuple[str, str, bool, dict[str, IntegrationInput]]


def _shopify(tenant_id: str, name: str, shop: str) -> Tenant:
    return (tenant_id, name, True, {"shopify": IntegrationInput({"shop": shop}, {"access_token": "t"})})


def _store(url: str, tenants: list[Tenant], key: str = KEY) -> None:
    """Tenants written straight to the store, as an older healthmon or a hand edit could have."""
    engine = make_engine(url)
    upsert_tenants(engine, Cipher.from_setting(key), tenants)
    engine.dispose()


def test_config_check_judges_the_stored_tenants(tmp_path: Path, sqlite_url: str) -> None:
    token = {"access_token": "t"}
    config = _write(tmp_path, {"services": {"stripe": STRIPE}, "routes": None})
    _store(
        sqlite_url,
        [
            _shopify("good", "Good", "good.myshopify.com"),
            _shopify("badshop", "Bad", "https://evil.example"),
            ("notoken", "No token", False, {"tiktok_ads": IntegrationInput({"advertiser_id": "123"}, {})}),
            ("ads", "Ads", True, {"meta_ads": IntegrationInput({"ad_account_id": "act_1"}, token)}),
        ],
    )
    rekeyed = _shopify("rekeyed", "Rekeyed", "r.myshopify.com")
    _store(sqlite_url, [rekeyed], key="another-secret-key-of-16+-chars")
    done = healthmon("config", "check", env=_env(tmp_path, config, sqlite_url))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "tenants.rekeyed.integrations.shopify: credentials cannot be decrypted with the configured "
        "secret key (HEALTHMON_SECRET_KEY)",
        "tenants.badshop.integrations.shopify: shopify: shop must be a bare <name>.myshopify.com domain "
        "(lowercase letters, digits, hyphens)",
        "tenants.notoken.integrations.tiktok_ads: tiktok_ads: missing access_token",
        "services.meta_ads: 1 enabled tenants use meta_ads, but it is not configured: it needs app_id, "
        "app_secret (or enabled: false)",
        f"4 problems (config {config}; 5 tenants)",
    ]
    assert "Traceback" not in done.stderr


def test_config_check_says_when_no_key_can_read_the_stored_credentials(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = _write(tmp_path, {"services": {"stripe": STRIPE}})
    _store(sqlite_url, [_shopify("a", "A", "good.myshopify.com"), _shopify("b", "B", "good.myshopify.com")])
    # set but empty: unset, like every HEALTHMON_* variable
    done = healthmon("config", "check", env=_env(tmp_path, config, sqlite_url, HEALTHMON_SECRET_KEY=""))
    assert done.returncode == 2
    assert done.stdout.splitlines()[0] == (
        "HEALTHMON_SECRET_KEY: not set, so the credentials of 2 stored tenants cannot be read "
        "(their checks would all be unknown)"
    )


def test_config_check_is_clean_on_a_good_setup(tmp_path: Path, pg_url: str) -> None:
    config = _write(
        tmp_path,
        {
            "services": {"stripe": STRIPE},
            "channels": {"slack": SLACK},
            "routes": [{"severity": ["p1"], "channels": ["slack"]}],
        },
    )
    _store(pg_url, [_shopify("good", "Good", "good.myshopify.com")])
    done = healthmon("config", "check", env=_env(tmp_path, config, pg_url))
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"no problems (config {config}; 1 tenants)\n",
        "",
    )


def test_config_check_exits_3_with_the_store_down_after_the_config_problems(tmp_path: Path) -> None:
    config = _write(tmp_path, {"services": {"stripe": {**STRIPE, "timeout": 3}}})
    down = "postgresql://postgres@127.0.0.1:1/healthmon"
    done = healthmon("config", "check", env=_env(tmp_path, config, down))
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{config}:4: services.stripe.timeout: unknown key; did you mean timeout_s?"
    assert lines[1].startswith("HEALTHMON_DATABASE_URL: cannot reach healthmon's store: ")
    assert lines[2] == f"1 problem (config {config})"


def test_config_check_writes_nothing(tmp_path: Path) -> None:
    config = _write(tmp_path, {"services": {"stripe": STRIPE}})
    done = healthmon("config", "check", env=_env(tmp_path, config))
    store = tmp_path / "data" / "healthmon.db"
    assert done.returncode == 2
    assert done.stdout.splitlines()[0] == (
        f"HEALTHMON_DATA_DIR: the embedded store {store} does not exist: run `healthmon db upgrade`"
    )
    assert not (tmp_path / "data").exists()  # neither the store nor its folder was created
    assert healthmon("config", "check", "--no-store", env=_env(tmp_path, config)).returncode == 0


@pytest.mark.parametrize(
    ("service", "options", "key"),
    [
        ("stripe", {**STRIPE, "base_url": "ftp//nope"}, "services.stripe.base_url"),
        ("postgres", {"dsn": "not a dsn at all"}, "services.postgres.dsn"),
    ],
)
def test_a_malformed_url_or_dsn_stops_check_with_nothing_recorded(
    tmp_path: Path, pg_url: str, service: str, options: dict[str, Any], key: str
) -> None:
    config = _write(
        tmp_path,
        {"services": {service: options}, "channels": {"webhook": {"url": "http://127.0.0.1:9/hook"}}},
    )
    done = healthmon("check", env=_env(tmp_path, config, pg_url))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {key}: ") and "Traceback" not in done.stderr
    assert done.stdout == ""
    engine = make_engine(pg_url)
    tables = ("health_check_history", "service_status", "platform_alerts", "alert_deliveries", "tier_runs")
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables]
    engine.dispose()
    assert counts == [0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("env", "content", "expected"),
    [
        ({"HEALTHMON_REDIS_URL": "notredis://x"}, None, "error: HEALTHMON_REDIS_URL: scheme notredis://"),
        ({"HEALTHMON_DATABASE_URL": "garbage"}, None, "error: HEALTHMON_DATABASE_URL: not a database URL"),
        (
            {},
            b"services:\n  stripe: {api_key: caf\xe9}\n",
            "error: HEALTHMON_CONFIG: {path} is not UTF-8 text: line 2",
        ),
        ({}, b"", "error: HEALTHMON_CONFIG: {path} is empty"),
    ],
)
def test_commands_refuse_bad_setup_with_exit_2_and_no_traceback(
    tmp_path: Path, env: dict[str, str], content: bytes | None, expected: str
) -> None:
    path = tmp_path / "healthmon.yaml"
    if content is not None:
        path.write_bytes(content)
    done = healthmon("check", env=_env(tmp_path, path if content is not None else None, **env))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(expected.format(path=path)), done.stderr
    assert "Traceback" not in done.stderr
