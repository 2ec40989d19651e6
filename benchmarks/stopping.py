"""Ending a benchmark's child process: SIGTERM, then SIGKILL if it does not exit in time."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any], grace_s: float = 30.0) -> None:
    """Terminate `process` and wait for it; kill it if it is still running after `grace_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
