"""``sos1379 institute ...``: institute API keys, the reference referral consumer and the contract.

    sos1379 institute key create KITECH        # prints the new key ONCE; only its hash is stored
    sos1379 institute key list KITECH
    sos1379 institute key revoke KITECH 1a2b3c4d5e6f
    sos1379 institute key seed-dev             # local stack only: dev-<CODE>-key for every institute
    sos1379 institute poll KITECH [--once] [--max N] [--no-ack] [--show-contact] [--json]
    sos1379 institute schema [--check]         # (re)write events/schemas/referral.v1.json
    sos1379 institute resend-unsent [CODE ...] # repair: send referrals still marked unsent

Key commands act on the table named by CASES_TABLE (AWS credentials from the environment) or, when
CASES_TABLE is not set, on the running local stack (.local/stack.json). ``poll`` is the reference an
institute's developers copy: on the local stack by default, or on a deployed stack with
``--queue-url`` (the stack output ``ReferralQueueUrl<CODE>``), ``--api-url`` and the institute's key,
using the institute's own AWS credentials (see docs/institutes.md).
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from infra.template import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "events" / "schemas" / "referral.v1.json"


def register(sub) -> None:
    p = sub.add_parser("institute", help="institute keys, the reference referral consumer, the message schema")
    isub = p.add_subparsers(dest="institute_command", required=True)

    key = isub.add_parser("key", help="per-institute API keys (stored hashed)")
    ksub = key.add_subparsers(dest="key_command", required=True)
    create = ksub.add_parser("create", help="create a key and print it once")
    create.add_argument("code")
    create.set_defaults(func=run_key_create)
    ls = ksub.add_parser("list", help="an institute's key ids (never the keys)")
    ls.add_argument("code")
    ls.set_defaults(func=run_key_list)
    revoke = ksub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("code")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=run_key_revoke)
    seed = ksub.add_parser("seed-dev", help="LOCAL STACK ONLY: write dev-<CODE>-key for institutes")
    seed.add_argument("codes", nargs="*")
    seed.set_defaults(func=run_key_seed_dev)

    poll = isub.add_parser("poll", help="reference consumer: long-poll an institute's referral queue")
    poll.add_argument("code")
    poll.add_argument("--once", action="store_true", help="one receive round, then exit")
    poll.add_argument("--max", type=int, default=0, help="stop after N messages (0: no limit)")
    poll.add_argument("--wait", type=int, default=20, help="long-poll seconds per receive (max 20)")
    poll.add_argument("--api-key", default=None, help="default: $SOS1379_INSTITUTE_KEY, else dev-<CODE>-key")
    poll.add_argument("--no-ack", action="store_true", help="print and delete without accepting")
    poll.add_argument("--show-contact", action="store_true", help="print consented contact details unmasked")
    poll.add_argument("--json", action="store_true", help="print each message as one JSON line")
    poll.add_argument("--queue-url", default=None,
                      help="a deployed stack's queue (output ReferralQueueUrl<CODE>); default: the local stack's")
    poll.add_argument("--api-url", default=None, help="a deployed stack's API base URL (with --queue-url)")
    poll.set_defaults(func=run_poll)

    schema = isub.add_parser("schema", help="write the referral v1 JSON Schema from the pydantic model")
    schema.add_argument("--check", action="store_true", help="exit 1 if the published schema is stale")
    schema.set_defaults(func=run_schema)

    resend = isub.add_parser("resend-unsent", help="repair: send referral messages still marked unsent")
    resend.add_argument("codes", nargs="*", help="institutes (default: all)")
    resend.add_argument("--older-than", type=int, default=300, help="seconds since the referral was made")
    resend.set_defaults(func=run_resend_unsent)


# --------------------------------------------------------------------------- plumbing


def _use_local_stack() -> dict:
    from infra.localstack.state import apply_stack_env, load_stack_state
    from sos1379.aws import reset_clients
    from sos1379.settings import get_settings

    state = load_stack_state()
    apply_stack_env(state)
    get_settings.cache_clear()
    reset_clients()
    return state


def _store(local: bool | None = None):
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    if local or (local is None and not os.environ.get("CASES_TABLE")):
        _use_local_stack()
    return CaseStore(get_settings().cases_table)


def _fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


# --------------------------------------------------------------------------- keys


def run_key_create(args) -> int:
    from sos1379.institutes import keys as institute_keys
    from sos1379.errors import ValidationFailed

    try:
        key, record = institute_keys.create_key(_store(), args.code)
    except ValidationFailed as exc:
        return _fail(exc.errors[0].message_en)
    print(f"institute {record['institute']}  key id {record['key_id']}  created {record['created_at']}")
    print(f"API key (shown once, store it now): {key}")
    return 0


def run_key_list(args) -> int:
    from sos1379.institutes import keys as institute_keys

    for row in institute_keys.list_keys(_store(), args.code):
        state = "revoked" if row.get("revoked") else "active"
        print(f"{row['key_id']}  {state:8}  created {row['created_at']}")
    return 0


def run_key_revoke(args) -> int:
    from sos1379.institutes import keys as institute_keys
    from sos1379.errors import NotFound

    try:
        out = institute_keys.revoke_key(_store(), args.code, args.key_id)
    except NotFound as exc:
        return _fail(exc.detail_en)
    print(f"revoked {out['institute']} key {out['key_id']} at {out['revoked_at']}")
    return 0


def run_key_seed_dev(args) -> int:
    from sos1379.institutes import keys as institute_keys

    # never against AWS: dev keys are public knowledge (they are in docs/institutes.md)
    state = _use_local_stack()
    if "127.0.0.1" not in str(state.get("moto_url", "")) and "localhost" not in str(state.get("moto_url", "")):
        return _fail("refusing: dev keys are only for a local stack on 127.0.0.1")
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    seeded = institute_keys.seed_dev_keys(CaseStore(get_settings().cases_table), args.codes or None)
    print(f"seeded {len(seeded)} dev keys (dev-<CODE>-key), e.g. {next(iter(seeded.values()), '-')}")
    return 0


# --------------------------------------------------------------------------- poll


def load_schema_validator():
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def poll_queue(sqs, queue_url: str, handle: Callable[[dict], str], *, once: bool = False, max_messages: int = 0,
               wait: int = 20, validator=None, out: Callable[[str], None] = print) -> dict:
    """Receive, validate, hand each valid message to ``handle`` and delete it when ``handle`` says
    it is done (``"accepted"``, ``"duplicate"``, ``"printed"``). An invalid message, or one whose
    handling failed, is left on the queue: SQS makes it visible again and, after maxReceiveCount,
    moves it to the institute's DLQ. Returns counts."""
    validator = validator or load_schema_validator()
    counts = {"received": 0, "handled": 0, "invalid": 0, "failed": 0, "duplicates": 0}
    while True:
        room = 10 if not max_messages else min(10, max_messages - counts["handled"])
        if room <= 0:
            return counts
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=room, WaitTimeSeconds=min(wait, 20),
                                   MessageAttributeNames=["All"], AttributeNames=["ApproximateReceiveCount"])
        messages = resp.get("Messages", [])
        for m in messages:
            counts["received"] += 1
            try:
                body = json.loads(m["Body"])
            except ValueError:
                counts["invalid"] += 1
                out(f"invalid message {m['MessageId']}: not JSON (left for the DLQ)")
                continue
            errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
            if errors:
                counts["invalid"] += 1
                where = "/".join(str(p) for p in errors[0].path) or "(root)"
                out(f"invalid message {m['MessageId']}: {where}: {errors[0].message} (left for the DLQ)")
                continue
            try:
                result = handle(body)
            except Exception as exc:  # noqa: BLE001 - keep polling; the message comes back later
                counts["failed"] += 1
                out(f"could not handle referral {body.get('referral_id')}: {exc}")
                continue
            counts["duplicates"] += result == "duplicate"
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            counts["handled"] += 1
            if max_messages and counts["handled"] >= max_messages:
                return counts
        if once:
            return counts


