"""HEALTHMON_* environment settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHMON_", extra="ignore")

    #: healthmon's own store; unset means the embedded SQLite file under data_dir
    database_url: str | None = None
    #: the cache; unset means an in-process cache
    redis_url: str | None = None
    #: encrypts tenant credentials (Fernet key, or any passphrase of 16+ characters;
    #: several comma-separated keys rotate: the first encrypts, all decrypt)
    secret_key: SecretStr | None = None
    #: path to the YAML config
    config: Path | None = None
    #: comma-separated name:scope:token
    api_tokens: SecretStr | None = None
    #: the dashboard password's hash (`healthmon dashboard --hash-password` makes one); without
    #: it the dashboard runs without login, and only when bound to a loopback address
    dashboard_password_hash: SecretStr | None = None
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".healthmon")

    @field_validator(
        "database_url",
        "redis_url",
        "config",
        "secret_key",
        "api_tokens",
        "dashboard_password_hash",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'healthmon.db'}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "HEALTHMON_" + str(err["loc"][0]).upper() if err["loc"] else "HEALTHMON_*"
        raise ConfigError(name, err["msg"]) from None
