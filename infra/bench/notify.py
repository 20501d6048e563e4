"""Benchmark: 1,000 case events through the notify consumer against in-process moto, with 10 % of
the deliveries duplicated (some in the same batch, some later, some in a batch running at the same
time on another of 4 threads, standing for concurrent Lambda executions) and 2 % transient
provider failures retried the way SQS would redeliver them.

Figures: messages expected and sent, duplicates sent (must be 0), missing (must be 0), time, and
the ratio to a floor measured in the same run: the bare provider calls (one SNS publish or SES
send per expected message) without any idempotency, markers or history.

Ground truth comes from the provider side: every case has its own phone number and email, so
messages per recipient are counted from moto's SNS and SES backends and compared with the number
of events that should reach that recipient."""
from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

REGION = "ap-northeast-2"
SENDER = "no-reply@sos1379.example.kr"


def _tables(ddb, suffix: str = "") -> tuple[str, str]:
    """The cases and idempotency tables, with the key schemas template.yaml declares."""
    from infra.template import load_template

    resources = load_template()["Resources"]
    cases, idem = resources["CasesTable"]["Properties"], resources["IdempotencyTable"]["Properties"]
    names = (f"bench-cases{suffix}", f"bench-idempotency{suffix}")
    for name, props in zip(names, (cases, idem)):
        kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **kwargs)
    return names


def _sqs_record(body: dict) -> dict:
    return {"messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:bench-notify", "awsRegion": REGION}


class _Context:
    function_name = "NotifySmeFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:NotifySmeFunction"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def _inject_faults(client, rate: float, rng: random.Random) -> Counter:
    """Throttle a fraction of provider calls before they leave (transient: retried)."""
    from botocore.awsrequest import AWSResponse

    injected: Counter = Counter()
    service_id = client.meta.service_model.service_id.hyphenize()

    def before_call(model, **_):
        if rng.random() < rate:
            injected[model.name] += 1
            return (AWSResponse("https://injected", 400, {}, None),
                    {"Error": {"Code": "Throttling", "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": 400}})
        return None

    client.meta.events.register_first(f"before-call.{service_id}", before_call)
    return injected


