"""A silence needs a matcher (or `everything` said outright), a comment and an author: the one
validation (alerting.silences.validate_silence) and `healthmon silences add|list` over it."""

from __future__ import annotations

import pytest

from healthmon.alerting.silences import SilenceInputError, validate_silence
from healthmon.storage.alerts import list_silences
from healthmon.storage.crypto import Cipher
from healthmon.storage.db import make_engine
from healthmon.storage.tenants import upsert_tenants
from tests.support.app import SECRET_KEY
from tests.support.cli import healthmon, healthmon_in_process, json_lines

KNOWN = {"acme"}


@pytest.mark.parametrize(
    ("given", "problems"),
    [
        ({}, [("service", "give service, tenant or both")]),
        ({"everything": True, "service": "redis"}, [("everything", "give it without service and tenant")]),
        ({"service": "magento"}, [("service", "unknown service 'magento'")]),
        ({"tenant": "Acme Corp"}, [("tenant", "must be 1-64 lowercase")]),
        ({"tenant": "nobody"}, [("tenant", "no tenant 'nobody'")]),
        ({"service": "postgres", "tenant": "acme"}, [("tenant", "postgres is a platform service")]),
        ({"service": "redis", "reason": "  "}, [("reason", "required: say why")]),
        ({"service": "redis", "reason": "x" * 501}, [("reason", "at most 500 characters")]),
        ({"service": "redis", "created_by": ""}, [("created_by", "required: who makes the silence")]),
        (
            {"reason": None, "created_by": None},
            [
                ("service", "give service, tenant or both"),
                ("reason", "required"),
                ("created_by", "required"),
            ],
        ),
    ],
)
def test_refused(given: dict[str, object], problems: list[tuple[str, str]]) -> None:
    arguments: dict[str, object] = {
        "service": None,
        "tenant": None,
        "everything": False,
        "reason": "maintenance",
        "created_by": "alice",
        **given,
    }
    with pytest.raises(SilenceInputError) as exc:
        validate_silence(**arguments, tenant_exists=KNOWN.__contains__)  # type: ignore[arg-type]
    assert [field for field, _ in exc.value.problems] == [field for field, _ in problems]
    for (_, message), (_, words) in zip(exc.value.problems, problems, strict=True):
        assert words in message


@pytest.mark.parametrize(
    ("given", "matched"),
    [
        ({"service": "redis"}, ("redis", None)),
        ({"tenant": "acme"}, (None, "acme")),
        ({"service": "shopify", "tenant": "acme"}, ("shopify", "acme")),
        ({"everything": True}, (None, None)),
    ],
)
def test_accepted(given: dict[str, object], matched: tuple[str | None, str | None]) -> None:
    arguments: dict[str, object] = {
        "service": None,
        "tenant": None,
        "everything": False,
        "reason": "  shopify   maintenance ",
        "created_by": " alice ",
        **given,
    }
    request = validate_silence(**arguments, tenant_exists=KNOWN.__contains__)  # type: ignore[arg-type]
    assert (request.service, request.tenant_id) == matched
    assert (request.reason, request.created_by) == ("shopify maintenance", "alice")
    assert request.everything is (matched == (None, None))


CLI_REFUSED: list[tuple[list[str], list[str]]] = [
    # what used to silence every service of every tenant for an hour, with no reason
    (
        [],
        [
            "--service: give --service, --tenant or both",
            "choose --everything explicitly",
            "--reason: required",
        ],
    ),
    (["--reason", "upgrade"], ["--service: give --service, --tenant or both"]),
    (["--service", "redis"], ["--reason: required: say why"]),
    (["--service", "redis", "--reason", "   "], ["--reason: required"]),
    (["--service", "magento", "--reason", "x"], ["--service: unknown service 'magento'"]),
    (["--tenant", "nobody", "--reason", "x"], ["--tenant: no tenant 'nobody'"]),
    (["--tenant", "Not Valid", "--reason", "x"], ["--tenant: must be 1-64 lowercase"]),
    (
        ["--service", "postgres", "--tenant", "acme", "--reason", "x"],
        ["--tenant: postgres is a platform service"],
    ),
    (["--everything", "--service", "redis", "--reason", "x"], ["--everything: silences everything"]),
    (["--service", "redis", "--reason", "x", "--by", " "], ["--by: required"]),
]


@pytest.fixture
def cli_env(sqlite_url: str) -> dict[str, str]:
    upsert_tenants(make_engine(sqlite_url), Cipher.from_setting(SECRET_KEY), [("acme", "Acme", True, {})])
    return {"HEALTHMON_DATABASE_URL": sqlite_url, "HEALTHMON_CONFIG": "", "USER": "alice"}


@pytest.mark.parametrize(("args", "messages"), CLI_REFUSED)
def test_cli_refuses(cli_env: dict[str, str], args: list[str], messages: list[str]) -> None:
    done = healthmon_in_process("silences", "add", *args, env=cli_env)
    assert done.returncode == 2, done.stderr
    for message in messages:
        assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list_silences(make_engine(cli_env["HEALTHMON_DATABASE_URL"])) == []


def test_cli_everything_and_the_list_shows_who_and_why(cli_env: dict[str, str]) -> None:
    everything = healthmon("silences", "add", "--everything", "--comment", "datacenter move", env=cli_env)
    assert everything.returncode == 0, everything.stderr
    assert "(everything)" in everything.stderr and "by alice" in everything.stderr
    tenant = healthmon(
        "silences", "add", "--tenant", "acme", "--reason", "migration", "--by", "bob", env=cli_env
    )
    assert tenant.returncode == 0, tenant.stderr
    rows = json_lines(healthmon("silences", "list", "--json", env=cli_env))
    assert [(r["service"], r["tenant"], r["everything"], r["created_by"], r["reason"]) for r in rows] == [
        (None, None, True, "alice", "datacenter move"),
        (None, "acme", False, "bob", "migration"),
    ]
    text = healthmon("silences", "list", env=cli_env).stdout
    assert 'created_by="alice" reason="datacenter move"' in text
    assert 'created_by="bob" reason="migration"' in text
