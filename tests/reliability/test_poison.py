"""Poison messages on every consumer: a batch of 10 with 0, 1, 5 or 10 poison records fails
exactly the poison records (``batchItemFailures``), the healthy ones are done once; poison ends in
the DLQ after maxReceiveCount receives, and ``sos1379 dlq redrive`` (infra.cli.dlq.redrive) brings
it back once the cause is fixed.

Batches are settled the way Lambda settles them (infra.localstack.events.settle_batch): when every
record fails, Powertools raises BatchProcessingError and Lambda retries the whole batch, which is
the same set of failed ids. Healthy records are messages the consumer acknowledges without work
(an event type it does not handle), so the batch semantics are tested in isolation; the pipeline
suite covers healthy records that do real work."""
from __future__ import annotations

import json
import logging
import uuid

import boto3
import pytest

from infra.localstack.dispatcher import SqsMapping, SqsPoller
from infra.localstack.events import settle_batch, stream_record
from infra.reliability.pipeline import LocalInvoker, Function, load_handler, queue_arn
from infra.template import SqsSource
from sos1379 import intake
from sos1379.store import CaseStore
from tests.reliability.faults import FaultRule

REGION = "ap-northeast-2"
SENDER = "no-reply@sos1379.example.kr"
BATCH = 10
MAX_RECEIVE = 5  # template.yaml: IntakeQueue and NotifyQueue RedrivePolicy.maxReceiveCount


class _Context:
    function_name = "fn"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:fn"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300


@pytest.fixture
def consumers(aws, monkeypatch):
    monkeypatch.setenv("NOTIFY_SENDER_EMAIL", SENDER)
    # the functions' Powertools logger must not be the Chalice app's "sos1379" logger (same process)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sos1379-functions")
    monkeypatch.setenv("NOTIFY_QUIET_START_HOUR", "0")  # start == end: never quiet (the clock is real)
    monkeypatch.setenv("NOTIFY_QUIET_END_HOUR", "0")
    from sos1379.notify import runtime
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    runtime.reset()
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    yield {"route": load_handler("route_case"), "notify": load_handler("notify_sme"),
           "relay": load_handler("relay_outbox")}
    runtime.reset()


def _sqs_record(body: str, queue: str) -> dict:
    return {"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{queue}",
            "awsRegion": REGION}


def _healthy_body(i: int) -> str:
    return json.dumps({"version": 1, "event_id": uuid.uuid4().hex, "case_id": uuid.uuid4().hex,
                       "type": "case.note_added", "at": "2026-11-26T00:00:00Z",
                       "actor": {"kind": "system", "id": "test"}, "data": {"i": i}})


_POISON = ['{"not json', json.dumps({"type": "case.submitted"}), "[]", json.dumps({"event_id": 7, "case_id": None})]


