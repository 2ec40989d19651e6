"""The `healthmon` command."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from config import ConfigError
from deployments import exit_codes
from deployments.output import print_json_lines, print_table
from monitors.registry import MONITORS
from monitors.result import TIERS, Status, Tier

app = typer.Typer(
    help="healthmon: health monitoring for the commerce platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="healthmon's own database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

err = Console(stderr=True)


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _runtime():  # type: ignore[no-untyped-def]
    from flows.runtime import build_runtime

    try:
        return build_runtime()
    except ConfigError as exc:
        _fail(exit_codes.USAGE, str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to HEALTHMON_DATABASE_URL (or the embedded SQLite file)."""
    from sqlalchemy.exc import OperationalError

    from storage.migrate import current_revision, upgrade

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
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from flows.runtime import use_runtime
    from storage.migrate import current_revision, head_revision
    from storage.results import run_results

    try:
        with use_runtime(runtime):
            if current_revision(runtime.engine) != head_revision():
                _fail(exit_codes.USAGE, "the database is not migrated: run `healthmon db upgrade` first")
            run_ids = asyncio.run(_run_tiers(tiers, service, tenant))
            results = run_results(runtime.engine, run_ids)
    except (OperationalError, ProgrammingError) as exc:
        _fail(exit_codes.STORAGE, f"healthmon's database failed: {str(exc.orig).strip().splitlines()[0]}")
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


async def _run_tiers(tiers: list[Tier], service: str | None, tenant: str | None) -> list[str]:
    from flows.pipeline import execute_tier

    services = [service] if service else None
    run_ids = []
    for tier in tiers:
        if os.environ.get("PREFECT_API_URL"):
            # with a Prefect server configured, a manual check is a flow run like a scheduled one
            from flows.tier_run import tier_check

            summary = await tier_check(tier.value, services, tenant, True, "manual")
            run_ids.append(summary["run_id"])
        else:
            run_ids.append((await execute_tier(tier.value, services, tenant, True, "manual")).run_id)
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


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    app()


if __name__ == "__main__":
    main()
