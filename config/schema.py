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
    http_clients_in_flight: int = Field(default=20, gt=0)


class HealthmonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    channels: Channels = Field(default_factory=Channels)
    routes: list[Route] | None = None
    run: RunConfig = Field(default_factory=RunConfig)
    dashboard_url: str | None = None
