"""The faces and the bed they run on: `healthmon api`, `dashboard`, `demo` and `sandbox`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthmon.config import ConfigError
from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _app, _fail, _require_migrated, err


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


def api_command(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the JSON API (bearer tokens from HEALTHMON_API_TOKENS; the schema at /docs)."""
    from sqlalchemy.exc import OperationalError

    from healthmon.api.server import serve as serve_api

    runtime = _app()
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


def demo(
    api_port: Annotated[int, typer.Option(help="port of the API")] = 8000,
    dashboard_port: Annotated[int, typer.Option(help="port of the dashboard")] = 8501,
    sandbox_port: Annotated[int, typer.Option(help="port of the sandbox (0: any free port)")] = 0,
    prefect_port: Annotated[int, typer.Option(help="port of the Prefect server (0: any free port)")] = 0,
    tenants: Annotated[int, typer.Option(help="sandbox tenants")] = 12,
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps its state")] = Path(".demo"),
    ui: Annotated[bool, typer.Option("--ui/--no-ui", help="start the API and the dashboard")] = True,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="start from an empty store (deletes the demo's own store)")
    ] = False,
    # multiplies every interval; tests use it to go faster
    interval_scale: Annotated[float, typer.Option(hidden=True)] = 1.0,
) -> None:
    """Everything on one machine against the sandbox: a Prefect server and `healthmon serve` on
    short intervals, the API and the dashboard, alerts to a local mail catcher and webhook log.
    A restart keeps the store; --fresh empties it. Ctrl-C stops it all."""
    from healthmon.deployments.demo import DemoOptions, run_demo

    options = DemoOptions(
        api_port=api_port,
        dashboard_port=dashboard_port,
        sandbox_port=sandbox_port,
        prefect_port=prefect_port,
        tenants=tenants,
        data_dir=data_dir,
        ui=ui,
        fresh=fresh,
        interval_scale=interval_scale,
    )
    raise typer.Exit(run_demo(options))


def register_sandbox(app: typer.Typer) -> None:
    # apart from register(): `healthmon --help` lists commands in the order they were added,
    # and sandbox has always come before serve
    app.command()(sandbox)


def register(app: typer.Typer) -> None:
    app.command("api")(api_command)
    app.command()(dashboard)
    app.command()(demo)
