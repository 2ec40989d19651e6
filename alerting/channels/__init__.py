"""Alert delivery channels: Slack, email, PagerDuty and a generic webhook.

Each channel is built from explicit parameters (the flows layer reads the config) and
implements `alerting.notification.Channel`: `send` returns `Sent` or raises `DeliveryError`.
"""

from healthmon.alerting.channels.email import EmailChannel
from healthmon.alerting.channels.pagerduty import PagerDutyChannel
from healthmon.alerting.channels.slack import SlackChannel
from healthmon.alerting.channels.webhook import WebhookChannel

__all__ = ["EmailChannel", "PagerDutyChannel", "SlackChannel", "WebhookChannel"]
