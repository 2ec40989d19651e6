"""HEALTHMON_* environment settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from healthmon.config.errors import ConfigError, ConfigProblems
from healthmon.config.fields import database_url_problem, redis_url_problem

PREFIX = "HEALTHMON_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

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
    #: Prefect's own variable, not HEALTHMON_*: the API a served or scheduled run talks to, which
    #: turns the `prefect` monitor on when the config has no `services.prefect` block
    prefect_api_url: str | None = Field(default=None, validation_alias="PREFECT_API_URL")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        # `HEALTHMON_X=` (set but empty, or only spaces) means unset, for every variable
        if isinstance(values, dict):
            return {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        return values

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        problem = None if value is None else database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        problem = None if value is None else redis_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'healthmon.db'}"


def _problems(exc: ValidationError) -> list[ConfigError]:
    problems = []
    for error in exc.errors():
        name = PREFIX + str(error["loc"][0]).upper() if error["loc"] else f"{PREFIX}*"
        problems.append(ConfigError(name, str(error["msg"]).removeprefix("Value error, ")))
    return problems


def load_settings() -> Settings:
    """HEALTHMON_* as set; ConfigProblems naming each variable that is unusable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigProblems(_problems(exc)) from None


def load_settings_checked() -> tuple[Settings, list[ConfigError]]:
    """Every problem of HEALTHMON_*, and the settings with each unusable variable at its
    default, so that a check can go on past them (`healthmon config check`)."""
    try:
        return Settings(), []
    except ValidationError as exc:
        problems = _problems(exc)
        bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
    defaults = {name: Settings.model_fields[name].get_default(call_default_factory=True) for name in bad}
    return Settings(**defaults), problems
