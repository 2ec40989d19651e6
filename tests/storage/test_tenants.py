"""Tenant input: validation, import files, and the `healthmon tenants` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from healthmon.config import ConfigError
from healthmon.flows.tenant_input import (
    TenantFileError,
    TenantInputError,
    parse_assignments,
    read_tenants_file,
    tenant_row,
)
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.tenants import load_integration
from tests.support.app import SECRET_KEY
from tests.support.cli import healthmon, healthmon_in_process, json_lines

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


def test_import_file_resolves_env(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n  - id: a\n    enabled: false\n    integrations:\n"
        '      shopify: {shop: a.myshopify.com, access_token: "${TOK}"}\n'
    )
    (row,) = read_tenants_file(path, env={"TOK": "shpat_env"})
    assert row[2] is False
    assert dict(row[3]["shopify"].secret) == {"access_token": "shpat_env"}


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        # a quoted "false" is text, and bool("false") is True: refused, never read as either
        (
            {"id": "a", "enabled": "false"},
            [("t.enabled", "must be true or false (a boolean), not the string 'false'")],
        ),
        ({"id": "a", "enabled": "no"}, [("t.enabled", "not the string 'no'")]),
        ({"id": "a", "enabled": 0}, [("t.enabled", "not a number")]),
        ({"id": "a", "enabled": None}, [("t.enabled", "not null")]),
        ({"id": 42}, [("t.id", "lowercase letters, digits, '-' or '_', not a number")]),
        ({"id": ""}, [("t.id", "must be 1-64 lowercase")]),
        ({"id": "a" * 65}, [("t.id", "must be 1-64 lowercase")]),
        ({"id": "a", "name": "   "}, [("t.name", "must not be blank")]),
        ({"id": "a", "name": "x" * 201}, [("t.name", "at most 200 characters")]),
        ({"id": "a", "name": "a\x00b"}, [("t.name", "control characters")]),
        ({"id": "a", "name": ["A"]}, [("t.name", "must be text, not a list")]),
        ({"id": "a", "integrations": ["shopify"]}, [("t.integrations", "must be a mapping")]),
        (
            {"id": "a", "integrations": {"shopify": "acme"}},
            [("t.integrations.shopify", "mapping of settings")],
        ),
        (
            {"id": "a", "integrations": {"shopify": {"shop": "a.myshopify.com", "access_token": True}}},
            [("t.integrations.shopify.access_token", "must be text, not a boolean")],
        ),
        # every problem of the row, not only the first
        (
            {"id": "Bad", "enabled": "yes", "colour": "red"},
            [
                ("t.colour", "unknown key"),
                ("t.id", "must be 1-64 lowercase"),
                ("t.enabled", "not the string 'yes'"),
            ],
        ),
    ],
)
def test_every_field_is_checked(raw: dict[str, object], problems: list[tuple[str, str]]) -> None:
    with pytest.raises(TenantInputError) as exc:
        tenant_row(raw, "t")
    found = [(p.key, p.message) for p in exc.value.problems]
    assert [key for key, _ in found] == [key for key, _ in problems]
    for (_, message), (_, words) in zip(found, problems, strict=True):
        assert words in message


def test_names_are_trimmed_and_default_to_the_id() -> None:
    assert tenant_row({"id": "a", "name": "  Acme Corp  "}, "t")[1] == "Acme Corp"
    assert tenant_row({"id": "a"}, "t")[1] == "a"


def test_no_secret_value_in_a_message() -> None:
    raw = {"id": "a", "integrations": {"shopify": {"shop": "https://x", "access_token": "shpat_TOPSECRET"}}}
    with pytest.raises(TenantInputError) as exc:
        tenant_row(raw, "t")
    assert "TOPSECRET" not in repr([str(p) for p in exc.value.problems])
    with pytest.raises(ConfigError) as bad_set:
        parse_assignments(["shpat_TOPSECRET"], env={})
    assert "TOPSECRET" not in str(bad_set.value)


BAD_FILE = """\
tenants:
  - id: acme
    integrations:
      shopify: {shop: acme.myshopify.com, access_token: x}
  - id: globex
    enabled: "false"
  - id: Initech Corp
  - id: acme
  - id: umbrella
    name: "  "
    integrations:
      shopify: {shop: "https://evil.com", access_token: "${UNSET_TOKEN}"}
  - id: hooli
    enabled: true
    enabled: false
