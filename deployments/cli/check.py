"""`healthmon check`: run checks now."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Annotated

import typer

from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _app, _fail, _require_migrated, err
from healthmon.deployments.output import print_json_lines, print_table
from healthmon.monitors.registry import MONITORS
from healthmon.monitors.result import TIERS, Status, Tier

if TYPE_CHECKING:
    from healthmon.flows.app import App


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
    app = _app()
    from healthmon.flows.event_loop import use_uvloop
    from healthmon.storage.results import run_results

    try:  # the store's errors are mapped to exit 3 (or 2) for every command: _Commands
        _require_migrated(app)
        if tenant is not None:
            _require_tenant(app, tenant, tiers, service)
        use_uvloop()  # the tier runs' loop: uvloop when installed (flows/event_loop.py)
        run_ids = asyncio.run(_run_tiers(app, tiers, service, tenant))
        results = run_results(app.engine, run_ids)
    finally:
        app.close()
    if as_json:
        print_json_lines(results)
    else:
        print_table(results)
        if not results:
            err.print("nothing to check: no service of that selection is configured (see HEALTHMON_CONFIG)")
    bad = any(r.status is not Status.HEALTHY for r in results)
    raise typer.Exit(exit_codes.NOT_HEALTHY if bad else exit_codes.OK)


def _require_tenant(runtime: App, tenant: str, tiers: list[Tier], service: str | None) -> None:
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


async def _run_tiers(app: App, tiers: list[Tier], service: str | None, tenant: str | None) -> list[str]:
    """With a Prefect server configured, a manual check is a flow run like a scheduled one;
    without, the same pipeline runs its steps directly (chosen here, once)."""
    from healthmon.flows.pipeline import run_tier
    from healthmon.flows.refs import TierRequest
    from healthmon.storage.tier_runs import MANUAL

    services = [service] if service else None
    run_ids = []
    for tier in tiers:
        if os.environ.get("PREFECT_API_URL"):
            from healthmon.flows.app import hosting
            from healthmon.flows.tier_run import tier_check

            with hosting(app):
                summary = await tier_check(tier, services, tenant, True, MANUAL)
            run_ids.append(summary["run_id"])
        else:
            request = TierRequest(tier, tuple(services) if services else None, tenant, True, MANUAL)
            run_ids.append((await run_tier(app, request)).run_id)
    return run_ids


def register(app: typer.Typer) -> None:
    app.command()(check)
