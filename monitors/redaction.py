"""Which values of a target's settings are secrets, and scrubbing them out of a result.

The monitors own this: a check's details may quote a vendor's answer, and whatever a
credential ended up in, the runner scrubs it before the result leaves (monitors/runner.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

#: what a secret reads as in a result
REDACTED = "***"

#: option keys whose values are secrets wherever they appear
SECRET_KEYS = frozenset(
    {
        "password",
        "api_key",
        "api_token",
        "token",
        "secret",
        "signing_key",
        "token_secret",
        "bot_token",
        "access_token",
        "refresh_token",
        "client_secret",
        "app_secret",
        "developer_token",
        "routing_key",
    }
)
#: option keys that hold URLs/DSNs whose password part is a secret
URL_KEYS = frozenset({"dsn", "url"})


def secrets_of(options: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for key, value in options.items():
        if not isinstance(value, str) or not value:
            continue
        if key in SECRET_KEYS:
            found.add(value)
        elif key in URL_KEYS:
            password = _url_password(value)
            if password:
                found.add(password)
    return frozenset(found)


def _url_password(value: str) -> str | None:
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password:
        return password
    # libpq key=value DSNs
    for part in value.split():
        if part.startswith("password="):
            return part.split("=", 1)[1].strip("'\"") or None
    return None


def redact(value: Any, secrets: frozenset[str]) -> Any:
    """Scrub every secret value out of a details structure, however it got in there."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        # numbers, booleans and None cannot hold a secret: no call for them (a check's
        # details are mostly those)
        return {k: redact(v, secrets) if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value


#: what `redact` looks into; everything else is returned as it is
_CONTAINERS = (str, dict, list, tuple)
