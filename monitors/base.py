"""What a monitor is: a service name, a tier, the settings it needs, and one async check."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Tier


@dataclass(frozen=True)
class Target:
    """One thing to check, with everything the check needs.

    Built inside the task that runs the check, never passed across a Prefect boundary:
    `settings` may hold credentials, and every value in `secrets` is scrubbed from the
    result before it leaves the runner.
    """

    service: str
    tenant_id: str | None
    settings: Mapping[str, Any]
    secrets: frozenset[str] = frozenset()
    previous: Mapping[str, Any] = field(default_factory=dict)


class CheckFailed(Exception):
    """Raised inside a check to end it with a decided outcome (e.g. by the shared HTTP layer)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


@dataclass(frozen=True)
class TenantKeyFormat:
    """How one tenant setting must look: `pattern` matches the whole of `normal(value)`."""

    key: str
    pattern: re.Pattern[str]
    #: ends the refusal "<service>: <key> must ..."
    must: str
    normal: Callable[[Any], str] = str


class Monitor(ABC):
    service: ClassVar[str]
    tier: ClassVar[Tier]
    per_tenant: ClassVar[bool] = False
    #: settings keys without which the check cannot decide (it reports `unknown`)
    required: ClassVar[tuple[str, ...]] = ()
    #: the metrics this monitor reports in `details`, for thresholds and `healthmon monitors`
    metrics: ClassVar[tuple[str, ...]] = ()
    default_timeout_s: ClassVar[float] = 5.0
    description: ClassVar[str] = ""
    #: whether `check` reads `target.previous` (the last result's details); loading them for
    #: every tenant of a batch costs a query and a JSON decode per target
    uses_previous: ClassVar[bool] = False
    #: per-tenant monitors: the integration's settings stored in plain text, and its secrets
    #: (encrypted at rest). `healthmon tenants add/import` accepts exactly these keys.
    tenant_public_keys: ClassVar[tuple[str, ...]] = ()
    tenant_secret_keys: ClassVar[tuple[str, ...]] = ()
    #: what some of those keys must look like, checked once none is missing
    tenant_formats: ClassVar[tuple[TenantKeyFormat, ...]] = ()

    @classmethod
    def validate_tenant(cls, settings: Mapping[str, Any]) -> None:
        """Reject bad tenant-supplied settings with a ValueError naming the key (per-tenant only)."""
        missing = [k for k in (*cls.tenant_public_keys, *cls.tenant_secret_keys) if not settings.get(k)]
        if missing:
            raise ValueError(f"{cls.service}: missing {', '.join(missing)}")
        for form in cls.tenant_formats:
            if not form.pattern.fullmatch(form.normal(settings[form.key])):
                raise ValueError(f"{cls.service}: {form.key} must {form.must}")

    @abstractmethod
    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        """Request, read, decide. May raise: the runner turns any exception into a result."""
