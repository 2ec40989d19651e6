from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.result import Status
from healthmon.monitors.shopify import ShopifyMonitor
from healthmon.sandbox.server import RunningSandbox
from tests.support.vendor_cases import assert_no_secret, check_healthy, run_monitor, settings_fixture

# Shopify's faults and settings: test_common_failures.py, test_bad_settings.py
M = ShopifyMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    d = result.details
    assert d["plan"] == "Shopify Plus" and d["shop_domain"] == settings["shop"]
    assert d["api_version"] == settings["api_version"] and "api_version_requested" not in d
    assert d["rate_limit_remaining_pct"] == pytest.approx(99.9, abs=0.1)
    assert d["throttle_restore_rate"] == 100.0
    assert_no_secret(result, settings)


async def test_api_version_is_configurable(sandbox: RunningSandbox, settings: dict[str, Any]) -> None:
    settings["api_version"] = "2026-07"
    result = await run_monitor(M, settings)
    assert result.status is Status.HEALTHY and result.details["api_version"] == "2026-07"


async def test_fault_on_another_tenant_does_not_leak(
    sandbox: RunningSandbox, settings: dict[str, Any]
) -> None:
    sandbox.state.add_fault("shopify", "revoked", tenant="tenant-0002")
    assert (await run_monitor(M, settings)).status is Status.HEALTHY


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
    result = await run_monitor(M, settings)
    assert (result.status, result.details["error"]) == (Status.UNKNOWN, "invalid_setting")
    assert "myshopify.com" in result.details["reason"]
    assert sandbox.state.requests_for("shopify") == before


async def test_base_url_without_shop_placeholder_is_unknown(settings: dict[str, Any]) -> None:
    settings["base_url"] = settings["base_url"].replace("{shop}", "fixed.myshopify.com")
    result = await run_monitor(M, settings)
    assert result.status is Status.UNKNOWN and "{shop}" in result.details["reason"]
