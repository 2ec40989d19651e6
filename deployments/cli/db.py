"""`healthmon db`: healthmon's own database."""

from __future__ import annotations

import typer

from healthmon.deployments import exit_codes
from healthmon.deployments.cli.common import _app, _fail, err

db_app = typer.Typer(help="healthmon's own database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to HEALTHMON_DATABASE_URL (or the embedded SQLite file)."""
    from sqlalchemy.exc import OperationalError

    from healthmon.storage.migrate import current_revision, upgrade

    runtime = _app()
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


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
