"""The operator commands of the notification area: dlq redrive (generic) and outbox rows."""
from __future__ import annotations

import json

import boto3

from infra.cli import dlq, outbox


def test_redrive_moves_every_message_back_to_source_queue_when_dlq_has_messages(aws):
    sqs = boto3.client("sqs")
    bodies = [{"event_id": f"e{i}", "n": i} for i in range(23)]
    for body in bodies:
        sqs.send_message(QueueUrl=aws.queues["NotifyDLQ"], MessageBody=json.dumps(body),
                         MessageAttributes={"event_type": {"DataType": "String", "StringValue": "case.referred"}})
    state = {"resources": {lid: {"type": "AWS::SQS::Queue", "url": url, "physical_id": url}
                           for lid, url in aws.queues.items()}}
    queues = dlq.queues(state)
    sources = dlq.dead_letter_map(sqs, queues)
    assert sources["NotifyDLQ"] == ["NotifyQueue"] and sources["IntakeDLQ"] == ["IntakeQueue"]

    counts = dlq.redrive(sqs, aws.queues["NotifyDLQ"], aws.queues["NotifyQueue"], limit=5)
    assert counts == {"moved": 5, "failed": 0}
    counts = dlq.redrive(sqs, aws.queues["NotifyDLQ"], aws.queues["NotifyQueue"])
    assert counts == {"moved": 18, "failed": 0}
    assert aws.drain("NotifyDLQ") == []
    moved = aws.drain("NotifyQueue")
    assert sorted(m["n"] for m in moved) == list(range(23))


def test_outbox_rows_are_masked_and_newest_first_when_read_from_the_sent_record():
    sent = [
        {"seq": 1, "channel": "sms", "message_id": "s1", "sent_at": "2026-11-26T01:00:00.000Z",
         "recipients": ["+821012345678"], "subject": "", "text": "[1379] 261126-0001 진행상황 https://x/t/a"},
        {"seq": 2, "channel": "email", "message_id": "m1", "sent_at": "2026-11-26T01:00:00.000Z",
         "recipients": ["minsu.kim@example.com"], "subject": "[SOS 1379] 접수 (접수번호 261126-0001)", "text": "본문"},
        {"seq": 3, "channel": "sms", "message_id": "s2", "sent_at": "2026-11-26T03:00:00.000Z",
         "recipients": ["+821099998888"], "subject": "", "text": "[1379] 261126-0002 진행상황 https://x/t/b"}]
    ordered = outbox.newest_first(outbox.collect(sent))
    assert [r["message_id"] for r in ordered] == ["s2", "m1", "s1"]  # same millisecond: record order decides
    assert [r["case_number"] for r in ordered] == ["261126-0002", "261126-0001", "261126-0001"]
    assert ordered[0]["recipient"] == "+82-10-****-8888" and ordered[1]["recipient"] == "m***@example.com"
    assert ordered[2]["sent_at"] == "2026-11-26T01:00:00.000Z"
    assert "minsu.kim" not in json.dumps(ordered, ensure_ascii=False)
