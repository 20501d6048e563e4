"""Keys and item shapes of the cases table, and the codec between Python and DynamoDB values.

Pure functions, no I/O: the table's layout is written here and in the other modules of this
package, nowhere else (``tests/unit/test_store_owns_keys.py``). The key table is in the package's
docstring (``sos1379.store``). Existing items must stay readable: change a shape only with a
migration.
"""
from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..events import CaseEvent, parse_iso

#: The StatusDue (GSI1) partition that lists every attachment, oldest first (retention sweep).
ATTACHMENTS_PARTITION = "ATTACHMENTS"
#: The partition of pending follow-up check-ins, sorted by due instant.
FOLLOWUPS_PENDING = "FOLLOWUP#PENDING"
_STORAGE_FIELD = re.compile(r"^(PK|SK|GSI\d*(PK|SK)|kind)$")


def to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [from_dynamo(v) for v in value]
    return value


# --- the low-level wire format ------------------------------------------------------------------
# The hot paths (intake) call a plain DynamoDB client, not boto3's resource layer: that layer deep
# copies every request, walks the operation's whole input and output shapes and serialises value by
# value (about 0.8 ms of a POST /cases, a third of what intake spent above its floor). These two
# functions give the same wire values as the resource layer after ``to_dynamo`` and the same
# Python values as ``from_dynamo`` after it, for what the table holds (strings, numbers, booleans,
# maps, lists); anything rarer goes through boto3's own serialisers.

def to_item(item: dict) -> dict:
    """A Python item (as ``to_dynamo`` takes it) as DynamoDB attribute values; ``None`` attributes
    are left out, as ``to_dynamo`` leaves them out."""
    return {k: _attribute(v) for k, v in item.items() if v is not None}


def _attribute(value: Any) -> dict:
    if value is None:
        return {"NULL": True}
    if value is True or value is False:
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int) and -_BIG < value < _BIG:
        return {"N": str(int(value))}
    if isinstance(value, dict):
        return {"M": {k: _attribute(v) for k, v in value.items() if v is not None}}
    if isinstance(value, (list, tuple)):
        return {"L": [_attribute(v) for v in value]}
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer().serialize(to_dynamo(value))  # floats, Decimals, bytes, sets


_BIG = 10 ** 38  # DynamoDB numbers hold 38 digits; longer ones take boto3's path (and its error)


def from_item(item: dict) -> dict:
    """A DynamoDB item's attribute values as Python values (what ``from_dynamo`` returns for the
    resource layer's item: whole numbers as int, others as float, sets as lists)."""
    return {k: _python(v) for k, v in item.items()}


def _python(value: dict) -> Any:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return inner
    if kind == "N":
        try:
            return int(inner)
        except ValueError:
            return from_dynamo(Decimal(inner))
    if kind == "M":
        return {k: _python(v) for k, v in inner.items()}
    if kind == "L":
        return [_python(v) for v in inner]
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    from boto3.dynamodb.types import TypeDeserializer

    return from_dynamo(TypeDeserializer().deserialize(value))  # binary values, sets


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def without_storage_fields(item: dict) -> dict:
    """A stored item without the table's bookkeeping (keys, index keys, ``kind``): those name other
    items' layout and are never part of what an API shows."""
    return {k: v for k, v in item.items() if not _STORAGE_FIELD.match(k)}


def key_of(item: dict) -> dict:
    """The primary key of a stored item."""
    return {"PK": item["PK"], "SK": item["SK"]}


# --- the case partition --------------------------------------------------------------------------

