"""`healthmon silences`: silences and maintenance windows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _fail, _who, _with_app, err

if TYPE_CHECKING:
    from healthmon.flows.app import App


silences_app = typer.Typer(
    help="Silences and maintenance windows: checks run, notifications wait.", no_args_is_help=True
)


@silences_app.command("add")
def silences_add(
    service: Annotated[str | None, typer.Option(help="one service (all tenants, with no --tenant)")] = None,
    tenant: Annotated[str | None, typer.Option(help="one tenant (all services, with no --service)")] = None,
    everything: Annotated[
        bool, typer.Option("--everything", help="every service of every tenant and the platform")
    ] = False,
    minutes: Annotated[float, typer.Option(help="how long from now (one-off)")] = 60,
    days: Annotated[float | None, typer.Option(help="recurring: for how many days the window recurs")] = None,
    weekdays: Annotated[str | None, typer.Option(help="recurring: 0=Monday..6=Sunday, e.g. 6 or 5,6")] = None,
    start: Annotated[str | None, typer.Option(help="recurring: window start, HH:MM UTC")] = None,
    duration_min: Annotated[float | None, typer.Option(help="recurring: window length in minutes")] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", "--comment", help="why (required; shown in the list)")
    ] = None,
    by: Annotated[str | None, typer.Option(help="who (default $USER)")] = None,
) -> None:
    """Hold notifications for a service and/or tenant (or, said outright, everything), now or
    in a weekly window."""
    from datetime import UTC, datetime, timedelta

    from healthmon.alerting.silences import (
        SilenceInputError,
        SilenceRequest,
        validate_recurrence,
        validate_silence,
    )
    from healthmon.storage.alerts import add_silence
    from healthmon.storage.tenants import get_tenant

    names = {"service": "--service", "tenant": "--tenant", "everything": "--everything"}
    names |= {"reason": "--reason", "created_by": "--by"}

    def checked(rt: App | None) -> SilenceRequest:
        # the same validation as the API and the dashboard; the tenant is looked up once the
        # store is open, so a missing comment is reported without it
        exists = None if rt is None else (lambda t: get_tenant(rt.engine, t) is not None)
        try:
            return validate_silence(
                service=service,
                tenant=tenant,
                everything=everything,
                reason=reason,
                created_by=by or _who(),
                tenant_exists=exists,
                fields=names,
            )
        except SilenceInputError as exc:
            for field, message in exc.problems:
                err.print(f"[bold red]error:[/] {field}: {message}", highlight=False)
            raise typer.Exit(exit_codes.USAGE) from None

    request = checked(None)
    now = datetime.now(UTC)
    recurrence = None
    if start is not None or duration_min is not None or weekdays is not None:
        try:
            days_list = [int(d) for d in weekdays.split(",")] if weekdays else list(range(7))
        except ValueError:
            _fail(exit_codes.USAGE, "--weekdays: a comma-separated list of 0 (Monday) to 6 (Sunday)")
        recurrence = {"weekdays": days_list, "start": start or "", "duration_min": duration_min}
        try:
            validate_recurrence(recurrence)
        except ValueError as exc:
            _fail(exit_codes.USAGE, str(exc))
        ends = now + timedelta(days=days or 365)
    else:
        if minutes <= 0:
            _fail(exit_codes.USAGE, "--minutes: must be more than 0")
        ends = now + timedelta(minutes=minutes)

    def store(rt: App) -> int:
        checked(rt)
        return add_silence(
            rt.engine,
            service=request.service,
            tenant_id=request.tenant_id,
            starts_at=now,
            ends_at=ends,
            reason=request.reason,
            created_by=request.created_by,
            recurrence=recurrence,
        )

    silence_id = _with_app(store)
    matchers = [request.service, request.tenant_id and f"tenant {request.tenant_id}"]
    scope = "everything" if request.everything else " · ".join(filter(None, matchers))
    err.print(f"silence {silence_id} ({scope}) until {ends:%Y-%m-%d %H:%M} UTC by {request.created_by}")


@silences_app.command("list")
def silences_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Silences that have not ended, oldest first, with who made each and why."""
    import json
    from datetime import UTC, datetime

    from healthmon.alerting.silences import SilenceView
    from healthmon.storage.alerts import list_silences

    now = datetime.now(UTC)
    rows = _with_app(lambda rt: list_silences(rt.engine, active_at=now))
    for row in sorted(rows, key=lambda r: r["id"]):
        view = SilenceView(
            row["id"], row["service"], row["tenant_id"], row["starts_at"], row["ends_at"], row["recurrence"]
        )
        record = {
            "id": view.id,
            "service": view.service,
            "tenant": view.tenant_id,
            "everything": view.service is None and view.tenant_id is None,
            "starts_at": view.starts_at.isoformat(),
            "ends_at": view.ends_at.isoformat(),
            "recurrence": view.recurrence,
            "active_now": view.active(now),
            "created_by": row["created_by"],
            "reason": row["reason"],
        }
        # text values quoted, so a comment with spaces stays one field
        text = " ".join(f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in record.items())
        print(json.dumps(record) if as_json else text)


@silences_app.command("end")
def silences_end(silence_id: int) -> None:
    """End a silence now; alerts it held are sent on the next run if still open."""
    from datetime import UTC, datetime

    from healthmon.storage.alerts import end_silence

    if not _with_app(lambda rt: end_silence(rt.engine, silence_id, datetime.now(UTC))):
        _fail(exit_codes.USAGE, f"no active silence {silence_id}")
    err.print(f"silence {silence_id} ended")


def register(app: typer.Typer) -> None:
    app.add_typer(silences_app, name="silences")
