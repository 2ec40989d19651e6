"""The event loop a tier run's process runs on: uvloop when it is installed (it comes with
`uvicorn[standard]` on Linux), else asyncio's own.

A tier run spends much of its CPU in the loop itself (callbacks, timers, socket reads for
200 checks in flight); uvloop does that work in C (docs/performance.md, "Where the CPU per
check goes"). Call `use_uvloop()` before the process's loop is created: `healthmon check`
does before its `asyncio.run`, and a Prefect flow-run process creates its loop with
`asyncio.run` after importing the flow's module, so the module calling it at import covers
served runs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os


def use_uvloop() -> bool:
    """Make uvloop the loop of every `asyncio.run` in this process, if it is installed."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def runs_flows_here() -> bool:
    """Whether this process was started to run flows: a process Prefect's runner spawns for a
    served run (multiprocessing spawn; the flow's module is imported while the run's arguments
    are unpickled, before its `asyncio.run`), or one a worker starts with `python -m
    prefect.engine` (PREFECT__FLOW_RUN_ID set). A process that merely imports the flows (the
    CLI, `healthmon serve` itself, a test session) keeps its own loop."""
    return multiprocessing.parent_process() is not None or "PREFECT__FLOW_RUN_ID" in os.environ
