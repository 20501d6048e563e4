"""``sos1379 outbox``: the SMS and emails the local stack sent, newest first.

Reads moto's own record of what it accepted (``GET {moto_url}/moto-api/data.json``: ``sns.SMS``
and ``ses.Message``, which SES v2 shares). moto keeps no send time: it is taken from the case
history entry that names the provider's message id, else moto's acceptance order decides. Recipients are masked; ``--json`` is for tools."""
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


def collect(data: dict) -> list[dict]:
    """Outbox rows from moto's data.json in moto's order, recipients masked."""
    from sos1379.korea import mask_email, mask_phone

    rows = []
    for sms in (data.get("sns") or {}).get("SMS") or []:
        text = sms.get("message", "")
        rows.append({"channel": "sms", "recipient": mask_phone(sms.get("phone_number", "")),
                     "case_number": _case_number(text), "subject": "", "text": text,
                     "message_id": sms.get("message_id", "")})
    for mail in (data.get("ses") or {}).get("Message") or []:
        to = ((mail.get("destinations") or {}).get("ToAddresses") or [""])
        text = mail.get("body", "")
        subject = mail.get("subject", "")
        rows.append({"channel": "email", "recipient": ", ".join(mask_email(t) for t in to),
                     "case_number": _case_number(subject + " " + text), "subject": subject, "text": text,
                     "message_id": mail.get("id", "")})
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


def newest_first(rows: list[dict]) -> list[dict]:
    """By send time when known, else by moto's acceptance order (SMS and emails separately)."""
    ordered = sorted(rows, key=lambda r: (r.get("sent_at", ""), r["_order"]), reverse=True)
    return [{k: v for k, v in r.items() if k != "_order"} for r in ordered]


def _case_number(text: str) -> str:
    match = CASE_NUMBER.search(text or "")
    return match.group(0) if match else ""


def fetch(moto_url: str) -> dict:
    import requests

    response = requests.get(moto_url.rstrip("/") + "/moto-api/data.json", timeout=10)
    response.raise_for_status()
    return response.json()


def run(args) -> int:
    moto_url = args.moto_url
    if not moto_url:
        from infra.localstack.state import StackNotRunning, load_stack_state

        try:
            moto_url = load_stack_state()["moto_url"]
        except StackNotRunning as exc:
            print(exc, file=sys.stderr)
            return 1
    rows = collect(fetch(moto_url))
    try:
        from infra.localstack.state import apply_stack_env, load_stack_state
        from sos1379.settings import get_settings
        from sos1379.store import CaseStore

        apply_stack_env(load_stack_state())
        get_settings.cache_clear()
        add_send_times(rows, CaseStore(get_settings().cases_table))
    except Exception:  # noqa: BLE001 - no stack state: moto's order alone
        pass
    rows = newest_first(rows)
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
    for column in ("sent_at", "channel", "case_number", "recipient", "text"):
        table.add_column(column, overflow="fold")
    for row in rows:
        text = row["subject"] or row["text"]
        table.add_row(row.get("sent_at", "")[:19].replace("T", " "), row["channel"], row["case_number"],
                      row["recipient"], " ".join(text.split())[:160])
    Console().print(table)
    return 0
