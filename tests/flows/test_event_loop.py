"""A tier run's process runs on uvloop when it is installed (healthmon/flows/event_loop.py)."""

from __future__ import annotations

import multiprocessing
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


def _loop_of_a_flow_run_process(answer: multiprocessing.Queue[str]) -> None:
    import asyncio

    import healthmon.flows.tier_run  # noqa: F401  (what unpickling a served run's flow imports)

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    answer.put(asyncio.run(loop_module()))


def test_a_process_spawned_to_run_the_tier_flow_runs_it_on_uvloop() -> None:
    """Prefect's runner spawns a process per served run, imports the flow's module there and
    then `asyncio.run`s the flow (prefect.flow_engine.run_flow_in_subprocess): that loop is
    uvloop. This session, which imports the flows too, keeps its own."""
    pytest.importorskip("uvloop")
    import asyncio

    import healthmon.flows.tier_run  # noqa: F401

    assert not type(asyncio.get_event_loop_policy()).__module__.startswith("uvloop")
    ctx = multiprocessing.get_context("spawn")
    answer = ctx.Queue()
    child = ctx.Process(target=_loop_of_a_flow_run_process, args=(answer,))
    child.start()
    try:
        assert answer.get(timeout=120).startswith("uvloop")
    finally:
        child.join(timeout=30)
