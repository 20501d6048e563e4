"""The fault injector itself: faults reach botocore's retry loop, "timeout after apply" really
applies the write before failing, and a seed makes a run reproducible."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.reliability.faults import FaultRule

STANDARD = Config(retries={"mode": "standard", "total_max_attempts": 3})


def _count(sqs, url: str) -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"])


def test_throttled_send_is_not_applied_and_is_retried_when_every_attempt_fails(aws, faults):
    injector = faults(FaultRule("sqs", 1.0, frozenset({"SendMessage"}), (("throttle", 1.0),)))
    sqs = boto3.session.Session().client("sqs", config=STANDARD)
    url = aws.queues["IntakeQueue"]
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert injector.stats.attempts[("sqs", "SendMessage")] == 3  # botocore retried it twice
    assert _count(sqs, url) == 0


def test_timed_out_write_is_applied_once_per_attempt_when_the_answer_is_lost(aws, faults):
    faults(FaultRule("sqs", 1.0, frozenset({"SendMessage"}), (("timeout_after_apply", 1.0),)))
    sqs = boto3.session.Session().client("sqs", config=STANDARD)
    url = aws.queues["IntakeQueue"]
    with pytest.raises(ReadTimeoutError):
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert _count(sqs, url) == 3  # the retries resent an already-applied write


def test_dynamodb_write_succeeds_after_retries_when_faults_are_transient(aws, faults):
    injector = faults(FaultRule.writes("dynamodb", 0.5, {"server_error": 1.0}), seed=3)
    table = boto3.session.Session().resource(
        "dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 10})).Table(aws.tables["CasesTable"])
    for i in range(20):
        table.put_item(Item={"PK": f"T#{i}", "SK": "META"})
    assert len(table.scan()["Items"]) == 20
    injected = sum(n for (s, op, _), n in injector.stats.injected.items() if op == "PutItem")
    assert 0 < injected < injector.stats.attempts[("dynamodb", "PutItem")]


def test_reads_pass_untouched_when_only_writes_are_faulted(aws, faults):
    injector = faults(FaultRule.writes("dynamodb", 1.0))
    table = boto3.session.Session().resource("dynamodb").Table(aws.tables["CasesTable"])
    assert table.get_item(Key={"PK": "none", "SK": "META"}).get("Item") is None
    assert injector.stats.attempts[("dynamodb", "GetItem")] == 1
    assert not injector.stats.injected


def test_same_seed_injects_the_same_faults_when_run_twice(aws, faults):
    from tests.reliability.faults import FaultInjector

    def decisions(seed: int) -> list:
        injector = FaultInjector([FaultRule.writes("sqs", 0.3)], seed=seed)
        return [injector._pick("sqs", "SendMessage") for _ in range(200)]

    assert decisions(5) == decisions(5)
    assert decisions(5) != decisions(6)
    kinds = [k for k in decisions(5) if k]
    assert 30 <= len(kinds) <= 90 and {"throttle", "timeout_after_apply"} <= set(kinds)
