"""The `healthmon` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from healthmon.config import ConfigError
from healthmon.deployments import exit_codes
from healthmon.deployments.output import print_json_lines, print_table
from healthmon.flows.tenant_input import TenantRow
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS, Status, Tier

if TYPE_CHECKING:
    from healthmon.flows.runtime import Runtime

def store_failure(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and one line for an error of healthmon's own store, or None for any other
    error. One mapping for every command: unreachable is 3; a store without the tables is a
    usage error (2) that says what to run."""
    from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

    if not isinstance(exc, OperationalError | InterfaceError | ProgrammingError):
        return None
    first = (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]
    if "no such table" in first or ("relation" in first and "does not exist" in first):
        return exit_codes.USAGE, "the database is not migrated: run `healthmon db upgrade` first"
    return exit_codes.STORAGE, f"healthmon's database cannot be reached or failed: {first}"


class _Commands(TyperGroup):
    """Every command's errors become its documented exit code and one line, never a traceback:
    bad configuration 2 (naming the key), healthmon's store 3."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _fail(exit_codes.USAGE, str(exc))
        except Exception as exc:
            mapped = store_failure(exc)
            if mapped is None:
                raise
            _fail(*mapped)


app = typer.Typer(
    cls=_Commands,
    help="healthmon: health monitoring for the commerce platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="healthmon's own database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# one message, one line: wrapped lines break log readers and grep
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _runtime() -> Runtime:
    from healthmon.flows.runtime import build_runtime

    try:
        return build_runtime()
    except ConfigError as exc:
        _fail(exit_codes.USAGE, str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to HEALTHMON_DATABASE_URL (or the embedded SQLite file)."""
    from sqlalchemy.exc import OperationalError

    from healthmon.storage.migrate import current_revision, upgrade

    runtime = _runtime()
    try:
        created = upgrade(runtime.engine)
        revision = current_revision(runtime.engine)
    except OperationalError as exc:
        _fail(exit_codes.STORAGE, f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        runtime.close()
    err.print(
        f"database at revision {revision}" + (f"; created {len(created)} partitions" if created else "")
    )


def _tiers_for(tier: str | None, service: str | None) -> list[Tier]:
    if tier is not None:
        try:
            chosen = Tier(tier)
        except ValueError:
            _fail(
                exit_codes.USAGE, f"--tier: unknown tier {tier!r} (one of {', '.join(t.value for t in Tier)})"
            )
        if service is not None and MONITORS[service].tier is not chosen:
            _fail(
                exit_codes.USAGE,
                f"--service: {service} runs in the {MONITORS[service].tier.value} tier, not {chosen.value}",
            )
        return [chosen]
    if service is not None:
        return [MONITORS[service].tier]
    return list(TIERS)


def _require_migrated(runtime: Runtime) -> None:
    from healthmon.storage.migrate import current_revision, head_revision

    if current_revision(runtime.engine) != head_revision():
        _fail(exit_codes.USAGE, "the database is not migrated: run `healthmon db upgrade` first")


@app.command()
def check(
    tier: Annotated[str | None, typer.Option(help="critical, core, integration or external")] = None,
    service: Annotated[str | None, typer.Option(help="one service, e.g. postgres")] = None,
    tenant: Annotated[str | None, typer.Option(help="one tenant id (per-tenant services)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Run checks now (whatever the last run), record them and print the results.

    Exit code: 0 all healthy, 1 something not healthy, 2 bad usage or configuration,
    3 healthmon's own database unreachable.
    """
    if service is not None and service not in MONITORS:
        _fail(
            exit_codes.USAGE, f"--service: unknown service {service!r} (known: {', '.join(sorted(MONITORS))})"
        )
    tiers = _tiers_for(tier, service)
    runtime = _runtime()
    from healthmon.flows.runtime import use_runtime
    from healthmon.storage.results import run_results

    try:  # the store's errors are mapped to exit 3 (or 2) for every command: _Commands
        with use_runtime(runtime):
            _require_migrated(runtime)
            if tenant is not None:
                _require_tenant(runtime, tenant, tiers, service)
            run_ids = asyncio.run(_run_tiers(tiers, service, tenant))
            results = run_results(runtime.engine, run_ids)
    finally:
        runtime.close()
    if as_json:
        print_json_lines(results)
    else:
        print_table(results)
        if not results:
            err.print("nothing to check: no service of that selection is configured (see HEALTHMON_CONFIG)")
    bad = any(r.status is not Status.HEALTHY for r in results)
    raise typer.Exit(exit_codes.NOT_HEALTHY if bad else exit_codes.OK)


def _require_tenant(runtime: Runtime, tenant: str, tiers: list[Tier], service: str | None) -> None:
    """`--tenant` names an enabled tenant with an integration this check covers, or exit 2:
    a check that silently checks nothing reads as "all healthy"."""
    from healthmon.storage.tenants import get_tenant

    found = get_tenant(runtime.engine, tenant)
    if found is None:
        _fail(exit_codes.USAGE, f"--tenant: no tenant {tenant!r} (see `healthmon tenants list`)")
    if not found.enabled:
        _fail(exit_codes.USAGE, f"--tenant: tenant {tenant!r} is disabled, so it is not checked")
    covered = [
        name
        for name, monitor in MONITORS.items()
        if monitor.per_tenant and monitor.tier in tiers and (service is None or name == service)
    ]
    if not set(covered) & set(found.integrations):
        has = ", ".join(sorted(found.integrations)) or "none"
        _fail(
            exit_codes.USAGE,
            f"--tenant: {tenant!r} has no integration this check covers ({', '.join(covered) or 'none'}); "
            f"its integrations: {has}",
        )


async def _run_tiers(tiers: list[Tier], service: str | None, tenant: str | None) -> list[str]:
    from healthmon.flows.pipeline import execute_tier
    from healthmon.storage.tier_runs import MANUAL

    services = [service] if service else None
    run_ids = []
    for tier in tiers:
        if os.environ.get("PREFECT_API_URL"):
            # with a Prefect server configured, a manual check is a flow run like a scheduled one
            from healthmon.flows.tier_run import tier_check

            summary = await tier_check(tier.value, services, tenant, True, MANUAL)
            run_ids.append(summary["run_id"])
        else:
            run_ids.append((await execute_tier(tier.value, services, tenant, True, MANUAL)).run_id)
    return run_ids


@app.command()
def monitors(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every monitor: its tier, whether it runs per tenant, and the metrics it reports."""
    import json

    from rich.table import Table

    rows = sorted(MONITORS.values(), key=lambda m: (list(Tier).index(m.tier), m.service))
    if as_json:
        for m in rows:
            print(
                json.dumps(
                    {
                        "service": m.service,
                        "tier": m.tier.value,
                        "per_tenant": m.per_tenant,
                        "metrics": list(m.metrics),
                    }
                )
            )
        return
    table = Table(title=f"{len(rows)} monitors")
    for column in ("service", "tier", "per tenant", "metrics"):
        table.add_column(column)
    for m in rows:
        table.add_row(m.service, m.tier.value, "yes" if m.per_tenant else "no", ", ".join(m.metrics))
    Console().print(table)


tenants_app = typer.Typer(help="Tenants and their integration credentials.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")


def _writable_runtime() -> Runtime:
    runtime = _runtime()
    if runtime.cipher is None:
        runtime.close()
        _fail(exit_codes.USAGE, "HEALTHMON_SECRET_KEY: not set; tenant credentials are encrypted with it")
    return runtime


def _store_tenants(rows: list[TenantRow]) -> int:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from healthmon.storage.tenants import upsert_tenants

    runtime = _writable_runtime()
    try:
        assert runtime.cipher is not None
        return upsert_tenants(runtime.engine, runtime.cipher, rows)
    except (OperationalError, ProgrammingError) as exc:
        _fail(exit_codes.STORAGE, f"healthmon's database failed: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        runtime.close()


@tenants_app.command("add")
def tenants_add(
    tenant_id: Annotated[str, typer.Argument(help="lowercase id, e.g. acme")],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    integration: Annotated[str | None, typer.Option(help="e.g. shopify")] = None,
    settings: Annotated[
        list[str] | None, typer.Option("--set", help="key=value, or key=env:VAR for secrets")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="stored but not checked")] = False,
) -> None:
    """Add a tenant, or add/replace one integration of it (its other integrations are kept)."""
    from healthmon.flows.tenant_input import TenantInputError, parse_assignments, tenant_row
    from healthmon.monitors.tenant_settings import per_tenant_services
    from healthmon.storage.tenants import set_integration

    def argument(key: str) -> str:
        # the shared validation names keys of a tenant mapping; say which argument holds each
        if key == "tenant.id":
            return "TENANT_ID"
        if key == "tenant.name":
            return "--name"
        if integration is not None and integration not in per_tenant_services():
            return "--integration"
        setting = key.removeprefix(f"tenant.integrations.{integration}").lstrip(".")
        return f"--set {setting}" if setting else "--set"

    try:
        values = parse_assignments(settings or [])
        if values and integration is None:
            raise ConfigError("--integration", "needed with --set")
        raw = {"id": tenant_id, "name": name, "integrations": {integration: values} if integration else {}}
        row = tenant_row(raw, "tenant")
    except TenantInputError as exc:
        for problem in exc.problems:
            err.print(f"[bold red]error:[/] {argument(problem.key)}: {problem.message}", highlight=False)
        raise typer.Exit(exit_codes.USAGE) from None
    except ConfigError as exc:
        _fail(exit_codes.USAGE, str(exc))
    runtime = _writable_runtime()
    try:
        assert runtime.cipher is not None
        given_name = row[1] if name is not None else None  # None keeps a stored tenant's name
        set_integration(
            runtime.engine, runtime.cipher, row[0], given_name, not disabled, next(iter(row[3].items()), None)
        )
    finally:
        runtime.close()
    err.print(f"tenant {row[0]} saved")


@tenants_app.command("import")
def tenants_import(path: Annotated[Path, typer.Argument(help="YAML with a list under 'tenants'")]) -> None:
    """Add or replace many tenants from a file; values may reference the environment as ${NAME}.
    The whole file is checked first: any bad row lists every problem and imports nothing."""
    from healthmon.flows.tenant_input import TenantFileError, read_tenants_file

    try:
        rows = read_tenants_file(path)
    except TenantFileError as exc:
        for line in exc.problems:
            err.print(f"[bold red]error:[/] {line}", highlight=False)
        _fail(exit_codes.USAGE, str(exc))
    count = _store_tenants(rows)
    err.print(f"imported {count} tenants")


@tenants_app.command("list")
def tenants_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tenants and which integrations they have (never their credentials)."""
    import json

    from rich.table import Table

    from healthmon.storage.tenants import list_tenants

    runtime = _runtime()
    try:
        tenants = list_tenants(runtime.engine)
    finally:
        runtime.close()
    if as_json:
        for t in tenants:
            print(
                json.dumps({"id": t.id, "name": t.name, "enabled": t.enabled, "integrations": t.integrations})
            )
        return
    table = Table(title=f"{len(tenants)} tenants")
    for column in ("id", "name", "enabled", "integrations"):
        table.add_column(column)
    for t in tenants:
        table.add_row(t.id, t.name, "yes" if t.enabled else "no", ", ".join(sorted(t.integrations)))
    Console().print(table)


@tenants_app.command("remove")
def tenants_remove(tenant_id: str) -> None:
    """Delete a tenant and its credentials."""
    from healthmon.storage.tenants import remove_tenant

    runtime = _runtime()
    try:
        removed = remove_tenant(runtime.engine, tenant_id)
    finally:
        runtime.close()
    if not removed:
        _fail(exit_codes.USAGE, f"no tenant {tenant_id!r}")
    err.print(f"tenant {tenant_id} removed")


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8765,
    tenants: Annotated[int, typer.Option(help="how many sandbox tenants")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the generated credentials")] = 0,
    config_out: Annotated[
        Path | None, typer.Option(help="write healthmon.yaml and tenants.yaml here")
    ] = None,
) -> None:
    """Serve local imitations of every upstream API (for tests, benchmarks and the demo)."""
    from healthmon.sandbox import SandboxState, write_bed
    from healthmon.sandbox.server import run

    if tenants < 0:
        _fail(exit_codes.USAGE, "--tenants: must be 0 or more")
    if config_out is not None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        config_path, tenants_path = write_bed(
            config_out, f"http://{shown}:{port}", SandboxState.generate(tenants, seed)
        )
        err.print(f"wrote {config_path} and {tenants_path}")
    err.print(f"sandbox on http://{host}:{port} with {tenants} tenants (Ctrl-C stops)")
    run(host, port, tenants, seed=seed)


alerts_app = typer.Typer(help="Alerts: list, acknowledge, resolve, deliver.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


def _with_runtime(work: Callable[[Runtime], T]) -> T:
    """`work` with the process runtime installed; the store's errors become exit codes in
    `_Commands`, like every command's."""
    from healthmon.flows.runtime import use_runtime

    runtime = _runtime()
    try:
        with use_runtime(runtime):
            return work(runtime)
    finally:
        runtime.close()


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        list[str] | None, typer.Option(help="open, acknowledged, resolved (repeatable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Alerts, newest first (default: open and acknowledged)."""
    import json

    from rich.table import Table

    from healthmon.storage.alerts import list_alerts

    chosen = status or ["open", "acknowledged"]
    bad = sorted(set(chosen) - {"open", "acknowledged", "resolved"})
    if bad:
        _fail(exit_codes.USAGE, f"--status: unknown status {bad[0]!r} (open, acknowledged, resolved)")
    rows = _with_runtime(lambda rt: list_alerts(rt.engine, chosen))
    if as_json:
        for row in rows:
            print(json.dumps(row, default=str))
        return
    table = Table(title=f"{len(rows)} alerts")
    for column in ("id", "severity", "status", "title", "count", "since", "last seen", "held"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["severity"],
            r["status"],
            r["title"],
            str(r["count"]),
            f"{r['first_seen']:%Y-%m-%d %H:%M}",
            f"{r['last_seen']:%Y-%m-%d %H:%M}",
            r["held"] or "",
        )
    Console().print(table)


def _change(alert_id: int, who: str, action: str) -> None:
    from healthmon.flows import alerts as flow_alerts

    func = flow_alerts.acknowledge if action == "ack" else flow_alerts.resolve
    try:
        sent = _with_runtime(lambda rt: asyncio.run(flow_alerts.change_alert(alert_id, who, func)))
    except flow_alerts.AlertNotFound:
        _fail(exit_codes.USAGE, f"no alert {alert_id}")
    verb = "acknowledged" if action == "ack" else "resolved"
    err.print(f"alert {alert_id} {verb} by {who}; {len(sent)} notices queued")


def _who() -> str:
    return os.environ.get("USER") or "cli"


@alerts_app.command("ack")
def alerts_ack(
    alert_id: int, by: Annotated[str | None, typer.Option(help="who (default $USER)")] = None
) -> None:
    """Acknowledge: stops re-notification; PagerDuty and Slack (bot) are told."""
    _change(alert_id, by or _who(), "ack")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: int, by: Annotated[str | None, typer.Option(help="who (default $USER)")] = None
) -> None:
    """Resolve by hand; the channels that got the alert get a resolved notice."""
    _change(alert_id, by or _who(), "resolve")


@alerts_app.command("deliver")
def alerts_deliver(
    now: Annotated[bool, typer.Option("--now", help="ignore the retry backoff")] = False,
) -> None:
    """Send pending notifications once (what the delivery flow does every minute).
    Exit 1 when rows are still pending afterwards (retrying, waiting behind an earlier row, or
    leased by another sender) or a row failed for good in this run."""
    from datetime import UTC, datetime

    from healthmon.alerting.delivery import DeliveryReport
    from healthmon.flows.alerts import deliver_pending
    from healthmon.storage.alerts import PendingCount, count_pending

    def work(rt: Runtime) -> tuple[DeliveryReport, PendingCount]:
        report = asyncio.run(deliver_pending(ignore_backoff=now))
        return report, count_pending(rt.engine, datetime.now(UTC))

    report, left = _with_runtime(work)
    line = f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}"
    if report.skipped:
        line += f" (and {report.skipped} acknowledge/resolve not sent: their trigger failed)"
    if left.pending:
        line += f"; {left.pending} still pending"
        if left.leased and left.leased_until is not None:
            line += f" ({left.leased} leased by another sender until {left.leased_until:%H:%M:%S} UTC)"
    else:
        line += "; nothing pending"
    err.print(line, highlight=False)
    if left.pending or report.failed or report.skipped:
        raise typer.Exit(exit_codes.NOT_HEALTHY)


silences_app = typer.Typer(
    help="Silences and maintenance windows: checks run, notifications wait.", no_args_is_help=True
)
app.add_typer(silences_app, name="silences")


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

    def checked(rt: Runtime | None) -> SilenceRequest:
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

    def store(rt: Runtime) -> int:
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

    silence_id = _with_runtime(store)
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
    rows = _with_runtime(lambda rt: list_silences(rt.engine, active_at=now))
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

    if not _with_runtime(lambda rt: end_silence(rt.engine, silence_id, datetime.now(UTC))):
        _fail(exit_codes.USAGE, f"no active silence {silence_id}")
    err.print(f"silence {silence_id} ended")


@app.command()
def serve(
    prefect_port: Annotated[
        int, typer.Option(help="port for the Prefect server started when none is set")
    ] = 4200,
    interval_scale: Annotated[
        float, typer.Option(help="multiply every schedule interval (e.g. 0.1 for a quick demo)")
    ] = 1.0,
) -> None:
    """Run every tier on its schedule, the delivery retries every minute and retention daily.

    Uses PREFECT_API_URL when set; otherwise starts `prefect server` on loopback (its state
    under HEALTHMON_DATA_DIR/prefect). Retention runs once at start, so a box that was down
    catches up.
    """
    from healthmon.deployments.serve import api_healthy, start_prefect_server

    runtime = _runtime()
    _require_migrated(runtime)
    server = None
    halt_watchdog: Callable[[], None] | None = None
    api = os.environ.get("PREFECT_API_URL")
    if api:
        if not api_healthy(api):
            _fail(exit_codes.USAGE, f"PREFECT_API_URL: no Prefect API answers at {api}")
    else:
        try:
            server, api = start_prefect_server(runtime.settings.data_dir / "prefect", prefect_port)
        except RuntimeError as exc:
            _fail(exit_codes.USAGE, str(exc))
        os.environ["PREFECT_API_URL"] = api
    err.print(f"Prefect API at {api}")
    err.print(f"Prefect UI: {api.removesuffix('/').removesuffix('/api')}")
    try:
        from healthmon.storage.retention import apply_retention

        cfg = runtime.config.retention
        caught_up = apply_retention(runtime.engine, cfg.history_days, cfg.alerts_days)
        future = caught_up.future_rows_deleted
        err.print(
            f"retention: dropped {len(caught_up.partitions_dropped)} partitions, "
            f"deleted {caught_up.history_rows_deleted} history rows"
            + (f" ({future} dated in the future)" if future else "")
            + f" and {caught_up.alerts_deleted} alerts"
        )
        runtime.close()
        from prefect import serve as prefect_serve

        from healthmon.deployments.serve import build_deployments, start_watchdog, stop_server

        # the watchdog does not wait on Prefect: it looks at the store on its own clock
        halt_watchdog = start_watchdog(runtime.settings, runtime.config, interval_scale)
        # Prefect's runner handles SIGTERM itself: it cancels runs in progress and returns
        prefect_serve(*build_deployments(interval_scale))
    except KeyboardInterrupt:
        pass
    finally:
        err.print("stopping")
        if halt_watchdog is not None:
            halt_watchdog()
        if server is not None:
            stop_server(server)


@app.command()
def watchdog(
    once: Annotated[
        bool, typer.Option("--once", help="look once and exit: 0 fresh, 1 stale, 3 store unreachable")
    ] = False,
    interval_scale: Annotated[
        float, typer.Option(help="the --interval-scale that `healthmon serve` runs with")
    ] = 1.0,
) -> None:
    """Alert when a tier goes stale: no completed run, or targets without a fresh result, for
    `watchdog.stale_after` intervals. Runs outside Prefect; keep it alive where serve is not."""
    from healthmon.flows.watchdog import tier_intervals, watch_forever, watch_once

    if interval_scale <= 0:
        _fail(exit_codes.USAGE, "--interval-scale: must be more than 0")
    intervals = tier_intervals(interval_scale)
    if once:
        report = _with_runtime(lambda rt: asyncio.run(watch_once(rt, intervals)))
        err.print(report.line(), highlight=False)
        raise typer.Exit(exit_codes.NOT_HEALTHY if report.stale else exit_codes.OK)
    runtime = _runtime()
    err.print(f"watchdog: looking every {runtime.config.watchdog.check_every_s:g} s (Ctrl-C stops)")

    async def loop() -> None:
        import signal

        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await watch_forever(runtime, intervals, stop)

    try:
        asyncio.run(loop())
    finally:
        runtime.close()


@app.command("api")
def api_command(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the JSON API (bearer tokens from HEALTHMON_API_TOKENS; the schema at /docs)."""
    from sqlalchemy.exc import OperationalError

    from healthmon.api.server import serve as serve_api

    runtime = _runtime()
    try:
        _require_migrated(runtime)
    except OperationalError as exc:
        _fail(exit_codes.STORAGE, f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
    finally:
        runtime.close()
    try:
        serve_api(host, port)
    except ConfigError as exc:
        _fail(exit_codes.USAGE, str(exc))


@app.command()
def dashboard(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8501,
    hash_password: Annotated[
        bool, typer.Option("--hash-password", help="print a hash for HEALTHMON_DASHBOARD_PASSWORD_HASH")
    ] = False,
) -> None:
    """Serve the Streamlit dashboard (login with HEALTHMON_DASHBOARD_PASSWORD_HASH; without it,
    only on a loopback address)."""
    if hash_password:
        import getpass

        from healthmon.dashboard.auth import hash_password as make_hash

        first = getpass.getpass("password: ")
        if len(first) < 8:
            _fail(exit_codes.USAGE, "password: use at least 8 characters")
        if getpass.getpass("again: ") != first:
            _fail(exit_codes.USAGE, "password: the two entries differ")
        typer.echo(make_hash(first))
        return
    from healthmon.dashboard.launch import serve as serve_dashboard

    serve_dashboard(host, port)


@app.command()
def demo(
    api_port: Annotated[int, typer.Option(help="port of the API")] = 8000,
    dashboard_port: Annotated[int, typer.Option(help="port of the dashboard")] = 8501,
    sandbox_port: Annotated[int, typer.Option(help="port of the sandbox (0: any free port)")] = 0,
    tenants: Annotated[int, typer.Option(help="sandbox tenants")] = 12,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its state")] = Path(".demo"),
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="start the API and the dashboard")] = True,
) -> None:
    """Everything on one machine against the sandbox: tiers on short intervals, the API and
    the dashboard, alerts to a local mail catcher and webhook log. Ctrl-C stops it all."""
    from healthmon.deployments.demo import run_demo

    raise typer.Exit(
        run_demo(
            api_port=api_port,
            dashboard_port=dashboard_port,
            sandbox_port=sandbox_port,
            tenants=tenants,
            data_dir=data_dir,
            ui=ui,
        )
    )


config_app = typer.Typer(help="healthmon's configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="also check the tenants in healthmon's store")
    ] = True,
) -> None:
    """Validate HEALTHMON_*, the config file, the environment it references and the stored
    tenants; print every problem. Writes nothing.

    Exit code: 0 no problem, 2 any problem, 3 healthmon's own database unreachable.
    """
    from healthmon.deployments.config_check import run_config_check

    raise typer.Exit(run_config_check(store=store))


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    app()


if __name__ == "__main__":
    main()
