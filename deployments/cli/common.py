"""What every command shares: the error console, `_fail` and building the App."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console

from healthmon.config import ConfigError
from healthmon.deployments import exit_codes

if TYPE_CHECKING:
    from healthmon.flows.app import App

# one message, one line: wrapped lines break log readers and grep
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _fail(code: int, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _app() -> App:
    from healthmon.flows.app import build_app

    try:
        return build_app()
    except ConfigError as exc:
        _fail(exit_codes.USAGE, str(exc))


def _require_migrated(runtime: App) -> None:
    from healthmon.storage.migrate import current_revision, head_revision

    if current_revision(runtime.engine) != head_revision():
        _fail(exit_codes.USAGE, "the database is not migrated: run `healthmon db upgrade` first")


def _with_app(work: Callable[[App], T]) -> T:
    """`work` on an App built for it and closed after; the store's errors become exit codes in
    `_Commands`, like every command's."""
    app = _app()
    try:
        return work(app)
    finally:
        app.close()


def _who() -> str:
    return os.environ.get("USER") or "cli"
