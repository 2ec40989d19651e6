"""The production-shaped bed the face benchmarks share: every platform service with made-up
settings, tenants with the four per-tenant integrations, and how a tenant is named."""

from __future__ import annotations

from typing import Any

from healthmon.storage.tenants import IntegrationInput

PER_TENANT = ("shopify", "meta_ads", "google_ads", "tiktok_ads")
#: made-up values for every setting a platform service requires (fake: nothing is checked)
PLATFORM_SETTINGS: dict[str, Any] = {
    "postgres": {"dsn": "postgresql://monitor@db.internal:5432/platform"},
    "redis": {"url": "redis://cache.internal:6379/0"},
    "stripe": {"api_key": "sk_bench"},
    "inngest": {"signing_key": "signkey-bench"},
    "wise": {"api_token": "wise-bench"},
    "mcp": {"base_url": "https://mcp.internal"},
    "mux": {"token_id": "mux-id", "token_secret": "mux-secret"},
    "assemblyai": {"api_key": "aai-bench"},
    "slack": {"bot_token": "xoxb-bench"},
    "yotpo": {"store_id": "store", "secret": "yotpo-bench"},
    "loop": {"api_key": "loop-bench"},
    "vercel": {"token": "vercel-bench"},
    "statuspage": {"pages": {"github": "https://www.githubstatus.com"}},
    "prefect": {"api_url": "http://127.0.0.1:4200/api"},
}
#: the per-tenant services' own (app-level) settings
PER_TENANT_SETTINGS: dict[str, Any] = {
    "meta_ads": {"app_id": "1", "app_secret": "meta-app-bench"},
    "google_ads": {"client_id": "gid", "client_secret": "google-app-bench"},
    "shopify": {},
    "tiktok_ads": {},
}


def tenant_id(n: int) -> str:
    return f"tenant-{n:05d}"


def integrations(n: int, token: str) -> dict[str, IntegrationInput]:
    """Tenant n's four integrations, their made-up credentials built from `token`."""
    return {
        "shopify": IntegrationInput(
            {"shop": f"brand-{n:05d}.myshopify.com"}, {"access_token": f"shpat_{token}"}
        ),
        "meta_ads": IntegrationInput({"ad_account_id": f"act_{n}"}, {"access_token": f"EAA{token}"}),
        "google_ads": IntegrationInput({"customer_id": f"{n:010d}"}, {"refresh_token": f"1//{token}"}),
        "tiktok_ads": IntegrationInput({"advertiser_id": f"7{n:011d}"}, {"access_token": f"tt_{token}"}),
    }


def tenant_row(n: int, token: str) -> tuple[str, str, bool, dict[str, IntegrationInput]]:
    """Tenant n as `upsert_tenants` takes it: id, display name, enabled, integrations."""
    return tenant_id(n), f"Brand {n:05d}", True, integrations(n, token)
