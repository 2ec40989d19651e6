"""Alerts: list with filters, one with its deliveries, acknowledge and resolve.

Acknowledge and resolve go through flows.alerts (alerting's outbox on this store), exactly as
`healthmon alerts ack|resolve` does; the notices they queue are sent right after the response
(the deliver-notifications flow retries whatever that first attempt could not send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, HTTPException, Path, Query

from healthmon.alerting.lifecycle import AlertState
from healthmon.alerting.notification import Severity
from healthmon.api.auth import Admin, caller
from healthmon.api.deps import AppDep
from healthmon.api.errors import COMMON_RESPONSES, FORBIDDEN, FieldError, not_found
from healthmon.api.inputs import MAX_ID, ServiceName, TenantId, TimeBound
from healthmon.api.schemas import Alert, AlertDetail, AlertList, Delivery, NoteIn, Problem
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.alerts import AlertNotFound, send_now
from healthmon.flows.app import App
from healthmon.storage import alerts as store

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=COMMON_RESPONSES)

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="the alert's id")]
NOT_FOUND = not_found("No alert with this id")


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "tenant": row.get("tenant_id")}


def _detail(runtime: App, alert_id: int) -> AlertDetail:
    row = store.get_alert(runtime.engine, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id}")
    deliveries = [Delivery.model_validate(d) for d in store.deliveries_of(runtime.engine, alert_id)]
    return AlertDetail.model_validate({**_alert(row), "deliveries": deliveries})


@router.get("", response_model=AlertList, dependencies=[Depends(caller)], summary="Alerts, newest first")
def list_alerts(
    runtime: AppDep,
    status: Annotated[list[AlertState] | None, Query(description="repeatable; default all")] = None,
    severity: Annotated[list[Severity] | None, Query(description="repeatable")] = None,
    service: ServiceName | None = None,
    tenant: TenantId | None = None,
    since: Annotated[TimeBound | None, Query(description="live at or after this moment (last seen)")] = None,
    until: Annotated[
        TimeBound | None, Query(description="live at or before this moment (first seen)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AlertList:
    if since is not None and until is not None and until < since:
        raise FieldError("until", "must not be before since")
    rows = store.list_alerts(
        runtime.engine,
        [s.value for s in status] if status else None,
        limit,
        severity=[s.value for s in severity] if severity else None,
        service=service,
        tenant_id=tenant,
        since=since,
        until=until,
        offset=offset,
    )
    return AlertList(alerts=[Alert.model_validate(_alert(r)) for r in rows], limit=limit, offset=offset)


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    dependencies=[Depends(caller)],
    responses=NOT_FOUND,
    summary="One alert, with the status of each of its notifications",
)
def get_alert(alert_id: AlertId, runtime: AppDep) -> AlertDetail:
    return _detail(runtime, alert_id)


async def _send(runtime: App, ids: list[int]) -> None:
    try:
        await send_now(runtime, ids)
    except Exception:  # the rows stay pending; the delivery flow sends them later
        log.exception("sending %d alert notices failed; they stay queued", len(ids))


def _change(
    runtime: App,
    alert_id: int,
    who: str,
    body: NoteIn | None,
    action: Callable[..., list[int]],
    background: BackgroundTasks,
) -> AlertDetail:
    try:
        ids = action(runtime, alert_id, who, note=body.note if body else None)
    except AlertNotFound:
        raise HTTPException(404, f"no alert {alert_id}") from None
    if ids:
        background.add_task(_send, runtime, ids)
    return _detail(runtime, alert_id)


NoteBody = Annotated[NoteIn | None, Body(description="an optional note (up to 1,000 characters)")]


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertDetail,
    responses={
        **FORBIDDEN,
        **NOT_FOUND,
        409: {"model": Problem, "description": "The alert is resolved: there is nothing to acknowledge"},
    },
    summary="Acknowledge: stops re-notification; records the token's name as who",
)
def acknowledge(
    alert_id: AlertId, who: Admin, runtime: AppDep, background: BackgroundTasks, body: NoteBody = None
) -> AlertDetail:
    row = store.get_alert(runtime.engine, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if row["status"] == AlertState.RESOLVED:
        raise HTTPException(409, f"alert {alert_id} is resolved; there is nothing to acknowledge")
    # acknowledging an acknowledged alert changes nothing (the first acknowledger stays)
    return _change(runtime, alert_id, who.name, body, flow_alerts.acknowledge, background)


@router.post(
    "/{alert_id}/resolve",
    response_model=AlertDetail,
    responses={**FORBIDDEN, **NOT_FOUND},
    summary="Resolve by hand; channels that got the alert get a resolved notice",
)
def resolve(
    alert_id: AlertId, who: Admin, runtime: AppDep, background: BackgroundTasks, body: NoteBody = None
) -> AlertDetail:
    # resolving a resolved alert changes nothing and answers its current state
    return _change(runtime, alert_id, who.name, body, flow_alerts.resolve, background)
