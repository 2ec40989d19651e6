"""Tenant input, validated once for every face: `healthmon tenants add|import`, the API and the
dashboard all call `tenant_row`, so a tenant refused by one is refused by all, with the same words.

`enabled` is a real boolean only (YAML or JSON `true`/`false`): the string "false" is refused
rather than read, because reading it would mean guessing at "no", "0", "off" and the rest, and
`bool("false")` is True. A tenants file is read whole before anything is written: every bad row
is reported with its line, and one bad row means nothing is imported.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from healthmon.config.errors import ConfigError
from healthmon.config.loader import resolve_env
from healthmon.monitors.tenant_settings import TENANT_ID, split_integration
from healthmon.storage.tenants import IntegrationInput

ID_RULE = "must be 1-64 lowercase letters, digits, '-' or '_'"
#: a display name, after trimming: long enough for any company, short enough for a table cell
NAME_MAX = 200
#: one setting's value (a shop name, an account id, a token)
VALUE_MAX = 4000
FIELDS = ("id", "name", "enabled", "integrations")
_ROW = re.compile(r"^tenants\[(\d+)\]")

TenantRow = tuple[str, str, bool, dict[str, IntegrationInput]]


class TenantInputError(ConfigError):
    """Every problem of one tenant; `key` and `message` are the first one's, `problems` all."""

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        super().__init__(problems[0].key, problems[0].message)
        self.problems = list(problems)


class TenantFileError(ConfigError):
    """A tenants file that cannot be imported; `problems` holds one line per problem,
    `<file>:<line>: <key>: <message>`."""

    def __init__(self, path: Path, problems: Sequence[str], summary: str) -> None:
        super().__init__(str(path), summary)
        self.problems = list(problems)


def _described(value: Any) -> str:
    """What was given, for a message: a short repr of text, else the type (never a long value)."""
    if isinstance(value, str):
        return f"the string {value[:40]!r}" if len(value) <= 40 else "a long string"
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping"}.get(
        type(value), type(value).__name__
    )


def _text_problem(value: str) -> str | None:
    # NUL cannot be stored by PostgreSQL, other control characters only hide what a name says
    if any(unicodedata.category(c) == "Cc" for c in value):
        return "must not contain control characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


