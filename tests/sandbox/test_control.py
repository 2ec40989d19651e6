"""The `/_sandbox` control API."""

from __future__ import annotations

import httpx
import pytest

from healthmon.sandbox import SandboxState


def test_add_list_and_clear_faults(client: httpx.Client, state: SandboxState) -> None:
    created = client.post("/_sandbox/faults", json={"service": "vercel", "kind": "near_limit", "pct": 97})
    assert created.status_code == 201
    fault = created.json()
    assert (fault["service"], fault["tenant"], fault["kind"], fault["pct"]) == (
        "vercel",
        None,
        "near_limit",
        97.0,
    )
    client.post("/_sandbox/faults", json={"service": "shopify", "tenant": "tenant-0002", "kind": "latency"})
    client.post("/_sandbox/faults", json={"service": "shopify", "tenant": "tenant-0003", "kind": "reset"})
    listed = client.get("/_sandbox/faults").json()["faults"]
    assert [f["kind"] for f in listed] == ["near_limit", "latency", "reset"]
    assert listed[1]["ms"] == 1000
    removed = client.delete("/_sandbox/faults", params={"service": "shopify", "tenant": "tenant-0002"})
    assert removed.json() == {"removed": 1}
    by_body = client.request("DELETE", "/_sandbox/faults", json={"service": "vercel"})
    assert by_body.json() == {"removed": 1}
    assert client.delete("/_sandbox/faults").json() == {"removed": 1}
    assert state.faults() == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"service": "nope", "kind": "latency"}, "unknown service"),
        ({"service": "stripe", "kind": "near_limit"}, "has no fault kind"),
        ({"service": "stripe", "kind": "latency", "mss": 5}, "takes no parameter"),
        ({"service": "stripe", "kind": "latency", "ms": "soon"}, "expected int"),
        ({"service": "statuspage", "kind": "statuspage", "indicator": "awful"}, "must be one of"),
        ({"service": "stripe", "kind": "latency", "times": 0}, "'times'"),
        ({"kind": "latency"}, "required"),
    ],
)
def test_bad_fault_requests_are_refused(client: httpx.Client, body: dict[str, object], fragment: str) -> None:
    response = client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]


def test_non_json_body_is_refused(client: httpx.Client) -> None:
    assert client.post("/_sandbox/faults", content=b"{").status_code == 400


def test_stats_reset_kinds_tenants_and_platform(client: httpx.Client, state: SandboxState) -> None:
    client.get("/stripe/v1/balance")
    client.get("/mux/video/v1/assets")
    client.get("/mux/video/v1/assets")
    tenant = state.tenants[1]
    client.get(f"/shopify/{tenant.shop}/admin/api/2026-10/shop.json")
    stats = client.get("/_sandbox/stats").json()
    assert stats["requests"] == {"stripe": 1, "mux": 2, "shopify": 1}
    assert stats["total"] == 4
    assert stats["by_tenant"] == {"shopify": {tenant.id: 1}}
    assert state.requests_for("shopify", tenant.id) == 1
    assert state.requests_for("mux") == 2
    client.post("/_sandbox/faults", json={"service": "mux", "kind": "reset"})
    client.post("/webhook/x", json={})
    assert client.post("/_sandbox/reset").json() == {"ok": True}
    assert state.faults() == [] and state.received("webhook") == [] and state.stats()["total"] == 0
    kinds = client.get("/_sandbox/kinds").json()
    assert "advertiser_disabled" in kinds["services"]["tiktok_ads"]
    assert kinds["kinds"]["oversize"]["bytes"]["default"] == 5_000_000
    page = client.get("/_sandbox/tenants", params={"offset": 1, "limit": 2}).json()
    assert page["total"] == len(state.tenants)
    assert [t["id"] for t in page["tenants"]] == ["tenant-0002", "tenant-0003"]
    assert client.get("/_sandbox/platform").json()["stripe_key"] == state.platform.stripe_key


def test_unknown_paths_and_methods(client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/stripe/v1/nope").status_code == 404
    assert client.delete("/stripe/v1/balance").status_code == 405
