"""Quiet hours: non-urgent SME messages are not sent between 21:00 and 08:00 Asia/Seoul.

They are deferred, not dropped: the consumer puts the message back on the notification queue with
``DelaySeconds`` (at most 900, SQS's limit) and a ``deliver_after`` instant, and the message hops
until that instant has passed (see docs/notifications.md for why this and not a stored item
released by a schedule)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from ..korea import SEOUL


def in_quiet_hours(now: datetime, start_hour: int = 21, end_hour: int = 8) -> bool:
    local = now.astimezone(SEOUL).time()
    start, end = time(start_hour), time(end_hour)
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def release_at(now: datetime, start_hour: int = 21, end_hour: int = 8) -> datetime | None:
    """The instant a non-urgent message may go: None when ``now`` is outside the quiet hours, else
    the next ``end_hour``:00 Asia/Seoul (23:00 -> 08:00 the next day; 02:00 -> 08:00 the same day)."""
    if not in_quiet_hours(now, start_hour, end_hour):
        return None
    local = now.astimezone(SEOUL)
    release = datetime.combine(local.date(), time(end_hour), SEOUL)
    if release <= local:
        release += timedelta(days=1)
    return release


def next_hop_seconds(now: datetime, deliver_after: datetime, chunk: int = 900) -> int:
    """Delay for the next hop: the time left, capped at ``chunk`` (SQS allows 0..900)."""
    remaining = (deliver_after - now).total_seconds()
    return max(0, min(int(chunk), int(remaining + 0.999)))