def _failed_ids(handler, event: dict) -> set[str]:
    ids = [r.get("messageId") or r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    try:
        response, error = handler.lambda_handler(event, _Context()), None
    except Exception as exc:  # noqa: BLE001 - Lambda's reading of a raised error: the whole batch failed
        response, error = None, {"errorType": type(exc).__name__}
    outcome = settle_batch(ids, error=error, response=response, report_batch_item_failures=True)
    return set(outcome.failed)


@pytest.mark.parametrize("poison", [0, 1, 5, 10])
@pytest.mark.parametrize("consumer,queue", [("route", "test-IntakeQueue"), ("notify", "test-NotifyQueue")])
def test_batch_fails_exactly_the_poison_records_when_an_sqs_consumer_gets_them(consumers, consumer, queue, poison,
                                                                                caplog):
    records = [_sqs_record(_POISON[i % len(_POISON)] if i < poison else _healthy_body(i), queue)
               for i in range(BATCH)]
    poison_ids = {r["messageId"] for r in records[:poison]}
    handler = consumers[consumer]
    function_logger = logging.getLogger(handler.logger.name)  # Powertools' logger does not propagate
    function_logger.addHandler(caplog.handler)
    try:
        failed = _failed_ids(handler, {"Records": records})
    finally:
        function_logger.removeHandler(caplog.handler)
    assert failed == poison_ids
    # each failure is logged at WARNING with the SQS message id, which the message keeps in the DLQ
    warnings = [r for r in caplog.records if r.getMessage() == "record failed; left for retry"]
    assert {r.record_id for r in warnings} == poison_ids
    assert all(r.levelno == logging.WARNING and r.error for r in warnings)


@pytest.mark.parametrize("consumer,queue", [("route", "test-IntakeQueue"), ("notify", "test-NotifyQueue")])
def test_malformed_body_is_a_typed_failure_of_its_record_only_when_parsed_at_the_handler_edge(consumers, consumer,
                                                                                              queue, caplog):
    """The body is parsed once, into sos1379.messages.CaseMessage, before any service code runs: each
    kind of malformed body fails as ``MalformedMessage`` (the record alone; the queue then retries
    it and, after maxReceiveCount, moves it to the DLQ), and the healthy records beside it pass."""
    records = [_sqs_record(body, queue) for body in _POISON] + [_sqs_record(_healthy_body(i), queue) for i in range(3)]
    handler = consumers[consumer]
    function_logger = logging.getLogger(handler.logger.name)
    function_logger.addHandler(caplog.handler)
    try:
        failed = _failed_ids(handler, {"Records": records})
    finally:
        function_logger.removeHandler(caplog.handler)
    assert failed == {r["messageId"] for r in records[:len(_POISON)]}
    warnings = [r for r in caplog.records if r.getMessage() == "record failed; left for retry"]
    assert {r.record_id for r in warnings} == failed and {r.error for r in warnings} == {"MalformedMessage"}


def _stream_records(table_name: str) -> list[dict]:
    from tests.integration.test_outbox import stream_records

    arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    return [stream_record(r, stream_arn=arn, region=REGION) for r in stream_records(table_name)]


@pytest.mark.parametrize("poison", [0, 1, 5, 10])
def test_relay_fails_exactly_the_poison_stream_records_when_events_cannot_be_published(aws, consumers, sample_case,
                                                                                      poison):
    store = CaseStore(aws.tables["CasesTable"])
    for _ in range(3):
        intake.submit_case(store, sample_case)
    records = _stream_records(aws.tables["CasesTable"])[:BATCH]
    assert len(records) == BATCH
    for record in records[:poison]:
        # an outbox row naming a queue the relay does not know: it can never be published
        image = record["dynamodb"].setdefault("NewImage", {})
        image.update({"kind": {"S": "event"}, "publish_to": {"L": [{"S": "nowhere"}]},
                      "event_id": {"S": uuid.uuid4().hex}, "case_id": {"S": "c"}, "type": {"S": "case.submitted"},
                      "at": {"S": "2026-11-26T00:00:00Z"}, "actor": {"M": {}}})
        record["eventName"] = "INSERT"
    poison_ids = {r["dynamodb"]["SequenceNumber"] for r in records[:poison]}
    assert _failed_ids(consumers["relay"], {"Records": records}) == poison_ids


# --------------------------------------------------------------------------- DLQ and redrive


def _poller(aws, handler, function_id: str, queue: str) -> SqsPoller:
    invoker = LocalInvoker({function_id: Function(handler.lambda_handler, 0.3)})
    source = SqsSource(logical_id=f"{queue}Mapping", queue=queue, batch_size=BATCH, report_batch_item_failures=True)
    url = aws.queues[queue]
    return SqsPoller(SqsMapping(function_id, source, url, queue_arn(url)), boto3.client("sqs"), invoker,
                     region=REGION, wait_seconds=0, retry_visibility=0)


def _drain_until_quiet(poller: SqsPoller, rounds: int = 40) -> int:
    receives = 0
    for _ in range(rounds):
        if poller.poll_once() is None:
            return receives
        receives += 1
    return receives


def _peek(aws, queue: str) -> list[dict]:
    """The visible messages of a small queue, left in place."""
    msgs = boto3.client("sqs").receive_message(QueueUrl=aws.queues[queue], MaxNumberOfMessages=10,
                                               MessageSystemAttributeNames=["All"], VisibilityTimeout=0)
    return [{"body": json.loads(m["Body"]), "attributes": m.get("Attributes", {})} for m in msgs.get("Messages", [])]


def _intake_message(store: CaseStore, case_id: str) -> dict:
    [event] = [e for e in store.history(case_id) if e["type"] == "case.submitted"]
    return {"version": 1, "event_id": event["event_id"], "case_id": case_id, "type": event["type"],
            "at": event["at"], "actor": event["actor"], "data": event.get("data", {})}


def test_intake_poison_reaches_dlq_after_max_receives_and_redrive_routes_it_once_when_fixed(aws, consumers,
                                                                                           sample_case):
    from infra.cli.dlq import redrive

    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    case_id = receipt["case_id"]
    message = _intake_message(store, case_id)
    meta = store.table.get_item(Key={"PK": f"CASE#{case_id}", "SK": "META"})["Item"]
    store.table.delete_item(Key={"PK": f"CASE#{case_id}", "SK": "META"})  # the case is unreadable: poison
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=aws.queues["IntakeQueue"], MessageBody=json.dumps(message))
    healthy = [_healthy_body(i) for i in range(3)]
    for body in healthy:
        sqs.send_message(QueueUrl=aws.queues["IntakeQueue"], MessageBody=body)

    poller = _poller(aws, consumers["route"], "RouteCaseFunction", "IntakeQueue")
    _drain_until_quiet(poller)
    dead = _peek(aws, "IntakeDLQ")
    assert [d["body"]["event_id"] for d in dead] == [message["event_id"]]  # only the poison, once
    assert int(dead[0]["attributes"]["ApproximateReceiveCount"]) >= MAX_RECEIVE

    # operator: the cause is fixed (the case item restored), then the DLQ is redriven
    store.table.put_item(Item=meta)
    assert redrive(sqs, aws.queues["IntakeDLQ"], aws.queues["IntakeQueue"]) == {"moved": 1, "failed": 0}
    _drain_until_quiet(poller)
    assert _peek(aws, "IntakeDLQ") == []
    case = store.get_case(case_id)
    assert case["status"] in ("referred", "triaged", "handed_off")
    assert [e["type"] for e in store.history(case_id)].count("case.routed") == 1
    referral_msgs = [m for q, url in aws.queues.items() if q.startswith("ReferralQueue") for m in aws.drain(q)]
    assert len(referral_msgs) == len(store.referrals(case_id))


def test_notify_poison_reaches_dlq_and_redrive_sends_only_the_missing_email_when_provider_recovers(
        aws, consumers, sample_case, faults):
    from infra.cli.dlq import redrive
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    message = _intake_message(store, receipt["case_id"])
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=aws.queues["NotifyQueue"], MessageBody=json.dumps(message))
    poller = _poller(aws, consumers["notify"], "NotifySmeFunction", "NotifyQueue")

    injector = faults(FaultRule("sesv2", 1.0, frozenset({"SendEmail"}), (("unavailable", 1.0),)))
    _drain_until_quiet(poller)
    dead = _peek(aws, "NotifyDLQ")
    assert [d["body"]["event_id"] for d in dead] == [message["event_id"]]
    assert injector.stats.attempts[("sesv2", "SendEmail")] >= MAX_RECEIVE

    injector.enabled = False  # the provider is back
    assert redrive(sqs, aws.queues["NotifyDLQ"], aws.queues["NotifyQueue"])["moved"] == 1
    _drain_until_quiet(poller)
    sms = list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())
    emails = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert len(sms) == 1  # sent on the first try, never again across 5 retries and the redrive
    assert len(emails) == 1
