"""The process context handed to handlers: the Runtime built once at start (engine, cache, config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from healthmon.flows.runtime import Runtime
from healthmon.storage.queries import StaleRule


async def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


def stale_rule(runtime: Runtime) -> StaleRule:
    """When a latest result is stale, from the config (`watchdog.stale_after`)."""
    return StaleRule(runtime.config.watchdog.stale_after)
