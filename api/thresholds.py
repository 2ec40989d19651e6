"""Threshold rules: the effective view (with where each rule comes from), overrides set and cleared.

A rule is checked by alerting.thresholds.ThresholdRule before it is stored, the same model
the config's thresholds go through, so the API cannot store a rule a tier run would refuse.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import ValidationError

from alerting.thresholds import ThresholdRule
from api.auth import Admin, caller
from api.deps import RuntimeDep
from api.errors import COMMON_RESPONSES, FORBIDDEN, FieldError, not_found
from api.inputs import SERVICES, TenantId
from api.schemas import ThresholdIn, Thresholds
from flows.runtime import Runtime
from monitors.base import Monitor
from monitors.registry import MONITORS
from storage.tenants import get_tenant
from storage.thresholds import clear_override, set_override

router = APIRouter(prefix="/api/thresholds", tags=["thresholds"], responses=COMMON_RESPONSES)

NO_SERVICE = not_found("No service of that name")


def _monitor(service: str) -> Monitor:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    return monitor


def settable_metrics(monitor: Monitor) -> list[str]:
    """Every metric the monitor reports, and latency, which every check has."""
    return sorted({"latency_ms", *monitor.metrics})


def _check_metric(monitor: Monitor, metric: str) -> None:
    known = settable_metrics(monitor)
    if metric not in known:
        raise FieldError(
            "metric", f"{monitor.service} reports no metric {metric!r} (one of {', '.join(known)})"
        )


def _check_tenant(runtime: Runtime, monitor: Monitor, tenant: str | None, field: str) -> None:
    if tenant is None:
        return
    if not monitor.per_tenant:
        raise FieldError(field, f"{monitor.service} is a platform service: its thresholds are not per tenant")
    if get_tenant(runtime.engine, tenant) is None:
        raise FieldError(field, f"no tenant {tenant!r}")


def _view(runtime: Runtime, monitor: Monitor, tenant: str | None) -> Thresholds:
    return Thresholds.model_validate(
        {
            "service": monitor.service,
            "tenant": tenant,
            "metrics": settable_metrics(monitor),
            "rules": runtime.effective_thresholds(monitor.service, tenant),
        }
    )


TenantQuery = Annotated[
    TenantId | None,
    Query(description="a tenant's effective view (per-tenant services); omit for service-wide"),
]


@router.get(
    "/{service}",
    response_model=Thresholds,
    dependencies=[Depends(caller)],
    responses=NO_SERVICE,
    summary="Effective rules of a service (or of one tenant of it), each with its source",
)
def read_thresholds(service: str, runtime: RuntimeDep, tenant: TenantQuery = None) -> Thresholds:
    monitor = _monitor(service)
    _check_tenant(runtime, monitor, tenant, "tenant")
    return _view(runtime, monitor, tenant)


@router.put(
    "/{service}/{metric}",
    response_model=Thresholds,
    responses={**FORBIDDEN, **NO_SERVICE},
    summary="Set the service-wide or a tenant's override of one metric's rule",
)
def put_threshold(
    service: str, metric: str, body: ThresholdIn, who: Admin, runtime: RuntimeDep
) -> Thresholds:
    monitor = _monitor(service)
    _check_metric(monitor, metric)
    _check_tenant(runtime, monitor, body.tenant, "tenant")
    try:
        rule = ThresholdRule(
            metric=metric, degraded=body.degraded, unhealthy=body.unhealthy, inverse=body.inverse
        )
    except ValidationError as exc:
        # the rule's own check is about the pair of bounds; `degraded` is the one to move
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise FieldError("degraded", message) from None
    set_override(
        runtime.engine, service, body.tenant, metric, rule.degraded, rule.unhealthy, rule.inverse, who.name
    )
    return _view(runtime, monitor, body.tenant)


@router.delete(
    "/{service}/{metric}",
    response_model=Thresholds,
    responses={**FORBIDDEN, **not_found("No such service, or no override to remove")},
    summary="Remove an override; the rule below it (config or default) applies again",
)
def delete_threshold(
    service: str, metric: str, who: Admin, runtime: RuntimeDep, tenant: TenantQuery = None
) -> Thresholds:
    monitor = _monitor(service)
    _check_metric(monitor, metric)
    if not clear_override(runtime.engine, service, tenant, metric):
        scope = f"tenant {tenant}" if tenant else "service-wide"
        raise HTTPException(404, f"no {scope} override of {service} {metric}")
    return _view(runtime, monitor, tenant if monitor.per_tenant else None)
