"""`/metrics` for Prometheus, and `/healthz` for whatever watches the API process itself.

The metrics are written at scrape time from the current matrix view (kept per app, not in
global gauges): a target that disappears stops being reported, and several apps in one
process (tests) do not share series.

    healthmon_status{service,tenant,tier}       0 healthy, 1 unknown, 2 degraded, 3 unhealthy
    healthmon_latency_ms{service,tenant}        the decisive call's latency (absent when none)
    healthmon_last_check_timestamp_seconds{service,tenant}
    healthmon_result_age_seconds{service,tenant}   seconds since that check, at scrape time
    healthmon_result_stale{service,tenant}      1 when that result is stale (older than
                                                `watchdog.stale_after` x the tier's interval)
    healthmon_alerts{status,severity}           live alerts (open, acknowledged)

`tenant` is "" for platform services.

The text is written here rather than through prometheus_client's collector: at 10,000 tenants
x 4 integrations that is 200,000 samples, ~1.5 s of CPU a scrape as Metric objects. Like the
matrix answer (api/matrix.py), the families that do not age are written once per version of
the matrix view and the two that do (age, stale) are a template filled in per scrape.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from healthmon.alerting.notification import Severity
from healthmon.api.auth import caller
from healthmon.api.deps import AppDep, stale_rule
from healthmon.api.errors import COMMON_RESPONSES, INVALID
from healthmon.api.matrix import MatrixViews, View
from healthmon.api.query import known_query_only
from healthmon.api.schemas import AlertState, Healthz, Problem
from healthmon.monitors.result import Status
from healthmon.storage.alerts import list_alerts

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

LIVE = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)
#: a bound on the rows read for the alert gauges; live alerts are deduplicated by signature,
#: so even a large outage stays far below it
MAX_LIVE_ALERTS = 100_000
_RANKS = {s.value: f"{float(s.rank)!r}" for s in Status}
_FLAGS = (b"0.0", b"1.0")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

FAMILIES = {
    "healthmon_status": "Latest status per target: 0 healthy, 1 unknown, 2 degraded, 3 unhealthy",
    "healthmon_latency_ms": "Latency of the latest check's decisive call",
    "healthmon_last_check_timestamp_seconds": "When the latest check of the target ran (Unix time)",
    "healthmon_result_age_seconds": "Seconds since the latest check of the target ran, at scrape time",
    "healthmon_result_stale": (
        "1 when the target's latest result is older than watchdog.stale_after tier intervals"
    ),
    "healthmon_alerts": "Live alerts by status and severity",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str) -> str:
    help_text = FAMILIES[name].replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


class Exposition:
    """One view's exposition: the families that do not age as text, the two that do as a
    template with `%.1f` (age) and `%s` (stale) for each target."""

    def __init__(self, view: View) -> None:
        status, latency, checked, age, stale = [], [], [], [], []
        for row, at in zip(view.rows, view.checked, strict=True):
            target = f'service="{_label(row[0])}",tenant="{_label(row[1] or "")}"'
            status.append(f'healthmon_status{{{target},tier="{_label(row[2])}"}} {_RANKS[row[3]]}\n')
            if row[4] is not None:
                latency.append(f"healthmon_latency_ms{{{target}}} {float(row[4])!r}\n")
            checked.append(f"healthmon_last_check_timestamp_seconds{{{target}}} {at / 1_000_000!r}\n")
            # the templates' own `%` are the placeholders: a `%` in a label is doubled
            literal = target.replace("%", "%%")
            age.append(f"healthmon_result_age_seconds{{{literal}}} %.1f\n")
            stale.append(f"healthmon_result_stale{{{literal}}} %s\n")
        self.view = view
        self.fixed = (
            _family("healthmon_status")
            + "".join(status)
            + _family("healthmon_latency_ms")
            + "".join(latency)
            + _family("healthmon_last_check_timestamp_seconds")
            + "".join(checked)
        ).encode()
        self.ages = (_family("healthmon_result_age_seconds").replace("%", "%%") + "".join(age)).encode()
        self.stale = (_family("healthmon_result_stale").replace("%", "%%") + "".join(stale)).encode()

    def text(self, now: datetime) -> bytes:
        """Both parts, aged at `now` with the arithmetic of api/matrix.answer (the stale rule)."""
        at = (now - _EPOCH) // _US
        ages = [max(0.0, (at - checked) / 1_000_000) for checked in self.view.checked]
        flags = [_FLAGS[age > limit] for age, limit in zip(ages, self.view.limits, strict=True)]
        return self.fixed + (self.ages % tuple(ages)) + (self.stale % tuple(flags))


class Expositions:
    """One per app: the exposition of the last view."""

    def __init__(self) -> None:
        self._last: Exposition | None = None
        self._lock = threading.Lock()

    def of(self, view: View) -> Exposition:
        last = self._last
        if last is not None and last.view is view:
            return last
        with self._lock:
            last = self._last
            if last is None or last.view is not view:
                last = self._last = Exposition(view)
            return last


def _alerts(runtime: AppDep) -> bytes:
    counted = {(s, sev.value): 0 for s in LIVE for sev in Severity}
    for row in list_alerts(runtime.engine, list(LIVE), MAX_LIVE_ALERTS):
        key = (row["status"], row["severity"])
        counted[key] = counted.get(key, 0) + 1
    lines = [
        f'healthmon_alerts{{status="{_label(state)}",severity="{_label(severity)}"}} {float(n)!r}\n'
        for (state, severity), n in sorted(counted.items())
    ]
    return (_family("healthmon_alerts") + "".join(lines)).encode()


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
def metrics(request: Request, runtime: AppDep) -> Response:
    now = datetime.now(UTC)
    views: MatrixViews = request.app.state.matrix_views
    expositions: Expositions = request.app.state.expositions
    view = views.current(runtime.engine, runtime.cache, now, stale_rule(runtime))
    return Response(expositions.of(view).text(now) + _alerts(runtime), media_type=CONTENT_TYPE_LATEST)


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
