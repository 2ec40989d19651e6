from __future__ import annotations

from typing import Any

from healthmon.monitors.assemblyai import AssemblyAIMonitor
from tests.support.vendor_cases import check_healthy, settings_fixture

# AssemblyAI's faults, settings and failed jobs: test_common_failures.py, test_bad_settings.py
M = AssemblyAIMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert result.details["latest_transcript_error"] is False
