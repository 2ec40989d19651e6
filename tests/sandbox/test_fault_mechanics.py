"""Faults every service shares: latency, hang, reset, broken and huge bodies, one-shot faults."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from healthmon.sandbox import RunningSandbox, SandboxState, Tenant


def shop_url(tenant: Tenant) -> str:
    return f"/shopify/{tenant.shop}/admin/api/2026-10/shop.json"


def shop_headers(tenant: Tenant) -> dict[str, str]:
    return {"X-Shopify-Access-Token": tenant.shopify_token}


def test_latency_delays_the_answer(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    state.add_fault("shopify", "latency", tenant.id, ms=150)
    started = time.perf_counter()
    assert client.get(shop_url(tenant), headers=shop_headers(tenant)).status_code == 200
    assert time.perf_counter() - started >= 0.15


async def test_hang_does_not_block_other_requests(sandbox: RunningSandbox, state: SandboxState) -> None:
    stuck, free = state.tenants[0], state.tenants[1]
    state.add_fault("shopify", "hang", stuck.id)
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=5.0) as http:
        hung = asyncio.ensure_future(http.get(shop_url(stuck), headers=shop_headers(stuck), timeout=1.5))
        deadline = time.monotonic() + 1.0
        while state.stats()["requests"].get("shopify", 0) < 1:
            assert time.monotonic() < deadline, "the hung request never reached the sandbox"
            await asyncio.sleep(0.005)
        answers = await asyncio.gather(
            *(http.get(shop_url(free), headers=shop_headers(free)) for _ in range(20)),
            http.get("/stripe/v1/balance", headers={"Authorization": f"Bearer {state.platform.stripe_key}"}),
        )
        assert all(a.status_code == 200 for a in answers)
        assert not hung.done()  # 21 answers came while the hung one still waits
        with pytest.raises(httpx.ReadTimeout):
            await hung


def test_hang_with_a_limit_ends_in_a_dropped_connection(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("shopify", "hang", tenant.id, seconds=0.2)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(shop_url(tenant), headers=shop_headers(tenant))


def test_reset_drops_the_connection(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    state.add_fault("shopify", "reset", tenant.id)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.get(shop_url(tenant), headers=shop_headers(tenant))
    state.add_fault("shopify", "reset", tenant.id, mode="close")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(shop_url(tenant), headers=shop_headers(tenant))
    state.clear_faults()
    assert client.get(shop_url(tenant), headers=shop_headers(tenant)).status_code == 200


def test_malformed_json_is_a_truncated_200(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("stripe", "malformed_json")
    response = client.get(
        "/stripe/v1/balance", headers={"Authorization": f"Bearer {state.platform.stripe_key}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_oversize_is_a_huge_but_valid_answer(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("vercel", "oversize", bytes=3_000_000)
    response = client.get(
        "/vercel/v2/user", headers={"Authorization": f"Bearer {state.platform.vercel_token}"}
    )
    assert response.status_code == 200
    assert len(response.content) >= 3_000_000
    assert response.json()["user"]["id"]
    assert "X-RateLimit-Remaining" in response.headers


def test_times_limits_a_fault_to_n_requests(
    client: httpx.Client, state: SandboxState, tenant: Tenant
) -> None:
    state.add_fault("shopify", "http_error", tenant.id, times=2, status=502)
    statuses = [client.get(shop_url(tenant), headers=shop_headers(tenant)).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert state.faults() == []


def test_faults_combine(client: httpx.Client, state: SandboxState, tenant: Tenant) -> None:
    state.add_fault("shopify", "latency", ms=100)
    state.add_fault("shopify", "http_error", tenant.id, status=504)
    started = time.perf_counter()
    assert client.get(shop_url(tenant), headers=shop_headers(tenant)).status_code == 504
    assert time.perf_counter() - started >= 0.1
