from __future__ import annotations

from typing import Any

import pytest

from healthmon.monitors.loop import LoopMonitor, _error_text
from tests.support.vendor_cases import check_healthy, settings_fixture

# Loop's faults and settings: test_common_failures.py, test_bad_settings.py
M = LoopMonitor()
settings = settings_fixture(M)


async def test_healthy(settings: dict[str, Any]) -> None:
    result = await check_healthy(M, settings)
    assert "rate_limit_remaining_pct" not in result.details  # the sandbox sends no such headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized"}},
            "Unauthorized",
        ),
        ({"error": {"http_code": "GEN-UNAUTHORIZED"}}, "GEN-UNAUTHORIZED"),
        ({"errors": "Unauthorized."}, "Unauthorized."),
        ({"errors": {"message": "Return not found"}}, "Return not found"),
        ({"errors": [{"message": "Invalid cursor"}]}, "Invalid cursor"),
        ({"errors": ["Unauthorized."]}, "Unauthorized."),
        (
            {"message": "The given data was invalid.", "errors": {"pageSize": ["bad"]}},
            "The given data was invalid.",
        ),
        ({"message": "Server Error"}, "Server Error"),
        ({"returns": [], "nextCursor": None}, None),
        ({"returns": [], "errors": []}, None),
        ([], None),
        (None, None),
    ],
)
def test_every_error_envelope_is_read(body: Any, message: str | None) -> None:
    assert _error_text(body) == message
