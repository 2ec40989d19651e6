"""Alerts: list with filters (an alert group among them), one with its deliveries, acknowledge
and resolve one, or many at once by ids or by group.

Acknowledge and resolve go through flows.alerts (alerting's outbox on this store), exactly as
`healthmon alerts ack|resolve` does; the notices they queue are sent right after the response
(the deliver-notifications flow retries whatever that first attempt could not send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, HTTPException, Path, Query
from starlette.convertors import StringConvertor, register_url_convertor

from healthmon.alerting.lifecycle import AlertState, group_key
from healthmon.alerting.notification import Severity
from healthmon.api.auth import Admin, caller
from healthmon.api.deps import AppDep
from healthmon.api.errors import COMMON_RESPONSES, FORBIDDEN, FieldError, not_found
from healthmon.api.inputs import MAX_ID, ServiceName, TenantId, TimeBound
from healthmon.api.schemas import (
    GROUP_KEY_MAX,
    AcknowledgedMany,
    Alert,
    AlertDetail,
    AlertList,
    BulkChangeIn,
    Delivery,
    NoteIn,
    Problem,
    ResolvedMany,
)
from healthmon.flows import alerts as flow_alerts
from healthmon.flows.alerts import AlertNotFound, BulkChange, parse_group, send_now
from healthmon.flows.app import App
from healthmon.storage import alerts as store
from healthmon.storage.tenants import display_names

log = logging.getLogger(__name__)



class AlertIdSegment(StringConvertor):
    """An alert id in a path: any segment but the bulk routes' names, so that
    `/api/alerts/acknowledge` is only the POST route (GET there is 405, not "alert_id must be
    an integer"); the id itself is validated as `AlertId`, with its 422 naming the field."""

    regex = "(?!(?:acknowledge|resolve)$)[^/]+"


register_url_convertor("alert_id", AlertIdSegment())

router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=COMMON_RESPONSES)

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="the alert's id")]
NOT_FOUND = not_found("No alert with this id")


def _alert(row: dict[str, Any], names: Mapping[str, str] | None = None) -> dict[str, Any]:
    tenant = row.get("tenant_id")
    return {
        **row,
        "tenant": tenant,
        # read now, not from the alert: a tenant renamed since the alert opened shows its new name
        "tenant_name": (names or {}).get(tenant) if tenant else None,
        "group": group_key(row["service"], row["condition"]),
    }


def _group(key: str) -> tuple[str, str]:
    try:
        return parse_group(key)
    except ValueError as exc:
        raise FieldError("group", str(exc)) from None


def _detail(runtime: App, alert_id: int) -> AlertDetail:
    row = store.get_alert(runtime.engine, alert_id)
    if row is None:
        raise HTTPException(404, f"no alert {alert_id}")
    deliveries = [Delivery.model_validate(d) for d in store.deliveries_of(runtime.engine, alert_id)]
    names = display_names(runtime.engine, [row.get("tenant_id")])
    return AlertDetail.model_validate({**_alert(row, names), "deliveries": deliveries})


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
    group: Annotated[
        str | None, Query(max_length=GROUP_KEY_MAX, description="an alert group: service|condition")
    ] = None,
) -> AlertList:
    if since is not None and until is not None and until < since:
        raise FieldError("until", "must not be before since")
    condition = None
    if group is not None:
        group_service, condition = _group(group)
        if service is not None and service != group_service:
            return AlertList(alerts=[], limit=limit, offset=offset)
        service = group_service
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
        condition=condition,
    )
    names = display_names(runtime.engine, [r.get("tenant_id") for r in rows])
    alerts = [Alert.model_validate(_alert(r, names)) for r in rows]
    return AlertList(alerts=alerts, limit=limit, offset=offset)


@router.get(
    "/{alert_id:alert_id}",
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
    "/{alert_id:alert_id}/acknowledge",
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
    "/{alert_id:alert_id}/resolve",
    response_model=AlertDetail,
    responses={**FORBIDDEN, **NOT_FOUND},
    summary="Resolve by hand; channels that got the alert get a resolved notice",
)
def resolve(
    alert_id: AlertId, who: Admin, runtime: AppDep, background: BackgroundTasks, body: NoteBody = None
) -> AlertDetail:
    # resolving a resolved alert changes nothing and answers its current state
    return _change(runtime, alert_id, who.name, body, flow_alerts.resolve, background)


# -- many at once: by ids or by group ----------------------------------------------------------

BulkBody = Annotated[
    BulkChangeIn, Body(description='{"ids": [...]} or {"group": "service|condition"}, and an optional note')
]
BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **FORBIDDEN,
    404: {"model": Problem, "description": "An id names no alert: nothing was changed"},
}


def _targets(runtime: App, body: BulkChangeIn) -> list[int]:
    try:
        return flow_alerts.targets(runtime, body.ids or (), body.group)
    except ValueError as exc:
        raise FieldError("group", str(exc)) from None
    except AlertNotFound as missing:
        shown = flow_alerts.id_list(missing.args)
        raise HTTPException(404, f"no alert {shown}: nothing was changed") from None


def _bulk(
    runtime: App,
    body: BulkChangeIn,
    who: str,
    action: Callable[..., BulkChange],
    background: BackgroundTasks,
) -> tuple[BulkChange, dict[str, Any]]:
    done = action(runtime, _targets(runtime, body), who, body.note)
    if done.notices:
        background.add_task(_send, runtime, done.notices)
    return done, {"unchanged": done.unchanged, "not_found": done.not_found, "notices": len(done.notices)}


@router.post(
    "/acknowledge",
    response_model=AcknowledgedMany,
    responses=BULK_RESPONSES,
    summary="Acknowledge many alerts (by ids or a whole group) with one note",
)
def acknowledge_many(
    body: BulkBody, who: Admin, runtime: AppDep, background: BackgroundTasks
) -> AcknowledgedMany:
    done, rest = _bulk(runtime, body, who.name, flow_alerts.acknowledge_many, background)
    return AcknowledgedMany(acknowledged=done.changed, **rest)


@router.post(
    "/resolve",
    response_model=ResolvedMany,
    responses=BULK_RESPONSES,
    summary="Resolve many alerts (by ids or a whole group) with one note",
)
def resolve_many(body: BulkBody, who: Admin, runtime: AppDep, background: BackgroundTasks) -> ResolvedMany:
    done, rest = _bulk(runtime, body, who.name, flow_alerts.resolve_many, background)
    return ResolvedMany(resolved=done.changed, **rest)
