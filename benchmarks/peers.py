"""The probers a tier run is compared with: Prometheus blackbox_exporter, driven by ApacheBench.

    with Blackbox.start(target, workdir) as peer:   # a child process on a free port
        peer.sample()                               # one /probe answer, probe_success checked
        drive = peer.drive(probes=10_000, in_flight=200)

blackbox_exporter probes one upstream per `/probe` request, the way Prometheus scrapes it; `ab`
(apache2-utils) plays Prometheus, asking for `probes` probes with `in_flight` of them at a time.
Both binaries come from Debian (`prometheus-blackbox-exporter`, `apache2-utils`; `make bench`
installs them when root). `unavailable()` says what is missing, so a benchmark can report the
figure as skipped instead of failing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import yaml

from benchmarks.stopping import stop
from tests.support.servers import free_port, wait_port

# Debian names the binary after its package; upstream's release tarballs call it blackbox_exporter
BLACKBOX_BINARIES = ("prometheus-blackbox-exporter", "blackbox_exporter")
MODULE = "target"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class PeerError(RuntimeError):
    """The peer ran but did not do what was asked (a probe failed, ab saw errors)."""


def blackbox_binary() -> str | None:
    return next((found for name in BLACKBOX_BINARIES if (found := shutil.which(name))), None)


def ab_binary() -> str | None:
    return shutil.which("ab")


def unavailable() -> str | None:
    """Why the blackbox_exporter figure cannot be had here, or None when it can."""
    missing = [
        what
        for what, found in (
            ("blackbox_exporter (Debian: prometheus-blackbox-exporter)", blackbox_binary()),
            ("ab (Debian: apache2-utils)", ab_binary()),
        )
        if found is None
    ]
    if not missing:
        return None
    return f"not installed: {' and '.join(missing)} (`make bench` installs them as root)"


def _first_line(command: list[str], pattern: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # blackbox_exporter prints its version on stderr, ab on stdout
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else None


def versions() -> dict[str, str | None]:
    """The peers' own `--version` answers (None when a binary is missing)."""
    blackbox, ab = blackbox_binary(), ab_binary()
    return {
        "blackbox_exporter": blackbox and _first_line([blackbox, "--version"], r"version (\S+)"),
        "ab": ab and _first_line([ab, "-V"], r"Version (\S+)"),
    }


@dataclass(frozen=True)
class Target:
    """One upstream request, as the benchmark's other clients make it."""

    url: str
    headers: dict[str, str]
    body: str
    method: str = "POST"
    valid_status: int = 200


@dataclass(frozen=True)
class Drive:
    probes: int
    seconds: float
    per_s: float
    #: the exporter's own user+system CPU over the run, per probe (ab's is not in it)
    cpu_ms_per_probe: float


def _proc_cpu_s(pid: int) -> float:
    # fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the command's ")"
    # since the command name may hold spaces
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _ab_figure(output: str, label: str) -> float:
    found = re.search(rf"^{re.escape(label)}:\s+([\d.]+)", output, re.MULTILINE)
    if found is None:
        raise PeerError(f"ab printed no {label!r}:\n{output[-2000:]}")
    return float(found.group(1))


class Blackbox:
    """blackbox_exporter as a child process, with a config of one module for `target`."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, target: Target, log: IO[bytes]) -> None:
        self.process, self.port, self.target, self._log = process, port, target, log
        self.probe_url = f"http://127.0.0.1:{port}/probe?" + urllib.parse.urlencode(
            {"module": MODULE, "target": target.url}
        )

    @classmethod
    def start(cls, target: Target, workdir: Path) -> Blackbox:
        binary = blackbox_binary()
        if binary is None:
            raise PeerError("blackbox_exporter is not installed")
        config = workdir / "blackbox.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "modules": {
                        MODULE: {
                            "prober": "http",
                            "timeout": "10s",
                            "http": {
                                "method": target.method,
                                "headers": target.headers,
                                "body": target.body,
                                "valid_status_codes": [target.valid_status],
                                "preferred_ip_protocol": "ip4",
                            },
                        }
                    }
                }
            )
        )
        port = free_port()
        log = (workdir / "blackbox.log").open("wb")
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port, timeout=20)
        except TimeoutError:
            process.kill()
            process.wait()
            log.close()
            said = (workdir / "blackbox.log").read_text()
            raise PeerError(f"blackbox_exporter did not listen: {said}") from None
        return cls(process, port, target, log)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        stop(self.process, grace_s=10)
        self._log.close()

    def sample(self) -> str:
        """One /probe answer; raises unless it reports the probe succeeded. `ab` cannot tell a
        failed probe from a good one (both are HTTP 200 from the exporter), hence this check."""
        answer = httpx.get(self.probe_url, timeout=30)
        answer.raise_for_status()
        if not re.search(r"^probe_success 1$", answer.text, re.MULTILINE):
            raise PeerError(f"blackbox_exporter's probe failed:\n{answer.text[-2000:]}")
        return answer.text

    def peak_rss_mb(self) -> float:
        return _proc_peak_rss_mb(self.process.pid)

    def drive(self, probes: int, in_flight: int) -> Drive:
        """`probes` /probe requests, `in_flight` at a time, as `ab -n probes -c in_flight`.
        Raises PeerError when any answer was not 2xx or any request failed."""
        ab = ab_binary()
        if ab is None:
            raise PeerError("ab is not installed")
        # -k: keep-alive between ab and the exporter, so what is measured is the probing (each
        # probe still opens its own connection upstream, as blackbox_exporter always does);
        # -q: no progress lines; -s: a stuck probe fails the run instead of hanging it
        command = [ab, "-q", "-k", "-s", "60", "-n", str(probes), "-c", str(in_flight), self.probe_url]
        cpu_before, started = _proc_cpu_s(self.process.pid), time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        cpu = _proc_cpu_s(self.process.pid) - cpu_before
        if done.returncode != 0:
            raise PeerError(f"ab exited {done.returncode}: {done.stderr.strip() or done.stdout[-2000:]}")
        out = done.stdout
        complete = int(_ab_figure(out, "Complete requests"))
        # ab prints the line only when some answers were not 2xx
        non_2xx = re.search(r"^Non-2xx responses:\s+(\d+)", out, re.MULTILINE)
        # "Failed requests" also counts answers whose length differs from the first one's, and
        # the exporter's answers differ in length (durations); only the other kinds are errors
        errors = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
        problems = []
        if complete != probes:
            problems.append(f"{complete} of {probes} requests complete")
        if non_2xx is not None and int(non_2xx.group(1)):
            problems.append(f"{non_2xx.group(1)} non-2xx answers")
        if errors is not None and any(int(g) for g in errors.groups()):
            problems.append(f"failed requests {errors.group(0)}")
        if problems:
            raise PeerError("blackbox_exporter run: " + ", ".join(problems))
        return Drive(
            probes=probes,
            seconds=seconds,
            per_s=_ab_figure(out, "Requests per second"),
            cpu_ms_per_probe=1000 * cpu / probes,
        )
