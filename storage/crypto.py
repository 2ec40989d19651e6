"""Encryption of tenant credentials at rest (Fernet; several keys rotate), and the process's
memory of what it already decrypted."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class CredentialError(Exception):
    pass


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except ValueError:
        if len(key) < 16:
            raise CredentialError(
                "a secret key must be a Fernet key or a passphrase of 16+ characters"
            ) from None
        # A passphrase is accepted too; it is stretched to the 32 bytes Fernet needs.
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


class DecryptedCache:
    """Plaintext of ciphertexts this process decrypted, so that a tier run does not decrypt every
    tenant's token again on every run (a Fernet decrypt and a JSON parse per check).

    Keyed by the key set and the ciphertext itself: a credential written again (rotated,
    replaced) is a new ciphertext, with Fernet's fresh IV and time, so the next run decrypts
    it; a changed key set (a key removed) misses, and a token the remaining keys cannot read
    fails as before. Only successful decryptions are kept. It lives in this process's memory
    alone, is never logged, and holds at most `max_entries` (the oldest are dropped first).
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._max = max_entries
        self._entries: dict[tuple[bytes, str], Mapping[str, Any]] = {}
        # tasks decrypt from worker threads
        self._lock = threading.Lock()

    def get(self, keys: bytes, token: str) -> Mapping[str, Any] | None:
        return self._entries.get((keys, token))

    def put(self, keys: bytes, token: str, plain: Mapping[str, Any]) -> None:
        with self._lock:
            if len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[(keys, token)] = plain

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


#: one per process: each tier run builds its own Cipher, the plaintext outlives it
DECRYPTED = DecryptedCache()


class Cipher:
    """The first key encrypts; every key decrypts, so keys can be rotated."""

    def __init__(self, keys: Sequence[str]) -> None:
        keys = [k.strip() for k in keys if k.strip()]
        if not keys:
            raise CredentialError("no secret key configured")
        self._multi = MultiFernet([_fernet(k) for k in keys])
        # names the key set in DECRYPTED without holding the keys themselves
        self._keys_id = hashlib.sha256("\0".join(keys).encode()).digest()

    @classmethod
    def from_setting(cls, value: str) -> Cipher:
        return cls(value.split(","))

    def encrypt(self, secret: Mapping[str, Any]) -> str:
        return self._multi.encrypt(json.dumps(dict(secret), sort_keys=True).encode()).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            data = json.loads(self._multi.decrypt(token.encode()))
        except InvalidToken:
            raise CredentialError("credentials cannot be decrypted with the configured secret key") from None
        if not isinstance(data, dict):
            raise CredentialError("stored credentials are not a mapping")
        return data

    def decrypt_cached(self, token: str, cache: DecryptedCache = DECRYPTED) -> Mapping[str, Any]:
        """`decrypt`, remembered for this process (read-only: every caller shares it)."""
        plain = cache.get(self._keys_id, token)
        if plain is None:
            plain = MappingProxyType(self.decrypt(token))
            cache.put(self._keys_id, token, plain)
        return plain

    def rotate(self, token: str) -> str:
        return self._multi.rotate(token.encode()).decode()
