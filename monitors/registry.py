"""Every monitor by service name, and which tier runs it."""

from __future__ import annotations

from collections.abc import Mapping

from healthmon.monitors.assemblyai import AssemblyAIMonitor
from healthmon.monitors.base import Monitor
from healthmon.monitors.google_ads import GoogleAdsMonitor
from healthmon.monitors.inngest import InngestMonitor
from healthmon.monitors.loop import LoopMonitor
from healthmon.monitors.mcp import McpMonitor
from healthmon.monitors.meta_ads import MetaAdsMonitor
from healthmon.monitors.mux import MuxMonitor
from healthmon.monitors.postgres import PostgresMonitor
from healthmon.monitors.prefect import PrefectMonitor
from healthmon.monitors.redis import RedisMonitor
from healthmon.monitors.result import Tier
from healthmon.monitors.shopify import ShopifyMonitor
from healthmon.monitors.slack import SlackMonitor
from healthmon.monitors.statuspage import StatuspageMonitor
from healthmon.monitors.stripe import StripeMonitor
from healthmon.monitors.tiktok_ads import TikTokAdsMonitor
from healthmon.monitors.vercel import VercelMonitor
from healthmon.monitors.wise import WiseMonitor
from healthmon.monitors.yotpo import YotpoMonitor

MONITORS: Mapping[str, Monitor] = {
    m.service: m
    for m in (
        PostgresMonitor(),
        RedisMonitor(),
        ShopifyMonitor(),
        StripeMonitor(),
        InngestMonitor(),
        MetaAdsMonitor(),
        GoogleAdsMonitor(),
        TikTokAdsMonitor(),
        WiseMonitor(),
        McpMonitor(),
        MuxMonitor(),
        AssemblyAIMonitor(),
        SlackMonitor(),
        YotpoMonitor(),
        LoopMonitor(),
        VercelMonitor(),
        StatuspageMonitor(),
        PrefectMonitor(),
    )
}


class UnknownService(KeyError):
    pass


def get_monitor(service: str) -> Monitor:
    try:
        return MONITORS[service]
    except KeyError:
        raise UnknownService(service) from None


def monitors_for_tier(tier: Tier) -> list[Monitor]:
    return [m for m in MONITORS.values() if m.tier is tier]
