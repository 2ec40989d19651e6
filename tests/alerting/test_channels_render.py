"""The shared words: headline per kind, facts, short details and the shortened tenant list."""

from __future__ import annotations

import datetime as dt

import pytest

from healthmon.alerting.channels.render import (
    ACKNOWLEDGED_COLOUR,
    RESOLVED_COLOUR,
    headline,
    human_time,
    iso_time,
    short_details,
    short_tenants,
    view,
)
from healthmon.alerting.notification import Kind, Severity
from tests.alerting.conftest import MakeNotification, rollup_tenants


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (Kind.TRIGGER, "[P1] postgres unhealthy (platform): connection refused"),
        (Kind.ESCALATE, "[P1 ESCALATED] postgres unhealthy (platform): connection refused"),
        (Kind.RENOTIFY, "[P1 REMINDER] postgres unhealthy (platform): connection refused"),
        (
            Kind.ACKNOWLEDGE,
            "[ACKNOWLEDGED] postgres unhealthy (platform): connection refused, acknowledged by ana",
        ),
        (Kind.RESOLVE, "[RESOLVED] postgres healthy (platform): connection refused"),
    ],
)
def test_headline_per_kind(make_notification: MakeNotification, kind: Kind, expected: str) -> None:
    status = "healthy" if kind is Kind.RESOLVE else "unhealthy"
    assert headline(make_notification(kind, status=status, acknowledged_by="ana")) == expected


def test_headline_names_the_tenant_or_the_rollup_and_stays_on_one_line(
    make_notification: MakeNotification,
) -> None:
    tenant = make_notification(
        service="shopify", tenant_id="tenant-0007", severity=Severity.P2, reason="HTTP 401\nrevoked"
    )
    assert headline(tenant) == "[P2] shopify unhealthy (tenant-0007): HTTP 401 revoked"
    rollup = make_notification(service="shopify", tenants=rollup_tenants(50), reason=None)
    assert headline(rollup) == "[P1] shopify unhealthy (platform, 50 tenants)"
    long = headline(make_notification(reason="x" * 5000))
    assert len(long) < 300 and long.endswith("…")


def test_colours_follow_severity_then_resolve_and_acknowledge(make_notification: MakeNotification) -> None:
    colours = {s: view(make_notification(severity=s)).colour for s in Severity}
    assert colours == {Severity.P1: "#d62728", Severity.P2: "#ff7f0e", Severity.P3: "#f2c744"}
    assert view(make_notification(Kind.ESCALATE, severity=Severity.P2)).colour == "#ff7f0e"
    assert view(make_notification(Kind.RESOLVE)).colour == RESOLVED_COLOUR == "#2ca02c"
    assert view(make_notification(Kind.ACKNOWLEDGE)).colour == ACKNOWLEDGED_COLOUR


def test_short_details_keep_small_scalars_only_at_most_eight_and_no_secrets() -> None:
    details = {
        "error": "auth",
        "access_token": "shpat_0123456789",
        "nested": {"a": 1},
        "listed": [1, 2],
        "huge": "x" * 500,
        "missing": None,
        "http_status": 401,
        "usage_pct": 93.25,
        "rate_limited": False,
        "token_expires_in_days": 3,
        **{f"extra_{n}": n for n in range(10)},
    }
    picked = short_details(details)
    assert len(picked) == 8
    assert picked[:5] == (
        ("error", "auth"),
        ("http_status", "401"),
        ("usage_pct", "93.25"),
        ("rate_limited", "false"),
        ("token_expires_in_days", "3"),
    )
    assert "shpat_0123456789" not in str(picked)


def test_tenants_are_shortened_to_ten_and_a_count() -> None:
    tenants = short_tenants(rollup_tenants(50))
    assert (tenants.shown, tenants.total, tenants.more) == (rollup_tenants(10), 50, 40)
    assert tenants.text() == ", ".join(rollup_tenants(10)) + " and 40 more"
    assert short_tenants(rollup_tenants(3)).text() == "tenant-0001, tenant-0002, tenant-0003"


def test_times_are_utc_and_naive_times_are_taken_as_utc() -> None:
    paris = dt.datetime(2026, 10, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert human_time(paris) == "2026-10-01 12:00:00 UTC"
    assert iso_time(paris) == "2026-10-01T12:00:00Z"
    assert iso_time(dt.datetime(2026, 10, 1, 12, 0)) == "2026-10-01T12:00:00Z"
