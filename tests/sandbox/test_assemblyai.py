from __future__ import annotations

import httpx
import pytest

from healthmon.sandbox import SandboxState
from healthmon.sandbox.vendors.assemblyai import AssemblyAI


def transcripts(client: httpx.Client, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return client.get("/assemblyai/v2/transcript", params={"limit": 1}, headers=headers)


def test_raw_key_works_and_bearer_is_refused(client: httpx.Client, state: SandboxState) -> None:
    key = state.platform.assemblyai_key
    ok = transcripts(client, key)
    assert ok.status_code == 200
    assert ok.json()["page_details"]["limit"] == 1
    assert ok.json()["transcripts"][0]["status"] == "completed"
    for value in (f"Bearer {key}", None, "nope"):
        refused = transcripts(client, value)
        assert refused.status_code == 401
        assert refused.json() == {"error": "Authentication error, API token missing/invalid"}


def test_negative_balance_and_rate_limit(client: httpx.Client, state: SandboxState) -> None:
    state.add_fault("assemblyai", "balance_negative")
    negative = transcripts(client, state.platform.assemblyai_key)
    assert negative.status_code == 400
    assert "balance is negative" in negative.json()["error"]
    state.add_fault("assemblyai", "rate_limited")
    assert transcripts(client, state.platform.assemblyai_key).status_code == 429


def test_latest_transcript_status_knob(
    client: httpx.Client, state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AssemblyAI, "latest_status", "error")
    listed = transcripts(client, state.platform.assemblyai_key).json()["transcripts"]
    assert (listed[0]["status"], bool(listed[0]["error"])) == ("error", True)