def _id(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and TENANT_ID.fullmatch(raw) else None


def _setting_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"must be text, not {_described(value)}"
    if isinstance(value, str):
        if len(value) > VALUE_MAX:
            return f"must be at most {VALUE_MAX} characters"
        return _text_problem(value)
    return None


def tenant_row(raw: Any, where: str) -> TenantRow:
    """One tenant mapping ({id, name, enabled, integrations}) as a row to store.

    Raises TenantInputError listing every problem, each naming its key under `where`
    (`tenant.enabled`, `tenants[2].integrations.shopify`). Secret values never appear in a message.
    """
    if not isinstance(raw, Mapping):
        raise TenantInputError(
            [ConfigError(where, "must be a mapping with id, name, enabled and integrations")]
        )
    problems: list[ConfigError] = []
    for key in sorted(str(k) for k in raw if k not in FIELDS):
        problems.append(ConfigError(f"{where}.{key}", f"unknown key (expected {', '.join(FIELDS)})"))

    raw_id = raw.get("id")
    tenant_id = _id(raw_id)
    if tenant_id is None:
        given = "" if raw_id is None or isinstance(raw_id, str) else f", not {_described(raw_id)}"
        problems.append(ConfigError(f"{where}.id", f"{ID_RULE}{given}"))

    name = raw.get("name")
    if name is not None:
        if not isinstance(name, str):
            problems.append(ConfigError(f"{where}.name", f"must be text, not {_described(name)}"))
            name = None
        else:
            name = name.strip()
            problem = _text_problem(name)
            if not name:
                problem = "must not be blank (leave it out to use the id)"
            elif len(name) > NAME_MAX:
                problem = f"must be at most {NAME_MAX} characters"
            if problem:
                problems.append(ConfigError(f"{where}.name", problem))

    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(
            ConfigError(f"{where}.enabled", f"must be true or false (a boolean), not {_described(enabled)}")
        )

    integrations = raw.get("integrations")
    if integrations is None:
        integrations = {}
    elif not isinstance(integrations, Mapping):
        problems.append(ConfigError(f"{where}.integrations", "must be a mapping of integration -> settings"))
        integrations = {}
    parsed: dict[str, IntegrationInput] = {}
    for service, settings in integrations.items():
        key = f"{where}.integrations.{service}"
        if not isinstance(settings, Mapping):
            problems.append(ConfigError(key, "must be a mapping of settings"))
            continue
        bad = [(k, p) for k, v in settings.items() if v is not None and (p := _setting_problem(v))]
        problems += [ConfigError(f"{key}.{setting}", problem) for setting, problem in bad]
        if bad:
            continue
        try:
            public, secret = split_integration(str(service), settings)
        except ValueError as exc:
            problems.append(ConfigError(key, str(exc)))
            continue
        parsed[str(service)] = IntegrationInput(public, secret)

    if problems:
        raise TenantInputError(problems)
    assert tenant_id is not None and isinstance(enabled, bool)
    return tenant_id, name or tenant_id, enabled, parsed


# -- files ------------------------------------------------------------------------------------


def _lines(node: yaml.Node, key: str, index: dict[str, int], problems: list[tuple[str, int, str]]) -> None:
    """Line (1-based) of every key path under `node`, as problems name them; and duplicate keys,
    which YAML would otherwise resolve silently to the last one."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            line = key_node.start_mark.line + 1
            path = f"{key}.{name}" if key else name
            if name in seen and name != "<<":
                problems.append((path, line, f"duplicate key (also on line {seen[name]})"))
            seen.setdefault(name, line)
            index.setdefault(path, line)
            _lines(value_node, path, index, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{key}[{i}]"
            index[path] = item.start_mark.line + 1
            _lines(item, path, index, problems)


def _line_of(key: str, index: Mapping[str, int]) -> int | None:
    """The line of `key`, or of the nearest enclosing key that has one."""
    while key:
        if key in index:
            return index[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return None


def _parse(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TenantFileError(
            path, [f"{path}: cannot read: {exc.strerror}"], "cannot read the file"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TenantFileError(path, [f"{path}:{line}: not UTF-8 text"], "not UTF-8 text") from None
    try:
        return yaml.safe_load(text), yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise TenantFileError(path, [f"{where}: not valid YAML: {exc.problem}"], "not valid YAML") from None
    except yaml.YAMLError:
        raise TenantFileError(path, [f"{path}: not valid YAML"], "not valid YAML") from None


def _resolved(value: Any, key: str, env: Mapping[str, str], unset: list[ConfigError]) -> Any:
    """`${NAME}` references resolved leaf by leaf: an unset variable is a problem of its own
    key, and the rest of the row is still validated (its text is left as written)."""
    if isinstance(value, Mapping):
        return {k: _resolved(v, f"{key}.{k}", env, unset) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(v, f"{key}[{i}]", env, unset) for i, v in enumerate(value)]
    try:
        return resolve_env(value, key, env)
    except ConfigError as exc:
        unset.append(exc)
        return value


def read_tenants_file(path: Path, env: Mapping[str, str] | None = None) -> list[TenantRow]:
    """Every tenant of the file (a list under `tenants:`), or TenantFileError listing every
    problem of every row with its line: one bad row and nothing is returned, so nothing is
    half-imported."""
    raw, root = _parse(path)
    index: dict[str, int] = {}
    found: list[tuple[str, int, str]] = []
    if root is not None:
        _lines(root, "", index, found)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("tenants"), list):
        line = index.get("tenants", 1)
        raise TenantFileError(
            path, [f"{path}:{line}: tenants: the file must hold a list under 'tenants'"], "no tenants list"
        )
    for key in sorted(str(k) for k in raw if k != "tenants"):
        found.append((key, index.get(key, 1), "unknown key (the file holds only 'tenants')"))
    variables = os.environ if env is None else env
    rows: list[TenantRow] = []
    first_line: dict[str, int] = {}
    for i, item in enumerate(raw["tenants"]):
        where = f"tenants[{i}]"
        tenant_id = _id(item.get("id")) if isinstance(item, Mapping) else None
        if tenant_id is not None:
            line = index.get(f"{where}.id") or index.get(where, 1)
            if tenant_id in first_line:
                message = f"duplicate tenant id {tenant_id!r} (first on line {first_line[tenant_id]})"
                found.append((f"{where}.id", line, message))
            else:
                first_line[tenant_id] = line
        unset: list[ConfigError] = []
        resolved = _resolved(item, where, variables, unset)
        found += [(p.key, _line_of(p.key, index) or 1, p.message) for p in unset]
        try:
            rows.append(tenant_row(resolved, where))
        except TenantInputError as exc:
            found += [(p.key, _line_of(p.key, index) or 1, p.message) for p in exc.problems]
    if found:
        found.sort(key=lambda p: p[1])
        problems = [f"{path}:{line}: {key}: {message}" for key, line, message in found]
        bad_rows = {m.group(1) for key, _, _ in found if (m := _ROW.match(key))}
        summary = f"{len(problems)} problem(s)"
        if bad_rows:
            summary += f" in {len(bad_rows)} of {len(raw['tenants'])} tenants"
        raise TenantFileError(path, problems, f"{summary}; nothing was imported")
    return rows


def parse_assignments(values: list[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`key=value` pairs; `key=env:NAME` reads the value from the environment (keeps secrets
    out of shell history and the process list)."""
    env = os.environ if env is None else env
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            # the item is not echoed: without its `=` it may be a pasted secret
            raise ConfigError(
                "--set", "an item is not key=value (key=env:VAR reads a value from the environment)"
            )
        if value.startswith("env:"):
            name = value[4:]
            if name not in env:
                raise ConfigError("--set", f"{key}: environment variable {name} is not set")
            value = env[name]
        parsed[key] = value
    return parsed
