"""`healthmon tenants`: tenants and their integration credentials."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from healthmon.config import ConfigError
from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _app, _fail, err
from healthmon.flows.tenant_input import TenantRow

if TYPE_CHECKING:
    from healthmon.flows.app import App


tenants_app = typer.Typer(help="Tenants and their integration credentials.", no_args_is_help=True)


def _writable_runtime() -> App:
    runtime = _app()
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

    runtime = _app()
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

    runtime = _app()
    try:
        removed = remove_tenant(runtime.engine, tenant_id)
    finally:
        runtime.close()
    if not removed:
        _fail(exit_codes.USAGE, f"no tenant {tenant_id!r}")
    err.print(f"tenant {tenant_id} removed")


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
