"""The demo's child processes: ports, start, readiness, watch and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from healthmon.deployments.children import die_with_parent
from healthmon.deployments.demo.errors import DemoError

log = logging.getLogger("healthmon.demo")

SANDBOX_START_TIMEOUT_S = 30.0
UI_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def check_ports(wanted: Sequence[tuple[str, int]]) -> None:
    """Refuse to start when a port the demo needs is taken; `wanted` pairs option and port."""
    for option, port in wanted:
        if port_in_use(port):
            raise DemoError(f"{option}: port {port} is already in use (pick another)")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    #: a child whose exit ends the demo (the sandbox); the others are reported and left alone
    essential: bool
    reported_exit: bool = False

    def tail(self, lines: int = 5) -> str:
        try:
            content = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in content[-lines:])


def start_child(name: str, argv: list[str], env: Mapping[str, str], logs: Path, *, essential: bool) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    log_file = log_path.open("ab")
    # Its own process group: Ctrl-C in the terminal reaches the demo alone, which stops the
    # tier loops before the sandbox goes (a sandbox dying first would record every service
    # of a run in flight as unhealthy). Killing the group also takes any grandchildren.
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=dict(env),
        process_group=0,
        preexec_fn=die_with_parent(),
    )
    return Child(name, proc, log_path, log_file, essential)


async def wait_healthy(child: Child, health_url: str, timeout_s: float, stop: asyncio.Event) -> None:
    """Return once `health_url` answers 200; DemoError if the child exits, time runs out or
    the demo is told to stop first."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if child.proc.poll() is not None:
                raise DemoError(f"the {child.name} exited with code {child.proc.returncode}:\n{child.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.get(health_url)
                if answer.status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise DemoError(f"the {child.name} did not answer within {timeout_s:.0f} s")
            if stop.is_set():
                raise DemoError(f"stopped while the {child.name} was starting")
            await asyncio.sleep(0.1)


async def watch_children(
    children: Sequence[Child],
    listening: Mapping[str, int],
    logs: Path,
    on_essential_exit: Callable[[], None],
) -> None:
    """Report each child's exit once, calling `on_essential_exit` for an essential one, and
    say when the non-essential children named in `listening` (name -> port) are listening."""
    waiting = {c.name for c in children if not c.essential}
    started = time.monotonic()
    while True:
        for child in children:
            code = child.proc.poll()
            if code is not None and not child.reported_exit:
                child.reported_exit = True
                waiting.discard(child.name)
                if child.essential:
                    log.error("%s exited with code %s; stopping\n%s", child.name, code, child.tail())
                    on_essential_exit()
                else:
                    log.warning(
                        "%s exited with code %s (log: %s)\n%s",
                        child.name,
                        code,
                        child.log_path,
                        child.tail(),
                    )
        for name, port in listening.items():
            if name in waiting and port_in_use(port):
                waiting.discard(name)
                log.info("%s ready on http://127.0.0.1:%d", name, port)
        if waiting and time.monotonic() - started > UI_START_TIMEOUT_S:
            for name in sorted(waiting):
                log.warning(
                    "%s is not listening after %.0f s (log: %s)",
                    name,
                    UI_START_TIMEOUT_S,
                    logs / f"{name}.log",
                )
            waiting.clear()
        await asyncio.sleep(0.5)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, sig)


def kill_children(children: Sequence[Child]) -> None:
    """SIGKILL every child's group at once: the second Ctrl-C."""
    for child in children:
        _signal_group(child, signal.SIGKILL)


def stop_children(children: Sequence[Child], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every child's group, wait, then SIGKILL what is left; always reaps them."""
    for child in children:
        if child.proc.poll() is None:
            _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s: killing it", child.name, timeout_s)
            _signal_group(child, signal.SIGKILL)
            child.proc.wait()
        # the group may hold grandchildren that outlived their parent
        _signal_group(child, signal.SIGKILL)
        child.log_file.close()
