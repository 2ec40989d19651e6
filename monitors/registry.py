"""Every monitor by service name, and which tier runs it."""

from __future__ import annotations

from collections.abc import Mapping

from monitors.assemblyai import AssemblyAIMonitor
from monitors.base import Monitor
from monitors.google_ads import GoogleAdsMonitor
from monitors.inngest import InngestMonitor
from monitors.loop import LoopMonitor
from monitors.mcp import McpMonitor
from monitors.meta_ads import MetaAdsMonitor
from monitors.mux import MuxMonitor
from monitors.postgres import PostgresMonitor
from monitors.redis import RedisMonitor
from monitors.result import Tier
from monitors.shopify import ShopifyMonitor
from monitors.slack import SlackMonitor
from monitors.statuspage import StatuspageMonitor
from monitors.stripe import StripeMonitor
from monitors.tiktok_ads import TikTokAdsMonitor
from monitors.vercel import VercelMonitor
from monitors.wise import WiseMonitor
from monitors.yotpo import YotpoMonitor

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
