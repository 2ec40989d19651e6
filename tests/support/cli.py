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