def case_key(case_id: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": "META"}


def event_item(event: CaseEvent) -> dict:
    ms = int(parse_iso(event.at).timestamp() * 1000)
    return to_dynamo({
        "PK": f"CASE#{event.case_id}", "SK": f"EVENT#{ms:013d}#{event.event_id}", "kind": "event",
        "event_id": event.event_id, "case_id": event.case_id, "type": event.type, "at": event.at,
        "actor": event.actor.as_dict(), "data": event.data, "visibility": event.visibility,
        "publish_to": event.publish_to,
    })


def status_index(case: dict) -> dict:
    # ``sla_due_at`` (owned by sos1379.sla) is the next SLA deadline; until it is set the index
    # falls back to ``guidance_due_at``. Either way the key is never later than the true deadline.
    due = case.get("sla_due_at") or case.get("guidance_due_at", "")
    return {"GSI1PK": f"STATUS#{case['status']}", "GSI1SK": f"{due}#{case['case_id']}"}


def case_number_key(case_number: str) -> dict:
    return {"PK": f"CASENO#{case_number}", "SK": "META"}


def day_counter_key(yymmdd: str) -> dict:
    return {"PK": f"COUNTER#{yymmdd}", "SK": "META"}


def day_of_counter(item: dict) -> str:
    """``yymmdd`` of a day-counter item."""
    return item["PK"].split("#", 1)[1]


def idempotency_key(key: str) -> dict:
    return {"PK": f"IDEMPOTENCY#{sha256_hex(key)}", "SK": "META"}


def case_partition(case_id: str) -> str:
    return f"CASE#{case_id}"


def referral_key(case_id: str, institute: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": f"REFERRAL#{institute}"}


def contact_code_key(case_id: str, channel: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": f"VERIFY#{channel}"}


def attachment_key(case_id: str, attachment_id: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": f"ATTACHMENT#{attachment_id}"}


# --- notifications (sos1379.notify) ----------------------------------------------------------------

def notice_marker_key(case_id: str, event_id: str, channel: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": f"NOTIFY#{event_id}#{channel}"}


def notice_marker_prefix(event_id: str) -> str:
    return f"NOTIFY#{event_id}#"


def held_notice_key(case_id: str, event_id: str, channel: str) -> dict:
    return {"PK": f"CASE#{case_id}", "SK": f"HELD#{event_id}#{channel}"}


def link_token_key(token: str) -> dict:
    return {"PK": f"LINK#{sha256_hex(token)}", "SK": "META"}


def recipient_counter_key(channel: str, recipient: str, seoul_day: str) -> dict:
    """A recipient's message count of one Seoul day (``yyyymmdd``), keyed by a hash of the address."""
    digest = hashlib.sha256(f"{channel}\n{recipient}".encode("utf-8")).hexdigest()[:32]
    return {"PK": f"MSGCAP#{digest}", "SK": f"D#{seoul_day}"}


# --- abuse limits (sos1379.ratelimit, sos1379.recovery) -----------------------------------------------

def rate_client_partition(name: str, client: str) -> str:
    return f"RATE#{name}#{hashlib.sha256(client.encode('utf-8', 'replace')).hexdigest()[:32]}"


def rate_window_key(name: str, client: str, window: int) -> dict:
    return {"PK": rate_client_partition(name, client), "SK": f"W#{window}"}


def recovery_window_key(scope: str, subject: str, hour: str) -> dict:
    return {"PK": f"RATE#recover#{scope}#{sha256_hex(subject)}", "SK": hour}


def recovery_miss_key(case_number: str, at: datetime) -> dict:
    return {"PK": f"RECOVER#{sha256_hex(case_number + at.isoformat())}", "SK": "MISS"}


# --- institute API keys (sos1379.institutes.keys) -----------------------------------------------------

def api_key_key(key_hash: str) -> dict:
    return {"PK": f"APIKEY#{key_hash}", "SK": "META"}


def api_key_ref_key(code: str, key_id: str) -> dict:
    return {"PK": f"INSTKEY#{code}", "SK": f"KEY#{key_id}"}


def api_key_items(code: str, key_hash: str, record: dict) -> tuple[dict, dict]:
    """The key item (found by the key's hash) and its reference under the institute (listed and
    revoked by key id)."""
    return ({**api_key_key(key_hash), "kind": "apikey", **record},
            {**api_key_ref_key(code, record["key_id"]), "kind": "apikey_ref", "key_hash": key_hash, **record})


# --- monthly statistics (sos1379.coordinators.counters) ------------------------------------------------

def stats_month_key(month: str) -> dict:
    return {"PK": f"STATS#{month}", "SK": "META"}


def month_of_stats(item: dict) -> str:
    return item["PK"].split("#", 1)[1]


def stats_mark_key(case_id: str, contribution: str) -> dict:
    return {"PK": f"STATSMARK#{case_id}", "SK": contribution}


# --- follow-ups (sos1379.followups) ----------------------------------------------------------------------

def follow_up_item(case_id: str, stage: str, due: str, resolved_at: str) -> dict:
    return {"PK": FOLLOWUPS_PENDING, "SK": f"{due}#{stage}#{case_id}", "kind": "follow_up", "case_id": case_id,
            "stage": stage, "due_at": due, "resolved_at": resolved_at}
