"""What the local stack's moto accepted for delivery (SNS SMS, SES e-mail) and when, served next
to moto's own API at ``GET {moto_url}/_sos1379/sent``.

``sos1379 outbox``, the end-to-end tests and the load benchmark read sent messages here. They used
to read moto's ``/moto-api/data.json``, which answered 500 about once in five e2e runs (issue 20).
Its traceback, captured from the stack's own log while the notifier wrote::

    moto/moto_api/_internal/responses.py, line 78, in model_data
        return 200, {...}, json.dumps(results)
    TypeError: keys must be str, int, float, bool or None, not DynamoType

data.json walks every attribute of every model moto ever created, checks each one with
``json.dumps`` and keeps a reference to the *live* value; only at the end does it serialise the
whole result. A container that passed the check while empty (the IdempotencyTable's ``items``
before the first notification, a stream shard's records, ...) receives a model from a worker's
write meanwhile, and the final ``json.dumps`` fails. No retry makes that read safe, and its cost
grows with everything moto ever held (instances are never forgotten): about 5 s a read once 800
cases went through.

This record is narrow and stable instead: SNS ``publish`` to a phone number and SES
``send_email`` (which SES v2 uses) append an immutable row under a lock once moto accepted the
message, and a read copies the rows under the same lock. A read costs the number of messages sent,
whatever else the stack holds, and the time moto accepted each message comes with it."""
from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

PATH = "/_sos1379/sent"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SentMessages:
    """Append-only, thread-safe record of the messages the mock providers accepted."""

    def __init__(self, clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []

    def add(self, channel: str, message_id: str, recipients: list[str], text: str, subject: str = "",
            source: str = "") -> None:
        row = {"channel": channel, "message_id": message_id, "recipients": list(recipients),
               "subject": subject or "", "text": text or "", "source": source or ""}
        with self._lock:  # number and time taken together: the numbers' order is the times' order
            at = self._clock().astimezone(timezone.utc)
            row["sent_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
            row["seq"] = len(self._rows) + 1
            self._rows.append(row)

    def since(self, after: int = 0) -> list[dict[str, Any]]:
        """Rows in acceptance order whose ``seq`` is above ``after`` (copies: callers may keep them)."""
        with self._lock:
            rows = self._rows[max(0, after):]
        return [dict(r, recipients=list(r["recipients"])) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)


@contextlib.contextmanager
def recording(sent: SentMessages) -> Iterator[SentMessages]:
    """Record every SMS that moto's SNS and every e-mail that moto's SES accepts into ``sent``
    (after moto accepted it: a rejected message is not recorded)."""
    from moto.ses.models import SESBackend
    from moto.sns.models import SNSBackend

    original_publish, original_send = SNSBackend.publish, SESBackend.send_email

    def publish(self, message, arn=None, phone_number=None, *args, **kwargs):
        message_id = original_publish(self, message, arn, phone_number, *args, **kwargs)
        if phone_number:
            sent.add("sms", message_id, [phone_number], message)
        return message_id

    def send_email(self, source, subject, body, destinations, *args, **kwargs):
        accepted = original_send(self, source, subject, body, destinations, *args, **kwargs)
        recipients = [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destinations.get(key) or []]
        sent.add("email", accepted.id, recipients, body, subject=subject, source=source)
        return accepted

    SNSBackend.publish, SESBackend.send_email = publish, send_email
    try:
        yield sent
    finally:
        SNSBackend.publish, SESBackend.send_email = original_publish, original_send


class SentMessagesApp:
    """WSGI middleware: ``GET PATH[?after=N]`` answers ``{"messages": [...], "last": seq}`` from
    ``sent``; every other request goes to moto."""

    def __init__(self, app: Callable[..., Any], sent: SentMessages) -> None:
        self.app, self.sent = app, sent

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "GET":
            return self._answer(start_response, "405 Method Not Allowed", {"error": "GET only"})
        raw = (parse_qs(environ.get("QUERY_STRING") or "").get("after") or ["0"])[0]
        if not raw.isdigit():
            return self._answer(start_response, "400 Bad Request", {"error": "after must be a whole number"})
        rows = self.sent.since(int(raw))
        return self._answer(start_response, "200 OK", {"messages": rows, "last": rows[-1]["seq"] if rows else int(raw)})

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: str, payload: dict[str, Any]) -> list[bytes]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        start_response(status, [("Content-Type", "application/json; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        return [body]


def serve_sent_messages(server: Any, sent: SentMessages) -> None:
    """Put :class:`SentMessagesApp` in front of a started ``ThreadedMotoServer``'s application
    (werkzeug's server calls ``server.app`` for each request)."""
    wsgi = getattr(server, "_server", None)
    if wsgi is None or not hasattr(wsgi, "app"):
        raise RuntimeError("moto's ThreadedMotoServer has no started werkzeug server to wrap (moto changed?)")
    if not isinstance(wsgi.app, SentMessagesApp):
        wsgi.app = SentMessagesApp(wsgi.app, sent)
