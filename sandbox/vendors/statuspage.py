"""Atlassian Statuspage pages, one per name: `/statuspage/{page}/api/v2/...`.

Faults use the page name as their tenant slot (`tenant: "shopify"`), or null for every page.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor, serves
from healthmon.sandbox.responses import iso, json_response, now, text_response

COMPONENTS: dict[str, list[str]] = {
    "shopify": ["Admin", "Checkout", "API & Mobile", "Storefront", "Webhooks"],
    "inngest": ["API", "Event ingestion", "Function execution", "Dashboard"],
    "wise": ["\N{LINK SYMBOL} API", "Website", "Mobile apps"],
    "mux": ["Video API", "Video delivery", "Mux Data"],
    "assemblyai": ["Async API", "Streaming API", "Dashboard"],
    "yotpo": ["Reviews", "Loyalty & Referrals", "API"],
    "vercel": ["API", "Builds", "Edge Network", "Dashboard"],
}
DEFAULT_COMPONENTS = ["API", "Dashboard", "Webhooks"]
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
COMPONENT_STATUS = {
    "none": "operational",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}
# What each endpoint answers with, in Statuspage's key order.
PARTS: dict[str, tuple[str, ...]] = {
    "status.json": ("page", "status"),
    "summary.json": ("page", "components", "incidents", "scheduled_maintenances", "status"),
    "components.json": ("page", "components"),
    "incidents/unresolved.json": ("page", "incidents"),
}


def _short_id(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=6).hexdigest()


class Statuspage(Vendor):
    service = "statuspage"
    prefix = "/statuspage/{page}"

    def _page(self, request: Request) -> str | None:
        return str(request.path_params["page"])

    def _view(self, call: Call) -> dict[str, Any]:
        """Every part of the page as this request's faults leave it."""
        page = call.scope or "page"
        stamp = iso(now() - 3600)
        page_obj = {
            "id": _short_id("page", page),
            "name": page.replace("-", " ").title(),
            "url": f"https://status.{page}.example",
            "time_zone": "Etc/UTC",
            "updated_at": stamp,
        }
        fault = call.fault("statuspage")
        indicator = fault.params["indicator"] if fault is not None else "none"
        names = COMPONENTS.get(page, DEFAULT_COMPONENTS)
        broken = (fault.params["component"] or names[0]) if fault is not None else None
        broken_status = (fault.params["component_status"] if fault is not None else None) or COMPONENT_STATUS[
            indicator
        ]
        components = [
            {
                "id": _short_id("component", page, name),
                "name": name,
                "status": broken_status if name == broken else "operational",
                "created_at": "2024-01-01T00:00:00.000Z",
                "updated_at": stamp,
                "position": position,
                "description": None,
                "showcase": True,
                "group_id": None,
                "page_id": page_obj["id"],
                "group": False,
                "only_show_if_degraded": False,
            }
            for position, name in enumerate(names, start=1)
        ]
        description = (fault.params["description"] if fault is not None else None) or DESCRIPTIONS[indicator]
        status = {"indicator": indicator, "description": description}
        incidents: list[dict[str, Any]] = []
        if fault is not None and indicator != "none":
            started = iso(fault.created_at)
            affected = [c for c in components if c["name"] == broken]
            incidents.append(
                {
                    "id": _short_id("incident", page, str(fault.id)),
                    "name": f"Elevated errors on {broken}",
                    "status": "investigating",
                    "created_at": started,
                    "updated_at": started,
                    "monitoring_at": None,
                    "resolved_at": None,
                    "impact": indicator,
                    "shortlink": f"https://stspg.io/{_short_id('link', page, str(fault.id))}",
                    "started_at": started,
                    "page_id": page_obj["id"],
                    "incident_updates": [
                        {
                            "id": _short_id("update", page, str(fault.id)),
                            "status": "investigating",
                            "body": "We are investigating elevated error rates.",
                            "created_at": started,
                            "display_at": started,
                        }
                    ],
                    "components": affected,
                }
            )
        return {
            "page": page_obj,
            "status": status,
            "components": components,
            "incidents": incidents,
            "scheduled_maintenances": [],
        }

    @serves("/api/v2/status.json", authed=False, scope_of=_page)
    @serves("/api/v2/summary.json", authed=False, scope_of=_page)
    @serves("/api/v2/components.json", authed=False, scope_of=_page)
    @serves("/api/v2/incidents/unresolved.json", authed=False, scope_of=_page)
    async def page_json(self, call: Call) -> Response:
        view = self._view(call)
        name = str(call.request.scope["path"]).rsplit("/api/v2/", 1)[1]
        return json_response({part: view[part] for part in PARTS[name]})

    def http_error(self, call: Call, fault: Fault) -> Response:
        return text_response(
            "<html><body><h1>Service Unavailable</h1></body></html>", fault.params["status"], "text/html"
        )