def run(events: int = 1000, duplicate_rate: float = 0.10, fault_rate: float = 0.02, workers: int = 4,
        seed: int = 1379, shard_size: int = 100) -> dict:
    """Run the benchmark; returns the figures as a dict."""
    import boto3
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID

    rng = random.Random(seed)
    saved = dict(os.environ)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION,
                       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "NOTIFY_SENDER_EMAIL": SENDER, "PUBLIC_BASE_URL": "https://sos1379.example.kr",
                       "NOTIFY_QUEUE_URL": "", "AWS_LAMBDA_FUNCTION_NAME": "NotifySmeFunction"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from sos1379 import intake
    from sos1379.aws import reset_clients
    from sos1379.events import CaseEvent, iso
    from sos1379.korea import SEOUL
    from sos1379.notify import runtime
    from sos1379.settings import get_settings
    from sos1379.store import CaseStore

    from infra.localstack.motofast import fast_transactions, partition_queries

    # moto's TransactWriteItems deep-copies every table it touches (O(table) per transaction,
    # which DynamoDB does not pay) and its Query reads the whole table: the local stack's patches
    # remove both without changing an answer, so the run measures the notifier, not moto.
    patches = contextlib.ExitStack()
    patches.enter_context(fast_transactions())
    patches.enter_context(partition_queries())
    # In-process moto is not thread-safe (a transaction's rollback restores a whole-table snapshot
    # over other threads' writes). Serialise each API call, as a real service is atomic per
    # request; the notifier's own steps still interleave between calls across threads.
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    real_stub_call = BotocoreStubber.__call__
    moto_lock = threading.Lock()

    def atomic_call(self, *args, **kwargs):
        with moto_lock:
            return real_stub_call(self, *args, **kwargs)

    BotocoreStubber.__call__ = atomic_call
    try:
        with mock_aws():
            from moto.ses.models import ses_backends
            from moto.sns.models import sns_backends

            from datetime import datetime

            from sos1379.notify.channels import provider_client

            day = datetime(2026, 11, 26, 10, 0, tzinfo=SEOUL)
            expected: Counter = Counter()
            injected: list[Counter] = []
            totals = Counter()
            elapsed = 0.0
            ddb = boto3.client("dynamodb", region_name=REGION)
            boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
            # shards of fresh tables: moto's cost per write grows with the table, real DynamoDB's not
            for shard, first in enumerate(range(0, events // 4, shard_size // 4)):
                cases_table, idem_table = _tables(ddb, suffix=str(shard))
                os.environ.update({"CASES_TABLE": cases_table, "IDEMPOTENCY_TABLE": idem_table})
                get_settings.cache_clear()
                reset_clients()
                runtime.reset()
                store = CaseStore(cases_table)

                # cases: 4 events each; channels both (1/2), email only (1/4), SMS only (1/4)
                bodies = []
                for i in range(first, min(events // 4, first + shard_size // 4)):
                    channels = ["sms", "email"] if i % 2 == 0 else (["email"] if i % 4 == 1 else ["sms"])
                    phone, email = f"010-{5000 + i // 10000:04d}-{i % 10000:04d}", f"sme{i}@bench.example.kr"
                    payload = {
                        "channel": "web", "service_type": "tech_consult", "title": "용접부 균열 문제",
                        "description": "스테인리스 배관 TIG 용접 후 용접부에 미세 균열이 생깁니다. 조언이 필요합니다.",
                        "company": {"name": "벤치정밀", "business_number": "116-82-00276", "region": "대전광역시",
                                    "size": "small"},
                        "contact": {"name": "김벤치", "phone": phone, "email": email, "preferred_channels": channels,
                                    "language": "ko" if i % 5 else "en"},
                        "consent": {"personal_info": True, "share_with_institutes": True}}
                    receipt, _ = intake.submit_case(store, payload, now=day)
                    case_id = receipt["case_id"]
                    submitted = next(e for e in store.history(case_id) if e["type"] == "case.submitted")
                    bodies.append({"version": 1, "event_id": submitted["event_id"], "case_id": case_id,
                                   "type": "case.submitted", "at": submitted["at"], "actor": submitted["actor"],
                                   "data": submitted["data"]})
                    for type_, data in (("case.referred", {"institutes": ["KITECH"]}),
                                        ("case.accepted", {"institute": "KITECH"}),
                                        ("case.resolved", {"summary": "열처리 조건을 바꾸어 해결했습니다."})):
                        bodies.append(CaseEvent(case_id=case_id, type=type_, data=data, at=iso(day)).message().wire())
                    normalized = "+82" + phone.replace("-", "")[1:]
                    if "sms" in channels:
                        expected[("sms", normalized)] += 4
                    if "email" in channels:
                        expected[("email", email)] += 4

                # deliveries: every event once, 10 % a second time (same batch, later, or concurrently)
                deliveries = list(bodies)
                rng.shuffle(deliveries)
                duplicates = rng.sample(bodies, int(len(bodies) * duplicate_rate))
                for dup in duplicates:
                    deliveries.insert(rng.randrange(len(deliveries) + 1), dup)
                totals["events"] += len(bodies)
                totals["deliveries"] += len(deliveries)
                totals["duplicated_deliveries"] += len(duplicates)

                notifier = runtime.get_notifier()
                notifier.clock = lambda: day.astimezone(SEOUL)  # daytime: nothing deferred
                for service in ("sns", "sesv2"):
                    injected.append(_inject_faults(provider_client(service), fault_rate, rng))
                config = runtime.idempotency_config()

                def deliver_batch(batch: list[dict]) -> list[dict]:
                    ctx = _Context()
                    config.register_lambda_context(ctx)
                    event = {"Records": [_sqs_record(b) for b in batch]}
                    by_id = {r["messageId"]: b for r, b in zip(event["Records"], batch)}
                    processor = BatchProcessor(event_type=EventType.SQS)
                    try:
                        out = process_partial_response(event=event, record_handler=runtime.handle_record,
                                                       processor=processor, context=ctx)
                        failed = [f["itemIdentifier"] for f in out["batchItemFailures"]]
                    except Exception:  # noqa: BLE001 - every record failed: the whole batch comes back
                        failed = list(by_id)
                    return [by_id[m] for m in failed]

                started = time.perf_counter()
                pending, rounds = deliveries, 0
                while pending and rounds < 20:
                    rounds += 1
                    batches = [pending[i:i + 10] for i in range(0, len(pending), 10)]
                    if workers > 1:
                        with ThreadPoolExecutor(max_workers=workers) as pool:
                            results = list(pool.map(deliver_batch, batches))
                    else:
                        results = [deliver_batch(b) for b in batches]
                    pending = [b for failed in results for b in failed]
                    totals["redelivered_records"] += len(pending)
                elapsed += time.perf_counter() - started
                totals["max_rounds"] = max(totals["max_rounds"], rounds)
                totals["left_undelivered"] += len(pending)

            sms = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values()
            mails = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
            sent = Counter(("sms", phone) for phone, _ in sms)
            sent.update(("email", m.destinations["ToAddresses"][0]) for m in mails)
            dup_sent = sum(max(0, sent[k] - expected[k]) for k in set(sent) | set(expected))
            missing = sum(max(0, expected[k] - sent[k]) for k in set(sent) | set(expected))

            # floor: the bare provider calls for the same number of messages, no safety at all
            sns, ses = boto3.client("sns", region_name=REGION), boto3.client("sesv2", region_name=REGION)
            floor_started = time.perf_counter()
            for (channel, recipient), count in expected.items():
                for _ in range(count):
                    if channel == "sms":
                        sns.publish(PhoneNumber=recipient, Message="[1379] 261126-0001 진행상황 https://x/t/y")
                    else:
                        ses.send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [recipient]},
                                       Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
            floor = time.perf_counter() - floor_started
    finally:
        BotocoreStubber.__call__ = real_stub_call
        patches.close()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        reset_clients()
        runtime.reset()
    total_expected = sum(expected.values())
    return {
        **dict(totals), "injected_transient_failures": sum(sum(c.values()) for c in injected), "concurrent_batches": workers,
        "messages_expected": total_expected, "messages_sent": sum(sent.values()),
        "sms_sent": sum(v for (c, _), v in sent.items() if c == "sms"),
        "emails_sent": sum(v for (c, _), v in sent.items() if c == "email"),
        "duplicates_sent": dup_sent, "missing": missing,
        "seconds": round(elapsed, 2), "events_per_second": round(totals["events"] / elapsed, 1),
        "ms_per_message": round(1000 * elapsed / max(1, total_expected), 2),
        "floor_seconds_bare_provider_calls": round(floor, 2),
        "ratio_to_floor": round(elapsed / floor, 2) if floor else None,
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=2))
