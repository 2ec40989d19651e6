"""The YAML config's schema (docs/configuration.md describes every key)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Literal, get_args

from pydantic import (
    Field,
    PositiveFloat,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from healthmon.config.fields import HttpUrl, RequiredHttpUrl, StrictModel, problem, relocated, unknown_message
from healthmon.config.services import SERVICE_MODELS, ServiceConfig, metric_problem, validate_services

Severity = Literal["p1", "p2", "p3"]
ChannelName = Literal["slack", "email", "pagerduty", "webhook"]
CHANNEL_NAMES: tuple[str, ...] = get_args(ChannelName)


class SlackChannel(StrictModel):
    webhook_url: HttpUrl = None
    bot_token: str | None = None
    channel: str | None = None
    #: the Web API base for bot tokens (the sandbox stands in here)
    base_url: HttpUrl = None

    @model_validator(mode="after")
    def _one_way(self) -> SlackChannel:
        if not self.webhook_url and not (self.bot_token and self.channel):
            raise ValueError("needs webhook_url, or bot_token and channel")
        return self


class EmailChannel(StrictModel):
    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class PagerDutyChannel(StrictModel):
    routing_key: str = Field(min_length=1)
    events_url: RequiredHttpUrl = "https://events.pagerduty.com/v2/enqueue"


class WebhookChannel(StrictModel):
    url: RequiredHttpUrl
    headers: dict[str, str] = Field(default_factory=dict)


class Channels(StrictModel):
    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    pagerduty: PagerDutyChannel | None = None
    webhook: WebhookChannel | None = None


class Route(StrictModel):
    severity: list[Severity] = Field(min_length=1)
    services: list[str] | None = None
    tenants: list[str] | None = None
    channels: list[ChannelName] = Field(min_length=1)


class RunConfig(StrictModel):
    """How tier runs behave; defaults are documented in docs/configuration.md."""

    batch_size: int = Field(default=200, gt=0)
    confirm_retries: int = Field(default=1, ge=0, le=5)
    confirm_delay_s: float = Field(default=0.2, ge=0)
    #: checks in flight within one batch (one Prefect task), spread over several clients
    batch_in_flight: int = Field(default=200, gt=0)
    #: checks in flight against one upstream service across all batches of a process
    max_in_flight_per_service: int = Field(default=200, gt=0)
    #: batches of one service under way at once in a tier run: while one checks, the one
    #: before records and the next loads its targets, instead of every batch doing each
    #: step at the same moment
    batches_per_service: int = Field(default=3, gt=0)
    #: worker processes a tier's per-tenant batches are spread over (flows/dispatch.py); 1
    #: checks every batch in the flow run's own process and starts no cluster
    processes: int = Field(default=1, ge=1, le=64)
    #: a running `distributed` scheduler (tcp://host:8786) whose workers check the batches,
    #: instead of a local cluster of `processes` workers started by the flow run
    dask_address: str | None = Field(default=None, pattern=r"^(tcp|tls|inproc|ucx)://\S+$")

    @property
    def spreads(self) -> bool:
        """Whether a tier run's per-tenant batches go to worker processes (flows/dispatch.py)."""
        return self.processes > 1 or self.dask_address is not None


def _renotify_defaults() -> dict[Severity, float]:
    return {"p1": 1800.0, "p2": 7200.0, "p3": 86400.0}


