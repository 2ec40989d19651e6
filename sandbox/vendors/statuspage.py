"""Atlassian Statuspage pages, one per name: `/statuspage/{page}/api/v2/...`.

Faults use the page name as their tenant slot (`tenant: "shopify"`), or null for every page.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from healthmon.sandbox.faults import Fault
from healthmon.sandbox.pipeline import Call, Vendor
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


def _short_id(*parts: str) -> str:
    return hashlib.blake2b("|".join(parts).encode(), digest_size=6).hexdigest()


class Statuspage(Vendor):
    service = "statuspage"
    prefix = "/statuspage/{page}"

    def routes(self) -> list[BaseRoute]:
        return [
            self.route(f"/api/v2/{name}.json", handler, ["GET"], authed=False, scope_of=self._page)
            for name, handler in (
                ("status", self.status),
                ("summary", self.summary),
                ("components", self.components),
                ("incidents/unresolved", self.unresolved),
            )
        ]

    @staticmethod
    def _page(request: Request) -> str | None:
        return str(request.path_params["page"])

    def _view(
        self, call: Call
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
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
        return page_obj, status, components, incidents

    async def status(self, call: Call) -> Response:
        page, status, _, _ = self._view(call)
        return json_response({"page": page, "status": status})

    async def summary(self, call: Call) -> Response:
        page, status, components, incidents = self._view(call)
        return json_response(
            {
                "page": page,
                "components": components,
                "incidents": incidents,
                "scheduled_maintenances": [],
                "status": status,
            }
        )

    async def components(self, call: Call) -> Response:
        page, _, components, _ = self._view(call)
        return json_response({"page": page, "components": components})

    async def unresolved(self, call: Call) -> Response:
        page, _, _, incidents = self._view(call)
        return json_response({"page": page, "incidents": incidents})

    def http_error(self, call: Call, fault: Fault) -> Response:
        return text_response(
            "<html><body><h1>Service Unavailable</h1></body></html>", fault.params["status"], "text/html"
        )
