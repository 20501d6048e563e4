"""The dispatcher's pollers and scheduler against in-memory fakes (no moto, no processes)."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

from infra.localstack.dispatcher import (
    ScheduleEntry,
    Scheduler,
    SqsMapping,
    SqsPoller,
    StreamMapping,
    StreamPoller,
    Wakeup,
)
from infra.localstack.runtime import InvocationResult
from infra.localstack.schedule import Schedule
from infra.template import ScheduleSource, SqsSource, StreamSource


class FakeSqs:
    """Enough of SQS for one queue: receive counts, deletes, visibility changes, sends."""

    def __init__(self, bodies):
        self.messages = {f"id-{i}": {"body": b, "count": 0, "visible": True} for i, b in enumerate(bodies)}
        self.deleted: list[str] = []
        self.visibility: dict[str, int] = {}
        self.sent: list[dict] = []
        self.receive_limits: list[int] = []

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds, **_):
        self.receive_limits.append(MaxNumberOfMessages)
        out = []
        for mid, m in self.messages.items():
            if m["visible"] and mid not in self.deleted and len(out) < MaxNumberOfMessages:
                m["count"] += 1
                m["visible"] = False
                out.append({"MessageId": mid, "ReceiptHandle": f"rh-{mid}-{m['count']}", "Body": m["body"],
                            "MD5OfBody": "x", "Attributes": {"ApproximateReceiveCount": str(m["count"]),
                                                             "SentTimestamp": "1", "SenderId": "s",
                                                             "ApproximateFirstReceiveTimestamp": "1"}})
        return {"Messages": out}

    def delete_message_batch(self, QueueUrl, Entries):
        assert len(Entries) <= 10
        self.deleted += [e["ReceiptHandle"].split("-", 1)[1].rsplit("-", 1)[0] for e in Entries]

    def change_message_visibility(self, QueueUrl, ReceiptHandle, VisibilityTimeout):
        self.visibility[ReceiptHandle] = VisibilityTimeout

    def send_message(self, QueueUrl, MessageBody):
        self.sent.append({"QueueUrl": QueueUrl, "Body": json.loads(MessageBody)})

    def expire_visibility(self):
        for m in self.messages.values():
            m["visible"] = True


class FakeInvoker:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.events: list[dict] = []

    def invoke(self, function_id, event, *, request_id=None):
        self.events.append(event)
        ok, response = self.behaviour(event)
        return InvocationResult(function_id, "req", ok, response=response if ok else None,
                                error=None if ok else {"errorType": "Boom", "errorMessage": "boom"})


def _fail_bodies(event):
    failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if json.loads(r["body"]).get("fail")]
    return True, {"batchItemFailures": failed}


def _sqs_poller(fake, invoker, **source):
    mapping = SqsMapping("Fn", SqsSource(logical_id="FnQ", queue="Q", **source), "url", "arn:aws:sqs:r:1:q")
    return SqsPoller(mapping, fake, invoker, region="ap-northeast-2", wait_seconds=0)


def test_sqs_batches_never_exceed_batch_size_when_queue_holds_more():
    fake = FakeSqs([json.dumps({"n": i}) for i in range(7)])
    invoker = FakeInvoker(lambda e: (True, None))
    poller = _sqs_poller(fake, invoker, batch_size=3)
    while poller.poll_once() is not None:
        pass
    assert [len(e["Records"]) for e in invoker.events] == [3, 3, 1]
    assert sorted(fake.deleted) == sorted(fake.messages)


def test_only_reported_failures_stay_on_queue_when_mapping_reports_item_failures():
    fake = FakeSqs([json.dumps({"fail": i == 1}) for i in range(3)])
    poller = _sqs_poller(fake, FakeInvoker(_fail_bodies), batch_size=10, report_batch_item_failures=True)
    outcome = poller.poll_once()
    assert outcome.failed == {"id-1"}
    assert sorted(fake.deleted) == ["id-0", "id-2"]
    assert fake.visibility == {}  # left to the queue's own visibility timeout, as Lambda does


def test_every_message_stays_when_function_raises():
    fake = FakeSqs(["a", "b"])
    poller = _sqs_poller(fake, FakeInvoker(lambda e: (False, None)), batch_size=10,
                         report_batch_item_failures=True)
    assert poller.poll_once().whole_batch
    assert fake.deleted == []


def test_reported_failures_are_deleted_when_mapping_lacks_report_batch_item_failures():
    fake = FakeSqs([json.dumps({"fail": True}), json.dumps({})])
    poller = _sqs_poller(fake, FakeInvoker(_fail_bodies), batch_size=10, report_batch_item_failures=False)
    assert poller.poll_once().ok
    assert sorted(fake.deleted) == ["id-0", "id-1"]


def test_each_record_keeps_its_own_message_id_and_receive_count_when_retried():
    fake = FakeSqs([json.dumps({"fail": True}), json.dumps({})])
    invoker = FakeInvoker(_fail_bodies)
    poller = _sqs_poller(fake, invoker, batch_size=10, report_batch_item_failures=True)
    poller.poll_once()
    fake.expire_visibility()
    poller.poll_once()
    first, second = invoker.events
    assert [r["messageId"] for r in first["Records"]] == ["id-0", "id-1"]
    assert [(r["messageId"], r["attributes"]["ApproximateReceiveCount"]) for r in second["Records"]] == [("id-0", "2")]


def test_filtered_out_messages_are_deleted_without_invocation_when_filter_criteria_set():
    fake = FakeSqs([json.dumps({"kind": "case"}), json.dumps({"kind": "other"})])
    invoker = FakeInvoker(lambda e: (True, None))
    poller = _sqs_poller(fake, invoker, batch_size=10, filter_patterns=('{"body": {"kind": ["case"]}}',))
    poller.poll_once()
    assert [json.loads(r["body"])["kind"] for r in invoker.events[0]["Records"]] == ["case"]
    assert sorted(fake.deleted) == ["id-0", "id-1"]


def test_retry_visibility_override_shortens_the_wait_when_configured():
    fake = FakeSqs([json.dumps({"fail": True})])
    mapping = SqsMapping("Fn", SqsSource(logical_id="FnQ", queue="Q", report_batch_item_failures=True), "url", "arn")
    SqsPoller(mapping, fake, FakeInvoker(_fail_bodies), region="r", wait_seconds=0, retry_visibility=1).poll_once()
    assert list(fake.visibility.values()) == [1]


class FakeStreams:
    def __init__(self, keys):
        self.records = [
            {"eventID": str(i), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
             "awsRegion": "r", "dynamodb": {"Keys": {"pk": {"S": k}}, "SequenceNumber": str(100 + i),
                                             "SizeBytes": 1, "StreamViewType": "NEW_IMAGE",
                                             "NewImage": {"pk": {"S": k}}}}
            for i, k in enumerate(keys)
        ]

    def describe_stream(self, StreamArn):
        return {"StreamDescription": {"Shards": [{"ShardId": "shard-1"}]}}

    def get_shard_iterator(self, StreamArn, ShardId, ShardIteratorType):
        return {"ShardIterator": "0" if ShardIteratorType == "TRIM_HORIZON" else str(len(self.records))}

    def get_records(self, ShardIterator, Limit):
        start = int(ShardIterator)
        chunk = self.records[start:start + Limit]
        return {"Records": chunk, "NextShardIterator": str(start + len(chunk))}


def _stream_poller(streams, invoker, sqs=None, **source):
    mapping = StreamMapping("Fn", StreamSource(logical_id="FnS", table="T", starting_position="TRIM_HORIZON", **source),
                            "arn:stream", on_failure_queue_url="dlq-url" if sqs else None)
    poller = StreamPoller(mapping, streams, invoker, region="r", sqs=sqs, clock=lambda: 0.0, sleep=lambda s: None)
    poller.discover()
    return poller


def _keys(event):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]


def test_stream_records_arrive_in_order_in_batches_when_shard_has_many():
    streams = FakeStreams([f"k{i}" for i in range(5)])
    invoker = FakeInvoker(lambda e: (True, None))
    poller = _stream_poller(streams, invoker, batch_size=2)
    while poller.step("shard-1") is not None:
        pass
    assert [_keys(e) for e in invoker.events] == [["k0", "k1"], ["k2", "k3"], ["k4"]]


def test_stream_retries_from_failed_sequence_number_when_item_reported():
    streams = FakeStreams(["a", "b", "c"])
    failures = {"b": 1}

    def behaviour(event):
        for r in event["Records"]:
            key = r["dynamodb"]["Keys"]["pk"]["S"]
            if failures.get(key):
                failures[key] -= 1
                return True, {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}]}
        return True, None

    invoker = FakeInvoker(behaviour)
    poller = _stream_poller(streams, invoker, batch_size=10, report_batch_item_failures=True)
    poller.step("shard-1")
    poller.step("shard-1")
    assert [_keys(e) for e in invoker.events] == [["a", "b", "c"], ["b", "c"]]
    assert poller.step("shard-1") is None


def test_stream_batch_goes_to_on_failure_queue_when_retries_exhausted():
    streams = FakeStreams(["a", "b"])
    sqs = FakeSqs([])
    invoker = FakeInvoker(lambda e: (False, None))
    poller = _stream_poller(streams, invoker, sqs=sqs, batch_size=10, maximum_retry_attempts=2)
    for _ in range(3):
        poller.step("shard-1")
    assert len(invoker.events) == 3  # the first try and two retries
    info = sqs.sent[0]["Body"]["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("100", "101", 2)
    assert sqs.sent[0]["Body"]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert poller.step("shard-1") is None


def test_stream_batch_is_halved_when_bisect_on_error_and_batch_fails():
    streams = FakeStreams(["a", "b", "c", "d"])
    invoker = FakeInvoker(lambda e: (len(e["Records"]) < 4, None))
    poller = _stream_poller(streams, invoker, batch_size=4, bisect_on_error=True)
    poller.step("shard-1")
    poller.step("shard-1")
    assert [len(e["Records"]) for e in invoker.events] == [4, 2]


def test_an_idle_shard_reads_a_new_record_when_woken_not_after_its_idle_interval():
    streams = FakeStreams([])
    reads = threading.Semaphore(0)
    get_records = streams.get_records

    def counting_get_records(**kwargs):
        out = get_records(**kwargs)
        reads.release()
        return out

    streams.get_records = counting_get_records
    delivered = threading.Event()
    invoker = FakeInvoker(lambda e: (delivered.set(), (True, None))[1])
    wakeup, stop = Wakeup(), threading.Event()
    mapping = StreamMapping("Fn", StreamSource(logical_id="FnS", table="T", starting_position="TRIM_HORIZON"),
                            "arn:stream")
    # an hour between idle reads: only the wake-up can deliver the record within the test
    poller = StreamPoller(mapping, streams, invoker, region="r", wakeup=wakeup, idle_interval=3600)
    poller.discover()
    thread = threading.Thread(target=poller.run_shard, args=("shard-1", stop), daemon=True)
    thread.start()
    try:
        assert reads.acquire(timeout=30)  # the shard was read once and found nothing
        streams.records.append(FakeStreams(["late"]).records[0])
        wakeup.notify()
        assert delivered.wait(timeout=30)
        assert [_keys(e) for e in invoker.events] == [["late"]]
    finally:
        stop.set()
        wakeup.notify()
        thread.join(timeout=30)
    assert not thread.is_alive()


def _entry(expression, input_=None, kind="events", created=None):
    created = created or datetime(2026, 1, 1, tzinfo=timezone.utc)
    source = ScheduleSource(logical_id="Rule", expression=expression, input=input_, kind=kind)
    return ScheduleEntry("Fn", source, Schedule.parse(expression), "arn:aws:events:r:1:rule/x", created=created)


def test_schedule_fires_with_its_input_when_due():
    invoker = FakeInvoker(lambda e: (True, None))
    entry = _entry("rate(1 minute)", {"job": "sla"})
    scheduler = Scheduler([entry], invoker, region="r", account="1")
    start = entry.created
    assert scheduler.fire_due(start + timedelta(seconds=30)) == 0
    assert scheduler.fire_due(start + timedelta(seconds=61)) == 1
    assert invoker.events == [{"job": "sla"}]


def test_schedule_sends_scheduled_event_envelope_when_rule_has_no_input():
    invoker = FakeInvoker(lambda e: (True, None))
    entry = _entry("cron(0 * * * ? *)")
    Scheduler([entry], invoker, region="r", account="1").fire_due(entry.created + timedelta(hours=1))
    event = invoker.events[0]
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == ["arn:aws:events:r:1:rule/x"]


def test_schedule_fires_once_when_several_slots_were_missed():
    invoker = FakeInvoker(lambda e: (True, None))
    entry = _entry("rate(1 minute)", {})
    Scheduler([entry], invoker, region="r", account="1").fire_due(entry.created + timedelta(minutes=10, seconds=5))
    assert len(invoker.events) == 1


def test_failed_scheduled_invocation_is_retried_twice_when_async_retries_default():
    invoker = FakeInvoker(lambda e: (False, None))
    entry = _entry("at(2026-01-01T00:05:00)", {"x": 1})
    scheduler = Scheduler([entry], invoker, region="r", account="1",
                          retry_delays=(timedelta(minutes=1), timedelta(minutes=2)))
    t0 = entry.created + timedelta(minutes=5)
    scheduler.fire_due(t0)
    scheduler.fire_due(t0 + timedelta(minutes=1))
    scheduler.fire_due(t0 + timedelta(minutes=3))
    scheduler.fire_due(t0 + timedelta(minutes=10))
    assert len(invoker.events) == 3
