"""Sending queued notifications: claimed rows, channels concurrently, each outcome recorded at once.

A notification row exists before it is sent (alerting.outbox.apply_decision), so a crash
loses nothing. A claim (lease) keeps two senders from sending the same row, and only the
oldest pending row of each (alert, channel) can be claimed, so a channel hears of one alert's
transitions in the order they happened (the ordering rule of ports.DeliveryQueue). Each send's outcome is
committed as soon as that send ends, and the next row of its queue is claimed right after.

Notices of an alert group (p2/p3 tenant alerts of one service and condition; see
alerting.outbox.batched_in) are queued due when their group is and claimed together per group
and channel (DeliveryQueue.claim_groups): one message says what opened, resolved and was
acknowledged, and each row's outcome is settled as if it had been sent alone.

The one window left is a sender that dies after the channel accepted a message and before
its row is marked delivered: that row (and only the rows whose sends were in flight) is sent
again when its lease ends. PagerDuty deduplicates by dedup_key, the webhook carries an
Idempotency-Key and email a stable Message-ID; a Slack message can repeat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from healthmon.alerting.notification import Channel, DeliveryError, Sent
from healthmon.alerting.outbox import group_notification, notification
from healthmon.alerting.policy import AlertPolicy
from healthmon.alerting.ports import ClaimedGroup, ClaimedRow, DeliveryQueue, Outcome, SendState

#: longer than any channel's own timeout, so a lease never ends while its send still runs
LEASE_S = 120.0
#: rows in flight at once per deliver() call
IN_FLIGHT = 200


@dataclass
class ChannelCounts:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class GaveUp:
    """A notification given up on for good, for the deliver run's log."""

    delivery_id: int
    alert_id: int
    channel: str
    kind: str
    attempts: int | None
    error: str


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    #: acknowledge/resolve notices not sent because their channel never got the trigger
    #: (it failed for good); their rows are failed too, and counted here, not in `failed`
    skipped: int = 0
    #: group messages tried (each carried one or more of the rows counted above)
    groups: int = 0
    #: the same counts per channel that had something due, and what was given up on, for a
    #: run's log (left out of ==, which compares the totals)
    channels: dict[str, ChannelCounts] = field(default_factory=dict, compare=False)
    gave_up: list[GaveUp] = field(default_factory=list, compare=False)

    @property
    def tried(self) -> int:
        return self.delivered + self.retrying + self.failed + self.skipped

    def count(self, row: ClaimedRow, outcome: Outcome) -> None:
        per = self.channels.setdefault(row.channel, ChannelCounts())
        if outcome.state is SendState.DELIVERED:
            self.delivered += 1
            per.delivered += 1
        elif outcome.state is SendState.PENDING:
            self.retrying += 1
            per.retrying += 1
        else:
            self.failed += 1
            per.failed += 1
            error = outcome.error or "no error recorded"
            self.gave_up.append(GaveUp(row.id, row.alert_id, row.channel, row.kind, outcome.attempts, error))

    def count_skipped(self, channel: str, skipped: int) -> None:
        self.skipped += skipped
        self.channels.setdefault(channel, ChannelCounts()).skipped += skipped

    def add(self, other: DeliveryReport) -> None:
        """Another call's counts added to these (a deliver run that keeps delivering)."""
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed
        self.skipped += other.skipped
        self.groups += other.groups
        for name, c in other.channels.items():
            per = self.channels.setdefault(name, ChannelCounts())
            per.delivered += c.delivered
            per.retrying += c.retrying
            per.failed += c.failed
            per.skipped += c.skipped
        self.gave_up += other.gave_up