def format_message(msg: dict, show_contact: bool = False) -> str:
    from sos1379.korea import mask_email, mask_phone

    lines = [f"── referral {msg['referral_id']}  case {msg['case_number']}  → {msg['institute']}",
             f"   {msg['title']}",
             f"   service {msg['service_type']}  company {msg['company']['name']} ({msg['company'].get('region_name') or msg['company']['region']}, {msg['company']['size']})",
             f"   respond by {msg['respond_by']}  rank {msg['routing']['rank']}  score {msg['routing']['score']}"]
    lines += [f"   · {r}" for r in msg["routing"]["reasons"][:5]]
    lines += [f"   catalog {e['type']} {e['id']}: {e['title']}" for e in msg.get("evidence") or []]
    if msg.get("contact"):
        c = msg["contact"]
        phone, email = (c["phone"], c["email"]) if show_contact else (mask_phone(c["phone"]), mask_email(c["email"]))
        lines.append(f"   contact {c['name'] if show_contact else c['name'][:1] + '*'}  {phone}  {email}  ({c['language']})")
    else:
        lines.append("   contact withheld (no consent): ask through request-info")
    return "\n".join(lines)


class ApiAcknowledger:
    """Accepts each referral through the institute API; deduplicates on ``referral_id``."""

    def __init__(self, api_url: str, api_key: str, *, accept: bool = True, session=None) -> None:
        import requests

        self.api_url = api_url.rstrip("/")
        self.accept = accept
        self.session = session or requests.Session()
        self.session.headers.update({"X-Api-Key": api_key, "Content-Type": "application/json"})
        self.seen: set[str] = set()

    def __call__(self, msg: dict) -> str:
        if msg["referral_id"] in self.seen:
            return "duplicate"
        if not self.accept:
            self.seen.add(msg["referral_id"])
            return "printed"
        resp = self.session.post(f"{self.api_url}/institute/referrals/{msg['case_id']}/accept", data="{}", timeout=10)
        if resp.status_code == 401:
            raise RuntimeError("API key refused (401): run `sos1379 institute key seed-dev` or pass --api-key")
        if resp.status_code == 409:  # accepted already (a redelivered copy), or taken/declined meanwhile
            self.seen.add(msg["referral_id"])
            return "duplicate"
        resp.raise_for_status()
        self.seen.add(msg["referral_id"])
        return "accepted"


