"""Current status: the master status, the service x tenant matrix, one service, one tenant.

Everything is read through storage.queries (the cache first, then service_status). The matrix
is the one hot route (the dashboard and other services poll it; 1,000 tenants x 17 services
must answer within 100 ms), so it skips per-cell response validation and serves JSON built
once per version of the cached view, with each cell's age appended per request
(api/matrix.py); its model still documents it in the OpenAPI schema.

Every per-target object carries `age_s` and `stale`, judged when the answer is made with the
config's `watchdog.stale_after`, and its tenant's display name (`tenant_name`; the matrix: one
`tenant_names` map), from the tenant snapshot (api/tenant_snapshot.py).

At 10,000 tenants nothing here reads or judges every cell per request: the master status and
a service's totals come from api/status_index.py (counted once per view), the service route
reads only its page's results, and the whole matrix is a kept answer with a strong ETag,
gzipped once (api/matrix.py).
"""

from __future__ import annotations

import gzip
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from healthmon.api.auth import caller
from healthmon.api.deps import AppDep, stale_rule
from healthmon.api.errors import COMMON_RESPONSES, not_found
from healthmon.api.inputs import SERVICES, ServiceName, invalid, is_tenant_id
from healthmon.api.matrix import MatrixViews, View, render
from healthmon.api.paging import DEFAULT_LIMIT, MAX_LIMIT, CursorError, next_cursor, read_cursor
from healthmon.api.schemas import (
    BurnRates,
    Matrix,
    PlatformHealth,
    ServiceHealth,
    Slo,
    StatusCounts,
    TargetStatus,
    TenantHealth,
    TenantRef,
    UptimeWindows,
)
from healthmon.api.status_index import StatusIndex, StatusIndexes
from healthmon.api.tenant_snapshot import Tenants, TenantSnapshots
from healthmon.flows.app import App
from healthmon.flows.slo import slo_report
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status, TargetKey, Tier
from healthmon.storage.queries import (
    StaleRule,
    aged,
    filter_cells,
    freshness,
    judged_at,
    service_health,
    since_of,
    tenant_health,
    worst,
)
from healthmon.storage.tenants import get_tenant, has_name

router = APIRouter(
    prefix="/api/platform/health",
    tags=["health"],
    dependencies=[Depends(caller)],
    responses=COMMON_RESPONSES,
)


def _now() -> datetime:
    return datetime.now(UTC)


JSON = "application/json"
#: filtered matrix answers are compressed per request: cheaply
FILTERED_GZIP_LEVEL = 1
#: smaller answers are not worth compressing
GZIP_ABOVE_BYTES = 1024


def _current(request: Request, runtime: App, now: datetime) -> tuple[View, Tenants]:
    views: MatrixViews = request.app.state.matrix_views
    snapshots: TenantSnapshots = request.app.state.tenant_snapshots
    view = views.current(runtime.engine, runtime.cache, now, stale_rule(runtime))
    return view, snapshots.get(runtime.engine, runtime.scheduled_services())


def _index(request: Request, view: View, tenants: Tenants) -> StatusIndex:
    indexes: StatusIndexes = request.app.state.status_indexes
    return indexes.of(view, tenants)


