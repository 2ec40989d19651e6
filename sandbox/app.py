"""The ASGI app: every vendor under its path prefix, plus the control API."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, compile_path
from starlette.types import Receive, Scope, Send

from healthmon.sandbox.control import control_routes
from healthmon.sandbox.pipeline import Vendor
from healthmon.sandbox.state import SandboxState
from healthmon.sandbox.transport import RAW_SEND
from healthmon.sandbox.vendors.assemblyai import AssemblyAI
from healthmon.sandbox.vendors.google import GoogleAds, GoogleOAuth
from healthmon.sandbox.vendors.inngest import Inngest
from healthmon.sandbox.vendors.loop import Loop
from healthmon.sandbox.vendors.mcp import Mcp
from healthmon.sandbox.vendors.meta import Meta
from healthmon.sandbox.vendors.mux import Mux
from healthmon.sandbox.vendors.pagerduty import PagerDuty
from healthmon.sandbox.vendors.shopify import Shopify
from healthmon.sandbox.vendors.slack import Slack, SlackStatus, SlackWebhook
from healthmon.sandbox.vendors.statuspage import Statuspage
from healthmon.sandbox.vendors.stripe import Stripe
from healthmon.sandbox.vendors.tiktok import TikTok
from healthmon.sandbox.vendors.vercel import Vercel
from healthmon.sandbox.vendors.webhook import Webhook
from healthmon.sandbox.vendors.wise import Wise
from healthmon.sandbox.vendors.yotpo import Yotpo

VENDORS: tuple[type[Vendor], ...] = (
    Shopify,
    Meta,
    GoogleAds,
    GoogleOAuth,
    TikTok,
    Stripe,
    Inngest,
    Mcp,
    Wise,
    Mux,
    AssemblyAI,
    Slack,
    SlackWebhook,
    SlackStatus,
    Yotpo,
    Loop,
    Vercel,
    Statuspage,
    PagerDuty,
    Webhook,
)


logger = logging.getLogger("sandbox")

FastRoute = tuple[re.Pattern[str], frozenset[str], Callable[[Request], Awaitable[Response]]]


def _first_segment(path: str) -> str:
    end = path.find("/", 1)
    return path[1:end] if end > 0 else path[1:]


class SandboxApp(Starlette):
    """Starlette with a shortcut for vendor routes.

    Starlette's middleware, mounts and exception wrappers cost about 60 µs a request, a
    third of the sandbox's budget under the 10,000-shop benchmark. Vendor routes are
    looked up by first path segment and called directly; everything else (the control
    API, 404 and 405 answers) goes through Starlette as usual.
    """

    def __init__(self, routes: list[BaseRoute], fast: dict[str, list[FastRoute]]) -> None:
        super().__init__(routes=routes)
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Keep the server's own send callable: the reset fault needs the connection behind it.
        scope[RAW_SEND] = send
        if scope["type"] == "http":
            path = scope["path"]
            candidates = self.fast.get(_first_segment(path))
            if candidates is not None:
                method = scope["method"]
                for regex, methods, endpoint in candidates:
                    match = regex.match(path)
                    if match is not None and method in methods:
                        scope["app"] = self
                        scope["path_params"] = match.groupdict()
                        await self._serve(endpoint, scope, receive, send)
                        return
        await super().__call__(scope, receive, send)

    @staticmethod
    async def _serve(
        endpoint: Callable[[Request], Awaitable[Response]], scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            response = await endpoint(Request(scope, receive, send))
        except Exception:
            logger.exception("sandbox endpoint failed for %s %s", scope["method"], scope["path"])
            response = PlainTextResponse("Internal Server Error", 500)
        await response(scope, receive, send)


def create_app(state: SandboxState) -> Starlette:
    # Vendors that share a prefix (Slack's Web API and its webhooks) must share one Mount,
    # because a Mount claims every path under its prefix.
    grouped: dict[str, list[BaseRoute]] = {}
    for vendor_class in VENDORS:
        vendor = vendor_class(state)
        grouped.setdefault(vendor.prefix, []).extend(vendor.routes())
    fast: dict[str, list[FastRoute]] = {}
    for prefix, vendor_routes in grouped.items():
        for route in vendor_routes:
            assert isinstance(route, Route) and route.methods is not None
            regex, _, _ = compile_path(prefix + route.path)
            fast.setdefault(_first_segment(prefix), []).append(
                (regex, frozenset(route.methods), route.endpoint)
            )
    routes: list[BaseRoute] = [
        Mount(prefix, routes=vendor_routes) for prefix, vendor_routes in grouped.items()
    ]
    routes.append(Mount("/_sandbox", routes=control_routes(state)))
    app = SandboxApp(routes, fast)
    app.state.sandbox = state
    return app
