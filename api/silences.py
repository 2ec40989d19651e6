"""Silences and maintenance windows: checks still run and are recorded; notifications wait.

The same semantics as `healthmon silences add|list|end`: one-off (now, or from starts_at, for
a duration or until ends_at), or a weekly window (`recurrence`) that recurs between starts_at
and ends_at (default: a year).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from healthmon.alerting.silences import SilenceInputError, SilenceView, validate_recurrence, validate_silence
from healthmon.api.auth import Admin, caller
from healthmon.api.deps import AppDep
from healthmon.api.errors import COMMON_RESPONSES, FORBIDDEN, FieldError, not_found
from healthmon.api.inputs import MAX_ID, invalid
from healthmon.api.schemas import SilenceIn, SilenceList, SilenceOut
from healthmon.flows.app import App
from healthmon.storage.alerts import add_silence, end_silence, list_silences
from healthmon.storage.tenants import get_tenant

router = APIRouter(prefix="/api/silences", tags=["silences"], responses=COMMON_RESPONSES)

#: a recurring window without an end recurs for this long, as on the command line
RECURRING_DEFAULT = timedelta(days=365)


def _out(row: dict[str, Any], now: datetime) -> SilenceOut:
    view = SilenceView(
        row["id"],
        row["service"],
        row["tenant_id"],
        row["starts_at"],
        row["ends_at"],
        row["recurrence"],
        row["ended_at"],
    )
    everything = row["service"] is None and row["tenant_id"] is None
    return SilenceOut.model_validate(
        {**row, "tenant": row["tenant_id"], "everything": everything, "active_now": view.active(now)}
    )


def _one(runtime: App, silence_id: int, now: datetime) -> SilenceOut | None:
    for row in list_silences(runtime.engine):
        if row["id"] == silence_id:
            return _out(row, now)
    return None


def _window(body: SilenceIn, now: datetime) -> tuple[datetime, datetime]:
    starts = body.starts_at or now
    if body.ends_at is not None and body.duration_min is not None:
        raise FieldError("duration_min", "give ends_at or duration_min, not both")
    if body.ends_at is not None:
        ends = body.ends_at
    elif body.duration_min is not None:
        ends = starts + timedelta(minutes=body.duration_min)
    elif body.recurrence is not None:
        ends = starts + RECURRING_DEFAULT
    else:
        raise FieldError("ends_at", "give ends_at or duration_min")
    if ends <= starts:
        raise FieldError("ends_at", "must be after starts_at")
    if ends <= now:
        raise FieldError("ends_at", "must be in the future: this silence would never hold anything")
    return starts, ends


@router.post(
    "",
    status_code=201,
    response_model=SilenceOut,
    responses=FORBIDDEN,
    summary="Hold notifications for a service and/or tenant (or everything), now or in a weekly window",
)
def create_silence(body: SilenceIn, who: Admin, runtime: AppDep) -> SilenceOut:
    try:
        # the same validation as `healthmon silences add` and the dashboard; the author is the token's name
        request = validate_silence(
            service=body.service,
            tenant=body.tenant,
            everything=body.everything,
            reason=body.reason,
            created_by=who.name,
            tenant_exists=lambda t: get_tenant(runtime.engine, t) is not None,
        )
    except SilenceInputError as exc:
        raise invalid(exc.problems) from None
    now = datetime.now(UTC)
    starts, ends = _window(body, now)
    recurrence = body.recurrence.model_dump() if body.recurrence else None
    if recurrence is not None:
        try:
            validate_recurrence(recurrence)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise FieldError(field, message) from None
    silence_id = add_silence(
        runtime.engine,
        service=request.service,
        tenant_id=request.tenant_id,
        starts_at=starts,
        ends_at=ends,
        reason=request.reason,
        created_by=request.created_by,
        recurrence=recurrence,
    )
    created = _one(runtime, silence_id, now)
    assert created is not None
    return created


@router.get("", response_model=SilenceList, dependencies=[Depends(caller)], summary="Silences, newest first")
def all_silences(
    runtime: AppDep,
    active: Annotated[bool, Query(description="only those not ended or expired")] = False,
) -> SilenceList:
    now = datetime.now(UTC)
    rows = list_silences(runtime.engine, active_at=now if active else None)
    return SilenceList(silences=[_out(r, now) for r in rows])


@router.post(
    "/{silence_id}/end",
    response_model=SilenceOut,
    responses={**FORBIDDEN, **not_found("No silence with this id that has not ended")},
    summary="End a silence now; alerts it held are sent on the next run if still open",
)
def end(silence_id: Annotated[int, Path(ge=1, le=MAX_ID)], who: Admin, runtime: AppDep) -> SilenceOut:
    now = datetime.now(UTC)
    if not end_silence(runtime.engine, silence_id, now):
        raise HTTPException(404, f"no silence {silence_id} that has not ended")
    ended = _one(runtime, silence_id, now)
    assert ended is not None
    return ended
