"""The case and its event are written atomically; the stream relay delivers the event to the queue
even when the process that accepted the case died right after the write."""
import boto3
import pytest

from sos1379 import intake
from sos1379.store import CaseStore


def stream_records(table_name: str) -> list[dict]:
    ddb = boto3.client("dynamodb")
    # botocore >= 1.40 derives an account-scoped streams endpoint that in-process moto does not
    # recognise; the classic endpoint works (server mode uses AWS_ENDPOINT_URL anyway).
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.ap-northeast-2.amazonaws.com")
    arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += streams.get_records(ShardIterator=it)["Records"]
    return records


def test_submitted_event_reaches_intake_queue_after_the_writer_died(aws, sample_case):
    # The API process writes the case and dies before anything else happens: it never talks to
    # SQS at all. The relay, running later and elsewhere, still publishes the event.
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    assert aws.drain("IntakeQueue") == []  # nothing sent by the writer itself

    from sos1379.outbox import relay_record

    for record in stream_records(aws.tables["CasesTable"]):
        relay_record(record)
    intake_msgs = aws.drain("IntakeQueue")
    notify_msgs = aws.drain("NotifyQueue")
    assert [m["type"] for m in intake_msgs] == ["case.submitted"]
    assert intake_msgs[0]["case_id"] == receipt["case_id"]
    assert [m["type"] for m in notify_msgs] == ["case.submitted"]
    assert "contact" not in intake_msgs[0]["data"]


def test_failed_transaction_leaves_neither_case_nor_event(aws, sample_case, monkeypatch):
    store = CaseStore(aws.tables["CasesTable"])
    real = store.raw.transact_write_items

    def broken(**kwargs):
        raise RuntimeError("connection reset after send")

    monkeypatch.setattr(store.raw, "transact_write_items", broken)
    with pytest.raises(RuntimeError):
        intake.submit_case(store, sample_case)
    monkeypatch.setattr(store.raw, "transact_write_items", real)
    items = boto3.resource("dynamodb").Table(aws.tables["CasesTable"]).scan()["Items"]
    assert not [i for i in items if i.get("kind") in ("case", "event")]
    assert not [r for r in stream_records(aws.tables["CasesTable"]) if "EVENT#" in r["dynamodb"]["Keys"]["SK"]["S"]]


def test_relay_handler_reports_failed_records_for_retry(aws, sample_case, monkeypatch):
    import importlib.util

    from tests.conftest import ROOT

    store = CaseStore(aws.tables["CasesTable"])
    intake.submit_case(store, sample_case)
    records = stream_records(aws.tables["CasesTable"])
    spec = importlib.util.spec_from_file_location("relay_handler", ROOT / "functions/relay_outbox/handler.py")
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    monkeypatch.setenv("INTAKE_QUEUE_URL", "http://127.0.0.1:1/nowhere")  # SQS unreachable for intake
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    out = handler.lambda_handler({"Records": records}, _Context())
    failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
    event_seq = [r["dynamodb"]["SequenceNumber"] for r in records if "EVENT#" in r["dynamodb"]["Keys"]["SK"]["S"]]
    assert failed == set(event_seq)


class _Context:
    function_name = "RelayOutboxFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:relay"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self):
        return 30000
