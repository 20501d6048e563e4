"""Powertools' BatchProcessor that says why a record failed, without personal data.

Powertools reports a failed record only at DEBUG unless it gets a ``logger``, and then it logs
the whole traceback, whose message may quote the input (a pydantic error repeats the rejected
phone number or address). This one logs each failure at WARNING with the record's id and the
exception's type, plus botocore's error code when there is one: enough to find the record in the
DLQ and the cause in the code, nothing an SME typed."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from .errors import aws_error_code


def _record_id(record: Any) -> str:
    for path in (("message_id",), ("dynamodb", "sequence_number")):
        value: Any = record
        for attr in path:
            value = getattr(value, attr, None)
        if value:
            return str(value)
    return ""


class LoggedBatchProcessor(BatchProcessor):
    def __init__(self, event_type: EventType, logger: Any) -> None:
        super().__init__(event_type=event_type)
        self._log = logger

    def failure_handler(self, record, exception):  # type: ignore[override]
        error = exception[1]
        code = aws_error_code(error)
        self._log.warning("record failed; left for retry", extra={
            "record_id": _record_id(record), "error": type(error).__name__, "error_code": code})
        return super().failure_handler(record, exception)
