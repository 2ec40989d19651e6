"""Local imitations of every upstream API healthmon checks, for tests, benchmarks and the demo."""

from healthmon.sandbox.app import create_app
from healthmon.sandbox.bed import write_bed
from healthmon.sandbox.faults import Fault, FaultError
from healthmon.sandbox.server import RunningSandbox, run, start_in_thread
from healthmon.sandbox.state import Platform, SandboxState, Tenant

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
