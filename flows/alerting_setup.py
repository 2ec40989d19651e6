"""The alert policy, router and channels, built from the YAML config for one process."""

from __future__ import annotations

from dataclasses import dataclass, fields

from healthmon.alerting.notification import Channel, Severity
from healthmon.alerting.policy import DEFAULT_SEVERITY, AlertPolicy
from healthmon.alerting.routing import Route, Router, default_routes
from healthmon.config.schema import AlertingConfig, Channels, HealthmonConfig
from healthmon.config.schema import Route as RouteConfig
from healthmon.monitors.result import Status, Tier


def build_policy(cfg: AlertingConfig) -> AlertPolicy:
    """The policy's plain fields come from the config's fields of the same name (the config
    validates them and gives the defaults docs/configuration.md documents); the two keyed by
    tier, status or severity are turned into alerting's own types."""
    severity = dict(DEFAULT_SEVERITY)
    for key, value in cfg.severity.items():
        tier, _, status = key.partition(".")
        severity[(Tier(tier), Status(status))] = Severity(value)
    keyed = {"severity", "renotify_after_s"}
    plain = {f.name: getattr(cfg, f.name) for f in fields(AlertPolicy) if f.name not in keyed}
    return AlertPolicy(
        severity=severity,
        renotify_after_s={Severity(k): v for k, v in cfg.renotify_after_s.items()},
        **plain,
    )


def configured_channels(channels: Channels) -> list[str]:
    return [
        name for name in ("slack", "email", "pagerduty", "webhook") if getattr(channels, name) is not None
    ]


def build_router(channels: Channels, routes: list[RouteConfig] | None) -> Router:
    configured = configured_channels(channels)
    if routes is None:
        return Router(default_routes(configured), configured)
    return Router(
        [
            Route(
                severities=frozenset(Severity(s) for s in r.severity),
                channels=tuple(r.channels),
                services=frozenset(r.services) if r.services is not None else None,
                tenants=frozenset(r.tenants) if r.tenants is not None else None,
            )
            for r in routes
        ],
        configured,
    )


def build_channels(channels: Channels) -> dict[str, Channel]:
    from healthmon.alerting.channels.email import EmailChannel
    from healthmon.alerting.channels.pagerduty import PagerDutyChannel
    from healthmon.alerting.channels.slack import SlackChannel
    from healthmon.alerting.channels.webhook import WebhookChannel

    built: dict[str, Channel] = {}
    if channels.slack is not None:
        slack = channels.slack
        built["slack"] = (
            SlackChannel(slack.webhook_url, slack.bot_token, slack.channel, slack.base_url)
            if slack.base_url
            else SlackChannel(slack.webhook_url, slack.bot_token, slack.channel)
        )
    if channels.email is not None:
        e = channels.email
        built["email"] = EmailChannel(
            host=e.host,
            port=e.port,
            username=e.username,
            password=e.password,
            starttls=e.starttls,
            ssl=e.ssl,
            sender=e.from_,
            recipients=list(e.to),
        )
    if channels.pagerduty is not None:
        built["pagerduty"] = PagerDutyChannel(
            routing_key=channels.pagerduty.routing_key, events_url=channels.pagerduty.events_url
        )
    if channels.webhook is not None:
        built["webhook"] = WebhookChannel(url=channels.webhook.url, headers=dict(channels.webhook.headers))
    return built


@dataclass(frozen=True)
class Alerting:
    """What the alert lifecycle and delivery need from the config: built once per App
    (channels hold settings, not per-run state)."""

    policy: AlertPolicy
    router: Router
    channels: dict[str, Channel]
    dashboard_url: str | None


def build_alerting(config: HealthmonConfig) -> Alerting:
    return Alerting(
        build_policy(config.alerting),
        build_router(config.channels, config.routes),
        build_channels(config.channels),
        config.dashboard_url,
    )
