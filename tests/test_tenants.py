"""Tenant input: validation, import files, and the `healthmon tenants` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from config import ConfigError
from deployments.tenant_input import parse_assignments, read_tenants_file, tenant_row
from storage.crypto import Cipher
from storage.db import make_engine
from storage.tenants import load_integration
from tests.conftest import SECRET_KEY

GOOD = {
    "id": "acme",
    "name": "Acme",
    "integrations": {"shopify": {"shop": "acme.myshopify.com", "access_token": "shpat_abc"}},
}


def test_a_good_tenant_splits_public_and_secret() -> None:
    tenant_id, name, enabled, integrations = tenant_row(GOOD, "t")
    assert (tenant_id, name, enabled) == ("acme", "Acme", True)
    assert dict(integrations["shopify"].public) == {"shop": "acme.myshopify.com"}
    assert dict(integrations["shopify"].secret) == {"access_token": "shpat_abc"}


@pytest.mark.parametrize(
    ("shop", "ok"),
    [
        ("acme.myshopify.com", True),
        ("my-store-2.myshopify.com", True),
        ("https://acme.myshopify.com", False),
        ("evil.com/.myshopify.com", False),
        ("acme.myshopify.com:8443", False),
        ("acme.myshopify.com.evil.com", False),
        ("evil.com", False),
        ("a.b.myshopify.com", False),
        ("", False),
    ],
)
def test_shop_must_be_a_myshopify_name(shop: str, ok: bool) -> None:
    raw = {"id": "acme", "integrations": {"shopify": {"shop": shop, "access_token": "x"}}}
    if ok:
        tenant_row(raw, "t")
    else:
        with pytest.raises(ConfigError) as exc:
            tenant_row(raw, "t")
        assert exc.value.key == "t.integrations.shopify"


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"id": "Bad Id"}, "t.id", "lowercase"),
        ({"id": "a", "integrations": {"oracle": {}}}, "t.integrations.oracle", "unknown integration"),
        (
            {"id": "a", "integrations": {"shopify": {"shop": "a.myshopify.com", "token": "x"}}},
            "t.integrations.shopify",
            "token: not a shopify setting",
        ),
        (
            {"id": "a", "integrations": {"shopify": {"shop": "a.myshopify.com"}}},
            "t.integrations.shopify",
            "missing access_token",
        ),
        ({"id": "a", "colour": "red"}, "t.colour", "unknown key"),
    ],
)
def test_bad_tenants_are_named(raw: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        tenant_row(raw, "t")
    assert exc.value.key == key and words in exc.value.message


def test_import_file_resolves_env_and_rejects_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n  - id: a\n    integrations:\n"
        '      shopify: {shop: a.myshopify.com, access_token: "${TOK}"}\n'
    )
    rows = read_tenants_file(path, env={"TOK": "shpat_env"})
    assert dict(rows[0][3]["shopify"].secret) == {"access_token": "shpat_env"}
    path.write_text("tenants:\n  - {id: a}\n  - {id: a}\n")
    with pytest.raises(ConfigError, match=r"tenants\[1\]\.id: duplicate"):
        read_tenants_file(path, env={})


def test_assignments_can_come_from_the_environment() -> None:
    assert parse_assignments(["shop=a.myshopify.com", "access_token=env:T"], env={"T": "s"}) == {
        "shop": "a.myshopify.com",
        "access_token": "s",
    }
    with pytest.raises(ConfigError, match="not key=value"):
        parse_assignments(["oops"], env={})


def healthmon(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tenants_commands(tmp_path: Path, sqlite_url: str) -> None:
    env = {
        "HEALTHMON_DATABASE_URL": sqlite_url,
        "HEALTHMON_SECRET_KEY": SECRET_KEY,
        "SHOP_TOKEN": "shpat_cli",
    }
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        "  - id: a\n    name: A\n    integrations:\n      shopify: {shop: a.myshopify.com, access_token: x}\n"
        "  - id: b\n    integrations:\n      tiktok_ads: {advertiser_id: '123', access_token: y}\n"
    )
    done = healthmon("tenants", "import", str(path), env=env)
    assert done.returncode == 0, done.stderr
    added = healthmon(
        "tenants",
        "add",
        "b",
        "--integration",
        "shopify",
        "--set",
        "shop=b.myshopify.com",
        "--set",
        "access_token=env:SHOP_TOKEN",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    listed = [
        json.loads(line) for line in healthmon("tenants", "list", "--json", env=env).stdout.splitlines()
    ]
    assert [(t["id"], sorted(t["integrations"])) for t in listed] == [
        ("a", ["shopify"]),
        ("b", ["shopify", "tiktok_ads"]),
    ]
    assert "shpat_cli" not in repr(listed)
    engine = make_engine(sqlite_url)
    cipher = Cipher([SECRET_KEY])
    assert load_integration(engine, cipher, "shopify", ["b"])["b"]["access_token"] == "shpat_cli"
    assert load_integration(engine, cipher, "tiktok_ads", ["b"])["b"]["access_token"] == "y"  # kept
    with engine.connect() as conn:
        assert "shpat_cli" not in repr(conn.execute(text("SELECT * FROM tenants")).all())
    bad = healthmon(
        "tenants",
        "add",
        "c",
        "--integration",
        "shopify",
        "--set",
        "shop=https://evil.com",
        "--set",
        "access_token=x",
        env=env,
    )
    assert bad.returncode == 2 and "tenant.integrations.shopify" in bad.stderr
    assert healthmon("tenants", "remove", "a", env=env).returncode == 0
    assert healthmon("tenants", "remove", "a", env=env).returncode == 2
    no_key = healthmon("tenants", "import", str(path), env={**env, "HEALTHMON_SECRET_KEY": ""})
    assert no_key.returncode == 2 and "HEALTHMON_SECRET_KEY" in no_key.stderr
