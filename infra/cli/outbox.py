"""``sos1379 outbox``: what the local stack sent to SMEs, and what it is holding, newest first.

Sources, each the provider side's own record with the time it accepted each message: the
domestic provider stand-in (``GET {messaging}/_standin/deliveries``: AlimTalk, and SMS/LMS with the
reason when AlimTalk failed), the local stack's record of what moto's SNS (SMS, when SNS is the
configured SMS provider) and SES (e-mail) accepted (``GET {moto_url}/_sos1379/sent``,
:mod:`infra.localstack.sent`; not moto's ``/moto-api/data.json``, which answers 500 while the
stack writes), and the case history for messages held by the quiet hours
(``notification.attempt`` entries ``deferred`` with ``deliver_after`` and nothing after them).
Reading the two provider records costs the number of messages sent, so the command answers while
the stack is under load. Columns: channel (alimtalk | sms | lms | email), status (sent | held |
failed | retrying), fallback (why an SMS/LMS went instead of AlimTalk), held_until, case number,
masked recipient, text. ``--json`` is for tools.
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


def collect(sent, deliveries: list[dict] | None = None) -> list[dict]:
    """Outbox rows from the stack's sent record (:func:`fetch`) and the provider stand-in's
    deliveries, each with the time its provider accepted it, recipients masked."""
    from sos1379.korea import mask_email, mask_phone

    rows = []
    for item in deliveries or []:
        text = item.get("content", "")
        rows.append({"channel": item.get("route", "sms"), "recipient": mask_phone(item.get("recipient", "")),
                     "case_number": _case_number(text), "subject": item.get("subject", ""), "text": text,
                     "message_id": item.get("message_id", ""), "status": "sent",
                     "fallback": item.get("fallback_reason", ""), "held_until": "",
                     "template_code": item.get("template_code", ""), "sent_at": item.get("at", "")})
    for item in sent or []:
        text, subject = item.get("text", ""), item.get("subject", "")
        mask = mask_phone if item.get("channel") == "sms" else mask_email
        rows.append({"channel": item.get("channel", ""),
                     "recipient": ", ".join(mask(r) for r in item.get("recipients") or [""]),
                     "case_number": _case_number(subject + " " + text), "subject": subject, "text": text,
                     "message_id": item.get("message_id", ""), "status": "sent", "fallback": "", "held_until": "",
                     "sent_at": item.get("sent_at", "")})
    for index, row in enumerate(rows):
        row["_order"] = index
    return rows


def held_rows(store) -> list[dict]:
    """Messages not (yet) at a provider, from each (case, event, channel)'s latest attempt:
    ``held`` by the quiet hours (``deferred``, with ``held_until``), ``failed`` for good, or
    ``retrying`` after a transient failure. One scan of the history items: a local tool over a
    local table."""
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
        status = {"deferred": "held", "failed_permanent": "failed", "failed_temporary": "retrying"}.get(
            data.get("status", ""))
        if status is None:  # sent (the provider rows show it) or in flight
            continue
        try:
            number = store.get_case(case_id)["case_number"]
        except Exception:  # noqa: BLE001 - a case that is gone
            number = ""
        rows.append({"channel": "alimtalk" if channel == "sms" else channel, "recipient": data.get("recipient", ""),
                     "case_number": number, "subject": "",
                     "text": f"({data.get('event_type', '')}{': ' + data['reason'] if status != 'held' and data.get('reason') else ''})",
                     "message_id": "", "status": status, "fallback": "",
                     "held_until": data.get("deliver_after", "") if status == "held" else "",
                     "sent_at": item.get("at", "")})
    return rows


def newest_first(rows: list[dict]) -> list[dict]:
    """By the time the provider accepted the message (or the quiet hours deferred it), then by the
    order of the records."""
    ordered = sorted(rows, key=lambda r: (r.get("sent_at", ""), r.get("_order", -1)), reverse=True)
    return [{k: v for k, v in r.items() if k != "_order"} for r in ordered]


def _case_number(text: str) -> str:
    match = CASE_NUMBER.search(text or "")
    return match.group(0) if match else ""


class NoSentRecord(RuntimeError):
    """The server at the URL keeps no sent-message record (a bare moto, not the local stack's)."""


def fetch(moto_url: str, after: int = 0) -> list[dict]:
    """What moto's SNS and SES accepted after record number ``after``, in acceptance order."""
    import requests

    from infra.localstack.sent import PATH

    response = requests.get(moto_url.rstrip("/") + PATH, params={"after": after} if after else None, timeout=30)
    if response.status_code == 404:
        raise NoSentRecord(f"{moto_url} keeps no record of sent messages: is it the local stack's moto (sos1379 up)?")
    response.raise_for_status()
    return response.json()["messages"]


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
    try:
        rows = collect(fetch(moto_url), fetch_deliveries(messaging_url))
    except NoSentRecord as exc:
        print(exc, file=sys.stderr)
        return 1
    held: list[dict] = []
    try:
        from infra.localstack.state import apply_stack_env, load_stack_state
        from sos1379.settings import get_settings
        from sos1379.store import CaseStore

        apply_stack_env(load_stack_state())
        get_settings.cache_clear()
        held = held_rows(CaseStore(get_settings().cases_table))
    except Exception:  # noqa: BLE001 - no stack state (or its table): what the providers sent
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
