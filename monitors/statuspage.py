"""The vendors' public status feeds: Atlassian Statuspage pages and Slack's status API, as one result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from healthmon.monitors.base import CheckFailed, Target
from healthmon.monitors.http import HttpMonitor, failure, fetch
from healthmon.monitors.resources import BatchResources
from healthmon.monitors.result import Outcome, Status, Tier

INDICATORS = {
    "none": Status.HEALTHY,
    "minor": Status.DEGRADED,
    "maintenance": Status.DEGRADED,
    "major": Status.UNHEALTHY,
    "critical": Status.UNHEALTHY,
}
COMPONENT_STATUSES = {
    "operational": Status.HEALTHY,
    "degraded_performance": Status.DEGRADED,
    "under_maintenance": Status.DEGRADED,
    "partial_outage": Status.UNHEALTHY,
    "major_outage": Status.UNHEALTHY,
}
# Slack's incident types; a type Slack adds later counts as an incident
SLACK_TYPES = {"notice": Status.HEALTHY, "incident": Status.DEGRADED, "outage": Status.UNHEALTHY}
MAX_NAMES = 10
MAX_PAGES_IN_REASON = 5


@dataclass
class Page:
    """What one status page says, reduced to a verdict, its facts and a line for the reason."""

    name: str
    status: Status
    summary: str
    latency_ms: float | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class StatuspageMonitor(HttpMonitor):
    service = "statuspage"
    tier = Tier.EXTERNAL
    required = ()
    description = (
        "GET {page}/api/v2/summary.json per status page (status.json on 404), Slack /api/v2.0.0/current"
    )
    metrics = (
        "latency_ms",
        "pages_checked",
        "pages_with_incidents",
        "pages_unreadable",
    )

    async def check(self, target: Target, resources: BatchResources) -> Outcome:
        s = target.settings
        pages = s.get("pages") or {}
        if not isinstance(pages, Mapping):
            return Outcome.unknown("pages must map a name to a status page URL", error="config")
        # one dead page must not use up the whole check's time and take the others with it
        page_timeout = float(s.get("page_timeout_s") or 8.0)
        readers: list[tuple[str, Callable[[], Awaitable[Page]]]] = [
            (str(name), _statuspage_reader(resources, str(name), url)) for name, url in pages.items()
        ]
        if s.get("slack_status_url"):
            name = "slack" if "slack" not in pages else "slack-status"
            readers.append((name, _slack_reader(resources, name, str(s["slack_status_url"]))))
        if not readers:
            return Outcome.unknown("no status pages configured", error="not_configured")
        views = await asyncio.gather(*(_guarded(name, read, page_timeout) for name, read in readers))
        return _decide(views)


async def _guarded(name: str, read: Callable[[], Awaitable[Page]], timeout_s: float) -> Page:
    try:
        async with asyncio.timeout(timeout_s):
            return await read()
    except CheckFailed as failed:
        outcome = failed.outcome
        return _unreadable(
            name, outcome.reason or "unreadable", outcome.details.get("error"), outcome.latency_ms
        )
    except TimeoutError:
        return _unreadable(name, f"no answer within {timeout_s:g}s", "timeout", None)


def _unreadable(name: str, reason: str, error: Any, latency_ms: float | None) -> Page:
    facts = {
        "indicator": None,
        "description": reason,
        "components_not_operational": [],
        "incidents": 0,
        "error": error,
    }
    return Page(name, Status.UNKNOWN, f"{name}: unreadable ({reason})", latency_ms, facts)


def _statuspage_reader(resources: BatchResources, name: str, url: Any) -> Callable[[], Awaitable[Page]]:
    async def read() -> Page:
        if not isinstance(url, str) or not url:
            raise CheckFailed(Outcome.unknown("no page URL", error="config"))
        base = url.rstrip("/")
        reply = await fetch(resources, "GET", f"{base}/api/v2/summary.json")
        latency = reply.latency_ms
        if reply.status == 404:  # some pages publish only the status document
            reply = await fetch(resources, "GET", f"{base}/api/v2/status.json")
            latency += reply.latency_ms
        if reply.status != 200:
            raise CheckFailed(failure(reply))
        body = reply.json_object()
        status = body.get("status")
        status = status if isinstance(status, dict) else {}
        indicator = status.get("indicator")
        if indicator not in INDICATORS:
            raise CheckFailed(Outcome.unhealthy("no status indicator in the answer", error="bad_body"))
        description = str(status.get("description") or indicator)[:200]
        broken: dict[str, list[str]] = {}
        verdict = INDICATORS[str(indicator)]
        for component in body.get("components") or []:
            # a group's status only repeats its members' worst
            if not isinstance(component, dict) or component.get("group"):
                continue
            state = component.get("status")
            level = COMPONENT_STATUSES.get(str(state))
            if level is None or level is Status.HEALTHY:
                continue
            verdict = verdict.worse(level)
            broken.setdefault(str(state), []).append(str(component.get("name"))[:100])
        names = [n for group in broken.values() for n in group][:MAX_NAMES]
        incidents = body.get("incidents")
        detail = "; ".join(
            f"{state.replace('_', ' ').capitalize()} of {', '.join(group[:3])}"
            for state, group in broken.items()
        )
        facts = {
            "indicator": indicator,
            "description": description,
            "components_not_operational": names,
            "incidents": len(incidents) if isinstance(incidents, list) else 0,
        }
        return Page(name, verdict, f"{name}: {indicator} ({detail or description})", latency, facts)

    return read


def _slack_reader(resources: BatchResources, name: str, url: str) -> Callable[[], Awaitable[Page]]:
    async def read() -> Page:
        reply = await fetch(resources, "GET", f"{url.rstrip('/')}/api/v2.0.0/current")
        if reply.status != 200:
            raise CheckFailed(failure(reply))
        body = reply.json_object()
        status = body.get("status")
        incidents = body.get("active_incidents") or []
        if not isinstance(status, str) or not isinstance(incidents, list):
            raise CheckFailed(Outcome.unhealthy("no status in the answer", error="bad_body"))
        verdict, worst, services = Status.HEALTHY, None, []
        for incident in incidents:
            if not isinstance(incident, dict):
                continue
            level = SLACK_TYPES.get(str(incident.get("type")), Status.DEGRADED)
            if worst is None or level.rank > verdict.rank:
                verdict, worst = verdict.worse(level), incident
            if level is not Status.HEALTHY:
                services += [str(x)[:100] for x in incident.get("services") or [] if str(x) not in services]
        title = str(worst.get("title") or "")[:200] if worst is not None else status
        kind = str(worst.get("type")) if worst is not None else status
        facts = {
            "indicator": status,
            "description": title,
            "components_not_operational": services[:MAX_NAMES],
            "incidents": len(incidents),
        }
        return Page(name, verdict, f"{name}: {kind} ({title})", reply.latency_ms, facts)

    return read


def _decide(views: list[Page]) -> Outcome:
    status = Status.worst(v.status for v in views)
    latencies = [v.latency_ms for v in views if v.latency_ms is not None]
    troubled = [
        v
        for v in views
        if v.status is not Status.UNKNOWN and (v.status is not Status.HEALTHY or v.facts.get("incidents"))
    ]
    details: dict[str, Any] = {
        "pages": {v.name: v.facts for v in views},
        "pages_checked": len(views),
        "pages_with_incidents": len(troubled),
        "pages_unreadable": sum(1 for v in views if v.status is Status.UNKNOWN),
    }
    latency = max(latencies) if latencies else None
    if status is Status.HEALTHY:
        return Outcome.healthy(latency, **details)
    worst = [v.summary for v in views if v.status is status]
    reason = "; ".join(worst[:MAX_PAGES_IN_REASON])
    if len(worst) > MAX_PAGES_IN_REASON:
        reason += f"; and {len(worst) - MAX_PAGES_IN_REASON} more"
    error = "unreadable" if status is Status.UNKNOWN else "incident"
    # built directly so that an unknown verdict keeps the latency of the pages that did answer
    return Outcome(status, latency, {"reason": reason, "error": error, **details})
