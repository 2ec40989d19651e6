"""The tenants & silences page: enable/disable, add (validated like the CLI), silences create/end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from healthmon.storage.alerts import list_silences
from healthmon.storage.tenants import get_tenant, list_tenants, load_integration
from tests.dashboard import seed
from tests.dashboard.conftest import Dashboard, by_label, table, texts


def test_disable_and_enable_a_tenant(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("tenants")
    assert {m.label: m.value for m in at.metric} == {"Tenants": "3", "Enabled": "3", "Disabled": "0"}
    listed = table(at, "id", "name", "enabled")
    assert listed["id"].tolist() == ["acme", "globex", "initech"]

    at.selectbox(key="tenants_toggle_pick").select("globex").run()
    by_label(at.button, "Disable globex").click().run()
    tenant = get_tenant(dashboard.engine, "globex")
    assert tenant is not None and tenant.enabled is False
    assert "Tenant globex disabled: it is no longer checked." in texts(at)
    assert {m.label: m.value for m in at.metric}["Disabled"] == "1"
    assert table(at, "id", "name", "enabled").set_index("id")["enabled"].to_dict() == {
        "acme": True,
        "globex": False,
        "initech": True,
    }

    by_label(at.button, "Enable globex").click().run()
    tenant = get_tenant(dashboard.engine, "globex")
    assert tenant is not None and tenant.enabled is True

    at.text_input(key="tenants_search").input("init").run()
    assert table(at, "id", "name", "enabled")["id"].tolist() == ["initech"]


def test_past_a_thousand_tenants_the_table_lists_the_first_and_search_finds_the_rest(
    dashboard: Dashboard,
) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher, [f"shop-{i:04d}" for i in range(1005)])
    at = dashboard.open("tenants")
    assert {m.label: m.value for m in at.metric}["Tenants"] == "1005"
    listed = table(at, "id", "name", "enabled")["id"].tolist()
    assert (len(listed), listed[0], listed[-1]) == (1000, "shop-0000", "shop-0999")
    assert "1,005 tenants match; the first 1,000 by id are listed, search for the others" in texts(at)
    at.text_input(key="tenants_search").input("shop-100").run()
    assert table(at, "id", "name", "enabled")["id"].tolist() == [f"shop-{i}" for i in range(1000, 1005)]


def test_add_a_tenant_is_validated_like_the_cli(dashboard: Dashboard) -> None:
    at = dashboard.open("tenants")
    assert "No tenants yet" in texts(at)

    by_label(at.text_input, "Id").input("Bad Id")
    by_label(at.button, "Save tenant").click().run()
    assert at.error[0].value == "Not saved — tenant.id: must be 1-64 lowercase letters, digits, '-' or '_'"
    assert get_tenant(dashboard.engine, "bad id") is None

    at.selectbox(key="tenant_add_integration").select("shopify").run()
    by_label(at.text_input, "Id").input("umbrella")
    by_label(at.text_input, "shop").input("umbrella.myshopify.com")
    by_label(at.button, "Save tenant").click().run()
    assert at.error[0].value == "Not saved — tenant.integrations.shopify: shopify: missing access_token"
    assert get_tenant(dashboard.engine, "umbrella") is None

    by_label(at.text_input, "access_token").input("shpat_abc")
    by_label(at.text_input, "Name").input("Umbrella Corp")
    by_label(at.button, "Save tenant").click().run()
    assert not at.error
    tenant = get_tenant(dashboard.engine, "umbrella")
    assert tenant is not None
    assert (tenant.name, tenant.enabled, tenant.integrations) == (
        "Umbrella Corp",
        True,
        {"shopify": {"shop": "umbrella.myshopify.com"}},
    )
    # the secret is stored encrypted, readable only with the key
    assert load_integration(dashboard.engine, dashboard.cipher, "shopify", ["umbrella"]) == {
        "umbrella": {"shop": "umbrella.myshopify.com", "access_token": "shpat_abc"}
    }
    assert "Tenant umbrella added with shopify." in texts(at)
    assert table(at, "id", "name", "enabled")["id"].tolist() == ["umbrella"]
    # the form is empty again: the token does not stay in the session
    assert by_label(at.text_input, "access_token").value == ""
    assert by_label(at.text_input, "Id").value == ""


def refused_with(at: AppTest, refusal: str, expected: Sequence[str]) -> None:
    """The page shows one error per expected problem, in order, each "<refusal> — <words>..."."""
    shown = [e.value for e in at.error]
    assert len(shown) == len(expected), shown
    for message, words in zip(shown, expected, strict=True):
        assert message.startswith(f"{refusal} — {words}"), shown


#: (id, name, shop, access_token) typed into the add-tenant form with shopify -> the errors shown
BAD_TENANTS: list[tuple[str, str, str, str, list[str]]] = [
    ("Bad Id", "", "a.myshopify.com", "t", ["tenant.id: must be 1-64 lowercase letters, digits, '-' or '_'"]),
    ("acme", "x" * 201, "a.myshopify.com", "t", ["tenant.name: must be at most 200 characters"]),
    ("acme", "Acme", "https://evil.com", "t", ["tenant.integrations.shopify: shopify: shop must be a bare"]),
    ("acme", "Acme", "a.myshopify.com", "", ["tenant.integrations.shopify: shopify: missing access_token"]),
    # every problem at once
    (
        "Bad Id",
        "x" * 201,
        "a.myshopify.com",
        "t",
        ["tenant.id: must be 1-64", "tenant.name: must be at most 200"],
    ),
]


def test_bad_tenant_fields_are_refused(dashboard: Dashboard, subtests: pytest.Subtests) -> None:
    at = dashboard.open("tenants")
    at.selectbox(key="tenant_add_integration").select("shopify").run()
    for tenant_id, name, shop, token, expected in BAD_TENANTS:
        with subtests.test(tenant_id=tenant_id, name=name[:10], shop=shop, token=token):
            by_label(at.text_input, "Id").input(tenant_id)
            by_label(at.text_input, "Name").input(name)
            by_label(at.text_input, "shop").input(shop)
            by_label(at.text_input, "access_token").input(token)
            by_label(at.button, "Save tenant").click().run()
            refused_with(at, "Not saved", expected)
            assert list_tenants(dashboard.engine) == []


def silence_form(at: AppTest) -> Any:
    return at.get("form")[1]  # the tenant form, then the silence form


def test_create_and_end_silences(dashboard: Dashboard) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("tenants")
    assert "No silences." in texts(at)
    form = silence_form(at)
    by_label(form.selectbox, "Service").select("redis")
    by_label(form.number_input, "Duration (minutes)").set_value(30)
    by_label(form.text_input, "Reason").input("redis upgrade")
    by_label(at.button, "Create silence").click().run()
    assert not at.exception
    (silence,) = list_silences(dashboard.engine)
    assert (silence["service"], silence["tenant_id"], silence["reason"], silence["created_by"]) == (
        "redis",
        None,
        "redis upgrade",
        "dashboard",
    )
    assert timedelta(minutes=29) < silence["ends_at"] - silence["starts_at"] <= timedelta(minutes=30)
    shown = table(at, "id", "state", "service")
    assert shown[["id", "state", "service", "tenant", "reason", "by"]].values.tolist() == [
        [silence["id"], "active", "redis", "(all)", "redis upgrade", "dashboard"]
    ]

    # an end in the past is refused, naming the field
    form = silence_form(at)
    by_label(form.selectbox, "Service").select("shopify")
    by_label(form.selectbox, "Tenant").select("acme")
    by_label(form.radio, "Ends").set_value("at")
    by_label(form.datetime_input, "End (UTC)").set_value(datetime(2020, 1, 1, 12, 0))
    by_label(at.button, "Create silence").click().run()
    assert at.error[0].value == "Not created — End (UTC): must be in the future"
    assert len(list_silences(dashboard.engine)) == 1

    by_label(at.selectbox, "Silence").select(silence["id"]).run()
    by_label(at.button, "End silence").click().run()
    (silence,) = list_silences(dashboard.engine)
    assert silence["ended_at"] is not None
    assert f"Silence #{silence['id']} ended." in texts(at)
    assert table(at, "id", "state", "service").empty
    by_label(at.toggle, "Show ended and expired").set_value(True).run()
    assert table(at, "id", "state", "service")["state"].tolist() == ["ended"]


EVERYTHING = "Everything: every service of every tenant and the platform"
#: (service, tenant, everything, reason) chosen in the silence form -> the errors shown
BAD_SILENCES: list[tuple[str | None, str | None, bool, str, list[str]]] = [
    # the form's defaults: no longer every service of every tenant, with no reason
    (
        None,
        None,
        False,
        "",
        [
            "Service: give Service, Tenant or both; to silence every service of every tenant and the "
            "platform, choose Everything explicitly",
            "Reason: required: say why",
        ],
    ),
    (None, None, False, "maintenance", ["Service: give Service, Tenant or both"]),
    ("redis", None, False, "   ", ["Reason: required: say why"]),
    (
        "redis",
        None,
        True,
        "maintenance",
        ["Everything: silences everything: give it without Service and Tenant"],
    ),
    ("postgres", "acme", False, "maintenance", ["Tenant: postgres is a platform service"]),
]


def test_a_silence_needs_a_matcher_and_a_reason(dashboard: Dashboard, subtests: pytest.Subtests) -> None:
    seed.seed_tenants(dashboard.engine, dashboard.cipher)
    at = dashboard.open("tenants")
    for service, tenant, everything, reason, expected in BAD_SILENCES:
        with subtests.test(service=service, tenant=tenant, everything=everything, reason=reason):
            form = silence_form(at)
            by_label(form.selectbox, "Service").set_value(service)
            by_label(form.selectbox, "Tenant").set_value(tenant)
            by_label(form.checkbox, EVERYTHING).set_value(everything)
            by_label(form.text_input, "Reason").input(reason)
            by_label(at.button, "Create silence").click().run()
            refused_with(at, "Not created", expected)
            assert list_silences(dashboard.engine) == []


def test_silencing_everything_is_confirmed_first(dashboard: Dashboard) -> None:
    at = dashboard.open("tenants")
    form = silence_form(at)
    by_label(form.checkbox, EVERYTHING).check()
    by_label(form.text_input, "Reason").input("datacenter move")
    by_label(at.button, "Create silence").click().run()
    # asked, not written
    assert "Silence **everything** until" in at.warning[0].value
    assert list_silences(dashboard.engine) == []
    by_label(at.button, "Cancel").click().run()
    assert "No silence created." in texts(at)
    assert list_silences(dashboard.engine) == []

    form = silence_form(at)
    by_label(form.checkbox, EVERYTHING).check()
    by_label(form.text_input, "Reason").input("datacenter move")
    by_label(at.button, "Create silence").click().run()
    by_label(at.button, "Silence everything").click().run()
    (silence,) = list_silences(dashboard.engine)
    assert (silence["service"], silence["tenant_id"], silence["reason"], silence["created_by"]) == (
        None,
        None,
        "datacenter move",
        "dashboard",
    )
    assert f"Silence #{silence['id']} (everything)" in texts(at)
    shown = table(at, "id", "state", "service")
    assert shown[["service", "tenant", "reason", "by"]].values.tolist() == [
        ["(all)", "(all)", "datacenter move", "dashboard"]
    ]
