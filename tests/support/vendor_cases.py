"""Running one monitor check against the sandbox as a tier run makes it, and judging what it said.

The monitor tests share one shape: arrange a sandbox scenario (a fault, a changed setting), run
the check, assert the status, the error class and some details. What a case expects is data
(`Fault`, and the matchers for details that are not known to the letter); this module runs it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from healthmon.monitors.base import Monitor, Target
from healthmon.monitors.redaction import secrets_of
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import CheckResult, Status
from healthmon.monitors.runner import RunPolicy, run_check
from healthmon.sandbox.server import RunningSandbox

#: the bed's tenant whose settings a per-tenant monitor is checked with
TENANT = "tenant-0001"

U, D = Status.UNHEALTHY, Status.DEGRADED


def tenant_of(monitor: Monitor) -> str | None:
    return TENANT if monitor.per_tenant else None


def settings_for(bed: Mapping[str, Any], monitor: Monitor) -> dict[str, Any]:
    """The monitor's settings as the sandbox's config (and tenant file) give them.

    A deep copy: tests change them (a page added, a key dropped) and the bed is session-wide."""
    settings = copy.deepcopy(dict(bed["services"][monitor.service]))
    if monitor.per_tenant:
        settings.update(copy.deepcopy(bed["tenants"][TENANT][monitor.service]))
    return settings


def settings_fixture(monitor: Monitor) -> Any:
    """A `settings` fixture for a module that tests `monitor` (needs the `bed` fixture)."""

    @pytest.fixture
    def settings(bed: dict[str, Any]) -> dict[str, Any]:
        return settings_for(bed, monitor)

    return settings


def secrets(settings: Mapping[str, Any]) -> frozenset[str]:
    return secrets_of(dict(settings))


async def run_monitor(
    monitor: Monitor,
    settings: Mapping[str, Any],
    timeout_s: float = 2.0,
    previous: dict[str, Any] | None = None,
) -> CheckResult:
    """One check as a tier run makes it (runner, timeout, re-check disabled for exact counts)."""
    target = Target(monitor.service, tenant_of(monitor), dict(settings), secrets(settings), previous or {})
    async with BatchResources() as resources:
        return await run_check(
            monitor, target, resources, monitor.tier, RunPolicy(timeout_s=timeout_s, confirm_retries=0)
        )


def assert_no_secret(result: CheckResult, settings: Mapping[str, Any]) -> None:
    text = repr(result.details)
    for secret in secrets(settings):
        assert secret not in text


async def check_healthy(monitor: Monitor, settings: Mapping[str, Any]) -> CheckResult:
    """A check of a sandbox without faults: healthy, answered 200, timed."""
    result = await run_monitor(monitor, settings)
    assert result.status is Status.HEALTHY, result.details
    assert result.details["http_status"] == 200 and result.latency_ms is not None
    return result


async def check_fault(
    monitor: Monitor, settings: Mapping[str, Any], expected: tuple[Status, str]
) -> CheckResult:
    """Run a check while a fault is injected: the expected (status, error class), a reason,
    and no secret in the details. Returns the result for further assertions."""
    # 1 s keeps the hanging cases short; an oversize answer is read up to the cap first, which
    # takes longer than that on a loaded box (seen: 3 MB timing out instead)
    timeout_s = 10.0 if expected[1] == "oversize" else 1.0
    result = await run_monitor(monitor, settings, timeout_s=timeout_s)
    assert (result.status, result.details.get("error")) == expected, result.details
    assert result.details["reason"]
    assert_no_secret(result, settings)
    return result


# -- details that are not known to the letter ---------------------------------------------------
# Each compares equal to the values it accepts (as pytest.approx does), so that a case's whole
# expectation is one mapping and a mismatch shows as one dict diff.


class _Matcher:
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, vars(self).values()))})"


class _Absent(_Matcher):
    def __repr__(self) -> str:
        return "ABSENT"


#: the detail must not be reported at all
ABSENT: Any = _Absent()


class _Present(_Matcher):
    def __eq__(self, other: object) -> bool:
        return other is not ABSENT

    def __repr__(self) -> str:
        return "PRESENT"


#: any value, as long as the detail is reported
PRESENT: Any = _Present()


class Contains(_Matcher):
    """A text holding every one of `parts` (once lower-cased, with `folded`)."""

    def __init__(self, *parts: str, folded: bool = False) -> None:
        self.parts = parts
        self.folded = folded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        text = other.lower() if self.folded else other
        return all(part in text for part in self.parts)


class StartsWith(_Matcher):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(self.prefix)


def said(details: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, Any]:
    """The details `expected` names, ABSENT where the check did not report one."""
    return {key: details.get(key, ABSENT) for key in expected}


# -- faults ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One injected fault and what the check must make of it."""

    kind: str
    params: Mapping[str, Any]
    status: Status
    error: str
    #: details the check must report (values or matchers)
    details: Mapping[str, Any] = field(default_factory=dict)
    #: the sandbox service the fault goes to, when not the monitor's own
    service: str | None = None
    #: settings changed for this case
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        where = f"{self.service}:" if self.service else ""
        extra = ",".join(f"{k}={v}" for k, v in {**self.params, **self.settings}.items())
        return f"{where}{self.kind}" + (f"({extra})" if extra else "")


#: failures every HTTP monitor meets the same way through monitors/http.py
TRANSPORT: tuple[Fault, ...] = (
    Fault("malformed_json", {}, U, "bad_body"),
    Fault("oversize", {"bytes": 3_000_000}, U, "oversize"),
    Fault("reset", {}, U, "reset"),
    Fault("hang", {}, U, "timeout"),
)


@dataclass(frozen=True)
class Vendor:
    """A monitor and every fault case it is held to."""

    monitor: Monitor
    faults: tuple[Fault, ...]
    #: the tenant a fault is injected for (None: every tenant)
    scope: str | None = None
    #: texts the details must never hold beyond the target's secrets (minted tokens, URLs)
    never_said: Callable[[RunningSandbox], tuple[str, ...]] = lambda sandbox: ()

    @property
    def service(self) -> str:
        return self.monitor.service


async def check_with(
    sandbox: RunningSandbox, vendor: Vendor, settings: Mapping[str, Any], fault: Fault
) -> CheckResult:
    """Inject `fault`, run the check, and hold the result to everything the fault expects."""
    sandbox.state.add_fault(fault.service or vendor.service, fault.kind, vendor.scope, **fault.params)
    result = await check_fault(vendor.monitor, {**settings, **fault.settings}, (fault.status, fault.error))
    assert said(result.details, fault.details) == fault.details, result.details
    text = repr(result.details)
    for never in vendor.never_said(sandbox):
        assert never not in text
    return result
