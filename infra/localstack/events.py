"""Lambda event shapes and Lambda's reading of a function's answer: pure functions, no I/O.

The dispatcher builds the events a real event source mapping would send (SQS records with their
own messageIds and receive counts, DynamoDB stream records with base64 binaries and epoch
timestamps, scheduled events) and settles a batch the way Lambda does:

- without ``ReportBatchItemFailures`` a returned value is ignored; only an error fails the batch;
- with it, ``batchItemFailures`` names the failed items; an empty or missing list is a success;
  an item whose ``itemIdentifier`` is missing, empty, not a string or not in the batch makes the
  whole batch a failure (Lambda's documented rule).
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

SQS_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
    "AWSTraceHeader",
)


def _b64(value: bytes | str) -> str:
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def sqs_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ``Records[]`` entry of a Lambda SQS event, from a boto3 ``receive_message`` message."""
    attributes = message.get("Attributes") or {}
    record_attributes = {k: str(attributes[k]) for k in SQS_RECORD_ATTRIBUTES if k in attributes}
    message_attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        converted: dict[str, Any] = {
            "stringListValues": list(attr.get("StringListValues") or []),
            "binaryListValues": [_b64(v) for v in attr.get("BinaryListValues") or []],
            "dataType": attr.get("DataType"),
        }
        if "StringValue" in attr:
            converted["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            converted["binaryValue"] = _b64(attr["BinaryValue"])
        message_attributes[name] = converted
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": record_attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _stream_value(value: Any) -> Any:
    """boto3 decodes stream binaries to bytes and timestamps to datetimes; Lambda sends JSON."""
    if isinstance(value, bytes):
        return _b64(value)
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _stream_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_stream_value(v) for v in value]
    return value


def stream_record(record: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """One ``Records[]`` entry of a Lambda DynamoDB Streams event, from ``get_records``."""
    converted = _stream_value(record)
    converted.setdefault("eventVersion", "1.1")
    converted.setdefault("eventSource", "aws:dynamodb")
    converted["awsRegion"] = record.get("awsRegion") or region
    converted["eventSourceARN"] = stream_arn
    return converted


def scheduled_event(*, rule_arn: str, region: str, account: str, now: datetime) -> dict[str, Any]:
    """The event an EventBridge schedule rule sends when its target has no ``Input``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


@dataclass(frozen=True)
class BatchOutcome:
    """How Lambda settles a batch: which item ids failed (all of them when ``whole_batch``)."""

    failed: frozenset[str]
    whole_batch: bool
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def settle_batch(
    item_ids: Iterable[str],
    *,
    error: Any,
    response: Any,
    report_batch_item_failures: bool,
) -> BatchOutcome:
    """Lambda's verdict on one invocation over ``item_ids`` (messageIds or sequence numbers)."""
    ids = list(item_ids)
    if error is not None:
        return BatchOutcome(frozenset(ids), True, "function error")
    if not report_batch_item_failures or response is None:
        return BatchOutcome(frozenset(), False)
    if isinstance(response, (str, bytes)):
        # The Python runtime sends a str as a JSON string; Lambda then parses that as the answer.
        try:
            response = json.loads(response)
        except ValueError:
            return BatchOutcome(frozenset(ids), True, "response is not valid JSON")
    if not isinstance(response, dict):
        return BatchOutcome(frozenset(), False)
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return BatchOutcome(frozenset(), False)
    if not isinstance(failures, list):
        return BatchOutcome(frozenset(ids), True, "batchItemFailures is not a list")
    known = set(ids)
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return BatchOutcome(frozenset(ids), True, f"invalid itemIdentifier {identifier!r}")
        failed.add(identifier)
    return BatchOutcome(frozenset(failed), False, "partial batch failure")


def stream_checkpoint(sequence_numbers: list[str], outcome: BatchOutcome) -> str | None:
    """Where a stream mapping resumes after ``outcome``: the lowest failed sequence number (all
    later records are retried too, as Lambda does), or None when the batch succeeded."""
    if outcome.ok:
        return None
    if outcome.whole_batch:
        return sequence_numbers[0] if sequence_numbers else None
    return min(outcome.failed, key=int)
