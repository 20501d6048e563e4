"""Per-recipient message caps: the public intake must not become a free message pump.

Whoever types a phone number or an address into the public form decides where the government's
sender writes. However many cases name one recipient, at most ``cap`` messages per channel reach
it per Seoul calendar day; beyond that the attempt is recorded as ``suppressed`` (reason
``recipient_daily_cap``) and no provider is called. The check runs in one place, the notifier's
delivery (``Notifier.deliver``), after the durable claim and before any provider call, so a
redelivered message never counts twice (the claim stops it first).

Counter items live in the cases table, keyed by a hash of the recipient (never the number or
address in clear), one per (channel, recipient, Seoul day), expiring by the table's TTL two days
later (``CaseStore.count_message_to``).

The cap comes from ``NOTIFY_RECIPIENT_DAILY_CAP`` (template.yaml sets it for every function;
``SOS1379_NOTIFY_RECIPIENT_DAILY_CAP`` overrides it on the local stack). 0 or unset: no cap.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from .. import korea

SUPPRESSED = "suppressed"
REASON_CAP = "recipient_daily_cap"


def daily_cap() -> int:
    from ..settings import get_settings

    return max(0, get_settings().limits.recipient_daily_cap)


def count_message(store, channel: str, recipient: str, now: datetime, cap: int) -> bool:
    """Count one message to ``recipient`` today (Seoul); False (nothing counted) once ``cap`` were sent."""
    return store.count_message_to(channel, recipient, f"{now.astimezone(korea.SEOUL):%Y%m%d}", cap,
                                  int((now + timedelta(days=2)).timestamp()))


def suppression_reason(store, job: dict, now: datetime) -> str | None:
    """Why ``job`` (one channel of one notification) must not be sent now, or None to send it.
    Counts the message against its recipient's daily cap when it may go."""
    cap = daily_cap()
    if cap and not count_message(store, job["channel"], job["recipient"], now, cap):
        return REASON_CAP
    return None
