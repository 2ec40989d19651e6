"""`healthmon config`: healthmon's configuration."""

from __future__ import annotations

from typing import Annotated

import typer

config_app = typer.Typer(help="healthmon's configuration.", no_args_is_help=True)


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


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
