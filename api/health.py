"""Current status: the master status, the service x tenant matrix, one service, one tenant.

Everything is read through storage.queries (the cache first, then service_status). The matrix
is the one hot route (the dashboard and other services poll it; 1,000 tenants x 17 services
must answer within 100 ms), so it skips per-cell response validation and serves JSON built
once per version of the cached view (api/matrix.py); its model still documents it in the
OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from api.auth import caller
from api.deps import RuntimeDep
from api.errors import COMMON_RESPONSES, not_found
from api.inputs import SERVICES, ServiceName, is_tenant_id
from api.matrix import MatrixViews, answer, render
from api.schemas import (
    Matrix,
    PlatformHealth,
    ServiceHealth,
    StatusCounts,
    TargetStatus,
    TenantHealth,
    TenantRef,
)
from flows.runtime import Runtime
from monitors.registry import MONITORS
from monitors.result import CheckResult, Status, Tier
from storage.queries import (
    Cell,
    filter_cells,
    matrix_cells,
    platform_health,
    service_health,
    tenant_health,
    worst,
)
from storage.tenants import expected_targets, get_tenant

router = APIRouter(
    prefix="/api/platform/health",
    tags=["health"],
    dependencies=[Depends(caller)],
    responses=COMMON_RESPONSES,
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def expected_services(runtime: Runtime) -> list[str]:
    """What should report in this deployment, as the planner decides it: platform services
    configured and enabled, per-tenant services enabled with at least one enabled tenant."""
    return sorted({service for service, _ in expected_targets(runtime.engine, runtime.scheduled_services())})


@router.get("", response_model=PlatformHealth, summary="Master status: overall and per service")
def master_status(runtime: RuntimeDep) -> dict[str, Any]:
    return platform_health(runtime.engine, runtime.cache, expected_services(runtime))


@router.get(
    "/matrix",
    response_class=Response,
    responses={200: {"model": Matrix, "description": "The service x tenant grid, compact"}},
    summary="Service x tenant grid",
)
def matrix(
    request: Request,
    runtime: RuntimeDep,
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
    view = views.current(runtime.engine, runtime.cache)
    if not (tier or status or tenant or service):
        return Response(answer(view.tail, _now()), media_type="application/json")
    cells = filter_cells(
        view.cells,
        tiers=[t.value for t in tier] if tier else None,
        statuses=[s.value for s in status] if status else None,
        tenant_search=tenant or None,
        services=service,
    )
    return Response(render(cells, _now()), media_type="application/json")


def _target(result: CheckResult, since: str | None) -> TargetStatus:
    return TargetStatus(
        service=result.service,
        tenant=result.tenant_id,
        tier=result.tier,
        status=result.status,
        latency_ms=result.latency_ms,
        checked_at=result.checked_at,
        since=datetime.fromisoformat(since) if since else None,
        reason=result.reason,
        details=result.details,
    )


def _since(cells: Iterable[Cell]) -> dict[tuple[str, str | None], str]:
    return {(c.service, c.tenant): c.since for c in cells}


@router.get(
    "/tenant/{tenant_id}",
    response_model=TenantHealth,
    responses=not_found("No tenant with this id"),
    summary="One tenant: each of its services",
)
def one_tenant(tenant_id: str, runtime: RuntimeDep) -> TenantHealth:
    # a malformed id cannot name a tenant; checking it first also keeps odd bytes away from SQL
    info = get_tenant(runtime.engine, tenant_id) if is_tenant_id(tenant_id) else None
    if info is None:
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    cells = [c for c in matrix_cells(runtime.engine, runtime.cache) if c.tenant == tenant_id]
    # its integrations, and anything still recorded for it (an integration removed since)
    services = sorted((set(info.integrations) | {c.service for c in cells}) & set(MONITORS))
    found = {r.service: r for r in tenant_health(runtime.engine, runtime.cache, tenant_id, services)}
    since = _since(cells)
    rows = []
    for name in services:
        result = found.get(name)
        if result is None:
            rows.append(
                TargetStatus(
                    service=name,
                    tenant=tenant_id,
                    tier=MONITORS[name].tier,
                    status=Status.UNKNOWN,
                    latency_ms=None,
                    checked_at=None,
                    since=None,
                    reason="not checked yet",
                    details={},
                )
            )
        else:
            rows.append(_target(result, since.get((name, tenant_id))))
    statuses = [r.status.value for r in rows]
    return TenantHealth(
        tenant=TenantRef(id=info.id, name=info.name, enabled=info.enabled),
        status=Status(worst(statuses)),
        counts=_count(statuses),
        services=rows,
        generated_at=datetime.now(UTC),
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
def one_service(service: str, runtime: RuntimeDep) -> ServiceHealth:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    cells = filter_cells(matrix_cells(runtime.engine, runtime.cache), services=[service])
    since = _since(cells)
    targets = [_target(r, since.get(r.key)) for r in service_health(runtime.engine, runtime.cache, service)]
    statuses = [t.status.value for t in targets]
    return ServiceHealth(
        service=service,
        tier=monitor.tier,
        per_tenant=monitor.per_tenant,
        status=Status(worst(statuses)) if targets else Status.UNKNOWN,
        counts=_count(statuses),
        targets=targets,
        generated_at=datetime.now(UTC),
    )
