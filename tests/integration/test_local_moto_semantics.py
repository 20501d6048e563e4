"""The local stack's moto patches (infra.localstack.motofast) keep DynamoDB's and SQS's answers
and add what moto server lacks under concurrency: one DynamoDB request at a time."""
from __future__ import annotations

import threading

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from infra.localstack.motofast import linear_sqs, moto_fixes, partition_queries

REGION = "ap-northeast-2"


def _table(ddb):
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                           {"AttributeName": "SK", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"},
                                {"AttributeName": "SK", "KeyType": "RANGE"}])
    for pk in ("A", "B", "C"):
        for n in range(7):
            ddb.put_item(TableName="t", Item={"PK": {"S": pk}, "SK": {"S": f"EVENT#{n:02d}"}, "n": {"N": str(n)}})


def _pages(ddb, **kwargs):
    out, start = [], None
    while True:
        page = ddb.query(TableName="t", Limit=3, **kwargs, **({"ExclusiveStartKey": start} if start else {}))
        out.append([(i["PK"]["S"], i["SK"]["S"]) for i in page["Items"]])
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


@pytest.mark.parametrize("forward", [True, False])
def test_partition_query_answers_exactly_like_moto_when_paging_and_filtering(forward):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        _table(ddb)
        query = dict(KeyConditionExpression="PK = :pk AND begins_with(SK, :p)", ScanIndexForward=forward,
                     FilterExpression="n <> :skip",
                     ExpressionAttributeValues={":pk": {"S": "B"}, ":p": {"S": "EVENT#"}, ":skip": {"N": "3"}})
        plain = _pages(ddb, **query)
        with partition_queries():
            patched = _pages(ddb, **query)
    assert patched == plain
    assert {pk for page in patched for pk, _ in page} == {"B"}
    assert sum(len(p) for p in patched) == 6


def test_receive_keeps_messages_within_retention_and_drops_expired_ones_when_patched():
    with mock_aws(), linear_sqs():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="fresh")
        from moto.sqs.models import sqs_backends

        queue = sqs_backends["123456789012"][REGION].get_queue("q")
        sqs.send_message(QueueUrl=url, MessageBody="old")
        queue._messages[-1].sent_timestamp -= 120_000  # sent two minutes ago: past retention
        bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["fresh"]


def test_concurrent_counter_updates_never_return_the_same_value_when_served_by_moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with moto_fixes():
        server.start()
        try:
            host, port = server.get_host_and_port()
            session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
            ddb = session.client("dynamodb", endpoint_url=f"http://{host}:{port}")
            _table(ddb)
            values: list[int] = []
            lock = threading.Lock()

            def bump() -> None:
                for _ in range(10):
                    out = ddb.update_item(TableName="t", Key={"PK": {"S": "COUNTER"}, "SK": {"S": "day"}},
                                          UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}},
                                          ReturnValues="UPDATED_NEW")
                    with lock:
                        values.append(int(out["Attributes"]["n"]["N"]))

            threads = [threading.Thread(target=bump) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.stop()
    assert sorted(values) == list(range(1, 81))


def test_standard_and_fifo_sends_keep_their_rules_and_counts_stay_right_when_patched():
    with mock_aws(), linear_sqs():
        sqs = boto3.client("sqs", region_name=REGION)
        std = sqs.create_queue(QueueName="std")["QueueUrl"]
        fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true",
                                                                  "ContentBasedDeduplication": "true"})["QueueUrl"]
        for _ in range(3):
            sqs.send_message(QueueUrl=std, MessageBody="same")
            sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
        counts = {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                  for url in (std, fifo)}
    assert counts[std]["ApproximateNumberOfMessages"] == "3"  # standard queues never deduplicate
    assert counts[fifo]["ApproximateNumberOfMessages"] == "1"  # content-based deduplication still applies
    assert counts[fifo]["ContentBasedDeduplication"] == "true"
