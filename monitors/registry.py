"""Every monitor by service name, and which tier runs it."""

from __future__ import annotations

from collections.abc import Mapping

from monitors.base import Monitor
from monitors.postgres import PostgresMonitor
from monitors.redis import RedisMonitor
from monitors.result import Tier

MONITORS: Mapping[str, Monitor] = {m.service: m for m in (PostgresMonitor(), RedisMonitor())}


class UnknownService(KeyError):
    pass


def get_monitor(service: str) -> Monitor:
    try:
        return MONITORS[service]
    except KeyError:
        raise UnknownService(service) from None


def monitors_for_tier(tier: Tier) -> list[Monitor]:
    return [m for m in MONITORS.values() if m.tier is tier]
