"""The YAML config's schema (docs/configuration.md describes every key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_validator

Severity = Literal["p1", "p2", "p3"]
ChannelName = Literal["slack", "email", "pagerduty", "webhook"]


class ThresholdConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    degraded: float | None = None
    unhealthy: float | None = None
    inverse: bool = False


class ServiceConfig(BaseModel):
    """Known keys are typed; any other key is a service option or credential (per service)."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    base_url: str | None = None
    timeout_s: PositiveFloat | None = None
    thresholds: dict[str, ThresholdConfig] = Field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """Everything a monitor is handed: base_url plus the service's own keys."""
        extra = dict(self.model_extra or {})
        if self.base_url is not None:
            extra["base_url"] = self.base_url
        return extra


class SlackChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook_url: str | None = None
    bot_token: str | None = None
    channel: str | None = None
    #: the Web API base for bot tokens (the sandbox stands in here)
    base_url: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SlackChannel:
        if not self.webhook_url and not (self.bot_token and self.channel):
            raise ValueError("needs webhook_url, or bot_token and channel")
        return self


class EmailChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str
    port: int = Field(default=587, gt=0, lt=65536)
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    ssl: bool = False
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class PagerDutyChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    routing_key: str = Field(min_length=1)
    events_url: str = "https://events.pagerduty.com/v2/enqueue"


class WebhookChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class Channels(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slack: SlackChannel | None = None
    email: EmailChannel | None = None
    pagerduty: PagerDutyChannel | None = None
    webhook: WebhookChannel | None = None


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: list[Severity] = Field(min_length=1)
    services: list[str] | None = None
    tenants: list[str] | None = None
    channels: list[ChannelName] = Field(min_length=1)


class RunConfig(BaseModel):
    """How tier runs behave; defaults are documented in docs/configuration.md."""

    model_config = ConfigDict(extra="forbid")
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


def _renotify_defaults() -> dict[Severity, float]:
    return {"p1": 1800.0, "p2": 7200.0, "p3": 86400.0}


class AlertingConfig(BaseModel):
    """Alert policy; docs/configuration.md gives the defaults and why."""

    model_config = ConfigDict(extra="forbid")
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
    #: "<tier>.<status>" -> severity, e.g. {"external.unhealthy": "p2"}; others as DESIGN.md
    severity: dict[str, Severity] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys(self) -> AlertingConfig:
        tiers = {"critical", "core", "integration", "external"}
        statuses = {"unhealthy", "degraded", "unknown"}
        for key in self.severity:
            tier, _, status = key.partition(".")
            if tier not in tiers or status not in statuses:
                raise ValueError(f"severity key {key!r} must be <tier>.<status>, e.g. core.unhealthy")
        return self


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history_days: int = Field(default=30, ge=1, le=3650)
    alerts_days: int = Field(default=90, ge=1, le=3650)


class WatchdogConfig(BaseModel):
    """healthmon watching itself (docs/operations.md, "When healthmon itself fails")."""

    model_config = ConfigDict(extra="forbid")
    #: a tier, or a target's latest result, older than this many tier intervals is stale
    stale_after: float = Field(default=2.0, ge=1.0, le=100.0)
    #: pinged (GET) after every completed tier run, for an outside dead-man's switch
    heartbeat_url: str | None = None
    #: how often the watchdog loop looks, in seconds
    check_every_s: PositiveFloat = 15.0


class HealthmonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    channels: Channels = Field(default_factory=Channels)
    routes: list[Route] | None = None
    run: RunConfig = Field(default_factory=RunConfig)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    watchdog: WatchdogConfig = Field(default_factory=WatchdogConfig)
    dashboard_url: str | None = None
