"""Waiting on a condition with a deadline, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.2) -> Any:
    """The condition's first truthy value; an AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(every_s)


def http_ok(url: str) -> bool:
    """Whether `url` answers 200 now (a refused or hanging connection is just "not yet")."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