def _outcome(
    row: ClaimedRow,
    error: Exception | None,
    ref: str | None,
    policy: AlertPolicy,
    at: datetime,
    tries: int | None = None,
) -> Outcome:
    """How a send of `row` ended; `tries` (default the row's attempts) sets the backoff, so the
    rows of one group message back off together and go out together again."""
    if error is None:
        return Outcome(row.id, SendState.DELIVERED, ref=ref, attempts=row.attempts)
    if isinstance(error, DeliveryError):
        if not error.retryable or row.attempts >= policy.max_attempts:
            return Outcome(row.id, SendState.FAILED, error=error.reason[:500], attempts=row.attempts)
        reason = error.reason[:500]
    else:  # a channel bug must not lose the row: retry it like a transient failure
        reason = f"channel error: {type(error).__name__}"
    retry_at = at + timedelta(seconds=policy.retry_delay_s(row.attempts if tries is None else tries))
    return Outcome(row.id, SendState.PENDING, error=reason, next_attempt_at=retry_at, attempts=row.attempts)


async def _send_and_settle(
    queue: DeliveryQueue,
    rows: Sequence[ClaimedRow],
    group: ClaimedGroup | None,
    channels: Mapping[str, Channel],
    policy: AlertPolicy,
    now: Callable[[], datetime],
) -> tuple[list[Outcome], list[int]]:
    """One message: a row on its own, or a group's rows; every row gets the message's outcome."""
    name = rows[0].channel
    channel = channels.get(name)
    tries = max(r.attempts for r in rows)
    error: Exception | None = None
    sent = Sent()
    if channel is None:
        error = DeliveryError(f"channel {name} is not configured", retryable=False)
    else:
        try:
            if group is None:
                sent = await channel.send(notification(rows[0]))
            else:
                sent = await channel.send_group(group_notification(group))
        except Exception as exc:
            error = exc
    at = now()
    outcomes = [_outcome(row, error, sent.ref, policy, at, tries) for row in rows]
    # Recorded now, not with the rest of the batch: a sender killed later re-sends only what
    # was still in flight.
    skipped = await asyncio.to_thread(queue.settle, outcomes, now())
    return outcomes, skipped


async def deliver(
    queue: DeliveryQueue,
    channels: Mapping[str, Channel],
    policy: AlertPolicy,
    ids: Sequence[int] | None = None,
    ignore_backoff: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    lease_s: float = LEASE_S,
) -> DeliveryReport:
    """Send what is due (or exactly `ids`), all channels at once; returns what happened.

    Whenever sends end, what they unblocked (the next row of the same alert and channel) is
    claimed, so one call drains a trigger and its resolve in order once the channel answers.
    Each row is tried at most once per call, even when backoff is ignored."""
    report = DeliveryReport()
    done: list[int] = []
    claimed: dict[int, ClaimedRow] = {}
    running: set[asyncio.Task[tuple[list[Outcome], list[int]]]] = set()
    try:
        while True:
            room = IN_FLIGHT - len(running)
            rows = (
                await asyncio.to_thread(queue.claim, now(), lease_s, ids, ignore_backoff, room, done)
                if room > 0
                else []
            )
            room -= len(rows)
            groups = (
                await asyncio.to_thread(queue.claim_groups, now(), lease_s, ids, ignore_backoff, room, done)
                if room > 0
                else []
            )
            done += [r.id for r in rows] + [r.id for g in groups for r in g.rows]
            claimed.update((r.id, r) for r in [*rows, *(r for g in groups for r in g.rows)])
            report.groups += len(groups)
            messages = [([row], None) for row in rows] + [(g.rows, g) for g in groups]
            for members, group in messages:
                running.add(
                    asyncio.create_task(_send_and_settle(queue, members, group, channels, policy, now))
                )
            if not running:
                return report
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                outcomes, skipped = task.result()
                for outcome in outcomes:
                    report.count(claimed[outcome.id], outcome)
                if skipped and outcomes:
                    # follow-ups of the settled rows' alert and channel, never claimed themselves
                    report.count_skipped(claimed[outcomes[0].id].channel, len(skipped))
    finally:
        # Cancelled (or a settle failed): sends still in flight stop; their rows keep their
        # lease and are sent again after it, like a killed sender's.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
