"""A tier run's process runs on uvloop when it is installed (healthmon/flows/event_loop.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import asyncio
from healthmon.flows.event_loop import use_uvloop

async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__

before = asyncio.run(loop_module())
chosen = use_uvloop()
print(before, chosen, asyncio.run(loop_module()))
"""


def test_use_uvloop_makes_every_later_asyncio_run_use_it() -> None:
    pytest.importorskip("uvloop")
    # its own process: the policy is process-wide and must not leak into this test session
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    before, chosen, after = out.stdout.split()
    assert before.startswith("asyncio") and chosen == "True" and after.startswith("uvloop")
