"""Credentials decrypted once per process: a rotated credential is read anew, a token that
does not decrypt is never kept, and another key set never reads what this one decrypted."""

from __future__ import annotations

import pytest

from healthmon.storage.crypto import DECRYPTED, Cipher, CredentialError, DecryptedCache
from healthmon.storage.db import make_engine
from healthmon.storage.tenants import IntegrationInput, load_integration, set_integration, upsert_tenants

KEY = "credential-cache-key-0123456789"
OTHER_KEY = "another-secret-key-0123456789"


def _shop(token: str) -> dict[str, IntegrationInput]:
    return {"shopify": IntegrationInput({"shop": "a.myshopify.com"}, {"access_token": token})}


def test_a_rotated_credential_is_read_on_the_next_load(db_url: str) -> None:
    engine = make_engine(db_url)
    cipher = Cipher([KEY])
    upsert_tenants(engine, cipher, [("a", "A", True, _shop("shpat_old")), ("b", "B", True, _shop("shpat_b"))])
    DECRYPTED.clear()
    first = load_integration(engine, cipher, "shopify", ["a", "b"])
    assert first["a"] == {"shop": "a.myshopify.com", "access_token": "shpat_old"}
    assert len(DECRYPTED) == 2
    # the same rows again: nothing new decrypted, the same settings
    assert load_integration(engine, Cipher([KEY]), "shopify", ["a", "b"]) == first
    assert len(DECRYPTED) == 2
    set_integration(engine, cipher, "a", "A", True, ("shopify", _shop("shpat_new")["shopify"]))
    again = load_integration(engine, Cipher([KEY]), "shopify", ["a", "b"])
    assert again["a"]["access_token"] == "shpat_new"
    assert again["b"]["access_token"] == "shpat_b"


def test_a_token_that_does_not_decrypt_is_never_kept(db_url: str) -> None:
    engine = make_engine(db_url)
    upsert_tenants(engine, Cipher([KEY]), [("a", "A", True, _shop("shpat_a"))])
    DECRYPTED.clear()
    with pytest.raises(CredentialError):
        load_integration(engine, Cipher([OTHER_KEY]), "shopify", ["a"])
    assert len(DECRYPTED) == 0
    # and again: still refused, not served from anywhere
    with pytest.raises(CredentialError):
        load_integration(engine, Cipher([OTHER_KEY]), "shopify", ["a"])
    assert load_integration(engine, Cipher([KEY]), "shopify", ["a"])["a"]["access_token"] == "shpat_a"


def test_another_key_set_never_reads_what_this_one_decrypted(db_url: str) -> None:
    engine = make_engine(db_url)
    upsert_tenants(engine, Cipher([KEY]), [("a", "A", True, _shop("shpat_a"))])
    DECRYPTED.clear()
    assert load_integration(engine, Cipher([KEY]), "shopify", ["a"])["a"]["access_token"] == "shpat_a"
    # the key that wrote the token was removed: the cached plaintext is not this key set's
    with pytest.raises(CredentialError):
        load_integration(engine, Cipher([OTHER_KEY]), "shopify", ["a"])
    # a rotation that keeps the old key as a decrypting one still reads it
    rotated = Cipher([OTHER_KEY, KEY])
    assert load_integration(engine, rotated, "shopify", ["a"])["a"]["access_token"] == "shpat_a"


def test_what_is_kept_is_read_only_and_not_shown() -> None:
    cache = DecryptedCache()
    cipher = Cipher([KEY])
    token = cipher.encrypt({"access_token": "shpat_secret"})
    plain = cipher.decrypt_cached(token, cache)
    assert plain == {"access_token": "shpat_secret"}
    with pytest.raises(TypeError):
        plain["access_token"] = "changed"  # type: ignore[index]
    assert cipher.decrypt_cached(token, cache) is plain
    assert "shpat_secret" not in repr(cache) and "shpat_secret" not in str(cache)


def test_the_cache_is_bounded_oldest_first() -> None:
    cache = DecryptedCache(max_entries=2)
    cipher = Cipher([KEY])
    tokens = [cipher.encrypt({"access_token": f"t{i}"}) for i in range(3)]
    for token in tokens:
        cipher.decrypt_cached(token, cache)
    assert len(cache) == 2
    assert cache.get(cipher._keys_id, tokens[0]) is None
    assert cache.get(cipher._keys_id, tokens[2]) == {"access_token": "t2"}
