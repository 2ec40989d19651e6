"""Alert delivery channels: Slack, email, PagerDuty and a generic webhook.

Each channel is built from explicit parameters (the flows layer reads the config) and
implements `alerting.notification.Channel`: `send` returns `Sent` or raises `DeliveryError`.
"""

from alerting.channels.email import EmailChannel
from alerting.channels.pagerduty import PagerDutyChannel
from alerting.channels.slack import SlackChannel
from alerting.channels.webhook import WebhookChannel

__all__ = ["EmailChannel", "PagerDutyChannel", "SlackChannel", "WebhookChannel"]
