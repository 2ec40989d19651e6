"""Request and response models: what the OpenAPI schema promises, field by field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonDict

from healthmon.alerting.lifecycle import AlertState as AlertState  # alerting owns the states
from healthmon.alerting.notification import Severity
from healthmon.api.formats import LatencyMs, UtcTime
from healthmon.api.inputs import MAX_ID, SafeText, ServiceName, TenantId, Timestamp
from healthmon.monitors.result import Status, Tier


class FieldProblem(BaseModel):
    field: str = Field(
        description="the parameter or body field at fault, e.g. `tier` or `integrations.shopify`"
    )
    message: str


class Problem(BaseModel):
    detail: str = Field(description="what is wrong, naming the field or resource")
    errors: list[FieldProblem] | None = Field(default=None, description="every field problem (422 only)")


# -- health -----------------------------------------------------------------------------------


class StatusCounts(BaseModel):
    healthy: int
    degraded: int
    unhealthy: int
    unknown: int


STALE_RULE = (
    "stale: the latest result is older than `watchdog.stale_after` (default 2) x the tier's interval"
)
AGE = "seconds since checked_at, when the answer was made"


class ServiceSummary(BaseModel):
    service: str
    tier: Tier | None = Field(description="null while the service has no result yet")
    status: Status = Field(
        description="the worst status among its targets; unknown at least while one of them is "
        "stale or missing (a stale failure stays the failure it was); unknown with no result yet"
    )
    targets: int = Field(description="checked targets: 1 for a platform service, one per tenant otherwise")
    counts: StatusCounts = Field(description="targets by their latest recorded status, stale or not")
    stale: int = Field(description=f"targets whose latest result is stale ({STALE_RULE})")
    missing: int = Field(description="targets that should be checked and have no result at all")
    max_age_s: float | None = Field(description="age of its oldest latest result, in seconds")
    checked_at: UtcTime | None = Field(description="the newest result among its targets")


class PlatformHealth(BaseModel):
    status: Status = Field(
        description="the worst status of every service: never healthy while a target is stale or "
        "missing. Only targets that should be checked count (enabled platform services in the "
        "config, enabled tenants' integrations): a disabled tenant's old result does not"
    )
    targets: int = Field(description="targets counted, with a result")
    counts: StatusCounts = Field(description="targets counted, by their latest recorded status")
    stale: int = Field(description=f"targets counted whose latest result is stale ({STALE_RULE})")
    missing: int = Field(description="targets that should be checked and have no result at all")
    max_age_s: float | None = Field(description="age of the oldest latest result counted, in seconds")
    stale_after: float = Field(description="the stale rule in use, in tier intervals")
    services: list[ServiceSummary]
    generated_at: UtcTime


class TargetStatus(BaseModel):
    """The latest result of one service for one target (a tenant, or the platform)."""

    service: str
    tenant: str | None = Field(description="null for a platform service")
    tenant_name: str | None = Field(
        default=None,
        description="the tenant's display name, shown beside its id; null for a tenant without one "
        "and for a platform service",
    )
    tier: Tier
    status: Status = Field(description="the latest recorded status (see `stale` for how old it is)")
    latency_ms: LatencyMs | None
    checked_at: UtcTime | None = Field(description="null when the target has no result yet")
    since: UtcTime | None = Field(description="when the status last changed")
    reason: str | None
    details: dict[str, Any] = Field(description="metrics and facts of the check; never a secret")
    age_s: float | None = Field(description=f"{AGE}; null with no result yet")
    stale: bool = Field(description=f"{STALE_RULE}; true with no result yet")


class ServiceHealth(BaseModel):
    """One service; its targets a page at a time (`limit`, `cursor`), its totals over all of them
    (taken from the matrix view, which a writer invalidates at once with Redis)."""

    service: str
    tier: Tier
    per_tenant: bool
    status: Status = Field(
        description="the worst status of all its targets (every page); unknown at least while a "
        "target that should be checked is stale"
    )
    counts: StatusCounts = Field(description="every target of the service by status, on every page")
    stale: int = Field(description="targets of the service whose latest result is stale, on every page")
    total: int = Field(description="targets of the service, on every page")
    limit: int = Field(description="the most targets a page lists (the `limit` asked, default 200)")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )
    targets: list[TargetStatus] = Field(description="this page's targets, in tenant-id order")
    generated_at: UtcTime


class TenantRef(BaseModel):
    id: str
    name: str
    enabled: bool


class TenantHealth(BaseModel):
    tenant: TenantRef
    status: Status = Field(
        description="the worst status of the tenant's services; unknown at least while one that "
        "should be checked (an enabled tenant's integration) is stale or never checked"
    )
    counts: StatusCounts
    stale: int = Field(description="services listed without a fresh result (stale or never checked)")
    services: list[TargetStatus] = Field(
        description="each integration of the tenant; one never checked yet is unknown, checked_at null"
    )
    generated_at: UtcTime


MatrixCell = tuple[
    str, str | None, Tier, Status, LatencyMs | None, UtcTime, UtcTime, str | None, float, bool
]


class Matrix(BaseModel):
    """Compact on purpose (1,000 tenants x 17 services in one answer): cells are arrays whose
    positions `fields` names."""

    fields: list[str] = Field(
        description="names of a cell's positions: service, tenant, tier, status, latency_ms, "
        f"checked_at, since, reason, age_s ({AGE}), stale ({STALE_RULE})"
    )
    services: list[str] = Field(description="services present in `cells`, sorted")
    tenants: list[str] = Field(description="tenants present in `cells`, sorted (platform cells have none)")
    tenant_names: dict[str, str] = Field(
        description="display names of the tenants in `tenants` that have one, id -> name (read at "
        "every request, so a rename shows at once); a tenant without one is shown by its id alone"
    )
    counts: StatusCounts = Field(description="cells by status, after the filters")
    stale: int = Field(description="stale cells, after the filters")
    cells: list[MatrixCell]
    generated_at: UtcTime


class Healthz(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]


# -- alerts -----------------------------------------------------------------------------------


class Alert(BaseModel):
    id: int
    signature: str = Field(description="service|tenant|condition: one live alert per signature")
    group: str = Field(
        description="service|condition: its alert group, the same condition across tenants "
        "(`GET /api/alerts?group=...`, bulk acknowledge and resolve)"
    )
    service: str
    tenant: str | None
    tenant_name: str | None = Field(
        default=None, description="the tenant's display name; null without one, and for the platform"
    )
    condition: str
    severity: Severity
    status: AlertState
    title: str
    details: dict[str, Any]
    count: int = Field(description="how many times the condition was seen")
    first_seen: UtcTime
    last_seen: UtcTime
    last_notified_at: UtcTime | None
    notified_severity: Severity | None = Field(description="null: never notified (held back)")
    acknowledged_by: str | None
    acknowledged_at: UtcTime | None
    resolved_by: str | None = Field(description="a token or user name, or `recovery`")
    resolved_at: UtcTime | None
    flapping: bool
    held: str | None = Field(description="why notifications are held back: `silence:<id>` or `rollup`")
    note: str | None = Field(description="the latest note given on acknowledge or resolve")


class Delivery(BaseModel):
    id: int
    channel: str
    kind: str = Field(description="trigger, escalate, renotify, acknowledge or resolve")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: UtcTime
    next_attempt_at: UtcTime | None
    delivered_at: UtcTime | None
    last_error: str | None


class AlertDetail(Alert):
    deliveries: list[Delivery]


class AlertList(BaseModel):
    alerts: list[Alert] = Field(description="newest first")
    limit: int
    offset: int


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: SafeText | None = Field(default=None, max_length=1000)


MAX_BULK_IDS = 1000
def _whole_number(value: object) -> int:
    """JSON's integers, however written (`891` or `891.0`, as JSON Schema allows); never a
    string, a bool or a fraction."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


