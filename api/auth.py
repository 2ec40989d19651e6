"""Bearer tokens from HEALTHMON_API_TOKENS: `name:scope:token`, comma-separated.

`read` tokens may call every GET; `admin` tokens everything. Only a SHA-256 digest of each
token is kept, compared in constant time against every configured token (no early exit, so
the time taken tells nothing about which token or how much of it matched). Tokens never
appear in errors or logs; the caller's *name* is what gets recorded (who acknowledged).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from healthmon.api.query import known_query_only
from healthmon.config.errors import ConfigError

VARIABLE = "HEALTHMON_API_TOKENS"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MIN_TOKEN_LENGTH = 16
Scope = Literal["read", "admin"]


@dataclass(frozen=True)
class Caller:
    name: str
    scope: Scope


@dataclass(frozen=True)
class _Entry:
    caller: Caller
    digest: bytes


def _digest(token: str) -> bytes:
    # equal-length digests keep compare_digest constant-time whatever the presented length
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenStore:
    def __init__(self, entries: list[_Entry]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"TokenStore({', '.join(f'{e.caller.name}:{e.caller.scope}' for e in self._entries)})"

    def lookup(self, token: str) -> Caller | None:
        presented = _digest(token)
        found: Caller | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented):
                found = entry.caller
        return found


def parse_tokens(raw: str | None) -> TokenStore:
    """The tokens of HEALTHMON_API_TOKENS; ConfigError naming the variable (never a token) if bad."""
    if raw is None or not raw.strip():
        raise ConfigError(
            VARIABLE, "not set: the API needs at least one name:scope:token (scope read or admin)"
        )
    entries: list[_Entry] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    for position, item in enumerate((part.strip() for part in raw.split(",")), start=1):
        if not item:
            continue
        where = f"entry {position}"
        name, sep1, rest = item.partition(":")
        scope, sep2, token = rest.partition(":")
        if not (sep1 and sep2):
            raise ConfigError(VARIABLE, f"{where}: expected name:scope:token")
        if not NAME.fullmatch(name):
            raise ConfigError(VARIABLE, f"{where}: name must be 1-64 letters, digits, '.', '_', '@' or '-'")
        if scope not in ("read", "admin"):
            raise ConfigError(VARIABLE, f"{where} ({name}): scope must be read or admin")
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise ConfigError(
                VARIABLE, f"{where} ({name}): token must be {MIN_TOKEN_LENGTH}+ characters without spaces"
            )
        if name in names:
            raise ConfigError(VARIABLE, f"{where}: name {name!r} is used twice")
        digest = _digest(token)
        if digest in digests:
            raise ConfigError(VARIABLE, f"{where} ({name}): the same token is given to two names")
        names.add(name)
        digests.add(digest)
        entries.append(_Entry(Caller(name, "admin" if scope == "admin" else "read"), digest))
    if not entries:
        raise ConfigError(VARIABLE, "no token given")
    return TokenStore(entries)


_bearer = HTTPBearer(
    scheme_name="bearerAuth",
    description=f"A token from {VARIABLE}. `read` tokens may GET; `admin` tokens may do everything.",
    auto_error=False,
)

_CHALLENGE = {"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"}


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """Any known token. async: it only hashes, so it need not cost a worker thread."""
    if credentials is None:
        raise HTTPException(401, "a bearer token is required (Authorization: Bearer <token>)", _CHALLENGE)
    store: TokenStore = request.app.state.tokens
    found = store.lookup(credentials.credentials)
    if found is None:
        raise HTTPException(
            401, "unknown token", {**_CHALLENGE, "WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    request.state.caller = found.name
    # after authentication, so that a caller without a token learns nothing but 401
    await known_query_only(request)
    return found


async def admin(who: Annotated[Caller, Depends(caller)]) -> Caller:
    if who.scope != "admin":
        raise HTTPException(403, f"token {who.name!r} has scope read; this operation needs admin")
    return who


Reader = Annotated[Caller, Depends(caller)]
Admin = Annotated[Caller, Depends(admin)]
