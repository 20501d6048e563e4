"""A stand-in for the Lambda context object and Lambda's answer encoding (stdlib only: the worker
process imports it before the function's own code, and its import time counts as cold start)."""
from __future__ import annotations

import decimal
import json
import time
import traceback
import uuid
from typing import Any


class LambdaContext:
    """The attributes and method the Python runtime's context offers."""

    def __init__(
        self,
        function_name: str,
        *,
        timeout_s: float,
        memory_mb: int = 128,
        region: str = "ap-northeast-2",
        account: str = "123456789012",
        request_id: str | None = None,
        deadline: float | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = deadline if deadline is not None else time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _LambdaEncoder(json.JSONEncoder):
    # The Python runtime's marshaller turns Decimal (what boto3's DynamoDB resource returns) into a
    # number; anything else that json cannot encode is a Runtime.MarshalError.
    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def encode_response(value: Any) -> Any:
    """Round-trip ``value`` through JSON the way the runtime would send it back to Lambda."""
    return json.loads(json.dumps(value, cls=_LambdaEncoder))


def error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """The ``errorType``/``errorMessage``/``stackTrace`` body Lambda reports for a failed call."""
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-12:],
    }
