"""The outbox relay: history events published from the table's stream to the SQS queues.

The relay copies items its own services wrote, so it renders the wire bodies straight from the
table item (sos1379.events.case_message_json, handoff_message_json: the same bodies the message
models of sos1379.messages parse) and loads no pydantic (tests/unit/test_import_graph.py)."""
from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from .aws import client
from .events import case_message_json, handoff_message_json
from .settings import get_settings
from .store import from_dynamo


@lru_cache(maxsize=1)
def _store():
    from .store import CaseStore

    return CaseStore(get_settings().cases_table)


def _queue_urls() -> dict[str, str]:
    settings = get_settings()
    return {"intake": settings.intake_queue_url, "notify": settings.notify_queue_url}


def relay_record(record) -> None:
    """Send one stream record's event to its queues, then count it in the monthly statistics."""
    if not isinstance(record, DynamoDBRecord):
        record = DynamoDBRecord(record)
    raw = record.raw_event
    if raw.get("eventName") not in ("INSERT", "MODIFY"):
        return
    # Powertools' deserializer (boto3's, with bytes for binary): like every other function, the
    # relay loads boto3 with its first client (sos1379.aws), not at import
    item = from_dynamo(record.dynamodb.new_image)
    # Count first: the counters are idempotent per contribution, the queues' consumers per event
    # id, so a record retried after either step fails is harmless, but a failed count then never
    # re-sends messages that already went out.
    _count(item)
    if raw.get("eventName") == "INSERT" and item.get("kind") == "event" and item.get("publish_to"):
        _send(item)


def _count(item: dict) -> None:
    # The monthly statistics counters (sos1379.coordinators.counters), idempotent per contribution.
    from .coordinators import counters

    if item.get("kind") == "case" or (item.get("kind") == "event" and item.get("type") in counters.STATS_EVENTS):
        counters.record_item(_store(), item)


def _send(item: dict) -> None:
    body = case_message_json(item)
    urls = _queue_urls()
    sqs = client("sqs")
    for target in item["publish_to"]:
        if target == "partner":
            _send_handoff(sqs, item)
            continue
        sqs.send_message(QueueUrl=urls[target], MessageBody=body,
                         MessageAttributes={"event_type": {"DataType": "String", "StringValue": item["type"]}})


def _handoff_queue_url(code: str) -> str:
    return client("sqs").get_queue_url(QueueName=get_settings().handoff_queue_prefix + code)["QueueUrl"]


def _send_handoff(sqs, item: dict) -> None:
    """The partner's hand-off queue; partners deduplicate on ``handoff_id`` (a retried stream
    record may send twice). A hand-off without a known partner queue (a CCEI hand-off of a case
    with no region) has none to go to: the coordinator's triage pass covers it."""
    from .institutes.partners import partner_code_for

    code = partner_code_for((item.get("data") or {}).get("partner"))
    if code is None:
        return
    sqs.send_message(QueueUrl=_handoff_queue_url(code), MessageBody=handoff_message_json(item, code),
                     MessageAttributes={"event_type": {"DataType": "String", "StringValue": "handoff.v1"}})