@router.get("", response_model=PlatformHealth, summary="Master status: overall and per service")
def master_status(request: Request, runtime: AppDep) -> dict[str, Any]:
    # only what should be checked now counts: see storage.queries.platform_health, whose
    # answer api/status_index.py gives from counts kept per view
    now = _now()
    view, tenants = _current(request, runtime, now)
    return _index(request, view, tenants).platform(now)


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (`gzip` or `*`, without q=0)."""
    allowed = False
    for item in (header or "").split(","):
        name, _sep, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        coding = name.strip().lower()
        if coding == "gzip":
            return quality > 0
        if coding == "*":
            allowed = quality > 0
    return allowed


def none_match(header: str | None, tags: Collection[str]) -> bool:
    """Whether If-None-Match names one of `tags` (weak comparison, as RFC 9110 requires), or `*`."""
    if not header:
        return False
    wanted = {tag.removeprefix("W/") for tag in tags}
    for item in header.split(","):
        tag = item.strip()
        if tag == "*" or tag.removeprefix("W/") in wanted:
            return True
    return False


@router.get(
    "/matrix",
    response_class=Response,
    responses={
        200: {
            "model": Matrix,
            "description": "The service x tenant grid, compact. Gzipped when the request's "
            "Accept-Encoding allows it (`Vary: Accept-Encoding`). Without filters the answer "
            "carries a strong `ETag` and is kept (the same bytes, `generated_at` included) until "
            "a result or a display name changes, a cell turns stale, or 10 s passed; each cell's "
            "`age_s` is its age at `generated_at`",
        },
        304: {"description": "Without filters: `If-None-Match` names the current answer's ETag (no body)"},
    },
    summary="Service x tenant grid",
)
def matrix(
    request: Request,
    runtime: AppDep,
    tier: Annotated[list[Tier] | None, Query(description="only these tiers (repeatable)")] = None,
    status: Annotated[list[Status] | None, Query(description="only these statuses (repeatable)")] = None,
    tenant: Annotated[
        str | None, Query(max_length=64, description="tenants whose id contains this, case-insensitive")
    ] = None,
    service: Annotated[
        list[ServiceName] | None, Query(description="only these services (repeatable)")
    ] = None,
) -> Response:
    views: MatrixViews = request.app.state.matrix_views
    now = _now()
    view, tenants = _current(request, runtime, now)
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    vary = {"Vary": "Accept-Encoding"}
    if not (tier or status or tenant or service):
        kept = views.answer(view, tenants.names, tenants.names_version, now)
        headers = {**vary, "ETag": kept.etag_gzip if gzipped else kept.etag}
        if none_match(request.headers.get("if-none-match"), (kept.etag, kept.etag_gzip)):
            return Response(status_code=304, headers=headers)
        if gzipped:
            return Response(kept.gzipped(), media_type=JSON, headers={**headers, "Content-Encoding": "gzip"})
        return Response(kept.body, media_type=JSON, headers=headers)
    cells = filter_cells(
        view.cells,
        tiers=[t.value for t in tier] if tier else None,
        statuses=[s.value for s in status] if status else None,
        tenant_search=tenant or None,
        services=service,
    )
    # the view's cells were judged when it was built: judge the chosen ones again, now
    body = render(judged_at(cells, now, stale_rule(runtime)), now, tenants.names)
    if gzipped and len(body) > GZIP_ABOVE_BYTES:
        compressed = gzip.compress(body, FILTERED_GZIP_LEVEL, mtime=0)
        return Response(compressed, media_type=JSON, headers={**vary, "Content-Encoding": "gzip"})
    return Response(body, media_type=JSON, headers=vary)


def _target(
    result: CheckResult, since: str | None, now: datetime, rule: StaleRule, names: Mapping[str, str]
) -> TargetStatus:
    age, stale = freshness(result, now, rule)
    # built from a stored result, already of the model's types: validating each of a page's
    # targets again cost ~7 us each (model_construct, no validation)
    return TargetStatus.model_construct(
        service=result.service,
        tenant=result.tenant_id,
        tenant_name=names.get(result.tenant_id) if result.tenant_id else None,
        tier=result.tier,
        status=result.status,
        latency_ms=result.latency_ms,
        checked_at=result.checked_at,
        since=datetime.fromisoformat(since) if since else None,
        reason=result.reason,
        details=result.details,
        age_s=age,
        stale=stale,
    )


def _status(targets: list[TargetStatus], expected: Collection[TargetKey]) -> Status:
    """The worst status of the targets; unknown at least while a target that should be
    checked has no fresh result (one nobody checks any more, such as a disabled tenant's, is
    shown stale but does not hold the status down)."""
    found = Status(worst(t.status.value for t in targets))
    if any(t.stale and (t.service, t.tenant) in expected for t in targets):
        found = found.worse(Status.UNKNOWN)
    return found


@router.get(
    "/tenant/{tenant_id}",
    response_model=TenantHealth,
    responses=not_found("No tenant with this id"),
    summary="One tenant: each of its services",
)
def one_tenant(tenant_id: str, runtime: AppDep, request: Request) -> TenantHealth:
    # a malformed id cannot name a tenant; checking it first also keeps odd bytes away from SQL
    info = get_tenant(runtime.engine, tenant_id) if is_tenant_id(tenant_id) else None
    if info is None:
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    now, rule = _now(), stale_rule(runtime)
    view = request.app.state.matrix_views.current(runtime.engine, runtime.cache, now, rule)
    # judged only the tenant's cells, not the whole view's
    cells = aged([row for row in view.rows if row[1] == tenant_id], now, rule)
    # its integrations, and anything still recorded for it (an integration removed since)
    services = sorted((set(info.integrations) | {c.service for c in cells}) & set(MONITORS))
    found = {
        r.service: r for r in tenant_health(runtime.engine, runtime.cache, tenant_id, services, cells)
    }
    since = since_of(cells)
    # the tenant row read above has the name: no second read
    names = {info.id: info.name} if has_name(info.id, info.name) else {}
    scheduled = set(runtime.scheduled_services())
    expected = (
        {(s, tenant_id) for s in info.integrations if s in scheduled and MONITORS[s].per_tenant}
        if info.enabled
        else set()
    )
    rows = []
    for name in services:
        result = found.get(name)
        if result is None:
            rows.append(
                TargetStatus(
                    service=name,
                    tenant=tenant_id,
                    tenant_name=names.get(tenant_id),
                    tier=MONITORS[name].tier,
                    status=Status.UNKNOWN,
                    latency_ms=None,
                    checked_at=None,
                    since=None,
                    reason="not checked yet",
                    details={},
                    age_s=None,
                    # no result at all is no fresh result either
                    stale=True,
                )
            )
        else:
            rows.append(_target(result, since.get((name, tenant_id)), now, rule, names))
    statuses = [r.status.value for r in rows]
    return TenantHealth(
        tenant=TenantRef(id=info.id, name=info.name, enabled=info.enabled),
        status=_status(rows, expected),
        counts=_count(statuses),
        stale=sum(1 for r in rows if r.stale),
        services=rows,
        generated_at=now,
    )


def _count(statuses: Iterable[str]) -> StatusCounts:
    found = {s.value: 0 for s in Status}
    for status in statuses:
        found[status] += 1
    return StatusCounts(**found)


@router.get(
    "/{service}",
    response_model=ServiceHealth,
    responses=not_found("No service of that name"),
    summary="One service: its targets (each tenant for a per-tenant service), a page at a time",
)
def one_service(
    service: str,
    runtime: AppDep,
    request: Request,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"targets per page (default {DEFAULT_LIMIT})")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`next_cursor` of the previous page; without it, the first page"),
    ] = None,
) -> ServiceHealth:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    try:
        after = read_cursor(cursor) if cursor is not None else None
    except CursorError as exc:
        raise invalid([("cursor", str(exc))], "query") from None
    now, rule = _now(), stale_rule(runtime)
    view, tenants = _current(request, runtime, now)
    index = _index(request, view, tenants)
    total, counts, stale, status = index.service_totals(service, now)
    cells, last = index.page(service, after, limit, now)
    since = since_of(cells)
    # only the page's results: the cache first, then service_status (storage.queries)
    results = service_health(runtime.engine, runtime.cache, service, cells)
    targets = [_target(r, since.get(r.key), now, rule, tenants.names) for r in results]
    return ServiceHealth(
        service=service,
        tier=monitor.tier,
        per_tenant=monitor.per_tenant,
        status=Status(status),
        counts=StatusCounts(**counts),
        stale=stale,
        total=total,
        limit=limit,
        next_cursor=next_cursor(last) if last is not None else None,
        targets=targets,
        generated_at=now,
    )


@router.get(
    "/{service}/slo",
    response_model=Slo,
    responses=not_found("No service of that name, or no tenant with this id"),
    summary="Uptime over 24 h, 7 d and 30 d, and with an SLO its error budget and burn rates",
)
def service_slo(
    service: str,
    runtime: AppDep,
    tenant: Annotated[
        str | None,
        Query(max_length=64, description="one tenant of a per-tenant service; without it, the whole service"),
    ] = None,
) -> Slo:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    if tenant is not None:
        if not monitor.per_tenant:
            raise invalid([("tenant", f"{service} is a platform service: it has no tenants")], "query")
        if not is_tenant_id(tenant):
            raise invalid([("tenant", "must be 1-64 lowercase letters, digits, '-' or '_'")], "query")
        if get_tenant(runtime.engine, tenant) is None:
            raise HTTPException(404, f"no tenant {tenant!r}")
    now = _now()
    report = slo_report(runtime, service, tenant, now, whole_service=monitor.per_tenant and tenant is None)
    objective = report.objective
    return Slo(
        service=service,
        tenant=tenant,
        uptime=UptimeWindows.model_validate(report.uptime),
        objective=objective.objective if objective else None,
        window_days=objective.window_days if objective else None,
        budget_remaining=report.budget_remaining,
        burn_rates=BurnRates.model_validate(report.burn_rates) if objective else None,
        generated_at=now,
    )
