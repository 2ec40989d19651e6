"""Reads the YAML config, resolves ${NAME} references, and validates it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from config.errors import ConfigError
from config.schema import HealthmonConfig

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def resolve_env(value: Any, path: str, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: resolve_env(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(path, f"environment variable {name} is not set")

    return _REF.sub(sub, value)


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def parse_config(raw: Any, env: Mapping[str, str] | None = None, source: str = "config") -> HealthmonConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("(top level)", f"{source} must be a mapping, not {type(raw).__name__}")
    resolved = resolve_env(raw, "", os.environ if env is None else env)
    try:
        return HealthmonConfig.model_validate(resolved)
    except ValidationError as exc:
        err = exc.errors()[0]
        # pydantic reports model-level failures on the model itself; the key is its location
        loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        raise ConfigError(_key(loc), err["msg"].removeprefix("Value error, ")) from None


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> HealthmonConfig:
    """An unset path gives the empty config: every service at its defaults, no channels."""
    if path is None:
        return parse_config({}, env)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError("HEALTHMON_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError("HEALTHMON_CONFIG", f"{path} is not valid YAML{where}") from None
    return parse_config(raw, env, source=str(path))