# the bounds come before the whole-number check that wraps them, so the schema says minimum/maximum
AlertIdIn = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_whole_number)]
Weekday = Annotated[int, Field(ge=0, le=6), BeforeValidator(_whole_number)]
GROUP_KEY_MAX = 121  # service (40) | condition (80)


#: flows.alerts.parse_group's rule, so that the schema says what a key looks like
GroupKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}\|[A-Za-z0-9_.:-]{1,80}$")]


_GIVEN_IDS: JsonDict = {"required": ["ids"], "properties": {"ids": {"type": "array"}}}
_GIVEN_GROUP: JsonDict = {"required": ["group"], "properties": {"group": {"type": "string"}}}


class BulkChangeIn(BaseModel):
    """Which alerts: `ids` or `group`, exactly one of them (the schema says so with `oneOf`)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [_GIVEN_IDS, _GIVEN_GROUP]}
    )

    ids: list[AlertIdIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BULK_IDS,
        description=f"alert ids, 1 to {MAX_BULK_IDS:,}; every one must exist (else 404, nothing changed)",
    )
    group: GroupKey | None = Field(
        default=None,
        description="a group key service|condition, e.g. meta_ads|health: every live alert of the group",
    )
    note: SafeText | None = Field(default=None, max_length=1000, description="kept on every alert changed")

    @model_validator(mode="after")
    def _one_target(self) -> BulkChangeIn:
        if (self.ids is None) == (self.group is None):
            raise ValueError("give exactly one of ids and group")
        return self


class BulkChangeOut(BaseModel):
    unchanged: list[int] = Field(
        description="found and already in that state (an acknowledge of a resolved alert is here, "
        "not an error)"
    )
    not_found: list[int] = Field(description="ids that vanished between the check and the change")
    notices: int = Field(description="notifications queued; they are sent right after the answer")


class AcknowledgedMany(BulkChangeOut):
    acknowledged: list[int] = Field(description="alerts this call acknowledged")


class ResolvedMany(BulkChangeOut):
    resolved: list[int] = Field(description="alerts this call resolved")


# -- thresholds -------------------------------------------------------------------------------


class Rule(BaseModel):
    metric: str
    degraded: float | None
    unhealthy: float | None
    inverse: bool = Field(description="true: below is worse (headroom, days left); false: above is worse")
    source: Literal["default", "config", "service override", "tenant override"]


class Thresholds(BaseModel):
    service: str
    tenant: str | None
    metrics: list[str] = Field(description="metrics of this service a threshold can be set on")
    rules: list[Rule] = Field(description="the effective rule of each metric, with where it comes from")


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    degraded: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    unhealthy: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    inverse: StrictBool = False
    tenant: TenantId | None = Field(
        default=None, description="set a tenant's override; omit for service-wide"
    )


class ThresholdPreviewIn(ThresholdIn):
    """The body of PUT /api/thresholds/{service}/{metric}, plus the metric."""

    metric: str = Field(description="the metric whose rule is proposed, one the service reports")


class ReplayCounts(BaseModel):
    alerts: int = Field(description="alerts that would have opened (per target; the rollup is not replayed)")
    resolved: int = Field(description="of those, how many would have resolved by recovery")
    tenants: int = Field(description="tenants that would have had an alert (0 for a platform service)")
    degraded_s: float = Field(description="time spent degraded, summed over targets, in seconds")
    unhealthy_s: float = Field(description="time spent unhealthy, summed over targets, in seconds")


class ThresholdPreview(BaseModel):
    window_days: int = Field(description="the history replayed: the last this many days")
    current: ReplayCounts = Field(description="what the rule in force did")
    proposed: ReplayCounts = Field(description="what the proposed rule would have done")


# -- tenants ----------------------------------------------------------------------------------


class Tenant(BaseModel):
    id: str
    name: str
    enabled: bool
    integrations: dict[str, dict[str, Any]] = Field(
        description="each integration's non-secret settings; credentials are never returned"
    )


class TenantList(BaseModel):
    tenants: list[Tenant]


SettingKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
SettingValue = Annotated[SafeText, StringConstraints(max_length=4000)]


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TenantId = Field(description="1-64 lowercase letters, digits, '-' or '_'")
    name: Annotated[SafeText, StringConstraints(min_length=1, max_length=200)] | None = None
    enabled: StrictBool = Field(default=True, description="a disabled tenant is stored but not checked")
    integrations: dict[SettingKey, dict[SettingKey, SettingValue]] = Field(
        default_factory=dict,
        description='integration -> its settings, e.g. {"shopify": {"shop": "acme.myshopify.com", '
        '"access_token": "..."}}; secrets are encrypted at rest and never returned',
    )


# -- silences ---------------------------------------------------------------------------------


class RecurrenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekdays: list[Weekday] = Field(
        default_factory=lambda: list(range(7)), description="0 = Monday .. 6 = Sunday"
    )
    start: Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")] = Field(description="HH:MM, UTC")
    duration_min: StrictFloat = Field(gt=0, le=7 * 24 * 60, allow_inf_nan=False)


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: ServiceName | None = Field(
        default=None, description="match this service (with no tenant: for every tenant and the platform)"
    )
    tenant: TenantId | None = Field(
        default=None, description="match this tenant, an existing one (with no service: all its services)"
    )
    everything: StrictBool = Field(
        default=False,
        description="true: every service of every tenant and the platform; only without service and "
        "tenant. A silence needs service, tenant or this",
    )
    starts_at: Timestamp | None = Field(default=None, description="default: now")
    ends_at: Timestamp | None = Field(default=None, description="give this or duration_min")
    duration_min: StrictFloat | None = Field(default=None, gt=0, le=366 * 24 * 60, allow_inf_nan=False)
    reason: Annotated[SafeText, StringConstraints(min_length=1, max_length=500)] = Field(
        description="why: a comment shown wherever silences are listed (not blank)"
    )
    recurrence: RecurrenceIn | None = Field(
        default=None,
        description="a weekly window; starts_at..ends_at (default one year) bound when it recurs",
    )


class SilenceOut(BaseModel):
    id: int
    service: str | None
    tenant: str | None
    everything: bool = Field(description="it matches every service of every tenant and the platform")
    starts_at: UtcTime
    ends_at: UtcTime
    recurrence: dict[str, Any] | None
    reason: str = Field(description="the comment it was made with")
    created_by: str | None = Field(
        description="who made it: a token's or a dashboard user's name, or a CLI user"
    )
    created_at: UtcTime
    ended_at: UtcTime | None
    active_now: bool = Field(description="whether it holds notifications back at this moment")


class SilenceList(BaseModel):
    silences: list[SilenceOut] = Field(description="newest first")


class UptimeWindows(BaseModel):
    """Share of observed time up (0..1), time-weighted; null when a window has no data."""

    model_config = ConfigDict(populate_by_name=True)

    h24: float | None = Field(alias="24h")
    d7: float | None = Field(alias="7d")
    d30: float | None = Field(alias="30d")


class BurnRates(BaseModel):
    """How many times faster than sustainable each window spends the error budget."""

    model_config = ConfigDict(populate_by_name=True)

    m5: float | None = Field(alias="5m")
    m30: float | None = Field(alias="30m")
    h1: float | None = Field(alias="1h")
    h6: float | None = Field(alias="6h")
    d3: float | None = Field(alias="3d")


class Slo(BaseModel):
    service: str
    tenant: str | None = Field(
        description="the target's tenant; null for a platform service or the whole service"
    )
    uptime: UptimeWindows
    objective: float | None = Field(
        description="percent of time up, from services.<s>.slo; null without an SLO"
    )
    window_days: int | None = Field(description="the SLO's window; null without an SLO")
    budget_remaining: float | None = Field(
        description="share of the window's error budget left (1 untouched, below 0 overspent); null without "
        "an SLO or without data"
    )
    burn_rates: BurnRates | None = Field(description="null without an SLO")
    generated_at: UtcTime
