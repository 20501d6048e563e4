"""``sos1379 dlq list`` and ``sos1379 dlq redrive NAME``: dead-letter queues of the stack.

``redrive`` moves every message of a DLQ back to the queue that feeds it (found through the
source queues' RedrivePolicy, so it works for every DLQ in template.yaml without a list here).
It receives, sends to the source, and deletes from the DLQ only after the send succeeded: a crash
in between leaves a copy in both, and the consumers are idempotent, so nothing is lost or doubled
for the SME. (SQS StartMessageMoveTask would do the same in AWS; moto does not implement it.)"""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("dlq", help="dead-letter queues: list them, redrive one")
    dsub = p.add_subparsers(dest="dlq_command", required=True)
    ls = dsub.add_parser("list", help="every DLQ with its source queue and message count")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rd = dsub.add_parser("redrive", help="move a DLQ's messages back to its source queue")
    rd.add_argument("name", help="logical id (NotifyDLQ) or queue name")
    rd.add_argument("--to", default=None, help="target queue (logical id or name) if not the source queue")
    rd.add_argument("--max", type=int, default=0, help="move at most N messages (0: all)")
    rd.add_argument("--json", action="store_true")
    rd.set_defaults(func=run_redrive)


def _stack():
    from infra.localstack.state import apply_stack_env, load_stack_state

    state = load_stack_state()
    apply_stack_env(state)
    return state


def _sqs():
    from sos1379.aws import client, reset_clients
    from sos1379.settings import get_settings

    get_settings.cache_clear()
    reset_clients()
    return client("sqs")


def queues(state: dict) -> dict[str, dict]:
    """Queues of the stack by logical id: url, arn, name."""
    out = {}
    for logical_id, res in (state.get("resources") or {}).items():
        if res.get("type") == "AWS::SQS::Queue":
            url = res.get("url") or res.get("physical_id")
            out[logical_id] = {"url": url, "arn": res.get("arn", ""), "name": res.get("name") or url.rsplit("/", 1)[-1]}
    return out


def find_queue(all_queues: dict[str, dict], name: str) -> tuple[str, dict]:
    for logical_id, q in all_queues.items():
        if name in (logical_id, q["name"], q["url"]):
            return logical_id, q
    raise KeyError(f"no queue {name!r}; known: {', '.join(sorted(all_queues))}")


def dead_letter_map(sqs, all_queues: dict[str, dict]) -> dict[str, list[str]]:
    """DLQ logical id -> logical ids of the queues that send their failures to it."""
    by_arn = {}
    for logical_id, q in all_queues.items():
        arn = q["arn"] or sqs.get_queue_attributes(QueueUrl=q["url"], AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        q["arn"] = arn
        by_arn[arn] = logical_id
    sources: dict[str, list[str]] = {}
    for logical_id, q in all_queues.items():
        attrs = sqs.get_queue_attributes(QueueUrl=q["url"], AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        if "RedrivePolicy" in attrs:
            target = json.loads(attrs["RedrivePolicy"]).get("deadLetterTargetArn")
            if target in by_arn:
                sources.setdefault(by_arn[target], []).append(logical_id)
    return sources


def _count(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def redrive(sqs, dlq_url: str, target_url: str, limit: int = 0) -> dict[str, int]:
    """Move messages from ``dlq_url`` to ``target_url``; returns counts (moved, failed)."""
    moved = failed = 0
    while not limit or moved < limit:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        for message in batch:
            if limit and moved >= limit:
                # leave the rest for a later run: make it visible again at once
                sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
                continue
            kwargs = {"QueueUrl": target_url, "MessageBody": message["Body"]}
            attributes = {k: {kk: vv for kk, vv in v.items() if kk in ("DataType", "StringValue", "BinaryValue")}
                          for k, v in (message.get("MessageAttributes") or {}).items()}
            if attributes:
                kwargs["MessageAttributes"] = attributes
            try:
                sqs.send_message(**kwargs)
            except Exception:  # noqa: BLE001 - keep it in the DLQ; report
                failed += 1
                continue
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return {"moved": moved, "failed": failed}


def _running_queues():
    """(SQS client, the stack's queues), or None after saying that the stack is not running."""
    from infra.localstack.state import StackNotRunning

    try:
        state = _stack()
    except StackNotRunning as exc:
        print(exc, file=sys.stderr)
        return None
    return _sqs(), queues(state)


def run_list(args) -> int:
    opened = _running_queues()
    if opened is None:
        return 1
    sqs, all_queues = opened
    sources = dead_letter_map(sqs, all_queues)
    rows = [{"dlq": dlq, "sources": src, "messages": _count(sqs, all_queues[dlq]["url"])}
            for dlq, src in sorted(sources.items())]
    for row in rows:
        print(json.dumps(row) if args.json else f"{row['dlq']:<32} {row['messages']:>6}  <- {', '.join(row['sources'])}")
    return 0


def run_redrive(args) -> int:
    opened = _running_queues()
    if opened is None:
        return 1
    sqs, all_queues = opened
    try:
        dlq_id, dlq = find_queue(all_queues, args.name)
        if args.to:
            target_id, target = find_queue(all_queues, args.to)
        else:
            src = dead_letter_map(sqs, all_queues).get(dlq_id) or []
            if len(src) != 1:
                print(f"{dlq_id} has {len(src)} source queues ({', '.join(src) or 'none'}): name one with --to",
                      file=sys.stderr)
                return 2
            target_id, target = src[0], all_queues[src[0]]
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    before = _count(sqs, dlq["url"])
    counts = redrive(sqs, dlq["url"], target["url"], args.max)
    result = {"dlq": dlq_id, "target": target_id, "in_dlq_before": before, **counts,
              "in_dlq_after": _count(sqs, dlq["url"])}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{dlq_id} -> {target_id}: moved {counts['moved']}, failed {counts['failed']} "
              f"(DLQ {before} -> {result['in_dlq_after']})")
    return 0 if counts["failed"] == 0 else 1
