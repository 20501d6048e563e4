"""Lambda's event shapes and its reading of batch answers (infra.localstack.events)."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from infra.localstack.events import settle_batch, sqs_record, stream_checkpoint, stream_record

IDS = ["m1", "m2", "m3"]


def test_partial_failures_name_exactly_the_reported_items_when_mapping_reports_them():
    outcome = settle_batch(IDS, error=None, response={"batchItemFailures": [{"itemIdentifier": "m2"}]},
                           report_batch_item_failures=True)
    assert outcome.failed == {"m2"} and not outcome.whole_batch


def test_whole_batch_fails_when_the_function_raises():
    outcome = settle_batch(IDS, error={"errorType": "RuntimeError"}, response=None, report_batch_item_failures=True)
    assert outcome.failed == set(IDS) and outcome.whole_batch


def test_batch_item_failures_are_ignored_when_mapping_does_not_report_them():
    outcome = settle_batch(IDS, error=None, response={"batchItemFailures": [{"itemIdentifier": "m1"}]},
                           report_batch_item_failures=False)
    assert outcome.ok


def test_empty_or_missing_failure_list_is_success_when_mapping_reports_them():
    for response in (None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"other": 1}):
        assert settle_batch(IDS, error=None, response=response, report_batch_item_failures=True).ok, response


def test_whole_batch_fails_when_an_item_identifier_is_invalid():
    for bad in ({"itemIdentifier": ""}, {"itemIdentifier": None}, {"itemId": "m1"}, {"itemIdentifier": "nope"},
                "m1"):
        outcome = settle_batch(IDS, error=None, response={"batchItemFailures": [bad]},
                               report_batch_item_failures=True)
        assert outcome.whole_batch and outcome.failed == set(IDS), bad


def test_whole_batch_fails_when_the_response_is_a_string_that_is_not_json():
    outcome = settle_batch(IDS, error=None, response="oops", report_batch_item_failures=True)
    assert outcome.whole_batch


def test_sqs_record_has_lambda_fields_when_built_from_a_received_message():
    message = {
        "MessageId": "id-1", "ReceiptHandle": "rh", "Body": "{}", "MD5OfBody": "md5",
        "Attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1", "SenderId": "s",
                       "ApproximateFirstReceiveTimestamp": "2", "Unrelated": "x"},
        "MessageAttributes": {"kind": {"StringValue": "case", "DataType": "String"},
                              "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"}},
        "MD5OfMessageAttributes": "md5a",
    }
    record = sqs_record(message, queue_arn="arn:q", region="ap-northeast-2")
    assert record["messageId"] == "id-1" and record["receiptHandle"] == "rh"
    assert record["attributes"] == {"ApproximateReceiveCount": "3", "SentTimestamp": "1", "SenderId": "s",
                                    "ApproximateFirstReceiveTimestamp": "2"}
    assert record["messageAttributes"]["kind"] == {"stringValue": "case", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert base64.b64decode(record["messageAttributes"]["blob"]["binaryValue"]) == b"\x00\x01"
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == "arn:q"


def test_sqs_record_validates_against_powertools_model_when_built():
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    message = {"MessageId": "id-1", "ReceiptHandle": "rh", "Body": "hi", "MD5OfBody": "md5",
               "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000", "SenderId": "s",
                              "ApproximateFirstReceiveTimestamp": "1700000000001"}}
    SqsModel.model_validate({"Records": [sqs_record(message, queue_arn="arn:aws:sqs:ap-northeast-2:1:q",
                                                    region="ap-northeast-2")]})


def test_stream_record_encodes_binaries_and_timestamps_when_built_from_get_records():
    raw = {"eventID": "e", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
           "awsRegion": "ap-northeast-2",
           "dynamodb": {"ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=timezone.utc),
                        "Keys": {"pk": {"S": "a"}}, "NewImage": {"b": {"B": b"\xff"}, "bs": {"BS": [b"\x01"]}},
                        "SequenceNumber": "100", "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}}
    record = stream_record(raw, stream_arn="arn:stream", region="ap-northeast-2")
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1767225600
    assert record["dynamodb"]["NewImage"]["b"]["B"] == base64.b64encode(b"\xff").decode()
    assert record["dynamodb"]["NewImage"]["bs"]["BS"] == [base64.b64encode(b"\x01").decode()]
    assert record["eventSourceARN"] == "arn:stream"


def test_stream_checkpoint_is_lowest_failed_sequence_number_when_batch_partly_fails():
    seqs = ["101", "102", "103", "1000"]
    outcome = settle_batch(seqs, error=None, response={"batchItemFailures": [{"itemIdentifier": "1000"},
                                                                             {"itemIdentifier": "102"}]},
                           report_batch_item_failures=True)
    assert stream_checkpoint(seqs, outcome) == "102"


def test_stream_checkpoint_is_first_record_when_whole_batch_fails_and_none_when_it_succeeds():
    seqs = ["7", "8"]
    assert stream_checkpoint(seqs, settle_batch(seqs, error={"e": 1}, response=None,
                                                report_batch_item_failures=True)) == "7"
    assert stream_checkpoint(seqs, settle_batch(seqs, error=None, response=None,
                                                report_batch_item_failures=True)) is None


def test_stack_logs_mask_personal_data_when_function_errors_quote_input():
    import json
    import logging

    from infra.localstack.logs import JsonFormatter

    record = logging.LogRecord("localstack.dispatcher", logging.WARNING, __file__, 1, "sqs.batch", None, None)
    record.fields = {"error": "bad input_value='010-1234-5678' from kim@example.com for 116-82-00276",
                     "case_id": "0e767f67c21947f0ae0b66b81e04bf27", "sequence": "1100000000017454423009"}
    line = json.loads(JsonFormatter().format(record))
    assert line["error"] == "bad input_value='<phone>' from <email> for <business-number>"
    assert line["case_id"] == "0e767f67c21947f0ae0b66b81e04bf27"
    assert line["sequence"] == "1100000000017454423009"
