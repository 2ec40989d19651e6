"""Throwaway PostgreSQL and Redis servers on free loopback ports, from the installed binaries."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def redis_bin() -> str | None:
    return shutil.which("redis-server")


@dataclass
class PgServer:
    url: str
    port: int
    datadir: Path
    _bin: Path
    _user: str | None

    def stop(self) -> None:
        _run_as(
            self._user,
            [str(self._bin / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
            check=False,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _run_as(user: str | None, cmd: list[str], check: bool = True) -> None:
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def start_postgres(password: str | None = None) -> PgServer:
    """initdb + pg_ctl start; with a password, every TCP login needs it (scram-sha-256)."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="healthmon-pg-"))
    datadir = base / "data"
    user: str | None = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = "postgres"
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    init = [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--no-sync", "-E", "UTF8"]
    if password:
        pwfile = base / "pw"
        pwfile.write_text(password)
        if user:
            os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
        init += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
    else:
        init += ["--auth=trust"]
    _run_as(user, init)
    port = free_port()
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    _run_as(
        user, [str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(base / "log"), "-w", "start"]
    )
    auth = f"postgres:{password}@" if password else "postgres@"
    return PgServer(f"postgresql://{auth}127.0.0.1:{port}/postgres", port, datadir, bindir, user)


@dataclass
class RedisServer:
    url: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_redis(*args: str, password: str | None = None) -> RedisServer:
    binary = redis_bin()
    if binary is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *args]
    if password:
        cmd += ["--requirepass", password]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    auth = f":{password}@" if password else ""
    return RedisServer(f"redis://{auth}127.0.0.1:{port}/0", port, process)
