"""The dashboard password: a scrypt hash in HEALTHMON_DASHBOARD_PASSWORD_HASH.

Format: `scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`, so the cost can be raised later without
invalidating hashes already deployed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "scrypt"
#: n=2**14, r=8 takes ~50 ms and 16 MiB per attempt: slow enough to make guessing expensive,
#: fast enough that a login does not feel slow
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
#: a hash with absurd parameters must not make a login attempt eat the server's memory
MAX_MEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEM, dklen=length)


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("password: must not be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P, KEY_BYTES)
    return f"{SCHEME}${N}${R}${P}${salt.hex()}${key.hex()}"


def _parse(hashed: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = hashed.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not salt or not key:
        return None
    return n, r, p, salt, key


def is_valid_hash(hashed: str) -> bool:
    """Whether `hashed` looks like something hash_password made (checked before serving)."""
    return _parse(hashed) is not None


def verify_password(password: str, hashed: str) -> bool:
    parsed = _parse(hashed)
    if parsed is None or not password:
        return False
    n, r, p, salt, key = parsed
    try:
        candidate = _derive(password, salt, n, r, p, len(key))
    except ValueError:  # parameters beyond MAX_MEM: nobody can log in with this hash
        return False
    return hmac.compare_digest(candidate, key)
