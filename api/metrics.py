"""`/metrics` for Prometheus, and `/healthz` for whatever watches the API process itself.

The metrics are collected at scrape time from the current matrix (a custom Collector on a
registry of this app's own), never kept in global gauges: a target that disappears stops
being reported, and several apps in one process (tests) do not share series.

    healthmon_status{service,tenant,tier}       0 healthy, 1 unknown, 2 degraded, 3 unhealthy
    healthmon_latency_ms{service,tenant}        the decisive call's latency (absent when none)
    healthmon_last_check_timestamp_seconds{service,tenant}
    healthmon_result_age_seconds{service,tenant}   seconds since that check, at scrape time
    healthmon_result_stale{service,tenant}      1 when that result is stale (older than
                                                `watchdog.stale_after` x the tier's interval)
    healthmon_alerts{status,severity}           live alerts (open, acknowledged)

`tenant` is "" for platform services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from healthmon.alerting.notification import Severity
from healthmon.api.auth import caller
from healthmon.api.deps import AppDep, stale_rule
from healthmon.api.errors import COMMON_RESPONSES, INVALID
from healthmon.api.query import known_query_only
from healthmon.api.schemas import AlertState, Healthz, Problem
from healthmon.flows.app import App
from healthmon.monitors.result import Status
from healthmon.storage.alerts import list_alerts
from healthmon.storage.queries import matrix_cells

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

LIVE = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)
#: a bound on the rows read for the alert gauges; live alerts are deduplicated by signature,
#: so even a large outage stays far below it
MAX_LIVE_ALERTS = 100_000


class MatrixCollector(Collector):
    def __init__(self, runtime: App) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self._runtime
        status = GaugeMetricFamily(
            "healthmon_status",
            "Latest status per target: 0 healthy, 1 unknown, 2 degraded, 3 unhealthy",
            labels=["service", "tenant", "tier"],
        )
        latency = GaugeMetricFamily(
            "healthmon_latency_ms",
            "Latency of the latest check's decisive call",
            labels=["service", "tenant"],
        )
        checked = GaugeMetricFamily(
            "healthmon_last_check_timestamp_seconds",
            "When the latest check of the target ran (Unix time)",
            labels=["service", "tenant"],
        )
        age = GaugeMetricFamily(
            "healthmon_result_age_seconds",
            "Seconds since the latest check of the target ran, at scrape time",
            labels=["service", "tenant"],
        )
        stale = GaugeMetricFamily(
            "healthmon_result_stale",
            "1 when the target's latest result is older than watchdog.stale_after tier intervals",
            labels=["service", "tenant"],
        )
        ranks = {s.value: float(s.rank) for s in Status}
        now = datetime.now(UTC)
        for cell in matrix_cells(runtime.engine, runtime.cache, now, stale_rule(runtime)):
            tenant = cell.tenant or ""
            status.add_metric([cell.service, tenant, cell.tier], ranks[cell.status])
            if cell.latency_ms is not None:
                latency.add_metric([cell.service, tenant], cell.latency_ms)
            checked.add_metric([cell.service, tenant], datetime.fromisoformat(cell.checked_at).timestamp())
            age.add_metric([cell.service, tenant], cell.age_s)
            stale.add_metric([cell.service, tenant], 1.0 if cell.stale else 0.0)
        yield status
        yield latency
        yield checked
        yield age
        yield stale

        counted = {(s, sev.value): 0 for s in LIVE for sev in Severity}
        for row in list_alerts(runtime.engine, list(LIVE), MAX_LIVE_ALERTS):
            key = (row["status"], row["severity"])
            counted[key] = counted.get(key, 0) + 1
        alerts = GaugeMetricFamily(
            "healthmon_alerts", "Live alerts by status and severity", labels=["status", "severity"]
        )
        for (state, severity), n in sorted(counted.items()):
            alerts.add_metric([state, severity], n)
        yield alerts


def registry_for(runtime: App) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MatrixCollector(runtime))
    return registry


@router.get(
    "/metrics",
    dependencies=[Depends(caller)],
    response_class=Response,
    responses={
        200: {"description": "Prometheus text exposition format", "content": {CONTENT_TYPE_LATEST: {}}},
        **COMMON_RESPONSES,
    },
    summary="Prometheus metrics over the current status and live alerts (read token)",
)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/healthz",
    response_model=Healthz,
    dependencies=[Depends(known_query_only)],
    responses={
        503: {"model": Healthz, "description": "healthmon's database does not answer"},
        422: {"model": Problem, "description": INVALID},
    },
    summary="Liveness of the API and its database (no token needed)",
)
def healthz(runtime: AppDep, response: Response) -> Healthz:
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to answer means not ready, whatever the driver raises
        log.warning("healthz: database check failed: %s", type(exc).__name__)
        response.status_code = 503
        return Healthz(status="unavailable", database="unreachable")
    return Healthz(status="ok", database="ok")
