"""The FastAPI application: routes, bearer-token auth, one error shape, `Cache-Control: no-store`.

Open without a token: `/healthz`, and the API's own description (`/openapi.json`, `/docs`),
which holds no data. Everything else needs a token from HEALTHMON_API_TOKENS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthmon.api import alerts, errors, health, metrics, silences, tenants, thresholds
from healthmon.api.auth import parse_tokens
from healthmon.api.matrix import MatrixViews
from healthmon.api.status_index import StatusIndexes
from healthmon.api.tenant_snapshot import TenantSnapshots
from healthmon.config.settings import load_settings
from healthmon.flows.app import App, build_app

DESCRIPTION = """\
Current health of the platform, its vendors and every tenant's integrations; alerts,
thresholds, tenants and silences.

Every operation except `/healthz` needs `Authorization: Bearer <token>` with a token from
`HEALTHMON_API_TOKENS` (`name:scope:token`, comma-separated). `read` tokens may call every
GET; `admin` tokens may also change things, and their *name* is recorded as who did it.
Errors are `{"detail": "...", "errors": [{"field", "message"}]}`; `errors` only on 422.
"""


class NoStore:
    """Every answer is live status or a change: nothing may be cached on the way.

    A plain ASGI middleware (not BaseHTTPMiddleware): it only touches the response head, so
    it costs nothing on the large matrix body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def head(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, head)


def _version() -> str:
    try:
        return version("healthmon")
    except PackageNotFoundError:
        return "0.0.0"


def create_app(runtime: App | None = None, tokens: str | None = None) -> FastAPI:
    """The API over `runtime` (default: built from HEALTHMON_* and the config, and closed at
    shutdown) accepting `tokens` (default: HEALTHMON_API_TOKENS).

    Raises ConfigError naming the variable or key when either is unusable, before serving.
    """
    settings = runtime.settings if runtime is not None else load_settings()
    if tokens is None and settings.api_tokens is not None:
        tokens = settings.api_tokens.get_secret_value()
    token_store = parse_tokens(tokens)
    owned = runtime is None
    active = runtime if runtime is not None else build_app(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            active.close()

    app = FastAPI(
        title="healthmon",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        openapi_tags=[
            {"name": "health", "description": "Current status: master status, matrix, service, tenant"},
            {"name": "alerts", "description": "List, inspect, acknowledge and resolve alerts"},
            {"name": "thresholds", "description": "Effective threshold rules and their overrides"},
            {"name": "tenants", "description": "Tenants and their integrations"},
            {"name": "silences", "description": "Maintenance windows: notifications held back"},
            {"name": "operations", "description": "Prometheus metrics and the API's own health"},
        ],
    )
    app.state.runtime = active
    app.state.tokens = token_store
    app.state.expositions = metrics.Expositions()
    app.state.matrix_views = MatrixViews()
    app.state.tenant_snapshots = TenantSnapshots()
    app.state.status_indexes = StatusIndexes()
    errors.install(app)
    errors.document_problems(app)
    app.add_middleware(NoStore)
    for module in (health, alerts, thresholds, tenants, silences, metrics):
        app.include_router(module.router)
    return app
