"""Every vendor monitor against the faults the sandbox injects: the status, the error class, a
reason, no secret, and the details each vendor must say (its own words for the failure).

One table a vendor: the failures all vendors share (auth refused, rate limited, 5xx, broken
transport) and the vendor's own kinds side by side, so that a vendor's row for a fault is the one
place that says what its monitor makes of it. Then the sandbox's conditions a monitor reports
and leaves to others to judge: headroom and token expiry (the default rules), a customer's failed
job. A vendor's healthy answer and its own settings stay in its own module; missing and refused
settings are in test_bad_settings.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from healthmon.alerting.thresholds import defaults_for, evaluate
from healthmon.monitors.assemblyai import AssemblyAIMonitor
from healthmon.monitors.google_ads import GoogleAdsMonitor
from healthmon.monitors.inngest import InngestMonitor
from healthmon.monitors.loop import LoopMonitor
from healthmon.monitors.mcp import McpMonitor
from healthmon.monitors.meta_ads import MetaAdsMonitor
from healthmon.monitors.mux import MuxMonitor
from healthmon.monitors.result import Status
from healthmon.monitors.shopify import ShopifyMonitor
from healthmon.monitors.slack import SlackMonitor
from healthmon.monitors.stripe import StripeMonitor
from healthmon.monitors.tiktok_ads import TikTokAdsMonitor
from healthmon.monitors.vercel import VercelMonitor
from healthmon.monitors.wise import WiseMonitor
from healthmon.monitors.yotpo import YotpoMonitor
from healthmon.sandbox.server import RunningSandbox
from healthmon.sandbox.vendors.assemblyai import AssemblyAI
from healthmon.sandbox.vendors.mux import Mux
from tests.support.vendor_cases import (
    ABSENT,
    PRESENT,
    TENANT,
    TRANSPORT,
    Contains,
    D,
    Fault,
    StartsWith,
    U,
    Vendor,
    check_with,
    run_monitor,
    said,
    settings_for,
)

REVOKED = Fault("revoked", {}, U, "auth")
EXPIRED = Fault("expired", {}, U, "auth")
RATE_LIMITED = Fault("rate_limited", {}, D, "rate_limited")
#: what most vendors are held to before their own rows
CREDENTIALS = (REVOKED, EXPIRED, RATE_LIMITED)


def http_error(status: int, error_class: str, verdict: Status = U, /, **params: Any) -> Fault:
    """An HTTP error answer; `params` are the sandbox's (its `error` is the vendor's message)."""
    return Fault("http_error", {"status": status, **params}, verdict, error_class)


def retry_after(seconds: float, **details: Any) -> Fault:
    """A 429 naming its wait: the monitor reports it (and whatever else `details` names)."""
    return Fault("rate_limited", {"retry_after": seconds}, D, "rate_limited", details)


def slack_token_error(kind: str, code: str) -> Fault:
    return Fault(kind, {}, U, "auth", {"slack_error": code, "reason": Contains(code), "http_status": 200})


def tiktok_code(base: Fault, code: str, reason: str) -> Fault:
    return replace(base, details={"http_status": 200, "tiktok_code": code, "reason": reason})


def google_quota(wait: float, **params: Any) -> Fault:
    return Fault(
        "rate_limited",
        params,
        D,
        "rate_limited",
        {
            "rate_limited": True,
            "retry_after_s": wait,
            "http_status": 429,
            "google_error": "RESOURCE_TEMPORARILY_EXHAUSTED",
        },
    )


def shop_frozen(status: int, state: str) -> Fault:
    return Fault(
        "shop_frozen", {"status": status}, U, "account", {"shop_state": state, "reason": Contains(state)}
    )


def in_modes(faults: tuple[Fault, ...], *modes: str) -> tuple[Fault, ...]:
    return tuple(replace(fault, settings={"mode": mode}) for mode in modes for fault in faults)


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        StripeMonitor(),
        (
            REVOKED,
            replace(EXPIRED, details={"reason": "API key expired"}),
            RATE_LIMITED,
            http_error(503, "vendor_error"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        SlackMonitor(),
        (
            slack_token_error("revoked", "token_revoked"),
            slack_token_error("expired", "token_expired"),
            RATE_LIMITED,
            retry_after(7, http_status=429, retry_after_s=7.0, rate_limited=True, slack_error="ratelimited"),
            http_error(503, "vendor_error"),
            http_error(500, "vendor_error"),
            # Slack answers most failures 200 with ok=false and an error code
            http_error(200, "vendor_error"),
            http_error(200, "auth", error="account_inactive"),
            http_error(200, "auth", error="missing_scope"),
            http_error(200, "auth", error="org_login_required"),
            http_error(200, "auth", error="ekm_access_denied"),
            http_error(200, "vendor_error", error="fatal_error"),
            http_error(200, "vendor_error", error="service_unavailable"),
            http_error(200, "rate_limited", D, error="ratelimited"),
            http_error(200, "client_error", error="invalid_arguments"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        WiseMonitor(),
        (
            REVOKED,
            replace(EXPIRED, details={"reason": "Access token expired"}),
            replace(RATE_LIMITED, details={"rate_limited": True, "retry_after_s": ABSENT}),
            retry_after(3, retry_after_s=3.0),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            replace(
                http_error(422, "client_error", error="Invalid profile"),
                details={"reason": "Invalid profile", "http_status": 422},
            ),
            http_error(403, "auth", error="Missing scope"),
            replace(
                http_error(403, "auth"),
                details={"reason": "strong customer authentication required", "sca_result": "REJECTED"},
            ),
            Fault(
                "profile_deactivated",
                {},
                U,
                "account",
                {
                    "reason": Contains("DEACTIVATED"),
                    "profile_state": "DEACTIVATED",
                    "profiles_deactivated": 2,
                },
            ),
            *TRANSPORT,
            Fault("reset", {"mode": "close"}, U, "reset"),
        ),
    ),
    Vendor(
        VercelMonitor(),
        (
            *CREDENTIALS,
            retry_after(7, retry_after_s=7),
            http_error(500, "vendor_error"),
            http_error(400, "client_error"),
            http_error(401, "auth"),
            *TRANSPORT,
            Fault(
                "deployment_error",
                {},
                U,
                "deployment",
                {
                    "reason": Contains("ERROR", "storefront-abc123.vercel.app", "BUILD_FAILED"),
                    "deployment_state": "ERROR",
                },
            ),
            Fault("deployment_error", {"state": "CANCELED"}, U, "deployment"),
            Fault("deployment_error", {"state": "BUILDING", "age_s": 3600}, D, "deployment"),
            Fault("deployment_error", {"state": "QUEUED", "age_s": 2400}, D, "deployment"),
            Fault("deployment_error", {"state": "INITIALIZING", "age_s": 7200}, D, "deployment"),
        ),
    ),
    Vendor(
        ShopifyMonitor(),
        (
            REVOKED,
            EXPIRED,
            # Shopify's GraphQL throttles inside a 200
            replace(
                RATE_LIMITED,
                details={
                    "http_status": 200,
                    "rate_limited": True,
                    "rate_limit_remaining_pct": 0.0,
                    "retry_after_s": pytest.approx(0.1),
                },
            ),
            shop_frozen(402, "frozen"),
            shop_frozen(423, "locked"),
            http_error(404, "config"),
            http_error(403, "auth"),
            http_error(503, "vendor_error"),
            *TRANSPORT,
        ),
        scope=TENANT,
    ),
    Vendor(
        YotpoMonitor(),
        (
            replace(REVOKED, details={"reason": "secret rejected", "step": "token"}),
            replace(
                EXPIRED,
                details={
                    "step": "products",
                    "reason": StartsWith("fresh access token rejected"),
                    "token_ms": PRESENT,
                },
            ),
            RATE_LIMITED,
            retry_after(2, step="token"),
            http_error(403, "auth"),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            replace(http_error(502, "vendor_error"), details={"step": "token"}),
            *TRANSPORT,
        ),
        # minted during the check, so not among the target's secrets: the monitor alone keeps it out
        never_said=lambda sandbox: (sandbox.state.platform.yotpo_access_token,),
    ),
    Vendor(
        InngestMonitor(),
        (
            *CREDENTIALS,
            retry_after(7, retry_after_s=7.0, rate_limited=True),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        AssemblyAIMonitor(),
        (
            REVOKED,
            EXPIRED,
            Fault(
                "balance_negative",
                {},
                U,
                "account",
                {"reason": "account balance is negative", "http_status": 400},
            ),
            RATE_LIMITED,
            retry_after(5, retry_after_s=5.0, rate_limited=True),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            http_error(400, "client_error", error="limit must be an integer"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        MuxMonitor(),
        (
            REVOKED,
            EXPIRED,
            http_error(403, "auth"),
            replace(
                http_error(403, "auth", error="Token does not have Video read access"),
                details={"reason": StartsWith("token lacks permission"), "mux_error_type": "forbidden"},
            ),
            retry_after(1),
            retry_after(3, retry_after_s=3.0, rate_limited=True, rate_limit_remaining_pct=0.0),
            http_error(503, "vendor_error"),
            http_error(404, "client_error"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        GoogleAdsMonitor(),
        (
            replace(
                REVOKED,
                details={
                    "reason": "refresh token expired or revoked",
                    "step": "token_refresh",
                    "oauth_error": "invalid_grant",
                },
            ),
            replace(
                EXPIRED,
                details={
                    "reason": "access token expired (OAUTH_TOKEN_EXPIRED)",
                    "google_error": "OAUTH_TOKEN_EXPIRED",
                },
            ),
            google_quota(30.0),
            google_quota(12.0, retry_after=12.0),
            Fault("customer_missing", {}, U, "config"),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            http_error(403, "auth"),
            http_error(400, "client_error"),
            *TRANSPORT,
            # the token refresh at Google OAuth fails before Google Ads is asked
            *(
                replace(fault, service="google_oauth")
                for fault in (
                    http_error(500, "vendor_error"),
                    http_error(429, "rate_limited", D),
                    Fault("malformed_json", {}, U, "bad_body"),
                    Fault("reset", {}, U, "reset"),
                    Fault("hang", {}, U, "timeout"),
                )
            ),
        ),
        # the access token the check mints
        never_said=lambda sandbox: ("ya29.",),
    ),
    Vendor(
        MetaAdsMonitor(),
        (
            replace(REVOKED, details={"reason": Contains("revoked"), "meta_error": "190/467"}),
            replace(EXPIRED, details={"reason": "access token expired", "meta_error": "190/463"}),
            RATE_LIMITED,
            Fault("rate_limited", {"code": 4}, D, "rate_limited"),
            Fault("rate_limited", {"code": 613}, D, "rate_limited"),
            Fault(
                "rate_limited",
                {"code": 80004},
                D,
                "rate_limited",
                {
                    "rate_limited": True,
                    "rate_limit_remaining_pct": 0.0,
                    "retry_after_s": 300.0,
                    "meta_error": "80004/2446079",
                },
            ),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            http_error(400, "auth", code=200),
            http_error(400, "auth", code=10),
            http_error(400, "vendor_error", code=2),
            http_error(400, "client_error"),
            Fault("account_disabled", {}, U, "account"),
            Fault(
                "account_disabled",
                {"disable_reason": 3},
                U,
                "account",
                {
                    "reason": "ad account DISABLED (disable reason RISK_PAYMENT)",
                    "account_status": "DISABLED",
                    "disable_reason": "RISK_PAYMENT",
                },
            ),
            Fault("account_disabled", {"account_status": 101, "disable_reason": 0}, U, "account"),
            Fault("account_disabled", {"account_status": 9, "disable_reason": 0}, D, "account"),
            *TRANSPORT,
        ),
        # the app secret rides in debug_token's query string: no URL may reach details
        never_said=lambda sandbox: ("://",),
    ),
    Vendor(
        TikTokAdsMonitor(),
        (
            # TikTok answers failures 200 with a code of its own
            tiktok_code(REVOKED, "40105", "access token incorrect or revoked"),
            tiktok_code(EXPIRED, "40102", "access token expired"),
            tiktok_code(RATE_LIMITED, "40100", "Too many requests. Please retry in some time."),
            Fault("http_error", {"code": 40101}, U, "auth"),
            Fault("http_error", {"code": 40104}, U, "auth"),
            Fault("http_error", {"code": 40001}, U, "client_error"),
            Fault("http_error", {"code": 40002}, U, "client_error"),
            Fault("http_error", {"code": 50000}, U, "vendor_error"),
            Fault("http_error", {"code": 51001}, U, "vendor_error"),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            Fault(
                "advertiser_disabled",
                {},
                U,
                "account",
                {"reason": "advertiser STATUS_DISABLE", "advertiser_status": "STATUS_DISABLE"},
            ),
            Fault("advertiser_disabled", {"status": "STATUS_LIMIT"}, U, "account"),
            Fault("advertiser_disabled", {"status": "STATUS_PENDING_CONFIRM"}, D, "account"),
            *TRANSPORT,
        ),
    ),
    Vendor(
        LoopMonitor(),
        (
            *CREDENTIALS,
            retry_after(30, retry_after_s=30.0, rate_limited=True, reason="Too Many Attempts."),
            # Loop answers some failures 200 with an error envelope
            Fault(
                "error_in_200",
                {},
                U,
                "auth",
                {"http_status": 200, "reason": "API key rejected: Unauthorized."},
            ),
            Fault("error_in_200", {"message": "Server Error"}, U, "vendor_error"),
            Fault("error_in_200", {"message": "Too Many Attempts."}, D, "rate_limited"),
            http_error(500, "vendor_error"),
            http_error(503, "vendor_error"),
            http_error(422, "client_error"),
            http_error(400, "auth", error="Unauthorized."),
            *TRANSPORT,
        ),
    ),
    Vendor(
        McpMonitor(),
        (
            *in_modes(
                (
                    *CREDENTIALS,
                    http_error(503, "vendor_error"),
                    http_error(500, "vendor_error"),
                    http_error(200, "protocol"),
                    *TRANSPORT,
                ),
                "auto",
                "legacy",
            ),
            retry_after(4, retry_after_s=4.0, rate_limited=True),
            replace(
                http_error(200, "protocol", error="Server exploded"),
                details={"rpc_code": -32603, "reason": Contains("Server exploded")},
            ),
        ),
    ),
)

CASES = [(vendor, fault) for vendor in VENDORS for fault in vendor.faults]
BY_SERVICE = {vendor.service: vendor for vendor in VENDORS}


@pytest.mark.parametrize(("vendor", "fault"), CASES, ids=[f"{v.service}/{f.id}" for v, f in CASES])
async def test_fault(sandbox: RunningSandbox, bed: Mapping[str, Any], vendor: Vendor, fault: Fault) -> None:
    await check_with(sandbox, vendor, settings_for(bed, vendor.monitor), fault)


#: faults the monitor reports as healthy with a metric and leaves to the default rules to judge:
#: (service, kind, params, details the check reports, the default rules' verdict)
LEFT_TO_THE_RULES: list[tuple[str, str, dict[str, Any], dict[str, Any], Status]] = [
    ("shopify", "near_limit", {"pct": 85}, {"rate_limit_remaining_pct": pytest.approx(15)}, D),
    ("shopify", "near_limit", {"pct": 97}, {"rate_limit_remaining_pct": pytest.approx(3)}, U),
    ("mux", "near_limit", {"pct": 85}, {"rate_limit_remaining_pct": pytest.approx(15)}, D),
    ("mux", "near_limit", {"pct": 95}, {"rate_limit_remaining_pct": pytest.approx(5)}, U),
    ("meta_ads", "near_limit", {"pct": 85.0}, {"rate_limit_remaining_pct": 15.0}, D),
    ("meta_ads", "near_limit", {"pct": 95.0}, {"rate_limit_remaining_pct": 5.0}, U),
    ("meta_ads", "token_expiring", {"days": 3.0}, {"token_expires_in_days": pytest.approx(3.0, abs=0.02)}, D),
    ("meta_ads", "token_expiring", {"days": 0.5}, {"token_expires_in_days": pytest.approx(0.5, abs=0.02)}, U),
    ("vercel", "near_limit", {}, {"rate_limit_remaining_pct": 5.0}, U),
    ("vercel", "near_limit", {"pct": 85}, {}, D),
]


@pytest.mark.parametrize(("service", "kind", "params", "details", "verdict"), LEFT_TO_THE_RULES)
async def test_left_to_the_rules(
    sandbox: RunningSandbox,
    bed: Mapping[str, Any],
    service: str,
    kind: str,
    params: dict[str, Any],
    details: dict[str, Any],
    verdict: Status,
) -> None:
    vendor = BY_SERVICE[service]
    sandbox.state.add_fault(service, kind, vendor.scope, **params)
    result = await run_monitor(vendor.monitor, settings_for(bed, vendor.monitor))
    assert result.status is Status.HEALTHY, result.details
    assert said(result.details, details) == details
    assert evaluate(result, defaults_for(service)).status is verdict


#: the customer's latest job failed at the vendor: the monitor reports it and stays healthy, as
#: a failed upload says nothing of the vendor: (service, the sandbox vendor, its latest job's
#: status, the flag reported, texts of the job's own error that must stay out of the details)
LATEST_JOB_FAILED: list[tuple[str, type[Any], str, str, tuple[str, ...]]] = [
    # the transcript's own error text can quote customer audio URLs
    ("assemblyai", AssemblyAI, "error", "latest_transcript_error", ("example.invalid",)),
    ("mux", Mux, "errored", "latest_asset_errored", ()),
]


@pytest.mark.parametrize(("service", "vendor", "status", "flag", "quoted"), LATEST_JOB_FAILED)
async def test_failed_latest_job_is_reported_not_judged(
    monkeypatch: pytest.MonkeyPatch,
    bed: Mapping[str, Any],
    service: str,
    vendor: type[Any],
    status: str,
    flag: str,
    quoted: tuple[str, ...],
) -> None:
    monkeypatch.setattr(vendor, "latest_status", status)
    monitor = BY_SERVICE[service].monitor
    result = await run_monitor(monitor, settings_for(bed, monitor))
    assert result.status is Status.HEALTHY
    assert result.details[flag] is True
    for text in quoted:
        assert text not in repr(result.details)
