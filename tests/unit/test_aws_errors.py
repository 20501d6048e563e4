"""Reading botocore's error responses happens in one place (sos1379.errors); these pin what counts
as a lost condition, so a transaction cancelled for another reason is never taken for one."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sos1379.errors import aws_error_code, cancellation_codes, is_conditional_failure


def _error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": "test"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "TransactWriteItems")


def test_a_single_write_is_conditional_when_its_condition_failed():
    assert is_conditional_failure(_error("ConditionalCheckFailedException"))


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ValidationException", ""])
def test_other_errors_are_not_conditional_when_the_code_differs(code):
    assert not is_conditional_failure(_error(code))


def test_a_plain_exception_is_not_conditional_when_it_has_no_aws_response():
    assert not is_conditional_failure(ValueError("x"))
    assert aws_error_code(ValueError("x")) == "" and cancellation_codes(ValueError("x")) == []


def test_a_cancelled_transaction_is_conditional_when_any_action_lost_its_condition():
    exc = _error("TransactionCanceledException", ["None", "ConditionalCheckFailed"])
    assert is_conditional_failure(exc)
    assert cancellation_codes(exc) == ["None", "ConditionalCheckFailed"]


def test_a_cancelled_transaction_is_conditional_for_an_action_only_when_that_action_failed():
    exc = _error("TransactionCanceledException", ["None", "ConditionalCheckFailed"])
    assert is_conditional_failure(exc, action=1)
    assert not is_conditional_failure(exc, action=0)
    assert not is_conditional_failure(exc, action=5)


def test_a_cancelled_transaction_is_not_conditional_when_it_was_cancelled_by_a_conflict():
    exc = _error("TransactionCanceledException", ["TransactionConflict", "None"])
    assert not is_conditional_failure(exc)
    assert not is_conditional_failure(exc, action=0)


def test_a_cancelled_transaction_without_reasons_counts_as_conditional():
    assert is_conditional_failure(_error("TransactionCanceledException"))
    assert is_conditional_failure(_error("TransactionCanceledException"), action=0)
