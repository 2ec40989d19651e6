"""Everything the sandbox knows: credentials, tenants, active faults, received messages, counters.

All credentials derive from a seed, so a config written for `SandboxState.generate(n, seed)`
works against any sandbox generated with the same arguments.

Requests are served on one event loop thread while tests may call these methods from another
thread. Every mutation is a single dict/deque operation, which the GIL makes atomic, so no lock
is needed (and none would be welcome on the per-request path).
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from healthmon.sandbox.faults import Fault, FaultError, parse_request, validate

_NO_FAULTS: Mapping[str, Fault] = MappingProxyType({})
RECEIVED_LIMIT = 10_000
MCP_SESSION_LIMIT = 10_000
GOOGLE_CLIENT_SUFFIX = ".apps.googleusercontent.com"


def _hex(seed: int, *parts: str, size: int = 16) -> str:
    return hashlib.blake2b("|".join((str(seed), *parts)).encode(), digest_size=size).hexdigest()


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    shop: str
    shopify_token: str
    meta_account_id: str
    meta_token: str
    meta_user_id: str
    google_customer_id: str
    google_refresh_token: str
    google_access_token: str
    tiktok_advertiser_id: str
    tiktok_token: str

    @property
    def meta_ad_account_id(self) -> str:
        return f"act_{self.meta_account_id}"


@dataclass(frozen=True, slots=True)
class Platform:
    """Platform-level credentials: one valid set per vendor."""

    stripe_key: str
    inngest_signing_key: str
    wise_token: str
    wise_profile_id: int
    mcp_token: str
    mux_token_id: str
    mux_token_secret: str
    assemblyai_key: str
    slack_bot_token: str
    slack_webhook_path: str
    yotpo_store_id: str
    yotpo_secret: str
    yotpo_access_token: str
    loop_api_key: str
    vercel_token: str
    vercel_project_id: str
    vercel_project_name: str
    meta_app_id: str
    meta_app_secret: str
    google_client_id: str
    google_client_secret: str
    google_developer_token: str
    tiktok_app_id: str
    tiktok_secret: str
    pagerduty_routing_key: str

    @property
    def meta_app_token(self) -> str:
        return f"{self.meta_app_id}|{self.meta_app_secret}"

    @classmethod
    def generate(cls, seed: int = 0) -> Platform:
        def h(name: str, size: int = 16) -> str:
            return _hex(seed, "platform", name, size=size)

        return cls(
            stripe_key=f"sk_test_{h('stripe', 24)}",
            inngest_signing_key=f"signkey-prod-{h('inngest', 32)}",
            wise_token=h("wise"),
            wise_profile_id=10_000_000 + int(h("wise-profile", 4), 16) % 89_999_999,
            mcp_token=f"mcp_{h('mcp')}",
            mux_token_id=h("mux-id", 8),
            mux_token_secret=h("mux-secret", 24),
            assemblyai_key=h("assemblyai"),
            slack_bot_token=f"xoxb-{h('slack', 12)}",
            slack_webhook_path="T000/B000/XXXX",
            yotpo_store_id=h("yotpo-store", 10),
            yotpo_secret=h("yotpo-secret", 20),
            yotpo_access_token=h("yotpo-token", 20),
            loop_api_key=h("loop", 20),
            vercel_token=h("vercel", 12),
            vercel_project_id=f"prj_{h('vercel-project', 14)}",
            vercel_project_name="storefront",
            meta_app_id=str(100_000_000_000_000 + int(h("meta-app", 6), 16) % 899_999_999_999_999),
            meta_app_secret=h("meta-secret"),
            google_client_id=f"{int(h('google-client', 5), 16)}-{h('google-client-b')}{GOOGLE_CLIENT_SUFFIX}",
            google_client_secret=f"GOCSPX-{h('google-secret', 14)}",
            google_developer_token=h("google-dev", 11),
            tiktok_app_id=str(7_000_000_000_000_000_000 + int(h("tiktok-app", 6), 16)),
            tiktok_secret=h("tiktok-secret", 20),
            pagerduty_routing_key=h("pagerduty"),
        )


def make_tenant(seed: int, number: int) -> Tenant:
    tid = f"tenant-{number:04d}"

    def h(name: str, size: int = 16) -> str:
        return _hex(seed, tid, name, size=size)

    # Ids are offsets of the tenant number, not hashes, so they never collide within a state.
    base = seed % 1000
    return Tenant(
        id=tid,
        name=f"Tenant {number:04d}",
        shop=f"{tid}.myshopify.com",
        shopify_token=f"shpat_{h('shopify')}",
        meta_account_id=str(100_000_000_000_000 + base * 10_000_000 + number),
        meta_token=f"EAAB{h('meta', 40)}",
        meta_user_id=str(200_000_000_000_000 + base * 10_000_000 + number),
        google_customer_id=str(1_000_000_000 + base * 1_000_000 + number),
        google_refresh_token=f"1//0{h('google-refresh', 32)}",
        google_access_token=f"ya29.a0{h('google-access', 32)}",
        tiktok_advertiser_id=str(7_100_000_000_000_000_000 + base * 10_000_000 + number),
        tiktok_token=h("tiktok", 20),
    )


class SandboxState:
    """Tenants, credentials, faults and recordings of one sandbox."""

    def __init__(self, platform: Platform, tenants: Iterable[Tenant]) -> None:
        self.platform = platform
        self.tenants: list[Tenant] = list(tenants)
        self._by_id = {t.id: t for t in self.tenants}
        self.by_shop = {t.shop: t for t in self.tenants}
        self.by_meta_token = {t.meta_token: t for t in self.tenants}
        self.by_meta_account = {t.meta_account_id: t for t in self.tenants}
        self.by_google_refresh = {t.google_refresh_token: t for t in self.tenants}
        self.by_google_access = {t.google_access_token: t for t in self.tenants}
        self.by_google_customer = {t.google_customer_id: t for t in self.tenants}
        self.by_tiktok_token = {t.tiktok_token: t for t in self.tenants}
        # service -> fault scope (tenant id, page name or None) -> kind -> fault
        self._faults: dict[str, dict[str | None, dict[str, Fault]]] = {}
        self._fault_ids = itertools.count(1)
        self._received: dict[str, deque[dict[str, Any]]] = {}
        self._requests: dict[str, int] = {}
        self._requests_by_scope: dict[tuple[str, str], int] = {}
        self.mcp_sessions: dict[str, str] = {}
        self.mcp_auth_required = True

    @classmethod
    def generate(cls, tenants: int, seed: int = 0) -> SandboxState:
        if tenants < 0:
            raise ValueError("tenants must be >= 0")
        return cls(Platform.generate(seed), (make_tenant(seed, n) for n in range(1, tenants + 1)))

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._by_id.get(tenant_id)

    # -- faults -------------------------------------------------------------------------------

    def add_fault(
        self,
        service: str,
        kind: str,
        tenant: str | None = None,
        *,
        times: int | None = None,
        **params: Any,
    ) -> Fault:
        """Activate a fault; it replaces an earlier fault of the same kind and scope.

        `times` limits the fault to that many requests (then it removes itself), which is
        how a test makes a failure that a quick retry gets past.
        """
        values = validate(service, kind, params)
        if times is not None and times < 1:
            raise FaultError("'times' must be a positive integer or None")
        fault = Fault(next(self._fault_ids), service, kind, tenant, values, times)
        self._faults.setdefault(service, {}).setdefault(tenant, {})[kind] = fault
        return fault

    def add_fault_from_json(self, body: Any) -> Fault:
        service, kind, tenant, times, params = parse_request(body)
        return self.add_fault(service, kind, tenant, times=times, **params)

    def clear_faults(
        self, service: str | None = None, tenant: str | None = None, kind: str | None = None
    ) -> int:
        """Remove faults matching every given filter; return how many were removed."""
        removed = 0
        for svc in [service] if service is not None else list(self._faults):
            scopes = self._faults.get(svc)
            if not scopes:
                continue
            for scope in [tenant] if tenant is not None else list(scopes):
                kinds = scopes.get(scope)
                if not kinds:
                    continue
                for k in [kind] if kind is not None else list(kinds):
                    if kinds.pop(k, None) is not None:
                        removed += 1
                if not kinds:
                    scopes.pop(scope, None)
            if not scopes:
                self._faults.pop(svc, None)
        return removed

    def faults(self) -> list[Fault]:
        return sorted(
            (
                f
                for scopes in list(self._faults.values())
                for kinds in list(scopes.values())
                for f in kinds.values()
            ),
            key=lambda f: f.id,
        )

    def peek_faults(self, service: str, scope: str | None) -> Mapping[str, Fault]:
        """The faults in force for one request: the scope's own override service-wide ones."""
        scopes = self._faults.get(service)
        if not scopes:
            return _NO_FAULTS
        shared = scopes.get(None)
        own = scopes.get(scope) if scope is not None else None
        if own is None:
            return shared or _NO_FAULTS
        if shared is None:
            return own
        return {**shared, **own}

    def take_faults(self, service: str, scope: str | None) -> Mapping[str, Fault]:
        """Like `peek_faults`, and counts one use against faults limited by `times`."""
        faults = self.peek_faults(service, scope)
        if faults:
            # list() copies in one C call, so a fault added from another thread cannot
            # change the dict under the loop.
            counted = [fault for fault in list(faults.values()) if fault.times is not None]
            if counted:
                # A copy: the request that uses a fault up must still see it.
                faults = dict(faults)
                for fault in counted:
                    assert fault.times is not None
                    fault.times -= 1
                    if fault.times <= 0:
                        self._drop(fault)
        return faults

    def _drop(self, fault: Fault) -> None:
        scopes = self._faults.get(fault.service)
        kinds = scopes.get(fault.tenant) if scopes else None
        if scopes is None or kinds is None or kinds.get(fault.kind) is not fault:
            return
        del kinds[fault.kind]
        if not kinds:
            scopes.pop(fault.tenant, None)
        if not scopes:
            self._faults.pop(fault.service, None)

    # -- received messages (Slack webhook, PagerDuty, generic webhook) --------------------------

    def record(self, channel: str, path: str, body: Any, headers: Mapping[str, str] | None = None) -> None:
        box = self._received.get(channel)
        if box is None:
            box = self._received[channel] = deque(maxlen=RECEIVED_LIMIT)
        box.append({"path": path, "received_at": time.time(), "headers": dict(headers or {}), "body": body})

    def received(self, channel: str) -> list[dict[str, Any]]:
        return list(self._received.get(channel, ()))

    def clear_received(self, channel: str | None = None) -> None:
        if channel is None:
            self._received.clear()
        else:
            self._received.pop(channel, None)

    # -- counters -------------------------------------------------------------------------------

    def count(self, service: str, scope: str | None = None) -> None:
        self._requests[service] = self._requests.get(service, 0) + 1
        if scope is not None:
            key = (service, scope)
            self._requests_by_scope[key] = self._requests_by_scope.get(key, 0) + 1

    def requests_for(self, service: str, scope: str | None = None) -> int:
        """Requests served for a service, or for one tenant (or status page) of it."""
        if scope is None:
            return self._requests.get(service, 0)
        return self._requests_by_scope.get((service, scope), 0)

    def stats(self) -> dict[str, Any]:
        requests = dict(self._requests)
        by_tenant: dict[str, dict[str, int]] = {}
        for (service, scope), count in list(self._requests_by_scope.items()):
            by_tenant.setdefault(service, {})[scope] = count
        return {"requests": requests, "total": sum(requests.values()), "by_tenant": by_tenant}

    def remember_mcp_session(self, session_id: str, version: str) -> None:
        sessions = self.mcp_sessions
        if len(sessions) >= MCP_SESSION_LIMIT:
            # Oldest first: dicts keep insertion order, so this evicts like a small LRU.
            sessions.pop(next(iter(sessions)))
        sessions[session_id] = version

    def reset(self) -> None:
        """Forget faults, recordings, counters and MCP sessions; keep tenants and credentials."""
        self._faults.clear()
        self._received.clear()
        self._requests.clear()
        self._requests_by_scope.clear()
        self.mcp_sessions.clear()
