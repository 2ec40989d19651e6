"""The demo's data dir: its layout, the secrets kept there, the environment every process
shares, the config written on each start and the env file to `source`."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from healthmon.config import HealthmonConfig, Settings
from healthmon.config.loader import parse_config


class Paths:
    """The data dir's layout: everything the demo makes and keeps lives under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        #: the sandbox's generated config and tenants
        self.bed = root / "sandbox"
        self.config = root / "healthmon.yaml"
        self.mail = root / "mail"
        self.logs = root / "logs"
        self.webhook_log = root / "webhook.log"
        self.slack_log = root / "slack.log"
        self.database = root / "healthmon.db"
        #: the Prefect server's home: its own SQLite database of deployments and flow runs
        self.prefect = root / "prefect"
        self.secret_key = root / "secret.key"
        self.api_token = root / "api-token"
        self.env_file = root / "demo.env"


def clear_store(paths: Paths) -> None:
    """`--fresh`: the demo's SQLite store and Prefect home go, and with them the copies of the
    old store's alerts (mail, webhook and Slack logs). The kept secrets stay, so that a token
    in use keeps working, and the process logs, which are appended to."""
    database = str(paths.database)
    for path in (database, database + "-wal", database + "-shm", database + "-journal"):
        Path(path).unlink(missing_ok=True)
    shutil.rmtree(paths.prefect, ignore_errors=True)
    for copy in (paths.webhook_log, paths.slack_log, *paths.mail.glob("*.eml")):
        copy.unlink(missing_ok=True)


def _write_private(path: Path, content: str) -> None:
    """Create `path` readable by its owner only; O_EXCL so an existing file is never replaced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The value kept in `path`, made and stored on first use (0600)."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value
    value = make()
    path.unlink(missing_ok=True)
    _write_private(path, value + "\n")
    return value


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class DemoEnv:
    """The environment of the demo's runtime and of every child."""

    env: dict[str, str]
    #: the API token the demo made and kept, None when HEALTHMON_API_TOKENS was given
    token: str | None
    #: whether the store is the demo's own SQLite file (not a database the user gave)
    own_store: bool


def prepare_environment(paths: Paths, given: Mapping[str, str]) -> DemoEnv:
    """HEALTHMON_* for this process's runtime and for every child, made once and kept;
    `given` is the environment the demo was started with."""
    root = paths.root
    root.mkdir(parents=True, exist_ok=True)
    env = dict(given)
    env["HEALTHMON_DATA_DIR"] = str(root)
    own_store = False
    token: str | None = None
    if not env.get("HEALTHMON_DATABASE_URL", "").strip():
        env["HEALTHMON_DATABASE_URL"] = f"sqlite:///{paths.database}"
        own_store = True
    if not env.get("HEALTHMON_SECRET_KEY", "").strip():
        env["HEALTHMON_SECRET_KEY"] = kept_secret(paths.secret_key, _new_fernet_key)
    if not env.get("HEALTHMON_API_TOKENS", "").strip():
        token = kept_secret(paths.api_token, lambda: secrets.token_urlsafe(24))
        env["HEALTHMON_API_TOKENS"] = f"demo:admin:{token}"
    env["HEALTHMON_CONFIG"] = str(paths.config)
    # Streamlit would otherwise ask for an e-mail address on stdin and phone home.
    env.setdefault("STREAMLIT_SERVER_HEADLESS", "true")
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return DemoEnv(env, token, own_store)


def demo_settings(paths: Paths, env: Mapping[str, str]) -> Settings:
    """The runtime's settings, from the environment `prepare_environment` made."""
    return Settings(
        database_url=env["HEALTHMON_DATABASE_URL"],
        redis_url=env.get("HEALTHMON_REDIS_URL") or None,
        secret_key=SecretStr(env["HEALTHMON_SECRET_KEY"]),
        config=paths.config,
        api_tokens=SecretStr(env["HEALTHMON_API_TOKENS"]),
        data_dir=paths.root,
    )


