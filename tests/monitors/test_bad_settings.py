"""Every vendor monitor with a setting missing, a credential the vendor refuses, or a resource
the vendor does not know: what the check says, and that a refused credential stays out of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from healthmon.monitors.base import Monitor
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import Status
from tests.support.vendor_cases import Contains, U, assert_no_secret, run_monitor, said, settings_for

#: the settings a check cannot do without, by service
REQUIRED: dict[str, tuple[str, ...]] = {
    "stripe": ("api_key",),
    "slack": ("bot_token",),
    "wise": ("api_token",),
    "vercel": ("token",),
    "shopify": ("shop", "access_token"),
    "yotpo": ("store_id", "secret"),
    "inngest": ("signing_key",),
    "assemblyai": ("api_key",),
    "mux": ("token_secret",),
    "google_ads": ("customer_id", "refresh_token", "client_id", "client_secret"),
    "meta_ads": ("access_token", "ad_account_id", "app_id", "app_secret"),
    "tiktok_ads": ("advertiser_id", "access_token"),
    "loop": ("api_key",),
    "mcp": ("base_url",),
}


def monitor_settings(bed: Mapping[str, Any], service: str) -> tuple[Monitor, dict[str, Any]]:
    monitor = MONITORS[service]
    return monitor, settings_for(bed, monitor)


@pytest.mark.parametrize(
    ("service", "key"), [(service, key) for service, keys in REQUIRED.items() for key in keys]
)
async def test_missing_setting_is_unknown(bed: Mapping[str, Any], service: str, key: str) -> None:
    monitor, settings = monitor_settings(bed, service)
    settings.pop(key)
    result = await run_monitor(monitor, settings)
    assert result.status is Status.UNKNOWN and key in result.details["reason"]


#: (service, setting, a value the vendor refuses, details the check must say)
REFUSED: list[tuple[str, str, str, dict[str, Any]]] = [
    ("stripe", "api_key", "sk_test_wrongwrongwrong1234", {}),
    ("slack", "bot_token", "xoxb-wrongwrongwrong1234", {"slack_error": "invalid_auth"}),
    ("wise", "api_token", "0123456789abcdefwrongwrong", {}),
    ("vercel", "token", "vc_wrongwrongwrong1234", {"reason": Contains("invalidToken")}),
    ("shopify", "access_token", "shpat_wrongwrongwrong1234", {"reason": Contains("Invalid API key")}),
    ("yotpo", "secret", "wrongwrongwrongyotposecret", {}),
    ("inngest", "signing_key", "signkey-prod-wrongwrongwrong1234", {"reason": "authentication failed"}),
    ("assemblyai", "api_key", "wrongwrongwrongassemblykey", {}),
    ("mux", "token_secret", "wrongwrongwrongmuxsecret", {}),
    ("google_ads", "refresh_token", "1//0wrongwrongwrongwrong1234", {"oauth_error": "invalid_grant"}),
    ("google_ads", "client_secret", "GOCSPX-wrongwrongwrong1234", {"oauth_error": "invalid_client"}),
    (
        "meta_ads",
        "access_token",
        "EAABwrongwrongwrong1234",
        {"reason": Contains("access token", folded=True)},
    ),
    (
        "meta_ads",
        "app_secret",
        "EAABwrongwrongwrong1234",
        {"reason": Contains("app credentials rejected", folded=True)},
    ),
    ("tiktok_ads", "access_token", "wrongwrongwrongwrong1234", {}),
    ("loop", "api_key", "loop_wrongwrongwrong1234", {"http_status": 401}),
    ("mcp", "token", "mcp_wrongwrongwrong1234", {"reason": "Invalid token"}),
]


@pytest.mark.parametrize(
    ("service", "key", "value", "details"), REFUSED, ids=[f"{s}-{k}" for s, k, *_ in REFUSED]
)
async def test_refused_credential_is_auth_without_leaking_it(
    bed: Mapping[str, Any], service: str, key: str, value: str, details: dict[str, Any]
) -> None:
    monitor, settings = monitor_settings(bed, service)
    settings[key] = value
    result = await run_monitor(monitor, settings)
    assert (result.status, result.details["error"]) == (U, "auth"), result.details
    assert said(result.details, details) == details
    assert value not in repr(result.details)
    assert_no_secret(result, settings)


#: (service, setting, a value naming what the vendor does not have, the reason holds)
UNKNOWN_TO_THE_VENDOR: list[tuple[str, str, Any, str]] = [
    ("vercel", "project_id", "prj_doesnotexist", "prj_doesnotexist"),
    ("shopify", "shop", "no-such-shop.myshopify.com", "not found"),
    ("wise", "profile_id", 1, "1"),
    ("tiktok_ads", "advertiser_id", "123", "123"),
    ("yotpo", "store_id", "nosuchstore", ""),
]


@pytest.mark.parametrize(("service", "key", "value", "reason"), UNKNOWN_TO_THE_VENDOR)
async def test_what_the_vendor_does_not_know_is_config(
    bed: Mapping[str, Any], service: str, key: str, value: Any, reason: str
) -> None:
    monitor, settings = monitor_settings(bed, service)
    settings[key] = value
    result = await run_monitor(monitor, settings)
    assert (result.status, result.details["error"]) == (U, "config"), result.details
    assert reason in result.details["reason"]


#: tenant-file entries a monitor takes, and ones it refuses naming the setting at fault
#: (Shopify's shop domains: test_shopify.py)
GOOD_TENANTS: list[tuple[str, dict[str, Any]]] = [
    *(
        ("google_ads", {"customer_id": good, "refresh_token": "1//0x"})
        for good in ("1234567890", "123-456-7890", 1234567890)
    ),
    ("meta_ads", {"ad_account_id": "act_123456", "access_token": "EAAB1"}),
    *(
        ("tiktok_ads", {"advertiser_id": good, "access_token": "t"})
        for good in ("7012345678901234567", 7012345678901234567)
    ),
]
BAD_TENANTS: list[tuple[str, dict[str, Any], str]] = [
    *(
        ("google_ads", {"customer_id": bad, "refresh_token": "1//0x"}, "customer_id")
        for bad in ("123456789", "12345678901", "123-456-789x")
    ),
    ("google_ads", {"customer_id": "1234567890"}, "refresh_token"),
    *(
        ("meta_ads", {"ad_account_id": bad, "access_token": "EAAB1"}, "ad_account_id")
        for bad in ("123456", "act_", "act_12x", "act_1 ")
    ),
    ("meta_ads", {"ad_account_id": "act_1"}, "access_token"),
    *(
        ("tiktok_ads", {"advertiser_id": bad, "access_token": "t"}, "advertiser_id")
        for bad in ("act_1", "12a", "-1")
    ),
    ("tiktok_ads", {"advertiser_id": "1"}, "access_token"),
]


@pytest.mark.parametrize(("service", "tenant"), GOOD_TENANTS)
def test_tenant_entry_is_taken(service: str, tenant: dict[str, Any]) -> None:
    MONITORS[service].validate_tenant(tenant)


@pytest.mark.parametrize(("service", "tenant", "named"), BAD_TENANTS)
def test_tenant_entry_is_refused_naming_the_setting(service: str, tenant: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        MONITORS[service].validate_tenant(tenant)
