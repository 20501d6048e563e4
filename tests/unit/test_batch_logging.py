"""The consumers' batch processor says which record failed and why, never what the SME typed."""
import logging

from aws_lambda_powertools.utilities.batch import EventType, process_partial_response

from sos1379.batch import LoggedBatchProcessor

PHONE = "010-1234-5678"


def _sqs(*ids):
    return {"Records": [{"messageId": i, "receiptHandle": "r", "body": "{}", "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:q",
                         "awsRegion": "ap-northeast-2"} for i in ids]}


def _fail_on_bad(record):
    if record.message_id == "bad":
        raise ValueError(f"invalid phone {PHONE}")


def test_failed_record_is_logged_with_id_and_type_but_not_message_when_handler_raises(caplog):
    logger = logging.getLogger("test.batch")
    processor = LoggedBatchProcessor(EventType.SQS, logger)
    with caplog.at_level(logging.WARNING, logger="test.batch"):
        result = process_partial_response(event=_sqs("ok", "bad"), record_handler=_fail_on_bad,
                                          processor=processor)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    [warning] = [r for r in caplog.records if r.name == "test.batch"]
    assert warning.levelno == logging.WARNING
    assert (warning.record_id, warning.error) == ("bad", "ValueError")
    assert PHONE not in caplog.text and warning.exc_info is None


def test_nothing_is_logged_when_every_record_succeeds(caplog):
    processor = LoggedBatchProcessor(EventType.SQS, logging.getLogger("test.batch"))
    with caplog.at_level(logging.WARNING, logger="test.batch"):
        result = process_partial_response(event=_sqs("a", "b"), record_handler=lambda record: None,
                                          processor=processor)
    assert result == {"batchItemFailures": []}
    assert not [r for r in caplog.records if r.name == "test.batch"]
