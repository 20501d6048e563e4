"""The outbox relay: history events published from the table's stream to the SQS queues."""
from __future__ import annotations

import json

from boto3.dynamodb.types import TypeDeserializer

from .aws import client
from .settings import get_settings
from .store import from_dynamo

_deserializer = TypeDeserializer()


def _queue_urls() -> dict[str, str]:
    settings = get_settings()
    return {"intake": settings.intake_queue_url, "notify": settings.notify_queue_url}


def relay_record(record) -> None:
    """Send one stream record's event to its queues. Non-event items and updates are ignored."""
    raw = record.raw_event if hasattr(record, "raw_event") else record
    if raw.get("eventName") != "INSERT":
        return
    image = raw["dynamodb"].get("NewImage") or {}
    item = from_dynamo({k: _deserializer.deserialize(v) for k, v in image.items()})
    if item.get("kind") != "event" or not item.get("publish_to"):
        return
    body = json.dumps({"version": 1, "event_id": item["event_id"], "case_id": item["case_id"],
                       "type": item["type"], "at": item["at"], "actor": item["actor"],
                       "data": item.get("data", {})}, ensure_ascii=False)
    urls = _queue_urls()
    sqs = client("sqs")
    for target in item["publish_to"]:
        sqs.send_message(QueueUrl=urls[target], MessageBody=body,
                         MessageAttributes={"event_type": {"DataType": "String", "StringValue": item["type"]}})
