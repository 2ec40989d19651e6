from __future__ import annotations

from typing import Any

import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.result import Status
from healthmon.monitors.shopify import ShopifyMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.monitors.conftest import TRANSPORT_FAULTS, assert_no_secret, check_fault, run_monitor

M = ShopifyMonitor()
TENANT = "tenant-0001"


@pytest.fixture
def settings(bed: dict[str, Any]) -> dict[str, Any]:
    return {**bed["services"]["shopify"], **bed["tenants"][TENANT]["shopify"]}


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY, result.details
    d = result.details
    assert d["http_status"] == 200 and result.latency_ms is not None
    assert d["plan"] == "Shopify Plus" and d["shop_domain"] == settings["shop"]
    assert d["api_version"] == settings["api_version"] and "api_version_requested" not in d
    assert d["rate_limit_remaining_pct"] == pytest.approx(99.9, abs=0.1)
    assert d["throttle_restore_rate"] == 100.0
    assert_no_secret(result, settings)


async def test_api_version_is_configurable(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["api_version"] = "2026-07"
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY and result.details["api_version"] == "2026-07"


@pytest.mark.parametrize(
    ("kind", "params", "status", "error"),
    [
        ("revoked", {}, Status.UNHEALTHY, "auth"),
        ("expired", {}, Status.UNHEALTHY, "auth"),
        ("rate_limited", {}, Status.DEGRADED, "rate_limited"),
        ("shop_frozen", {"status": 402}, Status.UNHEALTHY, "account"),
        ("shop_frozen", {"status": 423}, Status.UNHEALTHY, "account"),
        ("http_error", {"status": 404}, Status.UNHEALTHY, "config"),
        ("http_error", {"status": 403}, Status.UNHEALTHY, "auth"),
        ("http_error", {"status": 503}, Status.UNHEALTHY, "vendor_error"),
        *TRANSPORT_FAULTS,
    ],
)
async def test_faults(
    sandbox: RunningSandbox,
    settings: dict[str, Any],
    kind: str,
    params: dict[str, Any],
    status: Status,
    error: str,
) -> None:
    sandbox.state.add_fault("shopify", kind, tenant=TENANT, **params)
    await check_fault(M, settings, (status, error), TENANT)


async def test_throttled_in_200(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    sandbox.state.add_fault("shopify", "rate_limited", tenant=TENANT)
    result = await run_monitor(M, settings, TENANT)
    d = result.details
    assert d["http_status"] == 200 and d["rate_limited"] is True
    assert d["rate_limit_remaining_pct"] == 0.0 and d["retry_after_s"] == pytest.approx(0.1)


@pytest.mark.parametrize(("status", "state"), [(402, "frozen"), (423, "locked")])
async def test_frozen_or_locked_names_the_state(
    sandbox: RunningSandbox, settings: dict[str, Any], status: int, state: str
) -> None:
    sandbox.state.add_fault("shopify", "shop_frozen", tenant=TENANT, status=status)
    result = await run_monitor(M, settings, TENANT)
    assert result.details["shop_state"] == state and state in result.details["reason"]


async def test_unknown_shop_is_config(settings: dict[str, Any]) -> None:
    settings["shop"] = "no-such-shop.myshopify.com"
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNHEALTHY, "config")
    assert "not found" in result.details["reason"]


@pytest.mark.parametrize(("pct", "status"), [(85, Status.DEGRADED), (97, Status.UNHEALTHY)])
async def test_near_limit_is_decided_by_thresholds(
    sandbox: RunningSandbox, settings: dict[str, Any], pct: float, status: Status
) -> None:
    sandbox.state.add_fault("shopify", "near_limit", tenant=TENANT, pct=pct)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.HEALTHY
    assert result.details["rate_limit_remaining_pct"] == pytest.approx(100 - pct)
    assert evaluate(result, defaults_for("shopify")).status is status


async def test_fault_on_another_tenant_does_not_leak(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("shopify", "revoked", tenant="tenant-0002")
    assert (await run_monitor(M, settings, TENANT)).status is Status.HEALTHY


@pytest.mark.parametrize("key", ["shop", "access_token"])
async def test_missing_tenant_setting_is_unknown(settings: dict[str, Any], key: str) -> None:
    settings.pop(key)
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


async def test_wrong_token_is_rejected_without_leaking_it(settings: dict[str, Any]) -> None:
    settings["access_token"] = "shpat_wrongwrongwrong1234"
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNHEALTHY and result.details["error"] == "auth"
    assert "Invalid API key" in result.details["reason"]
    assert "shpat_wrongwrongwrong1234" not in repr(result.details)


BAD_SHOPS = [
    "https://acme.myshopify.com",
    "acme.myshopify.com/admin",
    "acme.myshopify.com:8443",
    "evil.com/.myshopify.com",
    "evil.com?.myshopify.com",
    "evil.com#.myshopify.com",
    "user@acme.myshopify.com",
    "acme.myshopify.com.evil.com",
    "acme.evil.com",
    "Acme.myshopify.com",
    "ACME.MYSHOPIFY.COM",
    "a.b.myshopify.com",
    "acme_shop.myshopify.com",
    "-acme.myshopify.com",
    ".myshopify.com",
    "myshopify.com",
    "acme.myshopify.com\n",
    " acme.myshopify.com",
    "acme.myshopify.com.",
    "127.0.0.1",
    "localhost",
]


@pytest.mark.parametrize("shop", BAD_SHOPS)
def test_validate_tenant_rejects_anything_but_a_shop_domain(shop: str) -> None:
    with pytest.raises(ValueError, match="shop"):
        M.validate_tenant({"shop": shop, "access_token": "shpat_x"})


@pytest.mark.parametrize("shop", ["acme.myshopify.com", "acme-2-shop.myshopify.com", "0day.myshopify.com"])
def test_validate_tenant_accepts_shop_domains(shop: str) -> None:
    M.validate_tenant({"shop": shop, "access_token": "shpat_x"})


def test_validate_tenant_requires_both_keys() -> None:
    with pytest.raises(ValueError, match="access_token"):
        M.validate_tenant({"shop": "acme.myshopify.com"})


@pytest.mark.parametrize("shop", ["evil.com/.myshopify.com", "127.0.0.1:1", "Acme.myshopify.com"])
async def test_check_refuses_a_hand_edited_shop(
    sandbox: RunningSandbox, settings: dict[str, Any], shop: str
) -> None:
    before = sandbox.state.requests_for("shopify")
    settings["shop"] = shop
    result = await run_monitor(M, settings, TENANT)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "invalid_setting")
    assert "myshopify.com" in result.details["reason"]
    assert sandbox.state.requests_for("shopify") == before


async def test_base_url_without_shop_placeholder_is_unknown(settings: dict[str, Any]) -> None:
    settings["base_url"] = settings["base_url"].replace("{shop}", "fixed.myshopify.com")
    result = await run_monitor(M, settings, TENANT)
    assert result.status is Status.UNKNOWN and "{shop}" in result.details["reason"]
