"""What a vendor tells clients about its rate limit under the faults in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healthmon.sandbox.faults import Fault

if TYPE_CHECKING:  # the pipeline imports this module
    from healthmon.sandbox.pipeline import Call


def retry_after(fault: Fault, default: float | None = None) -> dict[str, str] | None:
    """The `Retry-After` header for a `rate_limited` fault; None when neither it nor the
    vendor names a delay."""
    retry = fault.params["retry_after"]
    delay = default if retry is None else retry
    return {"Retry-After": f"{delay:g}"} if delay is not None else None


def calls_remaining(call: Call, limit: int) -> int:
    """Calls left in a window of `limit`: none while rate limited, what `near_limit` leaves,
    or all but this one."""
    if call.fault("rate_limited") is not None:
        return 0
    near = call.fault("near_limit")
    return limit - 1 if near is None else int(limit * (1 - near.params["pct"] / 100))
