"""A notification channel's send that must fail, and must not show a secret while it does."""

from __future__ import annotations

import pytest

from healthmon.alerting.notification import Channel, DeliveryError, Notification


async def send_refused(channel: Channel, notification: Notification, *secrets: str) -> DeliveryError:
    """The DeliveryError `channel` raises for `notification`; its reason names none of `secrets`,
    since reasons are logged and stored with the delivery."""
    with pytest.raises(DeliveryError) as caught:
        await channel.send(notification)
    for secret in secrets:
        assert secret not in caught.value.reason
    return caught.value
