"""One Lambda execution environment: a process that imports one handler once and serves calls.

Started by :class:`infra.localstack.runtime.WorkerPool` as ``python -m infra.localstack.worker``
with the function's own environment variables, so every function has its own ``os.environ`` and
its own module-level caches (cached settings, boto3 clients), as on Lambda. Requests arrive as JSON
lines on ``--request-fd``; answers leave as JSON lines on ``--reply-fd``; the function's stdout
and stderr are the stack's (its structured logs appear in the stack's output).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from typing import Any, Callable

from infra.localstack.context import LambdaContext, encode_response, error_payload


def load_handler(code_dir: str, handler: str, layer_dirs: list[str]) -> Callable[..., Any]:
    """Import ``module.function`` the way the Python runtime does: code folder first on the path,
    then each layer's ``python`` folder."""
    for path in reversed([code_dir, *layer_dirs]):
        if path not in sys.path:
            sys.path.insert(0, path)
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def _serve(args: argparse.Namespace) -> int:
    requests = os.fdopen(args.request_fd, "r", encoding="utf-8")
    replies = os.fdopen(args.reply_fd, "w", encoding="utf-8", buffering=1)

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    started = time.perf_counter()
    handler = None
    init_error = None
    try:
        handler = load_handler(args.code_dir, args.handler, args.layer or [])
    except BaseException as exc:  # noqa: BLE001 - any import failure is the function's init error
        kind = "Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else "Runtime.ImportModuleError"
        init_error = error_payload(exc, kind)
    reply({"ready": handler is not None, "init_ms": (time.perf_counter() - started) * 1000, "error": init_error})

    for line in requests:
        request = json.loads(line)
        began = time.perf_counter()
        if handler is None:
            reply({"id": request["id"], "ok": False, "error": init_error, "duration_ms": 0.0})
            continue
        context = LambdaContext(
            args.function_name,
            timeout_s=args.timeout,
            memory_mb=args.memory,
            region=args.region,
            account=args.account,
            request_id=request.get("request_id"),
            deadline=time.monotonic() + request.get("remaining_ms", args.timeout * 1000) / 1000,
        )
        exit_after = False
        try:
            result = handler(request["event"], context)
            try:
                message = {"id": request["id"], "ok": True, "response": encode_response(result)}
            except (TypeError, ValueError) as exc:
                message = {"id": request["id"], "ok": False, "error": error_payload(exc, "Runtime.MarshalError")}
        except SystemExit as exc:
            message = {"id": request["id"], "ok": False, "error": error_payload(exc, "Runtime.ExitError")}
            exit_after = True
        except BaseException as exc:  # noqa: BLE001 - the function's error is the invocation's result
            message = {"id": request["id"], "ok": False, "error": error_payload(exc)}
        message["duration_ms"] = (time.perf_counter() - began) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        reply(message)
        if exit_after:
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra.localstack.worker")
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--layer", action="append")
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--region", default="ap-northeast-2")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--request-fd", type=int, required=True)
    parser.add_argument("--reply-fd", type=int, required=True)
    # A terminal's Ctrl-C reaches the whole process group; the stack stops its workers itself
    # (closing their pipes), so a worker ignores SIGINT instead of printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _serve(parser.parse_args(argv))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Lambda freezes and discards an environment; skipping interpreter teardown (freeing a
    # loaded Kiwi model takes seconds) lets the stack stop promptly.
    os._exit(code)
