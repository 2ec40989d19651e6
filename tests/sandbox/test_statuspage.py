from __future__ import annotations

import httpx
import pytest

from healthmon.sandbox import SandboxState

PAGES = ("shopify", "inngest", "wise", "mux", "assemblyai", "yotpo", "vercel")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_operational_by_default(client: httpx.Client, page: str) -> None:
    status = client.get(f"/statuspage/{page}/api/v2/status.json").json()
    assert status["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert status["page"]["id"]
    summary = client.get(f"/statuspage/{page}/api/v2/summary.json").json()
    assert all(c["status"] == "operational" for c in summary["components"])
    assert summary["incidents"] == [] and summary["scheduled_maintenances"] == []


def test_fault_degrades_one_page_and_one_component(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("statuspage", "statuspage", "mux", indicator="critical", component="Video API")
    mux = client.get("/statuspage/mux/api/v2/summary.json").json()
    assert mux["status"]["indicator"] == "critical"
    broken = {c["name"]: c["status"] for c in mux["components"]}
    assert broken["Video API"] == "major_outage"
    assert broken["Mux Data"] == "operational"
    assert mux["incidents"][0]["impact"] == "critical"
    components = client.get("/statuspage/mux/api/v2/components.json").json()["components"]
    assert {c["name"]: c["status"] for c in components} == broken
    assert client.get("/statuspage/vercel/api/v2/status.json").json()["status"]["indicator"] == "none"


def test_page_wide_fault_with_explicit_component_status(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("statuspage", "statuspage", indicator="minor", component_status="partial_outage")
    for page in ("wise", "any-other-vendor"):
        summary = client.get(f"/statuspage/{page}/api/v2/summary.json").json()
        assert summary["status"]["indicator"] == "minor"
        assert summary["components"][0]["status"] == "partial_outage"
