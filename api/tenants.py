"""Tenants: list, add (with integrations), enable and disable. Credentials go in, never out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from healthmon.api.auth import Admin, caller
from healthmon.api.deps import AppDep
from healthmon.api.errors import COMMON_RESPONSES, FORBIDDEN, not_found
from healthmon.api.inputs import invalid, is_tenant_id
from healthmon.api.schemas import Problem, Tenant, TenantIn, TenantList
from healthmon.flows.tenant_input import TenantInputError, tenant_row
from healthmon.storage.tenants import TenantInfo, get_tenant, list_tenants, set_enabled, upsert_tenants

router = APIRouter(prefix="/api/tenants", tags=["tenants"], responses=COMMON_RESPONSES)

TenantPath = Annotated[str, Path(description="the tenant's id")]
NO_TENANT = not_found("No tenant with this id")


def _changed(request: Request) -> None:
    """The health routes keep a snapshot of the tenants (api/tenant_snapshot.py): a change
    made through this API shows in them at once."""
    request.app.state.tenant_snapshots.forget()


def _tenant(info: TenantInfo) -> Tenant:
    return Tenant(id=info.id, name=info.name, enabled=info.enabled, integrations=info.integrations)


@router.get("", response_model=TenantList, dependencies=[Depends(caller)], summary="Every tenant")
def all_tenants(runtime: AppDep) -> TenantList:
    return TenantList(tenants=[_tenant(t) for t in list_tenants(runtime.engine)])


@router.post(
    "",
    status_code=201,
    response_model=Tenant,
    responses={
        **FORBIDDEN,
        409: {"model": Problem, "description": "A tenant with this id exists"},
        503: {"model": Problem, "description": "HEALTHMON_SECRET_KEY is not set, or the database is down"},
    },
    summary="Add a tenant with its integrations",
)
def add_tenant(body: TenantIn, who: Admin, runtime: AppDep, request: Request) -> Tenant:
    # the same validation as `healthmon tenants add/import` and the dashboard: every field
    raw = {"id": body.id, "name": body.name, "enabled": body.enabled, "integrations": body.integrations}
    try:
        row = tenant_row(raw, "body")
    except TenantInputError as exc:
        raise invalid((p.key.removeprefix("body."), p.message) for p in exc.problems) from None
    if runtime.cipher is None:
        raise HTTPException(
            503, "HEALTHMON_SECRET_KEY is not set on the server; credentials cannot be stored"
        )
    if get_tenant(runtime.engine, body.id) is not None:
        raise HTTPException(409, f"tenant {body.id!r} exists")
    upsert_tenants(runtime.engine, runtime.cipher, [row])
    _changed(request)
    info = get_tenant(runtime.engine, body.id)
    assert info is not None
    return _tenant(info)


def _switch(runtime: AppDep, request: Request, tenant_id: str, enabled: bool) -> Tenant:
    if not (is_tenant_id(tenant_id) and set_enabled(runtime.engine, tenant_id, enabled)):
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    _changed(request)
    info = get_tenant(runtime.engine, tenant_id)
    if info is None:  # removed in between
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    return _tenant(info)


@router.post(
    "/{tenant_id}/disable",
    response_model=Tenant,
    responses={**FORBIDDEN, **NO_TENANT},
    summary="Stop checking a tenant (kept, with its credentials)",
)
def disable(tenant_id: TenantPath, who: Admin, runtime: AppDep, request: Request) -> Tenant:
    return _switch(runtime, request, tenant_id, False)


@router.post(
    "/{tenant_id}/enable",
    response_model=Tenant,
    responses={**FORBIDDEN, **NO_TENANT},
    summary="Check a tenant again",
)
def enable(tenant_id: TenantPath, who: Admin, runtime: AppDep, request: Request) -> Tenant:
    return _switch(runtime, request, tenant_id, True)
