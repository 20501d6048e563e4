"""``sos1379 up``, ``sos1379 invoke`` and ``sos1379 stack status|env``: the local stack commands."""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("localstack")


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    from infra.localstack import logs
    from infra.localstack.deploy import DeployError
    from infra.localstack.stack import LocalStack, StackError, StackOptions
    from infra.template import TemplateError

    logs.configure(args.log_level)
    options = StackOptions.from_env(
        api_port=args.api_port, moto_port=args.moto_port,
        template=Path(args.template) if args.template else None,
        retry_visibility=args.retry_visibility, prewarm=args.prewarm or None,
    )
    if args.no_seed:
        options.seed = False
    if args.no_api:
        options.serve_api = False
    if args.no_services:
        options.start_services = False
    # SIGTERM (docker stop, the e2e fixture) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    stack = LocalStack(options)
    try:
        stack.start()
    except KeyboardInterrupt:
        log.info("stack.interrupted_during_start")
        return 130
    except (StackError, DeployError, TemplateError) as exc:
        log.error("stack.failed", extra={"fields": {"error": str(exc)}})
        return 1
    except Exception:  # noqa: BLE001 - e.g. app.py or a seed raised: show it, exit non-zero
        log.exception("stack.failed")
        return 1
    try:
        while True:
            time.sleep(30)
            if stack.pool is not None:
                stack.pool.reap_idle()
    except KeyboardInterrupt:
        log.info("stack.stopping")
    finally:
        stack.stop()
        log.info("stack.stopped")
    return 0


def cmd_up_and_exit(args: argparse.Namespace) -> int:
    """Run the stack, then leave without interpreter teardown.

    Everything was stopped and the state file removed by then; what remains is freeing the
    imported models and indexes (kiwipiepy, bm25s), which takes several seconds in C code and
    would make every Ctrl-C (and every end-to-end test session) wait for nothing."""
    code = cmd_up(args)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main_up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localstack")
    _up_arguments(parser)
    return cmd_up_and_exit(parser.parse_args(argv))


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-port", type=int, default=None, help="default $API_PORT or 8000 (0 picks a free port)")
    parser.add_argument("--moto-port", type=int, default=None, help="default $MOTO_PORT or 5000 (0 picks a free port)")
    parser.add_argument("--template", default=None, help="default $SOS1379_TEMPLATE or template.yaml")
    parser.add_argument("--retry-visibility", type=int, default=None,
                        help="seconds before a failed SQS message is retried (default: the queue's visibility "
                             "timeout, as on AWS; $SOS1379_RETRY_VISIBILITY)")
    parser.add_argument("--prewarm", action="store_true", help="start one worker per function at once")
    parser.add_argument("--no-seed", action="store_true", help="skip the reference-data seeds")
    parser.add_argument("--no-api", action="store_true", help="do not serve the Chalice app")
    parser.add_argument("--no-services", action="store_true", help="do not start the catalog stand-ins")
    parser.add_argument("--log-level", default="INFO")


def _function_config(state: dict[str, Any], name: str):
    from infra.localstack.runtime import FunctionConfig

    info = state["functions"][name]
    return FunctionConfig(
        logical_id=name, physical_name=info["name"], code_dir=Path(info["code_dir"]), handler=info["handler"],
        env=info["env"], timeout=float(info["timeout"]),
    )


def cmd_invoke(args: argparse.Namespace) -> int:
    from infra.localstack.runtime import InProcessInvoker
    from infra.localstack.state import StackNotRunning, apply_stack_env, load_stack_state

    try:
        state = load_stack_state()
    except StackNotRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    functions = state.get("functions") or {}
    if args.function not in functions:
        print(f"error: unknown function {args.function!r}; known: {', '.join(sorted(functions))}", file=sys.stderr)
        return 2
    if args.event == "-":
        event = json.load(sys.stdin)
    elif args.event:
        event = json.loads(Path(args.event).read_text(encoding="utf-8"))
    else:
        schedules = functions[args.function].get("schedules") or []
        event = schedules[0]["input"] if schedules and schedules[0].get("input") is not None else {}
    apply_stack_env(state, function=args.function)
    invoker = InProcessInvoker({args.function: _function_config(state, args.function)}, region=state["region"])
    result = invoker.invoke(args.function, event)
    output = {"function": args.function, "ok": result.ok, "duration_ms": round(result.duration_ms, 1)}
    output["response" if result.ok else "error"] = result.response if result.ok else result.error
    print(json.dumps(output, ensure_ascii=False, indent=2, default=str))
    return 0 if result.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    from infra.localstack.state import StackNotRunning, load_stack_state

    try:
        state = load_stack_state()
    except StackNotRunning as exc:
        print(f"not running: {exc}")
        return 1
    summary = {k: state.get(k) for k in ("status", "pid", "api_url", "moto_url", "ready_seconds", "stack_name")}
    summary["functions"] = sorted(state.get("functions") or {})
    summary["queues"] = {k: v.get("url") for k, v in (state.get("resources") or {}).items()
                         if v.get("type") == "AWS::SQS::Queue"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from infra.localstack.state import StackNotRunning, load_stack_state, stack_env

    try:
        env = stack_env(load_stack_state(), args.function)
    except (StackNotRunning, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for key, value in sorted(env.items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def register(subparsers: Any) -> None:
    up = subparsers.add_parser("up", help="start the local stack (moto + template.yaml + dispatcher + API)")
    _up_arguments(up)
    up.set_defaults(func=cmd_up_and_exit)

    invoke = subparsers.add_parser("invoke", help="run one function in-process against the running stack")
    invoke.add_argument("function", help="logical id, e.g. FlagSlaBreachesFunction")
    invoke.add_argument("--event", help="JSON file with the event ('-' reads stdin); default: the function's "
                                        "schedule Input, else {}")
    invoke.set_defaults(func=cmd_invoke)

    stack = subparsers.add_parser("stack", help="inspect the running local stack")
    stack_sub = stack.add_subparsers(dest="stack_command", required=True)
    status = stack_sub.add_parser("status", help="URLs, functions and queues of the running stack")
    status.set_defaults(func=cmd_status)
    env = stack_sub.add_parser("env", help="print `export` lines pointing a shell at the stack")
    env.add_argument("function", nargs="?", help="use this function's environment instead of the merged one")
    env.set_defaults(func=cmd_env)
