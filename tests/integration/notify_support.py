"""Helpers for the notification tests: load the notify_sme handler, build SQS events, read what
moto sent, inject provider faults with a botocore before-send hook."""
from __future__ import annotations

import importlib.util
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
SENDER = "no-reply@sos1379.example.kr"


def load_handler():
    path = ROOT / "functions" / "notify_sme" / "handler.py"
    spec = importlib.util.spec_from_file_location(f"notify_sme_handler_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def notify_function(monkeypatch, **env: str):
    """The notify_sme handler with a verified SES sender and ``env`` set, its runtime fresh before
    and after."""
    import boto3

    from sos1379.notify import runtime

    monkeypatch.setenv("NOTIFY_SENDER_EMAIL", SENDER)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runtime.reset()
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    yield load_handler()
    runtime.reset()


def sqs_event(*bodies: dict, receive_count: int = 1, queue_arn: str | None = None) -> dict:
    arn = queue_arn or f"arn:aws:sqs:{REGION}:123456789012:test-NotifyQueue"
    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": json.dumps(b, ensure_ascii=False),
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": arn,
        "awsRegion": REGION} for b in bodies]}


class Context:
    """A Lambda context whose remaining time is short, so an interrupted idempotency record
    expires quickly, as it would after a real timeout."""

    def __init__(self, remaining_ms: int = 20) -> None:
        import time

        self.function_name = "NotifySmeFunction"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:NotifySmeFunction"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        import time

        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Sent:
    sms: list[tuple[str, str]]
    emails: list[dict]


def sent_messages() -> Sent:
    """What in-process moto's SNS and SES backends recorded."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    sms = list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())
    emails = [{"source": m.source, "to": m.destinations.get("ToAddresses", []), "subject": m.subject,
               "body": m.body} for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]
    return Sent(sms, emails)


def fail_next(client, operation: str, code: str, status: int, times: int = 1) -> list[int]:
    """Make the next ``times`` calls of ``operation`` on ``client`` fail with ``code`` before any
    request leaves (a ``before-call`` answer short-circuits the call; a ``before-send`` one would
    not stop moto's own stub from handling the request too). Returns the list of interceptions."""
    from botocore.awsrequest import AWSResponse

    calls: list[int] = []
    service_id = client.meta.service_model.service_id.hyphenize()

    def before_call(**_):
        if len(calls) >= times:
            return None
        calls.append(1)
        parsed = {"Error": {"Code": code, "Message": "injected"},
                  "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://injected", status, {}, None), parsed

    client.meta.events.register_first(f"before-call.{service_id}.{operation}", before_call)
    return calls
