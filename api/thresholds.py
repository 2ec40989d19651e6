"""Threshold rules: the effective view (with where each rule comes from), overrides set and cleared.

A rule is checked by alerting.thresholds.validate_rule before it is stored, the check the
dashboard's form uses too (a metric the service reports, numbers, not negative where the
metric cannot be, bounds in order), ending in the ThresholdRule a tier run builds.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.convertors import StringConvertor, register_url_convertor

from healthmon.alerting.thresholds import RuleInputError, settable_metrics, validate_rule
from healthmon.api.auth import Admin, caller
from healthmon.api.deps import AppDep
from healthmon.api.errors import COMMON_RESPONSES, FORBIDDEN, FieldError, not_found
from healthmon.api.inputs import SERVICES, TenantId, invalid
from healthmon.api.schemas import ThresholdIn, ThresholdPreview, ThresholdPreviewIn, Thresholds
from healthmon.flows.app import App
from healthmon.flows.replay import preview
from healthmon.monitors.base import Monitor
from healthmon.monitors.registry import MONITORS
from healthmon.storage.tenants import get_tenant
from healthmon.storage.thresholds import clear_override, set_override


class MetricName(StringConvertor):
    """A metric in a path: any segment but `preview`, so that `/{service}/preview` is only the
    POST route (no metric is called that): PUT there is 405, not "no metric 'preview'"."""

    regex = "(?!preview$)[^/]+"


register_url_convertor("metric_name", MetricName())

router = APIRouter(prefix="/api/thresholds", tags=["thresholds"], responses=COMMON_RESPONSES)

NO_SERVICE = not_found("No service of that name")


def _monitor(service: str) -> Monitor:
    monitor = MONITORS.get(service)
    if monitor is None:
        raise HTTPException(404, f"no service {service!r} (known: {', '.join(SERVICES)})")
    return monitor


def _check_metric(monitor: Monitor, metric: str) -> None:
    known = settable_metrics(monitor.service)
    if metric not in known:
        raise FieldError(
            "metric", f"{monitor.service} reports no metric {metric!r} (one of {', '.join(known)})"
        )


def _check_tenant(runtime: App, monitor: Monitor, tenant: str | None, field: str) -> None:
    if tenant is None:
        return
    if not monitor.per_tenant:
        raise FieldError(field, f"{monitor.service} is a platform service: its thresholds are not per tenant")
    if get_tenant(runtime.engine, tenant) is None:
        raise FieldError(field, f"no tenant {tenant!r}")


def _view(runtime: App, monitor: Monitor, tenant: str | None) -> Thresholds:
    return Thresholds.model_validate(
        {
            "service": monitor.service,
            "tenant": tenant,
            "metrics": settable_metrics(monitor.service),
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
def read_thresholds(service: str, runtime: AppDep, tenant: TenantQuery = None) -> Thresholds:
    monitor = _monitor(service)
    _check_tenant(runtime, monitor, tenant, "tenant")
    return _view(runtime, monitor, tenant)


@router.put(
    "/{service}/{metric:metric_name}",
    response_model=Thresholds,
    responses={**FORBIDDEN, **NO_SERVICE},
    summary="Set the service-wide or a tenant's override of one metric's rule",
)
def put_threshold(service: str, metric: str, body: ThresholdIn, who: Admin, runtime: AppDep) -> Thresholds:
    monitor = _monitor(service)
    try:
        rule = validate_rule(service, metric, body.degraded, body.unhealthy, body.inverse)
    except RuleInputError as exc:
        raise invalid(exc.problems) from None
    _check_tenant(runtime, monitor, body.tenant, "tenant")
    set_override(
        runtime.engine, service, body.tenant, metric, rule.degraded, rule.unhealthy, rule.inverse, who.name
    )
    return _view(runtime, monitor, body.tenant)


@router.post(
    "/{service}/preview",
    response_model=ThresholdPreview,
    dependencies=[Depends(caller)],
    responses=NO_SERVICE,
    summary="Replay a proposed rule over the stored history (30 days) beside the current one",
    description="Read scope is enough: nothing is changed. The body is PUT's plus `metric`; it is "
    "validated as PUT validates it. Alerts opened and resolved follow the live lifecycle "
    "(open_after, resolve_after, flapping); an empty history answers zeros.",
)
def preview_threshold(service: str, body: ThresholdPreviewIn, runtime: AppDep) -> ThresholdPreview:
    monitor = _monitor(service)
    try:
        rule = validate_rule(service, body.metric, body.degraded, body.unhealthy, body.inverse)
    except RuleInputError as exc:
        raise invalid(exc.problems) from None
    _check_tenant(runtime, monitor, body.tenant, "tenant")
    return ThresholdPreview.model_validate(asdict(preview(runtime, service, rule, body.tenant)))


@router.delete(
    "/{service}/{metric:metric_name}",
    response_model=Thresholds,
    responses={**FORBIDDEN, **not_found("No such service, or no override to remove")},
    summary="Remove an override; the rule below it (config or default) applies again",
)
def delete_threshold(
    service: str, metric: str, who: Admin, runtime: AppDep, tenant: TenantQuery = None
) -> Thresholds:
    monitor = _monitor(service)
    _check_metric(monitor, metric)
    if not clear_override(runtime.engine, service, tenant, metric):
        scope = f"tenant {tenant}" if tenant else "service-wide"
        raise HTTPException(404, f"no {scope} override of {service} {metric}")
    return _view(runtime, monitor, tenant if monitor.per_tenant else None)