def run_poll(args) -> int:
    from infra.localstack.state import StackNotRunning
    from sos1379.institutes import keys as institute_keys
    from sos1379.aws import client
    from sos1379.referrals.fanout import queue_name

    code = args.code.upper()
    if bool(args.queue_url) != bool(args.api_url):
        return _fail("--queue-url and --api-url go together (a deployed stack), or neither (the local stack)")
    if args.queue_url:  # a deployed stack: the institute's own AWS credentials and its API key
        queue_url, api_url = args.queue_url, args.api_url.rstrip("/")
        key = args.api_key or os.environ.get("SOS1379_INSTITUTE_KEY")
        if not key:
            return _fail("a deployed stack needs the institute's API key (--api-key or SOS1379_INSTITUTE_KEY)")
        sqs = client("sqs")
    else:
        try:
            state = _use_local_stack()
        except StackNotRunning as exc:
            return _fail(str(exc))
        sqs = client("sqs")
        try:
            queue_url = sqs.get_queue_url(QueueName=queue_name(code))["QueueUrl"]
        except Exception:  # noqa: BLE001
            return _fail(f"no referral queue {queue_name(code)} (is {code} an institute that receives referrals?)")
        api_url = state["api_url"]
        key = args.api_key or os.environ.get("SOS1379_INSTITUTE_KEY") or institute_keys.dev_key(code)
    ack = ApiAcknowledger(api_url, key, accept=not args.no_ack)

    def handle(msg: dict) -> str:
        result = ack(msg)
        if args.json:
            print(json.dumps({"result": result, "message": msg}, ensure_ascii=False))
        else:
            print(format_message(msg, args.show_contact))
            print(f"   → {result}")
        return result

    print(f"polling {queue_name(code)} (Ctrl-C to stop)" if not args.once else f"polling {queue_name(code)} once",
          file=sys.stderr)
    try:
        counts = poll_queue(sqs, queue_url, handle, once=args.once, max_messages=args.max, wait=args.wait,
                            out=lambda s: print(s, file=sys.stderr))
    except KeyboardInterrupt:
        return 130
    print(json.dumps(counts), file=sys.stderr)
    return 0 if not counts["invalid"] and not counts["failed"] else 2


# --------------------------------------------------------------------------- contract and repair


def run_schema(args) -> int:
    from sos1379.referrals.message import schema_text, write_schema

    if args.check:
        if SCHEMA_PATH.read_text(encoding="utf-8") != schema_text():
            return _fail(f"{SCHEMA_PATH} is stale: run `sos1379 institute schema`")
        return 0
    print(write_schema(Path(REPO_ROOT)))
    return 0


def run_resend_unsent(args) -> int:
    from sos1379.directory import referral_codes
    from sos1379.referrals.fanout import resend_unsent

    store = _store()
    sent = resend_unsent(store, [c.upper() for c in args.codes] or referral_codes(), older_than_seconds=args.older_than)
    print(f"resent {sent} referral message(s)")
    return 0
