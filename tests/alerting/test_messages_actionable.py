"""Messages on-call can act on: Stripe answering 503, from the sandbox through a real tier run
to the Slack, email, PagerDuty and webhook receivers. Each says 503, links to Stripe's service
detail and to the alert, and gives the time of the first failing check (not when the alert
opened); tenants show by display name beside their id; the reason's code is never doubled."""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from healthmon.alerting.channels.render import coded_reason, human_time, iso_time
from healthmon.flows.app import App
from healthmon.flows.pipeline import run_tier
from healthmon.flows.refs import TierRequest
from healthmon.flows.tenant_input import read_tenants_file
from healthmon.monitors.result import Tier
from healthmon.sandbox import RunningSandbox, SandboxState, write_bed
from healthmon.sandbox.bed import config_for
from healthmon.storage import alerts as store
from healthmon.storage.tables import HISTORY
from healthmon.storage.tenants import upsert_tenants
from tests.alerting.conftest import SmtpServer, StartSmtp, channel_config
from tests.support.app import AppFactory

DASHBOARD = "https://healthmon.example"
CHANNELS = ["slack", "email", "pagerduty", "webhook"]


@pytest.fixture
def receivers(sandbox: RunningSandbox, state: SandboxState) -> RunningSandbox:
    """The session's sandbox (tests/alerting/conftest.py), wiped for this test by `state`."""
    return sandbox


def make(make_app: AppFactory, db: str, receivers: RunningSandbox, smtp: SmtpServer, **extra: Any) -> App:
    services = config_for(receivers.base_url, receivers.state)["services"]
    config: dict[str, Any] = {
        "services": {"stripe": services["stripe"], "shopify": services["shopify"]},
        "channels": channel_config(receivers, smtp),
        # every severity to every channel: the facts must be the same everywhere
        "routes": [{"severity": ["p1", "p2", "p3"], "channels": CHANNELS}],
        "run": {"confirm_retries": 0},
        **extra,
    }
    return make_app(db, config)


async def run_stripe(app: App, times: int) -> None:
    for _ in range(times):
        await run_tier(app, TierRequest(Tier.CORE, services=("stripe",), force=True))


def first_failing_check(app: App, service: str) -> datetime:
    with app.engine.connect() as conn:
        first = conn.execute(
            select(func.min(HISTORY.c.checked_at)).where(
                HISTORY.c.service == service, HISTORY.c.status != "healthy"
            )
        ).scalar_one()
    assert isinstance(first, datetime)
    return first


def slack_text(state: SandboxState) -> str:
    """Everything the last Slack message shows, as one string."""
    body = state.received("slack")[-1]["body"]
    parts = [body["text"]]
    for block in body["attachments"][0]["blocks"]:
        parts += [
            i["text"] for i in [block.get("text"), *block.get("fields", []), *block.get("elements", [])] if i
        ]
    return "\n".join(parts)


def mail_parts(smtp: SmtpServer) -> tuple[str, str]:
    """(plain text, HTML) of the last email."""
    raw = smtp.inbox.envelopes[-1].content
    assert isinstance(raw, bytes)
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return str(plain.get_content()), str(html.get_content())


async def test_stripe_503_says_503_links_to_stripe_and_gives_the_first_failing_check(
    make_app: AppFactory, pg_url: str, receivers: RunningSandbox, start_smtp: StartSmtp
) -> None:
    smtp = start_smtp()
    app = make(make_app, pg_url, receivers, smtp, dashboard_url=DASHBOARD)
    receivers.state.add_fault("stripe", "http_error", status=503)
    await run_stripe(app, 2)  # open_after: the second failing run opens the alert
    (alert,) = store.list_alerts(app.engine, ["open"])
    first = first_failing_check(app, "stripe")
    assert first < alert["first_seen"]  # the alert opened a run later than the failure began
    alert_link = f"{DASHBOARD}/alerts?alert={alert['id']}"
    service_link = f"{DASHBOARD}/service?service=stripe"
    reason = "HTTP 503: An unknown error occurred"

    slack = slack_text(receivers.state)
    assert f"[P2] stripe unhealthy (platform): {reason}" in slack
    assert f"*Failing since*\n{human_time(first)}" in slack
    assert f"*Alert opened*\n{human_time(alert['first_seen'])}" in slack
    assert f"<{alert_link}|Open alert #{alert['id']}>" in slack
    assert f"<{service_link}|stripe (platform) in service detail>" in slack
    assert "stripe · platform · health" in slack and "stripe|-|health" not in slack

    plain, html = mail_parts(smtp)
    for body in (plain, html):
        assert reason in body and human_time(first) in body
        assert "stripe · platform · health" in body and "stripe|-|health" not in body
    assert f"Failing since: {human_time(first)}" in plain
    assert f"stripe (platform) in service detail: {service_link}" in plain
    assert f'href="{service_link}"' in html and f'href="{alert_link}"' in html
    assert f'href="{DASHBOARD}"' not in html  # the dashboard's root is no link to act on

    (event,) = [m["body"] for m in receivers.state.received("pagerduty")]
    assert event["dedup_key"] == "stripe|-|health"  # PagerDuty keeps the raw signature
    assert event["payload"]["summary"] == f"stripe unhealthy (platform): {reason}"
    custom = event["payload"]["custom_details"]
    assert (custom["reason"], custom["since"]) == (reason, iso_time(first))
    assert custom["opened_at"] == iso_time(alert["first_seen"])
    assert custom["alert"] == "stripe · platform · health"
    assert event["client_url"] == alert_link
    assert [link["href"] for link in event["links"]] == [alert_link, service_link]

    (hook,) = [m["body"] for m in receivers.state.received("webhook")]
    assert (hook["reason"], hook["since"]) == (reason, iso_time(first))
    assert (hook["alert_url"], hook["service_url"]) == (alert_link, service_link)
    assert hook["details"]["reason"] == "An unknown error occurred"  # the check's own words


