"""write_bed: the generated config parses and every credential in it is accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from healthmon.sandbox import RunningSandbox, SandboxState, write_bed

SERVICES = {
    "stripe", "inngest", "wise", "mcp", "mux", "assemblyai", "slack", "yotpo", "loop", "vercel",
    "statuspage", "shopify", "meta_ads", "google_ads", "tiktok_ads",
}  # fmt: skip


@pytest.fixture
def bed(
    sandbox: RunningSandbox, state: SandboxState, tmp_path: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config_path, tenants_path = write_bed(tmp_path, sandbox.base_url, state)
    assert (config_path.name, tenants_path.name) == ("healthmon.yaml", "tenants.yaml")
    config = yaml.safe_load(config_path.read_text())
    tenants = yaml.safe_load(tenants_path.read_text())["tenants"]
    return config, tenants


@pytest.fixture
def http() -> Any:
    with httpx.Client(timeout=5.0) as client:
        yield client


def test_bed_shape(bed: tuple[dict[str, Any], list[dict[str, Any]]], state: SandboxState) -> None:
    config, tenants = bed
    assert set(config["services"]) == SERVICES
    assert set(config["channels"]) == {"slack", "pagerduty", "webhook"}
    assert config["services"]["shopify"]["base_url"].endswith("/shopify/{shop}")
    assert [t["id"] for t in tenants] == [t.id for t in state.tenants]
    first = tenants[0]
    assert first["name"] == "Tenant 0001"
    assert set(first["integrations"]) == {"shopify", "meta_ads", "google_ads", "tiktok_ads"}
    assert first["integrations"]["meta_ads"]["ad_account_id"].startswith("act_")
    assert isinstance(first["integrations"]["google_ads"]["customer_id"], str)
    assert isinstance(first["integrations"]["tiktok_ads"]["advertiser_id"], str)


def test_platform_credentials_work(
    bed: tuple[dict[str, Any], list[dict[str, Any]]], http: httpx.Client
) -> None:
    s = bed[0]["services"]

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert http.get(
        f"{s['stripe']['base_url']}/v1/balance", headers=bearer(s["stripe"]["api_key"])
    ).is_success
    inngest = s["inngest"]
    assert http.get(
        f"{inngest['base_url']}/v1/events?limit=1", headers=bearer(inngest["signing_key"])
    ).is_success
    profiles = http.get(f"{s['wise']['base_url']}/v2/profiles", headers=bearer(s["wise"]["api_token"])).json()
    assert s["wise"]["profile_id"] in [p["id"] for p in profiles]
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    mcp = http.post(s["mcp"]["base_url"], json=init, headers=bearer(s["mcp"]["token"]))
    assert mcp.is_success and mcp.headers["Mcp-Session-Id"]
    mux = s["mux"]
    assert http.get(
        f"{mux['base_url']}/video/v1/assets?limit=1", auth=(mux["token_id"], mux["token_secret"])
    ).is_success
    aai = s["assemblyai"]
    assert http.get(
        f"{aai['base_url']}/v2/transcript?limit=1", headers={"Authorization": aai["api_key"]}
    ).is_success
    slack = http.post(f"{s['slack']['base_url']}/auth.test", headers=bearer(s["slack"]["bot_token"])).json()
    assert slack["ok"] is True
    yotpo = s["yotpo"]
    store = f"{yotpo['base_url']}/core/v3/stores/{yotpo['store_id']}"
    token = http.post(f"{store}/access_tokens", json={"secret": yotpo["secret"]}).json()["access_token"]
    assert http.get(f"{store}/products?limit=1", headers={"X-Yotpo-Token": token}).is_success
    loop = s["loop"]
    returns = f"{loop['base_url']}/warehouse/return/list?paginate=true&pageSize=1"
    assert http.get(returns, headers={"X-Authorization": loop["api_key"]}).is_success
    vercel = s["vercel"]
    deployments = http.get(
        f"{vercel['base_url']}/v6/deployments",
        params={"projectId": vercel["project_id"], "limit": 1, "target": "production"},
        headers=bearer(vercel["token"]),
    )
    assert len(deployments.json()["deployments"]) == 1
    for url in s["statuspage"]["pages"].values():
        assert http.get(f"{url}/api/v2/status.json").json()["status"]["indicator"] == "none"
    assert http.get(f"{s['statuspage']['slack_status_url']}/api/v2.0.0/current").json()["status"] == "ok"


def test_tenant_credentials_work(
    bed: tuple[dict[str, Any], list[dict[str, Any]]], http: httpx.Client
) -> None:
    config, tenants = bed
    s = config["services"]
    for tenant in tenants:
        i = tenant["integrations"]
        shop = s["shopify"]["base_url"].format(shop=i["shopify"]["shop"])
        answer = http.post(
            f"{shop}/admin/api/{s['shopify']['api_version']}/graphql.json",
            json={"query": "{ shop { name } }"},
            headers={"X-Shopify-Access-Token": i["shopify"]["access_token"]},
        )
        assert answer.json()["data"]["shop"]["myshopifyDomain"] == i["shopify"]["shop"]
        meta = s["meta_ads"]
        meta_base = f"{meta['base_url']}/{meta['api_version']}"
        app_token = f"{meta['app_id']}|{meta['app_secret']}"
        debug = http.get(
            f"{meta_base}/debug_token",
            params={"input_token": i["meta_ads"]["access_token"], "access_token": app_token},
        )
        assert debug.json()["data"]["is_valid"] is True
        account = http.get(
            f"{meta_base}/{i['meta_ads']['ad_account_id']}",
            params={"fields": "account_status", "access_token": i["meta_ads"]["access_token"]},
        )
        assert account.json()["account_status"] == 1
        google = s["google_ads"]
        form = {
            "client_id": google["client_id"],
            "client_secret": google["client_secret"],
            "refresh_token": i["google_ads"]["refresh_token"],
            "grant_type": "refresh_token",
        }
        access = http.post(google["oauth_url"], data=form).json()["access_token"]
        customers = http.get(
            f"{google['base_url']}/{google['api_version']}/customers:listAccessibleCustomers",
            headers={"Authorization": f"Bearer {access}", "developer-token": google["developer_token"]},
        )
        assert f"customers/{i['google_ads']['customer_id']}" in customers.json()["resourceNames"]
        tiktok = s["tiktok_ads"]
        advertisers = http.get(
            f"{tiktok['base_url']}/oauth2/advertiser/get/",
            params={"app_id": tiktok["app_id"], "secret": tiktok["secret"]},
            headers={"Access-Token": i["tiktok_ads"]["access_token"]},
        ).json()
        assert advertisers["code"] == 0
        assert advertisers["data"]["list"][0]["advertiser_id"] == i["tiktok_ads"]["advertiser_id"]


def test_channels_work(
    bed: tuple[dict[str, Any], list[dict[str, Any]]], http: httpx.Client, state: SandboxState
) -> None:
    channels = bed[0]["channels"]
    assert http.post(channels["slack"]["webhook_url"], json={"text": "hello"}).text == "ok"
    event = {
        "routing_key": channels["pagerduty"]["routing_key"],
        "event_action": "trigger",
        "payload": {"summary": "test", "source": "bed", "severity": "info"},
    }
    assert http.post(channels["pagerduty"]["events_url"], json=event).status_code == 202
    assert http.post(channels["webhook"]["url"], json={"hello": 1}).is_success
    assert [len(state.received(c)) for c in ("slack", "pagerduty", "webhook")] == [1, 1, 1]


def test_a_large_bed_is_quick_to_write(tmp_path: Path) -> None:
    state = SandboxState.generate(10_000)
    _, tenants_path = write_bed(tmp_path, "http://127.0.0.1:1", state)  # its time: benchmarks/wall_clock.py
    text = tenants_path.read_text()
    assert text.count("  - id: ") == 10_000
    assert '"tenant-10000.myshopify.com"' in text


def test_bed_passes_the_project_config_schema(
    sandbox: RunningSandbox, state: SandboxState, tmp_path: Path
) -> None:
    schema = pytest.importorskip("healthmon.config.schema")
    config_path, _ = write_bed(tmp_path, sandbox.base_url, state)
    model = schema.HealthmonConfig.model_validate(yaml.safe_load(config_path.read_text()))
    assert set(model.services) == SERVICES