def demo_config(
    bed: Mapping[str, Any],
    sandbox_url: str,
    *,
    smtp_port: int | None,
    dashboard_url: str | None,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The sandbox's generated config plus what the demo needs; secrets stay `${...}` references."""
    config: dict[str, Any] = json.loads(json.dumps(dict(bed)))  # a deep copy of plain data
    services: dict[str, Any] = config.setdefault("services", {})
    # The critical tier watches healthmon's own store and cache when they are real servers; the
    # DSN is written as a reference so that no password lands in the file.
    database_url = env.get("HEALTHMON_DATABASE_URL", "")
    if database_url.split("://", 1)[0] in ("postgres", "postgresql"):
        services.setdefault("postgres", {"dsn": "${HEALTHMON_DATABASE_URL}"})
    redis_url = env.get("HEALTHMON_REDIS_URL", "")
    if redis_url.split("://", 1)[0] in ("redis", "rediss", "unix"):
        services.setdefault("redis", {"url": "${HEALTHMON_REDIS_URL}"})

    channels: dict[str, Any] = config.setdefault("channels", {})
    root = sandbox_url.rstrip("/")
    channels.setdefault("slack", {"webhook_url": f"{root}/slack/services/T000/B000/XXXX"})
    channels.setdefault("webhook", {"url": f"{root}/webhook/healthmon"})
    if smtp_port is not None:
        channels["email"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "starttls": False,
            "from": "healthmon-demo@localhost",
            "to": ["oncall@localhost"],
        }
    # The default routes send p3 to Slack alone and the webhook only p1; the demo's point is
    # to see alerts, so every severity also reaches the webhook log, and p1/p2 the mail catcher.
    wanted = {
        "p1": ["slack", "email", "pagerduty", "webhook"],
        "p2": ["slack", "email", "webhook"],
        "p3": ["slack", "webhook"],
    }
    config["routes"] = [
        {"severity": [severity], "channels": [c for c in names if c in channels]}
        for severity, names in wanted.items()
    ]
    if dashboard_url:
        config["dashboard_url"] = dashboard_url
    return config


def write_config(
    paths: Paths,
    sandbox_url: str,
    *,
    smtp_port: int | None,
    dashboard_url: str | None,
    env: Mapping[str, str],
) -> HealthmonConfig:
    """Write the demo's config over the last one and return it parsed."""
    bed = yaml.safe_load((paths.bed / "healthmon.yaml").read_text()) or {}
    raw = demo_config(bed, sandbox_url, smtp_port=smtp_port, dashboard_url=dashboard_url, env=env)
    header = (
        "# Written by `healthmon demo` on every start: the sandbox's config (sandbox/bed.py) plus\n"
        "# the demo's channels and routes. Fake credentials, worthless outside the sandbox.\n"
    )
    paths.config.write_text(header + yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return parse_config(raw, env=env, source=str(paths.config))


def write_env_file(paths: Paths, demo_env: DemoEnv, given: Mapping[str, str]) -> Path:
    """A file to `source` so that `healthmon alerts list` and friends use the demo's store;
    `given` is the environment the demo was started with."""
    path = paths.env_file
    lines = [
        "# source this file to point the healthmon command at the running demo",
        f"export HEALTHMON_DATA_DIR={paths.root}",
        f"export HEALTHMON_CONFIG={paths.config}",
    ]
    if demo_env.own_store:
        lines.append(f"export HEALTHMON_DATABASE_URL={demo_env.env['HEALTHMON_DATABASE_URL']}")
    key_given = bool(given.get("HEALTHMON_SECRET_KEY", "").strip())  # empty means unset
    if paths.secret_key.exists() and not key_given:
        lines.append(f'export HEALTHMON_SECRET_KEY="$(cat {paths.secret_key})"')
    if demo_env.token is not None:
        lines.append(f'export HEALTHMON_API_TOKENS="demo:admin:$(cat {paths.api_token})"')
    path.unlink(missing_ok=True)
    _write_private(path, "\n".join(lines) + "\n")
    return path
