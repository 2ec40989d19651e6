"""The `healthmon` command, one module per command group (see app.py); `app` and `main` are
what the console script, `python -m healthmon.deployments.cli` and the tests use."""

from healthmon.deployments.cli.app import app, main

__all__ = ["app", "main"]
