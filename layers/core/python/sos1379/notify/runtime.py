"""Wiring for the Lambda consumer: the Notifier with Powertools idempotency on DynamoDB, built
lazily (no env reads or clients at import time) and cached per execution environment."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..messages import CaseMessage
from ..settings import get_settings
from .channels import default_email_sender, default_text_sender
from .service import Notifier, NotifyTransientError, backoff_seconds, requeue_message
from .templates import load_templates

IDEMPOTENCY_KEY_PREFIX = "sos1379.notify.deliver"


@lru_cache(maxsize=1)
def idempotency_config():
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    # the key is (case, event, channel): the rendered text may differ between tries (a new link
    # token), which must not make a second send look like a new request
    return IdempotencyConfig(event_key_jmespath="[case_id, event_id, channel]", raise_on_no_idempotency_key=True,
                             expires_after_seconds=get_settings().notify.idempotency_expiry_seconds)


@lru_cache(maxsize=1)
def persistence_layer():
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from ..aws import client

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=client("dynamodb"))


def powertools_idempotent(fn):
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    return idempotent_function(fn, data_keyword_argument="job", persistence_store=persistence_layer(),
                               config=idempotency_config(), key_prefix=IDEMPOTENCY_KEY_PREFIX)


@lru_cache(maxsize=1)
def get_notifier() -> Notifier:
    from ..store import CaseStore

    settings = get_settings()
    return Notifier(store=CaseStore(settings.cases_table), sms=default_text_sender(), email=default_email_sender(),
                    templates=load_templates(), settings=settings.notify,
                    requeue=requeue_message(settings.notify_queue_url), idempotent=powertools_idempotent)


def reset() -> None:
    """Forget cached wiring and the settings it was built from (tests that switch tables or endpoints)."""
    from .channels import provider_client
    from .templates import load_templates as lt

    for cached in (get_settings, get_notifier, persistence_layer, idempotency_config, provider_client, lt):
        cached.cache_clear()


def handle_record(record, notifier: Notifier | None = None) -> dict[str, Any]:
    """One SQS record of the notification queue: its body parsed (``MalformedMessage`` when it
    does not fit), then :func:`handle_message`."""
    raw = record.raw_event if hasattr(record, "raw_event") else record
    return handle_message(CaseMessage.from_body(raw["body"]), raw, notifier)


def handle_message(message: CaseMessage, raw: dict, notifier: Notifier | None = None) -> dict[str, Any]:
    """Deliver one notification-queue message; ``raw`` is its SQS record (for the retry delay).

    On a transient provider failure the record's visibility is stretched with exponential backoff
    before the failure is reported, so SQS retries later rather than after the fixed timeout."""
    notifier = notifier or get_notifier()
    try:
        outcome = notifier.handle(message)
    except NotifyTransientError:
        _delay_retry(raw)
        raise
    return {"case_id": outcome.case_id, "event_id": outcome.event_id, "event_type": outcome.event_type,
            "action": outcome.action, "deliver_after": outcome.deliver_after,
            "held": outcome.held, "released": outcome.released,
            "channels": [{"channel": c.channel, "status": c.status, "reason": c.reason, "route": c.route,
                          "fallback_reason": c.fallback_reason} for c in outcome.channels]}


def _delay_retry(raw: dict) -> None:
    from ..aws import client

    url = get_settings().notify_queue_url
    receipt = raw.get("receiptHandle")
    if not url or not receipt or not url.endswith("/" + raw.get("eventSourceARN", "").rsplit(":", 1)[-1]):
        return
    count = int((raw.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    try:
        client("sqs").change_message_visibility(QueueUrl=url, ReceiptHandle=receipt,
                                                VisibilityTimeout=backoff_seconds(count))
    except Exception:  # noqa: BLE001 - best effort: the queue's own visibility timeout still applies
        pass
