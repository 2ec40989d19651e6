"""Commands as a user runs them: a real child process, its output captured for the assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEALTHMON = [sys.executable, "-m", "healthmon.deployments.cli"]


def run(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`argv` with exactly `env`. A non-zero exit is returned, not raised: the tests assert on it,
    and the timeout turns a hung command into a failure instead of a hung suite."""
    return subprocess.run(
        list(argv), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def healthmon(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 60,
    cwd: Path | None = None,
    base: Mapping[str, str] = os.environ,
) -> subprocess.CompletedProcess[str]:
    """`healthmon <args>` with `env` over `base`, this process's environment unless a test needs
    one without the variables of the shell that runs the suite."""
    return run([*HEALTHMON, *args], env={**base, **env}, timeout=timeout, cwd=cwd)


def json_lines(done: subprocess.CompletedProcess[str]) -> list[Any]:
    """What a `--json` command printed: one JSON document a line."""
    return [json.loads(line) for line in done.stdout.splitlines()]


def healthmon_in_process(
    *args: str, env: Mapping[str, str], base: Mapping[str, str] = os.environ
) -> subprocess.CompletedProcess[str]:
    """`healthmon <args>` run in this process by Typer's test runner, with exactly `env` over
    `base` as its environment, answered like `healthmon()`: for the many refusal cases, where
    a child process would cost ~2.3 s of CPU each to import what the refusal never reaches.
    An exception the command let through is a traceback on stderr and exit 1, as in a child
    process, so "no traceback" stays an assertion that can fail. Commands that start servers,
    handle signals or depend on a fresh process use `healthmon()`."""
    import asyncio
    import traceback

    from typer.testing import CliRunner

    from healthmon.deployments.cli import app

    wanted = {**base, **env}
    # the runner sets these for the call and puts the process's own back afterwards
    overrides: dict[str, str | None] = {k: None for k in os.environ if k not in wanted}
    overrides.update(wanted)
    # `healthmon check` makes uvloop the process's loop policy (flows/event_loop.py): not this one's
    policy = asyncio.get_event_loop_policy()
    try:
        result = CliRunner().invoke(app, list(args), env=overrides, catch_exceptions=True)
    finally:
        asyncio.set_event_loop_policy(policy)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        info = result.exc_info
        stderr += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(*info) if info else [repr(result.exception)]
        )
        code = 1
    return subprocess.CompletedProcess([*HEALTHMON, *args], code, result.stdout, stderr)
