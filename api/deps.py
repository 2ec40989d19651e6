"""The process context handed to handlers: the App built once at start (engine, cache, config)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from healthmon.flows.app import App
from healthmon.storage.queries import StaleRule


async def _runtime(request: Request) -> App:
    runtime: App = request.app.state.runtime
    return runtime


AppDep = Annotated[App, Depends(_runtime)]


def stale_rule(runtime: App) -> StaleRule:
    """When a latest result is stale, from the config (`watchdog.stale_after`)."""
    return StaleRule(runtime.config.watchdog.stale_after)
