"""Local imitations of every upstream API healthmon checks, for tests, benchmarks and the demo."""

from sandbox.app import create_app
from sandbox.bed import write_bed
from sandbox.faults import Fault, FaultError
from sandbox.server import RunningSandbox, run, start_in_thread
from sandbox.state import Platform, SandboxState, Tenant

__all__ = [
    "Fault",
    "FaultError",
    "Platform",
    "RunningSandbox",
    "SandboxState",
    "Tenant",
    "create_app",
    "run",
    "start_in_thread",
    "write_bed",
]
