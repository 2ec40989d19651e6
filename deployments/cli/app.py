"""The `healthmon` app: every command group registered on it, and the one mapping from errors
to exit codes that all of them share."""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from healthmon.config import ConfigError
from healthmon.deployments import exit_codes
from healthmon.deployments.cli import alerts, check, config, db, faces, monitors, serving, silences, tenants
from healthmon.deployments.cli.common import _fail


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


def _register(app: typer.Typer) -> None:
    """Every command group on `app`, in the order `healthmon --help` has always listed them."""
    db.register(app)
    check.register(app)
    monitors.register(app)
    tenants.register(app)
    faces.register_sandbox(app)
    alerts.register(app)
    silences.register(app)
    serving.register(app)
    faces.register(app)
    config.register(app)


_register(app)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    app()