"""


def test_a_file_with_bad_rows_lists_every_one_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(BAD_FILE)
    with pytest.raises(TenantFileError) as exc:
        read_tenants_file(path, env={})
    assert exc.value.problems == [
        f"{path}:6: tenants[1].enabled: must be true or false (a boolean), not the string 'false'",
        f"{path}:7: tenants[2].id: must be 1-64 lowercase letters, digits, '-' or '_'",
        f"{path}:8: tenants[3].id: duplicate tenant id 'acme' (first on line 2)",
        f"{path}:10: tenants[4].name: must not be blank (leave it out to use the id)",
        f"{path}:12: tenants[4].integrations.shopify.access_token: "
        "environment variable UNSET_TOKEN is not set",
        f"{path}:12: tenants[4].integrations.shopify: shopify: shop must be a bare <name>.myshopify.com "
        "domain (lowercase letters, digits, hyphens)",
        f"{path}:15: tenants[5].enabled: duplicate key (also on line 14)",
    ]
    assert str(exc.value) == f"{path}: 7 problem(s) in 5 of 6 tenants; nothing was imported"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", ":1: tenants: the file must hold a list under 'tenants'"),
        (b"tenants:\n  id: a\n", ":1: tenants: the file must hold a list under 'tenants'"),
        (b"tenants: []\nextra: 1\n", ":2: extra: unknown key (the file holds only 'tenants')"),
        (b"tenants:\n  - id: a\n  - [oops\n", ":4: not valid YAML"),
        (b"tenants:\n  - id: caf\xe9\n", ":2: not UTF-8 text"),
        (b"tenants:\n  - nope\n", ":2: tenants[0]: must be a mapping"),
    ],
)
def test_malformed_files_name_the_line(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_bytes(content)
    with pytest.raises(TenantFileError) as exc:
        read_tenants_file(path, env={})
    assert exc.value.problems[0].startswith(f"{path}{problem}"), exc.value.problems


def test_assignments_can_come_from_the_environment() -> None:
    assert parse_assignments(["shop=a.myshopify.com", "access_token=env:T"], env={"T": "s"}) == {
        "shop": "a.myshopify.com",
        "access_token": "s",
    }
    with pytest.raises(ConfigError, match="not key=value"):
        parse_assignments(["oops"], env={})


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
    listed = json_lines(healthmon("tenants", "list", "--json", env=env))
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
    assert bad.returncode == 2 and "--set: shopify: shop must be" in bad.stderr
    assert healthmon("tenants", "remove", "a", env=env).returncode == 0
    assert healthmon("tenants", "remove", "a", env=env).returncode == 2
    no_key = healthmon("tenants", "import", str(path), env={**env, "HEALTHMON_SECRET_KEY": ""})
    assert no_key.returncode == 2 and "HEALTHMON_SECRET_KEY" in no_key.stderr


def test_import_of_a_file_with_bad_rows_writes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    env = {"HEALTHMON_DATABASE_URL": sqlite_url, "HEALTHMON_SECRET_KEY": SECRET_KEY, "HEALTHMON_CONFIG": ""}
    path = tmp_path / "tenants.yaml"
    path.write_text(BAD_FILE)
    done = healthmon("tenants", "import", str(path), env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    for row in (
        "tenants[1].enabled",
        "tenants[2].id",
        "tenants[3].id",
        "tenants[4].name",
        "tenants[5].enabled",
    ):
        assert any(row in line for line in lines), (row, done.stderr)
    assert f"{path}:6: tenants[1].enabled: must be true or false" in done.stderr
    assert "nothing was imported" in lines[-1]
    assert "Traceback" not in done.stderr
    # the good first row was not imported either
    assert healthmon("tenants", "list", "--json", env=env).stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Id"], "TENANT_ID: must be 1-64 lowercase letters"),
        (["acme", "--name", "   "], "--name: must not be blank"),
        (["acme", "--name", "x" * 201], "--name: must be at most 200 characters"),
        (["acme", "--integration", "magento"], "--integration: unknown integration 'magento'"),
        (
            ["acme", "--integration", "shopify", "--set", "shop=acme.myshopify.com"],
            "--set: shopify: missing access_token",
        ),
        (
            [
                "acme",
                "--integration",
                "shopify",
                "--set",
                "shop=acme.myshopify.com",
                "--set",
                "access_token=x",
                "--set",
                "pin=1",
            ],
            "--set: pin: not a shopify setting",
        ),
        (["acme", "--set", "shop=x"], "--integration: needed with --set"),
        (["acme", "--integration", "shopify", "--set", "oops"], "--set: an item is not key=value"),
    ],
)
def test_tenants_add_refuses_bad_arguments(sqlite_url: str, args: list[str], message: str) -> None:
    env = {"HEALTHMON_DATABASE_URL": sqlite_url, "HEALTHMON_SECRET_KEY": SECRET_KEY, "HEALTHMON_CONFIG": ""}
    done = healthmon_in_process("tenants", "add", *args, env=env)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 0
