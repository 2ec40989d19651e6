"""Sending queued notifications: claimed rows, channels concurrently, every outcome recorded.

A notification row exists before it is sent (storage.alerts.apply_decision), so a crash
loses nothing. A claim (lease) keeps two senders from sending the same row. The one window
left is a sender that dies after the channel accepted a message and before the row is marked
delivered: the row is sent again when its lease ends. PagerDuty deduplicates by dedup_key, the
webhook carries an Idempotency-Key and email a stable Message-ID; a Slack message can repeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from alerting.notification import Channel, DeliveryError
from alerting.policy import AlertPolicy
from storage.alerts import DeliveryRow, claim, settle

#: longer than any channel's own timeout, so a lease never ends while its send still runs
LEASE_S = 120.0


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


async def _send(
    row: DeliveryRow, channels: Mapping[str, Channel], policy: AlertPolicy, now: Callable[[], datetime]
) -> tuple[int, str, str | None, str | None, datetime | None]:
    channel = channels.get(row.channel)
    if channel is None:
        return (row.id, "failed", None, f"channel {row.channel} is not configured", None)
    try:
        sent = await channel.send(row.notification())
    except DeliveryError as exc:
        if not exc.retryable or row.attempts >= policy.max_attempts:
            return (row.id, "failed", None, exc.reason[:500], None)
        retry_at = now() + timedelta(seconds=policy.retry_delay_s(row.attempts))
        return (row.id, "pending", None, exc.reason[:500], retry_at)
    except Exception as exc:  # a channel bug must not lose the row: retry it like a transient failure
        retry_at = now() + timedelta(seconds=policy.retry_delay_s(row.attempts))
        return (row.id, "pending", None, f"channel error: {type(exc).__name__}", retry_at)
    return (row.id, "delivered", sent.ref, None, None)


async def deliver(
    engine: Engine,
    channels: Mapping[str, Channel],
    policy: AlertPolicy,
    ids: Sequence[int] | None = None,
    ignore_backoff: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DeliveryReport:
    """Send what is due (or exactly `ids`), all channels at once; returns what happened."""
    report = DeliveryReport()
    done: list[int] = []  # each row is tried once per call, even when backoff is ignored
    while True:
        rows = await asyncio.to_thread(claim, engine, now(), LEASE_S, ids, ignore_backoff, 200, done)
        if not rows:
            return report
        done += [r.id for r in rows]
        outcomes = await asyncio.gather(*(_send(r, channels, policy, now) for r in rows))
        await asyncio.to_thread(settle, engine, outcomes, now())
        for _id, state, *_ in outcomes:
            if state == "delivered":
                report.delivered += 1
            elif state == "pending":
                report.retrying += 1
            else:
                report.failed += 1
