"""Reads the YAML config, resolves ${NAME} references, and validates it.

Every problem is collected (`ConfigProblems.problems`), each naming its key and, when the
config came from a file, its line: commands stop at the first, `healthmon config check`
prints them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from healthmon.config.errors import ConfigError, ConfigProblems
from healthmon.config.schema import HealthmonConfig

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PREFIXES = ("Value error, ", "Assertion failed, ")
#: pydantic's wording, where ours says more
_MESSAGES = {
    "missing": "required key is missing",
    # pydantic would name our model class here
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
}
FILE_VARIABLE = "HEALTHMON_CONFIG"


def resolve_env(value: Any, path: str, env: Mapping[str, str], unset: list[ConfigError] | None = None) -> Any:
    """`${NAME}` and `${NAME:-default}` replaced from `env`. An unset variable without a
    default raises ConfigError naming the key, or, when `unset` is given, is appended there
    (and replaced by nothing) so that the rest is still read."""
    if isinstance(value, dict):
        return {k: resolve_env(v, f"{path}.{k}" if path else str(k), env, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, f"{path}[{i}]", env, unset) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problem = ConfigError(path, f"environment variable {name} is not set")
        if unset is None:
            raise problem
        unset.append(problem)
        return ""

    return _REF.sub(sub, value)


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _message(error: Mapping[str, Any]) -> str:
    message = _MESSAGES.get(str(error["type"]), str(error["msg"]))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    return message


def _line_index(node: yaml.Node | None) -> tuple[dict[str, int], list[ConfigError]]:
    """The line (1-based) of every key path as problems name them, and the duplicate keys,
    which YAML would otherwise resolve silently to the last one."""
    index: dict[str, int] = {}
    duplicates: list[ConfigError] = []

    def walk(node: yaml.Node, key: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                name = str(key_node.value)
                line = key_node.start_mark.line + 1
                path = f"{key}.{name}" if key else name
                if name in seen and name != "<<":
                    problem = ConfigError(path, f"duplicate key (also on line {seen[name]})")
                    problem.line = line
                    duplicates.append(problem)
                seen.setdefault(name, line)
                index.setdefault(path, line)
                walk(value_node, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                path = f"{key}[{i}]"
                index[path] = item.start_mark.line + 1
                walk(item, path)

    if node is not None:
        walk(node, "")
    return index, duplicates


def _line_of(key: str, index: Mapping[str, int]) -> int | None:
    """The line of `key`, or of the nearest enclosing key that has one."""
    while key:
        if key in index:
            return index[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def parse_config(
    raw: Any,
    env: Mapping[str, str] | None = None,
    source: str = "config",
    metrics: Mapping[str, Collection[str]] | None = None,
    lines: Mapping[str, int] | None = None,
) -> HealthmonConfig:
    """The validated config, or ConfigProblems with every problem found.

    `metrics` (service -> the metrics its monitor emits) is handed in by the caller, since
    this package knows no monitor: with it, thresholds on other metrics are refused too.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigProblems(
            [ConfigError("(top level)", f"{source} must be a mapping, not {type(raw).__name__}")]
        )
    unset: list[ConfigError] = []
    resolved = resolve_env(raw, "", os.environ if env is None else env, unset)
    problems = list(unset)
    config: HealthmonConfig | None = None
    try:
        config = HealthmonConfig.model_validate(resolved, context={"metrics": metrics})
    except ValidationError as exc:
        # a value whose variable is unset is reported once, as that
        skip = {p.key for p in unset}
        for error in exc.errors():
            key = _key(tuple(p for p in error["loc"] if p != "function-after"))
            if key not in skip:
                problems.append(ConfigError(key, _message(error)))
    if lines is not None:
        for problem in problems:
            problem.line = _line_of(problem.key, lines)
    if problems:
        raise ConfigProblems(_unique(problems))
    assert config is not None
    return config


def _unique(problems: list[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    kept = []
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            kept.append(problem)
    return kept


def read_config_file(path: Path) -> tuple[Any, dict[str, int], list[ConfigError]]:
    """The file's YAML document, the line of every key, and its duplicate keys.

    ConfigError naming HEALTHMON_CONFIG for a file that cannot be read, is not UTF-8, is not
    YAML, or is empty: a truncated file must not silently stop all monitoring.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(FILE_VARIABLE, f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            FILE_VARIABLE,
            f"{path} is not UTF-8 text: line {line}, column {column} has the byte 0x{data[exc.start]:02x}",
        ) from None
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None)
        raise ConfigError(
            FILE_VARIABLE, f"{path} is not valid YAML{where}" + (f": {what}" if what else "")
        ) from None
    if raw is None:
        raise ConfigError(
            FILE_VARIABLE, f"{path} is empty (write `services: {{}}` for a config with no services)"
        )
    index, duplicates = _line_index(root)
    return raw, index, duplicates


def load_config(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    metrics: Mapping[str, Collection[str]] | None = None,
) -> HealthmonConfig:
    """An unset path gives the empty config: every service at its defaults, no channels."""
    if path is None:
        return parse_config({}, env, metrics=metrics)
    raw, index, duplicates = read_config_file(path)
    try:
        config = parse_config(raw, env, source=str(path), metrics=metrics, lines=index)
    except ConfigProblems as exc:
        raise ConfigProblems(sorted([*duplicates, *exc.problems], key=lambda p: p.line or 0)) from None
    if duplicates:
        raise ConfigProblems(duplicates)
    return config
