"""A Lambda execution environment's bootstrap, for the smoke test (tests/smoke): stdlib only.

Copied alone into a temporary folder and run by the clean runtime interpreter (no project
checkout, no dev virtualenv: ``PYTHONPATH`` is the function's code folder and the /opt/python
layout of the built layers, as in Lambda). It imports the handler once (the cold start), then
answers invocations: one JSON request per stdin line (``{"event": ...}``), one JSON reply per line
on the original stdout. The function's own output (Powertools logs) goes to stderr."""
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import uuid


class LambdaContext:
    def __init__(self, name, memory, timeout):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION')}:123456789012:function:{name}"
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "smoke"
        self.identity = self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc):
    return {"errorType": type(exc).__name__, "errorMessage": str(exc),
            "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-8:]}


def main():
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # the function's stdout (its logs) joins stderr; replies keep the real stdout
    handler_name = os.environ["_HANDLER"]
    began = time.perf_counter()
    handler = error = None
    try:
        module, _, function = handler_name.rpartition(".")
        handler = getattr(importlib.import_module(module), function)
    except BaseException as exc:  # noqa: BLE001 - reported as the function's init error
        error = _error(exc)
    probe = {name: name in sys.modules or importlib.util.find_spec(name) is not None
             for name in ("moto", "pytest", "infra")}
    import boto3
    import botocore

    # Modules of the layers loaded without a .pyc next to them were compiled at this cold start
    # (PYTHONDONTWRITEBYTECODE is set and /opt is read-only in Lambda, so that happens every time).
    compiled_at_start = sorted(
        name for name, module in list(sys.modules.items())
        if name.split(".")[0] == "sos1379" and getattr(module, "__file__", None)
        and getattr(module, "__cached__", None) and not os.path.exists(module.__cached__))

    replies.write(json.dumps({"ready": handler is not None, "error": error,
                              "init_ms": (time.perf_counter() - began) * 1000,
                              "python": sys.version.split()[0], "sys_path": sys.path,
                              "boto3": boto3.__version__, "botocore": botocore.__version__,
                              "dev_modules_importable": probe,
                              "compiled_at_start": compiled_at_start}) + "\n")
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    timeout = float(os.environ.get("SMOKE_TIMEOUT", "30"))
    for line in sys.stdin:
        request = json.loads(line)
        began = time.perf_counter()
        context = LambdaContext(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "smoke"), memory, timeout)
        try:
            if handler is None:
                raise RuntimeError(f"init failed: {error}")
            reply = {"ok": True, "response": json.loads(json.dumps(handler(request["event"], context), default=str))}
        except BaseException as exc:  # noqa: BLE001 - the invocation's error is its result
            reply = {"ok": False, "error": _error(exc)}
        reply["duration_ms"] = (time.perf_counter() - began) * 1000
        sys.stdout.flush()
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
