"""``sos1379 outbox``: what the local stack sent to SMEs, and what it is holding, newest first.

Sources, each the provider side's own record: the domestic provider stand-in
(``GET {messaging}/_standin/deliveries``: AlimTalk, and SMS/LMS with the reason when AlimTalk
failed), moto's ``/moto-api/data.json`` (``sns.SMS`` when SNS is the configured SMS provider, and
``ses.Message``, which SES v2 shares), and the case history for messages held by the quiet hours
(``notification.attempt`` entries ``deferred`` with ``deliver_after`` and nothing after them).
Columns: channel (alimtalk | sms | lms | email), status (sent | held), fallback (why an SMS/LMS
went instead of AlimTalk), held_until, case number, masked recipient, text. Send times come from
the history entry that names the provider's message id. ``--json`` is for tools.
"""
from __future__ import annotations

import json
import re
import sys

CASE_NUMBER = re.compile(r"\b\d{6}-\d{4}\b")


def register(sub) -> None:
    p = sub.add_parser("outbox", help="list the SMS and emails the local stack sent (newest first)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--limit", type=int, default=20, help="at most N messages (0: all)")
    p.add_argument("--moto-url", default=None, help="moto server URL (default: from .local/stack.json)")
    p.set_defaults(func=run)


def collect(data: dict, deliveries: list[dict] | None = None) -> list[dict]:
    """Outbox rows from moto's data.json and the provider stand-in's deliveries, in their order,
    recipients masked."""
    from sos1379.korea import mask_email, mask_phone

    rows = []
    for item in deliveries or []:
        text = item.get("content", "")
        rows.append({"channel": item.get("route", "sms"), "recipient": mask_phone(item.get("recipient", "")),
                     "case_number": _case_number(text), "subject": item.get("subject", ""), "text": text,
                     "message_id": item.get("message_id", ""), "status": "sent",
                     "fallback": item.get("fallback_reason", ""), "held_until": "",
                     "template_code": item.get("template_code", "")})
    for sms in (data.get("sns") or {}).get("SMS") or []:
        text = sms.get("message", "")
        rows.append({"channel": "sms", "recipient": mask_phone(sms.get("phone_number", "")),
                     "case_number": _case_number(text), "subject": "", "text": text,
                     "message_id": sms.get("message_id", ""), "status": "sent", "fallback": "", "held_until": ""})
    for mail in (data.get("ses") or {}).get("Message") or []:
        to = ((mail.get("destinations") or {}).get("ToAddresses") or [""])
        text = mail.get("body", "")
        subject = mail.get("subject", "")
        rows.append({"channel": "email", "recipient": ", ".join(mask_email(t) for t in to),
                     "case_number": _case_number(subject + " " + text), "subject": subject, "text": text,
                     "message_id": mail.get("id", ""), "status": "sent", "fallback": "", "held_until": ""})
    for index, row in enumerate(rows):
        row["_order"] = index
    return rows


def add_send_times(rows: list[dict], store) -> None:
    """moto keeps no send time: take it from the case history (the ``notification.attempt``
    entry that carries the provider's message id), found through the case number."""
    histories: dict[str, list[dict]] = {}
    for row in rows:
        number = row["case_number"]
        if not number:
            continue
        if number not in histories:
            try:
                histories[number] = store.history(store.find_case_id_by_number(number))
            except Exception:  # noqa: BLE001 - a message of a case that is gone: no time
                histories[number] = []
        for event in histories[number]:
            data = event.get("data") or {}
            if event.get("type") == "notification.attempt" and data.get("provider_message_id") == row["message_id"]:
                row["sent_at"] = event["at"]


def held_rows(store) -> list[dict]:
    """Messages the quiet hours hold: a ``deferred`` attempt of a (case, event, channel) with no
    later attempt. One scan of the history items: a local tool over a local table."""
    from boto3.dynamodb.conditions import Attr

    from sos1379.lifecycle import EventType

    latest: dict[tuple, dict] = {}
    kwargs = {"FilterExpression": Attr("type").eq(EventType.NOTIFICATION)}
    while True:
        page = store.table.scan(**kwargs)
        for item in page.get("Items", []):
            data = item.get("data") or {}
            key = (item["case_id"], data.get("event_id"), data.get("channel"))
            if key not in latest or item["SK"] > latest[key]["SK"]:
                latest[key] = item
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    rows = []
    for (case_id, _event_id, channel), item in latest.items():
        data = item.get("data") or {}
        if data.get("status") != "deferred":
            continue
        try:
            number = store.get_case(case_id)["case_number"]
        except Exception:  # noqa: BLE001 - a case that is gone
            number = ""
        rows.append({"channel": "alimtalk" if channel == "sms" else channel, "recipient": data.get("recipient", ""),
                     "case_number": number, "subject": "", "text": f"({data.get('event_type', '')})",
                     "message_id": "", "status": "held", "fallback": "", "held_until": data.get("deliver_after", ""),
                     "sent_at": item.get("at", "")})
    return rows


def newest_first(rows: list[dict]) -> list[dict]:
    """By send time when known, else by moto's acceptance order (SMS and emails separately)."""
    ordered = sorted(rows, key=lambda r: (r.get("sent_at", ""), r.get("_order", -1)), reverse=True)
    return [{k: v for k, v in r.items() if k != "_order"} for r in ordered]


def _case_number(text: str) -> str:
    match = CASE_NUMBER.search(text or "")
    return match.group(0) if match else ""


def fetch(moto_url: str) -> dict:
    import requests

    response = requests.get(moto_url.rstrip("/") + "/moto-api/data.json", timeout=10)
    response.raise_for_status()
    return response.json()


def fetch_deliveries(messaging_url: str | None) -> list[dict]:
    """What the provider stand-in delivered (empty when the stack has none)."""
    if not messaging_url:
        return []
    import requests

    response = requests.get(messaging_url.rstrip("/") + "/_standin/deliveries", timeout=10)
    response.raise_for_status()
    return response.json().get("deliveries", [])


def run(args) -> int:
    moto_url = args.moto_url
    messaging_url = None
    from infra.localstack.state import StackNotRunning, load_stack_state

    try:
        state = load_stack_state()
        messaging_url = (state.get("services") or {}).get("messaging")
        moto_url = moto_url or state["moto_url"]
    except StackNotRunning as exc:
        if not moto_url:
            print(exc, file=sys.stderr)
            return 1
    rows = collect(fetch(moto_url), fetch_deliveries(messaging_url))
    held: list[dict] = []
    try:
        from infra.localstack.state import apply_stack_env, load_stack_state
        from sos1379.settings import get_settings
        from sos1379.store import CaseStore

        apply_stack_env(load_stack_state())
        get_settings.cache_clear()
        store = CaseStore(get_settings().cases_table)
        add_send_times(rows, store)
        held = held_rows(store)
    except Exception:  # noqa: BLE001 - no stack state: moto's order alone
        pass
    rows = newest_first(rows + held)
    if args.limit:
        rows = rows[: args.limit]
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    if not rows:
        print("outbox is empty")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"outbox ({len(rows)} newest first)")
    for column in ("sent_at", "channel", "status", "fallback", "held_until", "case_number", "recipient", "text"):
        table.add_column(column, overflow="fold")
    for row in rows:
        text = row["subject"] or row["text"]
        table.add_row(row.get("sent_at", "")[:19].replace("T", " "), row["channel"], row.get("status", "sent"),
                      row.get("fallback", ""), row.get("held_until", "")[:16].replace("T", " "), row["case_number"],
                      row["recipient"], " ".join(text.split())[:160])
    Console().print(table)
    return 0
