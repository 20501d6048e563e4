"""Per-recipient message caps: the public intake must not become a free message pump.

Whoever types a phone number or an address into the public form decides where the government's
sender writes. However many cases name one recipient, at most ``cap`` messages per channel reach
it per Seoul calendar day; beyond that the attempt is recorded as ``suppressed`` (reason
``recipient_daily_cap``) and no provider is called. The check runs in one place, the notifier's
delivery (``Notifier.deliver``), after the durable claim and before any provider call, so a
redelivered message never counts twice (the claim stops it first).

Counter items live in the cases table, keyed by a hash of the recipient (never the number or
address in clear), one per (channel, recipient, day), expiring by the table's TTL two days later:

| item              | PK                                            | SK            |
|-------------------|-----------------------------------------------|---------------|
| recipient counter | MSGCAP#{sha256(channel + recipient)[:32]}     | D#{yyyymmdd}  |

The cap comes from ``NOTIFY_RECIPIENT_DAILY_CAP`` (template.yaml sets it for every function;
``SOS1379_NOTIFY_RECIPIENT_DAILY_CAP`` overrides it on the local stack). 0 or unset: no cap.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from .. import korea
from ..errors import is_conditional_failure

SUPPRESSED = "suppressed"
REASON_CAP = "recipient_daily_cap"


def daily_cap() -> int:
    from ..settings import get_settings

    return max(0, get_settings().limits.recipient_daily_cap)


def recipient_key(channel: str, recipient: str, now: datetime) -> dict:
    digest = hashlib.sha256(f"{channel}\n{recipient}".encode("utf-8")).hexdigest()[:32]
    return {"PK": f"MSGCAP#{digest}", "SK": f"D#{now.astimezone(korea.SEOUL):%Y%m%d}"}


def count_message(table, channel: str, recipient: str, now: datetime, cap: int) -> bool:
    """Count one message to ``recipient`` today; False (nothing counted) once ``cap`` were sent."""
    expires = int((now + timedelta(days=2)).timestamp())
    try:
        table.update_item(Key=recipient_key(channel, recipient, now),
                          UpdateExpression="ADD #n :one SET expires_at = :exp, kind = :kind",
                          ConditionExpression="attribute_not_exists(#n) OR #n < :cap",
                          ExpressionAttributeNames={"#n": "n"},
                          ExpressionAttributeValues={":one": 1, ":cap": cap, ":exp": expires,
                                                     ":kind": "recipient_counter"})
    except Exception as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def suppression_reason(store, job: dict, now: datetime) -> str | None:
    """Why ``job`` (one channel of one notification) must not be sent now, or None to send it.
    Counts the message against its recipient's daily cap when it may go."""
    cap = daily_cap()
    if cap and not count_message(store.table, job["channel"], job["recipient"], now, cap):
        return REASON_CAP
    return None
