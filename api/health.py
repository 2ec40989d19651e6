"""Current status: the master status, the service x tenant matrix, one service, one tenant.

Everything is read through storage.queries (the cache first, then service_status). The matrix
is the one hot route (the dashboard and other services poll it; 1,000 tenants x 17 services
must answer within 100 ms), so it skips per-cell response validation and serves JSON built
once per version of the cached view, with each cell's age appended per request
(api/matrix.py); its model still documents it in the OpenAPI schema.

Every per-target object carries `age_s` and `stale`, judged when the answer is made with the
config's `watchdog.stale_after`, and its tenant's display name (`tenant_name`; the matrix: one
`tenant_names` map), read once per request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from healthmon.api.auth import caller
from healthmon.api.deps import AppDep, stale_rule
from healthmon.api.errors import COMMON_RESPONSES, not_found
from healthmon.api.inputs import SERVICES, ServiceName, invalid, is_tenant_id
from healthmon.api.matrix import MatrixViews, answer, render
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
from healthmon.flows.slo import slo_report
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import CheckResult, Status, TargetKey, Tier
from healthmon.storage.queries import (
    StaleRule,
    filter_cells,
    freshness,
    judged_at,
    matrix_cells,
    platform_health,
    service_health,
    since_of,
    tenant_health,
    worst,
)
from healthmon.storage.tenants import display_names, expected_targets, get_tenant, has_name

router = APIRouter(
    prefix="/api/platform/health",
    tags=["health"],
    dependencies=[Depends(caller)],
    responses=COMMON_RESPONSES,
)


def _now() -> datetime:
    return datetime.now(UTC)


@router.get("", response_model=PlatformHealth, summary="Master status: overall and per service")
def master_status(runtime: AppDep) -> dict[str, Any]:
    # only what should be checked now counts: see storage.queries.platform_health
    expected = expected_targets(runtime.engine, runtime.scheduled_services())
    return platform_health(
        runtime.engine,
        runtime.cache,
        sorted({service for service, _ in expected}),
        expected=expected,
        now=_now(),
        rule=stale_rule(runtime),
    )


@router.get(
    "/matrix",
    response_class=Response,
    responses={200: {"model": Matrix, "description": "The service x tenant grid, compact"}},
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
    rule = stale_rule(runtime)
    view = views.current(runtime.engine, runtime.cache, now, rule)
    if not (tier or status or tenant or service):
        names = display_names(runtime.engine, view.tenants)
        return Response(answer(view, now, names), media_type="application/json")
    cells = filter_cells(
        view.cells,
        tiers=[t.value for t in tier] if tier else None,
        statuses=[s.value for s in status] if status else None,
        tenant_search=tenant or None,
        services=service,
    )
    names = display_names(runtime.engine, {c.tenant for c in cells})
    # the view's cells were judged when it was built: judge the chosen ones again, now
    return Response(render(judged_at(cells, now, rule), now, names), media_type="application/json")


def _target(
    result: CheckResult, since: str | None, now: datetime, rule: StaleRule, names: Mapping[str, str]
) -> TargetStatus:
    age, stale = freshness(result, now, rule)
    return TargetStatus(
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
def one_tenant(tenant_id: str, runtime: AppDep) -> TenantHealth:
    # a malformed id cannot name a tenant; checking it first also keeps odd bytes away from SQL
    info = get_tenant(runtime.engine, tenant_id) if is_tenant_id(tenant_id) else None
    if info is None:
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    now, rule = _now(), stale_rule(runtime)
    cells = [c for c in matrix_cells(runtime.engine, runtime.cache, now, rule) if c.tenant == tenant_id]
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
    summary="One service: every target (each tenant for a per-tenant service)",
)
def one_service(service: str, runtime: AppDep) -> ServiceHealth:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    now, rule = _now(), stale_rule(runtime)
    cells = filter_cells(matrix_cells(runtime.engine, runtime.cache, now, rule), services=[service])
    since = since_of(cells)
    results = service_health(runtime.engine, runtime.cache, service, cells)
    names = display_names(runtime.engine, [r.tenant_id for r in results])
    targets = [_target(r, since.get(r.key), now, rule, names) for r in results]
    scheduled = service in runtime.scheduled_services()
    expected = set(expected_targets(runtime.engine, [service])) if scheduled else set()
    statuses = [t.status.value for t in targets]
    return ServiceHealth(
        service=service,
        tier=monitor.tier,
        per_tenant=monitor.per_tenant,
        status=_status(targets, expected) if targets else Status.UNKNOWN,
        counts=_count(statuses),
        stale=sum(1 for t in targets if t.stale),
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