async def test_without_dashboard_url_no_channel_links_anywhere(
    make_app: AppFactory, sqlite_url: str, receivers: RunningSandbox, start_smtp: StartSmtp
) -> None:
    smtp = start_smtp()
    app = make(make_app, sqlite_url, receivers, smtp)
    receivers.state.add_fault("stripe", "http_error", status=503)
    await run_stripe(app, 2)
    assert "http" not in slack_text(receivers.state).replace("HTTP 503", "")
    plain, html = mail_parts(smtp)
    assert "href" not in html and "service detail" not in plain
    (event,) = [m["body"] for m in receivers.state.received("pagerduty")]
    assert "links" not in event and "client_url" not in event
    (hook,) = [m["body"] for m in receivers.state.received("webhook")]
    assert (hook["alert_url"], hook["service_url"]) == (None, None)


async def test_failing_since_survives_an_escalation(
    make_app: AppFactory, sqlite_url: str, receivers: RunningSandbox, start_smtp: StartSmtp
) -> None:
    """Rate limited (degraded, p3) and then down (unhealthy, p2) is one outage: the escalation
    says it began with the first rate-limited check, although the status changed since."""
    app = make(make_app, sqlite_url, receivers, start_smtp(), dashboard_url=DASHBOARD)
    receivers.state.add_fault("stripe", "rate_limited")
    await run_stripe(app, 2)
    first = first_failing_check(app, "stripe")
    receivers.state.clear_faults("stripe")
    receivers.state.add_fault("stripe", "http_error", status=503)
    await run_stripe(app, 1)
    trigger, escalate = [m["body"] for m in receivers.state.received("webhook")]
    assert (trigger["kind"], escalate["kind"]) == ("trigger", "escalate")
    assert trigger["reason"] == "HTTP 429 rate_limit: " + trigger["details"]["reason"]
    assert escalate["reason"] == "HTTP 503: An unknown error occurred"
    assert trigger["since"] == escalate["since"] == iso_time(first)


async def test_tenants_are_named_beside_their_id(
    make_app: AppFactory,
    sqlite_url: str,
    receivers: RunningSandbox,
    start_smtp: StartSmtp,
    tmp_path: Path,
) -> None:
    smtp = start_smtp()
    # p1 goes out on its own (p2/p3 tenant alerts are batched per group): one alert's message
    app = make(
        make_app,
        sqlite_url,
        receivers,
        smtp,
        dashboard_url=DASHBOARD,
        alerting={"severity": {"core.unhealthy": "p1"}},
    )
    assert app.cipher is not None
    _, tenants_path = write_bed(tmp_path, receivers.base_url, receivers.state)
    rows = read_tenants_file(tenants_path, env={})
    named = [(i, "Acme Shop" if i == "tenant-0001" else i, on, integ) for i, _name, on, integ in rows]
    upsert_tenants(app.engine, app.cipher, named)
    receivers.state.add_fault("shopify", "revoked", tenant="tenant-0001")
    for _ in range(2):
        await run_tier(app, TierRequest(Tier.CORE, services=("shopify",), force=True))
    slack = slack_text(receivers.state)
    assert "shopify unhealthy (Acme Shop (tenant-0001))" in slack
    assert "shopify · Acme Shop (tenant-0001) · health" in slack
    assert f"<{DASHBOARD}/service?service=shopify&tenant=tenant-0001|" in slack
    plain, _html = mail_parts(smtp)
    assert "Tenant:        Acme Shop (tenant-0001)" in plain
    (event,) = [m["body"] for m in receivers.state.received("pagerduty")]
    assert event["payload"]["custom_details"]["tenant"] == "Acme Shop (tenant-0001)"
    assert event["payload"]["group"] == "tenant-0001"  # grouping stays on the stable id
    (hook,) = [m["body"] for m in receivers.state.received("webhook")]
    assert (hook["tenant"], hook["tenant_name"]) == ("tenant-0001", "Acme Shop")


@pytest.mark.parametrize(
    ("reason", "facts", "shown"),
    [
        ("An unknown error occurred", {"http_status": 503}, "HTTP 503: An unknown error occurred"),
        (
            "Your card was declined.",
            {"http_status": 402, "stripe_code": "card_declined"},
            "HTTP 402 card_declined: Your card was declined.",
        ),
        # said already: not doubled
        ("vendor error (HTTP 503)", {"http_status": 503}, "vendor error (HTTP 503)"),
        ("Slack refused the token: invalid_auth", {"http_status": 200, "slack_error": "invalid_auth"}, None),
        (
            "quota exhausted (RESOURCE_EXHAUSTED)",
            {"http_status": 429, "google_error": "RESOURCE_EXHAUSTED"},
            "HTTP 429: quota exhausted (RESOURCE_EXHAUSTED)",
        ),
        # an error inside a 200 answer is told by its code alone
        (
            "access token incorrect or revoked",
            {"http_status": 200, "tiktok_code": "40105"},
            "40105: access token incorrect or revoked",
        ),
        ("connection refused", {"error": "connect"}, None),
        (None, {"http_status": 500}, "HTTP 500"),
        (
            "project not found",
            {"http_status": 404, "vercel_code": "not_found"},
            "HTTP 404 not_found: project not found",
        ),
    ],
)
def test_the_reason_carries_the_status_and_vendor_code_once(
    reason: str | None, facts: dict[str, Any], shown: str | None
) -> None:
    assert coded_reason(reason, facts) == (reason if shown is None else shown)
