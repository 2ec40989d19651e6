"""The tenants & silences page: enable/disable, add (validated like the CLI), silences create/end."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.alerts import list_silences
from storage.tenants import get_tenant, load_integration
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


def test_create_and_end_silences(dashboard: Dashboard) -> None:
    at = dashboard.open("tenants")
    assert "No silences." in texts(at)
    form = at.get("form")[1]  # the tenant form, then the silence form
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
    assert shown[["id", "state", "service", "tenant"]].values.tolist() == [
        [silence["id"], "active", "redis", "(all)"]
    ]

    # an end in the past is refused, naming the field
    form = at.get("form")[1]
    by_label(form.radio, "Ends").set_value("at")
    by_label(form.datetime_input, "End (UTC)").set_value(datetime(2020, 1, 1, 12, 0))
    by_label(form.text_input, "Tenant").input("acme")
    by_label(at.button, "Create silence").click().run()
    assert at.error[0].value == "Not created — end: must be in the future"
    assert len(list_silences(dashboard.engine)) == 1

    by_label(at.selectbox, "Silence").select(silence["id"]).run()
    by_label(at.button, "End silence").click().run()
    (silence,) = list_silences(dashboard.engine)
    assert silence["ended_at"] is not None
    assert f"Silence #{silence['id']} ended." in texts(at)
    assert table(at, "id", "state", "service").empty
    by_label(at.toggle, "Show ended and expired").set_value(True).run()
    assert table(at, "id", "state", "service")["state"].tolist() == ["ended"]
