"""``sos1379 outbox``: the SMS and emails the local stack sent, newest first.

Reads the local stack's record of what moto's SNS and SES accepted, with the time each was
accepted (``GET {moto_url}/_sos1379/sent``, see :mod:`infra.localstack.sent`; not moto's
``/moto-api/data.json``, which fails while the stack writes). One read costs the number of
messages sent, so it answers under load. Recipients are masked; ``--json`` is for tools."""
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


def collect(messages: list[dict]) -> list[dict]:
    """Outbox rows from the stack's sent-message record (acceptance order), recipients masked."""
    from sos1379.korea import mask_email, mask_phone

    rows = []
    for sent in messages:
        text, subject = sent.get("text", ""), sent.get("subject", "")
        mask = mask_phone if sent.get("channel") == "sms" else mask_email
        rows.append({"sent_at": sent.get("sent_at", ""), "channel": sent.get("channel", ""),
                     "recipient": ", ".join(mask(r) for r in sent.get("recipients") or [""]),
                     "case_number": _case_number(subject + " " + text), "subject": subject, "text": text,
                     "message_id": sent.get("message_id", ""), "_order": sent.get("seq", 0)})
    return rows


def newest_first(rows: list[dict]) -> list[dict]:
    """Newest first: the record's numbers follow the order (and time) moto accepted the messages."""
    ordered = sorted(rows, key=lambda r: r["_order"], reverse=True)
    return [{k: v for k, v in r.items() if k != "_order"} for r in ordered]


def _case_number(text: str) -> str:
    match = CASE_NUMBER.search(text or "")
    return match.group(0) if match else ""


class NoSentRecord(RuntimeError):
    """The server at the URL keeps no sent-message record (a bare moto, not the local stack's)."""


def fetch(moto_url: str, after: int = 0) -> list[dict]:
    """The messages moto accepted after record number ``after``, in acceptance order."""
    import requests

    from infra.localstack.sent import PATH

    response = requests.get(moto_url.rstrip("/") + PATH, params={"after": after} if after else None, timeout=30)
    if response.status_code == 404:
        raise NoSentRecord(f"{moto_url} keeps no record of sent messages: is it the local stack's moto (sos1379 up)?")
    response.raise_for_status()
    return response.json()["messages"]


def run(args) -> int:
    moto_url = args.moto_url
    if not moto_url:
        from infra.localstack.state import StackNotRunning, load_stack_state

        try:
            moto_url = load_stack_state()["moto_url"]
        except StackNotRunning as exc:
            print(exc, file=sys.stderr)
            return 1
    try:
        rows = newest_first(collect(fetch(moto_url)))
    except NoSentRecord as exc:
        print(exc, file=sys.stderr)
        return 1
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
