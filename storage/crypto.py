"""Encryption of tenant credentials at rest (Fernet; several keys rotate)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
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


class Cipher:
    """The first key encrypts; every key decrypts, so keys can be rotated."""

    def __init__(self, keys: Sequence[str]) -> None:
        keys = [k.strip() for k in keys if k.strip()]
        if not keys:
            raise CredentialError("no secret key configured")
        self._multi = MultiFernet([_fernet(k) for k in keys])

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

    def rotate(self, token: str) -> str:
        return self._multi.rotate(token.encode()).decode()