class AlertingConfig(StrictModel):
    """Alert policy; docs/configuration.md gives the defaults and why."""

    open_after: int = Field(default=2, ge=1, le=20)
    resolve_after: int = Field(default=2, ge=1, le=20)
    renotify_after_s: dict[Severity, PositiveFloat] = Field(default_factory=_renotify_defaults)
    flap_changes: int = Field(default=6, ge=2)
    flap_window_s: PositiveFloat = 3600.0
    rollup_min_share: float = Field(default=0.2, gt=0, le=1)
    rollup_min_tenants: int = Field(default=3, ge=1)
    retry_base_s: PositiveFloat = 15.0
    retry_cap_s: PositiveFloat = 900.0
    max_attempts: int = Field(default=100, ge=1)
    #: seconds: an alert group's first notice waits to collect its peers; 0 sends at the next
    #: delivery pass
    group_wait: float = Field(default=30.0, ge=0, le=3600)
    #: seconds: later changes of a group go out at most this often, as one message
    group_interval: float = Field(default=300.0, ge=0, le=86400)
    #: "<tier>.<status>" -> severity, e.g. {"external.unhealthy": "p2"}; others as DESIGN.md
    severity: dict[str, Severity] = Field(default_factory=dict)

    @field_validator("severity")
    @classmethod
    def _keys(cls, severity: dict[str, Severity]) -> dict[str, Severity]:
        tiers = {"critical", "core", "integration", "external"}
        statuses = {"unhealthy", "degraded", "unknown"}
        for key in severity:
            tier, _, status = key.partition(".")
            if tier not in tiers or status not in statuses:
                raise ValueError(f"key {key!r} must be <tier>.<status>, e.g. core.unhealthy")
        return severity


class RetentionConfig(StrictModel):
    history_days: int = Field(default=30, ge=1, le=3650)
    alerts_days: int = Field(default=90, ge=1, le=3650)


class WatchdogConfig(StrictModel):
    """healthmon watching itself (docs/operations.md, "When healthmon itself fails")."""

    #: a tier, or a target's latest result, older than this many tier intervals is stale
    stale_after: float = Field(default=2.0, ge=1.0, le=100.0)
    #: pinged (GET) after every completed tier run, for an outside dead-man's switch
    heartbeat_url: HttpUrl = None
    #: how often the watchdog loop looks, in seconds
    check_every_s: PositiveFloat = 15.0


class HealthmonConfig(StrictModel):
    #: each value is its service's own model (config/services.py)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    channels: Channels = Field(default_factory=Channels)
    routes: list[Route] | None = None
    run: RunConfig = Field(default_factory=RunConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)
    dashboard_url: HttpUrl = None

    @field_validator("services", mode="before")
    @classmethod
    def _per_service(cls, raw: Any, info: ValidationInfo) -> Any:
        context = info.context if isinstance(info.context, Mapping) else {}
        return validate_services(raw, context.get("metrics"))

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checks(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # judged on the raw mapping, so that they are reported with every other problem
        found = route_problems(data) if isinstance(data, Mapping) else []
        try:
            validated = handler(data)
        except ValidationError as exc:
            raise ValidationError.from_exception_data(
                cls.__name__, [*relocated(exc.errors()), *found]
            ) from None
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return validated


def route_problems(raw: Mapping[str, Any]) -> list[InitErrorDetails]:
    """Routes may name only configured channels and known services (a typo there silently
    matches nothing). Shapes that are wrong anyway are left to the schema to report."""
    routes, channels = raw.get("routes"), raw.get("channels")
    if not isinstance(routes, list):
        return []
    configured = [str(name) for name in channels] if isinstance(channels, Mapping) else []
    found: list[InitErrorDetails] = []
    for i, route in enumerate(routes):
        if not isinstance(route, Mapping):
            continue
        named = route.get("channels")
        for j, channel in enumerate(named if isinstance(named, list) else []):
            if channel in CHANNEL_NAMES and channel not in configured:
                message = f"channel {channel} is not configured under channels"
                message += f" (configured: {', '.join(configured)})" if configured else " (none is)"
                found.append(problem("unconfigured_channel", ("routes", i, "channels", j), message, channel))
        services = route.get("services")
        for j, service in enumerate(services if isinstance(services, list) else []):
            if isinstance(service, str) and service not in SERVICE_MODELS:
                message = unknown_message("service", service, SERVICE_MODELS, list_known=True)
                found.append(problem("unknown_service", ("routes", i, "services", j), message, service))
    return found


def threshold_metric_problems(
    config: HealthmonConfig, metrics: Mapping[str, Collection[str]]
) -> list[tuple[str, str]]:
    """(key, message) for every `services.<s>.thresholds.<metric>` its monitor does not emit."""
    found = []
    for service, svc in config.services.items():
        for metric in svc.thresholds:
            message = metric_problem(service, metric, metrics)
            if message is not None:
                found.append((f"services.{service}.thresholds.{metric}", message))
    return found
